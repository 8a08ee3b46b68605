//! Captures that lost the merchant's ledger head wait as deferred items (see the
//! adapter's `ledger` module): they count in the balance at once and the next posting
//! numbers them. Which append loses a race cannot be arranged from outside, so this
//! plants the items a lost race leaves, in the table's documented layout. Needs the
//! emulators (`cargo xtask test`).

use paygate_aws::{DynamoEventStore, aws_sdk_dynamodb};
use paygate_domain::ledger::{LedgerHead, Movement};
use paygate_domain::ports::{EventStore, Ledger};
use paygate_domain::service::balances;
use paygate_domain::{Currency, DepositId, MerchantId};
use paygate_kit::contract::fixtures::{
    follow_up_batch, merchant, new_deposit_batch, new_payout_batch, succeeded_attempt,
};
use paygate_kit::contract::ledger::every_entry;
use std::collections::BTreeSet;

/// A new deposit of `merchant`, written, and the batch of its success (whose capture is
/// its only movement).
async fn capture(
    store: &DynamoEventStore,
    merchant: &MerchantId,
) -> (paygate_domain::ports::AppendBatch, DepositId) {
    let created = new_deposit_batch(merchant, None);
    let (id, stream) = (created.deposit_id, created.events.clone());
    store.append(created).await.unwrap();
    (follow_up_batch(&stream, succeeded_attempt(id, 2)), id)
}

/// Writes `movement` as the deferred item `key` of `merchant`'s ledger.
async fn plant(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    merchant: &MerchantId,
    key: i64,
    movement: &Movement,
) {
    use aws_sdk_dynamodb::types::AttributeValue::{N, S};
    client
        .put_item()
        .table_name(table)
        .item("merchant_id", S(merchant.0.clone()))
        .item("sequence", N(key.to_string()))
        .item("deferred", S(serde_json::to_string(movement).unwrap()))
        .send()
        .await
        .expect("plant a deferred movement");
}

#[tokio::test]
async fn waiting_captures_count_at_once_and_the_next_posting_numbers_them() {
    let (client, resources) = paygate_kit::emulated_dynamodb().await;
    let store = DynamoEventStore::new(client.clone(), &resources);
    let merchant = merchant();
    let aed = Currency::parse("AED").unwrap();

    // GIVEN one capture posted through the head, and three whose events were written
    // while the head was taken: their movements wait as deferred items
    let (posted, _) = capture(&store, &merchant).await;
    let captured = posted.ledger[0].postings[1].amount;
    store.append(posted).await.unwrap();
    let mut waiting = Vec::new();
    for key in [-3, -2, -1] {
        let (batch, id) = capture(&store, &merchant).await;
        let mut without_ledger = batch.clone();
        without_ledger.ledger.clear();
        store.append(without_ledger).await.unwrap();
        plant(
            &client,
            &resources.ledger_table,
            &merchant,
            key,
            &batch.ledger[0],
        )
        .await;
        waiting.push(id);
    }
    // THEN the merchant's balance holds all four, and the head only the one it numbered
    let held = balances(&store, &merchant).await.unwrap();
    assert_eq!(held[&aed].available, 4 * captured);
    assert_eq!(held[&aed].total(), 0);
    assert_eq!(store.head(&merchant).await.unwrap().sequence, 1);
    assert_eq!(store.deferred(&merchant).await.unwrap().len(), 3);
    assert_eq!(every_entry(&store, &merchant).await.len(), 1);

    // WHEN a payout of all of it posts through the head (a capture now would join
    // them: the head is contended while some wait)
    let payout = new_payout_batch(&merchant, (4 * captured) as u64);
    let payout_id = payout.deposit_id;
    store.append(payout).await.unwrap();

    // THEN it numbered the waiting three before itself (they make room for it), deleted
    // them, and the ledger is a gapless run that adds up to its head
    assert!(store.deferred(&merchant).await.unwrap().is_empty());
    let head = store.head(&merchant).await.unwrap();
    assert_eq!(head.balances[&aed].available, 0);
    assert_eq!(head.balances[&aed].reserved, 4 * captured);
    let entries = every_entry(&store, &merchant).await;
    let numbered: Vec<DepositId> = entries.iter().map(|e| e.movement.deposit_id).collect();
    assert_eq!(numbered.len(), 5);
    assert_eq!(
        numbered[1..4].iter().collect::<BTreeSet<_>>(),
        waiting.iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(numbered[4], payout_id);
    assert_eq!(LedgerHead::fold(merchant, &entries), Some(head));
}
