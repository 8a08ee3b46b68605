//! The books alone: idempotency, declines, settlement, refund limits, key horizon, lag.

use super::*;
use crate::psp::dice::SplitMix64;
use crate::psp::seeded::Seeded;

/// The books with the seeded dice they roll.
type TestLedger = Seeded<Ledger>;

impl TestLedger {
    fn new(seed: u64, format: Format) -> Self {
        Self {
            inner: Ledger::new(format),
            dice: SplitMix64::new(seed),
        }
    }

    fn create_payment(&mut self, new: NewPayment, captured: i64, now_ms: i64) -> usize {
        self.inner
            .create_payment(new, captured, now_ms, &mut self.dice)
    }

    fn create_refund(&mut self, new: NewRefund, now_ms: i64) -> Result<RefundAt, RefundError> {
        self.inner.create_refund(new, now_ms, &mut self.dice)
    }

    fn create_payout(&mut self, new: NewPayout, now_ms: i64) -> usize {
        self.inner.create_payout(new, now_ms, &mut self.dice)
    }

    fn settle(&mut self, subject: Subject, now_ms: i64) -> Option<Notification> {
        self.inner.settle(subject, now_ms, &mut self.dice)
    }

    fn settle_refund(
        &mut self,
        at: RefundAt,
        now_ms: i64,
        decline_rate: f64,
    ) -> Option<Notification> {
        self.inner
            .settle_refund(at, now_ms, decline_rate, &mut self.dice)
    }
}

fn new_payment(key: &str, token: Option<&str>) -> NewPayment {
    NewPayment {
        order: NewOrder {
            idempotency_key: key.into(),
            amount: 10_099,
            currency: "AED".into(),
            country: "AE".into(),
            reference: "dep_1".into(),
        },
        token: token.map(Into::into),
    }
}

fn refund(key: &str, payment_id: &str, amount: i64) -> NewRefund {
    NewRefund {
        idempotency_key: key.into(),
        payment_id: payment_id.into(),
        amount,
    }
}

fn view(now_ms: i64) -> View {
    View {
        now_ms,
        lag_ms: 0,
        horizon_ms: 0,
    }
}

#[test]
fn a_payment_is_found_by_id_and_key_and_charged_once() {
    let mut ledger = TestLedger::new(1, Format::Json);
    let index = ledger.create_payment(new_payment("dep_1:1", None), 10_099, 1_000);
    let p = ledger.payment(index).clone();
    assert!(p.id.starts_with("pay_") && p.id.len() == 36);
    assert_eq!(ledger.live_payment_key("dep_1:1", view(2_000)), Some(index));
    assert_eq!(
        ledger.find_payment(&Lookup::Id(p.id.clone()), view(2_000)),
        Some(&p)
    );
    assert_eq!(ledger.charges("dep_1:1"), 1);
    assert_eq!((p.created, p.created_ms), (1, 1_000));
}

#[test]
fn decline_is_recorded_without_a_charge() {
    let mut ledger = TestLedger::new(2, Format::Soap);
    let index = ledger.create_payment(new_payment("k", Some("tok_decline")), 5, 1);
    let p = ledger.payment(index).clone();
    assert!(p.id.starts_with("txn_"));
    assert_eq!(p.status, PaymentStatus::Declined);
    assert_eq!(p.amount, 10_099, "a decline captures nothing odd");
    assert_eq!(p.failure_code.as_deref(), Some(CARD_DECLINED));
    assert_eq!(ledger.charges("k"), 0);
    assert_eq!(ledger.settle(Subject::Payment(index), 2), None);
}

#[test]
fn settlement_follows_the_token_once_and_reports_the_captured_amount() {
    let mut ledger = TestLedger::new(3, Format::Json);
    let index = ledger.create_payment(new_payment("k", Some("tok_fail_webhook")), 5_049, 1);
    let n = ledger.settle(Subject::Payment(index), 2_500).unwrap();
    assert_eq!(n.kind, EventKind::PaymentFailed);
    assert_eq!(n.failure_code.as_deref(), Some(INSUFFICIENT_FUNDS));
    assert_eq!((n.amount, n.created), (5_049, 2));
    assert_eq!(ledger.payment(index).status, PaymentStatus::Failed);
    assert_eq!(ledger.settle(Subject::Payment(index), 3), None);
}

#[test]
fn refunds_are_bounded_by_the_captured_amount() {
    let mut ledger = TestLedger::new(4, Format::Json);
    let index = ledger.create_payment(new_payment("k", None), 10_099, 1);
    let id = ledger.payment(index).id.clone();
    let r1 = ledger
        .create_refund(refund("k:refund:1", &id, 6_000), 2)
        .unwrap();
    assert!(ledger.refund(r1).id.starts_with("ref_"));
    assert_eq!(ledger.live_refund_key("k:refund:1", view(3)), Some(r1));
    assert_eq!(
        ledger.create_refund(refund("k:refund:2", &id, 4_100), 4),
        Err(RefundError::ExceedsPayment { refundable: 4_099 })
    );
    assert!(
        ledger
            .create_refund(refund("k:refund:3", &id, 4_099), 5)
            .is_ok()
    );
    assert_eq!(ledger.payment(index).refunded, 10_099);
    assert_eq!(
        ledger.create_refund(refund("k:refund:4", "pay_nope", 1), 6),
        Err(RefundError::NotFound)
    );
    assert_eq!(ledger.charges("k:refund:1"), 1);
}

#[test]
fn refund_of_a_failing_payment_fails_and_frees_the_amount() {
    let mut ledger = TestLedger::new(5, Format::Json);
    let index = ledger.create_payment(new_payment("k", Some("tok_fail_webhook")), 10_099, 1);
    let id = ledger.payment(index).id.clone();
    let at = ledger.create_refund(refund("r", &id, 100), 2).unwrap();
    let n = ledger.settle_refund(at, 3, 0.0).unwrap();
    assert_eq!(n.kind, EventKind::RefundFailed);
    assert_eq!(n.amount, 100);
    assert_eq!(n.refund_id.as_deref(), Some(ledger.refund(at).id.as_str()));
    assert_eq!(ledger.payment(index).refunded, 0);
    ledger.settle(Subject::Payment(index), 4);
    assert_eq!(
        ledger.create_refund(refund("r2", &id, 1), 5),
        Err(RefundError::ExceedsPayment { refundable: 0 })
    );
}

#[test]
fn a_declined_refund_of_a_captured_payment_fails_and_frees_the_amount() {
    let mut ledger = TestLedger::new(7, Format::Json);
    let index = ledger.create_payment(new_payment("k", None), 10_099, 1);
    ledger.settle(Subject::Payment(index), 2);
    let id = ledger.payment(index).id.clone();
    let first = ledger.create_refund(refund("r1", &id, 10_099), 3).unwrap();
    let n = ledger.settle_refund(first, 4, 1.0).unwrap();
    assert_eq!(n.kind, EventKind::RefundFailed);
    assert_eq!(n.failure_code.as_deref(), Some(REFUND_DECLINED));
    assert_eq!(ledger.payment(index).refunded, 0);
    // The amount is free again, and with the rate off a refund of it goes through.
    let second = ledger.create_refund(refund("r2", &id, 10_099), 5).unwrap();
    let n = ledger.settle_refund(second, 6, 0.0).unwrap();
    assert_eq!(n.kind, EventKind::RefundSucceeded);
    assert_eq!(ledger.payment(index).refunded, 10_099);
}

#[test]
fn keys_expire_at_the_horizon_but_ids_do_not() {
    let mut ledger = TestLedger::new(6, Format::Json);
    let first = ledger.create_payment(new_payment("k", None), 1, 1_000);
    let horizon = |now_ms| View {
        now_ms,
        lag_ms: 0,
        horizon_ms: 500,
    };
    assert_eq!(ledger.live_payment_key("k", horizon(1_499)), Some(first));
    assert_eq!(ledger.live_payment_key("k", horizon(1_500)), None);
    assert_eq!(
        ledger.find_payment(&Lookup::Key("k".into()), horizon(1_500)),
        None
    );
    let id = Lookup::Id(ledger.payment(first).id.clone());
    assert!(ledger.find_payment(&id, horizon(9_999)).is_some());
    // A new use of the forgotten key is a new payment, and a second charge.
    let second = ledger.create_payment(new_payment("k", None), 1, 2_000);
    assert_ne!(first, second);
    assert_eq!(ledger.live_payment_key("k", horizon(2_001)), Some(second));
    assert_eq!(ledger.charges("k"), 2);
}

#[test]
fn lookups_lag_behind_creation() {
    let mut ledger = TestLedger::new(7, Format::Soap);
    let index = ledger.create_payment(new_payment("k", None), 1, 1_000);
    let id = ledger.payment(index).id.clone();
    let at = ledger.create_refund(refund("rk", &id, 1), 1_000).unwrap();
    let lagging = |now_ms| View {
        now_ms,
        lag_ms: 300,
        horizon_ms: 0,
    };
    let key = Lookup::Key("k".into());
    assert_eq!(ledger.find_payment(&key, lagging(1_299)), None);
    assert!(ledger.find_payment(&key, lagging(1_300)).is_some());
    let refund_id = Lookup::Id(ledger.refund(at).id.clone());
    assert_eq!(ledger.find_refund(&refund_id, lagging(1_299)), None);
    assert!(ledger.find_refund(&refund_id, lagging(1_300)).is_some());
}

#[test]
fn invalid_requests_are_described() {
    let payment = |change: fn(&mut NewOrder)| {
        let mut new = new_payment("k", None);
        change(&mut new.order);
        new.order.problem()
    };
    let payout = |change: fn(&mut NewOrder)| {
        let mut new = new_payout("k", None);
        change(&mut new.order);
        new.order.problem()
    };
    for (case, problem, names) in [
        (
            "payment without a key",
            payment(|new| new.idempotency_key = String::new()),
            "idempotency key",
        ),
        (
            "lower-case currency",
            payment(|new| new.currency = "aed".into()),
            "currency",
        ),
        (
            "payment of nothing",
            payment(|new| new.amount = 0),
            "amount",
        ),
        ("refund of nothing", refund("k", "p", 0).problem(), "amount"),
        (
            "refund under a blank key",
            refund(" ", "p", 1).problem(),
            "idempotency key",
        ),
        (
            "payout under a blank key",
            payout(|new| new.idempotency_key = " ".into()),
            "idempotency key",
        ),
        (
            "three-letter country",
            payout(|new| new.country = "DEU".into()),
            "country",
        ),
        ("negative payout", payout(|new| new.amount = -5), "amount"),
    ] {
        let problem = problem.unwrap_or_else(|| panic!("{case}: no problem found"));
        assert!(problem.contains(names), "{case}: {problem}");
    }
    assert_eq!(new_payment("k", None).order.problem(), None);
    assert_eq!(new_payout("k", Some("ba_reject")).order.problem(), None);
}

#[test]
fn the_same_dice_build_the_same_books() {
    let build = || {
        let mut ledger = TestLedger::new(42, Format::Json);
        let i = ledger.create_payment(new_payment("k", None), 10, 1);
        let id = ledger.payment(i).id.clone();
        ledger.create_refund(refund("r", &id, 5), 2).unwrap();
        ledger.settle(Subject::Payment(i), 3);
        ledger.payments().to_vec()
    };
    assert_eq!(build(), build());
}

fn new_payout(key: &str, destination: Option<&str>) -> NewPayout {
    NewPayout {
        order: NewOrder {
            idempotency_key: key.into(),
            amount: 5_000,
            currency: "EUR".into(),
            country: "DE".into(),
            reference: "po_ref".into(),
        },
        destination: destination.map(Into::into),
    }
}

#[test]
fn a_payout_is_found_by_id_and_key_paid_out_once_and_settles_paid() {
    let mut ledger = TestLedger::new(20, Format::Soap);
    let index = ledger.create_payout(new_payout("po:1", None), 1_000);
    let p = ledger.payout(index).clone();
    assert!(p.id.starts_with("po_") && p.id.len() == 35, "{}", p.id);
    assert_eq!(
        (p.destination.as_str(), p.status),
        ("ba_success", PayoutStatus::Pending)
    );
    assert_eq!(ledger.live_payout_key("po:1", view(2_000)), Some(index));
    assert_eq!(
        ledger.find_payout(&Lookup::Id(p.id.clone()), view(2_000)),
        Some(&p)
    );
    assert_eq!(ledger.charges("po:1"), 1);
    assert!(ledger.payments().is_empty(), "a payout is not a payment");
    assert_eq!(ledger.live_payment_key("po:1", view(2_000)), None);

    let n = ledger.settle(Subject::Payout(index), 3_500).unwrap();
    assert_eq!(n.kind, EventKind::PayoutPaid);
    assert_eq!(
        (n.subject_id.as_str(), n.refund_id.as_deref()),
        (p.id.as_str(), None)
    );
    assert_eq!(
        (n.amount, n.currency.as_str(), n.created),
        (5_000, "EUR", 3)
    );
    assert_eq!(n.reference, "po_ref");
    assert_eq!(ledger.payout(index).status, PayoutStatus::Paid);
    assert_eq!(
        ledger.settle(Subject::Payout(index), 4_000),
        None,
        "settles once"
    );
    let event = &ledger.payout(index).events[0];
    assert_eq!(
        (event.id.as_str(), event.kind.as_str()),
        (n.event_id.as_str(), "payout.paid")
    );
    ledger.record_attempt(&n.event_id, true);
    let event = &ledger.payout(index).events[0];
    assert_eq!((event.attempts, event.delivered), (1, true));
}

#[test]
fn destinations_decide_a_payouts_outcome() {
    let mut ledger = TestLedger::new(21, Format::Json);
    let rejected = ledger.create_payout(new_payout("r", Some("ba_reject")), 1);
    let p = ledger.payout(rejected);
    assert_eq!(
        (p.status, p.first_status()),
        (PayoutStatus::Rejected, PayoutStatus::Rejected)
    );
    assert_eq!(p.failure_code.as_deref(), Some(DESTINATION_REJECTED));
    assert_eq!(ledger.charges("r"), 0, "nothing paid out");
    assert_eq!(
        ledger.settle(Subject::Payout(rejected), 2),
        None,
        "no webhook"
    );

    let failing = ledger.create_payout(new_payout("f", Some("ba_fail_webhook")), 1);
    assert_eq!(ledger.payout(failing).first_status(), PayoutStatus::Pending);
    assert_eq!(ledger.charges("f"), 1);
    let n = ledger.settle(Subject::Payout(failing), 2).unwrap();
    assert_eq!(n.kind, EventKind::PayoutFailed);
    assert_eq!(n.failure_code.as_deref(), Some(ACCOUNT_CLOSED));
    assert_eq!(ledger.payout(failing).status, PayoutStatus::Failed);

    let other = ledger.create_payout(new_payout("o", Some("ba_anything")), 1);
    let n = ledger.settle(Subject::Payout(other), 2).unwrap();
    assert_eq!(
        (n.kind, ledger.payout(other).status),
        (EventKind::PayoutPaid, PayoutStatus::Paid)
    );
}

#[test]
fn a_payout_id_names_no_refundable_payment() {
    let mut ledger = TestLedger::new(22, Format::Json);
    let index = ledger.create_payout(new_payout("po:1", None), 1);
    let id = ledger.payout(index).id.clone();
    assert_eq!(
        ledger.create_refund(refund("po:refund:1", &id, 1), 2),
        Err(RefundError::NotFound)
    );
}

#[test]
fn payout_keys_expire_at_the_horizon_and_lookups_lag() {
    let mut ledger = TestLedger::new(23, Format::Json);
    let first = ledger.create_payout(new_payout("k", None), 1_000);
    let at = |now_ms| View {
        now_ms,
        lag_ms: 300,
        horizon_ms: 500,
    };
    let key = Lookup::Key("k".into());
    let id = Lookup::Id(ledger.payout(first).id.clone());
    assert_eq!(ledger.find_payout(&key, at(1_299)), None, "not indexed yet");
    assert_eq!(ledger.find_payout(&id, at(1_299)), None);
    assert!(ledger.find_payout(&key, at(1_300)).is_some());
    assert_eq!(ledger.live_payout_key("k", at(1_500)), None, "forgotten");
    assert!(ledger.find_payout(&id, at(9_999)).is_some(), "ids are not");
    let second = ledger.create_payout(new_payout("k", None), 2_000);
    assert_eq!(ledger.live_payout_key("k", at(2_001)), Some(second));
    assert_eq!(ledger.charges("k"), 2);
}

/// Every card token the README and the OpenAPI document show is one the simulator knows,
/// so trying them does what they say.
#[test]
fn the_documented_card_tokens_are_the_magic_ones() {
    let documents = [
        ("README.md", include_str!("../../../../../README.md")),
        (
            "openapi.json",
            include_str!("../../../../../shared/api/openapi.json"),
        ),
    ];
    for (name, text) in documents {
        let tokens = text.match_indices("tok_").map(|(at, _)| {
            let rest = &text[at..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        });
        for token in tokens.filter(|t| *t != "tok_") {
            assert!(
                MAGIC_CARD_TOKENS.contains(&token),
                "{name} shows {token}, which the simulator does not know"
            );
        }
    }
}
