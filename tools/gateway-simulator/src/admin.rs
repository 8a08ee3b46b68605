//! `/admin`: the simulator's switchboard (not part of a real PSP). Always JSON, never
//! affected by outage, latency or error rate.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::BehaviourPatch;
use crate::gateway::Gateway;

pub(crate) fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/behaviour", get(get_behaviour).put(put_behaviour))
        .route("/charges", get(charges))
        .route("/payments", get(payments))
        .route("/webhook", get(get_webhook).put(put_webhook))
        .route("/reset", post(reset))
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"code": "invalid_request", "message": message}})),
    )
        .into_response()
}

async fn get_behaviour(State(gateway): State<Arc<Gateway>>) -> Response {
    Json(gateway.behaviour()).into_response()
}

async fn put_behaviour(State(gateway): State<Arc<Gateway>>, body: Bytes) -> Response {
    let patch: BehaviourPatch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(e) => return bad_request(format!("invalid behaviour: {e}")),
    };
    if let Some(rate) = patch.error_rate
        && !(0.0..=1.0).contains(&rate)
    {
        return bad_request("error_rate must be between 0.0 and 1.0".into());
    }
    let behaviour = patch.apply(gateway.behaviour());
    gateway.set_behaviour(behaviour);
    tracing::info!(gateway = %gateway.name, ?behaviour, "behaviour changed");
    Json(gateway.behaviour()).into_response()
}

#[derive(Deserialize)]
struct ByKey {
    idempotency_key: Option<String>,
}

async fn charges(State(gateway): State<Arc<Gateway>>, Query(query): Query<ByKey>) -> Response {
    let Some(key) = query.idempotency_key else {
        return bad_request("the idempotency_key query parameter is required".into());
    };
    let charges = gateway.charges(&key);
    Json(json!({"idempotency_key": key, "charges": charges})).into_response()
}

async fn payments(State(gateway): State<Arc<Gateway>>) -> Response {
    Json(gateway.payments()).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookTarget {
    base_url: Option<String>,
}

async fn get_webhook(State(gateway): State<Arc<Gateway>>) -> Response {
    Json(json!({"base_url": gateway.webhook_base_url()})).into_response()
}

async fn put_webhook(State(gateway): State<Arc<Gateway>>, body: Bytes) -> Response {
    let target: WebhookTarget = match serde_json::from_slice(&body) {
        Ok(target) => target,
        Err(e) => {
            return bad_request(format!(
                "expected {{\"base_url\": null | \"http://...\"}}: {e}"
            ));
        }
    };
    gateway.set_webhook_base_url(target.base_url);
    Json(json!({"base_url": gateway.webhook_base_url()})).into_response()
}

async fn reset(State(gateway): State<Arc<Gateway>>) -> StatusCode {
    gateway.reset();
    StatusCode::NO_CONTENT
}
