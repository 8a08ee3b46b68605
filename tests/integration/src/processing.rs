//! Harness for the processing tests: the REAL gateway processor handler, fed from a real
//! SQS queue (moto) the way Lambda's event source mapping feeds it, storing in DynamoDB
//! (DynamoDB Local), calling REAL simulated gateways over HTTP.
//!
//! Tests run in parallel on shared tables, so each one gets a [`Lane`] of its own:
//! * a merchant of its own (a [`World`]), whose deposits the real intake handler creates;
//! * a queue pair of its own: a DLQ, and a source queue redriving to it after
//!   [`MAX_RECEIVE_COUNT`] receives, with a 1 s visibility timeout;
//! * a country/currency [`Pair`] that only its own gateways serve, so routing never
//!   picks another test's gateway (the gateways table is shared); gateways get unique
//!   names and are removed from the table when the lane is dropped;
//! * a [`Processor`] whose redelivery goes to that source queue, with a tiny backoff
//!   ([`BACKOFF`]) so that retries take a second, not minutes.

use crate::World;
use gateway_processor::Processor;
use paygate_aws::SqsQueue;
use paygate_aws::aws_sdk_sqs::types::QueueAttributeName;
use paygate_domain::gateways::BreakerState;
use paygate_domain::ports::{DepositMessage, SystemClock};
use paygate_domain::service::process::RedeliveryPolicy;
use paygate_gateways::ConnectorCache;
use paygate_gateways::Timeouts;
use paygate_kit::gateways::{Format, RunningGateway, Simulated, status_of};
use paygate_kit::sqs::{Redeliveries, invoke_deleting};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The source queue's `maxReceiveCount`: the receive after the 3rd moves a message to
/// the DLQ.
pub const MAX_RECEIVE_COUNT: u32 = 3;

/// The processor's backoff in these tests. The k-th retry waits between half and all of
/// `min(base·2^(k-1), max)`: 0.25–0.5 s, 0.5–1 s, 1–2 s (SQS rounds each up to whole
/// seconds of visibility timeout).
pub const BACKOFF: RedeliveryPolicy = RedeliveryPolicy {
    base: Duration::from_millis(500),
    max: Duration::from_secs(2),
};

/// How long [`Lane::drain`] waits for the source queue to empty before failing.
const PATIENCE: Duration = Duration::from_secs(30);

/// Connectors for simulated gateways on loopback: time-outs short enough that a test
/// waiting on one stays quick, long enough for a loaded test machine.
pub fn loopback_connectors() -> Arc<ConnectorCache> {
    Arc::new(ConnectorCache::with_timeouts(Timeouts {
        connect: Duration::from_millis(500),
        request: Duration::from_secs(2),
        health: Duration::from_millis(500),
    }))
}

/// A country and a currency. Each test uses its own: no other test's gateway serves it.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub country: &'static str,
    pub currency: &'static str,
}

impl From<crate::pairs::Pair> for Pair {
    fn from((country, currency): crate::pairs::Pair) -> Self {
        Self { country, currency }
    }
}

pub use paygate_kit::gateways::{calm as working, outage};

/// One Lambda invocation: what it received and what it reported as failed.
pub use paygate_kit::sqs::Invocation as Delivery;

/// One test's processing world.
pub struct Lane {
    pub world: World,
    pub pair: Pair,
    /// The queue the intake sends to and the processor reads (and delays) messages on.
    pub source: Arc<SqsQueue>,
    /// Where SQS moves a message after [`MAX_RECEIVE_COUNT`] receives.
    pub dlq: Arc<SqsQueue>,
    /// Every backoff the processor asked for, in order (applied on `source`).
    pub delays: Arc<Redeliveries>,
    /// The processor, built like `main.rs` builds it; tests may swap its parts.
    pub processor: Processor,
    gateways: Mutex<Vec<String>>,
}

impl Lane {
    /// A fresh merchant, queue pair and processor for deposits in `pair`. Gateways left
    /// in the table for `pair` by an earlier run of the same test are removed first.
    pub async fn new(pair: crate::pairs::Pair) -> Self {
        let pair = Pair::from(pair);
        let mut world = World::new().await;
        let (source, dlq) = queue_pair(&world).await;
        // The intake of this world sends to the lane's source queue (instead of the plain
        // queue `World::new` made, which is not needed).
        let _ = world
            .aws
            .sqs
            .delete_queue()
            .queue_url(world.queue.url())
            .send()
            .await;
        world.queue = source.clone();
        world.intake.queue = source.clone();
        let delays = Arc::new(Redeliveries::applied_on(source.clone()));
        let processor = Processor {
            backoff: BACKOFF,
            ..Processor::new(
                world.aws.store.clone(),
                world.aws.registry.clone(),
                loopback_connectors(),
                delays.clone(),
                Arc::new(SystemClock),
                world.intake.cipher.clone(),
            )
        };
        let lane = Self {
            world,
            pair,
            source,
            dlq,
            delays,
            processor,
            gateways: Mutex::default(),
        };
        lane.remove_stale_gateways().await;
        lane
    }

    /// Starts a simulated gateway serving this lane's pair and registers it with
    /// `priority` (lower is preferred).
    pub async fn gateway(&self, label: &str, format: Format, priority: u32) -> RunningGateway {
        let name = format!("it-{label}-{}", &Uuid::new_v4().simple().to_string()[..12]);
        let sim = Simulated::new(name.clone(), format)
            .secret("whsec_it")
            .spawn()
            .await;
        let pair = (self.pair.country, self.pair.currency);
        self.world.register_gateway(&sim, priority, pair).await;
        self.gateways.lock().unwrap().push(name);
        sim
    }

    /// A fresh lane ([`Lane::new`]) with its two gateways ([`Lane::primary_and_backup`]).
    pub async fn with_primary_and_backup(
        pair: crate::pairs::Pair,
        backup_format: Format,
    ) -> (Self, RunningGateway, RunningGateway) {
        let lane = Self::new(pair).await;
        let (primary, backup) = lane.primary_and_backup(backup_format).await;
        (lane, primary, backup)
    }

    /// The lane's two gateways: a JSON "primary" (priority 1) and a "backup" in
    /// `backup_format` (priority 2).
    pub async fn primary_and_backup(
        &self,
        backup_format: Format,
    ) -> (RunningGateway, RunningGateway) {
        let primary = self.gateway("primary", Format::Json, 1).await;
        let backup = self.gateway("backup", backup_format, 2).await;
        (primary, backup)
    }

    /// Creates a deposit in this lane's pair through the intake handler (which sends it
    /// to the source queue); returns its id.
    pub async fn deposit(&self, token: &str) -> String {
        let pair = (self.pair.country, self.pair.currency);
        self.world.card_deposit(pair, token).await.to_string()
    }

    /// One Lambda invocation: receives a batch (long-polling up to 1 s), hands it to the
    /// handler, and deletes the records it did not report as failed. Failed records stay
    /// and come back after the visibility timeout the processor set (its backoff).
    pub async fn deliver(&self) -> Delivery {
        invoke_deleting(self.source.as_ref(), &self.processor).await
    }

    /// Invokes the handler until the source queue is empty (every message processed, or
    /// moved to the DLQ by SQS); returns the invocations that received something.
    pub async fn drain(&self) -> Vec<Delivery> {
        let deadline = Instant::now() + PATIENCE;
        let mut deliveries = Vec::new();
        loop {
            let delivery = self.deliver().await;
            if !delivery.received.is_empty() {
                deliveries.push(delivery);
                continue;
            }
            if queue_size(&self.world, &self.source).await == 0 {
                return deliveries;
            }
            assert!(
                Instant::now() < deadline,
                "the source queue did not empty within {PATIENCE:?}"
            );
        }
    }

    /// [`Lane::drain`] where one invocation must handle the message and acknowledge it:
    /// nothing reported failed, so SQS does not deliver it again.
    pub async fn drain_in_one_delivery(&self) {
        let deliveries = self.drain().await;
        assert_eq!(deliveries.len(), 1, "one invocation: {deliveries:?}");
        assert!(
            deliveries[0].failed.is_empty(),
            "the message is acknowledged, not retried: {deliveries:?}"
        );
    }

    /// The deposit as `GET /v1/deposits/{id}` shows it.
    pub async fn view(&self, id: &str) -> Value {
        let reply = self.world.get(&format!("/v1/deposits/{id}")).await;
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        reply.json
    }

    /// The deposit is submitted on `gateway` with the one payment `gateway` made (under
    /// the first attempt's key), and `other` made none.
    pub async fn paid_once_on(&self, id: &str, gateway: &RunningGateway, other: &RunningGateway) {
        let view = self.submitted_on(id, gateway).await;
        let payments = gateway.payments();
        assert_eq!(payments.len(), 1);
        assert_eq!(view["external_id"], payments[0].id.as_str());
        assert_eq!(gateway.charges(&format!("{id}:1")), 1);
        assert!(other.payments().is_empty());
    }

    /// The deposit's view, which must say it is submitted on `gateway`.
    pub async fn submitted_on(&self, id: &str, gateway: &RunningGateway) -> Value {
        let view = self.view(id).await;
        assert_eq!(view["status"], "submitted", "{view}");
        assert_eq!(view["gateway"], gateway.name(), "{view}");
        view
    }

    pub async fn status(&self, id: &str) -> String {
        self.view(id).await["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The deposit's audit trail (`GET /v1/deposits/{id}/events`), as event types.
    pub async fn event_types(&self, id: &str) -> Vec<String> {
        self.events(id)
            .await
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn events(&self, id: &str) -> Vec<Value> {
        let reply = self.world.get(&format!("/v1/deposits/{id}/events")).await;
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        reply.json["data"].as_array().cloned().unwrap_or_default()
    }

    /// The breaker of a gateway, as stored in the registry.
    pub async fn breaker(&self, gateway: &RunningGateway) -> BreakerState {
        let registry = self.world.aws.registry.as_ref();
        status_of(registry, gateway.name()).await.breaker
    }

    /// The message the intake queued for a deposit, left on the queue (visible again).
    pub async fn queued_message(&self) -> DepositMessage {
        let received = self.source.receive(1, 1).await.expect("receive");
        let message = received.first().expect("a queued message");
        self.source
            .change_visibility(&message.receipt_handle, 0)
            .await
            .expect("make it visible again");
        message.deposit_message().expect("a deposit message")
    }

    /// Gateways serving this lane's pair can only be this test's own from an earlier run
    /// on the same emulators (their simulators are gone): remove them.
    async fn remove_stale_gateways(&self) {
        let pair = (self.pair.country, self.pair.currency);
        crate::remove_gateways_serving(&self.world, pair).await;
    }
}

impl Drop for Lane {
    /// Removes the lane's gateways from the shared table and deletes its queues, on a
    /// thread of its own with fresh clients (the test's runtime may be shutting down).
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.gateways.lock().unwrap_or_else(|p| p.into_inner()));
        let table = self.world.aws.resources.gateways_table.clone();
        let queues = vec![self.source.url().to_owned(), self.dlq.url().to_owned()];
        crate::clean_up(move |config| async move {
            crate::delete_gateways_and_queues(&config, &table, names, queues).await;
        });
    }
}

/// A DLQ, and a source queue redriving to it after [`MAX_RECEIVE_COUNT`] receives with a
/// 1 s visibility timeout.
async fn queue_pair(world: &World) -> (Arc<SqsQueue>, Arc<SqsQueue>) {
    let suffix = Uuid::new_v4().simple();
    let (source, dlq) = crate::redriving_queues(
        &world.aws.sqs,
        &format!("paygate-it-proc-{suffix}"),
        &format!("paygate-it-proc-dlq-{suffix}"),
        MAX_RECEIVE_COUNT,
    )
    .await;
    (Arc::new(source), Arc::new(dlq))
}

/// Messages in the queue, visible or not (delayed ones included).
pub async fn queue_size(world: &World, queue: &SqsQueue) -> usize {
    let attributes = world
        .aws
        .sqs
        .get_queue_attributes()
        .queue_url(queue.url())
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .unwrap_or_default();
    attributes
        .values()
        .map(|v| v.parse::<usize>().unwrap_or(0))
        .sum()
}
