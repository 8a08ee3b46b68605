//! `POST /v1/deposits`.

use crate::Intake;
use crate::body::{bounded_bytes, idempotency_key, json};
use crate::response::intake_error;
use http::StatusCode;
use http::header::{HeaderValue, LOCATION};
use lambda_http::{Body, Request, Response};
use paygate_api::ApiError;
use paygate_api::json::canonical_bytes;
use paygate_api::models::DepositResponse;
use paygate_api::request::REPLAYED_HEADER;
use paygate_domain::idempotency::Fingerprint;
use paygate_domain::service::intake::{
    CREATE_DEPOSIT, Created, IntakePorts, IntakeRequest, request_deposit,
};
use paygate_domain::validation::parse_deposit_request;
use paygate_domain::{CorrelationId, MerchantId};

pub async fn create_deposit(
    app: &Intake,
    merchant: &MerchantId,
    correlation: &CorrelationId,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = bounded_bytes(&body, app.config.max_body_bytes)?;
    let key = idempotency_key(&parts.headers)?;
    let body = json(bytes, false)?;
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
    let mut response = crate::response::json(StatusCode::ACCEPTED, &DepositResponse::from(view));
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/deposits/{}", view.id)) {
        headers.insert(LOCATION, location);
    }
    if replayed {
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    Ok(response)
}
