use crate::faults::{Call, FaultHook, Hook, Port, guarded};
use async_trait::async_trait;
use paygate_domain::MerchantId;
use paygate_domain::ports::{ApiKeyHash, MerchantDirectory, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// API key hashes → merchants.
#[derive(Default)]
pub struct MemoryMerchantDirectory {
    merchants: RwLock<HashMap<ApiKeyHash, MerchantId>>,
    faults: Hook,
}

impl MemoryMerchantDirectory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every later lookup first asks `faults` what to do (see [`crate::faults`]).
    pub fn with_faults(mut self, faults: Arc<dyn FaultHook>) -> Self {
        self.faults = faults.into();
        self
    }

    pub fn register(&self, key: ApiKeyHash, merchant: MerchantId) {
        self.merchants
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, merchant);
    }

    /// Removes `key` if it belongs to `merchant`; whether it did.
    pub fn revoke(&self, key: &ApiKeyHash, merchant: &MerchantId) -> bool {
        let mut merchants = self.merchants.write().unwrap_or_else(|p| p.into_inner());
        if merchants.get(key) == Some(merchant) {
            merchants.remove(key);
            true
        } else {
            false
        }
    }
}

#[async_trait]
impl MerchantDirectory for MemoryMerchantDirectory {
    async fn merchant_for(&self, key: &ApiKeyHash) -> Result<Option<MerchantId>, StoreError> {
        let call = Call::read(Port::Merchants, "merchant_for");
        guarded(&*self.faults, call, async {
            Ok(self
                .merchants
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(key)
                .cloned())
        })
        .await
    }
}
