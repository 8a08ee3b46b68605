//! Turns plain HTTP requests into the API Gateway requests the Lambda handlers take,
//! and their responses back, the way API Gateway does in front of the real functions.

use crate::metrics::METRICS_PATH;
use axum::Router;
use axum::body::Bytes;
use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;
use deposit_intake::Intake;
use metrics_exporter_prometheus::PrometheusHandle;
use paygate_api::ApiError;
use paygate_api::request::{http_response, lambda_body};
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
    /// Where this stack is reached, e.g. `http://127.0.0.1:3000`: the served OpenAPI
    /// document names it as its first server, so a client built from it calls this stack.
    /// `None` serves the document as written.
    pub base_url: Option<String>,
}

/// Where the devstack serves the API's OpenAPI description (no API key needed). It is not
/// a route of the deployed API: API Gateway only routes to the functions.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// Every function behind one router, plus the OpenAPI description at [`OPENAPI_PATH`].
pub fn router(functions: Functions) -> Router {
    let document = openapi_document(functions.base_url.as_deref());
    Router::new()
        .route(
            OPENAPI_PATH,
            get(move || openapi(document.clone()))
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

/// The OpenAPI document, its first server's `url` set to `base_url` when there is one.
pub fn openapi_document(base_url: Option<&str>) -> Bytes {
    let Some(base_url) = base_url else {
        return Bytes::from_static(paygate_api::OPENAPI_JSON.as_bytes());
    };
    let mut document: serde_json::Value =
        serde_json::from_str(paygate_api::OPENAPI_JSON).expect("openapi.json is JSON");
    if let Some(first) = document
        .get_mut("servers")
        .and_then(|servers| servers.get_mut(0))
        .and_then(serde_json::Value::as_object_mut)
    {
        first.insert("url".into(), base_url.into());
    }
    Bytes::from(serde_json::to_vec(&document).expect("a JSON value serializes"))
}

async fn openapi(document: Bytes) -> Response {
    Response::builder()
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(AxumBody::from(document))
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
    http_response(response)
}

#[cfg(test)]
mod tests {
    use super::openapi_document;
    use serde_json::Value;

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("JSON")
    }

    #[test]
    fn the_served_document_names_the_stack_as_its_first_server() {
        let written = parse(paygate_api::OPENAPI_JSON.as_bytes());
        let served = parse(&openapi_document(Some("http://127.0.0.1:49152")));
        assert_eq!(served["servers"][0]["url"], "http://127.0.0.1:49152");
        let mut expected = written.clone();
        expected["servers"][0]["url"] = "http://127.0.0.1:49152".into();
        assert_eq!(served, expected, "nothing else changes");
        assert_eq!(parse(&openapi_document(None)), written);
    }
}
