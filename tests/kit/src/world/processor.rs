//! The world the processor's tests run in: the REAL processor handler on in-memory ports
//! behind one fault switchboard, in front of REAL simulated gateways (HTTP servers on
//! loopback speaking WIRE.md), with deposits created by the real intake use case, a clock
//! the test moves by hand, and a queue with the SQS redrive semantics.

pub use super::{Registered, Stored};
pub use crate::faults::{Answer, OUTCOMES, Port, Rule, Switchboard, Target};
pub use crate::fixtures::{attempt_key, country, currency, merchant, start_time};
pub use crate::gateways::{calm, outage};
pub use crate::sqs::{Redeliveries, invoke, record};

use crate::fixtures::Intake;
use crate::gateways::{Behaviour, Format, RunningGateway, Simulated, entry};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use gateway_processor::{Disposition, Processor, process_record};
use paygate_domain::crypto::FieldCipher;
use paygate_domain::deposit::FailureReason;
use paygate_domain::ports::{DepositMessage, EventStore, ExternalLookup, GatewayRegistry};
use paygate_domain::{DepositEvent, DepositId};
use paygate_memory::{ManualClock, MemoryEventStore, MemoryGatewayRegistry, MemoryQueue};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

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
    /// Every backoff the handler asked for (none is applied).
    pub redeliveries: Arc<Redeliveries>,
    /// Store, registry and queues ask it before each call.
    pub faults: Arc<Switchboard>,
    gateways: HashMap<&'static str, RunningGateway>,
}

impl World {
    pub async fn new() -> Self {
        let faults = Switchboard::new();
        let store = Arc::new(MemoryEventStore::with_faults(faults.clone()));
        let clock = Arc::new(ManualClock::new(start_time()));
        let cipher = Arc::new(FieldCipher::ephemeral());
        let dlq = Arc::new(MemoryQueue::new(Duration::ZERO).with_faults(faults.clone()));
        let queue = Arc::new(
            MemoryQueue::new(Duration::ZERO)
                .with_redrive(dlq.clone(), MAX_RECEIVE_COUNT)
                .with_faults(faults.clone()),
        );
        let redeliveries = Arc::new(Redeliveries::recorded());
        let mut gateways = HashMap::new();
        let mut configs = Vec::new();
        for plan in &PLANS {
            let sim = Simulated::new(plan.name, plan.format).spawn().await;
            configs.push(entry(&sim, plan.priority, plan.countries, plan.currencies));
            gateways.insert(plan.name, sim);
        }
        let registry =
            Arc::new(MemoryGatewayRegistry::with_gateways(configs).with_faults(faults.clone()));
        let processor = Processor::new(
            store.clone(),
            registry.clone(),
            Arc::new(paygate_gateways::ConnectorCache::new()),
            redeliveries.clone(),
            clock.clone(),
            cipher.clone(),
        );
        Self {
            processor,
            store,
            registry,
            clock,
            cipher,
            queue,
            dlq,
            redeliveries,
            faults,
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
        let mut config = crate::gateways::registered(self.registry.as_ref(), name)
            .await
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
        let intake = Intake {
            store: self.store.as_ref(),
            queue: self.queue.as_ref(),
            clock: self.clock.as_ref(),
            cipher: &self.cipher,
        };
        intake.deposit(MERCHANT, country, currency, token).await
    }

    // ------------------------------------------------------------ WHEN: deliveries

    /// One delivery of `message` (its `receive_count`-th) through `process_record`.
    pub async fn deliver(&self, message: &DepositMessage, receive_count: u32) -> Disposition {
        process_record(&self.processor, record(message, receive_count)).await
    }

    /// GIVEN+WHEN-helper: a deposit paid with `token` (see [`Self::deposit`]) whose message
    /// the processor receives once, and is done with.
    pub async fn processed_deposit(&self, token: &str) -> DepositId {
        let message = self.deposit(token).await;
        let disposition = self.deliver(&message, 1).await;
        assert_eq!(disposition, Disposition::Done, "{message:?}");
        message.deposit_id
    }

    /// One Lambda invocation with these records, through `handle`.
    pub async fn invoke(&self, records: Vec<SqsMessage>) -> SqsBatchResponse {
        invoke(&self.processor, records).await
    }

    /// WHEN-helper: two Lambda instances each got a copy of `message` (its first receive)
    /// and process it at the same time.
    pub async fn invoked_twice_at_once(
        &self,
        message: &DepositMessage,
    ) -> (SqsBatchResponse, SqsBatchResponse) {
        tokio::join!(
            self.invoke(vec![record(message, 1)]),
            self.invoke(vec![record(message, 1)]),
        )
    }

    /// GIVEN-helper: the next two appends wait for each other, so two deliveries that
    /// decided on the same state race to write and one loses on the version check
    /// (exactly what DynamoDB's conditional put does).
    pub fn racing_writers(&self) -> Rule {
        self.faults.when(Target::append()).meet(2)
    }

    /// GIVEN-helper: the processor "dies" between a gateway call and writing what the
    /// gateway answered: the next append recording an outcome fails once.
    pub fn killed_after_the_call(&self) -> Rule {
        self.faults
            .when(Target::append().recording(OUTCOMES))
            .once()
            .fail("the Lambda instance was killed")
    }

    /// Feeds the deposits queue to the handler the way Lambda's event source mapping does
    /// (batches of up to 10; records not reported failed are deleted; failed ones come
    /// back, and the queue's redrive moves them to the DLQ) until nothing is visible.
    /// Returns the receive counts of the records handed to the handler, in order.
    pub async fn drain_queue(&self) -> Vec<u32> {
        crate::sqs::drain(self.queue.as_ref(), &self.processor)
            .await
            .iter()
            .map(|m| m.receive_count)
            .collect()
    }

    // ------------------------------------------------------------ THEN: what is stored

    /// The stream as short lines, e.g. `AttemptStarted 1 alpha`.
    pub async fn story(&self, id: DepositId) -> Vec<String> {
        self.events(id)
            .await
            .iter()
            .map(|e| line(&e.event))
            .collect()
    }

    pub async fn lookup(&self, gateway: &str, external_id: &str) -> Option<ExternalLookup> {
        self.store
            .find_by_external_id(gateway, external_id)
            .await
            .expect("the memory store answers")
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
        crate::gateways::wait_for_payments(self.gateway(gateway), count).await;
    }
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
