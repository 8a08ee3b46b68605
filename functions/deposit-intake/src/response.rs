//! Building responses, and the one place domain errors become API errors.

use http::StatusCode;
use http::header::HeaderValue;
use lambda_http::{Body, Response};
use paygate_api::request::REPLAYED_HEADER;
use paygate_api::{ApiError, ErrorCode};
use paygate_domain::service::intake::IntakeError;
use serde::Serialize;

/// What an endpoint answers: a response, or the API error to answer instead.
pub type Answer = Result<Response<Body>, ApiError>;

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .unwrap_or_default()
}

/// A 202 with `value`, marked as a replay of the first answer when `replayed`.
pub fn accepted<T: Serialize>(value: &T, replayed: bool) -> Response<Body> {
    let mut response = json(StatusCode::ACCEPTED, value);
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// A store that failed: 503, its cause only logged (it may name tables or accounts).
pub fn store_failed(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "store failed");
    ApiError::unavailable()
}

/// Logs the internal cause (never sent to the client) and picks the public error.
pub fn intake_error(error: IntakeError) -> ApiError {
    match error {
        IntakeError::KeyReused => ApiError::idempotency_key_reused(),
        IntakeError::InFlight => ApiError::idempotency_in_flight(),
        IntakeError::Store(e) => store_failed(e),
        IntakeError::BalanceInsufficient(short) => ApiError::new(
            ErrorCode::BalanceInsufficient,
            format!(
                "the available balance in {} cannot cover this payout",
                short.currency
            ),
        )
        .with_param("amount"),
        IntakeError::Crypto(e) => {
            tracing::error!(error = %e, "field encryption failed");
            ApiError::internal()
        }
        IntakeError::Inconsistent(e) => {
            tracing::error!(error = %e, "inconsistent state");
            ApiError::internal()
        }
    }
}
