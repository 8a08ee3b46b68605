//! A short per-instance memory of the gateway list, so a warm processor routes without
//! scanning the registry for every message (and the probe's run lists it once). What it routes on is advice that is checked
//! where it matters: an attempt is owned through the deposit's stream, and a failed call
//! reads the breaker it moves. Another instance's breaker move is seen within
//! [`LISTED_FOR`]; this instance's own moves (and config changes) at once: every write
//! through it forgets the list.

use super::{Gateway, GatewayConfig, GatewayStatus};
use crate::ports::{Clock, GatewayRegistry, StatusChange, StoreError};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// How long a listing is reused.
pub const LISTED_FOR: Duration = Duration::seconds(2);

pub struct CachedRegistry {
    inner: Arc<dyn GatewayRegistry>,
    clock: Arc<dyn Clock>,
    listed: Mutex<Option<(Vec<Gateway>, OffsetDateTime)>>,
}

impl CachedRegistry {
    pub fn new(inner: Arc<dyn GatewayRegistry>, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            clock,
            listed: Mutex::default(),
        }
    }

    fn listed(&self) -> std::sync::MutexGuard<'_, Option<(Vec<Gateway>, OffsetDateTime)>> {
        // Only whole listings are ever stored: a panic elsewhere leaves it usable.
        self.listed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn forget(&self) {
        *self.listed() = None;
    }
}

#[async_trait]
impl GatewayRegistry for CachedRegistry {
    async fn list(&self) -> Result<Vec<Gateway>, StoreError> {
        let now = self.clock.now();
        if let Some((gateways, until)) = self.listed().as_ref()
            && now < *until
        {
            return Ok(gateways.clone());
        }
        // A failed read is not remembered: the next message asks again.
        let gateways = self.inner.list().await?;
        *self.listed() = Some((gateways.clone(), now + LISTED_FOR));
        Ok(gateways)
    }

    async fn change_status(
        &self,
        gateway: &str,
        change: &(dyn for<'s> Fn(&'s GatewayStatus) -> GatewayStatus + Send + Sync),
    ) -> Result<StatusChange, StoreError> {
        self.forget();
        self.inner.change_status(gateway, change).await
    }

    async fn upsert_config(&self, config: &GatewayConfig) -> Result<(), StoreError> {
        self.forget();
        self.inner.upsert_config(config).await
    }

    async fn change_config(
        &self,
        gateway: &str,
        change: &(dyn for<'c> Fn(&'c GatewayConfig) -> GatewayConfig + Send + Sync),
    ) -> Result<Option<GatewayConfig>, StoreError> {
        self.forget();
        self.inner.change_config(gateway, change).await
    }
}
