//! Behaviour of the gateway processor (DESIGN §6–7), driven through the real handler
//! (`handle` / `process_record`) on in-memory ports in front of real simulated gateways:
//! `alpha` (JSON, priority 1), `bravo` (SOAP, priority 2), `charlie` (JSON, priority 3),
//! all serving AE/AED; only `alpha` serves SA/SAR. Each test reads GIVEN / WHEN / THEN.

use gateway_processor::Disposition;
use gateway_simulator::Behaviour;
use paygate_domain::gateways::{BreakerPolicy, BreakerState};
use paygate_domain::ports::{Clock, DepositMessage, QueueSender};
use paygate_domain::{DepositId, DepositStatus};
use paygate_kit::world::processor::*;
use std::time::Duration;
use uuid::Uuid;

/// Stories (see `World::story`) several tests expect: a deposit taken on its first
/// attempt by the top-priority gateway, alpha, or by bravo when alpha is not asked.
const TAKEN_AT_ALPHA: [&str; 3] = [
    "DepositRequested",
    "AttemptStarted 1 alpha",
    "DepositSubmitted 1 alpha",
];
const TAKEN_AT_BRAVO: [&str; 3] = [
    "DepositRequested",
    "AttemptStarted 1 bravo",
    "DepositSubmitted 1 bravo",
];

/// The story of a deposit whose attempt 1 met alpha's outage (nothing was done there) and
/// whose attempt 2 went to bravo, then `and`.
fn alpha_down_then_bravo(and: &[&'static str]) -> Vec<&'static str> {
    let fell_back = [
        "DepositRequested",
        "AttemptStarted 1 alpha",
        "AttemptFailed 1 gateway_unavailable retryable",
        "AttemptStarted 2 bravo",
    ];
    [&fell_back[..], and].concat()
}

// ================================================================ the happy path

#[tokio::test]
async fn a_deposit_is_submitted_to_the_top_priority_gateway_and_found_by_its_external_id() {
    // GIVEN a pending deposit and three healthy gateways serving AE/AED
    let world = World::new().await;
    let message = world.deposit("tok_visa").await;
    let id = message.deposit_id;

    // WHEN the processor receives its message
    let response = world.invoke(vec![record(&message, 1)]).await;

    // THEN the message is done, and the deposit went to alpha, the top priority, once
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(world.story(id).await, TAKEN_AT_ALPHA);
    let view = world.view(id).await;
    assert_eq!(view.status, DepositStatus::Submitted);
    assert_eq!(view.gateway.as_deref(), Some(ALPHA));
    let payments = world.gateway(ALPHA).payments();
    assert_eq!(payments.len(), 1);
    let payment = &payments[0];
    assert_eq!(view.external_id.as_deref(), Some(payment.id.as_str()));
    assert_eq!(payment.idempotency_key, attempt_key(id, 1));
    assert_eq!(world.gateway(ALPHA).charges(&attempt_key(id, 1)), 1);
    assert_eq!(
        (
            payment.amount,
            payment.currency.as_str(),
            payment.country.as_str()
        ),
        (10099, "AED", "AE")
    );
    assert_eq!(
        payment.token, "tok_visa",
        "the decrypted token reached the PSP"
    );
    assert_eq!(world.total_payments(), 1, "no other gateway was called");

    // AND a webhook naming alpha's payment id leads back to the deposit
    let lookup = world
        .lookup(ALPHA, &payment.id)
        .await
        .expect("the external id is recorded");
    assert_eq!(lookup.deposit_id, id);
    assert_eq!(lookup.merchant_id, merchant(MERCHANT));
    assert_eq!(
        world.lookup(BRAVO, &payment.id).await,
        None,
        "ids are per gateway"
    );
}

#[tokio::test]
async fn a_deposit_paid_through_the_soap_gateway_is_submitted_with_its_transaction_id() {
    // GIVEN alpha switched off in the registry, so bravo (SOAP) is the best candidate
    let world = World::new().await;
    world.disable(ALPHA).await;

    // WHEN the processor receives its message (and is done with it)
    let id = world.processed_deposit("tok_visa").await;

    // THEN it is submitted at bravo with bravo's transaction id
    assert_eq!(world.story(id).await, TAKEN_AT_BRAVO);
    let external_id = world.submitted_external_id(id).await;
    assert!(external_id.starts_with("txn_"), "{external_id}");
    assert_eq!(world.gateway(BRAVO).charges(&attempt_key(id, 1)), 1);
    assert_eq!(
        world.lookup(BRAVO, &external_id).await.unwrap().deposit_id,
        id
    );
}

// ================================================================ fallback and declines

/// GIVEN alpha, the top priority, in an outage, WHEN a deposit paid with `token` is
/// processed (see `World::processed_deposit`).
async fn processed_while_alpha_is_down(token: &str) -> (World, DepositId) {
    let world = World::new().await;
    world.gateway(ALPHA).set_behaviour(outage());
    let id = world.processed_deposit(token).await;
    (world, id)
}

#[tokio::test]
async fn a_gateway_in_outage_is_skipped_for_the_next_by_priority_which_takes_the_payment() {
    // GIVEN alpha, the top priority, is in an outage (503: nothing was done)
    // WHEN the processor receives the message (and is done with it)
    let (world, id) = processed_while_alpha_is_down("tok_visa").await;

    // THEN the failed attempt is recorded as retryable and bravo took the payment
    assert_eq!(
        world.story(id).await,
        alpha_down_then_bravo(&["DepositSubmitted 2 bravo"])
    );
    let view = world.view(id).await;
    assert_eq!(view.status, DepositStatus::Submitted);
    assert_eq!(view.gateway.as_deref(), Some(BRAVO));
    assert_eq!(world.gateway(ALPHA).charges(&attempt_key(id, 1)), 0);
    assert!(world.gateway(ALPHA).payments().is_empty());
    assert_eq!(world.gateway(BRAVO).charges(&attempt_key(id, 2)), 1);
    assert!(world.gateway(CHARLIE).payments().is_empty());

    // AND alpha's failure counts on its breaker (one, still closed)
    assert!(matches!(
        world.gateway_status(ALPHA).await.breaker,
        BreakerState::Closed { failures: 1, .. }
    ));
}

#[tokio::test]
async fn a_declined_payer_fails_the_deposit_and_no_other_gateway_is_tried() {
    // GIVEN a deposit paid with a card the PSPs decline
    let world = World::new().await;

    // WHEN the processor receives the message (and is done with it)
    let id = world.processed_deposit("tok_decline").await;

    // THEN the deposit failed with the PSP's code, at alpha only
    assert_eq!(
        world.story(id).await,
        [
            "DepositRequested",
            "AttemptStarted 1 alpha",
            "AttemptFailed 1 card_declined final",
            "DepositFailed card_declined",
        ]
    );
    assert_eq!(world.view(id).await.status, DepositStatus::Failed);
    assert_eq!(world.gateway(ALPHA).charges(&attempt_key(id, 1)), 0);
    assert!(world.gateway(BRAVO).payments().is_empty());
    assert!(world.gateway(CHARLIE).payments().is_empty());

    // AND a decline is a working gateway: its breaker counts no failure
    world.assert_breaker_reset(ALPHA).await;
}

#[tokio::test]
async fn a_decline_by_the_fallback_gateway_is_final_too() {
    // GIVEN alpha in an outage and a card the PSPs decline
    // WHEN the processor receives the message (and is done with it)
    let (world, id) = processed_while_alpha_is_down("tok_decline").await;

    // THEN bravo's (SOAP) decline ends it; charlie is never asked
    assert_eq!(
        world.story(id).await,
        alpha_down_then_bravo(&[
            "AttemptFailed 2 card_declined final",
            "DepositFailed card_declined"
        ])
    );
    assert!(world.gateway(CHARLIE).payments().is_empty());
}

#[tokio::test]
async fn a_deposit_no_gateway_serves_fails_with_no_gateway() {
    // GIVEN a deposit in US/USD, which no gateway serves
    let world = World::new().await;
    let message = world.deposit_in("US", "USD", "tok_visa").await;
    let id = message.deposit_id;

    // WHEN the processor receives the message
    let disposition = world.deliver(&message, 1).await;

    // THEN the deposit failed with `no_gateway`, no attempt was made, nothing was called
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(
        world.story(id).await,
        ["DepositRequested", "DepositFailed no_gateway"]
    );
    assert_eq!(world.view(id).await.status, DepositStatus::Failed);
    assert_eq!(world.failure(id).await.unwrap().code, "no_gateway");
    assert_eq!(world.total_payments(), 0);
}

// ================================================================ retries, backoff, DLQ

#[tokio::test]
async fn with_every_gateway_down_the_message_is_retried_with_a_backoff_growing_with_each_receive() {
    // GIVEN every gateway in an outage
    let world = World::new().await;
    world.all_gateways(outage());
    let message = world.deposit("tok_visa").await;
    let id = message.deposit_id;

    // WHEN the message is received 5 times
    let mut dispositions = Vec::new();
    for receive_count in 1..=5 {
        dispositions.push(world.deliver(&message, receive_count).await);
    }

    // THEN each delivery asks to be retried, later each time: exponential backoff
    // (10 s base) with half of it jitter
    assert_eq!(dispositions, [Disposition::Retry; 5]);
    let delays = world.redeliveries.delays();
    assert_eq!(delays.len(), 5, "{delays:?}");
    for (n, delay) in delays.iter().enumerate() {
        let cap = Duration::from_secs(10 * (1 << n));
        assert!(
            *delay >= cap / 2 && *delay < cap,
            "receive {} asked for {delay:?}, expected [{:?}, {cap:?})",
            n + 1,
            cap / 2
        );
    }
    assert!(delays.windows(2).all(|w| w[0] < w[1]), "{delays:?}");

    // AND the deposit is still processing, nothing was charged anywhere
    assert_eq!(world.view(id).await.status, DepositStatus::Processing);
    assert_eq!(world.total_payments(), 0);
}

#[tokio::test]
async fn a_message_failing_every_receive_lands_in_the_dlq_and_once_redriven_after_recovery_is_submitted()
 {
    // GIVEN every gateway in an outage, and the deposit's message on the queue
    let world = World::new().await;
    world.all_gateways(outage());
    let message = world.deposit("tok_visa").await;
    let id = message.deposit_id;

    // WHEN the queue is fed to the handler until nothing is left to receive
    let receives = world.drain_queue().await;

    // THEN it was received 5 times, then SQS's redrive moved it to the DLQ
    assert_eq!(receives, [1, 2, 3, 4, 5]);
    assert!(world.queue.is_empty());
    assert_eq!(world.dlq.peek(), std::slice::from_ref(&message));
    assert_eq!(world.view(id).await.status, DepositStatus::Processing);
    assert_eq!(world.total_payments(), 0);

    // AND the five rounds of failures opened every gateway's breaker
    for name in [ALPHA, BRAVO, CHARLIE] {
        let breaker = world.gateway_status(name).await.breaker;
        assert!(
            matches!(breaker, BreakerState::Open { .. }),
            "{name}: {breaker:?}"
        );
    }

    // WHEN the gateways recover (and their breakers cool down)
    // and an operator redrives the DLQ back
    world.all_gateways(calm());
    world.clock.advance(time::Duration::minutes(1));
    assert_eq!(world.dlq.move_all_to(&world.queue), 1);
    let receives = world.drain_queue().await;

    // THEN the deposit is submitted with one charge, and both queues are empty
    assert_eq!(receives, [1]);
    assert!(world.queue.is_empty() && world.dlq.is_empty());
    let view = world.view(id).await;
    assert_eq!(view.status, DepositStatus::Submitted);
    assert_eq!(view.gateway.as_deref(), Some(ALPHA));
    assert_eq!(world.total_payments(), 1);
    // (5 receives × 3 gateways = 15 failed attempts before; the 16th, at alpha, paid)
    let story = world.story(id).await;
    let failed = story
        .iter()
        .filter(|l| l.ends_with("gateway_unavailable retryable"));
    assert_eq!(failed.count(), 15, "{story:?}");
    assert_eq!(
        story[story.len() - 2..],
        ["AttemptStarted 16 alpha", "DepositSubmitted 16 alpha"]
    );
    assert_eq!(world.gateway(ALPHA).charges(&attempt_key(id, 16)), 1);
}

#[tokio::test]
async fn a_message_for_an_unknown_deposit_is_never_processed_and_ends_in_the_dlq() {
    // GIVEN a message naming a deposit that does not exist
    let world = World::new().await;
    let ghost = DepositMessage {
        deposit_id: DepositId(Uuid::now_v7()),
        merchant_id: merchant(MERCHANT),
        correlation_id: paygate_domain::CorrelationId("corr-ghost".into()),
    };
    world.queue.send(&ghost, Duration::ZERO).await.unwrap();

    // WHEN the queue is fed to the handler
    let receives = world.drain_queue().await;

    // THEN every receive fails, the message ends in the DLQ, and nothing was written or paid
    assert_eq!(receives, [1, 2, 3, 4, 5]);
    assert_eq!(world.dlq.peek(), std::slice::from_ref(&ghost));
    assert!(world.events(ghost.deposit_id).await.is_empty());
    assert_eq!(world.store.stream_count(), 0);
    assert_eq!(world.total_payments(), 0);
}

#[tokio::test]
async fn a_message_naming_another_merchant_is_never_processed_and_ends_in_the_dlq() {
    // GIVEN merchant A's deposit, and a message claiming it for merchant B
    let world = World::new().await;
    let genuine = world.deposit("tok_visa").await;
    let id = genuine.deposit_id;
    world.queue.receive(10).iter().for_each(|m| {
        world.queue.delete(m.receipt);
    });
    let forged = DepositMessage {
        merchant_id: merchant(OTHER_MERCHANT),
        ..genuine.clone()
    };
    world.queue.send(&forged, Duration::ZERO).await.unwrap();

    // WHEN the queue is fed to the handler
    let receives = world.drain_queue().await;

    // THEN it is retried until the DLQ, and the deposit is untouched: no attempt, no payment
    assert_eq!(receives, [1, 2, 3, 4, 5]);
    assert_eq!(world.dlq.peek(), [forged]);
    assert_eq!(world.story(id).await, ["DepositRequested"]);
    assert_eq!(world.view(id).await.status, DepositStatus::Pending);
    assert_eq!(world.total_payments(), 0);
}

#[tokio::test]
async fn an_undecodable_message_is_retried_and_nothing_is_processed() {
    // GIVEN a record whose body is not a deposit message
    let world = World::new().await;
    let deposit = world.deposit("tok_visa").await;
    let mut garbage = record(&deposit, 1);
    garbage.body = Some("{\"deposit\":".into());

    // WHEN the handler receives it
    let response = world.invoke(vec![garbage.clone()]).await;

    // THEN it is reported failed (SQS retries it, then the DLQ keeps it); nothing happened
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, [garbage.message_id.unwrap()]);
    assert_eq!(world.story(deposit.deposit_id).await, ["DepositRequested"]);
    assert_eq!(world.total_payments(), 0);
}

// ================================================================ circuit breaker

/// GIVEN-helper: a breaker that opens after 3 failures (30 s cool-down), and alpha in an
/// outage.
async fn alpha_down_behind_a_breaker_of_3() -> World {
    let mut world = World::new().await;
    world.processor.breaker = BreakerPolicy {
        failure_threshold: 3,
        ..BreakerPolicy::default()
    };
    world.gateway(ALPHA).set_behaviour(outage());
    world
}

#[tokio::test]
async fn after_three_transient_failures_the_breaker_skips_the_gateway_until_its_cool_down_and_a_successful_trial_closes_it()
 {
    // GIVEN a breaker that opens after 3 failures (30 s cool-down) and alpha in an outage
    let world = alpha_down_behind_a_breaker_of_3().await;

    // WHEN three deposits are processed
    for _ in 0..3 {
        let message = world.deposit("tok_visa").await;
        assert_eq!(world.deliver(&message, 1).await, Disposition::Done);
        assert_eq!(
            world.view(message.deposit_id).await.gateway.as_deref(),
            Some(BRAVO)
        );
    }

    // THEN alpha's breaker is open
    let breaker = world.gateway_status(ALPHA).await.breaker;
    assert!(matches!(breaker, BreakerState::Open { .. }), "{breaker:?}");
    assert_eq!(breaker.name(world.clock.now()), "open");

    // WHEN alpha recovers, but its cool-down has not passed, and a fourth deposit comes
    world.gateway(ALPHA).set_behaviour(calm());
    let fourth = world.deposit("tok_visa").await;
    assert_eq!(world.deliver(&fourth, 1).await, Disposition::Done);

    // THEN alpha is not called at all: bravo takes it on the first attempt
    assert_eq!(world.story(fourth.deposit_id).await, TAKEN_AT_BRAVO);
    assert!(world.gateway(ALPHA).payments().is_empty());

    // WHEN the cool-down passes and a fifth deposit comes
    world.clock.advance(time::Duration::seconds(30));
    assert_eq!(
        world
            .gateway_status(ALPHA)
            .await
            .breaker
            .name(world.clock.now()),
        "half_open"
    );
    let fifth = world.deposit("tok_visa").await;
    assert_eq!(world.deliver(&fifth, 1).await, Disposition::Done);

    // THEN alpha gets the trial call, which succeeds and closes its breaker
    assert_eq!(world.story(fifth.deposit_id).await, TAKEN_AT_ALPHA);
    assert_eq!(
        world
            .gateway(ALPHA)
            .charges(&attempt_key(fifth.deposit_id, 1)),
        1
    );
    world.assert_breaker_reset(ALPHA).await;
}

#[tokio::test]
async fn a_failed_trial_after_the_cool_down_opens_the_breaker_again() {
    // GIVEN alpha's breaker opened by 3 failures, and alpha still down after the cool-down
    let world = alpha_down_behind_a_breaker_of_3().await;
    for _ in 0..3 {
        let message = world.deposit("tok_visa").await;
        world.deliver(&message, 1).await;
    }
    world.clock.advance(time::Duration::seconds(30));

    // WHEN a deposit is processed
    let message = world.deposit("tok_visa").await;
    assert_eq!(world.deliver(&message, 1).await, Disposition::Done);

    // THEN alpha got its trial, failed it, and is open for another cool-down; bravo paid
    assert_eq!(
        world.story(message.deposit_id).await,
        alpha_down_then_bravo(&["DepositSubmitted 2 bravo"])
    );
    assert_eq!(
        world.gateway_status(ALPHA).await.breaker,
        BreakerState::Open {
            until: world.clock.now() + time::Duration::seconds(30)
        }
    );
}

#[tokio::test]
async fn an_open_breaker_on_the_only_gateway_serving_a_deposit_makes_it_wait_without_a_call() {
    // GIVEN alpha, the only gateway serving SA/SAR, with an open breaker but working again
    let world = alpha_down_behind_a_breaker_of_3().await;
    for _ in 0..3 {
        let message = world.deposit_in("SA", "SAR", "tok_visa").await;
        assert_eq!(world.deliver(&message, 1).await, Disposition::Retry);
    }
    world.gateway(ALPHA).set_behaviour(calm());
    let message = world.deposit_in("SA", "SAR", "tok_visa").await;
    let id = message.deposit_id;

    // WHEN its message is received
    let disposition = world.deliver(&message, 1).await;

    // THEN it is retried later, with no attempt and no call to alpha
    assert_eq!(disposition, Disposition::Retry);
    assert_eq!(world.story(id).await, ["DepositRequested"]);
    assert!(world.gateway(ALPHA).payments().is_empty());

    // WHEN it comes back after the cool-down
    world.clock.advance(time::Duration::seconds(30));
    let disposition = world.deliver(&message, 2).await;

    // THEN alpha takes it and its breaker closes
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.story(id).await, TAKEN_AT_ALPHA);
    world.assert_breaker_reset(ALPHA).await;
}

// ================================================================ at-least-once delivery

/// THEN: the attempt `left_open` (the story so far) was resumed with its own key and
/// submitted with the payment alpha made: charged once, no other payment anywhere.
/// Returns that payment's id.
async fn assert_resumed_at_alpha(world: &World, id: DepositId, left_open: &[&str]) -> String {
    let resumed = [left_open, &["AttemptResumed", "DepositSubmitted 1 alpha"]].concat();
    assert_eq!(world.story(id).await, resumed);
    let paid = world.gateway(ALPHA).payments()[0].id.clone();
    assert_eq!(world.submitted_external_id(id).await, paid);
    assert_eq!(world.gateway(ALPHA).charges(&attempt_key(id, 1)), 1);
    assert_eq!(world.total_payments(), 1);
    paid
}

#[tokio::test]
async fn a_message_delivered_twice_charges_once_and_submits_once() {
    // GIVEN a deposit whose message was already processed
    let world = World::new().await;
    let message = world.deposit("tok_visa").await;
    let id = message.deposit_id;
    assert_eq!(world.deliver(&message, 1).await, Disposition::Done);
    let before = world.events(id).await;

    // WHEN SQS delivers the same message again
    let disposition = world.deliver(&message, 2).await;

    // THEN it is done with nothing new: no event, no call, one charge
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.events(id).await, before);
    assert_eq!(world.gateway(ALPHA).payments().len(), 1);
    assert_eq!(world.gateway(ALPHA).charges(&attempt_key(id, 1)), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_deliveries_racing_to_start_the_attempt_share_its_key_so_the_gateway_charges_once() {
    // GIVEN a pending deposit, and two Lambda instances that both got a copy of its
    // message and both decided to start attempt 1 (their writes meet in the store)
    let world = World::new().await;
    let message = world.deposit("tok_visa").await;
    let id = message.deposit_id;
    world.racing_writers();

    // WHEN both process their copy at the same time
    let (first, second) = world.invoked_twice_at_once(&message).await;

    // THEN one owns the attempt and is done; the other finds it owned and calls no one:
    // retried while the attempt is open, or done if it already finds it submitted (when
    // it reloads is a matter of timing); one attempt, one payment, one charge, one
    // DepositSubmitted
    let retried = [&first, &second]
        .iter()
        .filter(|batch| !batch.batch_item_failures.is_empty())
        .count();
    assert!(retried <= 1, "{first:?} {second:?}");
    assert_eq!(world.story(id).await, TAKEN_AT_ALPHA);
    assert_eq!(world.total_payments(), 1, "{:?}", world.payment_counts());
    assert_eq!(world.gateway(ALPHA).charges(&attempt_key(id, 1)), 1);
    assert_eq!(
        world.submitted_external_id(id).await,
        world.gateway(ALPHA).payments()[0].id
    );
}

#[tokio::test]
async fn a_processor_killed_after_the_gateway_call_is_reconciled_on_redelivery_without_paying_again()
 {
    // GIVEN a processor that dies after alpha accepted the payment, before recording it
    let world = World::new().await;
    let killer = world.killed_after_the_call();
    let message = world.deposit("tok_visa").await;
    let id = message.deposit_id;
    let first = world.deliver(&message, 1).await;
    assert_eq!(killer.fired(), 1);

    // THEN that delivery is retried, and the attempt is left open
    assert_eq!(first, Disposition::Retry);
    let left_open = ["DepositRequested", "AttemptStarted 1 alpha"];
    assert_eq!(world.story(id).await, left_open);
    assert_eq!(world.gateway(ALPHA).charges(&attempt_key(id, 1)), 1);
    let paid = world.gateway(ALPHA).payments()[0].id.clone();

    // WHEN the message is delivered again while the dead run's lease still holds
    let second = world.deliver(&message, 2).await;

    // THEN it waits: retried, nothing recorded, nothing sent to any gateway
    assert_eq!(second, Disposition::Retry);
    assert_eq!(world.story(id).await, left_open);
    assert_eq!(world.total_payments(), 1);

    // WHEN it comes again once the lease ran out
    world.clock.advance(time::Duration::seconds(61));
    let third = world.deliver(&message, 3).await;

    // THEN the attempt is resumed with its own key: alpha answers with the payment it
    // made, no second attempt, no second charge
    assert_eq!(third, Disposition::Done);
    assert_eq!(assert_resumed_at_alpha(&world, id, &left_open).await, paid);
    assert_eq!(world.lookup(ALPHA, &paid).await.unwrap().deposit_id, id);
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_leaves_the_attempt_open_never_falls_back_and_is_reconciled_next_time()
 {
    // GIVEN connectors that wait 200 ms, and alpha answering after 400 ms
    let mut world = World::new().await;
    world.processor.connectors = std::sync::Arc::new(
        paygate_gateways::ConnectorCache::with_timeouts(paygate_gateways::Timeouts {
            request: Duration::from_millis(200),
            ..paygate_gateways::Timeouts::default()
        }),
    );
    world.gateway(ALPHA).set_behaviour(Behaviour {
        latency_ms: 400,
        ..calm()
    });
    let message = world.deposit("tok_visa").await;
    let id = message.deposit_id;

    // WHEN the message is processed, and again while alpha is still slow
    let first = world.deliver(&message, 1).await;
    let second = world.deliver(&message, 2).await;

    // THEN both are retried; the attempt stays open (each run gives up its ownership, the
    // next resumes it with the same key); no other gateway is ever tried
    assert_eq!((first, second), (Disposition::Retry, Disposition::Retry));
    let left_open = [
        "DepositRequested",
        "AttemptStarted 1 alpha",
        "AttemptReleased",
        "AttemptResumed",
        "AttemptReleased",
    ];
    assert_eq!(world.story(id).await, left_open);
    assert_eq!(world.view(id).await.status, DepositStatus::Processing);
    assert!(world.gateway(BRAVO).payments().is_empty());
    assert!(world.gateway(CHARLIE).payments().is_empty());

    // WHEN alpha (which did take the payment) answers quickly again and the message returns
    world.wait_for_payments(ALPHA, 1).await;
    world.gateway(ALPHA).set_behaviour(calm());
    let third = world.deliver(&message, 3).await;

    // THEN the attempt is reconciled: submitted with alpha's payment, charged once
    assert_eq!(third, Disposition::Done);
    assert_resumed_at_alpha(&world, id, &left_open).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_delivery_that_finds_no_payment_while_the_first_call_is_in_flight_waits_instead_of_paying_again()
 {
    // GIVEN delivery A has recorded attempt 1 and its call to alpha is still running
    let world = World::new().await;
    let message = world.deposit("tok_visa").await;
    let id = message.deposit_id;
    world.gateway(ALPHA).set_behaviour(Behaviour {
        latency_ms: 300,
        ..calm()
    });
    let first = world.deliver(&message, 1);
    // WHEN delivery B of the same message asks alpha about attempt 1 before it exists
    let second = async {
        while world.story(id).await.len() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        world.gateway(ALPHA).set_behaviour(calm());
        world.deliver(&message, 1).await
    };
    let (a, b) = tokio::join!(first, second);
    // THEN B waits (retry later) rather than closing the attempt and paying under key :2
    assert_eq!(a, Disposition::Done);
    assert_eq!(b, Disposition::Retry);
    assert_eq!(
        world.gateway(ALPHA).payments().len(),
        1,
        "the payer is charged once"
    );
    assert_eq!(world.gateway(ALPHA).charges(&format!("{id}:2")), 0);
    let story = world.story(id).await;
    assert_eq!(story.len(), 3, "{story:?}");
}
