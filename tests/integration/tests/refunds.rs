//! Refunds through the deposit intake handler on DynamoDB + SQS (emulated), DESIGN §5:
//! the sum of refunds never exceeds the captured amount, even when requests race on the
//! DynamoDB adapter's conditional writes; a deposit's view follows its refunds once the
//! gateway confirms them.
//!
//! Deposits are created through the handler, then brought to `succeeded` by appending the
//! processor's events with `service::execute` on the DynamoDB store; refund outcomes
//! arrive through the webhook use case (`apply_notification`). Fails, never skips, without
//! the emulators (`PAYGATE_TEST_EMULATORS=1`).

use paygate_domain::ledger::LedgerHead;
use paygate_domain::ports::gateway::NotifiedOutcome;
use paygate_domain::ports::{Ledger, SystemClock};
use paygate_domain::service::outcome::Applied;
use paygate_domain::{DepositEvent, DepositId, RecordedEvent, RefundId};
use paygate_integration::money::{
    GATEWAY, all_entries, balances, drain_messages, record, succeeded_deposit,
};
use paygate_integration::{Reply, World, at_once};
use paygate_kit::gateway_reports::{apply, gateway_refund_id, payment_id};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use uuid::Uuid;

// ================================================================ helpers

/// The gateway took the refund, then its webhook said it succeeded.
async fn gateway_confirms(world: &World, id: DepositId, refund: RefundId) {
    record(
        world,
        id,
        vec![DepositEvent::RefundSubmitted {
            refund_id: refund,
            refund_external_id: gateway_refund_id(refund),
        }],
    )
    .await;
    let outcome = NotifiedOutcome::RefundSucceeded {
        refund_external_id: gateway_refund_id(refund),
    };
    let external_id = payment_id(id);
    let store = world.aws.store.as_ref();
    let applied = apply(
        store,
        &SystemClock,
        world.aws.queue.as_ref(),
        GATEWAY,
        &external_id,
        outcome,
        "it-webhook",
    )
    .await;
    assert!(matches!(applied, Applied::Recorded { .. }), "{applied:?}");
}

/// `POST /v1/deposits/{id}/refunds` as the world's merchant.
async fn post_refund(world: &World, id: DepositId, key: &str, body: Value) -> Reply {
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("/v1/deposits/{id}/refunds"))
        .header("authorization", format!("Bearer {}", world.api_key))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(lambda_http::Body::Text(body.to_string()))
        .unwrap();
    world.send(request).await
}

fn refund_id(reply: &Reply) -> RefundId {
    RefundId::parse(reply.json["id"].as_str().expect("a refund id")).expect("a UUID")
}

fn requested(stream: &[RecordedEvent]) -> Vec<(RefundId, u64)> {
    stream
        .iter()
        .filter_map(|e| match &e.event {
            DepositEvent::RefundRequested {
                refund_id, amount, ..
            } => Some((*refund_id, amount.minor())),
            _ => None,
        })
        .collect()
}

fn assert_gapless(stream: &[RecordedEvent]) {
    let versions: Vec<u64> = stream.iter().map(|e| e.version).collect();
    assert_eq!(
        versions,
        (1..=stream.len() as u64).collect::<Vec<_>>(),
        "versions are 1..n without gaps"
    );
}

// ================================================================ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn twenty_concurrent_refunds_of_100_on_a_1000_deposit_accept_exactly_ten_on_dynamodb() {
    // GIVEN a succeeded deposit of 1000 on DynamoDB
    let world = Arc::new(World::new().await);
    let id = succeeded_deposit(&world, 1000).await;

    // WHEN 20 refund requests of 100, each with its own key, arrive at once
    let replies = at_once(&world, 20, |world, n| async move {
        post_refund(&world, id, &format!("burst-{n}"), json!({ "amount": 100 })).await
    })
    .await;

    // THEN exactly 10 are accepted, 10 refused as exceeding what is left
    let mut accepted = HashSet::new();
    let mut refused = 0;
    for (n, reply) in replies.into_iter().enumerate() {
        match reply.status {
            202 => {
                assert_eq!(reply.json["amount"], 100, "{:?}", reply.json);
                assert_eq!(reply.json["status"], "pending");
                assert_eq!(reply.header("idempotent-replayed"), None);
                assert!(accepted.insert(refund_id(&reply)), "refund ids are unique");
            }
            422 => {
                assert_eq!(
                    reply.error_code(),
                    "refund_exceeds_remaining",
                    "{:?}",
                    reply.json
                );
                assert_eq!(reply.json["error"]["param"], "amount");
                refused += 1;
            }
            other => panic!("request {n}: unexpected {other}: {:?}", reply.json),
        }
    }
    assert_eq!((accepted.len(), refused), (10, 10));

    // AND the stored stream holds exactly those 10, summing to 1000, at gapless versions
    let stored = world.events(id).await;
    assert_gapless(&stored);
    let refunds = requested(&stored);
    assert_eq!(refunds.len(), 10);
    assert_eq!(refunds.iter().map(|(_, a)| a).sum::<u64>(), 1000);
    assert_eq!(
        refunds.iter().map(|(r, _)| *r).collect::<HashSet<_>>(),
        accepted
    );

    // AND the view is still succeeded with nothing refunded yet, at the stream's version
    let view = world.view(id).await;
    assert_eq!(view.version, stored.len() as u64);
    assert_eq!(view.refunded_amount, 0);
    assert_eq!(view.status.as_str(), "succeeded");

    // AND the merchant's ledger moved exactly those 10 from available to reserved
    assert_eq!(balances(&world).await, (0, 1000));

    // AND one message per accepted refund; only the accepted claimed their keys
    let messages = drain_messages(&world).await;
    assert_eq!(messages.len(), 10);
    assert!(messages.iter().all(|m| m.deposit_id == id));
    assert_eq!(world.traces().await.idempotency, 1 + 10);

    // AND nothing more can be taken
    let more = post_refund(&world, id, "one-more", json!({})).await;
    assert_eq!(
        (more.status, more.error_code()),
        (422, "refund_exceeds_remaining")
    );
}

#[tokio::test]
async fn a_partial_then_a_full_refund_on_dynamodb_end_refunded_once_the_gateway_confirms() {
    // GIVEN a succeeded deposit of 1000 on DynamoDB
    let world = World::new().await;
    let id = succeeded_deposit(&world, 1000).await;

    // WHEN 300 are refunded, then all that is left
    let first = post_refund(&world, id, "part", json!({ "amount": 300 })).await;
    let rest = post_refund(&world, id, "rest", json!({})).await;

    // THEN 300 and 700 are accepted; nothing counts as refunded yet
    assert_eq!(
        (first.status, first.json["amount"].clone()),
        (202, json!(300)),
        "{:?}",
        first.json
    );
    assert_eq!(
        (rest.status, rest.json["amount"].clone()),
        (202, json!(700)),
        "{:?}",
        rest.json
    );
    let read = world.get(&format!("/v1/deposits/{id}")).await;
    assert_eq!(
        (
            read.json["status"].clone(),
            read.json["refunded_amount"].clone()
        ),
        (json!("succeeded"), json!(0))
    );
    assert_eq!(balances(&world).await, (0, 1000), "both reserved");

    // WHEN the gateway confirms the 300
    gateway_confirms(&world, id, refund_id(&first)).await;

    // THEN the deposit reads partially refunded by 300, which left the ledger
    let read = world.get(&format!("/v1/deposits/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json["status"], "partially_refunded");
    assert_eq!(read.json["refunded_amount"], 300);
    assert_eq!(balances(&world).await, (0, 700));

    // WHEN it confirms the 700
    gateway_confirms(&world, id, refund_id(&rest)).await;

    // THEN the deposit reads refunded in full, the stream gapless and complete
    let read = world.get(&format!("/v1/deposits/{id}")).await;
    assert_eq!(read.json["status"], "refunded");
    assert_eq!(read.json["refunded_amount"], 1000);
    let stored = world.events(id).await;
    assert_gapless(&stored);
    assert_eq!(
        stored.iter().map(|e| e.event.kind()).collect::<Vec<_>>(),
        [
            "DepositRequested",
            "AttemptStarted",
            "DepositSubmitted",
            "DepositSucceeded",
            "RefundRequested",
            "RefundRequested",
            "RefundSubmitted",
            "RefundSucceeded",
            "RefundSubmitted",
            "RefundSucceeded",
        ]
    );
    let audit = world.get(&format!("/v1/deposits/{id}/events")).await;
    assert_eq!(audit.json["data"].as_array().map(Vec::len), Some(10));
    // ... and the ledger: the capture, two reservations, two settlements, all out at
    // the gateway, the head the fold of the entries
    assert_eq!(balances(&world).await, (0, 0));
    let head = world.aws.store.head(&world.merchant).await.unwrap();
    let entries = all_entries(&world).await;
    let kinds: Vec<_> = entries
        .iter()
        .map(|e| e.movement.entry_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "deposit",
            "refund",
            "refund",
            "refund_settled",
            "refund_settled"
        ]
    );
    assert_eq!(head.balances.values().map(|b| b.total()).sum::<i128>(), 0);
    assert_eq!(
        LedgerHead::fold(world.merchant.clone(), &entries),
        Some(head)
    );

    // AND a retry of the first request replays it; a new one is refused
    let replay = post_refund(&world, id, "part", json!({ "amount": 300 })).await;
    assert_eq!(replay.status, 202);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(refund_id(&replay), refund_id(&first));
    let more = post_refund(&world, id, "more", json!({ "amount": 1 })).await;
    assert_eq!(
        (more.status, more.error_code()),
        (422, "deposit_not_refundable")
    );
    assert_eq!(
        drain_messages(&world).await.len(),
        2,
        "one per accepted refund"
    );
}

#[tokio::test]
async fn another_merchant_cannot_refund_a_deposit_on_dynamodb() {
    // GIVEN a succeeded deposit of one merchant
    let alice = World::new().await;
    let id = succeeded_deposit(&alice, 1000).await;
    let bob = alice.another_merchant().await;

    // WHEN another merchant asks to refund it, and a random id
    let theirs = post_refund(&bob, id, "k", json!({ "amount": 100 })).await;
    let unknown = post_refund(
        &bob,
        DepositId(Uuid::now_v7()),
        "k2",
        json!({ "amount": 100 }),
    )
    .await;

    // THEN the same 404, and nothing is written
    assert_eq!(
        (theirs.status, theirs.error_code()),
        (404, "deposit_not_found")
    );
    assert_eq!(theirs.json, unknown.json);
    assert!(requested(&alice.events(id).await).is_empty());
    assert_eq!(bob.traces().await.idempotency, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn the_same_refund_sent_ten_times_at_once_on_dynamodb_is_made_once() {
    // GIVEN a succeeded deposit of 1000 on DynamoDB
    let world = Arc::new(World::new().await);
    let id = succeeded_deposit(&world, 1000).await;

    // WHEN the same request for 600 (same key, same body) arrives 10 times at once
    let replies = at_once(&world, 10, |world, _| async move {
        post_refund(&world, id, "R", json!({ "amount": 600 })).await
    })
    .await;

    // THEN one refund of 600 is made; every other answer is its replay or a 409
    let mut made = HashSet::new();
    for reply in replies {
        match (reply.status, reply.header("idempotent-replayed")) {
            (202, _) => {
                made.insert(refund_id(&reply));
            }
            (409, _) => assert_eq!(reply.error_code(), "idempotency_request_in_progress"),
            (status, _) => panic!("the same request was answered {status}: {:?}", reply.json),
        }
    }
    assert_eq!(made.len(), 1, "every 202 names the same refund");
    let stored = world.events(id).await;
    assert_gapless(&stored);
    assert_eq!(
        requested(&stored),
        [(made.into_iter().next().unwrap(), 600)]
    );
    assert_eq!(drain_messages(&world).await.len(), 1);
}
