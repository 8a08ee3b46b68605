//! Reading what every write endpoint reads: the raw body (bounded), the idempotency key,
//! and strict JSON.

use crate::Intake;
use http::HeaderMap;
use lambda_http::{Body, Request};
use paygate_api::json::{StrictJsonError, parse_json_strictly};
use paygate_api::request::{IDEMPOTENCY_HEADER, NotAscii, header_str};
use paygate_api::{ApiError, ErrorCode};
use paygate_domain::idempotency::{IdempotencyKey, IdempotencyKeyError};
use serde_json::Value;

/// What a write endpoint reads first, in this order: the body's bytes (bounded), the
/// idempotency key, then the body as strict JSON (see [`json`] for `empty_is_object`).
pub fn keyed_json(
    app: &Intake,
    request: &Request,
    empty_is_object: bool,
) -> Result<(IdempotencyKey, Value), ApiError> {
    let bytes = bounded_bytes(request.body(), app.config.max_body_bytes)?;
    let key = idempotency_key(request.headers())?;
    Ok((key, json(bytes, empty_is_object)?))
}

/// The body's bytes, refused with 413 above `max` before anything parses them.
fn bounded_bytes(body: &Body, max: usize) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match body {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > max {
        return Err(ApiError::body_too_large(max));
    }
    Ok(bytes)
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<IdempotencyKey, ApiError> {
    match header_str(headers, IDEMPOTENCY_HEADER) {
        None => IdempotencyKey::parse(None),
        Some(Ok(value)) => IdempotencyKey::parse(Some(value)),
        Some(Err(NotAscii)) => Err(IdempotencyKeyError::Invalid),
    }
    .map_err(|error| {
        let code = match error {
            IdempotencyKeyError::Missing => ErrorCode::IdempotencyKeyMissing,
            IdempotencyKeyError::Invalid => ErrorCode::IdempotencyKeyInvalid,
        };
        ApiError::new(code, error.to_string()).with_param("Idempotency-Key")
    })
}

/// Strict JSON (duplicate keys refused). `empty_is_object`: an empty body means `{}`.
fn json(bytes: &[u8], empty_is_object: bool) -> Result<Value, ApiError> {
    if bytes.is_empty() && empty_is_object {
        return Ok(Value::Object(Default::default()));
    }
    parse_json_strictly(bytes).map_err(|error| match error {
        StrictJsonError::DuplicateKey(key) => ApiError::new(
            ErrorCode::BodyDuplicateKey,
            format!("the request body names `{key}` more than once"),
        )
        .with_param(key),
        StrictJsonError::Invalid => ApiError::new(
            ErrorCode::BodyInvalidJson,
            "the request body must be valid JSON",
        ),
    })
}
