//! Builds the functions' dependencies for the chosen backend, and seeds the dev merchant.

use crate::settings::{Backend, Settings};
use deposit_intake::{Intake, IntakeConfig};
use paygate_domain::MerchantId;
use paygate_domain::crypto::FieldCipher;
use paygate_domain::ports::{ApiKey, RandomIds, SystemClock};
use paygate_memory::{MemoryEventStore, MemoryMerchantDirectory, MemoryQueue};
use std::sync::Arc;

pub struct Stack {
    pub intake: Intake,
    pub merchant: MerchantId,
}

pub async fn build(settings: &Settings) -> Result<Stack, Box<dyn std::error::Error>> {
    let merchant = MerchantId(settings.merchant.clone());
    let key_hash = ApiKey::new(settings.api_key()).hash();
    let cipher = Arc::new(match &settings.field_keys {
        Some(spec) => FieldCipher::from_spec(spec)?,
        None => FieldCipher::ephemeral(),
    });
    let intake = match settings.backend {
        Backend::Memory => {
            let merchants = MemoryMerchantDirectory::new();
            merchants.register(key_hash, merchant.clone());
            Intake {
                store: Arc::new(MemoryEventStore::new()),
                queue: Arc::new(MemoryQueue::default()),
                merchants: Arc::new(merchants),
                clock: Arc::new(SystemClock),
                ids: Arc::new(RandomIds),
                cipher,
                config: IntakeConfig::default(),
            }
        }
        Backend::Aws => {
            let aws = paygate_aws::AwsAdapters::connect().await?;
            aws.merchants.register(&key_hash, &merchant).await?;
            Intake {
                store: aws.store,
                queue: aws.queue,
                merchants: aws.merchants,
                clock: Arc::new(SystemClock),
                ids: Arc::new(RandomIds),
                cipher,
                config: IntakeConfig::default(),
            }
        }
    };
    Ok(Stack { intake, merchant })
}
