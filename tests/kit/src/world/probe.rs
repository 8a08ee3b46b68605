//! The world the health-probe tests run in: the REAL `run_once` (probe + sweeper) and the
//! REAL gateway processor on in-memory ports, in front of REAL simulated gateways (HTTP
//! servers on loopback), with a clock the test moves by hand.
//!
//! Wiring follows the functions' `main.rs`:
//! * intake and processor write through a [`PublishingEventStore`] (domain events go on
//!   the bus right after the append that records them);
//! * the probe gets the plain store as `store` and `index`, the queue and the bus, like
//!   `functions/health-probe/src/main.rs` (`store: aws.store`, `index: aws.store`).
//!
//! Two gateways serve AE/AED: [`ALPHA`] (JSON REST, priority 1) and [`BRAVO`] (SOAP,
//! priority 2). Neither sends webhooks (no webhook URL): outcomes are only learnt by
//! asking the gateway, which is what the sweeper does.

pub use super::{Registered, Stored};
pub use crate::faults::{Answer, Port, Rule, Switchboard, Target};
pub use crate::fixtures::{assert_consistent, count, start_time, submitted_external_id};
pub use crate::gateways::{calm, health_down, settling};
pub use crate::sqs::record;

use crate::fixtures::Intake;
use crate::gateways::{Format, RunningGateway, Simulated, entry};
use gateway_processor::{Disposition, Processor, process_record};
use health_probe::{Probe, RunSummary, run_once};
use paygate_domain::crypto::FieldCipher;
use paygate_domain::gateways::Health;
use paygate_domain::ports::{BusEvent, DepositMessage, EventStore, QueueSender, RandomIds};
use paygate_domain::service::probe::ProbePolicy;
use paygate_domain::service::publish::PublishingEventStore;
use paygate_domain::service::sweep::SweepPolicy;
use paygate_domain::{CorrelationId, DepositId, DepositStatus, MerchantId, RecordedEvent};
use paygate_gateways::ConnectorCache;
use paygate_gateways::Timeouts;
use paygate_memory::{
    ManualClock, MemoryEventStore, MemoryGatewayRegistry, MemoryPublisher, MemoryQueue,
};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

pub const MERCHANT: &str = "merchant_probe";
/// Priority 1, JSON REST, AE/AED.
pub const ALPHA: &str = "alpha";
/// Priority 2, SOAP, AE/AED.
pub const BRAVO: &str = "bravo";

/// The sweeper's policy in these tests: short cut-offs, crossed by moving the clock.
pub const SWEEP: SweepPolicy = SweepPolicy {
    pending_after: time::Duration::minutes(2),
    attempt_after: time::Duration::minutes(1),
    submitted_after: time::Duration::minutes(1),
    refund_after: time::Duration::minutes(1),
    unpublished_after: time::Duration::seconds(10),
    limit: 10,
};

/// Past every cut-off of [`SWEEP`].
pub const PAST_EVERY_CUT_OFF: time::Duration = time::Duration::minutes(3);

pub struct World {
    /// Every in-memory port asks it before each call.
    pub faults: Arc<Switchboard>,
    pub store: Arc<MemoryEventStore>,
    /// What intake and processor write through: publishes after each append.
    pub publishing: Arc<dyn EventStore>,
    pub bus: Arc<MemoryPublisher>,
    pub registry: Arc<MemoryGatewayRegistry>,
    /// The deposits queue the intake, the sweeper and the processor's backoff use.
    pub queue: Arc<MemoryQueue>,
    pub clock: Arc<ManualClock>,
    pub cipher: Arc<FieldCipher>,
    pub processor: Processor,
    /// Built like the function's `main.rs`, with [`SWEEP`], short connector timeouts and
    /// a 5 s sweep budget. Tests may change its policy before running it.
    pub probe: Probe,
    alpha: RunningGateway,
    bravo: RunningGateway,
}

impl World {
    pub async fn new() -> Self {
        let faults = Switchboard::new();
        let store = Arc::new(MemoryEventStore::with_faults(faults.clone()));
        let bus = Arc::new(MemoryPublisher::new().with_faults(faults.clone()));
        let publishing: Arc<dyn EventStore> = Arc::new(PublishingEventStore {
            inner: store.clone(),
            index: store.clone(),
            publisher: bus.clone(),
        });
        let clock = Arc::new(ManualClock::new(start_time()));
        let cipher = Arc::new(FieldCipher::ephemeral());
        // Visibility 30 s: a message the handler did not delete (nor delay) stays hidden
        // for the rest of the test, as it would for that long on SQS.
        let queue = Arc::new(MemoryQueue::new(Duration::from_secs(30)).with_faults(faults.clone()));
        let alpha = Simulated::new(ALPHA, Format::Json).spawn().await;
        let bravo = Simulated::new(BRAVO, Format::Soap).spawn().await;
        let registry = Arc::new(
            MemoryGatewayRegistry::with_gateways([
                entry(&alpha, 1, &["AE"], &["AED"]),
                entry(&bravo, 2, &["AE"], &["AED"]),
            ])
            .with_faults(faults.clone()),
        );
        let processor = Processor::new(
            publishing.clone(),
            registry.clone(),
            // A short request timeout, so a slow gateway leaves an ambiguous attempt.
            Arc::new(ConnectorCache::with_timeouts(Timeouts {
                connect: Duration::from_millis(200),
                request: Duration::from_millis(400),
                health: Duration::from_millis(300),
            })),
            // Backoffs of seconds of real time: a retried message stays out of a test's drains.
            queue.clone(),
            clock.clone(),
            cipher.clone(),
        );
        let probe = Probe {
            registry: registry.clone(),
            connectors: Arc::new(ConnectorCache::with_timeouts(Timeouts {
                connect: Duration::from_millis(200),
                request: Duration::from_secs(1),
                health: Duration::from_millis(300),
            })),
            store: publishing.clone(),
            index: store.clone(),
            queue: queue.clone(),
            publisher: bus.clone(),
            clock: clock.clone(),
            ids: Arc::new(RandomIds),
            policy: ProbePolicy::default(),
            sweep: SWEEP,
            attempts: paygate_domain::service::process::AttemptPolicy::default(),
            sweep_budget: Duration::from_secs(5),
        };
        Self {
            faults,
            store,
            publishing,
            bus,
            registry,
            queue,
            clock,
            cipher,
            processor,
            probe,
            alpha,
            bravo,
        }
    }

    pub fn gateway(&self, name: &str) -> &RunningGateway {
        match name {
            ALPHA => &self.alpha,
            BRAVO => &self.bravo,
            other => panic!("no gateway {other}"),
        }
    }

    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }

    /// Moves the clock one second past `cut_off` (one of [`SWEEP`]'s).
    pub fn advance_past(&self, cut_off: time::Duration) {
        self.advance(cut_off + time::Duration::seconds(1));
    }

    pub fn clock_now(&self) -> OffsetDateTime {
        paygate_domain::ports::Clock::now(self.clock.as_ref())
    }

    /// One scheduled run of the probe.
    pub async fn run(&self) -> RunSummary {
        run_once(&self.probe)
            .await
            .expect("a probe run on memory never fails")
    }

    // ------------------------------------------------------------ deposits

    /// A deposit of 100.99 AED paid with `token`, taken by the real intake use case; its
    /// message is on the queue.
    pub async fn deposit(&self, token: &str) -> DepositId {
        self.take_deposit(token, self.queue.as_ref()).await
    }

    /// A deposit whose message was lost: the intake committed it and its send "worked",
    /// but nothing reached the queue.
    pub async fn lost_deposit(&self, token: &str) -> DepositId {
        let nowhere = MemoryQueue::default();
        let id = self.take_deposit(token, &nowhere).await;
        assert_eq!(nowhere.len(), 1, "the intake sent its message");
        id
    }

    async fn take_deposit(&self, token: &str, queue: &dyn QueueSender) -> DepositId {
        let intake = Intake {
            store: self.publishing.as_ref(),
            queue,
            clock: self.clock.as_ref(),
            cipher: &self.cipher,
        };
        intake
            .deposit(MERCHANT, "AE", "AED", token)
            .await
            .deposit_id
    }

    // ------------------------------------------------------------ the processor

    /// Feeds the queue to the processor's handler the way Lambda's event source mapping
    /// does (batches of up to 10; records not reported failed are deleted, failed ones
    /// stay hidden for their backoff) until nothing is visible. Returns the deposit ids
    /// of the records handed over, in order.
    pub async fn drain(&self) -> Vec<DepositId> {
        crate::sqs::drain(self.queue.as_ref(), &self.processor)
            .await
            .iter()
            .map(|m| m.deposit_message().expect("a deposit message").deposit_id)
            .collect()
    }

    /// Takes every visible message off the queue unprocessed: the messages are lost.
    pub fn lose_queued(&self) {
        loop {
            let received = self.queue.receive(10);
            if received.is_empty() {
                return;
            }
            for message in received {
                self.queue.delete(message.receipt);
            }
        }
    }

    /// One delivery of a message for `id`, straight to `process_record` (no queue).
    pub async fn deliver(&self, id: DepositId) -> Disposition {
        let message = DepositMessage {
            deposit_id: id,
            merchant_id: MerchantId(MERCHANT.into()),
            correlation_id: CorrelationId(format!("corr-{}", Uuid::new_v4().simple())),
        };
        process_record(&self.processor, record(&message, 1)).await
    }

    /// Messages on the queue, visible or not.
    pub fn queued(&self) -> Vec<DepositId> {
        self.queue
            .peek()
            .into_iter()
            .map(|m| m.deposit_id)
            .collect()
    }

    // ------------------------------------------------------------ what is stored

    pub async fn status(&self, id: DepositId) -> DepositStatus {
        self.view(id).await.status
    }

    pub async fn health(&self, name: &str) -> Health {
        self.gateway_status(name).await.health
    }

    /// The stored event of `kind` in the deposit's stream (the only one).
    pub async fn stored(&self, id: DepositId, kind: &str) -> RecordedEvent {
        let found: Vec<RecordedEvent> = self
            .events(id)
            .await
            .into_iter()
            .filter(|e| e.event.kind() == kind)
            .collect();
        assert_eq!(found.len(), 1, "{kind} in the stream of {id}: {found:?}");
        found.into_iter().next().unwrap()
    }

    /// Bus events of `detail_type` about deposit `id`.
    pub fn published_for(&self, id: DepositId, detail_type: &str) -> Vec<BusEvent> {
        self.bus
            .of_type(detail_type)
            .into_iter()
            .filter(|e| e.detail["deposit_id"] == id.to_string().as_str())
            .collect()
    }

    /// `GatewayHealthChanged` events published so far, as (gateway, from, to).
    pub fn health_changes(&self) -> Vec<(String, String, String)> {
        self.bus
            .of_type("GatewayHealthChanged")
            .iter()
            .map(|e| {
                let text = |field: &str| e.detail[field].as_str().unwrap_or_default().to_owned();
                (text("gateway"), text("from"), text("to"))
            })
            .collect()
    }

    /// Waits until every payment at `gateway` has settled (left `pending`).
    pub async fn wait_until_settled(&self, gateway: &str, payments: usize) {
        crate::gateways::wait_until_settled(self.gateway(gateway), payments).await;
    }

    /// Waits until the payment made with `idempotency_key` at `gateway` has settled.
    pub async fn wait_until_key_settled(&self, gateway: &str, idempotency_key: &str) {
        crate::gateways::wait_until_key_settled(self.gateway(gateway), idempotency_key).await;
    }

    /// Waits until `gateway` holds `count` payments.
    pub async fn wait_for_payments(&self, gateway: &str, count: usize) {
        crate::gateways::wait_for_payments(self.gateway(gateway), count).await;
    }
}

impl Stored for World {
    fn event_store(&self) -> &MemoryEventStore {
        &self.store
    }
}

impl Registered for World {
    fn gateway_registry(&self) -> &MemoryGatewayRegistry {
        &self.registry
    }
}
