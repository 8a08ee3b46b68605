//! A short per-instance memory of which merchant an API key belongs to, so a warm
//! function answers a known key (and a junk key sent again and again) without a
//! DynamoDB read each time. A key taken away still works for up to [`KNOWN_FOR`] on an
//! instance that saw it; a key just given out may be refused for up to [`UNKNOWN_FOR`].

use async_trait::async_trait;
use paygate_domain::MerchantId;
use paygate_domain::ports::{ApiKeyHash, Clock, MerchantDirectory, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// How long a key's merchant is remembered.
pub const KNOWN_FOR: Duration = Duration::seconds(60);
/// How long a key that names no merchant is remembered.
pub const UNKNOWN_FOR: Duration = Duration::seconds(5);
/// The most keys remembered: past it the memory starts again (a flood of distinct junk
/// keys cannot grow it without bound).
pub const MAX_KEYS: usize = 10_000;

pub struct CachedMerchants {
    inner: Arc<dyn MerchantDirectory>,
    clock: Arc<dyn Clock>,
    seen: Mutex<HashMap<ApiKeyHash, (Option<MerchantId>, OffsetDateTime)>>,
}

impl CachedMerchants {
    pub fn new(inner: Arc<dyn MerchantDirectory>, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            clock,
            seen: Mutex::default(),
        }
    }

    fn seen(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ApiKeyHash, (Option<MerchantId>, OffsetDateTime)>> {
        // Only whole entries are ever written: a panic elsewhere leaves it usable.
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl MerchantDirectory for CachedMerchants {
    async fn merchant_for(&self, key: &ApiKeyHash) -> Result<Option<MerchantId>, StoreError> {
        let now = self.clock.now();
        if let Some((merchant, until)) = self.seen().get(key)
            && now < *until
        {
            return Ok(merchant.clone());
        }
        // A failed read is not remembered: the next request asks again.
        let merchant = self.inner.merchant_for(key).await?;
        let until = now
            + if merchant.is_some() {
                KNOWN_FOR
            } else {
                UNKNOWN_FOR
            };
        let mut seen = self.seen();
        if seen.len() >= MAX_KEYS {
            seen.clear();
        }
        seen.insert(key.clone(), (merchant.clone(), until));
        Ok(merchant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paygate_memory::ManualClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A directory that knows one key and counts its reads; it may be told to fail.
    #[derive(Default)]
    struct Counting {
        reads: AtomicUsize,
        failing: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl MerchantDirectory for Counting {
        async fn merchant_for(&self, key: &ApiKeyHash) -> Result<Option<MerchantId>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.failing.load(Ordering::SeqCst) {
                return Err(StoreError("throttled".into()));
            }
            Ok((key.0 == "known").then(|| MerchantId("m_1".into())))
        }
    }

    fn key(text: &str) -> ApiKeyHash {
        ApiKeyHash(text.into())
    }

    #[tokio::test]
    async fn known_and_unknown_keys_are_read_once_per_while_and_failures_never_kept() {
        let inner = Arc::new(Counting::default());
        let clock = Arc::new(ManualClock::new(OffsetDateTime::UNIX_EPOCH));
        let cached = CachedMerchants::new(inner.clone(), clock.clone());
        let reads = || inner.reads.load(Ordering::SeqCst);

        // A known key: one read, then remembered for KNOWN_FOR.
        for _ in 0..3 {
            assert_eq!(
                cached.merchant_for(&key("known")).await.unwrap(),
                Some(MerchantId("m_1".into()))
            );
        }
        assert_eq!(reads(), 1);
        // A junk key: one read, remembered only for UNKNOWN_FOR.
        for _ in 0..3 {
            assert_eq!(cached.merchant_for(&key("junk")).await.unwrap(), None);
        }
        assert_eq!(reads(), 2);
        clock.advance(UNKNOWN_FOR);
        assert_eq!(cached.merchant_for(&key("junk")).await.unwrap(), None);
        assert_eq!(
            cached.merchant_for(&key("known")).await.unwrap(),
            Some(MerchantId("m_1".into()))
        );
        assert_eq!(reads(), 3);
        clock.advance(KNOWN_FOR);
        // A failed read is answered as a failure and asked again next time.
        inner.failing.store(true, Ordering::SeqCst);
        assert!(cached.merchant_for(&key("known")).await.is_err());
        assert!(cached.merchant_for(&key("known")).await.is_err());
        assert_eq!(reads(), 5);
    }

    #[tokio::test]
    async fn a_flood_of_distinct_keys_never_grows_the_memory_past_its_bound() {
        let inner = Arc::new(Counting::default());
        let cached = CachedMerchants::new(
            inner,
            Arc::new(ManualClock::new(OffsetDateTime::UNIX_EPOCH)),
        );
        for n in 0..MAX_KEYS + 10 {
            cached
                .merchant_for(&key(&format!("junk_{n}")))
                .await
                .unwrap();
        }
        assert!(cached.seen().len() <= MAX_KEYS);
    }
}
