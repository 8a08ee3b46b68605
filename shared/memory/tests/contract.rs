//! The in-memory adapters against the shared contract suite.

use async_trait::async_trait;
use paygate_domain::ports::SweepIndex;
use paygate_domain::ports::{
    BusEvent, DepositMessage, EventPublisher, EventStore, GatewayRegistry, QueueSender,
};
use paygate_kit::contract::merchants::MerchantRegistry;
use paygate_kit::contract::publisher::BusProbe;
use paygate_kit::contract::queue::QueueProbe;
use paygate_kit::sweep_contract;
use paygate_kit::{
    event_store_contract, merchants_contract, publisher_contract, queue_contract, registry_contract,
};
use paygate_memory::{
    MemoryEventStore, MemoryGatewayRegistry, MemoryMerchantDirectory, MemoryPublisher, MemoryQueue,
};
use std::sync::Arc;
use std::time::Duration;

struct Probe(Arc<MemoryQueue>);

#[async_trait]
impl QueueProbe for Probe {
    async fn drain(&self, wait: Duration) -> Vec<DepositMessage> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let received = self.0.receive(10);
            if !received.is_empty() || tokio::time::Instant::now() >= deadline {
                return received
                    .into_iter()
                    .map(|m| {
                        self.0.delete(m.receipt);
                        m.body
                    })
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The memory bus delivers at once: its record is what a consumer would receive.
struct BusRecord(Arc<MemoryPublisher>);

#[async_trait]
impl BusProbe for BusRecord {
    async fn drain(&self, wait: Duration) -> Vec<BusEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let published = self.0.take();
            if !published.is_empty() || tokio::time::Instant::now() >= deadline {
                return published;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn store() -> Arc<dyn EventStore> {
    Arc::new(MemoryEventStore::new())
}

/// The store and the index over it: one adapter, seen through both ports.
async fn sweep_stores() -> (Arc<dyn EventStore>, Arc<dyn SweepIndex>) {
    let store = Arc::new(MemoryEventStore::new());
    (store.clone(), store)
}

async fn queue() -> (Arc<dyn QueueSender>, Arc<dyn QueueProbe>) {
    let queue = Arc::new(MemoryQueue::default());
    (queue.clone(), Arc::new(Probe(queue)))
}

async fn bus() -> (Arc<dyn EventPublisher>, Arc<dyn BusProbe>) {
    let bus = Arc::new(MemoryPublisher::new());
    (bus.clone(), Arc::new(BusRecord(bus)))
}

async fn merchants() -> Arc<dyn MerchantRegistry> {
    Arc::new(MemoryMerchantDirectory::new())
}

async fn gateways() -> Arc<dyn GatewayRegistry> {
    Arc::new(MemoryGatewayRegistry::new())
}

event_store_contract!(store());
sweep_contract!(sweep_stores());
queue_contract!(queue());
merchants_contract!(merchants());
publisher_contract!(bus());
registry_contract!(gateways());
