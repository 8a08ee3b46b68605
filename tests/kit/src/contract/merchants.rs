//! What every `MerchantDirectory` must do.

use async_trait::async_trait;
use paygate_domain::MerchantId;
use paygate_domain::ports::{ApiKey, ApiKeyHash, MerchantDirectory};
use std::sync::Arc;
use uuid::Uuid;

/// A directory that can also register keys (seeding, tests).
#[async_trait]
pub trait MerchantRegistry: MerchantDirectory {
    async fn register_key(&self, key: &ApiKeyHash, merchant: &MerchantId);
}

#[async_trait]
impl MerchantRegistry for paygate_memory::MemoryMerchantDirectory {
    async fn register_key(&self, key: &ApiKeyHash, merchant: &MerchantId) {
        self.register(key.clone(), merchant.clone());
    }
}

#[async_trait]
impl MerchantRegistry for paygate_aws::DynamoMerchantDirectory {
    async fn register_key(&self, key: &ApiKeyHash, merchant: &MerchantId) {
        self.register(key, merchant).await.expect("register");
    }
}

pub async fn a_registered_key_resolves_to_its_merchant(directory: Arc<dyn MerchantRegistry>) {
    let key = ApiKey::new(format!("sk_test_{}", Uuid::new_v4().simple()));
    let merchant = MerchantId(format!("mer_{}", Uuid::new_v4().simple()));
    directory.register_key(&key.hash(), &merchant).await;
    assert_eq!(
        directory.merchant_for(&key.hash()).await.unwrap(),
        Some(merchant)
    );
}

pub async fn an_unknown_key_resolves_to_nobody(directory: Arc<dyn MerchantRegistry>) {
    let key = ApiKey::new(format!("sk_test_{}", Uuid::new_v4().simple()));
    assert_eq!(directory.merchant_for(&key.hash()).await.unwrap(), None);
}
