//! The gateway's books: payments, refunds, idempotency keys, charge counts and webhook
//! events. Pure and synchronous; the gateway holds it behind one mutex so every
//! create/refund is atomic with respect to its idempotency key.

use std::collections::HashMap;

use serde::Serialize;

use crate::Format;

/// Decline reason of `tok_decline`.
pub const CARD_DECLINED: &str = "card_declined";
/// Failure reason of `tok_fail_webhook`.
pub const INSUFFICIENT_FUNDS: &str = "insufficient_funds";
/// Failure reason of a refund whose payment failed.
pub const PAYMENT_FAILED: &str = "payment_failed";

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

/// A payment as the gateway sees it (`GET /admin/payments`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentRecord {
    pub id: String,
    pub idempotency_key: String,
    pub amount: i64,
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
    pub created: i64,
}

/// One webhook event and how its delivery went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    pub id: String,
    /// `payment.succeeded`, `payment.failed`, `refund.succeeded` or `refund.failed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub refund_id: Option<String>,
    pub attempts: u32,
    pub delivered: bool,
}

/// A create-payment request, already taken off the wire.
#[derive(Debug, Clone)]
pub struct NewPayment {
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
            .or_else(|| {
                (self.amount <= 0)
                    .then(|| "amount must be a positive integer of minor units".into())
            })
            .or_else(|| {
                code_problem(&self.currency, 3).then(|| "currency must be an ISO 4217 code".into())
            })
            .or_else(|| {
                code_problem(&self.country, 2)
                    .then(|| "country must be an ISO 3166 alpha-2 code".into())
            })
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

fn code_problem(code: &str, len: usize) -> bool {
    code.len() != len || !code.bytes().all(|b| b.is_ascii_uppercase())
}

/// Why a refund was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundError {
    /// No payment with that id.
    NotFound,
    /// The request itself is wrong.
    Invalid(String),
    /// More than what is left to refund (declined/failed payments have nothing to refund).
    ExceedsPayment { refundable: i64 },
}

/// What a webhook reports, fixed once so every retry sends the same event.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub event_id: String,
    pub kind: EventKind,
    pub payment_id: String,
    pub refund_id: Option<String>,
    pub reference: String,
    pub amount: i64,
    pub currency: String,
    pub failure_code: Option<String>,
    pub created: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
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

fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `pay_`/`ref_` for `json`, `txn_`/`rf_` for `soap` (WIRE.md).
fn ids(format: Format) -> (&'static str, &'static str) {
    match format {
        Format::Json => ("pay_", "ref_"),
        Format::Soap => ("txn_", "rf_"),
    }
}

#[derive(Debug)]
pub struct Ledger {
    format: Format,
    payments: Vec<PaymentRecord>,
    payment_by_id: HashMap<String, usize>,
    payment_by_key: HashMap<String, usize>,
    /// refund id / refund idempotency key → (payment index, refund index)
    refund_by_id: HashMap<String, (usize, usize)>,
    refund_by_key: HashMap<String, (usize, usize)>,
    event_by_id: HashMap<String, (usize, usize)>,
    charges: HashMap<String, u32>,
}

impl Ledger {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            payments: Vec::new(),
            payment_by_id: HashMap::new(),
            payment_by_key: HashMap::new(),
            refund_by_id: HashMap::new(),
            refund_by_key: HashMap::new(),
            event_by_id: HashMap::new(),
            charges: HashMap::new(),
        }
    }

    /// Creates the payment, or returns the one already created with this key
    /// (`created == false`). Call [`NewPayment::problem`] first.
    pub fn create_payment(&mut self, new: NewPayment, now: i64) -> (PaymentRecord, bool) {
        if let Some(&index) = self.payment_by_key.get(&new.idempotency_key) {
            return (self.payments[index].clone(), false);
        }
        let mut record = PaymentRecord {
            id: format!("{}{}", ids(self.format).0, random_hex()),
            idempotency_key: new.idempotency_key,
            amount: new.amount,
            currency: new.currency,
            country: new.country,
            reference: new.reference,
            token: new.token.unwrap_or_else(|| "tok_success".to_owned()),
            status: PaymentStatus::Pending,
            failure_code: None,
            refunded: 0,
            refunds: Vec::new(),
            events: Vec::new(),
            created: now,
        };
        if let (PaymentStatus::Declined, code) = record.final_outcome() {
            record.status = PaymentStatus::Declined;
            record.failure_code = code.map(str::to_owned);
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
        self.payments.push(record.clone());
        (record, true)
    }

    pub fn payment(&self, id: &str) -> Option<&PaymentRecord> {
        self.payment_by_id.get(id).map(|&i| &self.payments[i])
    }

    pub fn payment_by_key(&self, key: &str) -> Option<&PaymentRecord> {
        self.payment_by_key.get(key).map(|&i| &self.payments[i])
    }

    pub fn payments(&self) -> &[PaymentRecord] {
        &self.payments
    }

    pub fn charges(&self, key: &str) -> u32 {
        self.charges.get(key).copied().unwrap_or(0)
    }

    /// Settles a pending payment to its final status and returns the event to report.
    pub fn settle_payment(&mut self, id: &str, now: i64) -> Option<Notification> {
        let &index = self.payment_by_id.get(id)?;
        let payment = &mut self.payments[index];
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
            event_id: format!("evt_{}", random_hex()),
            kind,
            payment_id: payment.id.clone(),
            refund_id: None,
            reference: payment.reference.clone(),
            amount: payment.amount,
            currency: payment.currency.clone(),
            failure_code: payment.failure_code.clone(),
            created: now,
        };
        self.push_event(index, &notification);
        Some(notification)
    }

    /// Creates the refund, or returns the one already created with this key.
    pub fn create_refund(
        &mut self,
        key: &str,
        payment_id: &str,
        amount: i64,
        now: i64,
    ) -> Result<(RefundRecord, bool), RefundError> {
        if let Some(&(p, r)) = self.refund_by_key.get(key) {
            return Ok((self.payments[p].refunds[r].clone(), false));
        }
        if let Some(problem) = text_problem("idempotency key", key) {
            return Err(RefundError::Invalid(problem));
        }
        if amount <= 0 {
            return Err(RefundError::Invalid(
                "amount must be a positive integer of minor units".into(),
            ));
        }
        let &index = self
            .payment_by_id
            .get(payment_id)
            .ok_or(RefundError::NotFound)?;
        let payment = &mut self.payments[index];
        // A pending payment may be refunded (the refund fails if the payment does);
        // declined and failed payments have nothing to refund.
        let captured = match payment.status {
            PaymentStatus::Pending | PaymentStatus::Succeeded => payment.amount,
            PaymentStatus::Failed | PaymentStatus::Declined => 0,
        };
        let refundable = captured - payment.refunded;
        if amount > refundable {
            return Err(RefundError::ExceedsPayment { refundable });
        }
        let refund = RefundRecord {
            id: format!("{}{}", ids(self.format).1, random_hex()),
            idempotency_key: key.to_owned(),
            payment_id: payment.id.clone(),
            amount,
            status: RefundStatus::Pending,
            failure_code: None,
            created: now,
        };
        payment.refunded += amount;
        payment.refunds.push(refund.clone());
        let at = (index, payment.refunds.len() - 1);
        self.refund_by_id.insert(refund.id.clone(), at);
        self.refund_by_key.insert(key.to_owned(), at);
        *self.charges.entry(key.to_owned()).or_default() += 1;
        Ok((refund, true))
    }

    /// Settles a pending refund: it succeeds unless its payment failed.
    pub fn settle_refund(&mut self, refund_id: &str, now: i64) -> Option<Notification> {
        let &(p, r) = self.refund_by_id.get(refund_id)?;
        let payment = &mut self.payments[p];
        if payment.refunds[r].status != RefundStatus::Pending {
            return None;
        }
        let payment_ok = payment.final_outcome().0 == PaymentStatus::Succeeded;
        let refund = &mut payment.refunds[r];
        let kind = if payment_ok {
            refund.status = RefundStatus::Succeeded;
            EventKind::RefundSucceeded
        } else {
            refund.status = RefundStatus::Failed;
            refund.failure_code = Some(PAYMENT_FAILED.to_owned());
            EventKind::RefundFailed
        };
        let notification = Notification {
            event_id: format!("evt_{}", random_hex()),
            kind,
            payment_id: payment.id.clone(),
            refund_id: Some(refund.id.clone()),
            reference: payment.reference.clone(),
            amount: refund.amount,
            currency: payment.currency.clone(),
            failure_code: refund.failure_code.clone(),
            created: now,
        };
        if !payment_ok {
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
mod tests {
    use super::*;

    fn new_payment(key: &str, token: Option<&str>) -> NewPayment {
        NewPayment {
            idempotency_key: key.into(),
            amount: 10_099,
            currency: "AED".into(),
            country: "AE".into(),
            reference: "dep_1".into(),
            token: token.map(Into::into),
        }
    }

    #[test]
    fn same_key_returns_the_first_payment_and_charges_once() {
        let mut ledger = Ledger::new(Format::Json);
        let (first, created) = ledger.create_payment(new_payment("dep_1:1", None), 1);
        assert!(created && first.id.starts_with("pay_") && first.id.len() == 36);
        let (again, created) = ledger.create_payment(new_payment("dep_1:1", None), 2);
        assert!(!created);
        assert_eq!(again.id, first.id);
        assert_eq!(ledger.charges("dep_1:1"), 1);
    }

    #[test]
    fn decline_is_recorded_without_a_charge() {
        let mut ledger = Ledger::new(Format::Soap);
        let (p, _) = ledger.create_payment(new_payment("k", Some("tok_decline")), 1);
        assert!(p.id.starts_with("txn_"));
        assert_eq!(p.status, PaymentStatus::Declined);
        assert_eq!(p.failure_code.as_deref(), Some(CARD_DECLINED));
        assert_eq!(ledger.charges("k"), 0);
        assert_eq!(ledger.settle_payment(&p.id, 2), None);
    }

    #[test]
    fn settlement_follows_the_token_once() {
        let mut ledger = Ledger::new(Format::Json);
        let (p, _) = ledger.create_payment(new_payment("k", Some("tok_fail_webhook")), 1);
        let n = ledger.settle_payment(&p.id, 2).unwrap();
        assert_eq!(n.kind, EventKind::PaymentFailed);
        assert_eq!(n.failure_code.as_deref(), Some(INSUFFICIENT_FUNDS));
        assert_eq!(ledger.payment(&p.id).unwrap().status, PaymentStatus::Failed);
        assert_eq!(ledger.settle_payment(&p.id, 3), None);
    }

    #[test]
    fn refunds_are_idempotent_and_bounded() {
        let mut ledger = Ledger::new(Format::Json);
        let (p, _) = ledger.create_payment(new_payment("k", None), 1);
        let (r1, created) = ledger.create_refund("k:refund:1", &p.id, 6_000, 2).unwrap();
        assert!(created && r1.id.starts_with("ref_"));
        let (again, created) = ledger.create_refund("k:refund:1", &p.id, 6_000, 3).unwrap();
        assert!(!created);
        assert_eq!(again.id, r1.id);
        assert_eq!(
            ledger.create_refund("k:refund:2", &p.id, 4_100, 4),
            Err(RefundError::ExceedsPayment { refundable: 4_099 })
        );
        assert!(ledger.create_refund("k:refund:3", &p.id, 4_099, 5).is_ok());
        assert_eq!(ledger.payment(&p.id).unwrap().refunded, 10_099);
        assert_eq!(
            ledger.create_refund("k:refund:4", "pay_nope", 1, 6),
            Err(RefundError::NotFound)
        );
    }

    #[test]
    fn refund_of_a_failing_payment_fails_and_frees_the_amount() {
        let mut ledger = Ledger::new(Format::Json);
        let (p, _) = ledger.create_payment(new_payment("k", Some("tok_fail_webhook")), 1);
        let (r, _) = ledger.create_refund("r", &p.id, 100, 2).unwrap();
        let n = ledger.settle_refund(&r.id, 3).unwrap();
        assert_eq!(n.kind, EventKind::RefundFailed);
        assert_eq!(n.refund_id.as_deref(), Some(r.id.as_str()));
        assert_eq!(ledger.payment(&p.id).unwrap().refunded, 0);
        ledger.settle_payment(&p.id, 4);
        assert_eq!(
            ledger.create_refund("r2", &p.id, 1, 5),
            Err(RefundError::ExceedsPayment { refundable: 0 })
        );
    }

    #[test]
    fn invalid_requests_are_described() {
        let mut bad = new_payment("", None);
        assert!(bad.problem().unwrap().contains("idempotency key"));
        bad = new_payment("k", None);
        bad.currency = "aed".into();
        assert!(bad.problem().unwrap().contains("currency"));
        bad = new_payment("k", None);
        bad.amount = 0;
        assert!(bad.problem().unwrap().contains("amount"));
        assert_eq!(new_payment("k", None).problem(), None);
    }
}
