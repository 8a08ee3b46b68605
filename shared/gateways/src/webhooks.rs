//! Parsing the PSPs' webhook bodies (WIRE.md, "Webhooks") into the domain's
//! [`GatewayNotification`]. Call only after the signature was verified.
//!
//! A payout's event becomes a payment event of the payout (`payout.paid`:
//! [`NotifiedOutcome::PaymentSucceeded`], `payout.failed`: [`NotifiedOutcome::PaymentFailed`]),
//! its external id the PSP's payout id (`payout_id` / `PayoutId`): the domain finds the
//! payout's stream by it. Each event type requires its own id field (a payment or refund
//! event its payment id, a payout event its payout id) and ignores the other.

use crate::classify::{present, psp_code};
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

/// A notification as the `json` format writes it; a `soap` one is read into the same
/// fields, so both are checked by one [`Event::read`].
#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    /// Payment and refund events.
    #[serde(default)]
    payment_id: Option<String>,
    /// Payout events.
    #[serde(default)]
    payout_id: Option<String>,
    #[serde(default)]
    refund_id: Option<String>,
    reference: String,
    amount: u64,
    currency: String,
    #[serde(default)]
    failure_code: Option<String>,
}

fn parse_json(body: &[u8]) -> Result<GatewayNotification, NotificationError> {
    let event: Event =
        serde_json::from_slice(body).map_err(|_| NotificationError::Malformed("json"))?;
    event.read(WireFormat::Json)
}

#[derive(Deserialize)]
struct SoapNotification {
    #[serde(rename = "EventId")]
    event_id: String,
    #[serde(rename = "Type")]
    kind: String,
    /// Payment and refund notifications.
    #[serde(rename = "TransactionId", default)]
    transaction_id: Option<String>,
    /// Payout notifications.
    #[serde(rename = "PayoutId", default)]
    payout_id: Option<String>,
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

impl From<SoapNotification> for Event {
    fn from(notification: SoapNotification) -> Self {
        Self {
            id: notification.event_id,
            kind: notification.kind,
            payment_id: notification.transaction_id,
            payout_id: notification.payout_id,
            refund_id: notification.refund_id,
            reference: notification.reference,
            amount: notification.amount,
            currency: notification.currency,
            failure_code: notification.reason_code,
        }
    }
}

fn parse_soap(body: &[u8]) -> Result<GatewayNotification, NotificationError> {
    let text = std::str::from_utf8(body).map_err(|_| NotificationError::Malformed("soap"))?;
    let event: SoapNotification =
        quick_xml::de::from_str(text).map_err(|_| NotificationError::Malformed("soap"))?;
    Event::from(event).read(WireFormat::Soap)
}

impl Event {
    /// The notification, checked, as `format` names its type.
    fn read(self, format: WireFormat) -> Result<GatewayNotification, NotificationError> {
        let kind = Kind::named(format, &self.kind)
            .ok_or_else(|| NotificationError::UnknownType(self.kind.clone()))?;
        let malformed = || NotificationError::Malformed(format.as_str());
        let event_id = id(Some(self.id)).ok_or_else(malformed)?;
        let external_id =
            id(kind.external_id(self.payment_id, self.payout_id)).ok_or_else(malformed)?;
        let outcome = outcome(kind, self.refund_id, self.failure_code)?;
        Ok(GatewayNotification {
            event_id,
            external_id,
            reference: reference(self.reference)?,
            charged: money(self.amount, &self.currency)?,
            outcome,
        })
    }
}

/// An id the PSP gave: `None` when blank, else without surrounding whitespace (as the
/// connectors read the ids in its answers).
fn id(value: Option<String>) -> Option<String> {
    present(value.as_deref()).map(str::to_owned)
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

#[derive(Clone, Copy)]
enum Kind {
    PaymentSucceeded,
    PaymentFailed,
    RefundSucceeded,
    RefundFailed,
    PayoutPaid,
    PayoutFailed,
}

/// Each notification type by its name in the `json` format and in the `soap` format.
const KIND_NAMES: [(Kind, &str, &str); 6] = [
    (
        Kind::PaymentSucceeded,
        "payment.succeeded",
        "PAYMENT_SUCCEEDED",
    ),
    (Kind::PaymentFailed, "payment.failed", "PAYMENT_FAILED"),
    (
        Kind::RefundSucceeded,
        "refund.succeeded",
        "REFUND_SUCCEEDED",
    ),
    (Kind::RefundFailed, "refund.failed", "REFUND_FAILED"),
    (Kind::PayoutPaid, "payout.paid", "PAYOUT_PAID"),
    (Kind::PayoutFailed, "payout.failed", "PAYOUT_FAILED"),
];

impl Kind {
    /// The type `format` calls `name`, if it is one.
    fn named(format: WireFormat, name: &str) -> Option<Self> {
        KIND_NAMES
            .iter()
            .find(|(_, json, soap)| {
                name == match format {
                    WireFormat::Json => *json,
                    WireFormat::Soap => *soap,
                }
            })
            .map(|(kind, _, _)| *kind)
    }

    /// The PSP's id the event is about: the payment's for payment and refund events, the
    /// payout's for payout events (`None` if the event lacks it).
    fn external_id(&self, payment_id: Option<String>, payout_id: Option<String>) -> Option<String> {
        match self {
            Self::PayoutPaid | Self::PayoutFailed => payout_id,
            _ => payment_id,
        }
    }
}

fn outcome(
    kind: Kind,
    refund_id: Option<String>,
    code: Option<String>,
) -> Result<NotifiedOutcome, NotificationError> {
    // Cleaned like the codes in the PSP's answers before it enters the domain: a plain
    // code, else `failed`.
    let code = || psp_code(code.as_deref()).unwrap_or_else(|| "failed".to_owned());
    let refund = || id(refund_id.clone()).ok_or(NotificationError::MissingRefundId);
    Ok(match kind {
        // A payout's outcome is reported as a payment's: the domain tells them apart by
        // the stream the external id finds.
        Kind::PaymentSucceeded | Kind::PayoutPaid => NotifiedOutcome::PaymentSucceeded,
        Kind::PaymentFailed | Kind::PayoutFailed => NotifiedOutcome::PaymentFailed { code: code() },
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

    #[test]
    fn json_payout_notifications_parse_as_payment_outcomes_of_the_payout() {
        let paid =
            br#"{"id":"evt_3","type":"payout.paid","payout_id":"po_1","reference":"payout-1",
            "amount":5000,"currency":"EUR","failure_code":null,"created":1}"#;
        let parsed = parse_notification(WireFormat::Json, paid).unwrap();
        assert_eq!(
            parsed,
            GatewayNotification {
                event_id: "evt_3".into(),
                external_id: "po_1".into(),
                reference: "payout-1".into(),
                charged: money(5_000, "EUR").unwrap(),
                outcome: NotifiedOutcome::PaymentSucceeded,
            }
        );
        // A payment id beside it (null or not) is not the payout's.
        let failed = br#"{"id":"evt_4","type":"payout.failed","payment_id":null,"refund_id":null,
            "payout_id":"po_2","reference":"payout-2","amount":5000,"currency":"EUR",
            "failure_code":"account_closed","created":1}"#;
        let parsed = parse_notification(WireFormat::Json, failed).unwrap();
        assert_eq!(parsed.external_id, "po_2");
        assert_eq!(
            parsed.outcome,
            NotifiedOutcome::PaymentFailed {
                code: "account_closed".into()
            }
        );
    }

    #[test]
    fn soap_payout_notifications_parse_as_payment_outcomes_of_the_payout() {
        let failed = br#"<p:Notification xmlns:p="urn:paygate:sim:psp"><p:EventId>evt_5</p:EventId>
            <p:Type>PAYOUT_FAILED</p:Type><p:PayoutId>po_3</p:PayoutId><p:Reference>payout-3</p:Reference>
            <p:Amount>5000</p:Amount><p:Currency>EUR</p:Currency><p:ReasonCode>account_closed</p:ReasonCode></p:Notification>"#;
        let parsed = parse_notification(WireFormat::Soap, failed).unwrap();
        assert_eq!(
            parsed,
            GatewayNotification {
                event_id: "evt_5".into(),
                external_id: "po_3".into(),
                reference: "payout-3".into(),
                charged: money(5_000, "EUR").unwrap(),
                outcome: NotifiedOutcome::PaymentFailed {
                    code: "account_closed".into()
                },
            }
        );
        let paid = br#"<p:Notification xmlns:p="urn:paygate:sim:psp"><p:EventId>evt_6</p:EventId>
            <p:Type>PAYOUT_PAID</p:Type><p:TransactionId/><p:PayoutId>po_4</p:PayoutId><p:Reference>r</p:Reference>
            <p:Amount>1</p:Amount><p:Currency>EUR</p:Currency><p:ReasonCode/></p:Notification>"#;
        let parsed = parse_notification(WireFormat::Soap, paid).unwrap();
        assert_eq!(
            (parsed.external_id.as_str(), parsed.outcome),
            ("po_4", NotifiedOutcome::PaymentSucceeded)
        );
    }

    #[test]
    fn each_event_type_needs_its_own_id() {
        for (format, body) in [
            (
                WireFormat::Json,
                &br#"{"id":"e","type":"payout.paid","payment_id":"pay_1","reference":"r","amount":1,"currency":"EUR"}"#[..],
            ),
            (
                WireFormat::Json,
                br#"{"id":"e","type":"payment.succeeded","payout_id":"po_1","reference":"r","amount":1,"currency":"EUR"}"#,
            ),
            (
                WireFormat::Soap,
                br#"<p:Notification xmlns:p="urn:paygate:sim:psp"><p:EventId>e</p:EventId><p:Type>PAYOUT_PAID</p:Type><p:TransactionId>txn_1</p:TransactionId><p:Reference>r</p:Reference><p:Amount>1</p:Amount><p:Currency>EUR</p:Currency></p:Notification>"#,
            ),
            (
                WireFormat::Soap,
                br#"<p:Notification xmlns:p="urn:paygate:sim:psp"><p:EventId>e</p:EventId><p:Type>PAYMENT_SUCCEEDED</p:Type><p:PayoutId>po_1</p:PayoutId><p:Reference>r</p:Reference><p:Amount>1</p:Amount><p:Currency>EUR</p:Currency></p:Notification>"#,
            ),
        ] {
            assert!(
                matches!(
                    parse_notification(format, body),
                    Err(NotificationError::Malformed(_))
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(matches!(
            parse_notification(
                WireFormat::Json,
                br#"{"id":"e","type":"payout.cancelled","payout_id":"po_1","reference":"r","amount":1,"currency":"EUR"}"#
            ),
            Err(NotificationError::UnknownType(_))
        ));
    }

    /// Found by `src/fuzz/`: a failure code of any text (markup, unicode, control
    /// characters) went into the domain as it came, and blank ids were taken as ids.
    #[test]
    fn codes_are_cleaned_and_ids_must_be_there() {
        let json = |id: &str, payment: &str, refund: &str, code: &str| {
            let body = serde_json::json!({ "id": id, "type": "refund.failed", "payment_id": payment,
                "refund_id": refund, "reference": "dep", "amount": 1, "currency": "AED",
                "failure_code": code });
            parse_notification(WireFormat::Json, body.to_string().as_bytes())
        };
        let parsed = json(" evt_1 ", " pay_1\t", " ref_1 ", "{~\u{1E836}:<b>").unwrap();
        assert_eq!(
            (parsed.event_id.as_str(), parsed.external_id.as_str()),
            ("evt_1", "pay_1")
        );
        assert_eq!(
            parsed.outcome,
            NotifiedOutcome::RefundFailed {
                refund_external_id: "ref_1".into(),
                code: "failed".into()
            }
        );
        assert_eq!(
            json("evt_1", "pay_1", "ref_1", " refund_declined ")
                .unwrap()
                .outcome,
            NotifiedOutcome::RefundFailed {
                refund_external_id: "ref_1".into(),
                code: "refund_declined".into()
            }
        );
        assert_eq!(
            json(" ", "pay_1", "ref_1", "x"),
            Err(NotificationError::Malformed("json"))
        );
        assert_eq!(
            json("evt_1", "", "ref_1", "x"),
            Err(NotificationError::Malformed("json"))
        );
        assert_eq!(
            json("evt_1", "pay_1", " ", "x"),
            Err(NotificationError::MissingRefundId)
        );
        let soap = br#"<p:Notification xmlns:p="urn:paygate:sim:psp"><p:EventId> </p:EventId>
            <p:Type>PAYMENT_FAILED</p:Type><p:TransactionId>t</p:TransactionId>
            <p:Reference>d</p:Reference><p:Amount>100</p:Amount><p:Currency>AED</p:Currency></p:Notification>"#;
        assert_eq!(
            parse_notification(WireFormat::Soap, soap),
            Err(NotificationError::Malformed("soap"))
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
