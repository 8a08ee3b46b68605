//! The world the processor tests run in: the REAL processor handler on in-memory ports,
//! in front of REAL simulated gateways (HTTP servers on loopback speaking WIRE.md), with
//! deposits created by the real intake use case, a clock the test moves by hand, a queue
//! with the SQS redrive semantics, and a few misbehaving doubles.

#![allow(dead_code)] // each test binary uses its own share of the helpers

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use gateway_processor::{Disposition, Processor, handle, process_record};
use gateway_simulator::{Behaviour, Format, GatewaySpec, RunningGateway};
use lambda_runtime::{Context, LambdaEvent};
use paygate_domain::crypto::FieldCipher;
use paygate_domain::deposit::FailureReason;
use paygate_domain::gateways::{BreakerPolicy, GatewayConfig, GatewayStatus};
use paygate_domain::idempotency::{Fingerprint, IdempotencyKey, IdempotencyPolicy};
use paygate_domain::ports::{
    AppendBatch, AppendError, DepositMessage, EventStore, ExternalLookup, GatewayRegistry,
    QueueError, RandomIds, RedeliveryScheduler, StoreError,
};
use paygate_domain::service::intake::{
    CREATE_DEPOSIT, Created, IntakePorts, IntakeRequest, request_deposit,
};
use paygate_domain::service::process::RedeliveryPolicy;
use paygate_domain::validation::parse_deposit_request;
use paygate_domain::{
    CorrelationId, Country, Currency, DepositEvent, DepositId, DepositView, MerchantId,
    RecordedEvent,
};
use paygate_memory::{ManualClock, MemoryEventStore, MemoryGatewayRegistry, MemoryQueue};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

pub const MERCHANT: &str = "merchant_a";
pub const OTHER_MERCHANT: &str = "merchant_b";
/// SQS's `maxReceiveCount` in the template: the 6th receive moves a message to the DLQ.
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// The top-priority gateway (JSON REST), serving AE/AED and SA/SAR.
pub const ALPHA: &str = "alpha";
/// The second choice (SOAP/XML), serving AE/AED.
pub const BRAVO: &str = "bravo";
/// The third choice (JSON REST), serving AE/AED.
pub const CHARLIE: &str = "charlie";

/// How long a test waits for something that should happen soon before failing.
const PATIENCE: Duration = Duration::from_secs(5);

pub fn start_time() -> OffsetDateTime {
    time::macros::datetime!(2026-11-23 10:00:00 UTC)
}

pub fn merchant(id: &str) -> MerchantId {
    MerchantId(id.to_owned())
}

/// A well-behaved gateway whose payments stay `pending` while the test looks at them
/// (settlement, and so its webhook, is far in the future).
pub fn calm() -> Behaviour {
    Behaviour {
        webhook_delay_ms: 600_000,
        ..Behaviour::default()
    }
}

/// A gateway answering 503 to everything (WIRE.md: unavailable, nothing was done).
pub fn outage() -> Behaviour {
    Behaviour {
        outage: true,
        ..calm()
    }
}

/// What one simulated gateway is and serves.
struct Plan {
    name: &'static str,
    format: Format,
    priority: u32,
    countries: &'static [&'static str],
    currencies: &'static [&'static str],
}

const PLANS: [Plan; 3] = [
    Plan {
        name: ALPHA,
        format: Format::Json,
        priority: 1,
        countries: &["AE", "SA"],
        currencies: &["AED", "SAR"],
    },
    Plan {
        name: BRAVO,
        format: Format::Soap,
        priority: 2,
        countries: &["AE"],
        currencies: &["AED"],
    },
    Plan {
        name: CHARLIE,
        format: Format::Json,
        priority: 3,
        countries: &["AE"],
        currencies: &["AED"],
    },
];

/// The processor wired to in-memory ports and three simulated gateways.
pub struct World {
    /// The handler's dependencies; tests may swap a port (a store double, connectors
    /// with short timeouts, a breaker policy) before processing.
    pub processor: Processor,
    pub store: Arc<MemoryEventStore>,
    pub registry: Arc<MemoryGatewayRegistry>,
    pub clock: Arc<ManualClock>,
    pub cipher: Arc<FieldCipher>,
    /// The deposits queue (visibility 0 so a retried message is visible again at once,
    /// redrive to `dlq` after [`MAX_RECEIVE_COUNT`] receives). The intake sends here.
    pub queue: Arc<MemoryQueue>,
    pub dlq: Arc<MemoryQueue>,
    /// Every backoff the handler asked for.
    pub redeliveries: Arc<RecordedRedeliveries>,
    gateways: HashMap<&'static str, RunningGateway>,
}

impl World {
    pub async fn new() -> Self {
        let store = Arc::new(MemoryEventStore::new());
        let clock = Arc::new(ManualClock::new(start_time()));
        let cipher = Arc::new(FieldCipher::ephemeral());
        let dlq = Arc::new(MemoryQueue::new(Duration::ZERO));
        let queue =
            Arc::new(MemoryQueue::new(Duration::ZERO).with_redrive(dlq.clone(), MAX_RECEIVE_COUNT));
        let redeliveries = Arc::new(RecordedRedeliveries::default());
        let mut gateways = HashMap::new();
        let mut configs = Vec::new();
        for plan in &PLANS {
            let sim = gateway_simulator::spawn(GatewaySpec {
                name: plan.name.into(),
                format: plan.format,
                secret: format!("whsec_{}", plan.name),
                bind: "127.0.0.1:0".parse().expect("a socket address"),
                webhook_base_url: None,
            })
            .await
            .expect("the gateway simulator starts");
            sim.set_behaviour(calm());
            configs.push(GatewayConfig {
                name: plan.name.into(),
                format: plan
                    .format
                    .as_str()
                    .parse()
                    .expect("a wire format paygate speaks"),
                base_url: sim.base_url(),
                countries: plan.countries.iter().map(|c| country(c)).collect(),
                currencies: plan.currencies.iter().map(|c| currency(c)).collect(),
                priority: plan.priority,
                enabled: true,
            });
            gateways.insert(plan.name, sim);
        }
        let registry = Arc::new(MemoryGatewayRegistry::with_gateways(configs));
        let processor = Processor {
            store: store.clone(),
            registry: registry.clone(),
            connectors: Arc::new(paygate_gateways::ConnectorCache::new()),
            redelivery: redeliveries.clone(),
            clock: clock.clone(),
            ids: Arc::new(RandomIds),
            cipher: cipher.clone(),
            breaker: BreakerPolicy::default(),
            backoff: RedeliveryPolicy::default(),
            attempts: paygate_domain::service::process::AttemptPolicy::default(),
        };
        Self {
            processor,
            store,
            registry,
            clock,
            cipher,
            queue,
            dlq,
            redeliveries,
            gateways,
        }
    }

    pub fn gateway(&self, name: &str) -> &RunningGateway {
        self.gateways
            .get(name)
            .unwrap_or_else(|| panic!("no gateway {name}"))
    }

    /// Sets every simulated gateway's behaviour.
    pub fn all_gateways(&self, behaviour: Behaviour) {
        for sim in self.gateways.values() {
            sim.set_behaviour(behaviour);
        }
    }

    /// Switches a gateway off in the registry (as an operator editing its config would).
    pub async fn disable(&self, name: &str) {
        let mut config = self
            .registry
            .list()
            .await
            .expect("the memory registry answers")
            .into_iter()
            .find(|g| g.config.name == name)
            .unwrap_or_else(|| panic!("no gateway {name} in the registry"))
            .config;
        config.enabled = false;
        self.registry
            .upsert_config(&config)
            .await
            .expect("the memory registry answers");
    }

    /// Payments each gateway holds, by gateway name.
    pub fn payment_counts(&self) -> HashMap<&'static str, usize> {
        self.gateways
            .iter()
            .map(|(name, sim)| (*name, sim.payments().len()))
            .collect()
    }

    pub fn total_payments(&self) -> usize {
        self.payment_counts().values().sum()
    }

    // ------------------------------------------------------------ GIVEN: deposits

    /// A deposit of merchant A in AE/AED paid with `token`, created by the real intake
    /// use case (its token encrypted at rest); returns the message the intake sent.
    pub async fn deposit(&self, token: &str) -> DepositMessage {
        self.deposit_in("AE", "AED", token).await
    }

    pub async fn deposit_in(&self, country: &str, currency: &str, token: &str) -> DepositMessage {
        let body = json!({
            "amount": 10099, "currency": currency, "country": country, "customer_id": "cus_42",
            "payment_method": { "type": "card", "token": token },
        });
        let request = parse_deposit_request(&body).expect("a valid deposit request");
        let key = IdempotencyKey::parse(Some(&format!("order-{}", Uuid::new_v4())))
            .expect("a valid idempotency key");
        let fingerprint = Fingerprint::of(CREATE_DEPOSIT, body.to_string().as_bytes());
        let correlation = CorrelationId(format!("corr-{}", Uuid::new_v4().simple()));
        let merchant_id = merchant(MERCHANT);
        let ports = IntakePorts {
            store: self.store.as_ref(),
            queue: self.queue.as_ref(),
            clock: self.clock.as_ref(),
            ids: &RandomIds,
            cipher: &self.cipher,
            policy: IdempotencyPolicy::default(),
        };
        let created = request_deposit(
            &ports,
            IntakeRequest {
                merchant: &merchant_id,
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
        DepositMessage {
            deposit_id: view.id,
            merchant_id,
            correlation_id: correlation,
        }
    }

    // ------------------------------------------------------------ WHEN: deliveries

    /// One delivery of `message` (its `receive_count`-th) through `process_record`.
    pub async fn deliver(&self, message: &DepositMessage, receive_count: u32) -> Disposition {
        process_record(&self.processor, record(message, receive_count)).await
    }

    /// One Lambda invocation with these records, through `handle`.
    pub async fn invoke(&self, records: Vec<SqsMessage>) -> SqsBatchResponse {
        invoke(&self.processor, records).await
    }

    /// Feeds the deposits queue to the handler the way Lambda's event source mapping does
    /// (batches of up to 10; records not reported failed are deleted; failed ones come
    /// back, and the queue's redrive moves them to the DLQ) until nothing is visible.
    /// Returns the receive counts of the records handed to the handler, in order.
    pub async fn drain_queue(&self) -> Vec<u32> {
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
                    seen.push(m.receive_count);
                    let id = m.message_id.to_string();
                    receipts.push((id.clone(), m.receipt));
                    let mut r = record(&m.body, m.receive_count);
                    r.message_id = Some(id);
                    r.receipt_handle = Some(m.receipt.to_string());
                    r
                })
                .collect();
            let response = self.invoke(records).await;
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

    // ------------------------------------------------------------ THEN: what is stored

    pub async fn events(&self, id: DepositId) -> Vec<RecordedEvent> {
        self.store.load(id).await.expect("the memory store answers")
    }

    /// The stream as short lines, e.g. `AttemptStarted 1 alpha`.
    pub async fn story(&self, id: DepositId) -> Vec<String> {
        self.events(id)
            .await
            .iter()
            .map(|e| line(&e.event))
            .collect()
    }

    pub async fn view(&self, id: DepositId) -> DepositView {
        self.store
            .view(id)
            .await
            .expect("the memory store answers")
            .expect("the deposit has a read model")
    }

    pub async fn lookup(&self, gateway: &str, external_id: &str) -> Option<ExternalLookup> {
        self.store
            .find_by_external_id(gateway, external_id)
            .await
            .expect("the memory store answers")
    }

    pub async fn gateway_status(&self, name: &str) -> GatewayStatus {
        self.registry
            .list()
            .await
            .expect("the memory registry answers")
            .into_iter()
            .find(|g| g.config.name == name)
            .unwrap_or_else(|| panic!("no gateway {name} in the registry"))
            .status
    }

    /// The external id of the deposit's `DepositSubmitted`.
    pub async fn submitted_external_id(&self, id: DepositId) -> String {
        self.events(id)
            .await
            .into_iter()
            .find_map(|e| match e.event {
                DepositEvent::DepositSubmitted { external_id, .. } => Some(external_id),
                _ => None,
            })
            .expect("the deposit was submitted")
    }

    /// The deposit's failure reason, when it failed.
    pub async fn failure(&self, id: DepositId) -> Option<FailureReason> {
        self.events(id)
            .await
            .into_iter()
            .find_map(|e| match e.event {
                DepositEvent::DepositFailed { reason } => Some(reason),
                _ => None,
            })
    }

    /// Waits (briefly) until `gateway` holds `count` payments.
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

pub fn country(code: &str) -> Country {
    Country::parse(code).expect("a country code")
}

pub fn currency(code: &str) -> Currency {
    Currency::parse(code).expect("a currency code")
}

/// The idempotency key of attempt `n` of a deposit (DESIGN §6).
pub fn attempt_key(id: DepositId, n: u32) -> String {
    format!("{id}:{n}")
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

pub async fn invoke(processor: &Processor, records: Vec<SqsMessage>) -> SqsBatchResponse {
    let mut event = SqsEvent::default();
    event.records = records;
    handle(processor, LambdaEvent::new(event, Context::default()))
        .await
        .expect("the handler never fails the whole batch")
}

fn line(event: &DepositEvent) -> String {
    match event {
        DepositEvent::DepositRequested { .. } => "DepositRequested".into(),
        DepositEvent::AttemptStarted {
            attempt, gateway, ..
        } => format!("AttemptStarted {attempt} {gateway}"),
        DepositEvent::AttemptFailed {
            attempt,
            reason,
            retryable,
        } => format!(
            "AttemptFailed {attempt} {} {}",
            reason.code,
            if *retryable { "retryable" } else { "final" }
        ),
        DepositEvent::DepositSubmitted {
            attempt, gateway, ..
        } => format!("DepositSubmitted {attempt} {gateway}"),
        DepositEvent::DepositFailed { reason } => format!("DepositFailed {}", reason.code),
        other => other.kind().into(),
    }
}

// ---------------------------------------------------------------- doubles

/// Records every backoff the handler asks for, and applies none (the test queue's
/// visibility is 0, so a retried message is visible again at once).
#[derive(Default)]
pub struct RecordedRedeliveries {
    asked: Mutex<Vec<Duration>>,
}

impl RecordedRedeliveries {
    pub fn delays(&self) -> Vec<Duration> {
        self.asked.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl RedeliveryScheduler for RecordedRedeliveries {
    async fn redeliver_after(&self, _receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.asked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(delay);
        Ok(())
    }
}

/// The memory store, except that the append right after the one recording an
/// `AttemptStarted` fails once: the processor "dies" between the gateway call and
/// writing what the gateway answered.
pub struct KilledAfterTheCall {
    inner: Arc<MemoryEventStore>,
    attempt_recorded: AtomicBool,
    killed: AtomicBool,
}

impl KilledAfterTheCall {
    pub fn wrap(inner: Arc<MemoryEventStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            attempt_recorded: AtomicBool::new(false),
            killed: AtomicBool::new(false),
        })
    }

    pub fn killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl EventStore for KilledAfterTheCall {
    async fn load(&self, deposit: DepositId) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.load(deposit).await
    }

    async fn append(&self, batch: AppendBatch) -> Result<(), AppendError> {
        if self.attempt_recorded.load(Ordering::SeqCst) && !self.killed.swap(true, Ordering::SeqCst)
        {
            return Err(StoreError("the Lambda instance was killed".into()).into());
        }
        let starts_attempt = batch
            .events
            .iter()
            .any(|e| matches!(e.event, DepositEvent::AttemptStarted { .. }));
        self.inner.append(batch).await?;
        if starts_attempt {
            self.attempt_recorded.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    async fn view(&self, deposit: DepositId) -> Result<Option<DepositView>, StoreError> {
        self.inner.view(deposit).await
    }

    async fn find_by_external_id(
        &self,
        gateway: &str,
        external_id: &str,
    ) -> Result<Option<ExternalLookup>, StoreError> {
        self.inner.find_by_external_id(gateway, external_id).await
    }

    async fn idempotency_record(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
    ) -> Result<Option<paygate_domain::idempotency::IdempotencyRecord>, StoreError> {
        self.inner.idempotency_record(merchant, key).await
    }

    async fn transition_idempotency(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        expected: &paygate_domain::idempotency::IdempotencyState,
        next: &paygate_domain::idempotency::IdempotencyState,
    ) -> Result<bool, StoreError> {
        self.inner
            .transition_idempotency(merchant, key, expected, next)
            .await
    }
}

/// The memory store, except that the first two appends wait for each other: two
/// deliveries that decided on the same state then race to write, and one loses on the
/// version check (exactly what DynamoDB's conditional put does).
pub struct RacingWriters {
    inner: Arc<MemoryEventStore>,
    gate: tokio::sync::Barrier,
    appends: std::sync::atomic::AtomicUsize,
}

impl RacingWriters {
    pub fn wrap(inner: Arc<MemoryEventStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            gate: tokio::sync::Barrier::new(2),
            appends: std::sync::atomic::AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl EventStore for RacingWriters {
    async fn load(&self, deposit: DepositId) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.load(deposit).await
    }

    async fn append(&self, batch: AppendBatch) -> Result<(), AppendError> {
        if self.appends.fetch_add(1, Ordering::SeqCst) < 2 {
            tokio::time::timeout(PATIENCE, self.gate.wait())
                .await
                .expect("both writers reach the store");
        }
        self.inner.append(batch).await
    }

    async fn view(&self, deposit: DepositId) -> Result<Option<DepositView>, StoreError> {
        self.inner.view(deposit).await
    }

    async fn find_by_external_id(
        &self,
        gateway: &str,
        external_id: &str,
    ) -> Result<Option<ExternalLookup>, StoreError> {
        self.inner.find_by_external_id(gateway, external_id).await
    }

    async fn idempotency_record(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
    ) -> Result<Option<paygate_domain::idempotency::IdempotencyRecord>, StoreError> {
        self.inner.idempotency_record(merchant, key).await
    }

    async fn transition_idempotency(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        expected: &paygate_domain::idempotency::IdempotencyState,
        next: &paygate_domain::idempotency::IdempotencyState,
    ) -> Result<bool, StoreError> {
        self.inner
            .transition_idempotency(merchant, key, expected, next)
            .await
    }
}
