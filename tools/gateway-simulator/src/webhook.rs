//! Delivering the core's webhook attempts over HTTP.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::psp::Webhook;

pub(crate) type WebhookClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn client() -> WebhookClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// One delivery attempt; `Err` for a bad URL, a connection error, a timeout or a non-2xx.
pub(crate) async fn send(
    client: &WebhookClient,
    webhook: &Webhook,
    timeout: Duration,
) -> Result<(), String> {
    let request = webhook
        .to_request()
        .map_err(|e| format!("bad webhook URL: {e}"))?
        .map(|body| Full::new(Bytes::from(body)));
    let attempt = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        // Read the answer so the connection can be reused.
        let _ = response.into_body().collect().await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("answered {status}"))
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}
