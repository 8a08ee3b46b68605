//! `GET /v1/gateways`: every gateway's health and breaker state, the same for every
//! merchant (gateways are shared; nothing in the answer belongs to a merchant).

use crate::Intake;
use crate::response::{Answer, json};
use http::StatusCode;
use paygate_api::ApiError;
use paygate_api::models::GatewayList;

pub async fn list_gateways(app: &Intake) -> Answer {
    let gateways = app.registry.list().await.map_err(|error| {
        tracing::error!(%error, "gateway registry unavailable");
        ApiError::unavailable()
    })?;
    Ok(json(
        StatusCode::OK,
        &GatewayList::new(&gateways, app.clock.now()),
    ))
}
