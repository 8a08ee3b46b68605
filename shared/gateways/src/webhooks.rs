//! Parsing the PSPs' webhook bodies (WIRE.md, "Webhooks") into the domain's
//! [`GatewayNotification`]. Call only after the signature was verified.

use paygate_domain::gateways::WireFormat;
use paygate_domain::ports::gateway::{GatewayNotification, NotifiedOutcome};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("the webhook body is not a {0} notification")]
    Malformed(&'static str),
    #[error("unknown notification type {0:?}")]
    UnknownType(String),
    #[error("a refund notification without a refund id")]
    MissingRefundId,
}

pub fn parse_notification(
    format: WireFormat,
    body: &[u8],
) -> Result<GatewayNotification, NotificationError> {
    match format {
        WireFormat::Json => parse_json(body),
        WireFormat::Soap => parse_soap(body),
    }
}

#[derive(Deserialize)]
struct JsonEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    payment_id: String,
    #[serde(default)]
    refund_id: Option<String>,
    #[serde(default)]
    failure_code: Option<String>,
}

fn parse_json(body: &[u8]) -> Result<GatewayNotification, NotificationError> {
    let event: JsonEvent =
        serde_json::from_slice(body).map_err(|_| NotificationError::Malformed("json"))?;
    let outcome = outcome(
        match event.kind.as_str() {
            "payment.succeeded" => Kind::PaymentSucceeded,
            "payment.failed" => Kind::PaymentFailed,
            "refund.succeeded" => Kind::RefundSucceeded,
            "refund.failed" => Kind::RefundFailed,
            other => return Err(NotificationError::UnknownType(other.to_owned())),
        },
        event.refund_id,
        event.failure_code,
    )?;
    Ok(GatewayNotification {
        event_id: event.id,
        external_id: event.payment_id,
        outcome,
    })
}

#[derive(Deserialize)]
struct SoapNotification {
    #[serde(rename = "EventId")]
    event_id: String,
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "TransactionId")]
    transaction_id: String,
    #[serde(rename = "RefundId", default)]
    refund_id: Option<String>,
    #[serde(rename = "ReasonCode", default)]
    reason_code: Option<String>,
}

fn parse_soap(body: &[u8]) -> Result<GatewayNotification, NotificationError> {
    let text = std::str::from_utf8(body).map_err(|_| NotificationError::Malformed("soap"))?;
    let event: SoapNotification =
        quick_xml::de::from_str(text).map_err(|_| NotificationError::Malformed("soap"))?;
    let outcome = outcome(
        match event.kind.as_str() {
            "PAYMENT_SUCCEEDED" => Kind::PaymentSucceeded,
            "PAYMENT_FAILED" => Kind::PaymentFailed,
            "REFUND_SUCCEEDED" => Kind::RefundSucceeded,
            "REFUND_FAILED" => Kind::RefundFailed,
            other => return Err(NotificationError::UnknownType(other.to_owned())),
        },
        event.refund_id,
        event.reason_code,
    )?;
    Ok(GatewayNotification {
        event_id: event.event_id,
        external_id: event.transaction_id,
        outcome,
    })
}

enum Kind {
    PaymentSucceeded,
    PaymentFailed,
    RefundSucceeded,
    RefundFailed,
}

fn outcome(
    kind: Kind,
    refund_id: Option<String>,
    code: Option<String>,
) -> Result<NotifiedOutcome, NotificationError> {
    let code = || {
        code.clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "failed".to_owned())
    };
    let refund = || {
        refund_id
            .clone()
            .filter(|r| !r.is_empty())
            .ok_or(NotificationError::MissingRefundId)
    };
    Ok(match kind {
        Kind::PaymentSucceeded => NotifiedOutcome::PaymentSucceeded,
        Kind::PaymentFailed => NotifiedOutcome::PaymentFailed { code: code() },
        Kind::RefundSucceeded => NotifiedOutcome::RefundSucceeded {
            refund_external_id: refund()?,
        },
        Kind::RefundFailed => NotifiedOutcome::RefundFailed {
            refund_external_id: refund()?,
            code: code(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_notifications_parse() {
        let body = br#"{"id":"evt_1","type":"payment.failed","payment_id":"pay_1","refund_id":null,
            "reference":"dep","amount":100,"failure_code":"insufficient_funds","created":1}"#;
        let parsed = parse_notification(WireFormat::Json, body).unwrap();
        assert_eq!(parsed.event_id, "evt_1");
        assert_eq!(parsed.external_id, "pay_1");
        assert_eq!(
            parsed.outcome,
            NotifiedOutcome::PaymentFailed {
                code: "insufficient_funds".into()
            }
        );
    }

    #[test]
    fn soap_notifications_parse() {
        let body = br#"<p:Notification xmlns:p="urn:paygate:sim:psp"><p:EventId>evt_2</p:EventId>
            <p:Type>PAYMENT_SUCCEEDED</p:Type><p:TransactionId>txn_9</p:TransactionId><p:RefundId/>
            <p:Reference>dep</p:Reference><p:Amount>100</p:Amount><p:ReasonCode/></p:Notification>"#;
        let parsed = parse_notification(WireFormat::Soap, body).unwrap();
        assert_eq!(parsed.external_id, "txn_9");
        assert_eq!(parsed.outcome, NotifiedOutcome::PaymentSucceeded);
    }

    #[test]
    fn malformed_and_unknown_notifications_are_refused() {
        assert_eq!(
            parse_notification(WireFormat::Json, b"{"),
            Err(NotificationError::Malformed("json"))
        );
        assert!(matches!(
            parse_notification(
                WireFormat::Json,
                br#"{"id":"e","type":"payment.lost","payment_id":"p"}"#
            ),
            Err(NotificationError::UnknownType(_))
        ));
        assert_eq!(
            parse_notification(WireFormat::Soap, b"<nope/>"),
            Err(NotificationError::Malformed("soap"))
        );
        assert_eq!(
            parse_notification(
                WireFormat::Json,
                br#"{"id":"e","type":"refund.succeeded","payment_id":"p"}"#
            ),
            Err(NotificationError::MissingRefundId)
        );
    }
}
