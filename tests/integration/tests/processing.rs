//! The gateway processor handler on SQS + DynamoDB (emulated) in front of simulated
//! gateways: routing, fallback, backoff and the DLQ, the breaker, declines, duplicate
//! deliveries and a crash between the gateway call and the event write (DESIGN §6–7).
//!
//! Each test has its own merchant, queue pair, country/currency pair and gateways (see
//! `paygate_integration::processing`), so they run in parallel.

use gateway_simulator::{Format, PaymentStatus};
use paygate_domain::gateways::{BreakerPolicy, BreakerState};
use paygate_domain::ports::{Clock, QueueSender};
use paygate_integration::pairs;
use paygate_integration::processing::{
    BACKOFF, Lane, MAX_RECEIVE_COUNT, outage, queue_size, working,
};
use paygate_kit::faults::{Hooked, OUTCOMES, Switchboard, Target};
use paygate_memory::ManualClock;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

// One pair per test ([`pairs`]): no other test has gateways serving it.

#[tokio::test]
async fn a_deposit_is_submitted_on_its_top_priority_gateway() {
    // GIVEN two working gateways for the deposit's country and currency
    let (lane, primary, backup) =
        Lane::with_primary_and_backup(pairs::TOP_PRIORITY, Format::Soap).await;
    let id = lane.deposit("tok_visa").await;

    // WHEN the processor receives the message the intake queued (in one delivery, which
    // acknowledges it: the message is deleted)
    lane.drain_in_one_delivery().await;

    // THEN it is submitted on the preferred gateway, charged once
    lane.paid_once_on(&id, &primary, &backup).await;
    assert_eq!(
        lane.event_types(&id).await,
        ["DepositRequested", "AttemptStarted", "DepositSubmitted"]
    );
}

#[tokio::test]
async fn a_gateway_in_outage_is_recorded_on_its_breaker_and_the_next_gateway_takes_the_deposit() {
    // GIVEN the top-priority gateway is in outage, the next one works
    let (lane, primary, backup) =
        Lane::with_primary_and_backup(pairs::FALLBACK, Format::Soap).await;
    primary.set_behaviour(outage());
    let id = lane.deposit("tok_visa").await;

    // WHEN the processor handles the message (in one delivery, which acknowledges it)
    lane.drain_in_one_delivery().await;

    // THEN within that one delivery it falls back and the deposit is submitted there
    lane.submitted_on(&id, &backup).await;
    assert!(primary.payments().is_empty(), "nothing done in an outage");
    assert_eq!(backup.payments().len(), 1);
    assert_eq!(
        backup.charges(&format!("{id}:2")),
        1,
        "second attempt, own key"
    );
    let events = lane.events(&id).await;
    assert_eq!(
        lane.event_types(&id).await,
        [
            "DepositRequested",
            "AttemptStarted",
            "AttemptFailed",
            "AttemptStarted",
            "DepositSubmitted"
        ]
    );
    assert_eq!(events[1]["data"]["gateway"], primary.name());
    assert_eq!(events[2]["data"]["retryable"], true);
    assert_eq!(events[3]["data"]["gateway"], backup.name());
    assert!(matches!(
        lane.breaker(&primary).await,
        BreakerState::Closed { failures: 1, .. }
    ));
}

#[tokio::test]
async fn with_every_gateway_down_a_deposit_backs_off_lands_in_the_dlq_and_is_submitted_once_redriven()
 {
    // GIVEN both gateways of the deposit's pair are in outage
    let (lane, primary, backup) = Lane::with_primary_and_backup(pairs::BREAKER, Format::Soap).await;
    primary.set_behaviour(outage());
    backup.set_behaviour(outage());
    let id = lane.deposit("tok_visa").await;

    // WHEN the processor works the queue until SQS stops delivering the message
    let deliveries = lane.drain().await;

    // THEN every delivery reported it failed, maxReceiveCount times ...
    let counts: Vec<u32> = deliveries.iter().flat_map(|d| d.receive_counts()).collect();
    assert_eq!(counts, (1..=MAX_RECEIVE_COUNT).collect::<Vec<_>>());
    assert!(
        deliveries
            .iter()
            .all(|d| d.failed.len() == d.received.len())
    );
    // ... each time asking for a longer backoff, within the policy ...
    let delays = lane.delays.delays();
    assert_eq!(delays.len(), MAX_RECEIVE_COUNT as usize);
    for (k, delay) in delays.iter().enumerate() {
        let cap = (BACKOFF.base * 2u32.pow(k as u32)).min(BACKOFF.max);
        assert!(
            *delay >= cap / 2 && *delay < cap,
            "retry {k}: {delay:?} not in [{:?}, {cap:?})",
            cap / 2
        );
    }
    assert!(
        delays.windows(2).all(|w| w[0] < w[1]),
        "growing: {delays:?}"
    );
    // ... which SQS applied: no delivery came sooner than the backoff asked ...
    for (k, pair) in deliveries.windows(2).enumerate() {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= delays[k], "gap {gap:?} < backoff {:?}", delays[k]);
    }
    // ... and then SQS moved it to the DLQ; nothing was charged, the deposit waits
    let dead = paygate_aws::peek(&lane.dlq, 10)
        .await
        .expect("peek the DLQ");
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].deposit_message().unwrap().deposit_id.to_string(),
        id
    );
    assert_eq!(lane.status(&id).await, "processing");
    assert!(primary.payments().is_empty() && backup.payments().is_empty());

    // WHEN the gateways recover and the DLQ is redriven to the source queue
    primary.set_behaviour(working());
    backup.set_behaviour(working());
    let report = paygate_aws::redrive(&lane.dlq, &lane.source, &lane.world.aws.sqs, None)
        .await
        .expect("redrive");
    assert_eq!(report.moved, 1, "{report:?}");
    let waited = Instant::now();
    while queue_size(&lane.world, &lane.source).await == 0 {
        assert!(waited.elapsed() < Duration::from_secs(10), "never redriven");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lane.drain_in_one_delivery().await;

    // THEN it is processed once more and submitted on the preferred gateway, charged once
    lane.submitted_on(&id, &primary).await;
    assert_eq!(primary.payments().len(), 1);
    assert_eq!(
        primary.charges(&format!("{id}:7")),
        1,
        "6 failed attempts before it"
    );
    assert!(backup.payments().is_empty());
    assert_eq!(queue_size(&lane.world, &lane.dlq).await, 0);
}

#[tokio::test]
async fn the_breaker_opens_after_two_failures_keeps_calls_away_and_closes_after_a_trial_success() {
    // GIVEN a breaker opening after 2 failures for 30 s, a clock the test moves, and a
    // top-priority gateway in outage with a working one behind it
    let mut lane = Lane::new(pairs::HALF_OPEN).await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let policy = BreakerPolicy {
        failure_threshold: 2,
        window: time::Duration::seconds(60),
        cool_down: time::Duration::seconds(30),
    };
    lane.processor.clock = clock.clone();
    lane.processor.breaker = policy;
    let (primary, backup) = lane.primary_and_backup(Format::Json).await;
    primary.set_behaviour(outage());

    // WHEN two deposits fail on it (each then submitted on the backup)
    let first = lane.deposit("tok_visa").await;
    lane.drain().await;
    assert_eq!(lane.view(&first).await["gateway"], backup.name());
    assert!(matches!(
        lane.breaker(&primary).await,
        BreakerState::Closed { failures: 1, .. }
    ));
    let second = lane.deposit("tok_visa").await;
    lane.drain().await;
    assert_eq!(lane.view(&second).await["gateway"], backup.name());

    // THEN its breaker is open for the cool-down
    let open_until = clock.now() + policy.cool_down;
    assert_eq!(
        lane.breaker(&primary).await,
        BreakerState::Open { until: open_until }
    );

    // WHEN it is back up but the breaker still open, and a third deposit comes
    primary.set_behaviour(working());
    let third = lane.deposit("tok_visa").await;
    lane.drain().await;

    // THEN it is not called at all: the deposit goes straight to the backup
    assert!(primary.payments().is_empty(), "called while open");
    lane.submitted_on(&third, &backup).await;
    assert_eq!(backup.charges(&format!("{third}:1")), 1, "first attempt");
    assert_eq!(
        lane.breaker(&primary).await,
        BreakerState::Open { until: open_until }
    );

    // WHEN the cool-down has passed and a fourth deposit comes
    clock.advance(policy.cool_down + time::Duration::seconds(1));
    let fourth = lane.deposit("tok_visa").await;
    lane.drain().await;

    // THEN the trial call goes to it, succeeds, and closes the breaker
    lane.submitted_on(&fourth, &primary).await;
    assert_eq!(primary.payments().len(), 1);
    let breaker = lane.breaker(&primary).await;
    assert_eq!(breaker, BreakerState::default());
    assert_eq!(breaker.name(clock.now()), "closed");
    assert_eq!(backup.payments().len(), 3);
}

#[tokio::test]
async fn a_declined_card_fails_the_deposit_without_falling_back() {
    // GIVEN two working gateways and a card the first one declines
    let (lane, primary, backup) = Lane::with_primary_and_backup(pairs::DECLINE, Format::Soap).await;
    let id = lane.deposit("tok_decline").await;

    // WHEN the processor handles the message (in one delivery, which acknowledges it: a
    // decline is not retried)
    lane.drain_in_one_delivery().await;

    // THEN the deposit fails for good and the second gateway is never asked
    assert_eq!(lane.status(&id).await, "failed");
    let declined = primary.payments();
    assert_eq!(declined.len(), 1);
    assert_eq!(declined[0].status, PaymentStatus::Declined);
    assert!(backup.payments().is_empty(), "no fallback after a decline");
    let events = lane.events(&id).await;
    assert_eq!(
        lane.event_types(&id).await,
        [
            "DepositRequested",
            "AttemptStarted",
            "AttemptFailed",
            "DepositFailed"
        ]
    );
    assert_eq!(events[2]["data"]["retryable"], false);
    assert_eq!(
        lane.breaker(&primary).await,
        BreakerState::default(),
        "a decline is an answer: the gateway works"
    );
}

#[tokio::test]
async fn the_same_message_delivered_twice_charges_once() {
    // GIVEN the intake's message for a deposit, and a duplicate of it, on the queue
    let (lane, primary, backup) =
        Lane::with_primary_and_backup(pairs::DUPLICATE_MESSAGE, Format::Json).await;
    let id = lane.deposit("tok_visa").await;
    let message = lane.queued_message().await;
    lane.source
        .send(&message, Duration::ZERO)
        .await
        .expect("send the duplicate");

    // WHEN the processor handles both
    let deliveries = lane.drain().await;

    // THEN both are acknowledged (a copy handled while the other held the attempt waits
    // out one backoff, then finds it done), the gateway charged once, one attempt recorded
    let received: usize = deliveries.iter().map(|d| d.received.len()).sum();
    let retried: usize = deliveries.iter().map(|d| d.failed.len()).sum();
    assert!(retried <= 1, "{retried} retries");
    assert_eq!(received, 2 + retried);
    assert_eq!(lane.status(&id).await, "submitted");
    assert_eq!(primary.charges(&format!("{id}:1")), 1);
    assert_eq!(primary.payments().len(), 1);
    assert!(backup.payments().is_empty());
    assert_eq!(
        lane.event_types(&id).await,
        ["DepositRequested", "AttemptStarted", "DepositSubmitted"]
    );
}

#[tokio::test]
async fn a_processor_dying_after_the_gateway_call_is_reconciled_without_a_second_charge() {
    // GIVEN a processor that dies after the gateway accepted the payment, before it
    // records the answer
    let mut lane = Lane::new(pairs::DEAD_PROCESSOR).await;
    let faults = Switchboard::new();
    let crash = faults
        .when(Target::append().recording(OUTCOMES))
        .once()
        .fail("simulated crash before recording the outcome");
    lane.processor.store = Arc::new(Hooked::new(lane.processor.store.clone(), faults));
    // Its ownership of the attempt lapses after a second instead of a minute.
    lane.processor.attempts.lease = time::Duration::seconds(1);
    let (primary, backup) = lane.primary_and_backup(Format::Soap).await;
    let id = lane.deposit("tok_visa").await;

    // WHEN it handles the message
    let first = lane.deliver().await;

    // THEN the payment exists at the gateway, the attempt is left open and the message
    // is left for redelivery
    assert_eq!(crash.fired(), 1);
    assert_eq!(first.received.len(), 1);
    assert!(first.retried(&first.received[0]));
    assert_eq!(primary.payments().len(), 1);
    assert_eq!(lane.status(&id).await, "processing");
    assert_eq!(
        lane.event_types(&id).await,
        ["DepositRequested", "AttemptStarted"]
    );

    // WHEN the message comes back after the dead run's ownership lapsed
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let again = lane.drain().await;

    // THEN the open attempt is taken over and its request sent again with the same key:
    // the gateway answers with the payment it made; submitted, charged once, no second
    // attempt
    assert_eq!(
        again
            .iter()
            .flat_map(|d| d.receive_counts())
            .collect::<Vec<_>>(),
        [2]
    );
    assert!(again.iter().all(|d| d.failed.is_empty()));
    lane.paid_once_on(&id, &primary, &backup).await;
    assert_eq!(
        lane.event_types(&id).await,
        [
            "DepositRequested",
            "AttemptStarted",
            "AttemptResumed",
            "DepositSubmitted"
        ]
    );
}
