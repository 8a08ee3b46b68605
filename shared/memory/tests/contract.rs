//! The in-memory adapters against the shared contract suite.

use async_trait::async_trait;
use paygate_domain::ports::SweepIndex;
use paygate_domain::ports::{
    BusEvent, DepositMessage, EventPublisher, EventStore, GatewayRegistry, QueueSender,
};
use paygate_kit::contract::ledger::Stores;
use paygate_kit::contract::merchants::MerchantRegistry;
use paygate_kit::contract::publisher::BusProbe;
use paygate_kit::contract::queue::QueueProbe;
use paygate_memory::{
    MemoryEventStore, MemoryGatewayRegistry, MemoryMerchantDirectory, MemoryPublisher, MemoryQueue,
};
use std::sync::Arc;
use std::time::Duration;

/// What `take` hands over, asking again until it hands something or `wait` is over.
async fn polled<T>(wait: Duration, mut take: impl FnMut() -> Vec<T>) -> Vec<T> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let taken = take();
        if !taken.is_empty() || tokio::time::Instant::now() >= deadline {
            return taken;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Probe(Arc<MemoryQueue>);

#[async_trait]
impl QueueProbe for Probe {
    async fn drain(&self, wait: Duration) -> Vec<DepositMessage> {
        let received = polled(wait, || self.0.receive(10)).await;
        received
            .into_iter()
            .map(|m| {
                self.0.delete(m.receipt);
                m.body
            })
            .collect()
    }
}

/// The memory bus delivers at once: its record is what a consumer would receive.
struct BusRecord(Arc<MemoryPublisher>);

#[async_trait]
impl BusProbe for BusRecord {
    async fn drain(&self, wait: Duration) -> Vec<BusEvent> {
        polled(wait, || self.0.take()).await
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

/// The store, its ledgers and its deposit list: one adapter.
async fn ledger_stores() -> Stores {
    let store = Arc::new(MemoryEventStore::new());
    (store.clone(), store.clone(), store)
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

paygate_kit::adapter_contract!();
