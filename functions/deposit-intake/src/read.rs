//! `GET /v1/deposits/{id}` and `GET /v1/deposits/{id}/events`, scoped to the merchant.

use crate::Intake;
use crate::response::{Answer, json, store_failed};
use http::StatusCode;
use paygate_api::models::{DepositResponse, EventList, EventResponse};
use paygate_api::{ApiError, ErrorCode};
use paygate_domain::service::{deposit_events, deposit_view};
use paygate_domain::{DepositId, MerchantId};

/// The same answer for "does not exist" and "belongs to someone else".
pub fn deposit_not_found() -> ApiError {
    ApiError::new(ErrorCode::DepositNotFound, "no such deposit").with_param("id")
}

/// What the store read of the merchant's deposit `id` (recorded on the span first): a
/// failed read is 503 (its cause only logged), nothing is [`deposit_not_found`].
async fn found<T, E: std::fmt::Display>(
    id: DepositId,
    read: impl Future<Output = Result<Option<T>, E>>,
) -> Result<T, ApiError> {
    tracing::Span::current().record("deposit_id", tracing::field::display(id));
    read.await
        .map_err(store_failed)?
        .ok_or_else(deposit_not_found)
}

pub async fn get_deposit(app: &Intake, merchant: &MerchantId, id: DepositId) -> Answer {
    let view = found(id, deposit_view(app.store.as_ref(), merchant, id)).await?;
    Ok(json(StatusCode::OK, &DepositResponse::from(&view)))
}

pub async fn get_events(app: &Intake, merchant: &MerchantId, id: DepositId) -> Answer {
    let events = found(id, deposit_events(app.store.as_ref(), merchant, id)).await?;
    let list = EventList {
        object: "list",
        deposit_id: id.to_string(),
        data: events.iter().map(EventResponse::from).collect(),
    };
    Ok(json(StatusCode::OK, &list))
}
