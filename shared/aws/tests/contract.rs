//! The AWS adapters against the shared contract suite (`paygate-kit`), on the
//! emulators. Like `emulator_smoke.rs`, these need `cargo xtask test` (which sets
//! `PAYGATE_TEST_EMULATORS=1`) and fail, never skip, without it.

mod support;

use async_trait::async_trait;
use paygate_aws::{
    BusTap, DynamoEventStore, DynamoGatewayRegistry, DynamoMerchantDirectory, EventBridgePublisher,
    Resources, SqsQueue, aws_sdk_dynamodb, aws_sdk_eventbridge, aws_sdk_sqs,
};
use paygate_domain::ports::SweepIndex;
use paygate_domain::ports::{
    BusEvent, DepositMessage, EventPublisher, EventStore, GatewayRegistry, QueueSender,
};
use paygate_kit::contract::ledger::Stores;
use paygate_kit::contract::merchants::MerchantRegistry;
use paygate_kit::contract::publisher::BusProbe;
use paygate_kit::contract::queue::QueueProbe;
use std::sync::Arc;
use std::time::Duration;
use support::{create_queue, emulators};

async fn store() -> Arc<dyn EventStore> {
    let config = emulators().await;
    Arc::new(DynamoEventStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        &Resources::from_env(),
    ))
}

/// The store, its ledgers and its deposit list: one adapter.
async fn ledger_stores() -> Stores {
    let config = emulators().await;
    let store = Arc::new(DynamoEventStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        &Resources::from_env(),
    ));
    (store.clone(), store.clone(), store)
}

/// The store and the index over it: one adapter, seen through both ports, its indexes
/// spread over 4 partitions (a deployment's `PAYGATE_INDEX_SHARDS`). The deposits table
/// is shared by the cases running in parallel: each case looks at its own deposits.
async fn sweep_stores() -> (Arc<dyn EventStore>, Arc<dyn SweepIndex>) {
    let config = emulators().await;
    let resources = Resources {
        index_shards: 4,
        ..Resources::from_env()
    };
    let store = Arc::new(DynamoEventStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        &resources,
    ));
    (store.clone(), store)
}

/// Each queue case gets a fresh queue of its own, so nothing else consumes its messages
/// (the emulators, and the queues with them, are thrown away after the run).
async fn queue() -> (Arc<dyn QueueSender>, Arc<dyn QueueProbe>) {
    let config = emulators().await;
    let client = aws_sdk_sqs::Client::new(&config);
    let name = format!("paygate-contract-{}", uuid::Uuid::new_v4().simple());
    let url = create_queue(&client, &name).await;
    let queue = Arc::new(SqsQueue::new(client, url));
    (queue.clone(), Arc::new(Probe(queue)))
}

struct Probe(Arc<SqsQueue>);

#[async_trait]
impl QueueProbe for Probe {
    async fn drain(&self, wait: Duration) -> Vec<DepositMessage> {
        let wait = i32::try_from(wait.as_secs()).unwrap_or(20);
        let received = self.0.receive(10, wait).await.expect("receive");
        let mut messages = Vec::with_capacity(received.len());
        for message in received {
            self.0
                .delete(&message.receipt_handle)
                .await
                .expect("delete");
            messages.push(message.deposit_message().expect("a deposit message"));
        }
        messages
    }
}

/// Each publisher case gets a bus of its own, with a rule matching `source` `paygate`
/// that targets a queue of its own: the probe reads that queue, so it sees exactly what
/// the case published (and that the bus routed it by its source).
async fn bus() -> (Arc<dyn EventPublisher>, Arc<dyn BusProbe>) {
    let config = emulators().await;
    let eventbridge = aws_sdk_eventbridge::Client::new(&config);
    let name = format!("paygate-contract-{}", uuid::Uuid::new_v4().simple());
    eventbridge
        .create_event_bus()
        .name(&name)
        .send()
        .await
        .expect("create a bus for the case");
    let tap = BusTap::create(
        eventbridge.clone(),
        aws_sdk_sqs::Client::new(&config),
        &name,
        &name,
        &serde_json::json!({ "source": [paygate_aws::EVENT_SOURCE] }),
    )
    .await
    .expect("tap the case's bus");
    (
        Arc::new(EventBridgePublisher::new(eventbridge, name)),
        Arc::new(Tap(tap)),
    )
}

struct Tap(BusTap);

#[async_trait]
impl BusProbe for Tap {
    async fn drain(&self, wait: Duration) -> Vec<BusEvent> {
        let wait = i32::try_from(wait.as_secs()).unwrap_or(20);
        self.0
            .receive(wait)
            .await
            .expect("receive from the tap")
            .into_iter()
            .map(|event| {
                assert_eq!(event.source, paygate_aws::EVENT_SOURCE);
                event.bus_event()
            })
            .collect()
    }
}

async fn merchants() -> Arc<dyn MerchantRegistry> {
    let config = emulators().await;
    Arc::new(DynamoMerchantDirectory::new(
        aws_sdk_dynamodb::Client::new(&config),
        &Resources::from_env(),
    ))
}

/// The gateways table is shared by the cases running in parallel: each case names its
/// own gateways (uuids) and looks only at those.
async fn gateways() -> Arc<dyn GatewayRegistry> {
    let config = emulators().await;
    Arc::new(DynamoGatewayRegistry::new(
        aws_sdk_dynamodb::Client::new(&config),
        &Resources::from_env(),
    ))
}

paygate_kit::adapter_contract!();
