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

#![allow(dead_code)] // each test binary uses its own share of the helpers

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use gateway_processor::{Disposition, Processor, handle, process_record};
use gateway_simulator::{Behaviour, Format, GatewaySpec, PaymentStatus, RunningGateway};
use health_probe::{Probe, RunSummary, run_once};
use lambda_runtime::{Context, LambdaEvent};
use paygate_domain::crypto::FieldCipher;
use paygate_domain::gateways::{BreakerPolicy, GatewayConfig, GatewayStatus, Health};
use paygate_domain::idempotency::{Fingerprint, IdempotencyKey, IdempotencyPolicy};
use paygate_domain::ports::{
    BusEvent, DepositMessage, EventStore, GatewayRegistry, QueueError, QueueSender, RandomIds,
};
use paygate_domain::service::intake::{
    CREATE_DEPOSIT, Created, IntakePorts, IntakeRequest, request_deposit,
};
use paygate_domain::service::probe::ProbePolicy;
use paygate_domain::service::process::RedeliveryPolicy;
use paygate_domain::service::publish::PublishingEventStore;
use paygate_domain::service::sweep::SweepPolicy;
use paygate_domain::validation::parse_deposit_request;
use paygate_domain::{
    CorrelationId, Country, Currency, DepositEvent, DepositId, DepositStatus, DepositView,
    MerchantId, RecordedEvent,
};
use paygate_gateways::ConnectorCache;
use paygate_gateways::Timeouts;
use paygate_memory::{
    ManualClock, MemoryEventStore, MemoryGatewayRegistry, MemoryPublisher, MemoryQueue,
};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

pub const MERCHANT: &str = "merchant_probe";
/// Priority 1, JSON REST, AE/AED.
pub const ALPHA: &str = "alpha";
/// Priority 2, SOAP, AE/AED.
pub const BRAVO: &str = "bravo";

/// How long a test waits for something that should happen soon before failing.
const PATIENCE: Duration = Duration::from_secs(5);

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

pub fn start_time() -> OffsetDateTime {
    time::macros::datetime!(2026-11-23 10:00:00 UTC)
}

/// A gateway that works, whose payments stay `pending` while the test looks at them.
pub fn calm() -> Behaviour {
    Behaviour {
        webhook_delay_ms: 600_000,
        ..Behaviour::default()
    }
}

/// A gateway that works, whose payments settle (to their token's outcome) after 30 ms;
/// it sends no webhook (no URL), so only a status query learns the outcome.
pub fn settling() -> Behaviour {
    Behaviour {
        webhook_delay_ms: 30,
        ..Behaviour::default()
    }
}

/// A gateway whose `/health` answers 503 while its payment API works.
pub fn health_down() -> Behaviour {
    Behaviour {
        health_down: true,
        ..calm()
    }
}

pub struct World {
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
        let store = Arc::new(MemoryEventStore::new());
        let bus = Arc::new(MemoryPublisher::new());
        let publishing: Arc<dyn EventStore> = Arc::new(PublishingEventStore {
            inner: store.clone(),
            index: store.clone(),
            publisher: bus.clone(),
        });
        let clock = Arc::new(ManualClock::new(start_time()));
        let cipher = Arc::new(FieldCipher::ephemeral());
        // Visibility 30 s: a message the handler did not delete (nor delay) stays hidden
        // for the rest of the test, as it would for that long on SQS.
        let queue = Arc::new(MemoryQueue::new(Duration::from_secs(30)));
        let alpha = simulator(ALPHA, Format::Json).await;
        let bravo = simulator(BRAVO, Format::Soap).await;
        let registry = Arc::new(MemoryGatewayRegistry::with_gateways([
            config(&alpha, 1),
            config(&bravo, 2),
        ]));
        let processor = Processor {
            store: publishing.clone(),
            registry: registry.clone(),
            // A short request timeout, so a slow gateway leaves an ambiguous attempt.
            connectors: Arc::new(ConnectorCache::with_timeouts(Timeouts {
                connect: Duration::from_millis(200),
                request: Duration::from_millis(400),
                health: Duration::from_millis(300),
            })),
            redelivery: queue.clone(),
            clock: clock.clone(),
            ids: Arc::new(RandomIds),
            cipher: cipher.clone(),
            breaker: BreakerPolicy::default(),
            // Seconds of real time: a retried message stays out of a test's drains.
            backoff: RedeliveryPolicy::default(),
            attempts: paygate_domain::service::process::AttemptPolicy::default(),
        };
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
        let lost = LostMessages::default();
        let id = self.take_deposit(token, &lost).await;
        assert_eq!(lost.count(), 1, "the intake sent its message");
        id
    }

    async fn take_deposit(&self, token: &str, queue: &dyn QueueSender) -> DepositId {
        let body = json!({
            "amount": 10099, "currency": "AED", "country": "AE", "customer_id": "cus_42",
            "payment_method": { "type": "card", "token": token },
        });
        let request = parse_deposit_request(&body).expect("a valid deposit request");
        let key = IdempotencyKey::parse(Some(&format!("order-{}", Uuid::new_v4())))
            .expect("a valid idempotency key");
        let fingerprint = Fingerprint::of(CREATE_DEPOSIT, body.to_string().as_bytes());
        let correlation = CorrelationId(format!("corr-{}", Uuid::new_v4().simple()));
        let merchant = MerchantId(MERCHANT.into());
        let ports = IntakePorts {
            store: self.publishing.as_ref(),
            queue,
            clock: self.clock.as_ref(),
            ids: &RandomIds,
            cipher: &self.cipher,
            policy: IdempotencyPolicy::default(),
        };
        let created = request_deposit(
            &ports,
            IntakeRequest {
                merchant: &merchant,
                key: &key,
                fingerprint: &fingerprint,
                correlation: &correlation,
                request,
            },
        )
        .await
        .expect("the intake accepts the deposit");
        let Created::New(view) = created else {
            panic!("a fresh key creates a new deposit");
        };
        view.id
    }

    // ------------------------------------------------------------ the processor

    /// Feeds the queue to the processor's handler the way Lambda's event source mapping
    /// does (batches of up to 10; records not reported failed are deleted, failed ones
    /// stay hidden for their backoff) until nothing is visible. Returns the deposit ids
    /// of the records handed over, in order.
    pub async fn drain(&self) -> Vec<DepositId> {
        let mut seen = Vec::new();
        for _ in 0..50 {
            let received = self.queue.receive(10);
            if received.is_empty() {
                return seen;
            }
            let mut receipts = Vec::new();
            let records = received
                .into_iter()
                .map(|m| {
                    seen.push(m.body.deposit_id);
                    let id = m.message_id.to_string();
                    receipts.push((id.clone(), m.receipt));
                    let mut r = record(&m.body, m.receive_count);
                    r.message_id = Some(id);
                    r.receipt_handle = Some(m.receipt.to_string());
                    r
                })
                .collect();
            let mut event = SqsEvent::default();
            event.records = records;
            let response = handle(&self.processor, LambdaEvent::new(event, Context::default()))
                .await
                .expect("the handler never fails a whole batch");
            let failed: HashSet<String> = response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect();
            for (id, receipt) in receipts {
                if !failed.contains(&id) {
                    self.queue.delete(receipt);
                }
            }
        }
        panic!("the queue never drained: {seen:?}");
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

    pub async fn events(&self, id: DepositId) -> Vec<RecordedEvent> {
        self.store.load(id).await.expect("the memory store answers")
    }

    /// The stream as event kinds.
    pub async fn story(&self, id: DepositId) -> Vec<String> {
        self.events(id)
            .await
            .iter()
            .map(|e| e.event.kind().to_owned())
            .collect()
    }

    pub async fn view(&self, id: DepositId) -> DepositView {
        self.store
            .view(id)
            .await
            .expect("the memory store answers")
            .expect("the deposit has a read model")
    }

    pub async fn status(&self, id: DepositId) -> DepositStatus {
        self.view(id).await.status
    }

    pub async fn gateway_status(&self, name: &str) -> GatewayStatus {
        self.registry
            .list()
            .await
            .expect("the memory registry answers")
            .into_iter()
            .find(|g| g.config.name == name)
            .unwrap_or_else(|| panic!("no gateway {name}"))
            .status
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
        let sim = self.gateway(gateway);
        tokio::time::timeout(PATIENCE, async {
            loop {
                let all = sim.payments();
                if all.len() >= payments && all.iter().all(|p| p.status != PaymentStatus::Pending) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{gateway}'s {payments} payment(s) never settled"));
    }

    /// Waits until the payment made with `idempotency_key` at `gateway` has settled.
    pub async fn wait_until_key_settled(&self, gateway: &str, idempotency_key: &str) {
        let sim = self.gateway(gateway);
        tokio::time::timeout(PATIENCE, async {
            loop {
                let settled = sim.payments().iter().any(|p| {
                    p.idempotency_key == idempotency_key && p.status != PaymentStatus::Pending
                });
                if settled {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("payment {idempotency_key} at {gateway} never settled"));
    }

    /// Waits until `gateway` holds `count` payments.
    pub async fn wait_for_payments(&self, gateway: &str, count: usize) {
        let sim = self.gateway(gateway);
        tokio::time::timeout(PATIENCE, async {
            while sim.payments().len() < count {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{gateway} never held {count} payment(s)"));
    }
}

async fn simulator(name: &str, format: Format) -> RunningGateway {
    let sim = gateway_simulator::spawn(GatewaySpec {
        name: name.into(),
        format,
        secret: format!("whsec_{name}"),
        bind: "127.0.0.1:0".parse().expect("a socket address"),
        webhook_base_url: None,
    })
    .await
    .expect("the gateway simulator starts");
    sim.set_behaviour(calm());
    sim
}

fn config(sim: &RunningGateway, priority: u32) -> GatewayConfig {
    GatewayConfig {
        name: sim.name().into(),
        format: sim
            .format()
            .as_str()
            .parse()
            .expect("a wire format paygate speaks"),
        base_url: sim.base_url(),
        countries: vec![Country::parse("AE").expect("a country")],
        currencies: vec![Currency::parse("AED").expect("a currency")],
        priority,
        enabled: true,
    }
}

/// An SQS record carrying `message`, as Lambda hands it over.
pub fn record(message: &DepositMessage, receive_count: u32) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(Uuid::new_v4().to_string());
    record.receipt_handle = Some(Uuid::new_v4().to_string());
    record.body = Some(serde_json::to_string(message).expect("a message serialises"));
    record
        .attributes
        .insert("ApproximateReceiveCount".into(), receive_count.to_string());
    record
}

/// The stored events' ids: no id twice, and versions 1..=n without a gap.
pub fn assert_consistent(events: &[RecordedEvent]) {
    let ids: HashSet<_> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), events.len(), "an event id twice: {events:?}");
    let versions: Vec<u64> = events.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=events.len() as u64).collect::<Vec<_>>());
}

/// How many events of `kind` the stream holds.
pub fn count(events: &[RecordedEvent], kind: &str) -> usize {
    events.iter().filter(|e| e.event.kind() == kind).count()
}

/// The external id of the deposit's `DepositSubmitted`, if any.
pub fn submitted_external_id(events: &[RecordedEvent]) -> Option<String> {
    events.iter().find_map(|e| match &e.event {
        DepositEvent::DepositSubmitted { external_id, .. } => Some(external_id.clone()),
        _ => None,
    })
}

// ---------------------------------------------------------------- doubles

/// A queue whose sends "succeed" and go nowhere (the message was lost).
#[derive(Default)]
pub struct LostMessages {
    sent: AtomicUsize,
}

impl LostMessages {
    pub fn count(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl QueueSender for LostMessages {
    async fn send(&self, _message: &DepositMessage, _delay: Duration) -> Result<(), QueueError> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
