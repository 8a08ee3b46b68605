//! The webhook notifications WIRE.md documents, in both formats.

use super::generators::{amount, currency, hex_id, plain_code};
use super::json::mutated_json;
use super::xml::{Xml, mutated_xml};
use paygate_domain::gateways::WireFormat;
use paygate_domain::ports::gateway::{GatewayNotification, NotifiedOutcome};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A notification as WIRE.md documents it, and what it must read as.
#[derive(Debug, Clone)]
pub(super) struct Notification {
    event_id: String,
    kind: usize,
    external_id: String,
    refund_id: String,
    reference: String,
    amount: u64,
    currency: &'static str,
    code: Option<String>,
}

const JSON_TYPES: [&str; 6] = [
    "payment.succeeded",
    "payment.failed",
    "refund.succeeded",
    "refund.failed",
    "payout.paid",
    "payout.failed",
];
const SOAP_TYPES: [&str; 6] = [
    "PAYMENT_SUCCEEDED",
    "PAYMENT_FAILED",
    "REFUND_SUCCEEDED",
    "REFUND_FAILED",
    "PAYOUT_PAID",
    "PAYOUT_FAILED",
];

pub(super) fn notification() -> impl Strategy<Value = Notification> {
    (
        hex_id("evt_"),
        0usize..6,
        hex_id("pay_"),
        hex_id("po_"),
        hex_id("ref_"),
        any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        amount(),
        currency(),
        prop::option::of(plain_code()),
    )
        .prop_map(
            |(event_id, kind, payment, payout, refund_id, reference, amount, currency, code)| {
                Notification {
                    event_id,
                    kind,
                    external_id: if kind >= 4 { payout } else { payment },
                    refund_id,
                    reference,
                    amount,
                    currency,
                    code,
                }
            },
        )
}

impl Notification {
    fn is_payout(&self) -> bool {
        self.kind >= 4
    }

    fn is_refund(&self) -> bool {
        self.kind == 2 || self.kind == 3
    }

    pub(super) fn json(&self) -> Value {
        let mut body = json!({
            "id": self.event_id, "type": JSON_TYPES[self.kind], "reference": self.reference,
            "amount": self.amount, "currency": self.currency, "failure_code": self.code,
            "created": 1_700_000_000,
        });
        if self.is_payout() {
            body["payout_id"] = self.external_id.clone().into();
        } else {
            body["payment_id"] = self.external_id.clone().into();
            body["refund_id"] = if self.is_refund() {
                self.refund_id.clone().into()
            } else {
                Value::Null
            };
        }
        body
    }

    pub(super) fn soap(&self) -> Xml {
        let mut fields = vec![
            ("p:EventId".to_owned(), self.event_id.clone()),
            ("p:Type".to_owned(), SOAP_TYPES[self.kind].to_owned()),
        ];
        if self.is_payout() {
            fields.push(("p:PayoutId".to_owned(), self.external_id.clone()));
        } else {
            fields.push(("p:TransactionId".to_owned(), self.external_id.clone()));
            let refund = if self.is_refund() {
                &self.refund_id[..]
            } else {
                ""
            };
            fields.push(("p:RefundId".to_owned(), refund.to_owned()));
        }
        fields.extend([
            ("p:Reference".to_owned(), self.reference.clone()),
            ("p:Amount".to_owned(), self.amount.to_string()),
            ("p:Currency".to_owned(), self.currency.to_owned()),
            (
                "p:ReasonCode".to_owned(),
                self.code.clone().unwrap_or_default(),
            ),
        ]);
        Xml {
            wrappers: vec![r#"p:Notification xmlns:p="urn:paygate:sim:psp""#.to_owned()],
            fields,
        }
    }

    /// What it must read as.
    pub(super) fn expected(&self) -> GatewayNotification {
        let code = self.code.clone().unwrap_or_else(|| "failed".to_owned());
        let refund_external_id = self.refund_id.clone();
        GatewayNotification {
            event_id: self.event_id.clone(),
            external_id: self.external_id.clone(),
            reference: self.reference.clone(),
            charged: paygate_domain::Money {
                amount: paygate_domain::Amount::new(self.amount).expect("in range"),
                currency: paygate_domain::Currency::parse(self.currency).expect("a currency"),
            },
            outcome: match self.kind {
                0 | 4 => NotifiedOutcome::PaymentSucceeded,
                1 | 5 => NotifiedOutcome::PaymentFailed { code },
                2 => NotifiedOutcome::RefundSucceeded { refund_external_id },
                _ => NotifiedOutcome::RefundFailed {
                    refund_external_id,
                    code,
                },
            },
        }
    }
}

pub(super) fn mutated_notification() -> impl Strategy<Value = (WireFormat, Vec<u8>)> {
    (notification(), any::<bool>()).prop_flat_map(|(notification, json)| {
        if json {
            mutated_json(notification.json())
                .prop_map(|b| (WireFormat::Json, b))
                .boxed()
        } else {
            mutated_xml(notification.soap())
                .prop_map(|b| (WireFormat::Soap, b))
                .boxed()
        }
    })
}
