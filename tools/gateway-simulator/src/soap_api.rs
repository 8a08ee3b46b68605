//! Format `soap`: SOAP 1.1 over one `POST /soap` endpoint (WIRE.md).
//!
//! Requests are read with quick-xml's serde deserializer, which matches elements by local
//! name, so any namespace prefix the client picks works. Every fault is answered with
//! HTTP 500 as SOAP 1.1 requires (`soap:Client` = the request was wrong, final;
//! `soap:Server` = unknown outcome); "unavailable, nothing was done" is HTTP 503.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::gateway::{Gateway, unix_now};
use crate::ledger::{NewPayment, PaymentRecord, PaymentStatus, RefundError};

/// The PSP's XML namespace.
pub(crate) const NAMESPACE: &str = "urn:paygate:sim:psp";
/// SOAP 1.1 envelope namespace.
pub(crate) const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

pub(crate) fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/soap", post(soap))
        .route("/health", get(health))
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such route") })
}

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
}

impl Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreatePayment(_) => "CreatePayment",
            Operation::GetPaymentStatus(_) => "GetPaymentStatus",
            Operation::Refund(_) => "Refund",
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
    CreatePayment(CreatePaymentResponse),
    #[serde(rename = "p:GetPaymentStatusResponse")]
    Status(StatusResponse),
    #[serde(rename = "p:RefundResponse")]
    Refund(RefundResponse),
    #[serde(rename = "soap:Fault")]
    Fault(Fault),
}

#[derive(Serialize)]
struct CreatePaymentResponse {
    #[serde(rename = "p:TransactionId")]
    transaction_id: String,
    #[serde(rename = "p:Status")]
    status: &'static str,
    #[serde(rename = "p:ReasonCode", skip_serializing_if = "Option::is_none")]
    reason_code: Option<String>,
}

#[derive(Serialize)]
struct StatusResponse {
    #[serde(rename = "p:TransactionId")]
    transaction_id: String,
    #[serde(rename = "p:Status")]
    status: &'static str,
    #[serde(rename = "p:ReasonCode")]
    reason_code: String,
}

#[derive(Serialize)]
struct RefundResponse {
    #[serde(rename = "p:RefundId")]
    refund_id: String,
    #[serde(rename = "p:Status")]
    status: &'static str,
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

fn envelope(status: StatusCode, reply: Reply) -> Response {
    let body = quick_xml::se::to_string(&EnvelopeOut {
        soap: SOAP_ENV,
        p: NAMESPACE,
        body: BodyOut { reply },
    })
    .expect("a SOAP reply always serializes");
    (
        status,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        format!(r#"<?xml version="1.0" encoding="utf-8"?>{body}"#),
    )
        .into_response()
}

fn fault(status: StatusCode, code: &'static str, string: &'static str, message: &str) -> Response {
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
    fault(
        StatusCode::INTERNAL_SERVER_ERROR,
        "soap:Client",
        string,
        message,
    )
}

pub(crate) fn unavailable() -> Response {
    fault(
        StatusCode::SERVICE_UNAVAILABLE,
        "soap:Server",
        "ServiceUnavailable",
        "the gateway is unavailable, nothing was done",
    )
}

pub(crate) fn health_response(up: bool) -> Response {
    let (status, text) = if up {
        (StatusCode::OK, "OK")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "DOWN")
    };
    (status, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

async fn health(State(gateway): State<Arc<Gateway>>) -> Response {
    health_response(!gateway.behaviour().health_down)
}

fn status_name(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Pending => "PENDING",
        PaymentStatus::Succeeded => "SUCCEEDED",
        PaymentStatus::Failed => "FAILED",
        PaymentStatus::Declined => "DECLINED",
    }
}

/// `SOAPAction` may be absent; when given (quoted or not, bare or ending in
/// `/Op` or `#Op`) it must name the body's operation.
fn action_matches(headers: &HeaderMap, operation: &str) -> bool {
    let Some(action) = headers.get("soapaction").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let action = action.trim().trim_matches('"');
    action.is_empty()
        || action == operation
        || action.ends_with(&format!("/{operation}"))
        || action.ends_with(&format!("#{operation}"))
}

async fn soap(State(gateway): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return client_fault("InvalidRequest", "the body is not UTF-8");
    };
    let envelope: Envelope = match quick_xml::de::from_str(text) {
        Ok(envelope) => envelope,
        Err(e) => return client_fault("InvalidRequest", &format!("unreadable SOAP request: {e}")),
    };
    let operation = envelope.body.operation;
    if !action_matches(&headers, operation.name()) {
        return client_fault(
            "InvalidRequest",
            &format!("SOAPAction does not match the {} body", operation.name()),
        );
    }
    match operation {
        Operation::CreatePayment(request) => create_payment(&gateway, request),
        Operation::GetPaymentStatus(request) => payment_status(&gateway, request),
        Operation::Refund(request) => refund(&gateway, request),
    }
}

fn create_response(payment: &PaymentRecord) -> Response {
    let declined = payment.first_status() == PaymentStatus::Declined;
    envelope(
        StatusCode::OK,
        Reply::CreatePayment(CreatePaymentResponse {
            transaction_id: payment.id.clone(),
            status: status_name(payment.first_status()),
            reason_code: if declined {
                payment.failure_code.clone()
            } else {
                None
            },
        }),
    )
}

fn create_payment(gateway: &Arc<Gateway>, request: CreatePayment) -> Response {
    let new = NewPayment {
        idempotency_key: request.idempotency_key,
        amount: request.amount,
        currency: request.currency,
        country: request.country,
        reference: request.reference,
        token: request.token.filter(|t| !t.is_empty()),
    };
    if let Some(problem) = new.problem() {
        return client_fault("InvalidRequest", &problem);
    }
    let (payment, created) = gateway.ledger().create_payment(new, unix_now());
    if created && payment.status == PaymentStatus::Pending {
        gateway.schedule_payment_settlement(payment.id.clone());
    }
    create_response(&payment)
}

fn payment_status(gateway: &Gateway, request: GetPaymentStatus) -> Response {
    let ledger = gateway.ledger();
    let found = match (
        request.transaction_id.filter(|s| !s.is_empty()),
        request.idempotency_key.filter(|s| !s.is_empty()),
    ) {
        (Some(id), _) => ledger.payment(&id),
        (None, Some(key)) => ledger.payment_by_key(&key),
        (None, None) => {
            return client_fault(
                "InvalidRequest",
                "GetPaymentStatus needs a TransactionId or an IdempotencyKey",
            );
        }
    };
    match found {
        Some(payment) => envelope(
            StatusCode::OK,
            Reply::Status(StatusResponse {
                transaction_id: payment.id.clone(),
                status: status_name(payment.status),
                reason_code: payment.failure_code.clone().unwrap_or_default(),
            }),
        ),
        None => client_fault("NotFound", "no payment was created with that id or key"),
    }
}

fn refund(gateway: &Arc<Gateway>, request: Refund) -> Response {
    let result = gateway.ledger().create_refund(
        &request.idempotency_key,
        &request.transaction_id,
        request.amount,
        unix_now(),
    );
    match result {
        Ok((refund, created)) => {
            if created {
                gateway.schedule_refund_settlement(refund.id.clone());
            }
            envelope(
                StatusCode::OK,
                Reply::Refund(RefundResponse {
                    refund_id: refund.id,
                    status: "PENDING",
                }),
            )
        }
        Err(RefundError::NotFound) => {
            client_fault("NotFound", "no payment with that TransactionId")
        }
        Err(RefundError::Invalid(problem)) => client_fault("InvalidRequest", &problem),
        Err(RefundError::ExceedsPayment { refundable }) => client_fault(
            "RefundExceedsPayment",
            &format!("at most {refundable} can still be refunded"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_wire_example_and_other_prefixes() {
        let wire = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp">
  <soap:Body>
    <p:CreatePayment>
      <p:IdempotencyKey>dep:1</p:IdempotencyKey>
      <p:Amount>10099</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country>
      <p:Reference>dep</p:Reference><p:Token>tok_success</p:Token>
    </p:CreatePayment>
  </soap:Body>
</soap:Envelope>"#;
        let envelope: Envelope = quick_xml::de::from_str(wire).unwrap();
        let Operation::CreatePayment(op) = envelope.body.operation else {
            panic!("not a CreatePayment");
        };
        assert_eq!(op.idempotency_key, "dep:1");
        assert_eq!(op.amount, 10_099);
        assert_eq!(op.token.as_deref(), Some("tok_success"));

        let other = r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/><s:Body><GetPaymentStatus xmlns="urn:paygate:sim:psp"><IdempotencyKey>dep:1</IdempotencyKey></GetPaymentStatus></s:Body></s:Envelope>"#;
        let envelope: Envelope = quick_xml::de::from_str(other).unwrap();
        let Operation::GetPaymentStatus(op) = envelope.body.operation else {
            panic!("not a GetPaymentStatus");
        };
        assert_eq!(op.idempotency_key.as_deref(), Some("dep:1"));
        assert_eq!(op.transaction_id, None);
    }

    #[test]
    fn writes_prefixed_replies_and_faults() {
        let reply = quick_xml::se::to_string(&EnvelopeOut {
            soap: SOAP_ENV,
            p: NAMESPACE,
            body: BodyOut {
                reply: Reply::CreatePayment(CreatePaymentResponse {
                    transaction_id: "txn_1".into(),
                    status: "PENDING",
                    reason_code: None,
                }),
            },
        })
        .unwrap();
        assert_eq!(
            reply,
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp"><soap:Body><p:CreatePaymentResponse><p:TransactionId>txn_1</p:TransactionId><p:Status>PENDING</p:Status></p:CreatePaymentResponse></soap:Body></soap:Envelope>"#
        );
        let fault = quick_xml::se::to_string(&EnvelopeOut {
            soap: SOAP_ENV,
            p: NAMESPACE,
            body: BodyOut {
                reply: Reply::Fault(Fault {
                    faultcode: "soap:Client",
                    faultstring: "NotFound",
                    detail: FaultDetail {
                        message: "x".into(),
                    },
                }),
            },
        })
        .unwrap();
        assert!(fault.contains(
            "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>NotFound</faultstring>"
        ));
    }

    #[test]
    fn soap_action_may_be_quoted_qualified_or_absent() {
        let mut headers = HeaderMap::new();
        assert!(action_matches(&headers, "Refund"));
        headers.insert("SOAPAction", "\"Refund\"".parse().unwrap());
        assert!(action_matches(&headers, "Refund"));
        headers.insert("SOAPAction", "urn:paygate:sim:psp/Refund".parse().unwrap());
        assert!(action_matches(&headers, "Refund"));
        headers.insert("SOAPAction", "\"CreatePayment\"".parse().unwrap());
        assert!(!action_matches(&headers, "Refund"));
    }
}
