//! The classification table of `connector.rs`, row by row: both connectors over a canned
//! exchange, every (format, HTTP status, body) → the outcome of create payment, payment
//! status, refund and refund status; and on every row a payout (create payout, payout
//! status) is classified exactly like a payment.

#[path = "common/canned.rs"]
mod canned;
#[path = "common/payment.rs"]
mod payment;

use canned::Canned;
use paygate_domain::deposit::Direction;
use paygate_domain::ports::gateway::{
    GatewayConnector, PaymentOutcome, PaymentRequest, RefundOutcome, RefundRequest,
    RefundStatusOutcome, StatusOutcome, look_up, send,
};
use paygate_domain::{Amount, DepositId};
use paygate_gateways::{ConnectorConfig, HttpExchange, TransportError, WireFormat, connector_over};
use payment::payment_request;
use std::sync::Arc;

#[derive(Debug, Clone, Copy)]
enum Body {
    /// The call's own success body.
    Ok,
    Empty,
    Garbage,
    /// JSON `{"error":{"code":..}}`.
    Error(&'static str),
    /// SOAP fault (faultcode, faultstring).
    Fault(&'static str, &'static str),
}

#[derive(Debug, Clone)]
enum Answer {
    Http(u16, Body),
    Fails(TransportError),
}

fn success_body(format: WireFormat, request: &http::Request<Vec<u8>>) -> String {
    let path = request.uri().path();
    let action = request
        .headers()
        .get("SOAPAction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let envelope = |inner: &str| {
        format!(
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp"><soap:Body>{inner}</soap:Body></soap:Envelope>"#
        )
    };
    match format {
        WireFormat::Json if path.starts_with("/v1/payments") => {
            r#"{"id":"pay_1","status":"pending","amount":10099,"currency":"AED"}"#.into()
        }
        WireFormat::Json if path.starts_with("/v1/payouts") => {
            r#"{"id":"po_1","status":"pending","amount":10099,"currency":"AED"}"#.into()
        }
        WireFormat::Json => r#"{"id":"ref_1","status":"pending","amount":500}"#.into(),
        WireFormat::Soap => envelope(match action.trim_matches('"') {
            "CreatePayment" => {
                "<p:CreatePaymentResponse><p:TransactionId>txn_1</p:TransactionId><p:Status>PENDING</p:Status></p:CreatePaymentResponse>"
            }
            "GetPaymentStatus" => {
                "<p:GetPaymentStatusResponse><p:TransactionId>txn_1</p:TransactionId><p:Status>PENDING</p:Status><p:ReasonCode/></p:GetPaymentStatusResponse>"
            }
            "Refund" => {
                "<p:RefundResponse><p:RefundId>rf_1</p:RefundId><p:Status>PENDING</p:Status></p:RefundResponse>"
            }
            "GetRefundStatus" => {
                "<p:GetRefundStatusResponse><p:RefundId>rf_1</p:RefundId><p:Status>PENDING</p:Status><p:ReasonCode/></p:GetRefundStatusResponse>"
            }
            "CreatePayout" => {
                "<p:CreatePayoutResponse><p:PayoutId>po_1</p:PayoutId><p:Status>PENDING</p:Status></p:CreatePayoutResponse>"
            }
            "GetPayoutStatus" => {
                "<p:GetPayoutStatusResponse><p:PayoutId>po_1</p:PayoutId><p:Status>PENDING</p:Status><p:ReasonCode/></p:GetPayoutStatusResponse>"
            }
            other => panic!("unexpected SOAPAction {other}"),
        }),
    }
}

impl Answer {
    /// The canned answer to `request`.
    fn to(&self, request: &http::Request<Vec<u8>>) -> Result<(u16, Vec<u8>), TransportError> {
        let (status, body) = match self {
            Answer::Fails(err) => return Err(err.clone()),
            Answer::Http(status, body) => (*status, *body),
        };
        let format = if request.uri().path() == "/soap" {
            WireFormat::Soap
        } else {
            WireFormat::Json
        };
        let text = match body {
            Body::Ok => success_body(format, request),
            Body::Empty => String::new(),
            Body::Garbage => "<html>proxy error</html>".into(),
            Body::Error(code) => format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#),
            Body::Fault(code, string) => format!(
                r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>{code}</faultcode><faultstring>{string}</faultstring></soap:Fault></soap:Body></soap:Envelope>"#
            ),
        };
        Ok((status, text.into_bytes()))
    }
}

/// What came of a row: the four outcomes by kind, and those of a payout.
struct Outcomes {
    /// Create payment, payment status, refund, refund status.
    calls: [&'static str; 4],
    /// Create payout, payout status.
    payout: [&'static str; 2],
}

/// Create and status, by kind, sent the way `direction`'s money goes.
async fn create_and_status(
    connector: &dyn GatewayConnector,
    direction: Direction,
    request: &PaymentRequest,
) -> [&'static str; 2] {
    let create = match send(connector, direction, request).await {
        PaymentOutcome::Accepted { .. } => "accepted",
        PaymentOutcome::Declined { .. } => "declined",
        PaymentOutcome::Transient { .. } => "transient",
        PaymentOutcome::Ambiguous { .. } => "ambiguous",
    };
    let status = match look_up(connector, direction, &request.idempotency_key, None).await {
        StatusOutcome::Found { .. } => "found",
        StatusOutcome::NotFound => "not_found",
        StatusOutcome::Unknown { .. } => "unknown",
    };
    [create, status]
}

async fn outcomes(format: WireFormat, answer: Answer) -> Outcomes {
    let connector = connector_over(
        format,
        ConnectorConfig::new("https://psp.test"),
        Arc::new(Canned(move |request, _| answer.to(&request))),
    );
    let deposit_id = DepositId::parse("0195f0a2-7c1e-7d43-9a51-3c2b8e4f6a10").unwrap();
    let payment = payment_request(deposit_id, None);
    let refund = RefundRequest {
        idempotency_key: format!("{deposit_id}:refund:1"),
        external_id: "pay_1".into(),
        amount: Amount::new(500).unwrap(),
    };
    let [create, status] = create_and_status(&*connector, Direction::Deposit, &payment).await;
    let payout = create_and_status(&*connector, Direction::Payout, &payment).await;
    let refunded = match connector.refund(&refund).await {
        RefundOutcome::Accepted { .. } => "accepted",
        RefundOutcome::Rejected { .. } => "rejected",
        RefundOutcome::Transient { .. } => "transient",
        RefundOutcome::Ambiguous { .. } => "ambiguous",
    };
    let refund_status = match connector.refund_status(&refund.idempotency_key, None).await {
        RefundStatusOutcome::Found { .. } => "found",
        RefundStatusOutcome::NotFound => "not_found",
        RefundStatusOutcome::Unknown { .. } => "unknown",
    };
    Outcomes {
        calls: [create, status, refunded, refund_status],
        payout,
    }
}

const OK: [&str; 4] = ["accepted", "found", "accepted", "found"];
const NOTHING_DONE: [&str; 4] = ["transient", "unknown", "transient", "unknown"];
const MAYBE_DONE: [&str; 4] = ["ambiguous", "unknown", "ambiguous", "unknown"];
const REFUSED: [&str; 4] = ["declined", "unknown", "rejected", "unknown"];
const NO_SUCH_THING: [&str; 4] = ["transient", "not_found", "rejected", "not_found"];

async fn check(format: WireFormat, rows: &[(Answer, [&str; 4])]) {
    let mut wrong = Vec::new();
    for (answer, expected) in rows {
        let got = outcomes(format, answer.clone()).await;
        if got.calls != *expected {
            let calls = got.calls;
            wrong.push(format!("{answer:?}: expected {expected:?}, got {calls:?}"));
        }
        let [create, status, ..] = got.calls;
        if got.payout != [create, status] {
            let payout = got.payout;
            wrong.push(format!(
                "{answer:?}: payout {payout:?}, unlike the payment {:?}",
                [create, status]
            ));
        }
    }
    assert!(wrong.is_empty(), "{format}:\n{}", wrong.join("\n"));
}

fn http(status: u16, body: Body) -> Answer {
    Answer::Http(status, body)
}

fn transport_rows() -> Vec<(Answer, [&'static str; 4])> {
    vec![
        (
            Answer::Fails(TransportError::NotSent("refused".into())),
            NOTHING_DONE,
        ),
        (
            Answer::Fails(TransportError::Unanswered("timed out".into())),
            MAYBE_DONE,
        ),
    ]
}

#[tokio::test]
async fn json_table() {
    let mut rows = transport_rows();
    rows.extend([
        (http(200, Body::Ok), OK),
        (http(201, Body::Ok), OK),
        (http(200, Body::Garbage), MAYBE_DONE),
        (http(200, Body::Empty), MAYBE_DONE),
        (http(503, Body::Error("unavailable")), NOTHING_DONE),
        (
            http(429, Body::Error("idempotency_key_in_use")),
            NOTHING_DONE,
        ),
        (http(429, Body::Error("not_found")), NOTHING_DONE),
        (http(401, Body::Empty), NOTHING_DONE),
        (http(403, Body::Empty), NOTHING_DONE),
        (http(405, Body::Empty), NOTHING_DONE),
        (http(408, Body::Empty), NOTHING_DONE),
        (http(409, Body::Error("idempotency_key_in_use")), MAYBE_DONE),
        (http(500, Body::Error("internal")), MAYBE_DONE),
        (http(502, Body::Garbage), MAYBE_DONE),
        (http(504, Body::Empty), MAYBE_DONE),
        (http(507, Body::Empty), MAYBE_DONE),
        (http(302, Body::Empty), MAYBE_DONE),
        (http(402, Body::Error("card_declined")), REFUSED),
        (http(400, Body::Error("invalid_request")), REFUSED),
        (http(422, Body::Error("refund_exceeds_payment")), REFUSED),
        (http(422, Body::Error("destination_rejected")), REFUSED),
        (http(410, Body::Empty), REFUSED),
        (http(404, Body::Error("not_found")), NO_SUCH_THING),
        (
            http(404, Body::Error("no_such_route")),
            ["transient", "unknown", "rejected", "unknown"],
        ),
        (http(404, Body::Garbage), NOTHING_DONE),
    ]);
    check(WireFormat::Json, &rows).await;
}

#[tokio::test]
async fn soap_table() {
    let client = |string| Body::Fault("soap:Client", string);
    let server = |string| Body::Fault("soap:Server", string);
    let mut rows = transport_rows();
    rows.extend([
        (http(200, Body::Ok), OK),
        (http(200, Body::Garbage), MAYBE_DONE),
        (http(200, server("Oops")), MAYBE_DONE),
        (
            http(200, client("NotFound")),
            ["declined", "not_found", "rejected", "not_found"],
        ),
        // SOAP 1.1's fault status: the fault code decides.
        (http(500, client("InvalidRequest")), REFUSED),
        (
            http(500, client("NotFound")),
            ["declined", "not_found", "rejected", "not_found"],
        ),
        (http(500, server("Internal")), MAYBE_DONE),
        (http(500, Body::Empty), MAYBE_DONE),
        // The status speaks first: a client fault here is never final.
        (http(409, client("IdempotencyKeyInUse")), MAYBE_DONE),
        (http(409, client("NotFound")), MAYBE_DONE),
        (http(429, client("IdempotencyKeyInUse")), NOTHING_DONE),
        (http(429, client("NotFound")), NOTHING_DONE),
        (http(503, server("ServiceUnavailable")), NOTHING_DONE),
        (http(503, client("InvalidRequest")), NOTHING_DONE),
        (http(401, client("Unauthorized")), NOTHING_DONE),
        (http(403, client("Forbidden")), NOTHING_DONE),
        (http(405, Body::Empty), NOTHING_DONE),
        (http(408, client("Timeout")), NOTHING_DONE),
        (http(502, client("InvalidRequest")), MAYBE_DONE),
        (http(504, Body::Garbage), MAYBE_DONE),
        (http(302, Body::Empty), MAYBE_DONE),
        (http(400, client("InvalidRequest")), REFUSED),
        (http(400, Body::Garbage), REFUSED),
        (http(422, server("Oops")), MAYBE_DONE),
        (http(404, client("NotFound")), NO_SUCH_THING),
        (http(404, Body::Garbage), NOTHING_DONE),
        (http(404, server("x")), NOTHING_DONE),
    ]);
    check(WireFormat::Soap, &rows).await;
}
