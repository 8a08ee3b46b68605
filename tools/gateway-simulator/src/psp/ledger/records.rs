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

/// A payment's or a payout's status: `pending` until it settles once, or refused at once
/// (a declined payment, a rejected payout), which is final.
pub(crate) trait Status: Copy + Eq {
    const PENDING: Self;
    const REFUSED: Self;

    /// Where an order ends, chosen by its card token or destination, and why it failed.
    fn outcome(chosen_by: &str) -> (Self, Option<&'static str>);

    /// The event reporting a settlement to this status.
    fn settled_event(self) -> EventKind;

    /// The status as the JSON format (and the admin API) spells it; SOAP upper-cases it.
    fn name(self) -> &'static str;
}

impl Status for PaymentStatus {
    const PENDING: Self = Self::Pending;
    const REFUSED: Self = Self::Declined;

    fn outcome(token: &str) -> (Self, Option<&'static str>) {
        let [_, decline, fail_webhook] = MAGIC_CARD_TOKENS;
        match token {
            token if token == decline => (Self::Declined, Some(CARD_DECLINED)),
            token if token == fail_webhook => (Self::Failed, Some(INSUFFICIENT_FUNDS)),
            _ => (Self::Succeeded, None),
        }
    }

    fn settled_event(self) -> EventKind {
        if self == Self::Succeeded {
            EventKind::PaymentSucceeded
        } else {
            EventKind::PaymentFailed
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Declined => "declined",
        }
    }
}

impl Status for PayoutStatus {
    const PENDING: Self = Self::Pending;
    const REFUSED: Self = Self::Rejected;

    fn outcome(destination: &str) -> (Self, Option<&'static str>) {
        match destination {
            "ba_reject" => (Self::Rejected, Some(DESTINATION_REJECTED)),
            "ba_fail_webhook" => (Self::Failed, Some(ACCOUNT_CLOSED)),
            _ => (Self::Paid, None),
        }
    }

    fn settled_event(self) -> EventKind {
        if self == Self::Paid {
            EventKind::PayoutPaid
        } else {
            EventKind::PayoutFailed
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
        }
    }
}

/// What the books need of a payment or a payout: how to file it, what its events
/// report, and how it goes from created to settled.
pub(crate) trait Order {
    type Status: Status;

    fn id(&self) -> &str;
    fn idempotency_key(&self) -> &str;
    fn created_ms(&self) -> i64;
    fn reference(&self) -> &str;
    fn amount(&self) -> i64;
    fn currency(&self) -> &str;
    fn failure_code(&self) -> Option<&str>;
    fn status(&self) -> Self::Status;
    /// The card token or the destination, which chooses the outcome.
    fn outcome_chooser(&self) -> &str;
    fn set_outcome(&mut self, status: Self::Status, failure_code: Option<&str>);

    /// Where it ends, and why when it fails.
    fn final_outcome(&self) -> (Self::Status, Option<&'static str>) {
        Self::Status::outcome(self.outcome_chooser())
    }

    /// What the create call answered first (and so answers on every repeat).
    fn first_status(&self) -> Self::Status {
        if self.status() == Self::Status::REFUSED {
            Self::Status::REFUSED
        } else {
            Self::Status::PENDING
        }
    }

    /// Why the create call refused the order at once; none when it accepted it.
    fn refusal_code(&self) -> Option<&str> {
        if self.first_status() == Self::Status::REFUSED {
            self.failure_code()
        } else {
            None
        }
    }

    /// Refuses a new order at once when that is its outcome; whether it did.
    fn refused_at_once(&mut self) -> bool {
        let (status, code) = self.final_outcome();
        let refused = status == Self::Status::REFUSED;
        if refused {
            self.set_outcome(status, code);
        }
        refused
    }

    /// Settles a pending order to its final status; the event to report.
    fn settle(&mut self) -> Option<EventKind> {
        if self.status() != Self::Status::PENDING {
            return None;
        }
        let (status, code) = self.final_outcome();
        self.set_outcome(status, code);
        Some(status.settled_event())
    }
}

macro_rules! order {
    ($record:ty, $status:ty, $chooser:ident) => {
        impl Order for $record {
            type Status = $status;

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
            fn status(&self) -> $status {
                self.status
            }
            fn outcome_chooser(&self) -> &str {
                &self.$chooser
            }
            fn set_outcome(&mut self, status: $status, failure_code: Option<&str>) {
                self.status = status;
                self.failure_code = failure_code.map(str::to_owned);
            }
        }
    };
}

order!(PaymentRecord, PaymentStatus, token);
order!(PayoutRecord, PayoutStatus, destination);

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
