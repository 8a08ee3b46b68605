//! The settlement rules on the aggregate alone: given these past events, when a gateway
//! answers this, then these events (or none). One row per case where they differ only in
//! data.

use paygate_domain::deposit::{AnomalyKind, ChargeRef, DepositEvent, Sighting, TransitionError};
use paygate_domain::ids::{AttemptOwner, RefundId};
use paygate_domain::money::{Amount, Currency, Money};
use paygate_domain::ports::gateway::{PaymentOutcome, PaymentState, StatusOutcome};
use paygate_domain::service::publish::bus_event;
use paygate_kit::streams::*;
use uuid::Uuid;

const ME: AttemptOwner = AttemptOwner(Uuid::from_u128(0xA1));
const OTHER: AttemptOwner = AttemptOwner(Uuid::from_u128(0xB2));
const REVERSAL: RefundId = RefundId(Uuid::from_u128(0xC3));

fn owned_attempt(attempt: u32, owner: AttemptOwner) -> DepositEvent {
    DepositEvent::AttemptStarted {
        attempt,
        gateway: "psp_a".into(),
        idempotency_key: format!("{DEPOSIT}:{attempt}"),
        owner: Some(owner),
    }
}

/// A deposit of 100.99 AED whose attempt 1, by `owner`, was submitted as `ext_1` and
/// then recorded failed.
fn failed_as_ext_1(owner: AttemptOwner) -> Stream {
    Stream::requested(10_099)
        .then(owned_attempt(1, owner))
        .then(submitted(1, "ext_1"))
        .then(deposit_failed("insufficient_funds"))
}

fn aed(minor: u64) -> Money {
    Money {
        amount: Amount::new(minor).unwrap(),
        currency: Currency::parse("AED").unwrap(),
    }
}

fn kinds(events: &[DepositEvent]) -> Vec<&'static str> {
    events.iter().map(DepositEvent::kind).collect()
}

/// THEN: the settlement's `events` are of the `expected` kinds, and the `given` stream
/// accepts them in order; returns the stream after them.
fn settled(
    given: Stream,
    events: Vec<DepositEvent>,
    expected: &[&str],
    case: &impl std::fmt::Debug,
) -> Stream {
    assert_eq!(kinds(&events), expected, "{case:?}");
    events.into_iter().fold(given, Stream::then)
}

/// psp_a, reporting (as `gateway_event_id`) that it charged the deposit's 100.99 AED as
/// payment `ext_1` (for `attempt`, when it says).
fn charge_as_ext_1(attempt: Option<u32>, gateway_event_id: &str) -> Sighting<'_> {
    Sighting {
        gateway: "psp_a",
        external_id: "ext_1",
        charged: Some(aed(10_099)),
        attempt,
        gateway_event_id: Some(gateway_event_id),
    }
}

/// THEN: `charge` is stray for the `given` stream: an anomaly, and a refund of the charge,
/// which the stream accepts; returns the stream after them.
fn refunded_stray(given: Stream, charge: &Sighting) -> Stream {
    let events = given.deposit.stray_charge(charge, REVERSAL);
    let refunded = ["PaymentAnomalyDetected", "RefundRequested"];
    settled(given, events, &refunded, charge)
}

fn accepted(id: &str) -> PaymentOutcome {
    PaymentOutcome::Accepted {
        external_id: id.into(),
    }
}

fn found(id: &str, state: PaymentState, charged: Option<Money>) -> StatusOutcome {
    StatusOutcome::Found {
        external_id: id.into(),
        state,
        charged,
    }
}

#[test]
fn the_owners_answer_settles_its_attempt() {
    let open = Stream::requested(10_099).then(owned_attempt(1, ME));
    let transient = PaymentOutcome::Transient {
        reason: "503".into(),
    };
    let ambiguous = PaymentOutcome::Ambiguous {
        reason: "timeout".into(),
    };
    let declined = PaymentOutcome::Declined {
        code: "card_declined".into(),
        message: "no".into(),
    };
    for (answer, expected) in [
        (accepted("ext_1"), vec!["DepositSubmitted"]),
        (declined, vec!["AttemptFailed", "DepositFailed"]),
        // Nothing was done: another gateway may be tried.
        (transient, vec!["AttemptFailed"]),
        // May have been done: the same request goes out again, never elsewhere.
        (ambiguous, vec!["AttemptReleased"]),
    ] {
        let events = open.deposit.settle_call(1, ME, &answer, REVERSAL);
        settled(open.clone(), events, &expected, &answer);
    }
}

#[test]
fn an_unreachable_gateway_is_told_to_the_merchant_without_the_transports_words() {
    let open = Stream::requested(10_099).then(owned_attempt(1, ME));
    let cause = "error sending request for url (https://psp-a.internal:8443/v1/payments): \
                 tcp connect error: Connection refused (os error 111)";
    let answer = PaymentOutcome::Transient {
        reason: cause.into(),
    };
    let events = open.deposit.settle_call(1, ME, &answer, REVERSAL);
    let [DepositEvent::AttemptFailed { reason, .. }] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(reason.code, "gateway_unavailable");
    assert_eq!(reason.message, paygate_domain::deposit::UNREACHABLE);
    assert!(!reason.message.contains("psp-a.internal"));
}

#[test]
fn another_deliverys_answer_settles_nothing() {
    let open = Stream::requested(10_099).then(owned_attempt(1, OTHER));
    for answer in [
        PaymentOutcome::Transient {
            reason: "429 key in flight".into(),
        },
        PaymentOutcome::Ambiguous {
            reason: "409".into(),
        },
        PaymentOutcome::Declined {
            code: "x".into(),
            message: "x".into(),
        },
    ] {
        assert!(
            open.deposit
                .settle_call(1, ME, &answer, REVERSAL)
                .is_empty(),
            "{answer:?}"
        );
    }
}

#[test]
fn a_resumed_attempt_is_never_closed_by_nothing_was_done() {
    let resumed = Stream::requested(10_099)
        .then(owned_attempt(1, OTHER))
        .then(DepositEvent::AttemptReleased { attempt: 1 })
        .then(DepositEvent::AttemptResumed {
            attempt: 1,
            owner: ME,
        });
    let events = resumed.deposit.settle_call(
        1,
        ME,
        &PaymentOutcome::Transient {
            reason: "503".into(),
        },
        REVERSAL,
    );
    assert_eq!(kinds(&events), ["AttemptReleased"]);
    // And the aggregate itself refuses to close it as retryable.
    let mut stream = resumed.clone();
    assert_eq!(
        stream.record(attempt_failed(1, true)),
        Err(TransitionError::ResumedAttemptNeedsAnAnswer(1))
    );
    assert_eq!(
        kinds(
            &resumed
                .deposit
                .settle_call(1, ME, &accepted("ext_1"), REVERSAL)
        ),
        ["DepositSubmitted"]
    );
}

#[test]
fn a_lookups_not_found_or_unknown_settles_nothing() {
    let open = Stream::requested(10_099).then(owned_attempt(1, OTHER));
    for answer in [
        StatusOutcome::NotFound,
        StatusOutcome::Unknown {
            reason: "500".into(),
        },
    ] {
        assert!(
            open.deposit.settle_lookup(1, &answer, REVERSAL).is_empty(),
            "{answer:?}"
        );
    }
}

#[test]
fn a_found_payment_settles_an_open_or_submitted_deposit() {
    let open = Stream::requested(10_099).then(owned_attempt(1, OTHER));
    let submitted = Stream::requested(10_099)
        .then(owned_attempt(1, OTHER))
        .then(submitted(1, "ext_1"));
    for (given, state, charged, expected) in [
        (&open, PaymentState::Pending, None, vec!["DepositSubmitted"]),
        (
            &open,
            PaymentState::Succeeded,
            Some(aed(10_099)),
            vec!["DepositSubmitted", "DepositSucceeded"],
        ),
        (
            &open,
            PaymentState::Declined {
                code: "card_declined".into(),
            },
            None,
            vec!["AttemptFailed", "DepositFailed"],
        ),
        (&submitted, PaymentState::Pending, None, vec![]),
        (
            &submitted,
            PaymentState::Succeeded,
            None,
            vec!["DepositSucceeded"],
        ),
        (
            &submitted,
            PaymentState::Failed {
                code: "insufficient_funds".into(),
            },
            None,
            vec!["DepositFailed"],
        ),
    ] {
        let events =
            given
                .deposit
                .settle_lookup(1, &found("ext_1", state.clone(), charged), REVERSAL);
        settled(given.clone(), events, &expected, &state);
    }
}

#[test]
fn a_capture_of_another_amount_fails_the_deposit_and_is_refunded() {
    let submitted = Stream::requested(10_099)
        .then(owned_attempt(1, OTHER))
        .then(submitted(1, "ext_1"));
    for charged in [
        aed(5_049),
        Money {
            currency: Currency::parse("USD").unwrap(),
            ..aed(10_099)
        },
    ] {
        let events = submitted.deposit.settle_lookup(
            1,
            &found("ext_1", PaymentState::Succeeded, Some(charged)),
            REVERSAL,
        );
        assert_eq!(
            kinds(&events),
            ["PaymentAnomalyDetected", "DepositFailed", "RefundRequested"]
        );
        let after = events.into_iter().fold(submitted.clone(), Stream::then);
        assert_eq!(after.deposit.anomalies[0].kind, AnomalyKind::AmountMismatch);
        let reversal = &after.deposit.refunds[0];
        assert_eq!(reversal.amount, charged.amount);
        assert_eq!(
            reversal.charge,
            Some(ChargeRef {
                gateway: "psp_a".into(),
                external_id: "ext_1".into()
            })
        );
        // paygate's own refund never counts against what the merchant may refund.
        assert_eq!(after.deposit.refunded_amount(), 0);
    }
}

#[test]
fn a_charge_the_deposit_does_not_hold_is_an_anomaly_refunded_once() {
    let held = Stream::requested(10_099)
        .then(owned_attempt(1, OTHER))
        .then(attempt_failed(1, true))
        .then(attempt_started_at(2, "psp_b"))
        .then(submitted_at(2, "psp_b", "ext_2"));
    let stray = charge_as_ext_1(Some(1), "evt_1");
    let after = refunded_stray(held, &stray);
    assert_eq!(
        after.deposit.anomalies[0].kind,
        AnomalyKind::UnexpectedCharge
    );
    // Seen again (a webhook retried, a lookup): nothing more.
    assert!(
        after
            .deposit
            .stray_charge(&stray, RefundId(Uuid::from_u128(9)))
            .is_empty()
    );
    // The deposit's own charge is not stray while it holds it.
    let own = Sighting {
        gateway: "psp_b",
        external_id: "ext_2",
        ..stray
    };
    assert!(after.deposit.stray_charge(&own, REVERSAL).is_empty());
}

#[test]
fn a_late_taken_answer_for_a_payment_recorded_failed_is_no_success() {
    // GIVEN the webhook that overtook the owner's answer recorded the payment failed
    let failed = failed_as_ext_1(ME);
    // WHEN the owner's call answers "taken" for that same payment
    let events = failed
        .deposit
        .settle_call(1, ME, &accepted("ext_1"), REVERSAL);
    // THEN nothing: "taken" is no evidence of money, and its outcome is known
    assert_eq!(kinds(&events), Vec::<&str>::new());
    // ... while a payment the deposit does not know is still a stray charge
    let events = failed
        .deposit
        .settle_call(1, ME, &accepted("ext_2"), REVERSAL);
    assert_eq!(
        kinds(&events),
        ["PaymentAnomalyDetected", "RefundRequested"]
    );
}

#[test]
fn a_declined_refund_of_a_stray_charge_is_left_to_a_person() {
    // GIVEN a stray charge being refunded by paygate
    let stray = Stream::succeeded(10_099);
    let other = Sighting {
        external_id: "ext_2",
        ..charge_as_ext_1(None, "evt_2")
    };
    let reversing = refunded_stray(stray, &other);
    // WHEN the gateway declines that refund
    let reason = paygate_domain::deposit::FailureReason::new("refund_declined", "declined");
    let events = reversing.deposit.refund_failed(REVERSAL, reason.clone());
    // THEN it failed, and a person is told the customer is still charged (once)
    let after = settled(
        reversing,
        events,
        &["RefundFailed", "PaymentAnomalyDetected"],
        &"declined reversal",
    );
    let anomaly = after.deposit.anomalies.last().unwrap();
    assert_eq!(
        (anomaly.kind, anomaly.refund, anomaly.external_id.as_deref()),
        (AnomalyKind::ReversalDeclined, Some(REVERSAL), Some("ext_2"))
    );
    assert!(anomaly.kind.needs_a_person());
    // ... while a merchant's refund that fails is only recorded failed
    let refunding = Stream::succeeded(10_099).then(refund_requested(1, 500));
    let events = refunding.deposit.refund_failed(refund_id(1), reason);
    assert_eq!(kinds(&events), ["RefundFailed"]);
}

#[test]
fn a_success_after_the_deposit_failed_is_refunded() {
    let failed = failed_as_ext_1(OTHER);
    let after = refunded_stray(failed, &charge_as_ext_1(None, "evt_9"));
    assert_eq!(
        after.deposit.anomalies[0].kind,
        AnomalyKind::SuccessAfterFailure
    );
    assert_eq!(after.deposit.status.as_str(), "failed");
}

#[test]
fn past_the_key_horizon_an_unknown_attempt_is_an_anomaly_once() {
    let open = Stream::requested(10_099).then(owned_attempt(1, OTHER));
    let events = open
        .deposit
        .settle_past_horizon(1, &StatusOutcome::NotFound, REVERSAL);
    assert_eq!(kinds(&events), ["PaymentAnomalyDetected"]);
    let after = events.into_iter().fold(open.clone(), Stream::then);
    assert_eq!(
        after.deposit.anomalies[0].kind,
        AnomalyKind::AttemptUnresolved
    );
    assert!(after.deposit.open_attempt().is_some(), "never written off");
    assert!(
        after
            .deposit
            .settle_past_horizon(1, &StatusOutcome::NotFound, REVERSAL)
            .is_empty()
    );
    // A found payment still settles it.
    assert_eq!(
        kinds(&after.deposit.settle_past_horizon(
            1,
            &found("ext_1", PaymentState::Pending, None),
            REVERSAL
        )),
        ["DepositSubmitted"]
    );
}

#[test]
fn a_refunds_outcome_goes_on_the_bus_with_its_amount_and_the_charge_it_reverses() {
    let published = |stream: &Stream| {
        let last = stream.events.last().unwrap();
        bus_event(&stream.deposit, last).expect("a refund's outcome is published")
    };
    // A merchant's refund reverses no charge; its failure says why.
    let refunding = Stream::succeeded(10_099).then(refund_requested(1, 500));
    let event = published(&refunding.clone().then(refund_succeeded(1)));
    assert_eq!(event.detail_type, "RefundSucceeded");
    assert_eq!(event.detail["refund_id"], refund_id(1).to_string());
    assert_eq!(event.detail["amount"], 500);
    assert_eq!(event.detail["reversed_charge"], serde_json::Value::Null);
    assert!(event.detail.get("reason").is_none());
    let event = published(&refunding.then(refund_failed(1)));
    assert_eq!(event.detail_type, "RefundFailed");
    assert_eq!(event.detail["amount"], 500);
    assert_eq!(event.detail["reason"]["code"], "refund_refused");
    // paygate's refund of a stray charge names the charge.
    let other = Sighting {
        external_id: "ext_2",
        ..charge_as_ext_1(None, "evt_2")
    };
    let reversing = refunded_stray(Stream::succeeded(10_099), &other);
    let event = published(&reversing.then(DepositEvent::RefundSucceeded {
        refund_id: REVERSAL,
    }));
    assert_eq!(event.detail["refund_id"], REVERSAL.to_string());
    assert_eq!(event.detail["amount"], 10_099);
    assert_eq!(
        event.detail["reversed_charge"],
        serde_json::json!({ "gateway": "psp_a", "external_id": "ext_2" })
    );
}
