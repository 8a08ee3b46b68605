//! Format `json`: the REST API of WIRE.md, read and written.

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::call::{
    Answer, Call, Refusal, Response, checked, header, id_after, query_param, response,
};
use super::ledger::{
    CARD_DECLINED, DESTINATION_REJECTED, Lookup, NewOrder, NewPayment, NewPayout, NewRefund, Order,
    RefundError, RefundRecord, Status,
};

const CONTENT_TYPE: &str = "application/json";
const PAYMENTS: &str = "/v1/payments";
const REFUNDS: &str = "/v1/refunds";
const PAYOUTS: &str = "/v1/payouts";

fn reply(status: u16, body: Value) -> Response {
    response(status, CONTENT_TYPE, body.to_string().into_bytes())
}

fn error(status: u16, code: &str, message: &str) -> Response {
    reply(status, json!({"error": {"code": code, "message": message}}))
}

fn invalid(message: &str) -> Response {
    error(400, "invalid_request", message)
}

#[derive(Deserialize)]
struct CreatePayment {
    amount: i64,
    currency: String,
    country: String,
    reference: String,
    #[serde(default)]
    token: Option<String>,
}

impl CreatePayment {
    fn under(self, idempotency_key: String) -> NewPayment {
        NewPayment {
            order: NewOrder {
                idempotency_key,
                amount: self.amount,
                currency: self.currency,
                country: self.country,
                reference: self.reference,
            },
            token: self.token.filter(|t| !t.is_empty()),
        }
    }
}

#[derive(Deserialize)]
struct CreateRefund {
    payment_id: String,
    amount: i64,
}

impl CreateRefund {
    fn under(self, idempotency_key: String) -> NewRefund {
        NewRefund {
            idempotency_key,
            payment_id: self.payment_id,
            amount: self.amount,
        }
    }
}

#[derive(Deserialize)]
struct CreatePayout {
    amount: i64,
    currency: String,
    country: String,
    reference: String,
    #[serde(default)]
    destination: Option<String>,
}

impl CreatePayout {
    fn under(self, idempotency_key: String) -> NewPayout {
        NewPayout {
            order: NewOrder {
                idempotency_key,
                amount: self.amount,
                currency: self.currency,
                country: self.country,
                reference: self.reference,
            },
            destination: self.destination.filter(|d| !d.is_empty()),
        }
    }
}

fn idempotency_key(request: &http::Request<Vec<u8>>) -> Result<String, Refusal> {
    header(request, "idempotency-key")
        .map(str::to_owned)
        .ok_or_else(|| Refusal::Invalid("the Idempotency-Key header is required".into()))
}

fn body<T: serde::de::DeserializeOwned>(request: &http::Request<Vec<u8>>) -> Result<T, Refusal> {
    serde_json::from_slice(request.body())
        .map_err(|e| Refusal::Invalid(format!("invalid JSON body: {e}")))
}

fn by_key(uri: &http::Uri) -> Result<Lookup, Refusal> {
    query_param(uri, "idempotency_key")
        .map(Lookup::Key)
        .ok_or_else(|| Refusal::Invalid("the idempotency_key query parameter is required".into()))
}

/// Routes and reads a request; `Err` is answered at once (400, 404, 405).
pub(crate) fn parse(request: &http::Request<Vec<u8>>) -> Result<Call, Refusal> {
    let path = request.uri().path();
    let method = request.method();
    let get = method == Method::GET;
    let post = method == Method::POST;
    match path {
        PAYMENTS if post => {
            let key = idempotency_key(request)?;
            let new = body::<CreatePayment>(request)?.under(key);
            checked(new, |new| new.order.problem(), Call::CreatePayment)
        }
        PAYMENTS if get => by_key(request.uri()).map(Call::PaymentStatus),
        REFUNDS if post => {
            let key = idempotency_key(request)?;
            let new = body::<CreateRefund>(request)?.under(key);
            checked(new, NewRefund::problem, Call::Refund)
        }
        REFUNDS if get => by_key(request.uri()).map(Call::RefundStatus),
        PAYOUTS if post => {
            let key = idempotency_key(request)?;
            let new = body::<CreatePayout>(request)?.under(key);
            checked(new, |new| new.order.problem(), Call::CreatePayout)
        }
        PAYOUTS if get => by_key(request.uri()).map(Call::PayoutStatus),
        "/health" if get => Ok(Call::Health),
        PAYMENTS | REFUNDS | PAYOUTS | "/health" => Err(Refusal::MethodNotAllowed),
        // `/v1/payments/{id}`, `/v1/refunds/{id}`, `/v1/payouts/{id}`: a status lookup by
        // the PSP's id.
        _ => {
            let by_id = |collection, call: fn(Lookup) -> Call| {
                let id = id_after(path, collection)?;
                Some(if get {
                    Ok(call(Lookup::Id(id)))
                } else {
                    Err(Refusal::MethodNotAllowed)
                })
            };
            by_id(PAYMENTS, Call::PaymentStatus)
                .or_else(|| by_id(REFUNDS, Call::RefundStatus))
                .or_else(|| by_id(PAYOUTS, Call::PayoutStatus))
                .unwrap_or(Err(Refusal::NoRoute))
        }
    }
}

pub(crate) fn refuse(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Invalid(message) => invalid(&message),
        // Not `not_found`: that code means "no such payment" to a status lookup.
        Refusal::NoRoute => error(404, "no_such_route", "no such route"),
        Refusal::MethodNotAllowed => error(
            405,
            "method_not_allowed",
            "method not allowed on this route",
        ),
    }
}

/// What a payment's and a payout's answers carry.
fn order_body(order: &impl Order, status: &str) -> Value {
    json!({
        "id": order.id(),
        "status": status,
        "amount": order.amount(),
        "currency": order.currency(),
        "reference": order.reference(),
    })
}

/// How a create call the PSP refused at once is answered (final).
struct Refused {
    status: u16,
    /// The error code when the record names none.
    code: &'static str,
    message: &'static str,
    /// The error's field naming the refused order.
    id_field: &'static str,
}

/// The create answer; a repeated call with the same key gets exactly this again:
/// `201 pending`, or the refusal.
fn created<O: Order>(order: &O, refused: Refused) -> Response {
    if order.first_status() != O::Status::REFUSED {
        return reply(201, order_body(order, "pending"));
    }
    let mut error = json!({
        "code": order.failure_code().unwrap_or(refused.code),
        "message": refused.message,
    });
    error[refused.id_field] = json!(order.id());
    reply(refused.status, json!({ "error": error }))
}

fn order_view(order: &impl Order) -> Response {
    let mut body = order_body(order, order.status().name());
    body["failure_code"] = json!(order.failure_code());
    reply(200, body)
}

pub(crate) fn render(answer: Answer<'_>) -> Response {
    match answer {
        Answer::Created(payment) => created(
            payment,
            Refused {
                status: 402,
                code: CARD_DECLINED,
                message: "the card was declined",
                id_field: "payment_id",
            },
        ),
        Answer::Payment(payment) => order_view(payment),
        Answer::PaymentNotFound => error(
            404,
            "not_found",
            "no payment was created with that id or idempotency key",
        ),
        Answer::RefundCreated(refund) => reply(
            201,
            json!({
                "id": refund.id,
                "status": "pending",
                "payment_id": refund.payment_id,
                "amount": refund.amount,
            }),
        ),
        Answer::Refund(refund) => refund_view(refund),
        Answer::RefundNotFound => error(
            404,
            "not_found",
            "no refund was created with that id or idempotency key",
        ),
        Answer::RefundRefused(RefundError::NotFound) => {
            error(404, "not_found", "no payment with that id")
        }
        Answer::RefundRefused(RefundError::ExceedsPayment { refundable }) => error(
            422,
            "refund_exceeds_payment",
            &format!("at most {refundable} can still be refunded"),
        ),
        // `422 destination_rejected` (final) or `201 pending`.
        Answer::PayoutCreated(payout) => created(
            payout,
            Refused {
                status: 422,
                code: DESTINATION_REJECTED,
                message: "the destination was rejected",
                id_field: "payout_id",
            },
        ),
        Answer::Payout(payout) => order_view(payout),
        Answer::PayoutNotFound => error(
            404,
            "not_found",
            "no payout was created with that id or idempotency key",
        ),
        Answer::Unavailable => error(
            503,
            "unavailable",
            "the gateway is unavailable, nothing was done",
        ),
        Answer::KeyInFlight(status) => error(
            status,
            "idempotency_key_in_use",
            "a request with this idempotency key is still being processed",
        ),
        Answer::Health(true) => reply(200, json!({"status": "ok"})),
        Answer::Health(false) => reply(503, json!({"status": "down"})),
    }
}

fn refund_view(refund: &RefundRecord) -> Response {
    reply(
        200,
        json!({
            "id": refund.id,
            "status": refund.status.name(),
            "payment_id": refund.payment_id,
            "amount": refund.amount,
            "failure_code": refund.failure_code,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> http::Request<Vec<u8>> {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(body.as_bytes().to_vec()).unwrap()
    }

    fn status_of(result: Result<Call, Refusal>) -> u16 {
        refuse(result.unwrap_err()).status().as_u16()
    }

    #[test]
    fn routes_every_call() {
        let create = request(
            "POST",
            "http://psp.test/v1/payments",
            &[("Idempotency-Key", " d:1 ")],
            r#"{"amount":5,"currency":"AED","country":"AE","reference":"d","token":""}"#,
        );
        let Ok(Call::CreatePayment(new)) = parse(&create) else {
            panic!()
        };
        assert_eq!(
            (new.order.idempotency_key.as_str(), new.token),
            ("d:1", None)
        );
        let payout = request(
            "POST",
            "/v1/payouts",
            &[("Idempotency-Key", "p:1")],
            r#"{"amount":5000,"currency":"EUR","country":"DE","reference":"p","destination":"ba_reject"}"#,
        );
        let Ok(Call::CreatePayout(new)) = parse(&payout) else {
            panic!()
        };
        assert_eq!(
            (
                new.order.idempotency_key.as_str(),
                new.order.amount,
                new.destination
            ),
            ("p:1", 5_000, Some("ba_reject".to_owned()))
        );
        for (uri, expected) in [
            (
                "/v1/payments?idempotency_key=d%3A1",
                Call::PaymentStatus(Lookup::Key("d:1".into())),
            ),
            (
                "/v1/payments/pay_1",
                Call::PaymentStatus(Lookup::Id("pay_1".into())),
            ),
            (
                "/v1/refunds/ref_1",
                Call::RefundStatus(Lookup::Id("ref_1".into())),
            ),
            (
                "/v1/refunds?idempotency_key=k",
                Call::RefundStatus(Lookup::Key("k".into())),
            ),
            (
                "/v1/payouts/po_1",
                Call::PayoutStatus(Lookup::Id("po_1".into())),
            ),
            (
                "/v1/payouts?idempotency_key=p%3A1",
                Call::PayoutStatus(Lookup::Key("p:1".into())),
            ),
            ("/health", Call::Health),
        ] {
            let call = parse(&request("GET", uri, &[], "")).ok();
            assert_eq!(call, Some(expected), "{uri}");
        }
    }

    #[test]
    fn bad_requests_are_answered_at_once() {
        let refund = r#"{"payment_id":"p","amount":0}"#;
        for (method, uri, headers, body, status) in [
            ("POST", "/v1/payments", &[][..], "{}", 400),
            (
                "POST",
                "/v1/refunds",
                &[("idempotency-key", "k")],
                refund,
                400,
            ),
            ("GET", "/v1/payments", &[], "", 400),
            ("DELETE", "/v1/payments/p", &[], "", 405),
            (
                "POST",
                "/v1/payouts",
                &[("idempotency-key", "k")],
                r#"{"amount":1,"currency":"EUR","country":"de","reference":"p"}"#,
                400,
            ),
            ("GET", "/v1/payouts", &[], "", 400),
            ("PUT", "/v1/payouts", &[], "", 405),
            ("DELETE", "/v1/payouts/po_1", &[], "", 405),
        ] {
            let call = parse(&request(method, uri, headers, body));
            assert_eq!(status_of(call), status, "{method} {uri}");
        }
        let unknown = refuse(parse(&request("GET", "/v2/payments", &[], "")).unwrap_err());
        assert_eq!(unknown.status(), 404);
        assert!(!String::from_utf8_lossy(unknown.body()).contains("\"not_found\""));
    }

    #[test]
    fn in_flight_answers_carry_the_configured_status() {
        let answer = render(Answer::KeyInFlight(429));
        assert_eq!(answer.status(), 429);
        let body: Value = serde_json::from_slice(answer.body()).unwrap();
        assert_eq!(body["error"]["code"], "idempotency_key_in_use");
        assert_eq!(answer.headers()["content-type"], CONTENT_TYPE);
    }
}
