//! The live status page at `/`: one HTML page and one script, compiled in, polling
//! [`STATUS_JSON_PATH`]. Devstack-only routes (not the deployed API's), needing no API
//! key: the stack is local, and what they show holds no secret.

mod report;
mod tap;
mod window;

pub use report::Sources;
pub use tap::{Tap, recent};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use paygate_domain::DepositId;
use paygate_domain::ports::StoreError;
use serde_json::json;
use time::OffsetDateTime;

/// Where the page is served.
pub const PAGE_PATH: &str = "/";
/// What the page polls.
pub const STATUS_JSON_PATH: &str = "/status.json";
const SCRIPT_PATH: &str = "/status.js";
const TRAIL_PATH: &str = "/status/deposits/{id}/events.json";

const PAGE_HTML: &str = include_str!("page.html");
const PAGE_SCRIPT: &str = include_str!("page.js");

#[derive(Debug, thiserror::Error)]
enum StatusError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no deposit or payout {0} for this merchant")]
    UnknownDeposit(String),
}

impl IntoResponse for StatusError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnknownDeposit(_) => StatusCode::NOT_FOUND,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

/// The page, its script and the JSON they read.
pub fn routes(sources: Sources) -> Router {
    Router::new()
        .route(PAGE_PATH, get(|| async { Html(PAGE_HTML) }))
        .route(SCRIPT_PATH, get(script))
        .route(STATUS_JSON_PATH, get(status))
        .route(TRAIL_PATH, get(trail))
        .with_state(sources)
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        PAGE_SCRIPT,
    )
}

async fn status(State(sources): State<Sources>) -> Result<impl IntoResponse, StatusError> {
    let report = report::status(&sources, OffsetDateTime::now_utc()).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(report)))
}

async fn trail(
    State(sources): State<Sources>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, StatusError> {
    let unknown = || StatusError::UnknownDeposit(id.clone());
    let deposit = DepositId::parse(&id).ok_or_else(unknown)?;
    let events = report::trail(&sources, deposit)
        .await?
        .ok_or_else(unknown)?;
    Ok(Json(events))
}
