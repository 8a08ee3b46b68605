//! `POST /v1/deposits` and `POST /v1/payouts`: the same idempotent intake, each with its
//! own body, fingerprint and answer.

use crate::Intake;
use crate::body::keyed_json;
use crate::response::{Answer, accepted, intake_error};
use http::header::{HeaderValue, LOCATION};
use lambda_http::Request;
use paygate_api::json::canonical_bytes;
use paygate_api::models::{DepositResponse, PayoutResponse};
use paygate_domain::deposit::Direction;
use paygate_domain::service::intake::{
    CREATE_DEPOSIT, CREATE_PAYOUT, Created, IntakeRequest, KeyContext, request_deposit,
};
use paygate_domain::validation::{parse_deposit_request, parse_payout_request};
use paygate_domain::{CorrelationId, MerchantId};

pub async fn create(
    app: &Intake,
    merchant: &MerchantId,
    correlation: &CorrelationId,
    direction: Direction,
    request: Request,
) -> Answer {
    let (key, body) = keyed_json(app, &request, false)?;
    let (parsed, endpoint) = match direction {
        Direction::Deposit => (parse_deposit_request(&body)?, CREATE_DEPOSIT),
        Direction::Payout => (parse_payout_request(&body)?, CREATE_PAYOUT),
    };
    let fingerprint = app.cipher.fingerprint(endpoint, &canonical_bytes(&body));

    let input = IntakeRequest {
        keyed: KeyContext {
            merchant,
            key: &key,
            fingerprint: &fingerprint,
            correlation,
        },
        request: parsed,
    };
    let created = request_deposit(&app.ports(), input)
        .await
        .map_err(intake_error)?;
    let (view, replayed) = match &created {
        Created::New(view) => (view, false),
        Created::Replayed(view) => (view, true),
    };
    let span = tracing::Span::current();
    span.record("deposit_id", tracing::field::display(view.id));
    // On the span, so the request's own line ("request handled") carries it.
    span.record("replayed", replayed);
    tracing::debug!(direction = direction.as_str(), "accepted");
    let (mut response, location) = match direction {
        Direction::Deposit => (
            accepted(&DepositResponse::from(view), replayed),
            format!("/v1/deposits/{}", view.id),
        ),
        Direction::Payout => (
            accepted(&PayoutResponse::from(view), replayed),
            format!("/v1/payouts/{}", view.id),
        ),
    };
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}
