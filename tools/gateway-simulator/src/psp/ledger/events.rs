//! The webhook events the books report.

use super::Dice;
use super::hex32;
use super::records::Order;

/// What a webhook reports, fixed once so every retry sends the same event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Notification {
    pub event_id: String,
    pub kind: EventKind,
    /// The payment's id (payment and refund events) or the payout's (payout events).
    pub subject_id: String,
    pub refund_id: Option<String>,
    pub reference: String,
    pub amount: i64,
    pub currency: String,
    pub failure_code: Option<String>,
    /// Unix seconds.
    pub created: i64,
}

impl Notification {
    /// The event reporting that `order` settled as `kind`, with a new event id.
    pub(super) fn settled(
        order: &impl Order,
        kind: EventKind,
        now_ms: i64,
        dice: &mut dyn Dice,
    ) -> Self {
        Notification {
            event_id: format!("evt_{}", hex32(dice)),
            kind,
            subject_id: order.id().to_owned(),
            refund_id: None,
            reference: order.reference().to_owned(),
            amount: order.amount(),
            currency: order.currency().to_owned(),
            failure_code: order.failure_code().map(str::to_owned),
            created: now_ms.div_euclid(1000),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    PaymentSucceeded,
    PaymentFailed,
    RefundSucceeded,
    RefundFailed,
    PayoutPaid,
    PayoutFailed,
}

impl EventKind {
    /// The `json` format's name.
    pub fn json_name(self) -> &'static str {
        match self {
            EventKind::PaymentSucceeded => "payment.succeeded",
            EventKind::PaymentFailed => "payment.failed",
            EventKind::RefundSucceeded => "refund.succeeded",
            EventKind::RefundFailed => "refund.failed",
            EventKind::PayoutPaid => "payout.paid",
            EventKind::PayoutFailed => "payout.failed",
        }
    }

    /// The `soap` format's name.
    pub fn soap_name(self) -> &'static str {
        match self {
            EventKind::PaymentSucceeded => "PAYMENT_SUCCEEDED",
            EventKind::PaymentFailed => "PAYMENT_FAILED",
            EventKind::RefundSucceeded => "REFUND_SUCCEEDED",
            EventKind::RefundFailed => "REFUND_FAILED",
            EventKind::PayoutPaid => "PAYOUT_PAID",
            EventKind::PayoutFailed => "PAYOUT_FAILED",
        }
    }

    /// Whether the event is about a payout (its subject id is a payout id).
    pub fn is_payout(self) -> bool {
        matches!(self, EventKind::PayoutPaid | EventKind::PayoutFailed)
    }
}
