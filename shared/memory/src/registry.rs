//! The gateway registry behind one lock: every update reads and writes under it, so a
//! breaker move is atomic exactly like the DynamoDB conditional update it stands in for.

use crate::faults::{Call, FaultHook, Hook, Port, guarded};
use async_trait::async_trait;
use paygate_domain::gateways::{Gateway, GatewayConfig, GatewayStatus};
use paygate_domain::ports::{GatewayRegistry, StatusChange, StoreError};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
pub struct MemoryGatewayRegistry {
    gateways: Mutex<BTreeMap<String, Gateway>>,
    faults: Hook,
}

impl MemoryGatewayRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every later call first asks `faults` what to do (see [`crate::faults`]).
    pub fn with_faults(mut self, faults: Arc<dyn FaultHook>) -> Self {
        self.faults = faults.into();
        self
    }

    async fn guarded<T>(
        &self,
        call: Call,
        work: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        guarded(&*self.faults, call, async { work() }).await
    }

    /// A registry holding `configs`, each with the default status (seeding, tests).
    pub fn with_gateways(configs: impl IntoIterator<Item = GatewayConfig>) -> Self {
        let gateways = configs
            .into_iter()
            .map(|config| {
                let gateway = Gateway {
                    config,
                    status: GatewayStatus::default(),
                };
                (gateway.config.name.clone(), gateway)
            })
            .collect();
        Self {
            gateways: Mutex::new(gateways),
            faults: Hook::default(),
        }
    }

    /// Changes a gateway's learnt status in place (tests, the dev stack's health
    /// probe); returns the new status. An unknown gateway is an error.
    pub fn update_status(
        &self,
        name: &str,
        f: impl FnOnce(&mut GatewayStatus),
    ) -> Result<GatewayStatus, StoreError> {
        let mut gateways = self.gateways();
        let gateway = gateways.get_mut(name).ok_or_else(|| unknown(name))?;
        f(&mut gateway.status);
        Ok(gateway.status.clone())
    }

    fn gateways(&self) -> MutexGuard<'_, BTreeMap<String, Gateway>> {
        // Updates are single assignments: a panic elsewhere cannot leave one half done.
        self.gateways
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn unknown(name: &str) -> StoreError {
    StoreError(format!("unknown gateway {name}"))
}

#[async_trait]
impl GatewayRegistry for MemoryGatewayRegistry {
    async fn change_status(
        &self,
        gateway: &str,
        change: &(dyn for<'s> Fn(&'s GatewayStatus) -> GatewayStatus + Send + Sync),
    ) -> Result<StatusChange, StoreError> {
        self.guarded(Call::write(Port::Registry, "change_status"), || {
            let mut before = None;
            let after = MemoryGatewayRegistry::update_status(self, gateway, |status| {
                before = Some(status.clone());
                *status = change(status);
            })?;
            Ok(StatusChange {
                before: before.unwrap_or_else(|| after.clone()),
                after,
            })
        })
        .await
    }

    /// Every gateway, by name.
    async fn list(&self) -> Result<Vec<Gateway>, StoreError> {
        self.guarded(Call::read(Port::Registry, "list"), || {
            Ok(self.gateways().values().cloned().collect())
        })
        .await
    }

    async fn change_config(
        &self,
        gateway: &str,
        change: &(dyn for<'c> Fn(&'c GatewayConfig) -> GatewayConfig + Send + Sync),
    ) -> Result<Option<GatewayConfig>, StoreError> {
        self.guarded(Call::write(Port::Registry, "change_config"), || {
            Ok(self.gateways().get_mut(gateway).map(|gateway| {
                gateway.config = change(&gateway.config);
                gateway.config.clone()
            }))
        })
        .await
    }

    async fn upsert_config(&self, config: &GatewayConfig) -> Result<(), StoreError> {
        self.guarded(Call::write(Port::Registry, "upsert_config"), || {
            self.gateways()
                .entry(config.name.clone())
                .and_modify(|gateway| gateway.config = config.clone())
                .or_insert_with(|| Gateway {
                    config: config.clone(),
                    status: GatewayStatus::default(),
                });
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paygate_domain::gateways::Health;
    use paygate_kit::contract::fixtures::gateway_config;

    #[tokio::test]
    async fn seeded_gateways_are_listed_by_name_and_their_status_can_be_set() {
        let registry =
            MemoryGatewayRegistry::with_gateways([gateway_config("b"), gateway_config("a")]);
        let status = registry
            .update_status("b", |status| status.health = Health::Unhealthy)
            .unwrap();
        assert_eq!(status.health, Health::Unhealthy);
        let listed = registry.list().await.unwrap();
        let names: Vec<_> = listed.iter().map(|g| g.config.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(listed[1].status.health, Health::Unhealthy);
        assert!(registry.update_status("c", |_| {}).is_err());
    }
}
