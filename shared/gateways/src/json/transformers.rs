//! Between the domain's gateway types and the JSON PSP's (WIRE.md, format `json`).

use crate::classify::{HttpClass, REJECTED_REQUEST, http_reason, present, psp_code, psp_message};
use crate::transport::Reply;
use paygate_domain::ports::gateway::{
    PaymentOutcome, PaymentRequest, PaymentState, RefundOutcome, RefundRequest, RefundSettlement,
    RefundStatusOutcome, StatusOutcome,
};
use paygate_domain::{Amount, Currency, Money};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

// ---- requests ----

/// What a payment and a payout request both carry: the money, the country, and our
/// reference (the deposit's or the payout's id).
#[derive(Serialize)]
pub struct JsonOrder {
    pub amount: u64,
    pub currency: &'static str,
    pub country: &'static str,
    pub reference: String,
}

impl From<&PaymentRequest> for JsonOrder {
    fn from(request: &PaymentRequest) -> Self {
        Self {
            amount: request.amount.minor(),
            currency: request.currency.code(),
            country: request.country.code(),
            reference: request.deposit_id.to_string(),
        }
    }
}

/// `POST /v1/payments`. Holds the exposed token, so it has no `Debug` and lives only
/// until it is serialised.
#[derive(Serialize)]
pub struct JsonPaymentRequest<'a> {
    #[serde(flatten)]
    pub order: JsonOrder,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
}

impl<'a> From<&'a PaymentRequest> for JsonPaymentRequest<'a> {
    fn from(request: &'a PaymentRequest) -> Self {
        Self {
            order: request.into(),
            token: request.token.as_ref().map(|t| t.expose_secret()),
        }
    }
}

/// `POST /v1/payouts`: a payment request the other way, its token the destination's.
/// Holds the exposed token, so it has no `Debug` and lives only until it is serialised.
#[derive(Serialize)]
pub struct JsonPayoutRequest<'a> {
    #[serde(flatten)]
    pub order: JsonOrder,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<&'a str>,
}

impl<'a> From<&'a PaymentRequest> for JsonPayoutRequest<'a> {
    fn from(request: &'a PaymentRequest) -> Self {
        Self {
            order: request.into(),
            destination: request.token.as_ref().map(|t| t.expose_secret()),
        }
    }
}

/// `POST /v1/refunds`.
#[derive(Debug, Serialize)]
pub struct JsonRefundRequest<'a> {
    pub payment_id: &'a str,
    pub amount: u64,
}

impl<'a> From<&'a RefundRequest> for JsonRefundRequest<'a> {
    fn from(request: &'a RefundRequest) -> Self {
        Self {
            payment_id: &request.external_id,
            amount: request.amount.minor(),
        }
    }
}

// ---- responses ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonPaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Declined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonPayoutStatus {
    Pending,
    Paid,
    Failed,
    Rejected,
}

/// A payment or a payout as the PSP shows it (create and status answers), its status an
/// `S`.
#[derive(Debug, Deserialize)]
pub struct JsonMovement<S> {
    pub id: String,
    pub status: S,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub amount: Option<u64>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// A payment as the PSP shows it (create and status answers).
pub type JsonPayment = JsonMovement<JsonPaymentStatus>;

/// A payout as the PSP shows it (create and status answers).
pub type JsonPayout = JsonMovement<JsonPayoutStatus>;

/// A payment or a payout as the PSP shows it: money moving one way or the other,
/// classified alike (a payout `paid` is a payment `succeeded`, `rejected` is `declined`).
trait Movement: for<'de> Deserialize<'de> {
    /// `payment` or `payout`, for reasons and messages.
    const WHAT: &'static str;
    fn id(&self) -> &str;
    /// Its status as the PSP spelled it.
    fn status_name(&self) -> &'static str;
    /// Its state, with the PSP's code (or the status name) when it failed or was refused.
    fn state(&self) -> PaymentState;
    fn amount(&self) -> Option<u64>;
    fn currency(&self) -> Option<&str>;

    /// What moved, when the PSP said so in a form we can read.
    fn charged(&self) -> Option<Money> {
        Some(Money {
            amount: Amount::new(self.amount()?).ok()?,
            currency: Currency::parse(self.currency()?.trim()).ok()?,
        })
    }
}

/// The PSP's code when usable, else the status's name.
fn code_or(failure_code: Option<&str>, status: &str) -> String {
    psp_code(failure_code).unwrap_or_else(|| status.to_owned())
}

/// A payment's or a payout's status: what the PSP calls it, and the payment status it
/// amounts to (a payout `paid` is a payment `succeeded`, `rejected` is `declined`).
trait MovementStatus: Copy {
    /// `payment` or `payout`.
    const WHAT: &'static str;
    fn meaning(self) -> (&'static str, JsonPaymentStatus);
}

impl MovementStatus for JsonPaymentStatus {
    const WHAT: &'static str = "payment";

    fn meaning(self) -> (&'static str, JsonPaymentStatus) {
        let name = match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Declined => "declined",
        };
        (name, self)
    }
}

impl MovementStatus for JsonPayoutStatus {
    const WHAT: &'static str = "payout";

    fn meaning(self) -> (&'static str, JsonPaymentStatus) {
        match self {
            Self::Pending => ("pending", JsonPaymentStatus::Pending),
            Self::Paid => ("paid", JsonPaymentStatus::Succeeded),
            Self::Failed => ("failed", JsonPaymentStatus::Failed),
            Self::Rejected => ("rejected", JsonPaymentStatus::Declined),
        }
    }
}

impl<S: MovementStatus + for<'de> Deserialize<'de>> Movement for JsonMovement<S> {
    const WHAT: &'static str = S::WHAT;

    fn id(&self) -> &str {
        &self.id
    }

    fn status_name(&self) -> &'static str {
        self.status.meaning().0
    }

    fn state(&self) -> PaymentState {
        let code = || code_or(self.failure_code.as_deref(), self.status_name());
        match self.status.meaning().1 {
            JsonPaymentStatus::Pending => PaymentState::Pending,
            JsonPaymentStatus::Succeeded => PaymentState::Succeeded,
            JsonPaymentStatus::Failed => PaymentState::Failed { code: code() },
            JsonPaymentStatus::Declined => PaymentState::Declined { code: code() },
        }
    }

    fn amount(&self) -> Option<u64> {
        self.amount
    }

    fn currency(&self) -> Option<&str> {
        self.currency.as_deref()
    }
}

#[derive(Debug, Deserialize)]
pub struct JsonRefund {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub failure_code: Option<String>,
}

/// `{"error":{"code":..,"message":..}}`.
#[derive(Debug, Deserialize)]
pub struct JsonErrorBody {
    pub error: JsonError,
}

#[derive(Debug, Deserialize)]
pub struct JsonError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl JsonErrorBody {
    fn parse(body: &[u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }
}

/// A JSON value with a non-blank `id`, or nothing.
fn parse_with_id<T: for<'de> Deserialize<'de>>(body: &[u8], id: impl Fn(&T) -> &str) -> Option<T> {
    serde_json::from_slice::<T>(body)
        .ok()
        .filter(|value| present(Some(id(value))).is_some())
}

/// The code and message of a refused request: the PSP's own when usable, else `fallback`
/// and the HTTP status.
fn refusal(reply: &Reply, fallback: &str) -> (String, String) {
    let error = JsonErrorBody::parse(&reply.body).map(|b| b.error);
    let code = error
        .as_ref()
        .and_then(|e| psp_code(e.code.as_deref()))
        .unwrap_or_else(|| fallback.to_owned());
    let message = psp_message(
        error.as_ref().and_then(|e| e.message.as_deref()),
        &http_reason(reply.status),
    );
    (code, message)
}

/// A status lookup's answer: the record (on 2xx), the PSP's own "not found" (on 404), or
/// why neither.
enum Lookup<T> {
    Found(T),
    NotFound,
    Unknown(String),
}

/// Reads a lookup of a `what` (payment, refund) whose record `T` carries its `id`.
fn lookup<T: for<'de> Deserialize<'de>>(
    reply: &Reply,
    what: &str,
    id: impl Fn(&T) -> &str,
) -> Lookup<T> {
    match reply.status {
        200..=299 => match parse_with_id::<T>(&reply.body, id) {
            Some(record) => Lookup::Found(record),
            None => Lookup::Unknown(format!(
                "{}: unreadable {what} body",
                http_reason(reply.status)
            )),
        },
        // Only the PSP's own "not found" proves the attempt never reached it.
        404 if is_not_found(&reply.body) => Lookup::NotFound,
        status => Lookup::Unknown(http_reason(status)),
    }
}

/// The answer to a create call (`POST /v1/payments`, `POST /v1/payouts`).
fn created<T: Movement>(reply: &Reply) -> PaymentOutcome {
    match HttpClass::of(reply.status) {
        HttpClass::Success => match parse_with_id::<T>(&reply.body, T::id) {
            Some(record) => match record.state() {
                PaymentState::Pending | PaymentState::Succeeded => PaymentOutcome::Accepted {
                    external_id: record.id().trim().to_owned(),
                },
                PaymentState::Failed { code } | PaymentState::Declined { code } => {
                    PaymentOutcome::Declined {
                        code,
                        message: format!("{} {} by the gateway", T::WHAT, record.status_name()),
                    }
                }
            },
            // It answered success but we cannot tell what it did: it may have moved money.
            None => PaymentOutcome::Ambiguous {
                reason: format!("{}: unreadable {} body", http_reason(reply.status), T::WHAT),
            },
        },
        HttpClass::NotActedOn => PaymentOutcome::Transient {
            reason: http_reason(reply.status),
        },
        HttpClass::Rejected => {
            // 402 is the payer's decline; any other 4xx (a payout's 422
            // destination_rejected among them) is the request refused. Both are final;
            // the PSP's code tells which.
            let fallback = if reply.status == 402 {
                "declined"
            } else {
                REJECTED_REQUEST
            };
            let (code, message) = refusal(reply, fallback);
            PaymentOutcome::Declined { code, message }
        }
        HttpClass::Unknown => PaymentOutcome::Ambiguous {
            reason: http_reason(reply.status),
        },
    }
}

/// The answer to a status lookup of a payment or a payout.
fn status<T: Movement>(reply: &Reply) -> StatusOutcome {
    match lookup::<T>(reply, T::WHAT, T::id) {
        Lookup::Found(record) => StatusOutcome::Found {
            external_id: record.id().trim().to_owned(),
            state: record.state(),
            charged: record.charged(),
        },
        Lookup::NotFound => StatusOutcome::NotFound,
        Lookup::Unknown(reason) => StatusOutcome::Unknown { reason },
    }
}

/// The answer to `POST /v1/payments`.
pub(crate) struct CreatePaymentReply(pub(crate) Reply);

impl From<CreatePaymentReply> for PaymentOutcome {
    fn from(CreatePaymentReply(reply): CreatePaymentReply) -> Self {
        created::<JsonPayment>(&reply)
    }
}

/// The answer to `GET /v1/payments/{id}` or `GET /v1/payments?idempotency_key=..`.
pub(crate) struct PaymentStatusReply(pub(crate) Reply);

impl From<PaymentStatusReply> for StatusOutcome {
    fn from(PaymentStatusReply(reply): PaymentStatusReply) -> Self {
        status::<JsonPayment>(&reply)
    }
}

/// The answer to `POST /v1/payouts`: `422 destination_rejected` is a final `Declined`.
pub(crate) struct CreatePayoutReply(pub(crate) Reply);

impl From<CreatePayoutReply> for PaymentOutcome {
    fn from(CreatePayoutReply(reply): CreatePayoutReply) -> Self {
        created::<JsonPayout>(&reply)
    }
}

/// The answer to `GET /v1/payouts/{id}` or `GET /v1/payouts?idempotency_key=..`.
pub(crate) struct PayoutStatusReply(pub(crate) Reply);

impl From<PayoutStatusReply> for StatusOutcome {
    fn from(PayoutStatusReply(reply): PayoutStatusReply) -> Self {
        status::<JsonPayout>(&reply)
    }
}

fn is_not_found(body: &[u8]) -> bool {
    JsonErrorBody::parse(body)
        .is_some_and(|b| present(b.error.code.as_deref()) == Some("not_found"))
}

/// The answer to `POST /v1/refunds`.
pub(crate) struct RefundReply(pub(crate) Reply);

impl From<RefundReply> for RefundOutcome {
    fn from(RefundReply(reply): RefundReply) -> Self {
        // A 404 with the PSP's own error is its answer (no such payment): final. A bare 404
        // is a wrong URL: nothing was done.
        let class = match HttpClass::of(reply.status) {
            HttpClass::NotActedOn
                if reply.status == 404 && JsonErrorBody::parse(&reply.body).is_some() =>
            {
                HttpClass::Rejected
            }
            class => class,
        };
        match class {
            HttpClass::Success => match parse_with_id::<JsonRefund>(&reply.body, |r| &r.id) {
                Some(refund) => match present(refund.status.as_deref()) {
                    Some(status @ ("failed" | "declined")) => Self::Rejected {
                        code: psp_code(refund.failure_code.as_deref())
                            .unwrap_or_else(|| status.to_owned()),
                        message: format!("refund {status} by the gateway"),
                    },
                    _ => Self::Accepted {
                        refund_external_id: refund.id.trim().to_owned(),
                    },
                },
                None => Self::Ambiguous {
                    reason: format!("{}: unreadable refund body", http_reason(reply.status)),
                },
            },
            HttpClass::NotActedOn => Self::Transient {
                reason: http_reason(reply.status),
            },
            HttpClass::Rejected => {
                let (code, message) = refusal(&reply, REJECTED_REQUEST);
                Self::Rejected { code, message }
            }
            HttpClass::Unknown => Self::Ambiguous {
                reason: http_reason(reply.status),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonRefundStatus {
    Pending,
    Succeeded,
    Failed,
}

/// A refund as `GET /v1/refunds/{id}` or `GET /v1/refunds?idempotency_key=..` shows it.
#[derive(Debug, Deserialize)]
pub struct JsonRefundView {
    pub id: String,
    pub status: JsonRefundStatus,
    #[serde(default)]
    pub failure_code: Option<String>,
}

/// The answer to a refund status lookup: classified like a payment status lookup.
pub(crate) struct RefundStatusReply(pub(crate) Reply);

impl From<RefundStatusReply> for RefundStatusOutcome {
    fn from(RefundStatusReply(reply): RefundStatusReply) -> Self {
        match lookup::<JsonRefundView>(&reply, "refund", |r| &r.id) {
            Lookup::Found(refund) => Self::Found {
                refund_external_id: refund.id.trim().to_owned(),
                state: match refund.status {
                    JsonRefundStatus::Pending => RefundSettlement::Pending,
                    JsonRefundStatus::Succeeded => RefundSettlement::Succeeded,
                    JsonRefundStatus::Failed => RefundSettlement::Failed {
                        code: psp_code(refund.failure_code.as_deref())
                            .unwrap_or_else(|| "failed".to_owned()),
                    },
                },
            },
            Lookup::NotFound => Self::NotFound,
            Lookup::Unknown(reason) => Self::Unknown { reason },
        }
    }
}

#[cfg(test)]
mod tests;
