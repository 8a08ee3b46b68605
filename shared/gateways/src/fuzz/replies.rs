//! The answers WIRE.md documents for every call, in both formats.

use super::generators::{amount, currency, format, hex_id, plain_code, status};
use super::json::mutated_json;
use super::readers::{Call, call};
use super::xml::{Xml, escape, mutated_xml};
use crate::transport::Reply;
use paygate_domain::gateways::WireFormat;
use proptest::prelude::*;
use serde_json::{Value, json};

/// A documented answer's body, kept in a form its mutations understand.
#[derive(Debug, Clone)]
enum Body {
    Json(Value),
    Xml(Xml),
}

impl Body {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Json(value) => value.to_string().into_bytes(),
            Body::Xml(xml) => xml.render().into_bytes(),
        }
    }
}

/// An answer WIRE.md documents for `call`, in `format`: its status and body.
fn documented_reply(format: WireFormat, call: Call) -> BoxedStrategy<(u16, Body)> {
    let fields = (
        hex_id("pay_"),
        hex_id("po_"),
        hex_id("ref_"),
        0usize..4,
        amount(),
        currency(),
        prop::option::of(plain_code()),
        ".{0,60}",
    );
    fields
        .prop_map(
            move |(pay, po, rf, state, amount, currency, code, message)| {
                let answer = Answer {
                    call,
                    pay,
                    po,
                    rf,
                    state,
                    amount,
                    currency,
                    code,
                    message,
                };
                match format {
                    WireFormat::Json => answer.json(),
                    WireFormat::Soap => answer.soap(),
                }
            },
        )
        .boxed()
}

const PAYMENT_STATUSES: [&str; 4] = ["pending", "succeeded", "failed", "declined"];
const PAYOUT_STATUSES: [&str; 4] = ["pending", "paid", "failed", "rejected"];
const REFUND_STATUSES: [&str; 4] = ["pending", "succeeded", "failed", "pending"];

/// The values one documented answer is made of.
struct Answer {
    call: Call,
    pay: String,
    po: String,
    rf: String,
    /// Which of the call's answers (its statuses, a refusal, "not found").
    state: usize,
    amount: u64,
    currency: &'static str,
    code: Option<String>,
    message: String,
}

impl Answer {
    fn lookup(&self) -> bool {
        matches!(
            self.call,
            Call::PaymentStatus | Call::PayoutStatus | Call::RefundStatus
        )
    }

    fn json(self) -> (u16, Body) {
        let error = |status: u16, code: &str| {
            let body = json!({ "error": { "code": code, "message": self.message } });
            (status, Body::Json(body))
        };
        let (amount, currency, code) = (self.amount, self.currency, &self.code);
        let body = match (self.call, self.state) {
            (Call::CreatePayment, 3) => return error(402, "card_declined"),
            (Call::CreatePayout, 3) => return error(422, "destination_rejected"),
            (Call::Refund, 3) => return error(422, "refund_exceeds_payment"),
            (_, 2) if self.lookup() => return error(404, "not_found"),
            (Call::CreatePayment | Call::PaymentStatus, state) => json!({
                "id": self.pay, "status": PAYMENT_STATUSES[state],
                "amount": amount, "currency": currency, "reference": "dep", "failure_code": code,
            }),
            (Call::CreatePayout | Call::PayoutStatus, state) => json!({
                "id": self.po, "status": PAYOUT_STATUSES[state],
                "amount": amount, "currency": currency, "reference": "po", "failure_code": code,
            }),
            (Call::Refund | Call::RefundStatus, state) => json!({
                "id": self.rf, "status": REFUND_STATUSES[state],
                "payment_id": self.pay, "amount": amount, "failure_code": code,
            }),
        };
        (if self.lookup() { 200 } else { 201 }, Body::Json(body))
    }

    fn soap(self) -> (u16, Body) {
        let wrappers = |element: &str| {
            vec![
                r#"soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp""#.to_owned(),
                "soap:Body".to_owned(),
                element.to_owned(),
            ]
        };
        let field = |name: &str, value: &str| (name.to_owned(), value.to_owned());
        let fault = |string: &str| {
            let message = format!("<p:Message>{}</p:Message>", escape(&self.message));
            let fields = vec![
                field("faultcode", "soap:Client"),
                field("faultstring", string),
                field("detail", &message),
            ];
            (
                500,
                Body::Xml(Xml {
                    wrappers: wrappers("soap:Fault"),
                    fields,
                }),
            )
        };
        if self.state == 3 && !self.lookup() {
            return fault("InvalidRequest");
        }
        if self.state == 2 && self.lookup() {
            return fault("NotFound");
        }
        let reason = field("p:ReasonCode", self.code.as_deref().unwrap_or_default());
        let amount = field("p:Amount", &self.amount.to_string());
        let currency = field("p:Currency", self.currency);
        let state = self.state;
        let (element, fields) = match self.call {
            Call::CreatePayment => (
                "p:CreatePaymentResponse",
                vec![
                    field("p:TransactionId", &self.pay),
                    field("p:Status", ["PENDING", "DECLINED", "PENDING", ""][state]),
                    reason,
                ],
            ),
            Call::PaymentStatus => (
                "p:GetPaymentStatusResponse",
                vec![
                    field("p:TransactionId", &self.pay),
                    field("p:Status", ["PENDING", "SUCCEEDED", "", "FAILED"][state]),
                    reason,
                    amount,
                    currency,
                ],
            ),
            Call::CreatePayout => (
                "p:CreatePayoutResponse",
                vec![
                    field("p:PayoutId", &self.po),
                    field("p:Status", ["PENDING", "REJECTED", "PENDING", ""][state]),
                    reason,
                ],
            ),
            Call::PayoutStatus => (
                "p:GetPayoutStatusResponse",
                vec![
                    field("p:PayoutId", &self.po),
                    field("p:Status", ["PENDING", "PAID", "", "REJECTED"][state]),
                    reason,
                    amount,
                    currency,
                ],
            ),
            Call::Refund => (
                "p:RefundResponse",
                vec![field("p:RefundId", &self.rf), field("p:Status", "PENDING")],
            ),
            Call::RefundStatus => (
                "p:GetRefundStatusResponse",
                vec![
                    field("p:RefundId", &self.rf),
                    field("p:Status", ["PENDING", "SUCCEEDED", "", "FAILED"][state]),
                    reason,
                ],
            ),
        };
        (
            200,
            Body::Xml(Xml {
                wrappers: wrappers(element),
                fields,
            }),
        )
    }
}

/// A documented answer changed by one to four edits, under its status or any other.
pub(super) fn mutated_reply() -> impl Strategy<Value = (WireFormat, Call, Reply)> {
    (format(), call(), prop::option::of(status())).prop_flat_map(|(format, call, other)| {
        documented_reply(format, call).prop_flat_map(move |(status, body)| {
            let status = other.unwrap_or(status);
            let body = match body {
                Body::Json(value) => mutated_json(value).boxed(),
                Body::Xml(xml) => mutated_xml(xml).boxed(),
            };
            body.prop_map(move |body| (format, call, Reply { status, body }))
        })
    })
}

/// A documented answer, with the format and call it answers.
pub(super) fn documented() -> impl Strategy<Value = (WireFormat, Call, u16, Reply)> {
    (format(), call()).prop_flat_map(|(format, call)| {
        documented_reply(format, call).prop_map(move |(status, body)| {
            let reply = Reply {
                status,
                body: body.bytes(),
            };
            (format, call, status, reply)
        })
    })
}
