//! `POST /v1/deposits`.

use crate::Intake;
use crate::body::keyed_json;
use crate::response::{Answer, accepted, intake_error};
use http::header::{HeaderValue, LOCATION};
use lambda_http::Request;
use paygate_api::json::canonical_bytes;
use paygate_api::models::DepositResponse;
use paygate_domain::idempotency::Fingerprint;
use paygate_domain::service::intake::{CREATE_DEPOSIT, Created, IntakeRequest, request_deposit};
use paygate_domain::validation::parse_deposit_request;
use paygate_domain::{CorrelationId, MerchantId};

pub async fn create_deposit(
    app: &Intake,
    merchant: &MerchantId,
    correlation: &CorrelationId,
    request: Request,
) -> Answer {
    let (key, body) = keyed_json(app, &request, false)?;
    let deposit_request = parse_deposit_request(&body)?;
    let fingerprint = Fingerprint::of(CREATE_DEPOSIT, &canonical_bytes(&body));

    let input = IntakeRequest {
        merchant,
        key: &key,
        fingerprint: &fingerprint,
        correlation,
        request: deposit_request,
    };
    let created = request_deposit(&app.ports(), input)
        .await
        .map_err(intake_error)?;
    let (view, replayed) = match &created {
        Created::New(view) => (view, false),
        Created::Replayed(view) => (view, true),
    };
    tracing::Span::current().record("deposit_id", tracing::field::display(view.id));
    tracing::info!(replayed, "deposit accepted");
    let mut response = accepted(&DepositResponse::from(view), replayed);
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/deposits/{}", view.id)) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}
