//! Webhook bodies (both formats) and their signed delivery over HTTP.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use crate::Format;
use crate::ledger::Notification;
use crate::soap_api::NAMESPACE;

/// How webhooks are retried (defaults from WIRE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookRetry {
    /// Wait after the first failed attempt; doubled after each further failure.
    pub first_delay: Duration,
    /// Longest wait between two attempts.
    pub max_delay: Duration,
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// How long one attempt may take before it counts as failed.
    pub timeout: Duration,
}

impl Default for WebhookRetry {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_attempts: 10,
            timeout: Duration::from_secs(5),
        }
    }
}

pub(crate) type WebhookClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn client() -> WebhookClient {
    Client::builder(TokioExecutor::new()).build_http()
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    payment_id: &'a str,
    refund_id: Option<&'a str>,
    reference: &'a str,
    amount: i64,
    currency: &'a str,
    failure_code: Option<&'a str>,
    created: i64,
}

#[derive(Serialize)]
#[serde(rename = "p:Notification")]
struct SoapNotification<'a> {
    #[serde(rename = "@xmlns:p")]
    xmlns: &'a str,
    #[serde(rename = "p:EventId")]
    event_id: &'a str,
    #[serde(rename = "p:Type")]
    kind: &'a str,
    #[serde(rename = "p:TransactionId")]
    transaction_id: &'a str,
    #[serde(rename = "p:RefundId")]
    refund_id: &'a str,
    #[serde(rename = "p:Reference")]
    reference: &'a str,
    #[serde(rename = "p:Amount")]
    amount: i64,
    #[serde(rename = "p:Currency")]
    currency: &'a str,
    #[serde(rename = "p:ReasonCode")]
    reason_code: &'a str,
}

/// The raw webhook body, exactly the bytes that are signed and sent.
pub(crate) fn render(format: Format, n: &Notification) -> String {
    match format {
        Format::Json => serde_json::to_string(&JsonEvent {
            id: &n.event_id,
            kind: n.kind.json_name(),
            payment_id: &n.payment_id,
            refund_id: n.refund_id.as_deref(),
            reference: &n.reference,
            amount: n.amount,
            currency: &n.currency,
            failure_code: n.failure_code.as_deref(),
            created: n.created,
        })
        .expect("a JSON event always serializes"),
        Format::Soap => quick_xml::se::to_string(&SoapNotification {
            xmlns: NAMESPACE,
            event_id: &n.event_id,
            kind: n.kind.soap_name(),
            transaction_id: &n.payment_id,
            refund_id: n.refund_id.as_deref().unwrap_or(""),
            reference: &n.reference,
            amount: n.amount,
            currency: &n.currency,
            reason_code: n.failure_code.as_deref().unwrap_or(""),
        })
        .expect("a SOAP notification always serializes"),
    }
}

/// One delivery attempt; `Err` for a connection error, a timeout or a non-2xx answer.
pub(crate) async fn send(
    client: &WebhookClient,
    format: Format,
    url: &str,
    signature: &str,
    body: String,
    timeout: Duration,
) -> Result<(), String> {
    let content_type = match format {
        Format::Json => "application/json",
        Format::Soap => "text/xml; charset=utf-8",
    };
    let request = Request::post(url)
        .header(header::CONTENT_TYPE, content_type)
        .header(paygate_signature::HEADER, signature)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("bad webhook URL {url:?}: {e}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::EventKind;

    fn notification(kind: EventKind, refund: Option<&str>, code: Option<&str>) -> Notification {
        Notification {
            event_id: "evt_1".into(),
            kind,
            payment_id: "pay_1".into(),
            refund_id: refund.map(Into::into),
            reference: "dep_1".into(),
            amount: 10_099,
            currency: "AED".into(),
            failure_code: code.map(Into::into),
            created: 1_700_000_000,
        }
    }

    #[test]
    fn json_event_has_the_wire_shape() {
        let body = render(
            Format::Json,
            &notification(EventKind::PaymentSucceeded, None, None),
        );
        assert_eq!(
            body,
            r#"{"id":"evt_1","type":"payment.succeeded","payment_id":"pay_1","refund_id":null,"reference":"dep_1","amount":10099,"currency":"AED","failure_code":null,"created":1700000000}"#
        );
    }

    #[test]
    fn soap_notification_has_the_wire_shape() {
        let body = render(
            Format::Soap,
            &notification(EventKind::PaymentFailed, None, Some("insufficient_funds")),
        );
        assert_eq!(
            body,
            r#"<p:Notification xmlns:p="urn:paygate:sim:psp"><p:EventId>evt_1</p:EventId><p:Type>PAYMENT_FAILED</p:Type><p:TransactionId>pay_1</p:TransactionId><p:RefundId/><p:Reference>dep_1</p:Reference><p:Amount>10099</p:Amount><p:Currency>AED</p:Currency><p:ReasonCode>insufficient_funds</p:ReasonCode></p:Notification>"#
        );
        let refund = render(
            Format::Soap,
            &notification(EventKind::RefundSucceeded, Some("rf_1"), None),
        );
        assert!(refund.contains("<p:RefundId>rf_1</p:RefundId>"));
        assert!(refund.contains("<p:ReasonCode/>"));
    }
}
