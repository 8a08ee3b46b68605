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
use paygate_domain::gateways::GatewayConfig;
use paygate_domain::ports::{
    ApiKey, DepositList, EventPublisher, EventStore, GatewayRegistry, Ledger, MerchantDirectory,
    QueueSender, RandomIds, RedeliveryScheduler, SweepIndex, SystemClock,
};
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

/// One backend's adapters, before the functions are wired to them.
struct Adapters {
    /// What the functions write through: every committed append is then published.
    store: Arc<dyn EventStore>,
    index: Arc<dyn SweepIndex>,
    ledger: Arc<dyn Ledger>,
    deposits: Arc<dyn DepositList>,
    queue: Arc<dyn QueueSender>,
    redelivery: Arc<dyn RedeliveryScheduler>,
    /// The same queue, as the local consumer polls it.
    polled: Arc<dyn PolledQueue>,
    merchants: Arc<dyn MerchantDirectory>,
    registry: Arc<dyn GatewayRegistry>,
    publisher: Arc<dyn EventPublisher>,
}

/// The AWS adapters against `AWS_ENDPOINT_URL`, the merchant registered there.
#[cfg(feature = "aws")]
async fn aws_adapters(
    key_hash: &paygate_domain::ports::ApiKeyHash,
    merchant: &MerchantId,
) -> Result<Adapters, Box<dyn std::error::Error>> {
    let aws = paygate_aws::AwsAdapters::connect().await?;
    aws.merchants.register(key_hash, merchant).await?;
    Ok(Adapters {
        store: aws.publishing_store(),
        index: aws.store.clone(),
        ledger: aws.store.clone(),
        deposits: aws.store.clone(),
        queue: aws.queue.clone(),
        redelivery: aws.queue.clone(),
        polled: aws.queue.clone(),
        merchants: aws.merchants.clone(),
        registry: aws.registry.clone(),
        publisher: aws.bus.clone(),
    })
}

/// Without the `aws` feature the devstack has no AWS adapters (and compiles no AWS SDK).
#[cfg(not(feature = "aws"))]
async fn aws_adapters(
    _: &paygate_domain::ports::ApiKeyHash,
    _: &MerchantId,
) -> Result<Adapters, Box<dyn std::error::Error>> {
    Err("this devstack was built without the `aws` feature; run \
         `cargo run --release -p devstack --features aws -- --backend aws`"
        .into())
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
    let adapters = match settings.backend {
        Backend::Memory => {
            let merchants = MemoryMerchantDirectory::new();
            merchants.register(key_hash, merchant.clone());
            let memory = Arc::new(MemoryEventStore::new());
            let bus = Arc::new(MemoryPublisher::new());
            let dead_letters = Arc::new(MemoryQueue::new(VISIBILITY_TIMEOUT));
            let queue = Arc::new(
                MemoryQueue::new(VISIBILITY_TIMEOUT).with_redrive(dead_letters, MAX_RECEIVE_COUNT),
            );
            Adapters {
                store: Arc::new(PublishingEventStore {
                    inner: memory.clone(),
                    index: memory.clone(),
                    publisher: bus.clone(),
                }),
                index: memory.clone(),
                ledger: memory.clone(),
                deposits: memory,
                queue: queue.clone(),
                redelivery: queue.clone(),
                polled: queue,
                merchants: Arc::new(merchants),
                registry: Arc::new(MemoryGatewayRegistry::new()),
                publisher: bus,
            }
        }
        Backend::Aws => aws_adapters(&key_hash, &merchant).await?,
    };
    for config in &configs {
        adapters.registry.upsert_config(config).await?;
    }
    let intake = Intake {
        store: adapters.store.clone(),
        queue: adapters.queue.clone(),
        merchants: adapters.merchants,
        ledger: adapters.ledger,
        deposits: adapters.deposits,
        registry: adapters.registry.clone(),
        clock: clock.clone(),
        ids: ids.clone(),
        cipher: cipher.clone(),
        config: IntakeConfig::default(),
    };
    let processor = Processor {
        ids,
        ..Processor::new(
            adapters.store.clone(),
            adapters.registry,
            Arc::new(ConnectorCache::new()),
            adapters.redelivery,
            clock,
            cipher,
        )
    };
    let sweeping = Sweeping {
        store: adapters.store,
        index: adapters.index,
        queue: adapters.queue,
        publisher: adapters.publisher,
    };
    let queue = adapters.polled;
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
