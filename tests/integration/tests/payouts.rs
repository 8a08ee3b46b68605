//! Payouts through the deposit intake handler on DynamoDB + SQS (emulated): the amount
//! is reserved in the same transaction as the request (refused, nothing written, when
//! `available` cannot cover it), and a payout that fails gives it back exactly once,
//! however often its gateway reports it. Fails, never skips, without the emulators.

use futures::future::join_all;
use paygate_domain::DepositId;
use paygate_domain::ledger::{EntryType, LedgerHead};
use paygate_domain::ports::SystemClock;
use paygate_domain::ports::gateway::NotifiedOutcome;
use paygate_domain::ports::{EventStore, Ledger};
use paygate_domain::service::outcome::Applied;
use paygate_integration::money::{
    GATEWAY, all_entries, balances, drain_messages, record, succeeded_deposit, taken,
};
use paygate_integration::{Reply, World};
use paygate_kit::gateway_reports::{apply, payment_id};
use serde_json::json;
use std::sync::Arc;

/// `POST /v1/payouts` of `amount` AED in AE as the world's merchant, under `key`.
async fn post_payout(world: &World, key: &str, amount: u64) -> Reply {
    let body = json!({ "amount": amount, "currency": "AED", "country": "AE",
                       "destination": { "type": "bank_account", "token": "ba_fail_webhook" } });
    let request =
        paygate_kit::http::post(&world.api_key, "/v1/payouts", Some(key), &body.to_string());
    world.send(request).await
}

fn id_of(reply: &Reply) -> DepositId {
    DepositId::parse(reply.json["id"].as_str().expect("an id")).expect("a UUID")
}

/// The gateway reports the payout `id` it took as failed, as a webhook would.
async fn gateway_fails(world: &World, id: DepositId) -> Applied {
    let store = world.aws.store.as_ref();
    let outcome = NotifiedOutcome::PaymentFailed {
        code: "account_closed".into(),
    };
    let queue = world.aws.queue.as_ref();
    apply(
        store,
        &SystemClock,
        queue,
        GATEWAY,
        &payment_id(id),
        outcome,
        "it-webhook",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_payouts_reserve_only_what_is_available_on_dynamodb() {
    // GIVEN 1000 AED available
    let world = Arc::new(World::new().await);
    succeeded_deposit(&world, 1000).await;
    // WHEN 12 payouts of 100 are requested at once
    let replies = join_all((0..12).map(|n| {
        let world = world.clone();
        async move { post_payout(&world, &format!("payout-{n}"), 100).await }
    }))
    .await;
    // THEN exactly 10 are accepted, the others refused with nothing written
    let accepted: Vec<_> = replies.iter().filter(|r| r.status == 202).collect();
    let refused: Vec<_> = replies.iter().filter(|r| r.status == 422).collect();
    assert_eq!((accepted.len(), refused.len()), (10, 2), "{replies:?}");
    for reply in refused {
        assert_eq!(reply.json["error"]["code"], "balance_insufficient");
    }
    assert_eq!(balances(&world).await, (0, 1000));
    assert_eq!(
        drain_messages(&world).await.len(),
        10,
        "one message per payout"
    );
    let entries = all_entries(&world).await;
    assert_eq!(entries.len(), 11);
    let head = world.aws.store.head(&world.merchant).await.unwrap();
    assert_eq!(
        LedgerHead::fold(world.merchant.clone(), &entries),
        Some(head)
    );
}

#[tokio::test]
async fn a_failed_payout_gives_its_amount_back_once_on_dynamodb() {
    // GIVEN 1000 AED available, and a payout of 600 its gateway took
    let world = World::new().await;
    succeeded_deposit(&world, 1000).await;
    let created = post_payout(&world, "payout-1", 600).await;
    assert_eq!(created.status, 202, "{:?}", created.json);
    let payout = id_of(&created);
    drain_messages(&world).await;
    record(&world, payout, taken(payout)).await;
    assert_eq!(balances(&world).await, (400, 600));
    // ... so a second payout of 600 does not fit
    let second = post_payout(&world, "payout-2", 600).await;
    assert_eq!(
        (second.status, &second.json["error"]["code"]),
        (422, &json!("balance_insufficient"))
    );
    // WHEN the gateway reports it failed, three times (webhook retries)
    let first = gateway_fails(&world, payout).await;
    assert!(matches!(first, Applied::Recorded { .. }), "{first:?}");
    for _ in 0..2 {
        let again = gateway_fails(&world, payout).await;
        assert!(matches!(again, Applied::Duplicate { .. }), "{again:?}");
    }
    // THEN its 600 is available again, once
    assert_eq!(balances(&world).await, (1000, 0));
    let entries = all_entries(&world).await;
    let types: Vec<_> = entries.iter().map(|e| e.movement.entry_type).collect();
    assert_eq!(
        types,
        [
            EntryType::Deposit,
            EntryType::Payout,
            EntryType::PayoutReversal
        ]
    );
    let stream = world.aws.store.load(payout).await.unwrap();
    let last = stream.last().unwrap();
    assert_eq!(
        last.event.name(paygate_domain::deposit::Direction::Payout),
        "PayoutFailed"
    );
    // ... and the payout that did not fit may go now, with the same key
    let retried = post_payout(&world, "payout-2", 600).await;
    assert_eq!(retried.status, 202, "{:?}", retried.json);
    assert_eq!(balances(&world).await, (400, 600));
}
