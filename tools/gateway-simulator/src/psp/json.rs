//! Format `json`: the REST API of WIRE.md, read and written.

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::call::{
    Answer, Call, Refusal, Response, checked, header, id_after, query_param, response,
};
use super::ledger::{
    Lookup, NewPayment, NewRefund, PaymentRecord, PaymentStatus, RefundError, RefundRecord,
};

const CONTENT_TYPE: &str = "application/json";
const PAYMENTS: &str = "/v1/payments";
const REFUNDS: &str = "/v1/refunds";

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

#[derive(Deserialize)]
struct CreateRefund {
    payment_id: String,
    amount: i64,
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
            let b: CreatePayment = body(request)?;
            let new = NewPayment {
                idempotency_key: key,
                amount: b.amount,
                currency: b.currency,
                country: b.country,
                reference: b.reference,
                token: b.token.filter(|t| !t.is_empty()),
            };
            checked(new, NewPayment::problem, Call::CreatePayment)
        }
        PAYMENTS if get => by_key(request.uri()).map(Call::PaymentStatus),
        REFUNDS if post => {
            let key = idempotency_key(request)?;
            let b: CreateRefund = body(request)?;
            let new = NewRefund {
                idempotency_key: key,
                payment_id: b.payment_id,
                amount: b.amount,
            };
            checked(new, NewRefund::problem, Call::Refund)
        }
        REFUNDS if get => by_key(request.uri()).map(Call::RefundStatus),
        "/health" if get => Ok(Call::Health),
        PAYMENTS | REFUNDS | "/health" => Err(Refusal::MethodNotAllowed),
        _ => {
            if let Some(id) = id_after(path, PAYMENTS) {
                return if get {
                    Ok(Call::PaymentStatus(Lookup::Id(id)))
                } else {
                    Err(Refusal::MethodNotAllowed)
                };
            }
            if let Some(id) = id_after(path, REFUNDS) {
                return if get {
                    Ok(Call::RefundStatus(Lookup::Id(id)))
                } else {
                    Err(Refusal::MethodNotAllowed)
                };
            }
            Err(Refusal::NoRoute)
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

/// The create answer; a repeated call with the same key gets exactly this again.
fn created(payment: &PaymentRecord) -> Response {
    if payment.first_status() == PaymentStatus::Declined {
        return reply(
            402,
            json!({"error": {
                "code": payment.failure_code.as_deref().unwrap_or("card_declined"),
                "message": "the card was declined",
                "payment_id": payment.id,
            }}),
        );
    }
    reply(
        201,
        json!({
            "id": payment.id,
            "status": "pending",
            "amount": payment.amount,
            "currency": payment.currency,
            "reference": payment.reference,
        }),
    )
}

pub(crate) fn render(answer: Answer<'_>) -> Response {
    match answer {
        Answer::Created(payment) => created(payment),
        Answer::Payment(payment) => reply(
            200,
            json!({
                "id": payment.id,
                "status": payment.status.name(),
                "amount": payment.amount,
                "currency": payment.currency,
                "reference": payment.reference,
                "failure_code": payment.failure_code,
            }),
        ),
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
        assert_eq!((new.idempotency_key.as_str(), new.token), ("d:1", None));
        let call = |method, uri| parse(&request(method, uri, &[], "")).ok();
        assert_eq!(
            call("GET", "/v1/payments?idempotency_key=d%3A1"),
            Some(Call::PaymentStatus(Lookup::Key("d:1".into())))
        );
        assert_eq!(
            call("GET", "/v1/payments/pay_1"),
            Some(Call::PaymentStatus(Lookup::Id("pay_1".into())))
        );
        assert_eq!(
            call("GET", "/v1/refunds/ref_1"),
            Some(Call::RefundStatus(Lookup::Id("ref_1".into())))
        );
        assert_eq!(
            call("GET", "/v1/refunds?idempotency_key=k"),
            Some(Call::RefundStatus(Lookup::Key("k".into())))
        );
        assert_eq!(call("GET", "/health"), Some(Call::Health));
    }

    #[test]
    fn bad_requests_are_answered_at_once() {
        assert_eq!(
            status_of(parse(&request("POST", "/v1/payments", &[], "{}"))),
            400
        );
        assert_eq!(
            status_of(parse(&request(
                "POST",
                "/v1/refunds",
                &[("idempotency-key", "k")],
                r#"{"payment_id":"p","amount":0}"#
            ))),
            400
        );
        assert_eq!(
            status_of(parse(&request("GET", "/v1/payments", &[], ""))),
            400
        );
        assert_eq!(
            status_of(parse(&request("DELETE", "/v1/payments/p", &[], ""))),
            405
        );
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
