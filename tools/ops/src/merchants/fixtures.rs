//! What the `merchants` tests share: a directory in memory and random sources that are not.

use super::{KEY_LEN, KEY_PREFIX, KeyDirectory, MerchantOps};
use async_trait::async_trait;
use paygate_domain::MerchantId;
use paygate_domain::ports::{ApiKeyHash, MerchantDirectory, StoreError};
use paygate_memory::MemoryMerchantDirectory;
use rand::{TryCryptoRng, TryRngCore};
use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, Mutex};

/// The in-memory directory, refusing a hash mapped to another merchant as the
/// DynamoDB one does, and remembering what was registered.
#[derive(Default)]
pub struct Directory {
    pub inner: MemoryMerchantDirectory,
    pub registered: Mutex<Vec<(ApiKeyHash, MerchantId)>>,
    pub fail: Option<&'static str>,
}

#[async_trait]
impl MerchantDirectory for Directory {
    async fn merchant_for(&self, key: &ApiKeyHash) -> Result<Option<MerchantId>, StoreError> {
        match self.fail {
            Some(message) => Err(StoreError(message.into())),
            None => self.inner.merchant_for(key).await,
        }
    }
}

#[async_trait]
impl KeyDirectory for Directory {
    async fn register(&self, hash: &ApiKeyHash, merchant: &MerchantId) -> Result<(), StoreError> {
        if let Some(message) = self.fail {
            return Err(StoreError(message.into()));
        }
        match self.inner.merchant_for(hash).await? {
            Some(other) if &other != merchant => Err(StoreError("taken".into())),
            _ => {
                self.inner.register(hash.clone(), merchant.clone());
                self.registered
                    .lock()
                    .unwrap()
                    .push((hash.clone(), merchant.clone()));
                Ok(())
            }
        }
    }

    async fn revoke(&self, hash: &ApiKeyHash, merchant: &MerchantId) -> Result<bool, StoreError> {
        if let Some(message) = self.fail {
            return Err(StoreError(message.into()));
        }
        Ok(self.inner.revoke(hash, merchant))
    }
}

pub fn merchant_ops(directory: Directory) -> (MerchantOps, Arc<Directory>) {
    let directory = Arc::new(directory);
    let ops = MerchantOps {
        directory: directory.clone(),
        table: "paygate-merchants".into(),
    };
    (ops, directory)
}

pub fn mer(id: &str) -> MerchantId {
    MerchantId(id.into())
}

pub fn is_generated_key(key: &str) -> bool {
    key.len() == KEY_LEN
        && key.strip_prefix(KEY_PREFIX).is_some_and(|hex| {
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// Gives the same byte over and over.
pub struct Constant(pub u8);

impl TryRngCore for Constant {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(u32::from_ne_bytes([self.0; 4]))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(u64::from_ne_bytes([self.0; 8]))
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Infallible> {
        dest.fill(self.0);
        Ok(())
    }
}

impl TryCryptoRng for Constant {}

/// An operating system without entropy.
pub struct Broken;

#[derive(Debug)]
pub struct NoEntropy;

impl fmt::Display for NoEntropy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("getrandom: unavailable")
    }
}

impl std::error::Error for NoEntropy {}

impl TryRngCore for Broken {
    type Error = NoEntropy;
    fn try_next_u32(&mut self) -> Result<u32, NoEntropy> {
        Err(NoEntropy)
    }
    fn try_next_u64(&mut self) -> Result<u64, NoEntropy> {
        Err(NoEntropy)
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), NoEntropy> {
        Err(NoEntropy)
    }
}

impl TryCryptoRng for Broken {}
