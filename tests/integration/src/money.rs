//! Money on DynamoDB for the suites that follow it: deposits brought to `succeeded` as
//! the processor records them, the merchant's AED ledger read back, the queue drained.

use crate::World;
use paygate_domain::ledger::LedgerEntry;
use paygate_domain::page::PageRequest;
use paygate_domain::ports::{DepositMessage, EntryFilter, Ledger, SystemClock};
use paygate_domain::{Currency, DepositEvent, DepositId};
use paygate_kit::fixtures;
use paygate_kit::gateway_reports::payment_id;
use serde_json::json;
use uuid::Uuid;

/// The gateway the suites' deposits went through.
pub const GATEWAY: &str = "alpha";

/// The merchant's (available, reserved) in AED, as the DynamoDB ledger holds them.
pub async fn balances(world: &World) -> (i64, i64) {
    let head = world.aws.store.head(&world.merchant).await.unwrap();
    let aed = head
        .balances
        .get(&Currency::parse("AED").unwrap())
        .cloned()
        .unwrap_or_default();
    (aed.available, aed.reserved)
}

/// Every entry of the merchant's ledger, oldest first.
pub async fn all_entries(world: &World) -> Vec<LedgerEntry> {
    let page = PageRequest::first(PageRequest::<u64>::MAX_LIMIT);
    let ledger = world.aws.store.as_ref();
    let mut entries = Ledger::entries(ledger, &world.merchant, EntryFilter::All, &page)
        .await
        .unwrap()
        .data;
    entries.reverse();
    entries
}

/// Appends `events` on the DynamoDB store, as the processor would.
pub async fn record(world: &World, id: DepositId, events: Vec<DepositEvent>) {
    let store = world.aws.store.as_ref();
    fixtures::record(store, &SystemClock, id, "it-processor", None, events).await;
}

/// The events of attempt 1 taken by [`GATEWAY`] as [`payment_id`].
pub fn taken(id: DepositId) -> Vec<DepositEvent> {
    vec![
        DepositEvent::AttemptStarted {
            attempt: 1,
            gateway: GATEWAY.into(),
            idempotency_key: format!("{id}:1"),
            owner: None,
        },
        DepositEvent::DepositSubmitted {
            attempt: 1,
            gateway: GATEWAY.into(),
            external_id: payment_id(id),
        },
    ]
}

/// GIVEN-helper: a deposit of `amount` created through the handler, paid and confirmed
/// at the gateway; its creation message is consumed.
pub async fn succeeded_deposit(world: &World, amount: u64) -> DepositId {
    let id = world
        .accepted_deposit(
            &format!("order-{}", Uuid::new_v4()),
            crate::deposit_body(json!(amount)),
        )
        .await
        .deposit_id();
    let mut events = taken(id);
    events.push(DepositEvent::DepositSucceeded {
        external_id: payment_id(id),
    });
    record(world, id, events).await;
    let creation = drain_messages(world).await;
    assert_eq!(creation.len(), 1);
    id
}

/// Every message on the world's queue, received and deleted.
pub async fn drain_messages(world: &World) -> Vec<DepositMessage> {
    crate::drain_queue(&world.queue)
        .await
        .iter()
        .map(|message| message.deposit_message().expect("a deposit message"))
        .collect()
}
