//! One simulated world: the real handlers of the four functions on the in-memory
//! adapters (every call a scheduling point, faults by the seed), simulated PSPs behind
//! the real connectors, a queue with SQS's semantics, simulated time.

use crate::config::SeedConfig;
use crate::executor::{Executor, Timers};
use crate::faults::SimFaults;
use crate::merchant::MerchantLog;
use crate::ports::{SeededIds, SimClock};
use crate::psp::SimPsp;
use crate::rng::Rng;
use crate::trace::Trace;
use deposit_intake::{Intake, IntakeConfig};
use gateway_processor::Processor;
use health_probe::Probe;
use paygate_domain::crypto::FieldCipher;
use paygate_domain::gateways::{CachedRegistry, GatewayConfig, WireFormat};
use paygate_domain::ports::gateway::GatewayConnector;
use paygate_domain::ports::{ApiKey, ConnectorDirectory, EventStore, SweepIndex};
use paygate_domain::service::probe::ProbePolicy;
use paygate_domain::service::publish::PublishingEventStore;
use paygate_domain::{Country, Currency, MerchantId};
use paygate_memory::{
    FaultHook, MemoryEventStore, MemoryGatewayRegistry, MemoryMerchantDirectory, MemoryPublisher,
    MemoryQueue,
};
use secrecy::SecretString;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use webhook_callback::{WebhookGateway, WebhookGateways, Webhooks};

/// Where every run starts: 2026-12-01T00:00:00Z.
pub const START_MS: i64 = 1_796_083_200_000;

/// The merchants of a run and their API keys.
pub const MERCHANTS: [(&str, &str); 2] = [
    ("mer_alpha", "sk_sim_alpha_7f3a9c2e5b1d"),
    ("mer_bravo", "sk_sim_bravo_4e8b1a6d0c9f"),
];

/// One simulated gateway: name, wire format, priority, the pairs it serves.
pub struct GatewayPlan {
    pub name: &'static str,
    pub format: WireFormat,
    pub priority: u32,
    pub pairs: &'static [(&'static str, &'static str)],
}

/// Three gateways for AE/AED (fallbacks), two for US/USD, one for JP/JPY: both formats.
pub const GATEWAYS: [GatewayPlan; 4] = [
    GatewayPlan {
        name: "acme_json",
        format: WireFormat::Json,
        priority: 10,
        pairs: &[("AE", "AED"), ("US", "USD")],
    },
    GatewayPlan {
        name: "globex_soap",
        format: WireFormat::Soap,
        priority: 20,
        pairs: &[("AE", "AED"), ("US", "USD"), ("JP", "JPY")],
    },
    GatewayPlan {
        name: "initech_json",
        format: WireFormat::Json,
        priority: 30,
        pairs: &[("AE", "AED")],
    },
    GatewayPlan {
        name: "umbrella_soap",
        format: WireFormat::Soap,
        priority: 40,
        pairs: &[("JP", "JPY")],
    },
];

pub fn webhook_secret(gateway: &str) -> String {
    format!("whsec_sim_{gateway}_0123456789")
}

/// The connectors of the run, each over its simulated PSP.
pub struct SimConnectors(BTreeMap<String, Arc<dyn GatewayConnector>>);

impl ConnectorDirectory for SimConnectors {
    fn connector(&self, gateway: &GatewayConfig) -> Arc<dyn GatewayConnector> {
        self.0
            .get(&gateway.name)
            .cloned()
            .unwrap_or_else(|| panic!("no simulated PSP for {}", gateway.name))
    }
}

pub struct World {
    pub exec: Executor,
    pub timers: Timers,
    pub rng: Rc<RefCell<Rng>>,
    pub trace: Trace,
    pub config: SeedConfig,
    pub faults: Arc<SimFaults>,
    pub store: Arc<MemoryEventStore>,
    pub registry: Arc<MemoryGatewayRegistry>,
    pub queue: Arc<MemoryQueue>,
    pub dlq: Arc<MemoryQueue>,
    pub bus: Arc<MemoryPublisher>,
    pub psps: BTreeMap<&'static str, Arc<SimPsp>>,
    pub intake: Intake,
    pub processor: Processor,
    pub webhooks: Webhooks,
    pub probe: Probe,
    pub log: MerchantLog,
    /// Set once faults stop.
    pub calm: std::cell::Cell<bool>,
}

impl World {
    pub fn new(seed: u64, config: SeedConfig, trace: Trace) -> Self {
        let mut seeds = Rng::new(seed);
        let time = Arc::new(crate::executor::SimTime::new(START_MS));
        let rng = Rc::new(RefCell::new(Rng::new(seeds.next_u64())));
        let exec = Executor::new(time, rng.clone(), trace.clone());
        let timers = exec.timers();
        let clock = Arc::new(SimClock(timers.clone()));
        let ids = Arc::new(SeededIds::new(Rng::new(seeds.next_u64())));
        let faults = Arc::new(SimFaults::new(
            timers.clone(),
            Rng::new(seeds.next_u64()),
            config.store,
            trace.clone(),
        ));
        let hook: Arc<dyn FaultHook> = faults.clone();
        let store = Arc::new(MemoryEventStore::with_faults(hook.clone()));
        let bus = Arc::new(MemoryPublisher::new().with_faults(hook.clone()));
        let dlq = Arc::new(MemoryQueue::new(Duration::ZERO).with_clock(clock.clone()));
        let queue = Arc::new(
            MemoryQueue::new(Duration::from_millis(
                config.queue.visibility_timeout_ms as u64,
            ))
            .with_clock(clock.clone())
            .with_faults(hook.clone())
            .with_redrive(dlq.clone(), config.queue.max_receive_count),
        );
        let mut psps = BTreeMap::new();
        let mut connectors = BTreeMap::new();
        let mut configs = Vec::new();
        let mut webhook_gateways = WebhookGateways::default();
        for plan in &GATEWAYS {
            let psp = SimPsp::new(
                plan,
                webhook_secret(plan.name),
                config.psp(plan.name),
                config.network_fail_rate,
                Rng::new(seeds.next_u64()),
                timers.clone(),
                trace.clone(),
            );
            connectors.insert(plan.name.to_owned(), psp.connector());
            configs.push(GatewayConfig {
                name: plan.name.into(),
                format: plan.format,
                base_url: format!("https://{}.psp.sim", plan.name),
                countries: plan
                    .pairs
                    .iter()
                    .map(|(c, _)| Country::parse(c).expect("a country"))
                    .collect(),
                currencies: plan
                    .pairs
                    .iter()
                    .map(|(_, c)| Currency::parse(c).expect("a currency"))
                    .collect(),
                priority: plan.priority,
                enabled: true,
                // Every simulated PSP pays out too, so payouts meet every fault.
                capabilities: paygate_domain::gateways::Capability::ALL.to_vec(),
            });
            webhook_gateways.insert(
                plan.name,
                WebhookGateway {
                    format: plan.format,
                    secrets: vec![SecretString::from(webhook_secret(plan.name))],
                },
            );
            psps.insert(plan.name, psp);
        }
        let registry =
            Arc::new(MemoryGatewayRegistry::with_gateways(configs).with_faults(hook.clone()));
        let merchants = Arc::new(MemoryMerchantDirectory::new().with_faults(hook.clone()));
        for (merchant, key) in MERCHANTS {
            merchants.register(ApiKey::new(key).hash(), MerchantId(merchant.into()));
        }
        // Everyone publishes right after each change, like the functions on AWS.
        let publishing: Arc<dyn EventStore> = Arc::new(PublishingEventStore {
            inner: store.clone(),
            index: store.clone() as Arc<dyn SweepIndex>,
            publisher: bus.clone(),
        });
        let connectors: Arc<dyn ConnectorDirectory> = Arc::new(SimConnectors(connectors));
        let cipher = Arc::new(
            FieldCipher::from_spec("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
                .expect("a valid field key"),
        );
        let intake = Intake {
            store: publishing.clone(),
            queue: queue.clone(),
            merchants,
            ledger: store.clone(),
            deposits: store.clone(),
            registry: registry.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            cipher: cipher.clone(),
            config: IntakeConfig::default(),
        };
        // As on AWS: the processor and the probe reuse a listing for a moment.
        let processor = Processor {
            ids: ids.clone(),
            attempts: config.attempts,
            ..Processor::new(
                publishing.clone(),
                Arc::new(CachedRegistry::new(registry.clone(), clock.clone())),
                connectors.clone(),
                queue.clone(),
                clock.clone(),
                cipher,
            )
        };
        let webhooks = Webhooks {
            store: publishing.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            gateways: Arc::new(webhook_gateways),
        };
        let probe = Probe {
            registry: Arc::new(CachedRegistry::new(registry.clone(), clock.clone())),
            connectors,
            store: publishing,
            index: store.clone(),
            queue: queue.clone(),
            publisher: bus.clone(),
            clock,
            ids,
            policy: ProbePolicy::default(),
            sweep: config.sweep,
            attempts: config.attempts,
            sweep_budget: Duration::from_secs(15),
        };
        Self {
            exec,
            timers,
            rng,
            trace,
            config,
            faults,
            store,
            registry,
            queue,
            dlq,
            bus,
            psps,
            intake,
            processor,
            webhooks,
            probe,
            log: MerchantLog::default(),
            calm: std::cell::Cell::new(false),
        }
    }

    /// The chance that an invocation is dropped at an await point (none once calm).
    pub fn function_crash_rate(&self) -> f64 {
        if self.calm.get() {
            0.0
        } else {
            self.config.functions.crash_rate
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.timers.now_ms()
    }

    pub fn note(&self, line: impl Into<String>) {
        self.trace.note(self.now_ms(), line);
    }

    /// A draw from the run's seed.
    pub fn chance(&self, probability: f64) -> bool {
        self.rng.borrow_mut().chance(probability)
    }

    pub fn between(&self, low: i64, high: i64) -> i64 {
        self.rng.borrow_mut().between(low, high)
    }

    pub async fn sleep(&self, ms: i64) {
        self.timers.sleep_until(self.now_ms() + ms.max(0)).await;
    }
}
