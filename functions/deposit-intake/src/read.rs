//! `GET /v1/deposits/{id}`, `GET /v1/payouts/{id}` and their `/events`, scoped to the
//! merchant and to the direction the path names.

use crate::Intake;
use crate::response::{Answer, json, store_failed};
use http::StatusCode;
use paygate_api::models::{DepositResponse, EventList, PayoutResponse};
use paygate_api::{ApiError, ErrorCode};
use paygate_domain::deposit::Direction;
use paygate_domain::service::{deposit_events, deposit_view};
use paygate_domain::{DepositId, MerchantId};

/// The same answer for "does not exist", "belongs to someone else" and "is the other
/// direction's".
pub fn not_found(direction: Direction) -> ApiError {
    match direction {
        Direction::Deposit => ApiError::new(ErrorCode::DepositNotFound, "no such deposit"),
        Direction::Payout => ApiError::new(ErrorCode::PayoutNotFound, "no such payout"),
    }
    .with_param("id")
}

/// What the store read of the merchant's deposit or payout `id` (recorded on the span
/// first): a failed read is 503 (its cause only logged), nothing is [`not_found`].
async fn found<T, E: std::fmt::Display>(
    id: DepositId,
    direction: Direction,
    read: impl Future<Output = Result<Option<T>, E>>,
) -> Result<T, ApiError> {
    tracing::Span::current().record("deposit_id", tracing::field::display(id));
    read.await
        .map_err(store_failed)?
        .ok_or_else(|| not_found(direction))
}

pub async fn get(
    app: &Intake,
    merchant: &MerchantId,
    direction: Direction,
    id: DepositId,
) -> Answer {
    let read = deposit_view(app.store.as_ref(), merchant, direction, id);
    let view = found(id, direction, read).await?;
    Ok(match direction {
        Direction::Deposit => json(StatusCode::OK, &DepositResponse::from(&view)),
        Direction::Payout => json(StatusCode::OK, &PayoutResponse::from(&view)),
    })
}

pub async fn get_events(
    app: &Intake,
    merchant: &MerchantId,
    direction: Direction,
    id: DepositId,
) -> Answer {
    let read = deposit_events(app.store.as_ref(), merchant, direction, id);
    let events = found(id, direction, read).await?;
    Ok(json(
        StatusCode::OK,
        &EventList::new(id, direction, &events),
    ))
}
