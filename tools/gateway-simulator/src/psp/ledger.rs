//! The gateway's books: payments, refunds, payouts, idempotency keys, charge counts and
//! webhook events. Pure: time and randomness come in as arguments, maps are ordered, so the same
//! calls with the same dice build the same books.

use std::collections::BTreeMap;

use serde::Serialize;

use super::dice::{Dice, chance, hex32};
use crate::Format;

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

    fn final_outcome(&self) -> (PaymentStatus, Option<&'static str>) {
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

    fn final_outcome(&self) -> (PayoutStatus, Option<&'static str>) {
        match self.destination.as_str() {
            "ba_reject" => (PayoutStatus::Rejected, Some(DESTINATION_REJECTED)),
            "ba_fail_webhook" => (PayoutStatus::Failed, Some(ACCOUNT_CLOSED)),
            _ => (PayoutStatus::Paid, None),
        }
    }
}

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
        order_problem(
            &self.idempotency_key,
            &self.reference,
            self.amount,
            &self.currency,
            &self.country,
        )
    }
}

/// A create-payout request, already taken off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewPayout {
    pub idempotency_key: String,
    pub amount: i64,
    pub currency: String,
    pub country: String,
    pub reference: String,
    pub destination: Option<String>,
}

impl NewPayout {
    /// Why the request is wrong, if it is (a 400 / `soap:Client`): as for a payment.
    pub fn problem(&self) -> Option<String> {
        order_problem(
            &self.idempotency_key,
            &self.reference,
            self.amount,
            &self.currency,
            &self.country,
        )
    }
}

/// What is wrong with a payment's or payout's fields, if anything.
fn order_problem(
    idempotency_key: &str,
    reference: &str,
    amount: i64,
    currency: &str,
    country: &str,
) -> Option<String> {
    text_problem("idempotency key", idempotency_key)
        .or_else(|| text_problem("reference", reference))
        .or_else(|| amount_problem(amount))
        .or_else(|| code_problem(currency, 3).then(|| "currency must be an ISO 4217 code".into()))
        .or_else(|| {
            code_problem(country, 2).then(|| "country must be an ISO 3166 alpha-2 code".into())
        })
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
enum Subject {
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

#[derive(Debug)]
pub(crate) struct Ledger {
    format: Format,
    payments: Vec<PaymentRecord>,
    payment_by_id: BTreeMap<String, usize>,
    /// The latest payment per key; an expired key is replaced by the next use.
    payment_by_key: BTreeMap<String, usize>,
    refund_by_id: BTreeMap<String, RefundAt>,
    refund_by_key: BTreeMap<String, RefundAt>,
    payouts: Vec<PayoutRecord>,
    payout_by_id: BTreeMap<String, usize>,
    /// The latest payout per key; an expired key is replaced by the next use.
    payout_by_key: BTreeMap<String, usize>,
    /// Where each event is: its subject and its index among the subject's events.
    event_by_id: BTreeMap<String, (Subject, usize)>,
    /// Per idempotency key, payments, refunds and payouts alike.
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
            payouts: Vec::new(),
            payout_by_id: BTreeMap::new(),
            payout_by_key: BTreeMap::new(),
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

    pub fn payouts(&self) -> &[PayoutRecord] {
        &self.payouts
    }

    pub fn payout(&self, index: usize) -> &PayoutRecord {
        &self.payouts[index]
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

    /// The payout this key still names (the PSP has not forgotten it).
    pub fn live_payout_key(&self, key: &str, view: View) -> Option<usize> {
        let &index = self.payout_by_key.get(key)?;
        view.key_live(self.payouts[index].created_ms)
            .then_some(index)
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

    /// A payout status lookup, seen like a payment's.
    pub fn find_payout(&self, lookup: &Lookup, view: View) -> Option<&PayoutRecord> {
        let index = match lookup {
            Lookup::Id(id) => *self.payout_by_id.get(id)?,
            Lookup::Key(key) => self.live_payout_key(key, view)?,
        };
        let payout = &self.payouts[index];
        view.visible(payout.created_ms).then_some(payout)
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
            subject_id: payment.id.clone(),
            refund_id: None,
            reference: payment.reference.clone(),
            amount: payment.amount,
            currency: payment.currency.clone(),
            failure_code: payment.failure_code.clone(),
            created: now_ms.div_euclid(1000),
        };
        self.push_event(Subject::Payment(index), &notification);
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
            subject_id: payment.id.clone(),
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
        self.push_event(Subject::Payment(p), &notification);
        Some(notification)
    }

    /// Records a new payout under its key (call only when no live payout holds the key).
    /// A rejected destination pays nothing out.
    pub fn create_payout(&mut self, new: NewPayout, now_ms: i64, dice: &mut dyn Dice) -> usize {
        let mut record = PayoutRecord {
            id: format!("{PAYOUT_PREFIX}{}", hex32(dice)),
            idempotency_key: new.idempotency_key,
            amount: new.amount,
            currency: new.currency,
            country: new.country,
            reference: new.reference,
            destination: new.destination.unwrap_or_else(|| "ba_success".to_owned()),
            status: PayoutStatus::Pending,
            failure_code: None,
            events: Vec::new(),
            created: now_ms.div_euclid(1000),
            created_ms: now_ms,
        };
        if let (PayoutStatus::Rejected, code) = record.final_outcome() {
            record.status = PayoutStatus::Rejected;
            record.failure_code = code.map(str::to_owned);
        } else {
            *self
                .charges
                .entry(record.idempotency_key.clone())
                .or_default() += 1;
        }
        let index = self.payouts.len();
        self.payout_by_id.insert(record.id.clone(), index);
        self.payout_by_key
            .insert(record.idempotency_key.clone(), index);
        self.payouts.push(record);
        index
    }

    /// Settles a pending payout to its final status and returns the event to report.
    pub fn settle_payout(
        &mut self,
        index: usize,
        now_ms: i64,
        dice: &mut dyn Dice,
    ) -> Option<Notification> {
        let payout = self.payouts.get_mut(index)?;
        if payout.status != PayoutStatus::Pending {
            return None;
        }
        let (status, code) = payout.final_outcome();
        payout.status = status;
        payout.failure_code = code.map(str::to_owned);
        let kind = if status == PayoutStatus::Paid {
            EventKind::PayoutPaid
        } else {
            EventKind::PayoutFailed
        };
        let notification = Notification {
            event_id: format!("evt_{}", hex32(dice)),
            kind,
            subject_id: payout.id.clone(),
            refund_id: None,
            reference: payout.reference.clone(),
            amount: payout.amount,
            currency: payout.currency.clone(),
            failure_code: payout.failure_code.clone(),
            created: now_ms.div_euclid(1000),
        };
        self.push_event(Subject::Payout(index), &notification);
        Some(notification)
    }

    fn events_mut(&mut self, subject: Subject) -> &mut Vec<EventRecord> {
        match subject {
            Subject::Payment(index) => &mut self.payments[index].events,
            Subject::Payout(index) => &mut self.payouts[index].events,
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
#[path = "ledger_tests.rs"]
mod tests;
