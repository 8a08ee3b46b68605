//! Format `json`: the REST API of WIRE.md.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::gateway::{Gateway, unix_now};
use crate::ledger::{NewPayment, PaymentRecord, PaymentStatus, RefundError};

pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub(crate) fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/v1/payments", post(create_payment).get(payment_by_key))
        .route("/v1/payments/{id}", get(payment_by_id))
        .route("/v1/refunds", post(create_refund))
        .route("/health", get(health))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route") })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request", message)
}

pub(crate) fn unavailable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the gateway is unavailable, nothing was done",
    )
}

pub(crate) fn health_response(up: bool) -> Response {
    if up {
        (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "down"})),
        )
            .into_response()
    }
}

async fn health(State(gateway): State<Arc<Gateway>>) -> Response {
    health_response(!gateway.behaviour().health_down)
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, String> {
    headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "the Idempotency-Key header is required".to_owned())
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
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

fn status_name(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Pending => "pending",
        PaymentStatus::Succeeded => "succeeded",
        PaymentStatus::Failed => "failed",
        PaymentStatus::Declined => "declined",
    }
}

/// The create answer; a repeated call with the same key gets exactly this again.
fn created_response(payment: &PaymentRecord) -> Response {
    if payment.first_status() == PaymentStatus::Declined {
        return (
            StatusCode::PAYMENT_REQUIRED,
            axum::Json(json!({"error": {
                "code": payment.failure_code.as_deref().unwrap_or("card_declined"),
                "message": "the card was declined",
                "payment_id": payment.id,
            }})),
        )
            .into_response();
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "id": payment.id,
            "status": "pending",
            "amount": payment.amount,
            "currency": payment.currency,
            "reference": payment.reference,
        })),
    )
        .into_response()
}

fn payment_view(payment: &PaymentRecord) -> Value {
    json!({
        "id": payment.id,
        "status": status_name(payment.status),
        "amount": payment.amount,
        "currency": payment.currency,
        "reference": payment.reference,
        "failure_code": payment.failure_code,
    })
}

async fn create_payment(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed =
        idempotency_key(&headers).and_then(|key| Ok((key, parse::<CreatePayment>(&body)?)));
    let (key, request) = match parsed {
        Ok(parsed) => parsed,
        Err(problem) => return invalid(&problem),
    };
    let new = NewPayment {
        idempotency_key: key,
        amount: request.amount,
        currency: request.currency,
        country: request.country,
        reference: request.reference,
        token: request.token,
    };
    if let Some(problem) = new.problem() {
        return invalid(&problem);
    }
    let (payment, created) = gateway.ledger().create_payment(new, unix_now());
    if created && payment.status == PaymentStatus::Pending {
        gateway.schedule_payment_settlement(payment.id.clone());
    }
    created_response(&payment)
}

async fn payment_by_id(State(gateway): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    match gateway.ledger().payment(&id) {
        Some(payment) => axum::Json(payment_view(payment)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no payment with that id",
        ),
    }
}

#[derive(Deserialize)]
struct ByKey {
    idempotency_key: Option<String>,
}

async fn payment_by_key(
    State(gateway): State<Arc<Gateway>>,
    Query(query): Query<ByKey>,
) -> Response {
    let Some(key) = query.idempotency_key.filter(|k| !k.is_empty()) else {
        return invalid("the idempotency_key query parameter is required");
    };
    match gateway.ledger().payment_by_key(&key) {
        Some(payment) => axum::Json(payment_view(payment)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no payment was created with that idempotency key",
        ),
    }
}

#[derive(Deserialize)]
struct CreateRefund {
    payment_id: String,
    amount: i64,
}

async fn create_refund(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = idempotency_key(&headers).and_then(|key| Ok((key, parse::<CreateRefund>(&body)?)));
    let (key, request) = match parsed {
        Ok(parsed) => parsed,
        Err(problem) => return invalid(&problem),
    };
    let result =
        gateway
            .ledger()
            .create_refund(&key, &request.payment_id, request.amount, unix_now());
    match result {
        Ok((refund, created)) => {
            if created {
                gateway.schedule_refund_settlement(refund.id.clone());
            }
            (
                StatusCode::CREATED,
                axum::Json(json!({
                    "id": refund.id,
                    "status": "pending",
                    "payment_id": refund.payment_id,
                    "amount": refund.amount,
                })),
            )
                .into_response()
        }
        Err(RefundError::NotFound) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no payment with that id",
        ),
        Err(RefundError::Invalid(problem)) => invalid(&problem),
        Err(RefundError::ExceedsPayment { refundable }) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "refund_exceeds_payment",
            &format!("at most {refundable} can still be refunded"),
        ),
    }
}
