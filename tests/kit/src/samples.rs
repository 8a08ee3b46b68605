//! Test support for the sample events in `events/<function>/`.
//!
//! Each function's `tests/samples.rs` runs the samples of its folder through that
//! function's real handler, and they all need the same groundwork: find the folder, list
//! and read its files, check that `events/README.md` documents them, fail when a file has
//! no test case, and turn an API Gateway HTTP API (payload 2.0) sample into the
//! `lambda_http::Request` the Lambda runtime would hand the handler, after checking the
//! sample field by field (the deserializer accepts almost anything, since every field has
//! a default). This module is that groundwork, shared so the
//! four tests cannot drift apart. What a function does with its samples (the world it
//! seeds, the handler it calls, what it expects, the SQS and EventBridge shapes) stays in
//! its own `samples.rs`.
//!
//! Only the files of the function folders are samples. The README and
//! `sam-local-env.json` sit at the top of `events/`, which [`Samples`] never lists;
//! `sam local invoke -e` and `cargo lambda invoke --data-file` read only the file they
//! are given.

use lambda_http::Request;
use lambda_http::request::LambdaRequest;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The values the samples are written around, as listed under "Fixed values" in
/// `events/README.md` (which this crate's tests check).
pub mod fixed {
    /// The test merchant's API key (`Authorization: Bearer …`).
    pub const API_KEY: &str = "sk_test_samples_7d3f9a2c41e8";
    /// The merchant owning [`API_KEY`]; also in the SQS sample's body.
    pub const MERCHANT: &str = "mer_samples";
    /// The one deposit every sample names: a UUID v7 of 2026-11-23T10:00:00Z.
    pub const DEPOSIT_ID: &str = "01a207d9-2100-7c3e-9a5b-4e6f8d2c1b70";
    /// `X-Correlation-Id` of `deposit-intake/create-deposit.json`, carried by the message
    /// it queues.
    pub const CORRELATION: &str = "corr-sample-01a207d9";
    /// The webhook secret of the `acme_json` (JSON) gateway.
    pub const ACME_JSON_SECRET: &str = "whsec_sample_acme_json_5b2e9c";
    /// The webhook secret of the `globex_soap` (SOAP) gateway.
    pub const GLOBEX_SOAP_SECRET: &str = "whsec_sample_globex_soap_8d41f0";
    /// `t` of every webhook sample's `Paygate-Signature`: 2026-11-23T10:05:00Z.
    pub const SIGNED_AT: i64 = 1_795_428_300;
}

/// `events/` at the top of the repository.
fn events_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events"))
}

#[track_caller]
fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The samples of one function: the files of `events/<function>/`.
#[derive(Debug, Clone, Copy)]
pub struct Samples {
    function: &'static str,
}

impl Samples {
    /// The samples in `events/<function>/`. `function` is a folder name, never a path, so
    /// only that function's folder is ever listed.
    pub const fn of(function: &'static str) -> Self {
        let bytes = function.as_bytes();
        assert!(!bytes.is_empty(), "a function's folder name is needed");
        let mut i = 0;
        while i < bytes.len() {
            assert!(
                bytes[i] != b'/' && bytes[i] != b'\\' && bytes[i] != b'.',
                "a function's folder name, not a path"
            );
            i += 1;
        }
        Self { function }
    }

    /// The function (and folder) name.
    pub fn function(&self) -> &'static str {
        self.function
    }

    /// `events/<function>/`.
    pub fn dir(&self) -> PathBuf {
        events_dir().join(self.function)
    }

    /// The name of every file in the folder, which must hold at least one.
    #[track_caller]
    pub fn files(&self) -> BTreeSet<String> {
        let dir = self.dir();
        let files: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .map(|entry| {
                let entry = entry.expect("a directory entry");
                entry.file_name().to_string_lossy().into_owned()
            })
            .collect();
        assert!(!files.is_empty(), "no samples in {}", dir.display());
        files
    }

    /// A sample's text, byte for byte what `sam local invoke -e` would send.
    #[track_caller]
    pub fn text(&self, name: &str) -> String {
        read(&self.dir().join(name))
    }

    /// A sample parsed as JSON.
    #[track_caller]
    pub fn json(&self, name: &str) -> Value {
        serde_json::from_str(&self.text(name))
            .unwrap_or_else(|e| panic!("{}/{name} is not JSON: {e}", self.function))
    }

    /// An API Gateway HTTP API (payload 2.0) sample, checked by [`assert_http_api_v2`].
    #[track_caller]
    pub fn http(&self, name: &str) -> HttpSample {
        let name = format!("{}/{name}", self.function);
        let text = read(&events_dir().join(&name));
        let json: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        assert_http_api_v2(&name, &json);
        HttpSample { name, text, json }
    }

    /// An HTTP API sample, checked, as the Lambda runtime hands it to the handler.
    #[track_caller]
    pub fn http_request(&self, name: &str) -> Request {
        self.http(name).request()
    }

    /// Fails the "every file has a case" test for a file that has none. Use as the last
    /// arm of the `match` over [`Samples::files`], with `file!()` as `test_file`.
    #[track_caller]
    pub fn missing_case(&self, name: &str, test_file: &str) -> ! {
        panic!(
            "events/{}/{name} has no test case: add one to {test_file}",
            self.function
        )
    }

    /// `events/README.md` lists every file of the folder (as `<function>/<file>`) and
    /// mentions every one of `fixed_values`.
    #[track_caller]
    pub fn assert_readme_lists(&self, fixed_values: &[&str]) {
        let readme = read(&events_dir().join("README.md"));
        for name in self.files() {
            let listed = format!("{}/{name}", self.function);
            assert!(
                readme.contains(&listed),
                "events/README.md does not list {listed}"
            );
        }
        for value in fixed_values {
            assert!(readme.contains(value), "events/README.md omits {value}");
        }
    }
}

/// An API Gateway HTTP API (payload 2.0) sample that passed [`assert_http_api_v2`].
#[derive(Debug, Clone)]
pub struct HttpSample {
    /// `<function>/<file>`, for messages.
    name: String,
    text: String,
    json: Value,
}

impl HttpSample {
    /// `<function>/<file>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole event as JSON.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// A header's value (names are lower case, as checked).
    #[track_caller]
    pub fn header(&self, name: &str) -> &str {
        self.json["headers"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no {name} header", self.name))
    }

    /// A path parameter's value.
    #[track_caller]
    pub fn path_parameter(&self, name: &str) -> &str {
        self.json["pathParameters"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no path parameter {name}", self.name))
    }

    /// The body string exactly as stored (what signatures and content-length cover).
    #[track_caller]
    pub fn body(&self) -> &str {
        self.json["body"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no body", self.name))
    }

    /// The body parsed as JSON.
    #[track_caller]
    pub fn body_json(&self) -> Value {
        serde_json::from_str(self.body())
            .unwrap_or_else(|e| panic!("{}'s body is not JSON: {e}", self.name))
    }

    /// The sample as the Lambda runtime hands it to the handler: JSON → `LambdaRequest`,
    /// which must be read as an HTTP API (payload 2.0) request → `lambda_http::Request`.
    #[track_caller]
    pub fn request(&self) -> Request {
        let lambda_request: LambdaRequest = serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{} is no Lambda request: {e}", self.name));
        assert!(
            matches!(lambda_request, LambdaRequest::ApiGatewayV2(_)),
            "{} is not read as an HTTP API (payload 2.0) request: {lambda_request:?}",
            self.name
        );
        Request::from(lambda_request)
    }
}

/// What API Gateway HTTP APIs send with payload format 2.0, checked field by field since
/// the deserializer accepts almost anything (every field has a default): version `2.0`;
/// `routeKey` `METHOD /template` matching the request context's route, method and path;
/// `pathParameters` present exactly when the route has some, filling its template to
/// `rawPath`; stage `$default`; source IP, query string, request id and time set;
/// lower-case string headers; not base64-encoded; a string body whose length in bytes is
/// `content-length` (and no `content-length` without a body).
#[track_caller]
pub fn assert_http_api_v2(name: &str, event: &Value) {
    let text = |pointer: &str| {
        event
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{name}: {pointer} must be a string"))
            .to_owned()
    };
    assert_eq!(text("/version"), "2.0", "{name}");
    let route_key = text("/routeKey");
    assert_eq!(text("/requestContext/routeKey"), route_key, "{name}");
    let (method, template) = route_key
        .split_once(' ')
        .unwrap_or_else(|| panic!("{name}: routeKey is `METHOD /path`"));
    assert_eq!(text("/requestContext/http/method"), method, "{name}");
    let raw_path = text("/rawPath");
    assert_eq!(text("/requestContext/http/path"), raw_path, "{name}");
    assert_eq!(text("/requestContext/stage"), "$default", "{name}");
    assert!(!text("/requestContext/http/sourceIp").is_empty(), "{name}");
    text("/rawQueryString");
    text("/requestContext/requestId");
    assert!(event["requestContext"]["timeEpoch"].is_i64(), "{name}");
    // pathParameters: present exactly when the route has some, and they fill it to rawPath
    let mut filled = template.to_owned();
    match event.get("pathParameters") {
        Some(Value::Object(params)) => {
            for (key, value) in params {
                let value = value.as_str().expect("path parameters are strings");
                let placeholder = format!("{{{key}}}");
                assert!(filled.contains(&placeholder), "{name}: no {placeholder}");
                filled = filled.replace(&placeholder, value);
            }
        }
        None => {}
        Some(other) => panic!("{name}: pathParameters is {other}"),
    }
    assert_eq!(filled, raw_path, "{name}: the route and its parameters");
    let headers = event["headers"]
        .as_object()
        .unwrap_or_else(|| panic!("{name}: headers must be an object"));
    for (header, value) in headers {
        assert_eq!(
            header,
            &header.to_lowercase(),
            "{name}: header names are lower case"
        );
        assert!(value.is_string(), "{name}: header {header} is a string");
    }
    assert_eq!(event["isBase64Encoded"], Value::Bool(false), "{name}");
    match event.get("body") {
        Some(Value::String(body)) => assert_eq!(
            headers.get("content-length").and_then(Value::as_str),
            Some(body.len().to_string().as_str()),
            "{name}: content-length is the body's length in bytes"
        ),
        None => assert!(!headers.contains_key("content-length"), "{name}"),
        Some(other) => panic!("{name}: body must be a string, not {other}"),
    }
}

/// [`fixed::DEPOSIT_ID`] as an id.
pub fn deposit_id() -> paygate_domain::DepositId {
    paygate_domain::DepositId::parse(fixed::DEPOSIT_ID).expect("a UUID")
}

/// The JSON body of the intake's `create-deposit.json` sample.
pub fn intake_body() -> Value {
    Samples::of("deposit-intake")
        .http("create-deposit.json")
        .body_json()
}

/// The deposit the intake's `create-deposit.json` sample creates, taken by the intake's
/// use case (its token encrypted with `cipher`) under the samples' id, merchant and
/// correlation id, its message sent to `queue`.
pub async fn create_sample_deposit(
    store: &dyn paygate_domain::ports::EventStore,
    queue: &dyn paygate_domain::ports::QueueSender,
    clock: &dyn paygate_domain::ports::Clock,
    cipher: &paygate_domain::crypto::FieldCipher,
) -> paygate_domain::DepositView {
    use paygate_domain::idempotency::{Fingerprint, IdempotencyKey, IdempotencyPolicy};
    use paygate_domain::service::intake::{
        CREATE_DEPOSIT, Created, IntakePorts, IntakeRequest, KeyContext, request_deposit,
    };
    use paygate_domain::{CorrelationId, MerchantId};
    let body = intake_body();
    let ports = IntakePorts {
        store,
        queue,
        clock,
        ids: &crate::fixtures::FixedIds::starting_with([deposit_id().0]),
        cipher,
        policy: IdempotencyPolicy::default(),
    };
    let created = request_deposit(
        &ports,
        IntakeRequest {
            keyed: KeyContext {
                merchant: &MerchantId(fixed::MERCHANT.into()),
                key: &IdempotencyKey::parse(Some("order-S-1")).expect("a valid key"),
                fingerprint: &Fingerprint::of(CREATE_DEPOSIT, body.to_string().as_bytes()),
                correlation: &CorrelationId(fixed::CORRELATION.into()),
            },
            request: paygate_domain::validation::parse_deposit_request(&body)
                .expect("the sample's body is a valid deposit"),
        },
    )
    .await
    .expect("the intake accepts the deposit");
    let Created::New(view) = created else {
        panic!("a fresh key creates the deposit");
    };
    assert_eq!(view.id, deposit_id());
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_every_fixed_value() {
        let readme = read(&events_dir().join("README.md"));
        for value in [
            fixed::API_KEY,
            fixed::MERCHANT,
            fixed::DEPOSIT_ID,
            fixed::CORRELATION,
            fixed::ACME_JSON_SECRET,
            fixed::GLOBEX_SOAP_SECRET,
            &fixed::SIGNED_AT.to_string(),
        ] {
            assert!(readme.contains(value), "events/README.md omits {value}");
        }
    }

    /// Every folder of `events/` but this crate's `src/` is named after a function crate
    /// and holds only JSON samples, so the crate's files never reach a function's tests.
    #[test]
    fn every_sample_folder_is_a_function_holding_only_json_samples() {
        let mut folders = 0;
        for entry in std::fs::read_dir(events_dir()).expect("events/ lists") {
            let entry = entry.expect("a directory entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.path().is_dir() || name == "src" {
                continue;
            }
            folders += 1;
            let function = events_dir().join("../functions").join(&name);
            assert!(
                function.join("Cargo.toml").is_file(),
                "events/{name}/ names no function in {}",
                function.display()
            );
            let samples = Samples::of(Box::leak(name.into_boxed_str()));
            for file in samples.files() {
                assert!(file.ends_with(".json"), "{}/{file}", samples.function());
                samples.json(&file);
            }
        }
        assert!(folders > 0, "no sample folders in events/");
    }

    #[test]
    #[should_panic(expected = "a function's folder name, not a path")]
    fn a_path_is_refused() {
        Samples::of("../events");
    }
}
