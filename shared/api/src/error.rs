//! The one error shape of DESIGN §5, and the one list of the codes it carries
//! ([`ErrorCode`]). Internal causes are logged by the caller, never sent.

use http::StatusCode;
use paygate_domain::validation::{ValidationCode, ValidationError};
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
/// The kind of an error. DESIGN §5 gives each status its types: `invalid_request_error`
/// for 400, 404 and 422, `authentication_error` for 401, `idempotency_error` for 409 (a
/// "retry later" conflict) and 422, `api_error` for 5xx.
pub enum ErrorType {
    InvalidRequestError,
    AuthenticationError,
    IdempotencyError,
    ApiError,
}

/// Declares [`ErrorCode`] from one row per code, so that its wire string, status and type
/// are written once, side by side, and [`ErrorCode::ALL`] cannot miss one.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $code:literal, $status:ident, $kind:ident;)+) => {
        /// Every stable error code the API answers with. Each has exactly one status: the
        /// README's `409 / 422` and `500 / 503` rows pair two codes with two statuses.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(Self::$variant,)+];

            /// The `code` clients see.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            pub const fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)+
                }
            }

            pub const fn error_type(self) -> ErrorType {
                match self {
                    $(Self::$variant => ErrorType::$kind,)+
                }
            }
        }
    };
}

error_codes! {
    BodyInvalidJson => "body_invalid_json", BAD_REQUEST, InvalidRequestError;
    /// The body is JSON, but not an object.
    BodyInvalid => "body_invalid", BAD_REQUEST, InvalidRequestError;
    BodyDuplicateKey => "body_duplicate_key", BAD_REQUEST, InvalidRequestError;
    ParameterMissing => "parameter_missing", BAD_REQUEST, InvalidRequestError;
    ParameterInvalidType => "parameter_invalid_type", BAD_REQUEST, InvalidRequestError;
    ParameterUnknown => "parameter_unknown", BAD_REQUEST, InvalidRequestError;
    AmountInvalid => "amount_invalid", BAD_REQUEST, InvalidRequestError;
    AmountTooLarge => "amount_too_large", BAD_REQUEST, InvalidRequestError;
    CurrencyInvalid => "currency_invalid", BAD_REQUEST, InvalidRequestError;
    CountryInvalid => "country_invalid", BAD_REQUEST, InvalidRequestError;
    CustomerIdInvalid => "customer_id_invalid", BAD_REQUEST, InvalidRequestError;
    PaymentMethodInvalid => "payment_method_invalid", BAD_REQUEST, InvalidRequestError;
    PaymentMethodTypeInvalid => "payment_method_type_invalid", BAD_REQUEST, InvalidRequestError;
    PaymentMethodTokenInvalid => "payment_method_token_invalid", BAD_REQUEST, InvalidRequestError;
    /// A payout's `destination` is not an object.
    DestinationInvalid => "destination_invalid", BAD_REQUEST, InvalidRequestError;
    DestinationTypeInvalid => "destination_type_invalid", BAD_REQUEST, InvalidRequestError;
    DestinationTokenInvalid => "destination_token_invalid", BAD_REQUEST, InvalidRequestError;
    MetadataInvalid => "metadata_invalid", BAD_REQUEST, InvalidRequestError;
    IdempotencyKeyMissing => "idempotency_key_missing", BAD_REQUEST, InvalidRequestError;
    IdempotencyKeyInvalid => "idempotency_key_invalid", BAD_REQUEST, InvalidRequestError;
    /// A list's query names a parameter more than once.
    ParameterDuplicate => "parameter_duplicate", BAD_REQUEST, InvalidRequestError;
    /// A list's `limit` is not an integer from 1 to 100.
    LimitInvalid => "limit_invalid", BAD_REQUEST, InvalidRequestError;
    /// `starting_after` and `ending_before` together.
    ParametersExclusive => "parameters_exclusive", BAD_REQUEST, InvalidRequestError;
    /// A list's cursor names none of the caller's objects of that list: malformed,
    /// unknown or another merchant's, one answer for all.
    CursorInvalid => "cursor_invalid", BAD_REQUEST, InvalidRequestError;
    /// The deposits' `status` filter is no deposit status.
    StatusInvalid => "status_invalid", BAD_REQUEST, InvalidRequestError;
    WebhookSignatureMalformed => "webhook_signature_malformed", BAD_REQUEST, InvalidRequestError;
    /// A verified webhook body that is not this gateway's notification.
    WebhookPayloadInvalid => "webhook_payload_invalid", BAD_REQUEST, InvalidRequestError;
    /// A missing, malformed or unknown API key.
    ApiKeyInvalid => "api_key_invalid", UNAUTHORIZED, AuthenticationError;
    /// An unknown gateway, or a missing, stale or wrong signature: one answer for all.
    WebhookSignatureInvalid => "webhook_signature_invalid", UNAUTHORIZED, AuthenticationError;
    /// No such deposit, or another merchant's: one answer for both.
    DepositNotFound => "deposit_not_found", NOT_FOUND, InvalidRequestError;
    /// No such payout, or another merchant's: one answer for both.
    PayoutNotFound => "payout_not_found", NOT_FOUND, InvalidRequestError;
    RouteNotFound => "route_not_found", NOT_FOUND, InvalidRequestError;
    MethodNotAllowed => "method_not_allowed", METHOD_NOT_ALLOWED, InvalidRequestError;
    IdempotencyRequestInProgress => "idempotency_request_in_progress", CONFLICT, IdempotencyError;
    /// Too many concurrent changes of one deposit; a retry may pass.
    DepositBusy => "deposit_busy", CONFLICT, IdempotencyError;
    /// A webhook for a payment no deposit records yet; the gateway retries.
    DepositNotReady => "deposit_not_ready", CONFLICT, IdempotencyError;
    BodyTooLarge => "body_too_large", PAYLOAD_TOO_LARGE, InvalidRequestError;
    IdempotencyKeyReused => "idempotency_key_reused", UNPROCESSABLE_ENTITY, IdempotencyError;
    DepositNotRefundable => "deposit_not_refundable", UNPROCESSABLE_ENTITY, InvalidRequestError;
    RefundExceedsRemaining => "refund_exceeds_remaining", UNPROCESSABLE_ENTITY, InvalidRequestError;
    /// The deposit already has as many refunds as one may have.
    RefundLimitReached => "refund_limit_reached", UNPROCESSABLE_ENTITY, InvalidRequestError;
    /// A safeguard: the refund conflicts with one already recorded.
    RefundRefused => "refund_refused", UNPROCESSABLE_ENTITY, InvalidRequestError;
    /// A payout the merchant's available balance in its currency cannot cover; nothing
    /// was recorded.
    BalanceInsufficient => "balance_insufficient", UNPROCESSABLE_ENTITY, InvalidRequestError;
    InternalError => "internal_error", INTERNAL_SERVER_ERROR, ApiError;
    /// A dependency (store, queue) is unavailable right now.
    ServiceUnavailable => "service_unavailable", SERVICE_UNAVAILABLE, ApiError;
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The domain's reasons to refuse a deposit request, as the API names them.
impl From<ValidationCode> for ErrorCode {
    fn from(code: ValidationCode) -> Self {
        match code {
            ValidationCode::BodyInvalid => Self::BodyInvalid,
            ValidationCode::ParameterMissing => Self::ParameterMissing,
            ValidationCode::ParameterInvalidType => Self::ParameterInvalidType,
            ValidationCode::ParameterUnknown => Self::ParameterUnknown,
            ValidationCode::AmountInvalid => Self::AmountInvalid,
            ValidationCode::AmountTooLarge => Self::AmountTooLarge,
            ValidationCode::CurrencyInvalid => Self::CurrencyInvalid,
            ValidationCode::CountryInvalid => Self::CountryInvalid,
            ValidationCode::CustomerIdInvalid => Self::CustomerIdInvalid,
            ValidationCode::PaymentMethodInvalid => Self::PaymentMethodInvalid,
            ValidationCode::PaymentMethodTypeInvalid => Self::PaymentMethodTypeInvalid,
            ValidationCode::PaymentMethodTokenInvalid => Self::PaymentMethodTokenInvalid,
            ValidationCode::DestinationInvalid => Self::DestinationInvalid,
            ValidationCode::DestinationTypeInvalid => Self::DestinationTypeInvalid,
            ValidationCode::DestinationTokenInvalid => Self::DestinationTokenInvalid,
            ValidationCode::MetadataInvalid => Self::MetadataInvalid,
        }
    }
}

/// A failure as the API answers it: a code (which fixes the status and type), a message
/// and, when one parameter is to blame, its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
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
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            param: None,
            allow: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn kind(&self) -> ErrorType {
        self.code.error_type()
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        let param = param.into();
        self.param = (!param.is_empty()).then_some(param);
        self
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut error = Self::new(
            ErrorCode::MethodNotAllowed,
            format!("this route accepts only {allow}"),
        );
        error.allow = Some(allow);
        error
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::BodyTooLarge,
            format!("the request body must be at most {limit} bytes"),
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorCode::ApiKeyInvalid,
            "provide a valid API key as `Authorization: Bearer <key>`",
        )
    }

    /// A webhook whose signature (or gateway) does not check out.
    pub fn webhook_unauthenticated() -> Self {
        Self::new(
            ErrorCode::WebhookSignatureInvalid,
            "the webhook signature is missing, stale or does not match",
        )
    }

    pub fn idempotency_key_reused() -> Self {
        Self::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was already used with a different request",
        )
    }

    pub fn idempotency_in_flight() -> Self {
        Self::new(
            ErrorCode::IdempotencyRequestInProgress,
            "a request with this Idempotency-Key is still being processed; retry later",
        )
    }

    /// Any internal failure. The message is fixed: a 5xx never leaks internals.
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::InternalError,
            "something went wrong on our side; it is safe to retry with the same Idempotency-Key",
        )
    }

    /// A dependency (store, queue) is unavailable right now.
    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::ServiceUnavailable,
            "the service is temporarily unavailable; retry with the same Idempotency-Key",
        )
    }

    /// The HTTP response for this error, in any body type built from a `String` (the
    /// Lambda runtime's, axum's): status, `Content-Type: application/json`, `Allow` on a
    /// 405, and the error shape.
    pub fn response<B: From<String> + Default>(&self) -> http::Response<B> {
        let mut builder = http::Response::builder()
            .status(self.status())
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(allow) = self.allow {
            builder = builder.header(http::header::ALLOW, allow);
        }
        builder.body(B::from(self.body())).unwrap_or_default()
    }

    pub fn body(&self) -> String {
        let envelope = Envelope {
            error: Body {
                kind: self.kind(),
                code: self.code.as_str(),
                message: &self.message,
                param: self.param.as_deref(),
            },
        };
        serde_json::to_string(&envelope).unwrap_or_else(|_| String::from("{}"))
    }
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        Self::new(error.code.into(), error.message).with_param(error.param)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::documented_errors;
    use serde_json::Value;
    use std::collections::BTreeSet;

    #[test]
    fn the_error_shape_matches_the_design() {
        let error = ApiError::new(
            ErrorCode::AmountInvalid,
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

    fn spec() -> Value {
        serde_json::from_str(crate::OPENAPI_JSON).expect("openapi.json is JSON")
    }

    /// The error pairs of one `#/components/responses/…` entry.
    fn response_errors(response: &Value) -> BTreeSet<(String, String)> {
        documented_errors(&response["content"]["application/json"]["schema"])
    }

    fn wire_type(code: ErrorCode) -> String {
        serde_json::to_value(code.error_type())
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn by_wire(code: &str) -> ErrorCode {
        *ErrorCode::ALL
            .iter()
            .find(|c| c.as_str() == code)
            .unwrap_or_else(|| panic!("the spec's {code} is no ErrorCode"))
    }

    /// DESIGN §5's error types for each status it names; 405 and 413 it leaves open.
    fn design_types(status: StatusCode) -> Option<&'static [ErrorType]> {
        use ErrorType::*;
        Some(match status.as_u16() {
            400 | 404 => &[InvalidRequestError],
            401 => &[AuthenticationError],
            409 => &[IdempotencyError],
            422 => &[InvalidRequestError, IdempotencyError],
            500..=599 => &[ApiError],
            _ => return None,
        })
    }

    #[test]
    fn each_code_has_a_type_the_design_gives_its_status() {
        for code in ErrorCode::ALL {
            if let Some(types) = design_types(code.status()) {
                assert!(
                    types.contains(&code.error_type()),
                    "{code} ({}) is {:?}",
                    code.status(),
                    code.error_type()
                );
            }
        }
    }

    #[test]
    fn the_codes_are_exactly_those_of_the_openapi_spec_with_their_types() {
        let spec = spec();
        let mut in_spec = BTreeSet::new();
        for (name, response) in spec["components"]["responses"].as_object().unwrap() {
            for (kind, code) in response_errors(response) {
                assert_eq!(wire_type(by_wire(&code)), kind, "{name}: {code}");
                in_spec.insert(code);
            }
        }
        let ours: BTreeSet<String> = ErrorCode::ALL
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        assert_eq!(
            ours.len(),
            ErrorCode::ALL.len(),
            "a code string is used twice"
        );
        assert_eq!(ours, in_spec, "ErrorCode and the spec's error codes differ");
    }

    #[test]
    fn each_code_has_the_status_the_spec_answers_it_with() {
        let spec = spec();
        let mut checked = 0;
        for (path, operations) in spec["paths"].as_object().unwrap() {
            for (method, operation) in operations.as_object().unwrap() {
                let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
                    continue;
                };
                for (status, response) in responses {
                    let response = match response["$ref"].as_str() {
                        Some(pointer) => spec
                            .pointer(pointer.trim_start_matches('#'))
                            .unwrap_or_else(|| panic!("{pointer} exists")),
                        None => response,
                    };
                    for (_, code) in response_errors(response) {
                        assert_eq!(
                            by_wire(&code).status().as_str(),
                            status,
                            "{method} {path}: {code}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 0, "no error response found in the paths");
    }
}
