//! Parsing the PSPs' webhook bodies (WIRE.md, "Webhooks") into the domain's
//! [`GatewayNotification`]. Call only after the signature was verified.

use paygate_domain::gateways::WireFormat;
use paygate_domain::ports::gateway::{GatewayNotification, NotifiedOutcome};
use paygate_domain::{Amount, Currency, Money};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("the webhook body is not a {0} notification")]
    Malformed(&'static str),
    #[error("unknown notification type {0:?}")]
    UnknownType(String),
    #[error("a refund notification without a refund id")]
    MissingRefundId,
    /// Amount and currency are required: a success is only recorded when they match.
    #[error("the notification's amount or currency is missing or invalid")]
    InvalidMoney,
    #[error("the notification has no reference")]
    MissingReference,
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
    reference: String,
    amount: u64,
    currency: String,
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
        reference: reference(event.reference)?,
        charged: money(event.amount, &event.currency)?,
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
    #[serde(rename = "Reference")]
    reference: String,
    #[serde(rename = "Amount")]
    amount: u64,
    #[serde(rename = "Currency")]
    currency: String,
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
        reference: reference(event.reference)?,
        charged: money(event.amount, &event.currency)?,
        outcome,
    })
}

fn reference(value: String) -> Result<String, NotificationError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(NotificationError::MissingReference);
    }
    Ok(value.to_owned())
}

fn money(amount: u64, currency: &str) -> Result<Money, NotificationError> {
    Ok(Money {
        amount: Amount::new(amount).map_err(|_| NotificationError::InvalidMoney)?,
        currency: Currency::parse(currency.trim()).map_err(|_| NotificationError::InvalidMoney)?,
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
            "reference":"dep","amount":100,"currency":"AED","failure_code":"insufficient_funds","created":1}"#;
        let parsed = parse_notification(WireFormat::Json, body).unwrap();
        assert_eq!(parsed.event_id, "evt_1");
        assert_eq!(parsed.external_id, "pay_1");
        assert_eq!(parsed.reference, "dep");
        assert_eq!(parsed.charged, aed(100));
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
            <p:Reference>dep</p:Reference><p:Amount>100</p:Amount><p:Currency>AED</p:Currency><p:ReasonCode/></p:Notification>"#;
        let parsed = parse_notification(WireFormat::Soap, body).unwrap();
        assert_eq!(parsed.external_id, "txn_9");
        assert_eq!(parsed.reference, "dep");
        assert_eq!(parsed.charged, aed(100));
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
                br#"{"id":"e","type":"payment.lost","payment_id":"p","reference":"d","amount":1,"currency":"AED"}"#
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
                br#"{"id":"e","type":"refund.succeeded","payment_id":"p","reference":"d","amount":1,"currency":"AED"}"#
            ),
            Err(NotificationError::MissingRefundId)
        );
    }

    fn aed(minor: u64) -> Money {
        Money {
            amount: Amount::new(minor).unwrap(),
            currency: Currency::parse("AED").unwrap(),
        }
    }

    #[test]
    fn notifications_without_valid_money_or_reference_are_refused() {
        let json = |fields: &str| {
            format!(r#"{{"id":"e","type":"payment.succeeded","payment_id":"p",{fields}}}"#)
        };
        for (fields, expected) in [
            (r#""reference":"d","currency":"AED""#, "missing amount"),
            (r#""reference":"d","amount":5"#, "missing currency"),
            (
                r#""reference":"d","amount":0,"currency":"AED""#,
                "zero amount",
            ),
            (
                r#""reference":"d","amount":5,"currency":"XXX""#,
                "not a payment currency",
            ),
            (
                r#""reference":"d","amount":-5,"currency":"AED""#,
                "negative amount",
            ),
        ] {
            assert!(
                parse_notification(WireFormat::Json, json(fields).as_bytes()).is_err(),
                "{expected}"
            );
        }
        assert_eq!(
            parse_notification(
                WireFormat::Json,
                json(r#""reference":" ","amount":5,"currency":"AED""#).as_bytes()
            ),
            Err(NotificationError::MissingReference)
        );
        let soap = br#"<p:Notification xmlns:p="urn:paygate:sim:psp"><p:EventId>e</p:EventId>
            <p:Type>PAYMENT_SUCCEEDED</p:Type><p:TransactionId>t</p:TransactionId>
            <p:Reference>d</p:Reference><p:Amount>100</p:Amount></p:Notification>"#;
        assert!(parse_notification(WireFormat::Soap, soap).is_err());
    }
}
