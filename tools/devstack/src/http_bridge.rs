//! Turns plain HTTP requests into the API Gateway requests the Lambda handlers take,
//! and their responses back, the way API Gateway does in front of the real functions.

use crate::metrics::METRICS_PATH;
use axum::Router;
use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;
use deposit_intake::Intake;
use lambda_http::Body as LambdaBody;
use metrics_exporter_prometheus::PrometheusHandle;
use paygate_api::ApiError;
use paygate_api::request::lambda_body;
use webhook_callback::Webhooks;

/// API Gateway's own payload limit; larger bodies never reach a function.
const GATEWAY_MAX_BODY: usize = 10 * 1024 * 1024;

/// The functions behind the one address, routed by path as API Gateway's routes do.
#[derive(Clone)]
pub struct Functions {
    pub intake: Intake,
    pub webhooks: Webhooks,
    /// What [`METRICS_PATH`] renders, when this process records metrics.
    pub metrics: Option<PrometheusHandle>,
}

/// Where the devstack serves the API's OpenAPI description (no API key needed). It is not
/// a route of the deployed API: API Gateway only routes to the functions.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// Every function behind one router, plus the OpenAPI description at [`OPENAPI_PATH`].
pub fn router(functions: Functions) -> Router {
    Router::new()
        .route(
            OPENAPI_PATH,
            get(openapi)
                .fallback(|| async { ApiError::method_not_allowed("GET").response::<AxumBody>() }),
        )
        .route(
            METRICS_PATH,
            get(metrics)
                .fallback(|| async { ApiError::method_not_allowed("GET").response::<AxumBody>() }),
        )
        .fallback(forward)
        .with_state(functions)
}

async fn openapi() -> Response {
    Response::builder()
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(AxumBody::from(paygate_api::OPENAPI_JSON))
        .unwrap_or_default()
}

async fn metrics(State(functions): State<Functions>) -> Response {
    let text = functions
        .metrics
        .as_ref()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    Response::builder()
        .header(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(AxumBody::from(text))
        .unwrap_or_default()
}

async fn forward(State(functions): State<Functions>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, GATEWAY_MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::body_too_large(GATEWAY_MAX_BODY).response(),
    };
    let request = lambda_http::Request::from_parts(parts, lambda_body(&bytes));
    let response = if request.uri().path().starts_with("/webhooks/") {
        webhook_callback::handle(&functions.webhooks, request).await
    } else {
        deposit_intake::handle(&functions.intake, request).await
    };
    let (parts, body) = response.into_parts();
    let body = match body {
        LambdaBody::Text(text) => AxumBody::from(text),
        LambdaBody::Binary(bytes) => AxumBody::from(bytes),
        _ => AxumBody::empty(),
    };
    Response::from_parts(parts, body)
}
