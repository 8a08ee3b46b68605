//! The books alone: idempotency, declines, settlement, refund limits, key horizon, lag.

use super::*;
use crate::psp::dice::SplitMix64;

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
    let mut dice = SplitMix64::new(1);
    let mut ledger = Ledger::new(Format::Json);
    let index = ledger.create_payment(new_payment("dep_1:1", None), 10_099, 1_000, &mut dice);
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
    let mut dice = SplitMix64::new(2);
    let mut ledger = Ledger::new(Format::Soap);
    let index = ledger.create_payment(new_payment("k", Some("tok_decline")), 5, 1, &mut dice);
    let p = ledger.payment(index).clone();
    assert!(p.id.starts_with("txn_"));
    assert_eq!(p.status, PaymentStatus::Declined);
    assert_eq!(p.amount, 10_099, "a decline captures nothing odd");
    assert_eq!(p.failure_code.as_deref(), Some(CARD_DECLINED));
    assert_eq!(ledger.charges("k"), 0);
    assert_eq!(ledger.settle_payment(index, 2, &mut dice), None);
}

#[test]
fn settlement_follows_the_token_once_and_reports_the_captured_amount() {
    let mut dice = SplitMix64::new(3);
    let mut ledger = Ledger::new(Format::Json);
    let index = ledger.create_payment(
        new_payment("k", Some("tok_fail_webhook")),
        5_049,
        1,
        &mut dice,
    );
    let n = ledger.settle_payment(index, 2_500, &mut dice).unwrap();
    assert_eq!(n.kind, EventKind::PaymentFailed);
    assert_eq!(n.failure_code.as_deref(), Some(INSUFFICIENT_FUNDS));
    assert_eq!((n.amount, n.created), (5_049, 2));
    assert_eq!(ledger.payment(index).status, PaymentStatus::Failed);
    assert_eq!(ledger.settle_payment(index, 3, &mut dice), None);
}

#[test]
fn refunds_are_bounded_by_the_captured_amount() {
    let mut dice = SplitMix64::new(4);
    let mut ledger = Ledger::new(Format::Json);
    let index = ledger.create_payment(new_payment("k", None), 10_099, 1, &mut dice);
    let id = ledger.payment(index).id.clone();
    let r1 = ledger
        .create_refund(refund("k:refund:1", &id, 6_000), 2, &mut dice)
        .unwrap();
    assert!(ledger.refund(r1).id.starts_with("ref_"));
    assert_eq!(ledger.live_refund_key("k:refund:1", view(3)), Some(r1));
    assert_eq!(
        ledger.create_refund(refund("k:refund:2", &id, 4_100), 4, &mut dice),
        Err(RefundError::ExceedsPayment { refundable: 4_099 })
    );
    assert!(
        ledger
            .create_refund(refund("k:refund:3", &id, 4_099), 5, &mut dice)
            .is_ok()
    );
    assert_eq!(ledger.payment(index).refunded, 10_099);
    assert_eq!(
        ledger.create_refund(refund("k:refund:4", "pay_nope", 1), 6, &mut dice),
        Err(RefundError::NotFound)
    );
    assert_eq!(ledger.charges("k:refund:1"), 1);
}

#[test]
fn refund_of_a_failing_payment_fails_and_frees_the_amount() {
    let mut dice = SplitMix64::new(5);
    let mut ledger = Ledger::new(Format::Json);
    let index = ledger.create_payment(
        new_payment("k", Some("tok_fail_webhook")),
        10_099,
        1,
        &mut dice,
    );
    let id = ledger.payment(index).id.clone();
    let at = ledger
        .create_refund(refund("r", &id, 100), 2, &mut dice)
        .unwrap();
    let n = ledger.settle_refund(at, 3, 0.0, &mut dice).unwrap();
    assert_eq!(n.kind, EventKind::RefundFailed);
    assert_eq!(n.amount, 100);
    assert_eq!(n.refund_id.as_deref(), Some(ledger.refund(at).id.as_str()));
    assert_eq!(ledger.payment(index).refunded, 0);
    ledger.settle_payment(index, 4, &mut dice);
    assert_eq!(
        ledger.create_refund(refund("r2", &id, 1), 5, &mut dice),
        Err(RefundError::ExceedsPayment { refundable: 0 })
    );
}

#[test]
fn a_declined_refund_of_a_captured_payment_fails_and_frees_the_amount() {
    let mut dice = SplitMix64::new(7);
    let mut ledger = Ledger::new(Format::Json);
    let index = ledger.create_payment(new_payment("k", None), 10_099, 1, &mut dice);
    ledger.settle_payment(index, 2, &mut dice);
    let id = ledger.payment(index).id.clone();
    let first = ledger
        .create_refund(refund("r1", &id, 10_099), 3, &mut dice)
        .unwrap();
    let n = ledger.settle_refund(first, 4, 1.0, &mut dice).unwrap();
    assert_eq!(n.kind, EventKind::RefundFailed);
    assert_eq!(n.failure_code.as_deref(), Some(REFUND_DECLINED));
    assert_eq!(ledger.payment(index).refunded, 0);
    // The amount is free again, and with the rate off a refund of it goes through.
    let second = ledger
        .create_refund(refund("r2", &id, 10_099), 5, &mut dice)
        .unwrap();
    let n = ledger.settle_refund(second, 6, 0.0, &mut dice).unwrap();
    assert_eq!(n.kind, EventKind::RefundSucceeded);
    assert_eq!(ledger.payment(index).refunded, 10_099);
}

#[test]
fn keys_expire_at_the_horizon_but_ids_do_not() {
    let mut dice = SplitMix64::new(6);
    let mut ledger = Ledger::new(Format::Json);
    let first = ledger.create_payment(new_payment("k", None), 1, 1_000, &mut dice);
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
    let second = ledger.create_payment(new_payment("k", None), 1, 2_000, &mut dice);
    assert_ne!(first, second);
    assert_eq!(ledger.live_payment_key("k", horizon(2_001)), Some(second));
    assert_eq!(ledger.charges("k"), 2);
}

#[test]
fn lookups_lag_behind_creation() {
    let mut dice = SplitMix64::new(7);
    let mut ledger = Ledger::new(Format::Soap);
    let index = ledger.create_payment(new_payment("k", None), 1, 1_000, &mut dice);
    let id = ledger.payment(index).id.clone();
    let at = ledger
        .create_refund(refund("rk", &id, 1), 1_000, &mut dice)
        .unwrap();
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
    let mut bad = new_payment("", None);
    assert!(bad.problem().unwrap().contains("idempotency key"));
    bad = new_payment("k", None);
    bad.currency = "aed".into();
    assert!(bad.problem().unwrap().contains("currency"));
    bad = new_payment("k", None);
    bad.amount = 0;
    assert!(bad.problem().unwrap().contains("amount"));
    assert_eq!(new_payment("k", None).problem(), None);
    assert!(refund("k", "p", 0).problem().unwrap().contains("amount"));
    assert!(
        refund(" ", "p", 1)
            .problem()
            .unwrap()
            .contains("idempotency key")
    );
}

#[test]
fn the_same_dice_build_the_same_books() {
    let build = || {
        let mut dice = SplitMix64::new(42);
        let mut ledger = Ledger::new(Format::Json);
        let i = ledger.create_payment(new_payment("k", None), 10, 1, &mut dice);
        let id = ledger.payment(i).id.clone();
        ledger
            .create_refund(refund("r", &id, 5), 2, &mut dice)
            .unwrap();
        ledger.settle_payment(i, 3, &mut dice);
        ledger.payments().to_vec()
    };
    assert_eq!(build(), build());
}
