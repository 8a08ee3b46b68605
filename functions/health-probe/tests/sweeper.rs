//! The sweeper half of `run_once`, on memory in front of real simulated gateways (which
//! send no webhooks): lost messages re-enqueued, silent submissions and open attempts
//! settled by asking the gateway, unpublished outcomes published, overlapping runs, and
//! the `limit` / time budget bounds.

use gateway_simulator::Behaviour;
use paygate_domain::ports::RandomIds;
use paygate_domain::service::{Cause, CommandPorts, Decision, RetryPolicy, Start, execute};
use paygate_domain::{CorrelationId, DepositEvent, DepositId, DepositStatus};
use paygate_kit::world::probe::{
    ALPHA, PAST_EVERY_CUT_OFF, SWEEP, Stored, World, assert_consistent, calm, count, settling,
    submitted_external_id,
};
use std::time::Duration;

/// Past the time within which the processor may send an attempt's request again.
const PAST_THE_KEY_HORIZON: time::Duration =
    time::Duration::hours(23).saturating_add(time::Duration::minutes(1));

/// A gateway that answers after 600 ms, past the processor's 400 ms request timeout (an
/// ambiguous answer), and settles its payments 30 ms after taking them.
fn slow_then_settling() -> Behaviour {
    Behaviour {
        latency_ms: 600,
        ..settling()
    }
}

/// THEN: the deposit succeeded with ALPHA's only payment, charged once, under the key of
/// its attempt 1.
async fn assert_succeeded_charged_once(world: &World, id: DepositId) {
    let view = world.view(id).await;
    assert_eq!(view.status, DepositStatus::Succeeded);
    let payments = world.gateway(ALPHA).payments();
    assert_eq!(payments.len(), 1);
    assert_eq!(view.external_id.as_deref(), Some(payments[0].id.as_str()));
    assert_eq!(world.gateway(ALPHA).charges(&format!("{id}:1")), 1);
}

/// A deposit whose only attempt at ALPHA is left open: the gateway took and settled the
/// payment, the processor never learnt it (its call timed out). Its message is hidden for
/// its backoff, which outlasts the test.
async fn ambiguous_deposit(world: &World, token: &str) -> DepositId {
    let before = world.gateway(ALPHA).payments().len();
    world.gateway(ALPHA).set_behaviour(slow_then_settling());
    let id = world.deposit(token).await;
    assert_eq!(world.drain().await, [id]);
    world.wait_for_payments(ALPHA, before + 1).await;
    world.wait_until_settled(ALPHA, before + 1).await;
    world.gateway(ALPHA).set_behaviour(settling());
    assert_eq!(
        world.kinds(id).await,
        ["DepositRequested", "AttemptStarted", "AttemptReleased"],
        "the attempt is open, owned by no run"
    );
    assert!(world.drain().await.is_empty(), "its message is backing off");
    id
}

// ================================================================ lost messages

#[tokio::test]
async fn a_deposit_whose_message_was_lost_is_re_enqueued_once_older_than_pending_after_and_completed_by_the_processor()
 {
    // GIVEN a deposit committed by the intake whose message never reached the queue
    let world = World::new().await;
    let id = world.lost_deposit("tok_visa").await;
    assert!(world.queued().is_empty());
    assert_eq!(world.status(id).await, DepositStatus::Pending);

    // WHEN the probe runs while it is younger than `pending_after`
    assert_eq!(world.run().await.requeued, 0);
    world.advance(SWEEP.pending_after - time::Duration::seconds(1));
    assert_eq!(world.run().await.requeued, 0);
    assert!(
        world.queued().is_empty(),
        "a young pending deposit is left alone"
    );

    // WHEN it is older than `pending_after`
    world.advance(time::Duration::seconds(2));
    let run = world.run().await;

    // THEN its message is sent again, and the processor completes it from there
    assert_eq!((run.requeued, run.sweep_failures), (1, 0));
    assert_eq!(world.queued(), [id]);
    assert_eq!(world.drain().await, [id]);
    let view = world.view(id).await;
    assert_eq!(view.status, DepositStatus::Submitted);
    assert_eq!(view.gateway.as_deref(), Some(ALPHA));
    assert_eq!(world.gateway(ALPHA).charges(&format!("{id}:1")), 1);
    // ... and once it left `pending` nothing is sent again
    world.advance(PAST_EVERY_CUT_OFF);
    world.gateway(ALPHA).set_behaviour(calm());
    let after = world.run().await;
    assert_eq!(after.requeued, 0);
    assert!(world.queued().is_empty());
}

/// A re-sent message that is lost again (or still waiting) is re-sent once per
/// `pending_after`, not on every run.
#[tokio::test]
async fn a_re_sent_pending_deposit_is_not_re_sent_again_before_another_period() {
    // GIVEN a deposit whose message was lost, re-sent by a run, and lost again
    let world = World::new().await;
    let id = world.lost_deposit("tok_visa").await;
    world.advance_past(SWEEP.pending_after);
    assert_eq!(world.run().await.requeued, 1);
    world.lose_queued();
    assert_eq!(world.status(id).await, DepositStatus::Pending);

    // WHEN the probe runs again within the period, THEN nothing is sent
    world.advance(time::Duration::minutes(1));
    assert_eq!(world.run().await.requeued, 0);
    world.advance(SWEEP.pending_after - time::Duration::minutes(2));
    assert_eq!(world.run().await.requeued, 0);
    assert!(world.queued().is_empty());

    // WHEN a full period has passed since the re-send, THEN it is sent again
    world.advance(time::Duration::minutes(2));
    assert_eq!(world.run().await.requeued, 1);
    assert_eq!(world.queued(), [id]);
}

// ================================================================ silent submissions

#[tokio::test]
async fn a_submitted_deposit_whose_webhook_never_comes_is_reconciled_to_the_gateways_outcome() {
    // GIVEN two deposits submitted to a gateway that settles them (one succeeds, one
    // fails) but sends no webhook, and a third whose payment is still pending there
    let world = World::new().await;
    world.gateway(ALPHA).set_behaviour(settling());
    let succeeds = world.deposit("tok_success").await;
    let fails = world.deposit("tok_fail_webhook").await;
    world.drain().await;
    world.wait_until_settled(ALPHA, 2).await;
    world.gateway(ALPHA).set_behaviour(calm());
    let pending = world.deposit("tok_success").await;
    world.drain().await;
    for id in [succeeds, fails, pending] {
        assert_eq!(world.status(id).await, DepositStatus::Submitted);
    }

    // WHEN the probe runs before `submitted_after`
    let early = world.run().await;
    // THEN it leaves them alone
    assert_eq!(early.submitted_settled, 0);
    assert_eq!(world.status(succeeds).await, DepositStatus::Submitted);

    // WHEN they have been submitted longer than `submitted_after`
    world.advance_past(SWEEP.submitted_after);
    let run = world.run().await;

    // THEN the gateway's answers are recorded: succeeded, failed (with its reason), and
    // the pending one stays submitted
    assert_eq!((run.submitted_settled, run.sweep_failures), (2, 0));
    assert_eq!(world.status(succeeds).await, DepositStatus::Succeeded);
    let events = world.events(succeeds).await;
    assert_eq!(
        events.last().map(|e| e.event.clone()),
        Some(DepositEvent::DepositSucceeded {
            external_id: submitted_external_id(&events).unwrap()
        })
    );
    assert_eq!(
        events.last().and_then(|e| e.causation_id.as_deref()),
        Some("sweeper")
    );
    assert_eq!(world.status(fails).await, DepositStatus::Failed);
    match &world.events(fails).await.last().unwrap().event {
        DepositEvent::DepositFailed { reason } => assert_eq!(reason.code, "insufficient_funds"),
        other => panic!("expected DepositFailed, got {other:?}"),
    }
    assert_eq!(world.status(pending).await, DepositStatus::Submitted);
    assert_eq!(
        world.kinds(pending).await,
        ["DepositRequested", "AttemptStarted", "DepositSubmitted"]
    );

    // ... a later run records nothing more
    world.advance(time::Duration::minutes(1));
    let again = world.run().await;
    assert_eq!(again.submitted_settled, 0);
    for id in [succeeds, fails] {
        let events = world.events(id).await;
        assert_consistent(&events);
        assert_eq!(
            count(&events, "DepositSucceeded") + count(&events, "DepositFailed"),
            1
        );
    }

    // ... and each outcome is on the bus exactly once, with its stored event's id
    // (the sweeper writes through the plain store, as `main.rs` wires it, so the
    // outcomes are published by a run after `unpublished_after`)
    for (id, kind) in [(succeeds, "DepositSucceeded"), (fails, "DepositFailed")] {
        let published = world.published_for(id, kind);
        assert_eq!(published.len(), 1, "{kind} of {id}: {published:?}");
        let stored = world.stored(id, kind).await;
        assert_eq!(
            published[0].detail["event_id"],
            stored.event_id.to_string().as_str()
        );
    }
}

/// The sweeper writes through the publishing store like every function, so an outcome it
/// records reaches the bus right after its append, not a run later.
#[tokio::test]
async fn an_outcome_the_sweeper_records_is_published_right_after_it_is_recorded() {
    let world = World::new().await;
    world.gateway(ALPHA).set_behaviour(settling());
    let id = world.deposit("tok_success").await;
    world.drain().await;
    world.wait_until_settled(ALPHA, 1).await;
    world.advance_past(SWEEP.submitted_after);
    assert_eq!(world.run().await.submitted_settled, 1);
    assert_eq!(world.published_for(id, "DepositSucceeded").len(), 1);
}

// ================================================================ open attempts

#[tokio::test]
async fn an_attempt_left_open_by_an_ambiguous_answer_is_taken_over_with_its_own_key() {
    // GIVEN a deposit whose attempt is open: the gateway's answer came too late, but it
    // took the payment and it succeeded
    let world = World::new().await;
    let id = ambiguous_deposit(&world, "tok_success").await;
    assert_eq!(world.status(id).await, DepositStatus::Processing);

    // WHEN the probe runs before `attempt_after`
    assert_eq!(world.run().await.requeued, 0);
    let left_open = ["DepositRequested", "AttemptStarted", "AttemptReleased"];
    assert_eq!(world.kinds(id).await, left_open);

    // WHEN the attempt has been open longer than `attempt_after`
    world.advance_past(SWEEP.attempt_after);
    let run = world.run().await;

    // THEN its message is sent again (no lookup: within the gateway's key horizon the
    // same request is the surest question), and the processor resumes the attempt with
    // its own key: the gateway answers with the payment it made
    assert_eq!((run.requeued, run.attempts_settled), (1, 0));
    assert_eq!(run.sweep_failures, 0);
    world.drain().await;
    let resumed = [&left_open[..], &["AttemptResumed", "DepositSubmitted"]].concat();
    assert_eq!(world.kinds(id).await, resumed);
    // ... and the submission is settled like any other: succeeded, charged once
    world.advance_past(SWEEP.submitted_after);
    assert_eq!(world.run().await.submitted_settled, 1);
    assert_succeeded_charged_once(&world, id).await;
}

#[tokio::test]
async fn an_attempt_left_open_past_the_gateways_key_horizon_is_settled_by_asking_its_gateway() {
    // GIVEN an open attempt whose payment succeeded, older than the time within which
    // paygate may send its request again (the gateway may have forgotten the key)
    let world = World::new().await;
    let id = ambiguous_deposit(&world, "tok_success").await;
    world.advance(PAST_THE_KEY_HORIZON);

    // WHEN the probe runs
    let run = world.run().await;

    // THEN the gateway is asked, not sent the payment again: submitted under that attempt
    // and succeeded; nothing was paid twice and no message was sent (nothing to route)
    assert_eq!((run.attempts_settled, run.requeued), (1, 0));
    assert_eq!(run.sweep_failures, 0);
    assert_eq!(
        world.kinds(id).await,
        [
            "DepositRequested",
            "AttemptStarted",
            "AttemptReleased",
            "DepositSubmitted",
            "DepositSucceeded"
        ]
    );
    assert_succeeded_charged_once(&world, id).await;
    // ... and a later run has nothing left to do
    world.advance(time::Duration::minutes(1));
    assert_eq!(world.run().await.attempts_settled, 0);
}

#[tokio::test]
async fn an_attempt_that_never_reached_its_gateway_is_resumed_with_its_own_key_and_never_routed_anew()
 {
    // GIVEN a deposit whose attempt at ALPHA was recorded, and then the processor died
    // before calling (the gateway has no payment for it), its message lost
    let world = World::new().await;
    let id = world.lost_deposit("tok_visa").await;
    let ports = CommandPorts {
        store: world.publishing.as_ref(),
        clock: world.clock.as_ref(),
        ids: &RandomIds,
    };
    execute(
        &ports,
        Start::Load(id),
        Cause {
            correlation: &CorrelationId("corr-crashed".into()),
            causation: Some("test"),
        },
        RetryPolicy::default(),
        |d: &paygate_domain::Deposit| {
            Ok(Decision::record(
                vec![DepositEvent::AttemptStarted {
                    attempt: 1,
                    gateway: ALPHA.into(),
                    idempotency_key: format!("{}:1", d.id),
                    owner: None,
                }],
                (),
            ))
        },
    )
    .await
    .map(|executed| executed.deposit)
    .expect("the attempt is recorded");

    // WHEN the attempt has been open longer than `attempt_after`
    world.advance_past(SWEEP.attempt_after);
    let run = world.run().await;

    // THEN its message is sent again: a gateway's "no such payment" is never proof the
    // payment will not appear, so the attempt is not closed; the processor resumes it
    // with the same key, and the only charge is under that key
    assert_eq!((run.attempts_settled, run.requeued), (0, 1));
    assert_eq!(world.queued(), [id]);
    world.drain().await;
    assert_eq!(
        world.kinds(id).await,
        [
            "DepositRequested",
            "AttemptStarted",
            "AttemptResumed",
            "DepositSubmitted"
        ]
    );
    let view = world.view(id).await;
    assert_eq!(view.status, DepositStatus::Submitted);
    assert_eq!(world.gateway(ALPHA).charges(&format!("{id}:1")), 1);
    assert_eq!(world.gateway(ALPHA).charges(&format!("{id}:2")), 0);
}

/// Each kind's `stale` query returns at most `limit` deposits, the longest-waiting
/// first. Deposits the sweeper looks at and must leave as they are (payments still
/// pending at the gateway, a gateway that cannot answer, `processing` with no open
/// attempt) are deferred: their wait restarts, so `limit` of them never hide a newer
/// one. Here a silent submission that settled is reconciled although two older ones
/// never settle.
#[tokio::test]
async fn deposits_the_sweeper_cannot_settle_do_not_starve_newer_ones() {
    let mut world = World::new().await;
    world.probe.sweep.limit = 2;
    // Two old submissions whose payments stay pending at the gateway ...
    world.gateway(ALPHA).set_behaviour(calm());
    world.deposit("tok_success").await;
    world.deposit("tok_success").await;
    world.drain().await;
    // ... and a newer one whose payment settled
    world.advance(time::Duration::seconds(1));
    world.gateway(ALPHA).set_behaviour(settling());
    let newer = world.deposit("tok_success").await;
    world.drain().await;
    world
        .wait_until_key_settled(ALPHA, &format!("{newer}:1"))
        .await;
    world.gateway(ALPHA).set_behaviour(calm());
    for _ in 0..3 {
        world.advance(time::Duration::minutes(2));
        world.run().await;
    }
    assert_eq!(world.status(newer).await, DepositStatus::Succeeded);
}

// ================================================================ unpublished events

#[tokio::test]
async fn an_outcome_not_published_when_it_was_recorded_is_published_by_the_next_sweep_exactly_once()
{
    // GIVEN a deposit whose success is recorded (the sweeper settling its open attempt)
    // while the bus is down
    let world = World::new().await;
    let id = ambiguous_deposit(&world, "tok_success").await;
    world.bus.set_failing(true);
    world.advance(PAST_THE_KEY_HORIZON);
    assert_eq!(world.run().await.attempts_settled, 1);
    assert_eq!(world.status(id).await, DepositStatus::Succeeded);
    world.bus.set_failing(false);
    assert!(world.published_for(id, "DepositSucceeded").is_empty());

    // WHEN the probe runs before `unpublished_after` has passed
    assert_eq!(world.run().await.published, 0);
    assert!(world.published_for(id, "DepositSucceeded").is_empty());

    // WHEN it runs after that
    world.advance_past(SWEEP.unpublished_after);
    let run = world.run().await;

    // THEN the success is published, once, carrying the stored event's id
    assert_eq!((run.published, run.sweep_failures), (1, 0));
    let published = world.published_for(id, "DepositSucceeded");
    assert_eq!(published.len(), 1);
    let stored = world.stored(id, "DepositSucceeded").await;
    let detail = &published[0].detail;
    assert_eq!(detail["event_id"], stored.event_id.to_string().as_str());
    assert_eq!(detail["version"], stored.version);
    assert_eq!(detail["gateway"], ALPHA);
    assert_eq!(detail["amount"], 10099);
    assert_eq!(detail["currency"], "AED");
    // ... and never again
    for _ in 0..2 {
        world.advance(time::Duration::minutes(1));
        assert_eq!(world.run().await.published, 0);
    }
    assert_eq!(world.published_for(id, "DepositSucceeded").len(), 1);
    assert_eq!(world.bus.of_type("DepositSucceeded").len(), 1);
}

// ================================================================ overlapping runs

#[tokio::test]
async fn two_runs_at_once_leave_consistent_state() {
    // GIVEN a lost message, a silent submission that succeeded, an open attempt whose
    // payment succeeded, all past their cut-offs
    let world = World::new().await;
    let open = ambiguous_deposit(&world, "tok_success").await;
    world.advance(PAST_THE_KEY_HORIZON);
    let silent = world.deposit("tok_success").await;
    world.drain().await;
    world.wait_until_settled(ALPHA, 2).await;
    let lost = world.lost_deposit("tok_visa").await;
    world.advance(PAST_EVERY_CUT_OFF);

    // WHEN two runs overlap, twice (the second pair publishes what the first recorded)
    let (a, b) = tokio::join!(world.run(), world.run());
    world.advance(PAST_EVERY_CUT_OFF);
    let (c, d) = tokio::join!(world.run(), world.run());

    // THEN each outcome is recorded once, each stream is gapless with unique events
    for id in [open, silent] {
        let events = world.events(id).await;
        assert_consistent(&events);
        assert_eq!(count(&events, "DepositSubmitted"), 1, "{id}");
        assert_eq!(count(&events, "DepositSucceeded"), 1, "{id}");
        assert_eq!(world.status(id).await, DepositStatus::Succeeded);
    }
    for run in [&a, &b, &c, &d] {
        assert_eq!(run.sweep_failures, 0, "{run:?}");
    }
    assert!(
        a.attempts_settled + b.attempts_settled >= 1,
        "{a:?} / {b:?}"
    );
    assert!(
        a.submitted_settled + b.submitted_settled >= 1,
        "{a:?} / {b:?}"
    );
    // ... each outcome went on the bus once (consumers would deduplicate on event_id)
    for id in [open, silent] {
        let published = world.published_for(id, "DepositSucceeded");
        assert_eq!(published.len(), 1, "{id}: {published:?}");
        let stored = world.stored(id, "DepositSucceeded").await;
        assert_eq!(
            published[0].detail["event_id"],
            stored.event_id.to_string().as_str()
        );
    }
    // ... the lost message may have been sent twice (and again by the second pair, as
    // the deposit is still pending), which the processor tolerates: one attempt, one
    // charge
    let requeued = a.requeued + b.requeued + c.requeued + d.requeued;
    assert!((2..=4).contains(&requeued), "{requeued}");
    assert_eq!(
        world.queued().iter().filter(|q| **q == lost).count(),
        requeued
    );
    world.drain().await;
    let events = world.events(lost).await;
    assert_consistent(&events);
    assert_eq!(count(&events, "AttemptStarted"), 1);
    assert_eq!(world.status(lost).await, DepositStatus::Submitted);
    assert_eq!(world.gateway(ALPHA).charges(&format!("{lost}:1")), 1);
    // ... what is left backs off: the open deposit's own message, and a copy of the lost
    // one that met its attempt owned by the run processing another copy (it waits)
    assert!(
        world.queued().iter().all(|q| [open, lost].contains(q)),
        "{:?}",
        world.queued()
    );
}

/// Only the run whose decision appended the answer counts it (and re-enqueues): an
/// overlapping run that finds it already recorded does not.
#[tokio::test]
async fn overlapping_runs_count_each_settlement_once() {
    let world = World::new().await;
    ambiguous_deposit(&world, "tok_success").await;
    world.advance(PAST_THE_KEY_HORIZON);
    let (a, b) = tokio::join!(world.run(), world.run());
    assert_eq!(a.attempts_settled + b.attempts_settled, 1, "{a:?} / {b:?}");
}

// ================================================================ bounds

#[tokio::test]
async fn the_sweep_takes_at_most_limit_deposits_of_a_kind_per_run_oldest_first() {
    // GIVEN three lost messages, a second apart, and a limit of 2
    let mut world = World::new().await;
    world.probe.sweep.limit = 2;
    let mut lost = Vec::new();
    for _ in 0..3 {
        lost.push(world.lost_deposit("tok_visa").await);
        world.advance(time::Duration::seconds(1));
    }
    world.advance(PAST_EVERY_CUT_OFF);

    // WHEN the probe runs
    let run = world.run().await;

    // THEN the two oldest are re-enqueued; the third waits
    assert_eq!(run.requeued, 2);
    assert!(!run.sweep_stopped_early);
    assert_eq!(world.queued(), lost[..2]);

    // WHEN they are processed and the probe runs again
    world.drain().await;
    world.advance(time::Duration::minutes(1));
    let next = world.run().await;

    // THEN the third is re-enqueued
    assert_eq!(next.requeued, 1);
    assert_eq!(world.queued(), lost[2..]);
    world.drain().await;
    for id in lost {
        assert_eq!(world.status(id).await, DepositStatus::Submitted);
    }
}

#[tokio::test]
async fn a_zero_sweep_budget_stops_the_sweep_before_any_work() {
    // GIVEN a lost message past its cut-off, and no time left for the sweep
    let mut world = World::new().await;
    let id = world.lost_deposit("tok_visa").await;
    world.advance(PAST_EVERY_CUT_OFF);
    world.probe.sweep_budget = Duration::ZERO;

    // WHEN the probe runs
    let run = world.run().await;

    // THEN gateways are still probed, but the sweep stops early and sends nothing
    assert_eq!(run.probed, 2);
    assert!(run.sweep_stopped_early);
    assert_eq!((run.requeued, run.sweep_failures), (0, 0));
    assert!(world.queued().is_empty());

    // WHEN the next run has time
    world.probe.sweep_budget = Duration::from_secs(5);
    let next = world.run().await;
    assert!(!next.sweep_stopped_early);
    assert_eq!(next.requeued, 1);
    assert_eq!(world.queued(), [id]);
}
