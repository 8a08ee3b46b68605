//! The gateway's books: payments, refunds, payouts, idempotency keys, charge counts and
//! webhook events. Pure: time and randomness come in as arguments, maps are ordered, so the same
//! calls with the same dice build the same books.

mod events;
mod records;
mod requests;

use std::collections::BTreeMap;

use super::dice::{Dice, chance, hex32};
use crate::Format;

pub(crate) use events::{EventKind, Notification};
pub use records::{
    EventRecord, PaymentRecord, PaymentStatus, PayoutRecord, PayoutStatus, RefundRecord,
    RefundStatus,
};
pub(crate) use records::{Order, Status};
pub(crate) use requests::{NewOrder, NewPayment, NewPayout, NewRefund, RefundError};

/// The card tokens that choose an outcome: success (also any other token, and none),
/// an immediate decline, a failure reported later by webhook.
pub const MAGIC_CARD_TOKENS: [&str; 3] = ["tok_success", "tok_decline", "tok_fail_webhook"];

/// Decline reason of `tok_decline`.
pub const CARD_DECLINED: &str = "card_declined";
/// Failure reason of `tok_fail_webhook`.
pub const INSUFFICIENT_FUNDS: &str = "insufficient_funds";
/// Failure reason of a refund whose payment failed.
pub const PAYMENT_FAILED: &str = "payment_failed";
/// Failure reason of a refund the PSP declined (`refund_failure_rate`).
pub const REFUND_DECLINED: &str = "refund_declined";
/// Rejection reason of the payout destination `ba_reject`.
pub const DESTINATION_REJECTED: &str = "destination_rejected";
/// Failure reason of the payout destination `ba_fail_webhook`.
pub const ACCOUNT_CLOSED: &str = "account_closed";

/// `pay_`/`ref_` for `json`, `txn_`/`rf_` for `soap` (WIRE.md).
fn prefixes(format: Format) -> (&'static str, &'static str) {
    match format {
        Format::Json => ("pay_", "ref_"),
        Format::Soap => ("txn_", "rf_"),
    }
}

/// Payout ids, in both formats (WIRE.md).
const PAYOUT_PREFIX: &str = "po_";

/// Where a refund is: (payment index, refund index).
pub(crate) type RefundAt = (usize, usize);

/// What a webhook event is recorded on: a payment (its refunds' events included) or a
/// payout, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    Payment(usize),
    Payout(usize),
}

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

/// One kind of order (payments or payouts), found by the PSP's id or by the caller's
/// idempotency key.
#[derive(Debug)]
struct Book<R> {
    records: Vec<R>,
    by_id: BTreeMap<String, usize>,
    /// The latest record per key; an expired key is replaced by the next use.
    by_key: BTreeMap<String, usize>,
}

impl<R: Order> Book<R> {
    fn new() -> Self {
        Self {
            records: Vec::new(),
            by_id: BTreeMap::new(),
            by_key: BTreeMap::new(),
        }
    }

    /// The record this key still names (the PSP has not forgotten it).
    fn live_key(&self, key: &str, view: View) -> Option<usize> {
        let &index = self.by_key.get(key)?;
        view.key_live(self.records[index].created_ms())
            .then_some(index)
    }

    /// A status lookup: by id (ids never expire) or by a live key, and only once the
    /// index has caught up.
    fn find(&self, lookup: &Lookup, view: View) -> Option<&R> {
        let index = match lookup {
            Lookup::Id(id) => *self.by_id.get(id)?,
            Lookup::Key(key) => self.live_key(key, view)?,
        };
        let record = &self.records[index];
        view.visible(record.created_ms()).then_some(record)
    }

    /// Files a new record under its id and key; its index.
    fn insert(&mut self, record: R) -> usize {
        let index = self.records.len();
        self.by_id.insert(record.id().to_owned(), index);
        self.by_key
            .insert(record.idempotency_key().to_owned(), index);
        self.records.push(record);
        index
    }

    /// Settles a pending record; the event reporting it.
    fn settle(&mut self, index: usize, now_ms: i64, dice: &mut dyn Dice) -> Option<Notification> {
        let record = self.records.get_mut(index)?;
        let kind = record.settle()?;
        Some(Notification::settled(record, kind, now_ms, dice))
    }
}

#[derive(Debug)]
pub(crate) struct Ledger {
    format: Format,
    payments: Book<PaymentRecord>,
    refund_by_id: BTreeMap<String, RefundAt>,
    refund_by_key: BTreeMap<String, RefundAt>,
    payouts: Book<PayoutRecord>,
    /// Where each event is: its subject and its index among the subject's events.
    event_by_id: BTreeMap<String, (Subject, usize)>,
    /// Per idempotency key, payments, refunds and payouts alike.
    charges: BTreeMap<String, u32>,
}

impl Ledger {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            payments: Book::new(),
            refund_by_id: BTreeMap::new(),
            refund_by_key: BTreeMap::new(),
            payouts: Book::new(),
            event_by_id: BTreeMap::new(),
            charges: BTreeMap::new(),
        }
    }

    pub fn payments(&self) -> &[PaymentRecord] {
        &self.payments.records
    }

    pub fn payment(&self, index: usize) -> &PaymentRecord {
        &self.payments.records[index]
    }

    pub fn refund(&self, (p, r): RefundAt) -> &RefundRecord {
        &self.payments.records[p].refunds[r]
    }

    pub fn payouts(&self) -> &[PayoutRecord] {
        &self.payouts.records
    }

    pub fn payout(&self, index: usize) -> &PayoutRecord {
        &self.payouts.records[index]
    }

    pub fn charges(&self, key: &str) -> u32 {
        self.charges.get(key).copied().unwrap_or(0)
    }

    /// One more charge (a payment, refund or payout that moves money) under `key`.
    fn charge(&mut self, key: &str) {
        *self.charges.entry(key.to_owned()).or_default() += 1;
    }

    /// The payment this key still names (the PSP has not forgotten it).
    pub fn live_payment_key(&self, key: &str, view: View) -> Option<usize> {
        self.payments.live_key(key, view)
    }

    pub fn live_refund_key(&self, key: &str, view: View) -> Option<RefundAt> {
        let &at = self.refund_by_key.get(key)?;
        view.key_live(self.refund(at).created_ms).then_some(at)
    }

    /// The payout this key still names (the PSP has not forgotten it).
    pub fn live_payout_key(&self, key: &str, view: View) -> Option<usize> {
        self.payouts.live_key(key, view)
    }

    /// A status lookup: by id (ids never expire) or by a live key, and only once the
    /// index has caught up.
    pub fn find_payment(&self, lookup: &Lookup, view: View) -> Option<&PaymentRecord> {
        self.payments.find(lookup, view)
    }

    pub fn find_refund(&self, lookup: &Lookup, view: View) -> Option<&RefundRecord> {
        let at = match lookup {
            Lookup::Id(id) => *self.refund_by_id.get(id)?,
            Lookup::Key(key) => self.live_refund_key(key, view)?,
        };
        let refund = self.refund(at);
        view.visible(refund.created_ms).then_some(refund)
    }

    /// A payout status lookup, seen like a payment's.
    pub fn find_payout(&self, lookup: &Lookup, view: View) -> Option<&PayoutRecord> {
        self.payouts.find(lookup, view)
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
            idempotency_key: new.order.idempotency_key,
            amount: captured,
            requested_amount: new.order.amount,
            currency: new.order.currency,
            country: new.order.country,
            reference: new.order.reference,
            token: new.token.unwrap_or_else(|| "tok_success".to_owned()),
            status: PaymentStatus::Pending,
            failure_code: None,
            refunded: 0,
            refunds: Vec::new(),
            events: Vec::new(),
            created: now_ms.div_euclid(1000),
            created_ms: now_ms,
        };
        if record.refused_at_once() {
            record.amount = record.requested_amount;
        } else {
            self.charge(&record.idempotency_key);
        }
        self.payments.insert(record)
    }

    /// Records a new refund under its key (call only when no live refund holds the key).
    pub fn create_refund(
        &mut self,
        new: NewRefund,
        now_ms: i64,
        dice: &mut dyn Dice,
    ) -> Result<RefundAt, RefundError> {
        let &index = self
            .payments
            .by_id
            .get(&new.payment_id)
            .ok_or(RefundError::NotFound)?;
        let prefix = prefixes(self.format).1;
        let payment = &mut self.payments.records[index];
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
        let key = refund.idempotency_key.clone();
        self.refund_by_id.insert(refund.id.clone(), at);
        self.refund_by_key.insert(key.clone(), at);
        payment.refunds.push(refund);
        self.charge(&key);
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
        let payment = self.payments.records.get_mut(p)?;
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
        let (refund_id, amount) = (refund.id.clone(), refund.amount);
        let failure_code = refund.failure_code.clone();
        let notification = Notification {
            refund_id: Some(refund_id),
            amount,
            failure_code,
            ..Notification::settled(&*payment, kind, now_ms, dice)
        };
        if failure.is_some() {
            payment.refunded -= notification.amount;
        }
        self.push_event(Subject::Payment(p), &notification);
        Some(notification)
    }

    /// Records a new payout under its key (call only when no live payout holds the key).
    /// A rejected destination pays nothing out.
    pub fn create_payout(&mut self, new: NewPayout, now_ms: i64, dice: &mut dyn Dice) -> usize {
        let mut record = PayoutRecord {
            id: format!("{PAYOUT_PREFIX}{}", hex32(dice)),
            idempotency_key: new.order.idempotency_key,
            amount: new.order.amount,
            currency: new.order.currency,
            country: new.order.country,
            reference: new.order.reference,
            destination: new.destination.unwrap_or_else(|| "ba_success".to_owned()),
            status: PayoutStatus::Pending,
            failure_code: None,
            events: Vec::new(),
            created: now_ms.div_euclid(1000),
            created_ms: now_ms,
        };
        if !record.refused_at_once() {
            self.charge(&record.idempotency_key);
        }
        self.payouts.insert(record)
    }

    /// Settles a pending payment or payout to its final status and returns the event to
    /// report.
    pub fn settle(
        &mut self,
        subject: Subject,
        now_ms: i64,
        dice: &mut dyn Dice,
    ) -> Option<Notification> {
        let notification = match subject {
            Subject::Payment(index) => self.payments.settle(index, now_ms, dice),
            Subject::Payout(index) => self.payouts.settle(index, now_ms, dice),
        }?;
        self.push_event(subject, &notification);
        Some(notification)
    }

    fn events_mut(&mut self, subject: Subject) -> &mut Vec<EventRecord> {
        match subject {
            Subject::Payment(index) => &mut self.payments.records[index].events,
            Subject::Payout(index) => &mut self.payouts.records[index].events,
        }
    }

    fn push_event(&mut self, subject: Subject, notification: &Notification) {
        let events = self.events_mut(subject);
        events.push(EventRecord {
            id: notification.event_id.clone(),
            kind: notification.kind.json_name().to_owned(),
            refund_id: notification.refund_id.clone(),
            attempts: 0,
            delivered: false,
        });
        let at = events.len() - 1;
        self.event_by_id
            .insert(notification.event_id.clone(), (subject, at));
    }

    /// Records one delivery attempt of a webhook event.
    pub fn record_attempt(&mut self, event_id: &str, delivered: bool) {
        if let Some(&(subject, e)) = self.event_by_id.get(event_id) {
            let event = &mut self.events_mut(subject)[e];
            event.attempts += 1;
            event.delivered |= delivered;
        }
    }
}

#[cfg(test)]
mod tests;
