//! `POST /v1/deposits`.

use crate::Intake;
use crate::response::{intake_error, json};
use http::StatusCode;
use http::header::{HeaderValue, LOCATION};
use lambda_http::{Body, Request, Response};
use paygate_api::ApiError;
use paygate_api::json::{StrictJsonError, canonical_bytes, parse_json_strictly};
use paygate_api::models::DepositResponse;
use paygate_api::request::{IDEMPOTENCY_HEADER, NotAscii, REPLAYED_HEADER, header_str};
use paygate_domain::idempotency::{Fingerprint, IdempotencyKey, IdempotencyKeyError};
use paygate_domain::service::intake::{
    CREATE_DEPOSIT, Created, IntakePorts, IntakeRequest, request_deposit,
};
use paygate_domain::validation::parse_deposit_request;
use paygate_domain::{CorrelationId, MerchantId};
use serde_json::Value;

pub async fn create_deposit(
    app: &Intake,
    merchant: &MerchantId,
    correlation: &CorrelationId,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes: &[u8] = match &body {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > app.config.max_body_bytes {
        return Err(ApiError::body_too_large(app.config.max_body_bytes));
    }
    let key = match header_str(&parts.headers, IDEMPOTENCY_HEADER) {
        None => IdempotencyKey::parse(None),
        Some(Ok(value)) => IdempotencyKey::parse(Some(value)),
        Some(Err(NotAscii)) => Err(IdempotencyKeyError::Invalid),
    }
    .map_err(|error| {
        let code = match error {
            IdempotencyKeyError::Missing => "idempotency_key_missing",
            IdempotencyKeyError::Invalid => "idempotency_key_invalid",
        };
        ApiError::invalid(code, error.to_string()).with_param("Idempotency-Key")
    })?;
    let body: Value = parse_json_strictly(bytes).map_err(|error| match error {
        StrictJsonError::DuplicateKey(key) => ApiError::invalid(
            "body_duplicate_key",
            format!("the request body names `{key}` more than once"),
        )
        .with_param(key),
        StrictJsonError::Invalid => {
            ApiError::invalid("body_invalid_json", "the request body must be valid JSON")
        }
    })?;
    let deposit_request = parse_deposit_request(&body)?;
    let fingerprint = Fingerprint::of(CREATE_DEPOSIT, &canonical_bytes(&body));

    let ports = IntakePorts {
        store: app.store.as_ref(),
        queue: app.queue.as_ref(),
        clock: app.clock.as_ref(),
        ids: app.ids.as_ref(),
        cipher: &app.cipher,
        policy: app.config.idempotency,
    };
    let input = IntakeRequest {
        merchant,
        key: &key,
        fingerprint: &fingerprint,
        correlation,
        request: deposit_request,
    };
    let created = request_deposit(&ports, input).await.map_err(intake_error)?;
    let (view, replayed) = match &created {
        Created::New(view) => (view, false),
        Created::Replayed(view) => (view, true),
    };
    tracing::Span::current().record("deposit_id", tracing::field::display(view.id));
    tracing::info!(replayed, "deposit accepted");
    let mut response = json(StatusCode::ACCEPTED, &DepositResponse::from(view));
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/deposits/{}", view.id)) {
        headers.insert(LOCATION, location);
    }
    if replayed {
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    Ok(response)
}
