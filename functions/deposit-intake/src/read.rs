//! `GET /v1/deposits/{id}` and `GET /v1/deposits/{id}/events`, scoped to the merchant.

use crate::Intake;
use crate::response::json;
use http::StatusCode;
use lambda_http::{Body, Response};
use paygate_api::models::{DepositResponse, EventList, EventResponse};
use paygate_api::{ApiError, ErrorCode};
use paygate_domain::service::{deposit_events, deposit_view};
use paygate_domain::{DepositId, MerchantId};

/// The same answer for "does not exist" and "belongs to someone else".
pub fn deposit_not_found() -> ApiError {
    ApiError::new(ErrorCode::DepositNotFound, "no such deposit").with_param("id")
}

pub async fn get_deposit(
    app: &Intake,
    merchant: &MerchantId,
    id: DepositId,
) -> Result<Response<Body>, ApiError> {
    tracing::Span::current().record("deposit_id", tracing::field::display(id));
    let view = deposit_view(app.store.as_ref(), merchant, id)
        .await
        .map_err(|error| {
            tracing::error!(%error, "store failed");
            ApiError::unavailable()
        })?
        .ok_or_else(deposit_not_found)?;
    Ok(json(StatusCode::OK, &DepositResponse::from(&view)))
}

pub async fn get_events(
    app: &Intake,
    merchant: &MerchantId,
    id: DepositId,
) -> Result<Response<Body>, ApiError> {
    tracing::Span::current().record("deposit_id", tracing::field::display(id));
    let events = deposit_events(app.store.as_ref(), merchant, id)
        .await
        .map_err(|error| {
            tracing::error!(%error, "store failed");
            ApiError::unavailable()
        })?
        .ok_or_else(deposit_not_found)?;
    let list = EventList {
        object: "list",
        deposit_id: id.to_string(),
        data: events.iter().map(EventResponse::from).collect(),
    };
    Ok(json(StatusCode::OK, &list))
}
