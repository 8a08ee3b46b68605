//! Refunds in the gateway processor (DESIGN §5–6), driven through the real handler on
//! in-memory ports in front of real simulated gateways: a refund requested on a captured
//! deposit is sent, on the deposit's next message, to the gateway that captured it under
//! the key `<deposit id>:refund:<refund id>`. Deposits are created and refunds requested
//! by the real intake use cases; payment and refund outcomes arrive through the webhook
//! use case (`apply_notification`). Each test reads GIVEN / WHEN / THEN.

use gateway_processor::Disposition;
use gateway_simulator::RefundRecord;
use paygate_domain::idempotency::{Fingerprint, IdempotencyKey, IdempotencyPolicy, RefundSnapshot};
use paygate_domain::ports::gateway::{NotifiedOutcome, RefundOutcome, RefundRequest};
use paygate_domain::ports::{DepositMessage, RandomIds};
use paygate_domain::service::intake::IntakePorts;
use paygate_domain::service::intake::KeyContext;
use paygate_domain::service::outcome::{Applied, Reached};
use paygate_domain::service::refund::{CREATE_REFUND, RefundCreated, RefundInput, request_refund};
use paygate_domain::{Amount, Deposit, DepositEvent, DepositId, DepositStatus, RefundId};
use paygate_gateways::{ConnectorConfig, Timeouts, WireFormat, connector_for};
use paygate_kit::fixtures;
use paygate_kit::gateway_reports::apply;
use paygate_kit::world::processor::*;
use uuid::Uuid;

/// What `World::deposit` charges.
const DEPOSIT_AMOUNT: u64 = 10099;

// ================================================================ GIVEN helpers

/// The gateway's outcome report, applied by the webhook use case.
async fn webhook(
    world: &World,
    gateway: &str,
    external_id: &str,
    outcome: NotifiedOutcome,
) -> Applied {
    let (store, clock) = (world.store.as_ref(), world.clock.as_ref());
    apply(
        store,
        clock,
        world.queue.as_ref(),
        gateway,
        external_id,
        outcome,
        "test-webhook",
    )
    .await
}

/// `gateway`'s webhook reports its refund `refund_external_id` of `payment` succeeded.
async fn refund_confirmed(
    world: &World,
    gateway: &str,
    payment: &str,
    refund_external_id: String,
) -> Applied {
    let outcome = NotifiedOutcome::RefundSucceeded { refund_external_id };
    webhook(world, gateway, payment, outcome).await
}

/// GIVEN-helper: a deposit of merchant A processed from the queue and then reported
/// succeeded by the gateway that took it. Returns its message, that gateway and its
/// payment id there.
async fn captured(world: &World) -> (DepositMessage, String, String) {
    let message = world.deposit("tok_visa").await;
    let id = message.deposit_id;
    assert_eq!(
        world.drain_queue().await,
        [1],
        "the deposit is processed once"
    );
    let view = world.view(id).await;
    assert_eq!(view.status, DepositStatus::Submitted);
    let gateway = view.gateway.expect("a gateway took the payment");
    let external_id = world.submitted_external_id(id).await;
    let applied = webhook(
        world,
        &gateway,
        &external_id,
        NotifiedOutcome::PaymentSucceeded,
    )
    .await;
    assert_eq!(
        applied,
        Applied::Recorded(Reached::deposit(DepositStatus::Succeeded))
    );
    (message, gateway, external_id)
}

/// Merchant A asks for a refund (`None`: all that is left) through the intake use case,
/// which records it and sends the deposit's message to the queue.
async fn ask_refund(
    world: &World,
    message: &DepositMessage,
    amount: Option<u64>,
) -> RefundSnapshot {
    let key = IdempotencyKey::parse(Some(&format!("refund-{}", Uuid::new_v4()))).unwrap();
    let ports = IntakePorts {
        store: world.store.as_ref(),
        queue: world.queue.as_ref(),
        clock: world.clock.as_ref(),
        ids: &RandomIds,
        cipher: &world.cipher,
        policy: IdempotencyPolicy::default(),
    };
    let body = format!("{amount:?}:{}", message.deposit_id);
    let created = request_refund(
        &ports,
        RefundInput {
            keyed: KeyContext {
                merchant: &message.merchant_id,
                key: &key,
                fingerprint: &Fingerprint::of(CREATE_REFUND, body.as_bytes()),
                correlation: &message.correlation_id,
            },
            deposit_id: message.deposit_id,
            amount: amount.map(|a| Amount::new(a).expect("a valid amount")),
        },
    )
    .await
    .expect("the refund is accepted");
    let RefundCreated::New { refund, .. } = created else {
        panic!("a fresh key creates a refund");
    };
    refund
}

/// GIVEN-helper: a captured deposit (see [`captured`]) with a refund of `amount`
/// requested.
async fn refund_requested(amount: u64) -> (World, DepositMessage, RefundSnapshot) {
    let world = World::new().await;
    let (message, _, _) = captured(&world).await;
    let refund = ask_refund(&world, &message, Some(amount)).await;
    (world, message, refund)
}

/// THEN: alpha holds exactly one refund, `refund`'s, taken once under its key, and the
/// stream records alpha's id for it.
async fn assert_refunded_once_at_alpha(world: &World, id: DepositId, refund: &RefundSnapshot) {
    let at_alpha = refunds_at(world, ALPHA);
    assert_eq!(at_alpha.len(), 1, "{at_alpha:?}");
    let key = refund_key(id, refund.refund_id);
    assert_eq!(world.gateway(ALPHA).charges(&key), 1);
    let recorded = submitted_refund_id(world, id, refund.refund_id).await;
    assert_eq!(recorded, Some(at_alpha[0].id.clone()));
}

/// THEN: the deposit is refunded, all of it.
async fn assert_refunded_in_full(world: &World, id: DepositId) {
    let view = world.view(id).await;
    assert_eq!(view.status, DepositStatus::Refunded);
    assert_eq!(view.refunded_amount, DEPOSIT_AMOUNT);
}

/// The key the processor sends a refund under (DESIGN §6).
fn refund_key(id: DepositId, refund: RefundId) -> String {
    format!("{id}:refund:{refund}")
}

/// Every refund a simulated gateway holds, over all its payments.
fn refunds_at(world: &World, gateway: &str) -> Vec<RefundRecord> {
    world
        .gateway(gateway)
        .payments()
        .into_iter()
        .flat_map(|p| p.refunds)
        .collect()
}

/// The gateway's refund id recorded for `refund`, if the processor recorded one.
async fn submitted_refund_id(world: &World, id: DepositId, refund: RefundId) -> Option<String> {
    world
        .events(id)
        .await
        .into_iter()
        .find_map(|e| match e.event {
            DepositEvent::RefundSubmitted {
                refund_id,
                refund_external_id,
            } if refund_id == refund => Some(refund_external_id),
            _ => None,
        })
}

/// The deposit as the domain sees it now.
async fn deposit(world: &World, id: DepositId) -> Deposit {
    Deposit::replay(&world.events(id).await).expect("the stream replays")
}

const CAPTURED: [&str; 4] = [
    "DepositRequested",
    "AttemptStarted 1 alpha",
    "DepositSubmitted 1 alpha",
    "DepositSucceeded",
];

fn story_then(tail: &[&str]) -> Vec<String> {
    CAPTURED
        .iter()
        .chain(tail)
        .map(|s| (*s).to_owned())
        .collect()
}

// ================================================================ submission

#[tokio::test]
async fn requested_refunds_are_submitted_to_the_capturing_gateway_under_their_refund_keys() {
    // GIVEN a deposit captured by alpha, and a refund of 4000 requested on it
    let world = World::new().await;
    let (message, gateway, payment) = captured(&world).await;
    assert_eq!(gateway, ALPHA);
    let id = message.deposit_id;
    let refund = ask_refund(&world, &message, Some(4000)).await;

    // WHEN the processor receives the message the refund request sent
    let receives = world.drain_queue().await;

    // THEN it is done, and alpha holds one refund of 4000 on the payment, under the key
    assert_eq!(receives, [1]);
    let at_alpha = refunds_at(&world, ALPHA);
    assert_eq!(at_alpha.len(), 1, "{at_alpha:?}");
    let taken = &at_alpha[0];
    assert_eq!(taken.idempotency_key, refund_key(id, refund.refund_id));
    assert_eq!(taken.payment_id, payment);
    assert_eq!(taken.amount, 4000);
    assert!(taken.id.starts_with("ref_"), "{}", taken.id);
    assert_eq!(
        world
            .gateway(ALPHA)
            .charges(&refund_key(id, refund.refund_id)),
        1
    );
    assert!(world.gateway(BRAVO).payments().is_empty());
    assert!(world.gateway(CHARLIE).payments().is_empty());

    // AND RefundSubmitted names alpha's refund id; nothing counts as refunded yet
    assert_eq!(
        world.story(id).await,
        story_then(&["RefundRequested", "RefundSubmitted"])
    );
    assert_eq!(
        submitted_refund_id(&world, id, refund.refund_id)
            .await
            .as_deref(),
        Some(taken.id.as_str())
    );
    let view = world.view(id).await;
    assert_eq!(view.status, DepositStatus::Succeeded);
    assert_eq!(view.refunded_amount, 0);

    // WHEN alpha's webhook reports that refund succeeded
    let applied = refund_confirmed(&world, ALPHA, &payment, taken.id.clone()).await;

    // THEN the deposit is partially refunded by 4000
    assert_eq!(
        applied,
        Applied::Recorded(Reached::deposit(DepositStatus::PartiallyRefunded))
    );
    let view = world.view(id).await;
    assert_eq!(view.refunded_amount, 4000);
    assert_eq!(view.status, DepositStatus::PartiallyRefunded);

    // WHEN the rest is refunded from the partially refunded deposit and processed
    let rest = ask_refund(&world, &message, None).await;
    assert_eq!(rest.amount.minor(), DEPOSIT_AMOUNT - 4000);
    assert_eq!(world.drain_queue().await, [1]);

    // THEN alpha took it too, under its own key, and its webhook makes the deposit refunded
    let at_alpha = refunds_at(&world, ALPHA);
    assert_eq!(at_alpha.len(), 2, "{at_alpha:?}");
    let second = at_alpha
        .iter()
        .find(|r| r.idempotency_key == refund_key(id, rest.refund_id))
        .expect("the second refund reached alpha");
    assert_eq!(second.amount, (DEPOSIT_AMOUNT - 4000) as i64);
    refund_confirmed(&world, ALPHA, &payment, second.id.clone()).await;
    assert_refunded_in_full(&world, id).await;
}

#[tokio::test]
async fn a_payment_captured_by_the_fallback_gateway_is_refunded_there_not_at_the_top_priority_one()
{
    // GIVEN a deposit captured by bravo (SOAP) while alpha was in an outage; alpha is back
    let world = World::new().await;
    world.gateway(ALPHA).set_behaviour(outage());
    let message = world.deposit("tok_visa").await;
    let id = message.deposit_id;
    assert_eq!(world.drain_queue().await, [1]);
    let payment = world.submitted_external_id(id).await;
    assert_eq!(world.view(id).await.gateway.as_deref(), Some(BRAVO));
    webhook(&world, BRAVO, &payment, NotifiedOutcome::PaymentSucceeded).await;
    world.gateway(ALPHA).set_behaviour(calm());

    // WHEN all of it is refunded and the message is processed
    let refund = ask_refund(&world, &message, None).await;
    assert_eq!(refund.amount.minor(), DEPOSIT_AMOUNT);
    assert_eq!(world.drain_queue().await, [1]);

    // THEN bravo took the refund of the whole payment, with its own id; alpha saw nothing
    let at_bravo = refunds_at(&world, BRAVO);
    assert_eq!(at_bravo.len(), 1, "{at_bravo:?}");
    assert_eq!(at_bravo[0].payment_id, payment);
    assert_eq!(at_bravo[0].amount, DEPOSIT_AMOUNT as i64);
    assert_eq!(
        at_bravo[0].idempotency_key,
        refund_key(id, refund.refund_id)
    );
    assert!(at_bravo[0].id.starts_with("rf_"), "{}", at_bravo[0].id);
    assert!(world.gateway(ALPHA).payments().is_empty());
    assert_eq!(
        submitted_refund_id(&world, id, refund.refund_id).await,
        Some(at_bravo[0].id.clone())
    );

    // AND bravo's webhook makes the deposit refunded
    refund_confirmed(&world, BRAVO, &payment, at_bravo[0].id.clone()).await;
    assert_refunded_in_full(&world, id).await;
}

#[tokio::test]
async fn two_refunds_requested_before_processing_are_both_submitted_and_the_second_message_finds_nothing_to_do()
 {
    // GIVEN a captured deposit with refunds of 3000 and 2000 requested (two messages)
    let world = World::new().await;
    let (message, _, payment) = captured(&world).await;
    let id = message.deposit_id;
    let first = ask_refund(&world, &message, Some(3000)).await;
    let second = ask_refund(&world, &message, Some(2000)).await;

    // WHEN the processor drains the queue
    let receives = world.drain_queue().await;

    // THEN both messages are done, both refunds submitted once each under their own key
    assert_eq!(receives, [1, 1]);
    assert_eq!(
        world.story(id).await,
        story_then(&[
            "RefundRequested",
            "RefundRequested",
            "RefundSubmitted",
            "RefundSubmitted"
        ])
    );
    let mut at_alpha: Vec<(String, i64)> = refunds_at(&world, ALPHA)
        .into_iter()
        .map(|r| {
            assert_eq!(r.payment_id, payment);
            (r.idempotency_key, r.amount)
        })
        .collect();
    at_alpha.sort();
    let mut expected = vec![
        (refund_key(id, first.refund_id), 3000),
        (refund_key(id, second.refund_id), 2000),
    ];
    expected.sort();
    assert_eq!(at_alpha, expected);
}

// ================================================================ at-least-once delivery

#[tokio::test]
async fn a_refund_message_delivered_twice_refunds_once_at_the_gateway() {
    // GIVEN a captured deposit with a refund of 1000 requested
    let (world, message, refund) = refund_requested(1000).await;
    let id = message.deposit_id;

    // WHEN SQS delivers its message twice
    assert_eq!(world.deliver(&message, 1).await, Disposition::Done);
    let after_first = world.events(id).await;
    assert_eq!(world.deliver(&message, 2).await, Disposition::Done);

    // THEN the second changed nothing: one refund at alpha, one RefundSubmitted
    assert_eq!(world.events(id).await, after_first);
    assert_refunded_once_at_alpha(&world, id, &refund).await;
    assert_eq!(
        world.story(id).await,
        story_then(&["RefundRequested", "RefundSubmitted"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_deliveries_racing_on_a_refund_share_its_key_so_the_gateway_refunds_once() {
    // GIVEN a captured deposit with a refund requested, and two Lambda instances that both
    // got its message, both call the gateway and then race to record what it answered
    let (world, message, refund) = refund_requested(1000).await;
    let id = message.deposit_id;
    world.racing_writers();

    // WHEN both process their copy at the same time
    let (first, second) = world.invoked_twice_at_once(&message).await;

    // THEN both are done; the gateway holds one refund, recorded once under its id
    assert!(first.batch_item_failures.is_empty());
    assert!(second.batch_item_failures.is_empty());
    assert_refunded_once_at_alpha(&world, id, &refund).await;
    assert_eq!(
        world.story(id).await,
        story_then(&["RefundRequested", "RefundSubmitted"])
    );
}

#[tokio::test]
async fn a_processor_killed_after_the_refund_call_resubmits_under_the_same_key_and_the_gateway_refunds_once()
 {
    // GIVEN a captured deposit with a refund requested, and a processor that dies after
    // the gateway took the refund, before recording it
    let (world, message, refund) = refund_requested(1000).await;
    let id = message.deposit_id;
    let killer = world
        .faults
        .when(Target::append().recording(&["RefundSubmitted"]))
        .once()
        .fail("the Lambda instance was killed");

    // WHEN the message is delivered, fails, and is delivered again
    assert_eq!(world.deliver(&message, 1).await, Disposition::Retry);
    assert_eq!(killer.fired(), 1);
    assert_eq!(refunds_at(&world, ALPHA).len(), 1, "alpha took it");
    assert_eq!(
        world.story(id).await,
        story_then(&["RefundRequested"]),
        "nothing recorded"
    );
    assert_eq!(world.deliver(&message, 2).await, Disposition::Done);

    // THEN the retry sent the same key, alpha answered with the same refund, once
    assert_refunded_once_at_alpha(&world, id, &refund).await;
}

// ================================================================ rejections and outages

#[tokio::test]
async fn a_refund_the_gateway_rejects_is_recorded_failed_and_its_amount_is_refundable_again() {
    // GIVEN a deposit captured by alpha, whose payment alpha has meanwhile refunded in full
    // through another channel (so alpha refuses any further refund on it)
    let world = World::new().await;
    let (message, _, payment) = captured(&world).await;
    let id = message.deposit_id;
    let direct = connector_for(
        WireFormat::Json,
        ConnectorConfig {
            base_url: world.gateway(ALPHA).base_url(),
            timeouts: Timeouts::default(),
        },
    );
    let outcome = direct
        .refund(&RefundRequest {
            idempotency_key: "out-of-band".into(),
            external_id: payment.clone(),
            amount: Amount::new(DEPOSIT_AMOUNT).unwrap(),
        })
        .await;
    assert!(
        matches!(outcome, RefundOutcome::Accepted { .. }),
        "{outcome:?}"
    );

    // WHEN a refund of all of it is requested and processed
    let refund = ask_refund(&world, &message, None).await;
    let receives = world.drain_queue().await;

    // THEN the message is done (a rejection is final), the refund is recorded failed with
    // alpha's code, and alpha holds no refund of ours
    assert_eq!(receives, [1]);
    assert_eq!(
        world.story(id).await,
        story_then(&["RefundRequested", "RefundFailed"])
    );
    let reason = world
        .events(id)
        .await
        .into_iter()
        .find_map(|e| match e.event {
            DepositEvent::RefundFailed { refund_id, reason } if refund_id == refund.refund_id => {
                Some(reason)
            }
            _ => None,
        })
        .expect("a RefundFailed for our refund");
    assert_eq!(reason.code, "refund_exceeds_payment");
    let at_alpha = refunds_at(&world, ALPHA);
    assert_eq!(at_alpha.len(), 1, "only the out-of-band one: {at_alpha:?}");
    assert_eq!(at_alpha[0].idempotency_key, "out-of-band");

    // AND nothing counts as refunded: the whole amount is refundable again
    let view = world.view(id).await;
    assert_eq!(view.status, DepositStatus::Succeeded);
    assert_eq!(view.refunded_amount, 0);
    assert_eq!(
        deposit(&world, id).await.refundable_remaining(),
        DEPOSIT_AMOUNT
    );
    let again = ask_refund(&world, &message, None).await;
    assert_eq!(again.amount.minor(), DEPOSIT_AMOUNT);
    assert_ne!(again.refund_id, refund.refund_id);
}

#[tokio::test]
async fn a_refund_of_a_payment_the_gateway_does_not_know_is_recorded_failed() {
    // GIVEN a deposit recorded as captured by alpha under a payment id alpha never issued
    let world = World::new().await;
    let message = world.deposit("tok_visa").await;
    let id = message.deposit_id;
    let unknown = format!("pay_{}", Uuid::new_v4().simple());
    let mut events = fixtures::submission(id, ALPHA, &unknown);
    events.push(DepositEvent::DepositSucceeded {
        external_id: unknown.clone(),
    });
    let (store, clock) = (world.store.as_ref(), world.clock.as_ref());
    let correlation = message.correlation_id.0.as_str();
    fixtures::record(store, clock, id, correlation, None, events).await;
    let refund = ask_refund(&world, &message, Some(500)).await;

    // WHEN the queue (the deposit's message and the refund's) is processed
    let receives = world.drain_queue().await;

    // THEN both are done; alpha answered "no such payment" and the refund failed with it
    assert_eq!(receives, [1, 1]);
    assert!(world.gateway(ALPHA).payments().is_empty());
    let tail: Vec<String> = world.story(id).await.split_off(4);
    assert_eq!(tail, ["RefundRequested", "RefundFailed"]);
    let failed = deposit(&world, id).await;
    let ours = failed
        .refunds
        .iter()
        .find(|r| r.id == refund.refund_id)
        .unwrap();
    assert_eq!(ours.state, paygate_domain::deposit::RefundState::Failed);
    assert_eq!(failed.refundable_remaining(), DEPOSIT_AMOUNT);
}

#[tokio::test]
async fn during_a_gateway_outage_a_refund_waits_with_nothing_recorded_and_goes_through_once_it_is_back()
 {
    // GIVEN a deposit captured by alpha, a refund requested, and alpha now in an outage
    let (world, message, refund) = refund_requested(2500).await;
    let id = message.deposit_id;
    world.gateway(ALPHA).set_behaviour(outage());

    // WHEN the message is delivered
    let disposition = world.deliver(&message, 1).await;

    // THEN it is retried later with a backoff; nothing is recorded, nobody refunded anything
    assert_eq!(disposition, Disposition::Retry);
    assert_eq!(world.redeliveries.delays().len(), 1);
    assert_eq!(world.story(id).await, story_then(&["RefundRequested"]));
    assert!(refunds_at(&world, ALPHA).is_empty());
    assert!(
        world.gateway(BRAVO).payments().is_empty() && world.gateway(CHARLIE).payments().is_empty(),
        "a refund never goes to another gateway"
    );
    let pending = deposit(&world, id).await;
    assert_eq!(
        pending.refundable_remaining(),
        DEPOSIT_AMOUNT - 2500,
        "still reserved"
    );

    // WHEN alpha is back and the message comes again
    world.gateway(ALPHA).set_behaviour(calm());
    assert_eq!(world.deliver(&message, 2).await, Disposition::Done);

    // THEN the refund is submitted at alpha, once
    assert_eq!(
        world.story(id).await,
        story_then(&["RefundRequested", "RefundSubmitted"])
    );
    let at_alpha = refunds_at(&world, ALPHA);
    assert_eq!(at_alpha.len(), 1);
    assert_eq!(
        at_alpha[0].idempotency_key,
        refund_key(id, refund.refund_id)
    );
}
