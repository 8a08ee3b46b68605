//! The webhook callback handler: `POST /webhooks/{gateway}`.
//!
//! Verify before parsing: the signature (HMAC-SHA256 over `"{t}.{raw body}"`, any of the
//! gateway's current secrets, 300 s tolerance) is checked on the raw bytes first; only a
//! verified body is parsed and applied. Nothing changes on any failure.

mod config;

pub use config::{ConfigError, WebhookGateway, WebhookGateways};

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use paygate_api::{ApiError, ErrorCode};
use paygate_domain::CorrelationId;
use paygate_domain::ports::{Clock, EventStore, IdGenerator, QueueSender};
use paygate_domain::service::outcome::{Applied, OutcomeError, OutcomePorts, apply_notification};
use paygate_gateways::parse_notification;
use paygate_signature::{DEFAULT_TOLERANCE_SECS, SignatureError, verify};
use secrecy::ExposeSecret;
use std::sync::Arc;
use tracing::{Instrument, field};

/// Webhook bodies are small; anything larger is refused before it is verified.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct Webhooks {
    pub store: Arc<dyn EventStore>,
    /// A refund recorded here (of a stray charge) is sent to its gateway via the processor.
    pub queue: Arc<dyn QueueSender>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub gateways: Arc<WebhookGateways>,
}

pub async fn handle(app: &Webhooks, request: Request) -> Response<Body> {
    let correlation = paygate_api::request::correlation_id(request.headers(), || {
        uuid::Uuid::new_v4().to_string()
    });
    let span = tracing::info_span!(
        "webhook",
        gateway = field::Empty,
        correlation_id = %correlation,
        deposit_id = field::Empty,
        outcome = field::Empty,
        result = field::Empty,
        deposit_status = field::Empty,
        status = field::Empty,
    );
    async move {
        let response = match receive(app, request, &correlation).await {
            Ok(response) => response,
            Err(error) => {
                // By reason only: the gateway in the path may be anyone's invention.
                let reason = error.code.as_str();
                metrics::counter!(paygate_domain::metrics::WEBHOOKS_REJECTED, "reason" => reason)
                    .increment(1);
                error.response()
            }
        };
        tracing::Span::current().record("status", response.status().as_u16());
        tracing::info!("webhook handled");
        response
    }
    .instrument(span)
    .await
}

async fn receive(
    app: &Webhooks,
    request: Request,
    correlation: &CorrelationId,
) -> Result<Response<Body>, ApiError> {
    let gateway_name = gateway_in(request.uri().path())
        .ok_or_else(|| ApiError::new(ErrorCode::RouteNotFound, "no such route"))?
        .to_owned();
    if request.method() != http::Method::POST {
        return Err(ApiError::method_not_allowed("POST"));
    }
    tracing::Span::current().record("gateway", gateway_name.as_str());
    // Unknown gateways get the same answer as a bad signature: nothing to probe.
    let gateway = app.gateways.get(&gateway_name).ok_or_else(bad_signature)?;
    let body: &[u8] = match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::body_too_large(MAX_BODY_BYTES));
    }
    let header = match paygate_api::request::header_str(request.headers(), "paygate-signature") {
        None => return Err(bad_signature()),
        Some(Ok(header)) => header,
        Some(Err(_)) => return Err(malformed_signature()),
    };
    let secrets: Vec<&[u8]> = gateway
        .secrets
        .iter()
        .map(|s| s.expose_secret().as_bytes())
        .collect();
    let now = app.clock.now().unix_timestamp();
    verify(header, &secrets, body, now, DEFAULT_TOLERANCE_SECS).map_err(|error| match error {
        SignatureError::Malformed => malformed_signature(),
        SignatureError::Stale => {
            tracing::warn!("stale webhook signature");
            bad_signature()
        }
        SignatureError::Mismatch => {
            tracing::warn!("webhook signature mismatch");
            bad_signature()
        }
    })?;
    let notification = parse_notification(gateway.format, body).map_err(|error| {
        tracing::warn!(%error, "unparseable webhook");
        ApiError::new(
            ErrorCode::WebhookPayloadInvalid,
            "the webhook body is not a notification this gateway sends",
        )
    })?;
    let ports = OutcomePorts {
        store: app.store.as_ref(),
        clock: app.clock.as_ref(),
        ids: app.ids.as_ref(),
        queue: app.queue.as_ref(),
    };
    let applied = apply_notification(&ports, &gateway_name, &notification, correlation).await;
    let (result, reached) = match applied {
        Ok(Applied::Recorded(reached)) => ("recorded", reached),
        Ok(Applied::Duplicate(reached)) => ("duplicate", reached),
        Ok(Applied::Contradiction(reached)) => {
            let status = reached.name();
            tracing::warn!(
                reported = notification.outcome.name(),
                status,
                "outcome contradicts the final state; kept for audit"
            );
            ("contradiction_ignored", reached)
        }
        // Logged (with `anomaly`) where it is recorded; the gateway just needs a 200.
        Ok(Applied::Anomaly(reached)) => ("anomaly_recorded", reached),
        Err(OutcomeError::NotYetKnown) => {
            return Err(ApiError::new(
                ErrorCode::DepositNotReady,
                "no submitted deposit matches this payment yet; retry later",
            ));
        }
        Err(error) => {
            tracing::error!(%error, "could not record the outcome");
            return Err(ApiError::unavailable());
        }
    };
    let status = reached.name();
    // On the span, so the webhook's own line ("webhook handled") carries them.
    let span = tracing::Span::current();
    span.record("outcome", notification.outcome.name());
    span.record("result", result);
    span.record("deposit_status", status);
    tracing::debug!("webhook applied");
    let body = serde_json::json!({ "received": true, "result": result, "status": status });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body.to_string()))
        .unwrap_or_default())
}

/// The gateway `/webhooks/{gateway}` names, exactly: a trailing slash names no route.
fn gateway_in(path: &str) -> Option<&str> {
    path.strip_prefix("/webhooks/")
        .filter(|name| !name.is_empty() && !name.contains('/'))
}

fn malformed_signature() -> ApiError {
    ApiError::new(
        ErrorCode::WebhookSignatureMalformed,
        "the Paygate-Signature header is malformed",
    )
}

fn bad_signature() -> ApiError {
    ApiError::webhook_unauthenticated()
}

#[cfg(test)]
mod tests {
    use super::gateway_in;
    use proptest::prelude::*;
    use proptest::sample::{Index, select};

    /// Proptest's defaults, so `PROPTEST_CASES` sets the cases (at scale:
    /// `PROPTEST_CASES=500000 cargo test --release -p webhook-callback --lib`); a failure
    /// is kept in the crate's `proptest-regressions/`.
    fn config() -> ProptestConfig {
        paygate_kit::fuzz::config("proptest-regressions/fuzz.txt")
    }

    /// A webhook path, or a near miss: slashes, dots, encodings, unicode, long names.
    fn path() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            "[a-z_]{1,20}",
            any::<String>(),
            "[/.%2Fa ]{0,6}",
            (0usize..2000).prop_map(|n| "a".repeat(n)),
        ];
        let prefix = select(vec![
            "/webhooks/",
            "/webhooks",
            "/webhooks//",
            "//webhooks/",
            "/Webhooks/",
            "webhooks/",
            "",
        ]);
        let suffix = select(vec!["", "", "/", "/x", "?a=1", "%2F"]);
        prop_oneof![
            (prefix, name, suffix).prop_map(|(p, n, s)| format!("{p}{n}{s}")),
            any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn a_gateway_is_named_only_by_the_exact_webhook_path(path in path(), cut in any::<Index>()) {
            let mut end = cut.index(path.len() + 1);
            while !path.is_char_boundary(end) {
                end -= 1;
            }
            for path in [path.as_str(), &path[..end]] {
                if let Some(name) = gateway_in(path) {
                    prop_assert!(!name.is_empty() && !name.contains('/'));
                    prop_assert_eq!(format!("/webhooks/{name}"), path);
                }
            }
        }

        #[test]
        fn every_plain_gateway_name_is_read_back(name in "[A-Za-z0-9_.-]{1,64}") {
            let path = format!("/webhooks/{name}");
            prop_assert_eq!(gateway_in(&path), Some(name.as_str()));
        }
    }

    #[test]
    fn only_the_exact_webhook_path_names_a_gateway() {
        assert_eq!(gateway_in("/webhooks/acme_json"), Some("acme_json"));
        for path in [
            "/webhooks/acme_json/",
            "/webhooks/",
            "/webhooks",
            "/webhooks//acme_json",
            "/webhooks/acme_json/x",
        ] {
            assert_eq!(gateway_in(path), None, "{path}");
        }
    }
}
