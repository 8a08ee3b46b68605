//! The one error shape of DESIGN §5. Internal causes are logged by the caller, never sent.

use http::StatusCode;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    InvalidRequestError,
    AuthenticationError,
    IdempotencyError,
    ApiError,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: ErrorType,
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
    /// The methods the route does accept, for a 405's `Allow` header.
    pub allow: Option<&'static str>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: ErrorType,
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: ErrorType,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code,
            message: message.into(),
            param: None,
            allow: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        let param = param.into();
        self.param = (!param.is_empty()).then_some(param);
        self
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequestError,
            code,
            message,
        )
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequestError,
            code,
            message,
        )
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut error = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorType::InvalidRequestError,
            "method_not_allowed",
            format!("this route accepts only {allow}"),
        );
        error.allow = Some(allow);
        error
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorType::InvalidRequestError,
            "body_too_large",
            format!("the request body must be at most {limit} bytes"),
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::AuthenticationError,
            "api_key_invalid",
            "provide a valid API key as `Authorization: Bearer <key>`",
        )
    }

    /// A webhook whose signature (or gateway) does not check out.
    pub fn webhook_unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::AuthenticationError,
            "webhook_signature_invalid",
            "the webhook signature is missing, stale or does not match",
        )
    }

    /// The request is well-formed but cannot be done in the resource's state.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::InvalidRequestError,
            code,
            message,
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            ErrorType::InvalidRequestError,
            code,
            message,
        )
    }

    pub fn idempotency_key_reused() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::IdempotencyError,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request",
        )
    }

    pub fn idempotency_in_flight() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            ErrorType::IdempotencyError,
            "idempotency_request_in_progress",
            "a request with this Idempotency-Key is still being processed; retry later",
        )
    }

    /// Any internal failure. The message is fixed: a 5xx never leaks internals.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::ApiError,
            "internal_error",
            "something went wrong on our side; it is safe to retry with the same Idempotency-Key",
        )
    }

    /// A dependency (store, queue) is unavailable right now.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::ApiError,
            "service_unavailable",
            "the service is temporarily unavailable; retry with the same Idempotency-Key",
        )
    }

    /// The HTTP response for this error, in any body type built from a `String` (the
    /// Lambda runtime's, axum's): status, `Content-Type: application/json`, `Allow` on a
    /// 405, and the error shape.
    pub fn response<B: From<String> + Default>(&self) -> http::Response<B> {
        let mut builder = http::Response::builder()
            .status(self.status)
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(allow) = self.allow {
            builder = builder.header(http::header::ALLOW, allow);
        }
        builder.body(B::from(self.body())).unwrap_or_default()
    }

    pub fn body(&self) -> String {
        let envelope = Envelope {
            error: Body {
                kind: self.kind,
                code: self.code,
                message: &self.message,
                param: self.param.as_deref(),
            },
        };
        serde_json::to_string(&envelope).unwrap_or_else(|_| String::from("{}"))
    }
}

impl From<paygate_domain::validation::ValidationError> for ApiError {
    fn from(error: paygate_domain::validation::ValidationError) -> Self {
        Self::invalid(error.code, error.message).with_param(error.param)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_shape_matches_the_design() {
        let error = ApiError::invalid(
            "amount_invalid",
            "amount must be a positive integer in minor units",
        )
        .with_param("amount");
        let json: serde_json::Value = serde_json::from_str(&error.body()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "error": { "type": "invalid_request_error", "code": "amount_invalid",
                "message": "amount must be a positive integer in minor units", "param": "amount" } })
        );
    }

    #[test]
    fn internal_errors_say_nothing_about_the_cause() {
        let json: serde_json::Value = serde_json::from_str(&ApiError::internal().body()).unwrap();
        assert_eq!(json["error"]["type"], "api_error");
        assert!(json["error"].get("param").is_none());
    }
}
