//! Builds every function's dependencies for the chosen backend, starts the simulated
//! gateways, seeds the registry and the dev merchant.

use crate::consumer::PolledQueue;
use crate::gateways::{self, GatewaySeed};
use crate::settings::{Backend, Settings};
use deposit_intake::{Intake, IntakeConfig};
use gateway_processor::Processor;
use gateway_simulator::RunningGateway;
use paygate_domain::MerchantId;
use paygate_domain::crypto::FieldCipher;
use paygate_domain::gateways::{BreakerPolicy, GatewayConfig};
use paygate_domain::ports::{
    ApiKey, EventPublisher, EventStore, GatewayRegistry, QueueSender, RandomIds, SweepIndex,
    SystemClock,
};
use paygate_domain::service::process::RedeliveryPolicy;
use paygate_domain::service::publish::PublishingEventStore;
use paygate_gateways::ConnectorCache;
use paygate_memory::{
    MemoryEventStore, MemoryGatewayRegistry, MemoryMerchantDirectory, MemoryPublisher, MemoryQueue,
};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;
use webhook_callback::{WebhookGateway, WebhookGateways, Webhooks};

/// SQS defaults the embedded queue mirrors (the template's values).
const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(180);
const MAX_RECEIVE_COUNT: u32 = 5;

/// What the scheduled sweeper needs besides the processor's ports.
pub struct Sweeping {
    pub store: Arc<dyn EventStore>,
    pub index: Arc<dyn SweepIndex>,
    pub queue: Arc<dyn QueueSender>,
    pub publisher: Arc<dyn EventPublisher>,
}

pub struct Stack {
    pub sweeping: Sweeping,
    pub intake: Intake,
    pub webhooks: Webhooks,
    pub processor: Processor,
    pub queue: Arc<dyn PolledQueue>,
    pub merchant: MerchantId,
    pub gateways: Vec<GatewayConfig>,
    /// Kept alive for as long as the stack runs.
    pub simulators: Vec<RunningGateway>,
}

pub async fn build(
    settings: &Settings,
    seeds: Vec<GatewaySeed>,
) -> Result<Stack, Box<dyn std::error::Error>> {
    let merchant = MerchantId(settings.merchant.clone());
    let key_hash = ApiKey::new(settings.api_key()).hash();
    let cipher = Arc::new(match &settings.field_keys {
        Some(spec) => FieldCipher::from_spec(spec)?,
        None => FieldCipher::ephemeral(),
    });
    let (configs, simulators) = gateways::start(seeds).await?;
    let clock = Arc::new(SystemClock);
    let ids = Arc::new(RandomIds);
    let (intake, processor, queue, sweeping): (Intake, Processor, Arc<dyn PolledQueue>, Sweeping) =
        match settings.backend {
            Backend::Memory => {
                let merchants = MemoryMerchantDirectory::new();
                merchants.register(key_hash, merchant.clone());
                let memory = Arc::new(MemoryEventStore::new());
                let bus = Arc::new(MemoryPublisher::new());
                let store: Arc<dyn EventStore> = Arc::new(PublishingEventStore {
                    inner: memory.clone(),
                    index: memory.clone(),
                    publisher: bus.clone(),
                });
                let dead_letters = Arc::new(MemoryQueue::new(VISIBILITY_TIMEOUT));
                let queue = Arc::new(
                    MemoryQueue::new(VISIBILITY_TIMEOUT)
                        .with_redrive(dead_letters, MAX_RECEIVE_COUNT),
                );
                let registry = Arc::new(MemoryGatewayRegistry::new());
                for config in &configs {
                    registry.upsert_config(config).await?;
                }
                let intake = Intake {
                    store: store.clone(),
                    queue: queue.clone(),
                    merchants: Arc::new(merchants),
                    registry: registry.clone(),
                    clock: clock.clone(),
                    ids: ids.clone(),
                    cipher: cipher.clone(),
                    config: IntakeConfig::default(),
                };
                let processor = Processor {
                    store: store.clone(),
                    registry,
                    connectors: Arc::new(ConnectorCache::new()),
                    redelivery: queue.clone(),
                    clock,
                    ids,
                    cipher,
                    breaker: BreakerPolicy::default(),
                    backoff: RedeliveryPolicy::default(),
                    attempts: paygate_domain::service::process::AttemptPolicy::default(),
                };
                let sweeping = Sweeping {
                    store: store.clone(),
                    index: memory,
                    queue: queue.clone(),
                    publisher: bus,
                };
                (intake, processor, queue, sweeping)
            }
            Backend::Aws => {
                let aws = paygate_aws::AwsAdapters::connect().await?;
                aws.merchants.register(&key_hash, &merchant).await?;
                for config in &configs {
                    aws.registry.upsert_config(config).await?;
                }
                let store = aws.publishing_store();
                let intake = Intake {
                    store: store.clone(),
                    queue: aws.queue.clone(),
                    merchants: aws.merchants.clone(),
                    registry: aws.registry.clone(),
                    clock: clock.clone(),
                    ids: ids.clone(),
                    cipher: cipher.clone(),
                    config: IntakeConfig::default(),
                };
                let processor = Processor {
                    store,
                    registry: aws.registry.clone(),
                    connectors: Arc::new(ConnectorCache::new()),
                    redelivery: aws.queue.clone(),
                    clock,
                    ids,
                    cipher,
                    breaker: BreakerPolicy::default(),
                    backoff: RedeliveryPolicy::default(),
                    attempts: paygate_domain::service::process::AttemptPolicy::default(),
                };
                let sweeping = Sweeping {
                    store: aws.publishing_store(),
                    index: aws.store.clone(),
                    queue: aws.queue.clone(),
                    publisher: aws.bus.clone(),
                };
                (intake, processor, aws.queue, sweeping)
            }
        };
    let mut webhook_gateways = WebhookGateways::default();
    for config in &configs {
        let secret = SecretString::from(gateways::webhook_secret(&config.name));
        webhook_gateways.insert(
            config.name.clone(),
            WebhookGateway {
                format: config.format,
                secrets: vec![secret],
            },
        );
    }
    let webhooks = Webhooks {
        store: processor.store.clone(),
        queue: sweeping.queue.clone(),
        clock: processor.clock.clone(),
        ids: processor.ids.clone(),
        gateways: Arc::new(webhook_gateways),
    };
    Ok(Stack {
        sweeping,
        intake,
        webhooks,
        processor,
        queue,
        merchant,
        gateways: configs,
        simulators,
    })
}
