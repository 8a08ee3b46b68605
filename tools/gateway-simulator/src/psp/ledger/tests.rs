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

fn new_payout(key: &str, destination: Option<&str>) -> NewPayout {
    NewPayout {
        idempotency_key: key.into(),
        amount: 5_000,
        currency: "EUR".into(),
        country: "DE".into(),
        reference: "po_ref".into(),
        destination: destination.map(Into::into),
    }
}

#[test]
fn a_payout_is_found_by_id_and_key_paid_out_once_and_settles_paid() {
    let mut dice = SplitMix64::new(20);
    let mut ledger = Ledger::new(Format::Soap);
    let index = ledger.create_payout(new_payout("po:1", None), 1_000, &mut dice);
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

    let n = ledger.settle_payout(index, 3_500, &mut dice).unwrap();
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
        ledger.settle_payout(index, 4_000, &mut dice),
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
    let mut dice = SplitMix64::new(21);
    let mut ledger = Ledger::new(Format::Json);
    let rejected = ledger.create_payout(new_payout("r", Some("ba_reject")), 1, &mut dice);
    let p = ledger.payout(rejected);
    assert_eq!(
        (p.status, p.first_status()),
        (PayoutStatus::Rejected, PayoutStatus::Rejected)
    );
    assert_eq!(p.failure_code.as_deref(), Some(DESTINATION_REJECTED));
    assert_eq!(ledger.charges("r"), 0, "nothing paid out");
    assert_eq!(
        ledger.settle_payout(rejected, 2, &mut dice),
        None,
        "no webhook"
    );

    let failing = ledger.create_payout(new_payout("f", Some("ba_fail_webhook")), 1, &mut dice);
    assert_eq!(ledger.payout(failing).first_status(), PayoutStatus::Pending);
    assert_eq!(ledger.charges("f"), 1);
    let n = ledger.settle_payout(failing, 2, &mut dice).unwrap();
    assert_eq!(n.kind, EventKind::PayoutFailed);
    assert_eq!(n.failure_code.as_deref(), Some(ACCOUNT_CLOSED));
    assert_eq!(ledger.payout(failing).status, PayoutStatus::Failed);

    let other = ledger.create_payout(new_payout("o", Some("ba_anything")), 1, &mut dice);
    let n = ledger.settle_payout(other, 2, &mut dice).unwrap();
    assert_eq!(
        (n.kind, ledger.payout(other).status),
        (EventKind::PayoutPaid, PayoutStatus::Paid)
    );
}

#[test]
fn a_payout_id_names_no_refundable_payment() {
    let mut dice = SplitMix64::new(22);
    let mut ledger = Ledger::new(Format::Json);
    let index = ledger.create_payout(new_payout("po:1", None), 1, &mut dice);
    let id = ledger.payout(index).id.clone();
    assert_eq!(
        ledger.create_refund(refund("po:refund:1", &id, 1), 2, &mut dice),
        Err(RefundError::NotFound)
    );
}

#[test]
fn payout_keys_expire_at_the_horizon_and_lookups_lag() {
    let mut dice = SplitMix64::new(23);
    let mut ledger = Ledger::new(Format::Json);
    let first = ledger.create_payout(new_payout("k", None), 1_000, &mut dice);
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
    let second = ledger.create_payout(new_payout("k", None), 2_000, &mut dice);
    assert_eq!(ledger.live_payout_key("k", at(2_001)), Some(second));
    assert_eq!(ledger.charges("k"), 2);
}

#[test]
fn invalid_payouts_are_described() {
    let mut bad = new_payout(" ", None);
    assert!(bad.problem().unwrap().contains("idempotency key"));
    bad = new_payout("k", None);
    bad.country = "DEU".into();
    assert!(bad.problem().unwrap().contains("country"));
    bad = new_payout("k", None);
    bad.amount = -5;
    assert!(bad.problem().unwrap().contains("amount"));
    assert_eq!(new_payout("k", Some("ba_reject")).problem(), None);
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
