//! The deposit aggregate, one behaviour per test: GIVEN a stream, WHEN an event arrives,
//! THEN it is accepted with the expected state, or refused with a reason and no change.

use paygate_domain::deposit::{
    AttemptState, Deposit, DepositEvent, DepositStatus, MAX_REFUNDS, TransitionError,
};
use paygate_kit::streams::*;

/// THEN: `event` is refused with `error` (a refusal leaves the stream as it was: `record`
/// checks that).
fn assert_refused(stream: &mut Stream, event: DepositEvent, error: TransitionError) {
    let kind = event.kind();
    assert_eq!(stream.record(event), Err(error), "{kind}");
}

/// What an `event` that a deposit in `status` may not take is refused with.
fn illegal(status: DepositStatus, event: &'static str) -> TransitionError {
    TransitionError::IllegalTransition { status, event }
}

// ---------------------------------------------------------------- starting a stream

#[test]
fn a_requested_deposit_starts_pending_without_a_gateway() {
    let stream = Stream::requested(10_099);
    let deposit = &stream.deposit;

    assert_eq!(deposit.id, DEPOSIT);
    assert_eq!(deposit.merchant_id, merchant());
    assert_eq!(deposit.status, DepositStatus::Pending);
    assert_eq!(deposit.version, 1);
    assert_eq!(deposit.request.amount.minor(), 10_099);
    assert!(deposit.attempts.is_empty() && deposit.refunds.is_empty());
    assert_eq!(
        (deposit.gateway.as_ref(), deposit.external_id.as_ref()),
        (None, None)
    );
    assert_eq!((deposit.created_at, deposit.updated_at), (at(1), at(1)));
    assert_eq!(deposit.next_attempt_number(), 1);
    assert_eq!(deposit.refundable_remaining(), 0);
}

#[test]
fn a_stream_must_start_with_deposit_requested_at_version_1() {
    assert_eq!(Deposit::replay(&[]), Err(TransitionError::NotStarted));

    let not_a_request = recorded(DEPOSIT, 1, attempt_started(1));
    assert_eq!(
        Deposit::start(&not_a_request),
        Err(TransitionError::NotStarted)
    );

    let at_version_2 = recorded(DEPOSIT, 2, requested_event(DEPOSIT, 100));
    assert_eq!(
        Deposit::start(&at_version_2),
        Err(TransitionError::NotStarted)
    );

    let at_version_0 = recorded(DEPOSIT, 0, requested_event(DEPOSIT, 100));
    assert_eq!(
        Deposit::start(&at_version_0),
        Err(TransitionError::NotStarted)
    );
}

#[test]
fn a_request_filed_under_another_stream_does_not_start_it() {
    // GIVEN a DepositRequested for OTHER_DEPOSIT stored in DEPOSIT's stream
    let misfiled = recorded(DEPOSIT, 1, requested_event(OTHER_DEPOSIT, 100));
    // THEN it does not start a deposit
    assert_eq!(Deposit::start(&misfiled), Err(TransitionError::NotStarted));
}

#[test]
fn a_second_deposit_requested_is_refused() {
    let mut stream = Stream::requested(100).then(attempt_started(1));

    let again = stream.record(requested_event(DEPOSIT, 100));

    assert_eq!(
        again,
        Err(illegal(DepositStatus::Processing, "DepositRequested"))
    );
}

// ---------------------------------------------------------------- attempts

#[test]
fn starting_an_attempt_moves_the_deposit_to_processing() {
    let mut stream = Stream::requested(100);

    stream.record(attempt_started_at(1, "psp_a")).unwrap();

    let deposit = &stream.deposit;
    assert_eq!(deposit.status, DepositStatus::Processing);
    let open = deposit.open_attempt().expect("attempt 1 is open");
    assert_eq!(
        (
            open.number,
            open.gateway.as_str(),
            open.idempotency_key.as_str()
        ),
        (1, "psp_a", format!("{DEPOSIT}:1").as_str())
    );
    assert_eq!(open.state, AttemptState::Open);
    assert_eq!(deposit.next_attempt_number(), 2);
    // the attempt's gateway is not the deposit's gateway until it is submitted there
    assert_eq!(deposit.gateway, None);
}

#[test]
fn a_second_attempt_cannot_start_while_one_is_open() {
    let mut stream = Stream::requested(100).then(attempt_started(1));

    let second = stream.record(attempt_started_at(2, "psp_b"));

    assert_eq!(second, Err(TransitionError::AttemptStillOpen(1)));
    assert_eq!(stream.deposit.attempts.len(), 1);
}

#[test]
fn a_transient_failure_lets_the_next_attempt_start() {
    let mut stream = Stream::requested(100)
        .then(attempt_started_at(1, "psp_a"))
        .then(attempt_failed(1, true));
    assert_eq!(stream.deposit.status, DepositStatus::Processing);
    assert_eq!(
        stream.deposit.attempts[0].state,
        AttemptState::Failed { retryable: true }
    );
    assert!(stream.deposit.open_attempt().is_none());

    stream.record(attempt_started_at(2, "psp_b")).unwrap();

    assert_eq!(stream.deposit.status, DepositStatus::Processing);
    assert_eq!(stream.deposit.open_attempt().map(|a| a.number), Some(2));
}

#[test]
fn attempts_must_be_numbered_in_order() {
    let mut stream = Stream::requested(100)
        .then(attempt_started(1))
        .then(attempt_failed(1, true));

    assert_eq!(
        stream.record(attempt_started(3)),
        Err(TransitionError::AttemptOutOfOrder {
            expected: 2,
            got: 3
        })
    );
    assert_eq!(
        stream.record(attempt_started(1)),
        Err(TransitionError::AttemptOutOfOrder {
            expected: 2,
            got: 1
        })
    );
    assert_eq!(
        Stream::requested(100).record(attempt_started(0)),
        Err(TransitionError::AttemptOutOfOrder {
            expected: 1,
            got: 0
        })
    );
}

#[test]
fn an_outcome_for_an_attempt_that_is_not_open_is_refused() {
    let open = Stream::requested(100).then(attempt_started(1));
    let cases = [
        (
            "no attempt was ever started",
            Stream::requested(100),
            [attempt_failed(1, true), submitted(1, "ext_1")],
            1,
        ),
        (
            "attempt 1 is open, the outcomes are for attempt 2",
            open.clone(),
            [attempt_failed(2, true), submitted(2, "ext_2")],
            2,
        ),
        (
            "attempt 1 has already failed",
            open.then(attempt_failed(1, true)),
            [attempt_failed(1, false), submitted(1, "ext_1")],
            1,
        ),
    ];
    for (case, mut stream, outcomes, attempt) in cases {
        for outcome in outcomes {
            // WHEN the outcome arrives THEN it is refused
            let kind = outcome.kind();
            assert_eq!(
                stream.record(outcome),
                Err(TransitionError::NoOpenAttempt(attempt)),
                "{case}: {kind}"
            );
        }
    }
}

// ---------------------------------------------------------------- outcomes

#[test]
fn a_submitted_then_confirmed_deposit_succeeds_at_its_gateway() {
    let mut stream = Stream::requested(10_099)
        .then(attempt_started_at(1, "psp_a"))
        .then(attempt_failed(1, true))
        .then(attempt_started_at(2, "psp_b"));

    stream.record(submitted_at(2, "psp_b", "ext_77")).unwrap();
    assert_eq!(stream.deposit.status, DepositStatus::Submitted);
    assert_eq!(stream.deposit.attempts[1].state, AttemptState::Submitted);
    assert_eq!(stream.deposit.gateway.as_deref(), Some("psp_b"));
    assert_eq!(stream.deposit.external_id.as_deref(), Some("ext_77"));

    stream.record(succeeded("ext_77")).unwrap();
    let deposit = &stream.deposit;
    assert_eq!(deposit.status, DepositStatus::Succeeded);
    assert_eq!(deposit.version, 6);
    assert_eq!(deposit.updated_at, at(6));
    assert_eq!(deposit.refundable_remaining(), 10_099);
    assert_eq!(deposit.refunded_amount(), 0);
}

#[test]
fn a_decline_after_an_attempt_fails_the_deposit() {
    // GIVEN an attempt is open at the gateway
    let mut stream = Stream::requested(100).then(attempt_started(1));

    // WHEN the gateway declines the payer: the attempt is closed, then the deposit fails
    stream.record(attempt_failed(1, false)).unwrap();
    stream.record(deposit_failed("card_declined")).unwrap();

    // THEN the deposit failed and the attempt is closed as not retryable
    assert_eq!(stream.deposit.status, DepositStatus::Failed);
    assert_eq!(
        stream.deposit.attempts[0].state,
        AttemptState::Failed { retryable: false }
    );
    assert!(stream.deposit.open_attempt().is_none());
}

#[test]
fn a_deposit_no_gateway_can_serve_fails_while_pending() {
    let mut stream = Stream::requested(100);

    stream
        .record(deposit_failed("no_gateway_available"))
        .unwrap();

    assert_eq!(stream.deposit.status, DepositStatus::Failed);
    assert!(stream.deposit.attempts.is_empty());
}

#[test]
fn a_submitted_deposit_can_still_fail() {
    let mut stream = Stream::requested(100)
        .then(attempt_started(1))
        .then(submitted(1, "ext_1"));

    stream.record(deposit_failed("expired")).unwrap();

    assert_eq!(stream.deposit.status, DepositStatus::Failed);
    assert_eq!(stream.deposit.attempts[0].state, AttemptState::Submitted);
}

#[test]
fn an_event_the_status_does_not_allow_is_refused_naming_both() {
    let processing = Stream::requested(100).then(attempt_started(1));
    let submission = processing.clone().then(submitted(1, "ext_1"));
    let failed = submission.clone().then(deposit_failed("expired"));
    let refunded = Stream::succeeded(10_000)
        .then(refund_requested(1, 10_000))
        .then(refund_succeeded(1));
    use DepositStatus::*;
    let cases = [
        (
            "success requires a submission: pending",
            Stream::requested(100),
            succeeded("ext_1"),
            Pending,
            "DepositSucceeded",
        ),
        (
            "success requires a submission: processing",
            processing,
            succeeded("ext_1"),
            Processing,
            "DepositSucceeded",
        ),
        (
            "a failed deposit refuses success",
            failed,
            succeeded("ext_1"),
            Failed,
            "DepositSucceeded",
        ),
        (
            "a succeeded deposit cannot fail",
            Stream::succeeded(100),
            deposit_failed("late_decline"),
            Succeeded,
            "DepositFailed",
        ),
        (
            "a succeeded deposit cannot succeed again",
            Stream::succeeded(100),
            succeeded("ext_1"),
            Succeeded,
            "DepositSucceeded",
        ),
        (
            "a succeeded deposit cannot be retried",
            Stream::succeeded(100),
            attempt_started(2),
            Succeeded,
            "AttemptStarted",
        ),
        (
            "a submitted deposit cannot start another attempt",
            submission,
            attempt_started(2),
            Submitted,
            "AttemptStarted",
        ),
        (
            "a refunded deposit refuses further refunds",
            refunded.clone(),
            refund_requested(2, 1),
            Refunded,
            "RefundRequested",
        ),
        (
            "a refunded deposit cannot fail",
            refunded,
            deposit_failed("chargeback"),
            Refunded,
            "DepositFailed",
        ),
    ];
    for (case, mut stream, event, status, kind) in cases {
        assert_eq!(stream.record(event), Err(illegal(status, kind)), "{case}");
    }
}

#[test]
fn a_failed_deposit_is_final() {
    let mut stream = Stream::requested(100)
        .then(attempt_started(1))
        .then(attempt_failed(1, false))
        .then(deposit_failed("card_declined"));

    for event in [
        attempt_started(2),
        deposit_failed("card_declined"),
        refund_requested(1, 10),
    ] {
        let kind = event.kind();
        assert!(stream.record(event).is_err(), "{kind} after failure");
    }
    assert_eq!(stream.deposit.status, DepositStatus::Failed);
    assert_eq!(stream.deposit.version, 4);
}

#[test]
fn a_deposit_cannot_fail_while_an_attempt_is_unresolved() {
    // GIVEN an attempt whose outcome at the gateway is unknown
    let mut stream = Stream::requested(100).then(attempt_started(1));

    // WHEN something tries to fail the deposit outright
    let result = stream.record(deposit_failed("gave_up"));

    // THEN it is refused: the attempt must be reconciled first
    assert_eq!(result, Err(TransitionError::AttemptStillOpen(1)));
    assert_eq!(stream.deposit.status, DepositStatus::Processing);
}

#[test]
fn a_submission_must_name_the_gateway_of_its_attempt() {
    let mut stream = Stream::requested(100).then(attempt_started_at(1, "psp_a"));

    let result = stream.record(submitted_at(1, "psp_b", "ext_1"));

    assert_eq!(
        result,
        Err(TransitionError::GatewayMismatch {
            attempt: 1,
            expected: "psp_a".into(),
            got: "psp_b".into(),
        })
    );
    assert_eq!(stream.deposit.gateway, None);
}

#[test]
fn success_must_name_the_submitted_payment() {
    let mut stream = Stream::requested(100)
        .then(attempt_started(1))
        .then(submitted(1, "ext_1"));

    let result = stream.record(succeeded("ext_other"));

    assert_eq!(
        result,
        Err(TransitionError::ExternalIdMismatch {
            expected: "ext_1".into(),
            got: "ext_other".into(),
        })
    );
    assert_eq!(stream.deposit.status, DepositStatus::Submitted);
}

// ---------------------------------------------------------------- refunds

#[test]
fn refunds_need_a_captured_deposit() {
    let not_captured = [
        Stream::requested(100),
        Stream::requested(100).then(attempt_started(1)),
        Stream::requested(100)
            .then(attempt_started(1))
            .then(submitted(1, "ext_1")),
        Stream::requested(100).then(deposit_failed("no_gateway_available")),
    ];
    for mut stream in not_captured {
        let status = stream.deposit.status;
        assert_eq!(
            stream.record(refund_requested(1, 10)),
            Err(illegal(status, "RefundRequested"))
        );
    }
}

#[test]
fn a_pending_refund_does_not_change_the_status() {
    let mut stream = Stream::succeeded(10_000);

    stream.record(refund_requested(1, 2_500)).unwrap();

    assert_eq!(stream.deposit.status, DepositStatus::Succeeded);
    assert_eq!(stream.deposit.refunded_amount(), 0);
    assert_eq!(pending_refunds(&stream.deposit), 2_500);
    assert_eq!(stream.deposit.refundable_remaining(), 7_500);
}

#[test]
fn refunds_cannot_exceed_the_captured_amount() {
    let exceeds = |requested, remaining| TransitionError::RefundExceedsRemaining {
        requested,
        remaining,
    };
    let mut stream = Stream::succeeded(10_000);

    assert_refused(
        &mut stream,
        refund_requested(1, 10_001),
        exceeds(10_001, 10_000),
    );

    // refunds in flight count against what is left
    stream.record(refund_requested(1, 6_000)).unwrap();
    assert_refused(
        &mut stream,
        refund_requested(2, 4_001),
        exceeds(4_001, 4_000),
    );

    // and so do confirmed ones
    stream.record(refund_succeeded(1)).unwrap();
    assert_refused(
        &mut stream,
        refund_requested(2, 4_001),
        exceeds(4_001, 4_000),
    );
    stream.record(refund_requested(2, 4_000)).unwrap();
    assert_eq!(stream.deposit.refundable_remaining(), 0);
}

#[test]
fn a_confirmed_refund_counts_and_leaves_the_status_to_what_is_left() {
    for (case, amount, status) in [
        (
            "a partial refund leaves the deposit partially refunded",
            3_000,
            DepositStatus::PartiallyRefunded,
        ),
        (
            "a single full refund ends refunded",
            10_000,
            DepositStatus::Refunded,
        ),
    ] {
        let mut stream = Stream::succeeded(10_000).then(refund_requested(1, amount));

        stream.record(refund_succeeded(1)).unwrap();

        let deposit = &stream.deposit;
        assert_eq!(deposit.status, status, "{case}");
        assert_eq!(deposit.refunded_amount(), amount, "{case}");
        assert_eq!(deposit.refundable_remaining(), 10_000 - amount, "{case}");
        assert_eq!(deposit.view().refunded_amount, amount, "{case}");
    }
}

#[test]
fn partial_then_full_refund_ends_refunded() {
    let mut stream = Stream::succeeded(10_000)
        .then(refund_requested(1, 3_000))
        .then(refund_succeeded(1))
        .then(refund_requested(2, 2_000))
        .then(refund_succeeded(2));
    assert_eq!(stream.deposit.status, DepositStatus::PartiallyRefunded);

    stream.record(refund_requested(3, 5_000)).unwrap();
    stream.record(refund_succeeded(3)).unwrap();

    assert_eq!(stream.deposit.status, DepositStatus::Refunded);
    assert_eq!(stream.deposit.refunded_amount(), 10_000);
    assert_eq!(stream.deposit.refundable_remaining(), 0);
}

#[test]
fn a_failed_refund_frees_its_amount_again() {
    let mut stream = Stream::succeeded(10_000)
        .then(refund_requested(1, 10_000))
        .then(refund_failed(1));
    assert_eq!(stream.deposit.status, DepositStatus::Succeeded);
    assert_eq!(stream.deposit.refundable_remaining(), 10_000);

    stream.record(refund_requested(2, 10_000)).unwrap();
    stream.record(refund_succeeded(2)).unwrap();

    assert_eq!(stream.deposit.status, DepositStatus::Refunded);
    assert_eq!(stream.deposit.refunded_amount(), 10_000);
}

#[test]
fn a_failed_refund_after_a_partial_one_keeps_the_status() {
    let mut stream = Stream::succeeded(10_000)
        .then(refund_requested(1, 1_000))
        .then(refund_succeeded(1))
        .then(refund_requested(2, 1_000));

    stream.record(refund_failed(2)).unwrap();

    assert_eq!(stream.deposit.status, DepositStatus::PartiallyRefunded);
    assert_eq!(stream.deposit.refunded_amount(), 1_000);
}

#[test]
fn a_refund_id_cannot_be_reused() {
    let reused = TransitionError::DuplicateRefund(refund_id(1));
    let mut stream = Stream::succeeded(10_000).then(refund_requested(1, 100));
    assert_refused(&mut stream, refund_requested(1, 100), reused.clone());

    // not even once it has concluded
    let mut stream = stream.then(refund_failed(1));
    assert_refused(&mut stream, refund_requested(1, 100), reused);
}

#[test]
fn a_refund_outcome_needs_a_pending_refund() {
    let none_pending = |k| TransitionError::NoPendingRefund(refund_id(k));
    let mut stream = Stream::succeeded(10_000);
    assert_refused(&mut stream, refund_succeeded(9), none_pending(9));
    assert_refused(&mut stream, refund_failed(9), none_pending(9));

    // a duplicate outcome (e.g. a redelivered webhook) is refused, not applied twice
    let mut stream = stream
        .then(refund_requested(1, 4_000))
        .then(refund_succeeded(1));
    assert_refused(&mut stream, refund_succeeded(1), none_pending(1));
    assert_refused(&mut stream, refund_failed(1), none_pending(1));
    assert_eq!(stream.deposit.refunded_amount(), 4_000);
}

// ---------------------------------------------------------------- the stream itself

#[test]
fn events_with_a_version_gap_are_refused() {
    let mut stream = Stream::requested(100).then(attempt_started(1));

    let skipping = recorded(DEPOSIT, 4, attempt_failed(1, true));
    assert_eq!(
        stream.apply(skipping),
        Err(TransitionError::VersionGap { current: 2, got: 4 })
    );

    // a redelivered event at a version already applied is refused too
    let replayed = recorded(DEPOSIT, 2, attempt_failed(1, true));
    assert_eq!(
        stream.apply(replayed),
        Err(TransitionError::VersionGap { current: 2, got: 2 })
    );

    assert_eq!(stream.deposit.version, 2);
}

#[test]
fn an_event_from_another_stream_is_refused() {
    let mut stream = Stream::requested(100);

    let foreign = recorded(OTHER_DEPOSIT, 2, attempt_started(1));

    assert_eq!(
        stream.apply(foreign),
        Err(TransitionError::WrongStream {
            expected: DEPOSIT,
            got: OTHER_DEPOSIT
        })
    );
    assert_eq!(stream.deposit.status, DepositStatus::Pending);
}

#[test]
fn checking_an_event_changes_nothing() {
    let stream = Stream::requested(100).then(attempt_started(1));
    let before = stream.deposit.clone();

    assert_eq!(
        stream.deposit.check(&submitted(1, "ext_1")),
        Ok(DepositStatus::Submitted)
    );
    assert_eq!(
        stream.deposit.check(&attempt_started(2)),
        Err(TransitionError::AttemptStillOpen(1))
    );
    assert_eq!(stream.deposit, before);
}

#[test]
fn replaying_a_stream_rebuilds_the_same_state() {
    let stream = Stream::succeeded(10_000)
        .then(refund_requested(1, 3_000))
        .then(refund_succeeded(1))
        .then(refund_requested(2, 500))
        .then(refund_failed(2));

    let replayed = Deposit::replay(&stream.events).unwrap();

    assert_eq!(replayed, stream.deposit);
    assert_eq!(replayed.created_at, at(1));
    assert_eq!(replayed.updated_at, at(8));
    assert_eq!(replayed.version, 8);
}

#[test]
fn a_stored_stream_with_an_illegal_event_does_not_replay() {
    let mut events = Stream::requested(100).then(attempt_started(1)).events;
    events.push(recorded(DEPOSIT, 3, succeeded("ext_1")));

    assert_eq!(
        Deposit::replay(&events),
        Err(illegal(DepositStatus::Processing, "DepositSucceeded"))
    );
}

#[test]
fn the_view_shows_what_the_merchant_sees() {
    let stream = Stream::succeeded(10_099)
        .then(refund_requested(1, 99))
        .then(refund_succeeded(1));

    let view = stream.deposit.view();

    assert_eq!(view.id, DEPOSIT);
    assert_eq!(view.merchant_id, merchant());
    assert_eq!(view.status, DepositStatus::PartiallyRefunded);
    assert_eq!(view.amount.minor(), 10_099);
    assert_eq!((view.currency.code(), view.country.code()), ("AED", "AE"));
    assert_eq!(view.customer_id, "cus_42");
    assert_eq!(view.gateway.as_deref(), Some("psp_a"));
    assert_eq!(view.external_id.as_deref(), Some("ext_1"));
    assert_eq!(view.refunded_amount, 99);
    assert_eq!(view.metadata["order"], "A-1");
    assert_eq!((view.created_at, view.updated_at), (at(1), at(6)));
    assert_eq!(view.version, 6);

    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["status"], "partially_refunded");
    assert_eq!(json["amount"], 10_099);
    assert_eq!(json["currency"], "AED");
}

#[test]
fn a_deposit_takes_a_bounded_number_of_refunds_but_paygates_own_are_never_refused() {
    // GIVEN a deposit refunded one minor unit at a time, as often as it may be
    let mut stream = Stream::succeeded(10_099);
    for k in 0..MAX_REFUNDS {
        stream = stream.then(refund_requested(k as u8, 1));
    }
    // THEN one more of the merchant's is refused, even with money left to refund
    assert!(stream.deposit.refundable_remaining() > 0);
    assert_refused(
        &mut stream,
        refund_requested(200, 1),
        TransitionError::TooManyRefunds { max: MAX_REFUNDS },
    );
    // ... while paygate's refund of a stray charge still goes through
    let reversal = DepositEvent::RefundRequested {
        refund_id: refund_id(201),
        amount: paygate_domain::money::Amount::new(500).unwrap(),
        charge: Some(paygate_domain::deposit::ChargeRef {
            gateway: "psp_b".into(),
            external_id: "ext_stray".into(),
        }),
    };
    stream.record(reversal).unwrap();
}

#[test]
fn later_events_carry_the_correlation_id_of_the_request_they_follow() {
    use paygate_domain::ids::CorrelationId;
    let webhook = CorrelationId("corr-webhook".into());
    let mut stream = Stream::succeeded(10_099);
    let deposits = stream.events[0].correlation_id.clone();
    // A merchant's refund request keeps its own id ...
    let asked = CorrelationId("corr-refund".into());
    assert_eq!(
        stream
            .deposit
            .correlation_for(&refund_requested(1, 100), &asked),
        asked
    );
    let mut request = stream.next(refund_requested(1, 100));
    request.correlation_id = asked.clone();
    stream.apply(request).unwrap();
    // ... and so does every later event of that refund, whoever caused it
    assert_eq!(
        stream
            .deposit
            .correlation_for(&refund_succeeded(1), &webhook),
        asked
    );
    // Everything else carries the deposit's
    assert_eq!(
        stream
            .deposit
            .correlation_for(&deposit_failed("late"), &webhook),
        deposits
    );
    assert_ne!(deposits, webhook);
}
