//! The two HTTP handlers' side of the suites (`deposit_intake::handle` and
//! `webhook_callback::handle`, both `lambda_http::Request` → `Response<Body>`): request
//! builders, and one [`Reply`] with the assertions every suite makes.

pub use http::{HeaderMap, Method, StatusCode};
pub use lambda_http::{Body, Request};

use paygate_domain::DepositId;
use serde_json::Value;

/// A request as API Gateway hands it to a handler.
pub fn request(method: Method, path: &str, headers: &[(&str, &str)], body: Body) -> Request {
    let mut builder = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).expect("a well-formed test request")
}

pub fn bearer(api_key: &str) -> String {
    format!("Bearer {api_key}")
}

/// `POST {path}` as merchant `api_key`, with `Idempotency-Key: key` when given and a JSON
/// body.
pub fn post(api_key: &str, path: &str, key: Option<&str>, body: &str) -> Request {
    let auth = bearer(api_key);
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    if let Some(key) = key {
        headers.push(("idempotency-key", key));
    }
    request(Method::POST, path, &headers, Body::Text(body.to_owned()))
}

/// `POST /v1/deposits` as merchant `api_key` with `Idempotency-Key: key`.
pub fn post_deposit(api_key: &str, key: &str, body: &str) -> Request {
    post(api_key, "/v1/deposits", Some(key), body)
}

/// `POST /v1/deposits/{deposit}/refunds` as merchant `api_key`, with `Idempotency-Key:
/// key` when given.
pub fn post_refund(api_key: &str, deposit: &str, key: Option<&str>, body: &str) -> Request {
    post(
        api_key,
        &format!("/v1/deposits/{deposit}/refunds"),
        key,
        body,
    )
}

/// `GET {path}` as merchant `api_key`.
pub fn get(api_key: &str, path: &str) -> Request {
    let auth = bearer(api_key);
    request(Method::GET, path, &[("authorization", &auth)], Body::Empty)
}

/// `POST /webhooks/{gateway}` with `Paygate-Signature: signature` when given.
pub fn webhook(gateway: &str, signature: Option<&str>, body: &str) -> Request {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(signature) = signature {
        headers.push(("paygate-signature", signature));
    }
    request(
        Method::POST,
        &format!("/webhooks/{gateway}"),
        &headers,
        Body::Text(body.to_owned()),
    )
}

/// A response, with its body read as text.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl From<http::Response<Body>> for Reply {
    fn from(response: http::Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let text = match body {
            Body::Empty => String::new(),
            Body::Text(text) => text,
            Body::Binary(bytes) => String::from_utf8(bytes).expect("a UTF-8 body"),
            _ => panic!("unexpected body kind"),
        };
        Self {
            status: parts.status,
            headers: parts.headers,
            text,
        }
    }
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header"))
    }

    /// The `id` of the deposit in the body.
    pub fn deposit_id(&self) -> DepositId {
        let json = self.json();
        let id = json["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.text));
        DepositId::parse(id).unwrap_or_else(|| panic!("id {id} is not a UUID"))
    }

    /// THEN-helper: a 200 list, `{"object":"list","data":[...],"has_more":bool}` and
    /// nothing else; its items and `has_more`.
    pub fn assert_list(&self) -> (Vec<Value>, bool) {
        self.assert_json(StatusCode::OK);
        let json = self.json();
        let keys: std::collections::BTreeSet<&str> = json
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let expected = ["data", "has_more", "object"].into();
        assert_eq!(keys, expected, "{}", self.text);
        assert_eq!(json["object"], "list", "{}", self.text);
        let items = json["data"].as_array().expect("data is an array").clone();
        let has_more = json["has_more"].as_bool().expect("has_more is a boolean");
        (items, has_more)
    }

    /// `error.code` of an error body ("" if there is none).
    pub fn error_code(&self) -> String {
        self.error_field("code")
    }

    /// `error.type` of an error body ("" if there is none).
    pub fn error_type(&self) -> String {
        self.error_field("type")
    }

    fn error_field(&self, field: &str) -> String {
        serde_json::from_str::<Value>(&self.text)
            .ok()
            .and_then(|json| json["error"][field].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub fn assert_json(&self, status: StatusCode) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.header("content-type"), Some("application/json"));
    }

    /// THEN-helper: the documented error shape `{error:{type,code,message,param?}}`,
    /// with `param` exactly as given (absent for `None`).
    pub fn assert_error(&self, status: StatusCode, kind: &str, code: &str, param: Option<&str>) {
        self.assert_json(status);
        let json = self.json();
        let envelope = json.as_object().expect("an object");
        assert_eq!(envelope.len(), 1, "only `error` at the top: {}", self.text);
        let error = json["error"]
            .as_object()
            .unwrap_or_else(|| panic!("no error object: {}", self.text));
        for field in error.keys() {
            assert!(
                ["type", "code", "message", "param"].contains(&field.as_str()),
                "unexpected field {field} in {}",
                self.text
            );
        }
        assert_eq!(error["type"], kind, "{}", self.text);
        assert_eq!(error["code"], code, "{}", self.text);
        let message = error["message"].as_str().expect("a message string");
        assert!(!message.trim().is_empty(), "the message says something");
        assert_eq!(
            error.get("param").and_then(Value::as_str),
            param,
            "{}",
            self.text
        );
        if let Some(value) = error.get("param") {
            assert!(
                value.is_string(),
                "param is a string when present: {}",
                self.text
            );
        }
    }

    /// THEN-helper: [`Self::assert_error`] of an `invalid_request_error`.
    pub fn assert_invalid_request(&self, status: StatusCode, code: &str, param: Option<&str>) {
        self.assert_error(status, "invalid_request_error", code, param);
    }

    /// THEN-helper: a 400 `invalid_request_error` with `code`, about `param` when given.
    pub fn assert_bad_request(&self, code: &str, param: Option<&str>) {
        self.assert_invalid_request(StatusCode::BAD_REQUEST, code, param);
    }

    /// THEN-helper: a 404 `deposit_not_found` about `id`, whoever's the deposit is.
    pub fn assert_deposit_not_found(&self) {
        self.assert_invalid_request(StatusCode::NOT_FOUND, "deposit_not_found", Some("id"));
    }

    /// THEN-helper: a 405 `method_not_allowed` (its `Allow` header is the caller's to check).
    pub fn assert_method_not_allowed(&self) {
        self.assert_invalid_request(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None);
    }

    /// THEN-helper: an `idempotency_error` answered with `status` and `code`.
    pub fn assert_idempotency_error(&self, status: StatusCode, code: &str) {
        self.assert_error(status, "idempotency_error", code, None);
    }

    /// THEN-helper: a 401 `authentication_error` / `api_key_invalid`.
    pub fn assert_api_key_invalid(&self) {
        self.assert_error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "api_key_invalid",
            None,
        );
    }

    /// THEN-helper: a 503 `api_error` / `service_unavailable`.
    pub fn assert_unavailable(&self) {
        self.assert_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "service_unavailable",
            None,
        );
    }

    pub fn assert_not_replayed(&self) {
        assert_eq!(self.header("idempotent-replayed"), None);
    }

    pub fn assert_replayed(&self) {
        assert_eq!(self.header("idempotent-replayed"), Some("true"));
    }

    /// THEN-helper: a webhook's 200 `{"received":true,"result":result,"status":status}`.
    pub fn assert_applied(&self, result: &str, status: &str) {
        self.assert_json(StatusCode::OK);
        assert_eq!(
            self.json(),
            serde_json::json!({ "received": true, "result": result, "status": status }),
        );
    }

    /// THEN-helper: a webhook's 401 `authentication_error` / `webhook_signature_invalid`.
    pub fn assert_unauthenticated(&self) {
        self.assert_error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "webhook_signature_invalid",
            None,
        );
    }

    /// THEN-helper: none of `secrets` (nor its hex) appears in the body or a header.
    pub fn assert_hides(&self, secrets: &[&str]) {
        let mut everything = self.text.clone();
        for (name, value) in &self.headers {
            everything.push_str(name.as_str());
            everything.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        for secret in secrets {
            assert!(
                !everything.contains(secret),
                "a secret leaked ({}): {everything}",
                self.status
            );
            let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
            assert!(
                !everything.contains(&hex),
                "a secret leaked hex-encoded ({}): {everything}",
                self.status
            );
        }
    }
}
