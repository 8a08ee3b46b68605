//! What the books hold: payments with their refunds, payouts, and each one's webhook
//! events, with the statuses they go through.

use serde::Serialize;

use super::EventKind;

use super::{
    ACCOUNT_CLOSED, CARD_DECLINED, DESTINATION_REJECTED, INSUFFICIENT_FUNDS, MAGIC_CARD_TOKENS,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Declined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
}

/// Where a payout stands: `rejected` at once, or `pending` until it settles `paid` or
/// `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PayoutStatus {
    Pending,
    Paid,
    Failed,
    Rejected,
}

impl PaymentStatus {
    /// The status as the JSON format (and the admin API) spells it; SOAP upper-cases it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Declined => "declined",
        }
    }
}

impl RefundStatus {
    /// The status as the JSON format (and the admin API) spells it; SOAP upper-cases it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

impl PayoutStatus {
    /// The status as the JSON format (and the admin API) spells it; SOAP upper-cases it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
        }
    }
}

/// A payment as the gateway sees it (`GET /admin/payments`): the ground truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentRecord {
    pub id: String,
    pub idempotency_key: String,
    /// What was captured (differs from `requested_amount` under `capture_mismatch_rate`).
    pub amount: i64,
    /// What the create call asked for.
    pub requested_amount: i64,
    pub currency: String,
    pub country: String,
    pub reference: String,
    pub token: String,
    pub status: PaymentStatus,
    pub failure_code: Option<String>,
    /// Sum of the refunds that did not fail.
    pub refunded: i64,
    pub refunds: Vec<RefundRecord>,
    pub events: Vec<EventRecord>,
    /// Unix seconds.
    pub created: i64,
    /// Unix milliseconds.
    pub created_ms: i64,
}

impl PaymentRecord {
    /// What the create call answered first (and so answers on every repeat).
    pub fn first_status(&self) -> PaymentStatus {
        if self.status == PaymentStatus::Declined {
            PaymentStatus::Declined
        } else {
            PaymentStatus::Pending
        }
    }

    /// Settles a pending payment to its final status; the event to report.
    pub(super) fn settle(&mut self) -> Option<EventKind> {
        if self.status != PaymentStatus::Pending {
            return None;
        }
        let (status, code) = self.final_outcome();
        self.status = status;
        self.failure_code = code.map(str::to_owned);
        Some(if status == PaymentStatus::Succeeded {
            EventKind::PaymentSucceeded
        } else {
            EventKind::PaymentFailed
        })
    }

    pub(super) fn final_outcome(&self) -> (PaymentStatus, Option<&'static str>) {
        let [_, decline, fail_webhook] = MAGIC_CARD_TOKENS;
        match self.token.as_str() {
            token if token == decline => (PaymentStatus::Declined, Some(CARD_DECLINED)),
            token if token == fail_webhook => (PaymentStatus::Failed, Some(INSUFFICIENT_FUNDS)),
            _ => (PaymentStatus::Succeeded, None),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefundRecord {
    pub id: String,
    pub idempotency_key: String,
    pub payment_id: String,
    pub amount: i64,
    pub status: RefundStatus,
    pub failure_code: Option<String>,
    /// Unix seconds.
    pub created: i64,
    /// Unix milliseconds.
    pub created_ms: i64,
}

/// A payout as the gateway sees it (`GET /admin/payouts`): the ground truth. Never
/// refundable; a rejected payout moved no money.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PayoutRecord {
    pub id: String,
    pub idempotency_key: String,
    /// What is paid out (always the requested amount).
    pub amount: i64,
    pub currency: String,
    pub country: String,
    /// The caller's payout id.
    pub reference: String,
    /// The destination token (`ba_success` when the request named none).
    pub destination: String,
    pub status: PayoutStatus,
    pub failure_code: Option<String>,
    pub events: Vec<EventRecord>,
    /// Unix seconds.
    pub created: i64,
    /// Unix milliseconds.
    pub created_ms: i64,
}

impl PayoutRecord {
    /// What the create call answered first (and so answers on every repeat).
    pub fn first_status(&self) -> PayoutStatus {
        if self.status == PayoutStatus::Rejected {
            PayoutStatus::Rejected
        } else {
            PayoutStatus::Pending
        }
    }

    /// Settles a pending payout to its final status; the event to report.
    pub(super) fn settle(&mut self) -> Option<EventKind> {
        if self.status != PayoutStatus::Pending {
            return None;
        }
        let (status, code) = self.final_outcome();
        self.status = status;
        self.failure_code = code.map(str::to_owned);
        Some(if status == PayoutStatus::Paid {
            EventKind::PayoutPaid
        } else {
            EventKind::PayoutFailed
        })
    }

    pub(super) fn final_outcome(&self) -> (PayoutStatus, Option<&'static str>) {
        match self.destination.as_str() {
            "ba_reject" => (PayoutStatus::Rejected, Some(DESTINATION_REJECTED)),
            "ba_fail_webhook" => (PayoutStatus::Failed, Some(ACCOUNT_CLOSED)),
            _ => (PayoutStatus::Paid, None),
        }
    }
}

/// What the books need of a payment or a payout: how to file it, and what its events
/// report.
pub(super) trait Order {
    fn id(&self) -> &str;
    fn idempotency_key(&self) -> &str;
    fn created_ms(&self) -> i64;
    fn reference(&self) -> &str;
    fn amount(&self) -> i64;
    fn currency(&self) -> &str;
    fn failure_code(&self) -> Option<&str>;
}

macro_rules! order {
    ($record:ty) => {
        impl Order for $record {
            fn id(&self) -> &str {
                &self.id
            }
            fn idempotency_key(&self) -> &str {
                &self.idempotency_key
            }
            fn created_ms(&self) -> i64 {
                self.created_ms
            }
            fn reference(&self) -> &str {
                &self.reference
            }
            fn amount(&self) -> i64 {
                self.amount
            }
            fn currency(&self) -> &str {
                &self.currency
            }
            fn failure_code(&self) -> Option<&str> {
                self.failure_code.as_deref()
            }
        }
    };
}

order!(PaymentRecord);
order!(PayoutRecord);

/// One webhook event and how its delivery went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    pub id: String,
    /// `payment.succeeded`, `payment.failed`, `refund.succeeded`, `refund.failed`,
    /// `payout.paid` or `payout.failed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub refund_id: Option<String>,
    /// Delivery attempts made (a dropped or duplicated attempt counts).
    pub attempts: u32,
    pub delivered: bool,
}
