//! The gateway's books: payments, refunds, idempotency keys, charge counts and webhook
//! events. Pure: time and randomness come in as arguments, maps are ordered, so the same
//! calls with the same dice build the same books.

use std::collections::BTreeMap;

use serde::Serialize;

use super::dice::{Dice, chance, hex32};
use crate::Format;

/// Decline reason of `tok_decline`.
pub const CARD_DECLINED: &str = "card_declined";
/// Failure reason of `tok_fail_webhook`.
pub const INSUFFICIENT_FUNDS: &str = "insufficient_funds";
/// Failure reason of a refund whose payment failed.
pub const PAYMENT_FAILED: &str = "payment_failed";
/// Failure reason of a refund the PSP declined (`refund_failure_rate`).
pub const REFUND_DECLINED: &str = "refund_declined";

const MAX_TEXT_LEN: usize = 255;

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

    fn final_outcome(&self) -> (PaymentStatus, Option<&'static str>) {
        match self.token.as_str() {
            "tok_decline" => (PaymentStatus::Declined, Some(CARD_DECLINED)),
            "tok_fail_webhook" => (PaymentStatus::Failed, Some(INSUFFICIENT_FUNDS)),
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

/// One webhook event and how its delivery went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    pub id: String,
    /// `payment.succeeded`, `payment.failed`, `refund.succeeded` or `refund.failed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub refund_id: Option<String>,
    /// Delivery attempts made (a dropped or duplicated attempt counts).
    pub attempts: u32,
    pub delivered: bool,
}

/// A create-payment request, already taken off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewPayment {
    pub idempotency_key: String,
    pub amount: i64,
    pub currency: String,
    pub country: String,
    pub reference: String,
    pub token: Option<String>,
}

impl NewPayment {
    /// Why the request is wrong, if it is (a 400 / `soap:Client`).
    pub fn problem(&self) -> Option<String> {
        text_problem("idempotency key", &self.idempotency_key)
            .or_else(|| text_problem("reference", &self.reference))
            .or_else(|| amount_problem(self.amount))
            .or_else(|| {
                code_problem(&self.currency, 3).then(|| "currency must be an ISO 4217 code".into())
            })
            .or_else(|| {
                code_problem(&self.country, 2)
                    .then(|| "country must be an ISO 3166 alpha-2 code".into())
            })
    }
}

/// A refund request, already taken off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewRefund {
    pub idempotency_key: String,
    pub payment_id: String,
    pub amount: i64,
}

impl NewRefund {
    pub fn problem(&self) -> Option<String> {
        text_problem("idempotency key", &self.idempotency_key)
            .or_else(|| amount_problem(self.amount))
    }
}

fn text_problem(what: &str, value: &str) -> Option<String> {
    if value.trim().is_empty() {
        Some(format!("{what} is required"))
    } else if value.len() > MAX_TEXT_LEN {
        Some(format!("{what} is longer than {MAX_TEXT_LEN} bytes"))
    } else {
        None
    }
}

fn amount_problem(amount: i64) -> Option<String> {
    (amount <= 0).then(|| "amount must be a positive integer of minor units".into())
}

fn code_problem(code: &str, len: usize) -> bool {
    code.len() != len || !code.bytes().all(|b| b.is_ascii_uppercase())
}

/// Why a refund was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefundError {
    /// No payment with that id.
    NotFound,
    /// More than what is left to refund (declined/failed payments have nothing to refund).
    ExceedsPayment { refundable: i64 },
}

/// What a webhook reports, fixed once so every retry sends the same event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Notification {
    pub event_id: String,
    pub kind: EventKind,
    pub payment_id: String,
    pub refund_id: Option<String>,
    pub reference: String,
    pub amount: i64,
    pub currency: String,
    pub failure_code: Option<String>,
    /// Unix seconds.
    pub created: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    PaymentSucceeded,
    PaymentFailed,
    RefundSucceeded,
    RefundFailed,
}

impl EventKind {
    /// The `json` format's name.
    pub fn json_name(self) -> &'static str {
        match self {
            EventKind::PaymentSucceeded => "payment.succeeded",
            EventKind::PaymentFailed => "payment.failed",
            EventKind::RefundSucceeded => "refund.succeeded",
            EventKind::RefundFailed => "refund.failed",
        }
    }

    /// The `soap` format's name.
    pub fn soap_name(self) -> &'static str {
        match self {
            EventKind::PaymentSucceeded => "PAYMENT_SUCCEEDED",
            EventKind::PaymentFailed => "PAYMENT_FAILED",
            EventKind::RefundSucceeded => "REFUND_SUCCEEDED",
            EventKind::RefundFailed => "REFUND_FAILED",
        }
    }
}

/// `pay_`/`ref_` for `json`, `txn_`/`rf_` for `soap` (WIRE.md).
fn prefixes(format: Format) -> (&'static str, &'static str) {
    match format {
        Format::Json => ("pay_", "ref_"),
        Format::Soap => ("txn_", "rf_"),
    }
}

/// Where a refund is: (payment index, refund index).
pub(crate) type RefundAt = (usize, usize);

/// A lookup by the PSP's id or by the caller's idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    Id(String),
    Key(String),
}

/// What lookups see: nothing younger than `lag_ms`, no key older than `horizon_ms`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View {
    pub now_ms: i64,
    pub lag_ms: u64,
    pub horizon_ms: u64,
}

impl View {
    fn visible(&self, created_ms: i64) -> bool {
        self.now_ms >= created_ms.saturating_add(self.lag_ms as i64)
    }

    fn key_live(&self, created_ms: i64) -> bool {
        self.horizon_ms == 0 || self.now_ms < created_ms.saturating_add(self.horizon_ms as i64)
    }
}

#[derive(Debug)]
pub(crate) struct Ledger {
    format: Format,
    payments: Vec<PaymentRecord>,
    payment_by_id: BTreeMap<String, usize>,
    /// The latest payment per key; an expired key is replaced by the next use.
    payment_by_key: BTreeMap<String, usize>,
    refund_by_id: BTreeMap<String, RefundAt>,
    refund_by_key: BTreeMap<String, RefundAt>,
    event_by_id: BTreeMap<String, (usize, usize)>,
    charges: BTreeMap<String, u32>,
}

impl Ledger {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            payments: Vec::new(),
            payment_by_id: BTreeMap::new(),
            payment_by_key: BTreeMap::new(),
            refund_by_id: BTreeMap::new(),
            refund_by_key: BTreeMap::new(),
            event_by_id: BTreeMap::new(),
            charges: BTreeMap::new(),
        }
    }

    pub fn payments(&self) -> &[PaymentRecord] {
        &self.payments
    }

    pub fn payment(&self, index: usize) -> &PaymentRecord {
        &self.payments[index]
    }

    pub fn refund(&self, (p, r): RefundAt) -> &RefundRecord {
        &self.payments[p].refunds[r]
    }

    pub fn charges(&self, key: &str) -> u32 {
        self.charges.get(key).copied().unwrap_or(0)
    }

    /// The payment this key still names (the PSP has not forgotten it).
    pub fn live_payment_key(&self, key: &str, view: View) -> Option<usize> {
        let &index = self.payment_by_key.get(key)?;
        view.key_live(self.payments[index].created_ms)
            .then_some(index)
    }

    pub fn live_refund_key(&self, key: &str, view: View) -> Option<RefundAt> {
        let &at = self.refund_by_key.get(key)?;
        view.key_live(self.refund(at).created_ms).then_some(at)
    }

    /// A status lookup: by id (ids never expire) or by a live key, and only once the
    /// index has caught up.
    pub fn find_payment(&self, lookup: &Lookup, view: View) -> Option<&PaymentRecord> {
        let index = match lookup {
            Lookup::Id(id) => *self.payment_by_id.get(id)?,
            Lookup::Key(key) => self.live_payment_key(key, view)?,
        };
        let payment = &self.payments[index];
        view.visible(payment.created_ms).then_some(payment)
    }

    pub fn find_refund(&self, lookup: &Lookup, view: View) -> Option<&RefundRecord> {
        let at = match lookup {
            Lookup::Id(id) => *self.refund_by_id.get(id)?,
            Lookup::Key(key) => self.live_refund_key(key, view)?,
        };
        let refund = self.refund(at);
        view.visible(refund.created_ms).then_some(refund)
    }

    /// Records a new payment under its key (call only when no live payment holds the
    /// key). `captured` is what is actually taken; a decline takes nothing.
    pub fn create_payment(
        &mut self,
        new: NewPayment,
        captured: i64,
        now_ms: i64,
        dice: &mut dyn Dice,
    ) -> usize {
        let mut record = PaymentRecord {
            id: format!("{}{}", prefixes(self.format).0, hex32(dice)),
            idempotency_key: new.idempotency_key,
            amount: captured,
            requested_amount: new.amount,
            currency: new.currency,
            country: new.country,
            reference: new.reference,
            token: new.token.unwrap_or_else(|| "tok_success".to_owned()),
            status: PaymentStatus::Pending,
            failure_code: None,
            refunded: 0,
            refunds: Vec::new(),
            events: Vec::new(),
            created: now_ms.div_euclid(1000),
            created_ms: now_ms,
        };
        if let (PaymentStatus::Declined, code) = record.final_outcome() {
            record.status = PaymentStatus::Declined;
            record.failure_code = code.map(str::to_owned);
            record.amount = record.requested_amount;
        } else {
            *self
                .charges
                .entry(record.idempotency_key.clone())
                .or_default() += 1;
        }
        let index = self.payments.len();
        self.payment_by_id.insert(record.id.clone(), index);
        self.payment_by_key
            .insert(record.idempotency_key.clone(), index);
        self.payments.push(record);
        index
    }

    /// Settles a pending payment to its final status and returns the event to report.
    pub fn settle_payment(
        &mut self,
        index: usize,
        now_ms: i64,
        dice: &mut dyn Dice,
    ) -> Option<Notification> {
        let payment = self.payments.get_mut(index)?;
        if payment.status != PaymentStatus::Pending {
            return None;
        }
        let (status, code) = payment.final_outcome();
        payment.status = status;
        payment.failure_code = code.map(str::to_owned);
        let kind = if status == PaymentStatus::Succeeded {
            EventKind::PaymentSucceeded
        } else {
            EventKind::PaymentFailed
        };
        let notification = Notification {
            event_id: format!("evt_{}", hex32(dice)),
            kind,
            payment_id: payment.id.clone(),
            refund_id: None,
            reference: payment.reference.clone(),
            amount: payment.amount,
            currency: payment.currency.clone(),
            failure_code: payment.failure_code.clone(),
            created: now_ms.div_euclid(1000),
        };
        self.push_event(index, &notification);
        Some(notification)
    }

    /// Records a new refund under its key (call only when no live refund holds the key).
    pub fn create_refund(
        &mut self,
        new: NewRefund,
        now_ms: i64,
        dice: &mut dyn Dice,
    ) -> Result<RefundAt, RefundError> {
        let &index = self
            .payment_by_id
            .get(&new.payment_id)
            .ok_or(RefundError::NotFound)?;
        let prefix = prefixes(self.format).1;
        let payment = &mut self.payments[index];
        // A pending payment may be refunded (the refund fails if the payment does);
        // declined and failed payments have nothing to refund.
        let captured = match payment.status {
            PaymentStatus::Pending | PaymentStatus::Succeeded => payment.amount,
            PaymentStatus::Failed | PaymentStatus::Declined => 0,
        };
        let refundable = captured - payment.refunded;
        if new.amount > refundable {
            return Err(RefundError::ExceedsPayment { refundable });
        }
        let refund = RefundRecord {
            id: format!("{prefix}{}", hex32(dice)),
            idempotency_key: new.idempotency_key,
            payment_id: payment.id.clone(),
            amount: new.amount,
            status: RefundStatus::Pending,
            failure_code: None,
            created: now_ms.div_euclid(1000),
            created_ms: now_ms,
        };
        payment.refunded += refund.amount;
        let at = (index, payment.refunds.len());
        self.refund_by_id.insert(refund.id.clone(), at);
        self.refund_by_key
            .insert(refund.idempotency_key.clone(), at);
        *self
            .charges
            .entry(refund.idempotency_key.clone())
            .or_default() += 1;
        payment.refunds.push(refund);
        Ok(at)
    }

    /// Settles a pending refund: it succeeds unless its payment failed, or the PSP
    /// declines it (a share `decline_rate` of those that could succeed).
    pub fn settle_refund(
        &mut self,
        (p, r): RefundAt,
        now_ms: i64,
        decline_rate: f64,
        dice: &mut dyn Dice,
    ) -> Option<Notification> {
        let payment = self.payments.get_mut(p)?;
        if payment.refunds.get(r)?.status != RefundStatus::Pending {
            return None;
        }
        let failure = if payment.final_outcome().0 != PaymentStatus::Succeeded {
            Some(PAYMENT_FAILED)
        } else if chance(dice, decline_rate) {
            Some(REFUND_DECLINED)
        } else {
            None
        };
        let refund = &mut payment.refunds[r];
        let kind = match failure {
            None => {
                refund.status = RefundStatus::Succeeded;
                EventKind::RefundSucceeded
            }
            Some(code) => {
                refund.status = RefundStatus::Failed;
                refund.failure_code = Some(code.to_owned());
                EventKind::RefundFailed
            }
        };
        let notification = Notification {
            event_id: format!("evt_{}", hex32(dice)),
            kind,
            payment_id: payment.id.clone(),
            refund_id: Some(refund.id.clone()),
            reference: payment.reference.clone(),
            amount: refund.amount,
            currency: payment.currency.clone(),
            failure_code: refund.failure_code.clone(),
            created: now_ms.div_euclid(1000),
        };
        if failure.is_some() {
            payment.refunded -= notification.amount;
        }
        self.push_event(p, &notification);
        Some(notification)
    }

    fn push_event(&mut self, payment_index: usize, notification: &Notification) {
        let events = &mut self.payments[payment_index].events;
        events.push(EventRecord {
            id: notification.event_id.clone(),
            kind: notification.kind.json_name().to_owned(),
            refund_id: notification.refund_id.clone(),
            attempts: 0,
            delivered: false,
        });
        self.event_by_id.insert(
            notification.event_id.clone(),
            (payment_index, events.len() - 1),
        );
    }

    /// Records one delivery attempt of a webhook event.
    pub fn record_attempt(&mut self, event_id: &str, delivered: bool) {
        if let Some(&(p, e)) = self.event_by_id.get(event_id) {
            let event = &mut self.payments[p].events[e];
            event.attempts += 1;
            event.delivered |= delivered;
        }
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
