//! The port to a payment gateway (PSP). One connector per wire format implements it.
//!
//! Every outcome is classified, because what is safe to do next depends on it:
//! accepted and declined are final answers; transient means nothing happened, so another
//! gateway may be tried; ambiguous means the request may have been acted on, so the only
//! safe next step is to ask this gateway what happened, never to pay again elsewhere.

use crate::deposit::Direction;
use crate::ids::DepositId;
use crate::money::{Amount, Country, Currency, Money};
use async_trait::async_trait;
use secrecy::SecretString;
use std::time::Duration;

/// A payment, or a payout (then `token` is its destination's).
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    /// `<deposit id>:<attempt>`: the PSP charges (or pays out) at most once per key.
    pub idempotency_key: String,
    pub deposit_id: DepositId,
    pub amount: Amount,
    pub currency: Currency,
    pub country: Country,
    /// The payment method token, decrypted only for this call.
    pub token: Option<SecretString>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The PSP took the payment; its final outcome arrives by webhook.
    Accepted { external_id: String },
    /// The PSP refused the payer. Final: no other gateway is tried.
    Declined { code: String, message: String },
    /// Nothing was done (unreachable, 503, 429, throttled): another gateway may be tried.
    Transient { reason: String },
    /// The request may have been acted on (timeout after sending, 500, reset).
    Ambiguous { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentState {
    Pending,
    Succeeded,
    Failed { code: String },
    Declined { code: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusOutcome {
    Found {
        external_id: String,
        state: PaymentState,
        /// What the PSP says the payment is for (`None` if its answer did not say).
        charged: Option<Money>,
    },
    /// The PSP has no payment for this key or id *now*. Not proof that none exists:
    /// PSPs index asynchronously and forget keys after a while.
    NotFound,
    /// The PSP could not answer now.
    Unknown { reason: String },
}

#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// `<deposit id>:refund:<refund id>`.
    pub idempotency_key: String,
    pub external_id: String,
    pub amount: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Accepted { refund_external_id: String },
    Rejected { code: String, message: String },
    Transient { reason: String },
    Ambiguous { reason: String },
}

/// Where a refund stands at the PSP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundSettlement {
    Pending,
    Succeeded,
    Failed { code: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundStatusOutcome {
    Found {
        refund_external_id: String,
        state: RefundSettlement,
    },
    /// The PSP has no refund for this key or id *now* (not proof, as for payments).
    NotFound,
    Unknown {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthOutcome {
    Healthy { latency: Duration },
    Unhealthy { reason: String, latency: Duration },
}

#[async_trait]
pub trait GatewayConnector: Send + Sync {
    async fn create_payment(&self, request: &PaymentRequest) -> PaymentOutcome;
    /// Looks a payment up by the PSP's id when it is known (ids outlive idempotency
    /// keys, which PSPs forget), else by the idempotency key it was created with.
    async fn payment_status(
        &self,
        idempotency_key: &str,
        external_id: Option<&str>,
    ) -> StatusOutcome;
    /// Pays `request.amount` out to the destination whose token `request.token` carries
    /// (a payout: the merchant's money leaves). Classified like a payment.
    async fn create_payout(&self, request: &PaymentRequest) -> PaymentOutcome;
    /// Looks a payout up like [`Self::payment_status`] (`Succeeded`: paid).
    async fn payout_status(
        &self,
        idempotency_key: &str,
        external_id: Option<&str>,
    ) -> StatusOutcome;
    async fn refund(&self, request: &RefundRequest) -> RefundOutcome;
    /// Looks a refund up by the PSP's refund id when known, else by its idempotency key.
    async fn refund_status(
        &self,
        idempotency_key: &str,
        refund_external_id: Option<&str>,
    ) -> RefundStatusOutcome;
    async fn health(&self) -> HealthOutcome;
}

/// Sends the attempt's request the way its money goes: a payment or a payout.
pub async fn send(
    connector: &dyn GatewayConnector,
    direction: Direction,
    request: &PaymentRequest,
) -> PaymentOutcome {
    match direction {
        Direction::Deposit => connector.create_payment(request).await,
        Direction::Payout => connector.create_payout(request).await,
    }
}

/// Asks the gateway about a payment or a payout, by its id when known, else by its key.
pub async fn look_up(
    connector: &dyn GatewayConnector,
    direction: Direction,
    idempotency_key: &str,
    external_id: Option<&str>,
) -> StatusOutcome {
    match direction {
        Direction::Deposit => connector.payment_status(idempotency_key, external_id).await,
        Direction::Payout => connector.payout_status(idempotency_key, external_id).await,
    }
}

/// What a gateway's webhook reports, once verified and parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
/// A payout's webhook is reported as a payment's (`PaymentSucceeded`: paid): the
/// gateway's id for it finds its stream, whichever way the money went.
pub struct GatewayNotification {
    /// The gateway's own event id (stable across its retries).
    pub event_id: String,
    /// The gateway's payment id, as returned when the payment was accepted.
    pub external_id: String,
    /// The reference the payment was created with (our deposit id), so a charge whose
    /// submission was never recorded can still be traced to its deposit.
    pub reference: String,
    /// What moved: the payment's amount for payment events, the refund's for refund
    /// events. Checked against the deposit; a mismatch is an anomaly, never a success.
    pub charged: Money,
    pub outcome: NotifiedOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifiedOutcome {
    PaymentSucceeded,
    PaymentFailed {
        code: String,
    },
    RefundSucceeded {
        refund_external_id: String,
    },
    RefundFailed {
        refund_external_id: String,
        code: String,
    },
}

impl NotifiedOutcome {
    pub fn name(&self) -> &'static str {
        match self {
            Self::PaymentSucceeded => "payment_succeeded",
            Self::PaymentFailed { .. } => "payment_failed",
            Self::RefundSucceeded { .. } => "refund_succeeded",
            Self::RefundFailed { .. } => "refund_failed",
        }
    }
}
