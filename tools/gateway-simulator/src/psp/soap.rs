//! Format `soap`: SOAP 1.1 over one `POST /soap` endpoint (WIRE.md), read and written.
//!
//! Requests are read with quick-xml's serde deserializer, which matches elements by local
//! name, so any namespace prefix the client picks works. Faults are HTTP 500 as SOAP 1.1
//! requires (`soap:Client` = the request was wrong, final; `soap:Server` = unknown
//! outcome); "unavailable, nothing was done" is HTTP 503 with a `soap:Server` fault; a key
//! still in flight gets `in_flight_key_status` with a fault whose code matches that status
//! (`soap:Client` below 500, `soap:Server` from 500).

use http::Method;
use serde::{Deserialize, Serialize};

use super::call::{Answer, Call, Refusal, Response, checked, header, response};
use super::ledger::{
    Lookup, NewOrder, NewPayment, NewPayout, NewRefund, Order, RefundError, RefundRecord, Status,
};

/// The PSP's XML namespace.
pub(crate) const NAMESPACE: &str = "urn:paygate:sim:psp";
/// SOAP 1.1 envelope namespace.
pub(crate) const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub(crate) const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

// ---- requests (local names; prefixes are the client's choice) ----

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "Body")]
    body: Body,
}

#[derive(Debug, Deserialize)]
struct Body {
    #[serde(rename = "$value")]
    operation: Operation,
}

#[derive(Debug, Deserialize)]
enum Operation {
    CreatePayment(CreatePayment),
    GetPaymentStatus(GetPaymentStatus),
    Refund(Refund),
    GetRefundStatus(GetRefundStatus),
    CreatePayout(CreatePayout),
    GetPayoutStatus(GetPayoutStatus),
}

impl Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreatePayment(_) => "CreatePayment",
            Operation::GetPaymentStatus(_) => "GetPaymentStatus",
            Operation::Refund(_) => "Refund",
            Operation::GetRefundStatus(_) => "GetRefundStatus",
            Operation::CreatePayout(_) => "CreatePayout",
            Operation::GetPayoutStatus(_) => "GetPayoutStatus",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreatePayment {
    idempotency_key: String,
    amount: i64,
    currency: String,
    country: String,
    reference: String,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetPaymentStatus {
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    transaction_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Refund {
    idempotency_key: String,
    transaction_id: String,
    amount: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetRefundStatus {
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    refund_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreatePayout {
    idempotency_key: String,
    amount: i64,
    currency: String,
    country: String,
    reference: String,
    #[serde(default)]
    destination: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetPayoutStatus {
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    payout_id: Option<String>,
}

// ---- responses ----

#[derive(Serialize)]
#[serde(rename = "soap:Envelope")]
struct EnvelopeOut {
    #[serde(rename = "@xmlns:soap")]
    soap: &'static str,
    #[serde(rename = "@xmlns:p")]
    p: &'static str,
    #[serde(rename = "soap:Body")]
    body: BodyOut,
}

#[derive(Serialize)]
struct BodyOut {
    #[serde(rename = "$value")]
    reply: Reply,
}

#[derive(Serialize)]
enum Reply {
    #[serde(rename = "p:CreatePaymentResponse")]
    CreatePayment(CreateResponse),
    #[serde(rename = "p:GetPaymentStatusResponse")]
    Status(StatusResponse),
    #[serde(rename = "p:RefundResponse")]
    Refund(RefundResponse),
    #[serde(rename = "p:GetRefundStatusResponse")]
    RefundStatus(RefundStatusResponse),
    #[serde(rename = "p:CreatePayoutResponse")]
    CreatePayout(CreateResponse),
    #[serde(rename = "p:GetPayoutStatusResponse")]
    PayoutStatus(StatusResponse),
    #[serde(rename = "soap:Fault")]
    Fault(Fault),
}

/// The id a payment's or a payout's answer opens with.
#[derive(Serialize)]
enum OrderId {
    #[serde(rename = "p:TransactionId")]
    Payment(String),
    #[serde(rename = "p:PayoutId")]
    Payout(String),
}

#[derive(Serialize)]
struct CreateResponse {
    #[serde(rename = "$value")]
    id: OrderId,
    #[serde(rename = "p:Status")]
    status: String,
    #[serde(rename = "p:ReasonCode", skip_serializing_if = "Option::is_none")]
    reason_code: Option<String>,
}

#[derive(Serialize)]
struct StatusResponse {
    #[serde(rename = "$value")]
    id: OrderId,
    #[serde(rename = "p:Status")]
    status: String,
    #[serde(rename = "p:ReasonCode")]
    reason_code: String,
    #[serde(rename = "p:Amount")]
    amount: i64,
    #[serde(rename = "p:Currency")]
    currency: String,
}

#[derive(Serialize)]
struct RefundResponse {
    #[serde(rename = "p:RefundId")]
    refund_id: String,
    #[serde(rename = "p:Status")]
    status: &'static str,
}

#[derive(Serialize)]
struct RefundStatusResponse {
    #[serde(rename = "p:RefundId")]
    refund_id: String,
    #[serde(rename = "p:Status")]
    status: String,
    #[serde(rename = "p:ReasonCode")]
    reason_code: String,
}

#[derive(Serialize)]
struct Fault {
    faultcode: &'static str,
    faultstring: &'static str,
    detail: FaultDetail,
}

#[derive(Serialize)]
struct FaultDetail {
    #[serde(rename = "p:Message")]
    message: String,
}

fn envelope(status: u16, reply: Reply) -> Response {
    let body = quick_xml::se::to_string(&EnvelopeOut {
        soap: SOAP_ENV,
        p: NAMESPACE,
        body: BodyOut { reply },
    })
    .expect("a SOAP reply always serializes");
    let xml = format!(r#"<?xml version="1.0" encoding="utf-8"?>{body}"#);
    response(status, CONTENT_TYPE, xml.into_bytes())
}

fn fault(status: u16, code: &'static str, string: &'static str, message: &str) -> Response {
    envelope(
        status,
        Reply::Fault(Fault {
            faultcode: code,
            faultstring: string,
            detail: FaultDetail {
                message: message.to_owned(),
            },
        }),
    )
}

/// `soap:Client`: the request was wrong (final). `faultstring` is a stable code.
fn client_fault(string: &'static str, message: &str) -> Response {
    fault(500, "soap:Client", string, message)
}

fn text(status: u16, body: &str) -> Response {
    response(status, "text/plain", body.as_bytes().to_vec())
}

/// `SOAPAction` may be absent; when given (quoted or not, bare or ending in
/// `/Op` or `#Op`) it must name the body's operation.
fn action_matches(request: &http::Request<Vec<u8>>, operation: &str) -> bool {
    let Some(action) = header(request, "soapaction") else {
        return true;
    };
    let action = action.trim_matches('"');
    action.is_empty()
        || action == operation
        || action.ends_with(&format!("/{operation}"))
        || action.ends_with(&format!("#{operation}"))
}

pub(crate) fn refuse(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Invalid(message) => client_fault("InvalidRequest", &message),
        Refusal::NoRoute => text(404, "no such route"),
        Refusal::MethodNotAllowed => text(405, "method not allowed"),
    }
}

/// Routes and reads a request; `Err` is answered at once.
pub(crate) fn parse(request: &http::Request<Vec<u8>>) -> Result<Call, Refusal> {
    match (request.uri().path(), request.method()) {
        ("/soap", &Method::POST) => {}
        ("/health", &Method::GET) => return Ok(Call::Health),
        ("/soap" | "/health", _) => return Err(Refusal::MethodNotAllowed),
        _ => return Err(Refusal::NoRoute),
    }
    let invalid = Refusal::Invalid;
    let Ok(xml) = std::str::from_utf8(request.body()) else {
        return Err(invalid("the body is not UTF-8".into()));
    };
    let envelope: Envelope = quick_xml::de::from_str(xml)
        .map_err(|e| invalid(format!("unreadable SOAP request: {e}")))?;
    let operation = envelope.body.operation;
    if !action_matches(request, operation.name()) {
        return Err(invalid(format!(
            "SOAPAction does not match the {} body",
            operation.name()
        )));
    }
    match operation {
        Operation::CreatePayment(op) => {
            let new = NewPayment {
                order: NewOrder {
                    idempotency_key: op.idempotency_key,
                    amount: op.amount,
                    currency: op.currency,
                    country: op.country,
                    reference: op.reference,
                },
                token: op.token.filter(|t| !t.is_empty()),
            };
            checked(new, |new| new.order.problem(), Call::CreatePayment)
        }
        Operation::GetPaymentStatus(op) => lookup(op.transaction_id, op.idempotency_key)
            .map(Call::PaymentStatus)
            .ok_or_else(|| {
                invalid("GetPaymentStatus needs a TransactionId or an IdempotencyKey".into())
            }),
        Operation::Refund(op) => {
            let new = NewRefund {
                idempotency_key: op.idempotency_key,
                payment_id: op.transaction_id,
                amount: op.amount,
            };
            checked(new, NewRefund::problem, Call::Refund)
        }
        Operation::GetRefundStatus(op) => lookup(op.refund_id, op.idempotency_key)
            .map(Call::RefundStatus)
            .ok_or_else(|| invalid("GetRefundStatus needs a RefundId or an IdempotencyKey".into())),
        Operation::CreatePayout(op) => {
            let new = NewPayout {
                order: NewOrder {
                    idempotency_key: op.idempotency_key,
                    amount: op.amount,
                    currency: op.currency,
                    country: op.country,
                    reference: op.reference,
                },
                destination: op.destination.filter(|d| !d.is_empty()),
            };
            checked(new, |new| new.order.problem(), Call::CreatePayout)
        }
        Operation::GetPayoutStatus(op) => lookup(op.payout_id, op.idempotency_key)
            .map(Call::PayoutStatus)
            .ok_or_else(|| invalid("GetPayoutStatus needs a PayoutId or an IdempotencyKey".into())),
    }
}

/// A status call by the PSP's id when it names one, else by the idempotency key (blank
/// elements count as absent).
fn lookup(id: Option<String>, key: Option<String>) -> Option<Lookup> {
    let non_empty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    non_empty(id)
        .map(Lookup::Id)
        .or_else(|| non_empty(key).map(Lookup::Key))
}

fn refund_view(refund: &RefundRecord) -> Response {
    envelope(
        200,
        Reply::RefundStatus(RefundStatusResponse {
            refund_id: refund.id.clone(),
            status: refund.status.name().to_ascii_uppercase(),
            reason_code: refund.failure_code.clone().unwrap_or_default(),
        }),
    )
}

/// The create answer, replayed as it is for the same key: `PENDING`, or `DECLINED` /
/// `REJECTED` with its reason (final).
fn created(order: &impl Order, id: fn(String) -> OrderId) -> CreateResponse {
    CreateResponse {
        id: id(order.id().to_owned()),
        status: order.first_status().name().to_ascii_uppercase(),
        reason_code: order.refusal_code().map(str::to_owned),
    }
}

fn status(order: &impl Order, id: fn(String) -> OrderId) -> StatusResponse {
    StatusResponse {
        id: id(order.id().to_owned()),
        status: order.status().name().to_ascii_uppercase(),
        reason_code: order.failure_code().unwrap_or_default().to_owned(),
        amount: order.amount(),
        currency: order.currency().to_owned(),
    }
}

pub(crate) fn render(answer: Answer<'_>) -> Response {
    match answer {
        Answer::Created(payment) => envelope(
            200,
            Reply::CreatePayment(created(payment, OrderId::Payment)),
        ),
        Answer::Payment(payment) => envelope(200, Reply::Status(status(payment, OrderId::Payment))),
        Answer::PaymentNotFound => {
            client_fault("NotFound", "no payment was created with that id or key")
        }
        Answer::RefundCreated(refund) => envelope(
            200,
            Reply::Refund(RefundResponse {
                refund_id: refund.id.clone(),
                status: "PENDING",
            }),
        ),
        Answer::Refund(refund) => refund_view(refund),
        Answer::RefundNotFound => {
            client_fault("NotFound", "no refund was created with that id or key")
        }
        Answer::RefundRefused(RefundError::NotFound) => {
            client_fault("NotFound", "no payment with that TransactionId")
        }
        Answer::RefundRefused(RefundError::ExceedsPayment { refundable }) => client_fault(
            "RefundExceedsPayment",
            &format!("at most {refundable} can still be refunded"),
        ),
        Answer::PayoutCreated(payout) => {
            envelope(200, Reply::CreatePayout(created(payout, OrderId::Payout)))
        }
        Answer::Payout(payout) => {
            envelope(200, Reply::PayoutStatus(status(payout, OrderId::Payout)))
        }
        Answer::PayoutNotFound => {
            client_fault("NotFound", "no payout was created with that id or key")
        }
        Answer::Unavailable => fault(
            503,
            "soap:Server",
            "ServiceUnavailable",
            "the gateway is unavailable, nothing was done",
        ),
        Answer::KeyInFlight(status) => fault(
            status,
            if status < 500 {
                "soap:Client"
            } else {
                "soap:Server"
            },
            "IdempotencyKeyInUse",
            "a request with this idempotency key is still being processed",
        ),
        Answer::Health(true) => text(200, "OK"),
        Answer::Health(false) => text(503, "DOWN"),
    }
}

#[cfg(test)]
#[path = "soap_tests.rs"]
mod tests;
