//! The gateway registry on DynamoDB: configuration upserted from the seed file, status
//! (health, breaker) changed by optimistic, revision-conditioned updates, so every
//! Lambda instance sees and moves the same breaker.

use super::items::{
    self, CONFIG, Item, NAME, REVISION, STATUS, Stored, config_json, n, s, status_json,
};
use crate::config::Resources;
use crate::dynamo::{get_consistent, random_pause};
use crate::error::AwsError;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use paygate_domain::gateways::{Gateway, GatewayConfig, GatewayStatus};
use paygate_domain::ports::{GatewayRegistry, StatusChange, StoreError};
use std::time::Duration;

/// How often a status update re-reads and retries after losing to a concurrent writer.
/// Each loss means another writer won, so `n` concurrent writers need at most `n` tries.
pub const MAX_UPDATE_ATTEMPTS: u32 = 25;

/// [`GatewayRegistry`] on the DynamoDB gateways table.
#[derive(Debug, Clone)]
pub struct DynamoGatewayRegistry {
    client: Client,
    table: String,
}

impl DynamoGatewayRegistry {
    /// Uses the gateways table named in `resources`.
    pub fn new(client: Client, resources: &Resources) -> Self {
        Self {
            client,
            table: resources.gateways_table.clone(),
        }
    }

    /// Replaces a gateway's status with `f(current)`, atomically with respect to every
    /// other writer: read consistently, write conditionally on the revision read, and
    /// on a lost race read again and re-apply `f` (so `f` may run several times).
    /// Returns the status written; an unknown gateway is an error.
    pub async fn update_status(
        &self,
        name: &str,
        f: impl Fn(&GatewayStatus) -> GatewayStatus,
    ) -> Result<StatusChange, StoreError> {
        for attempt in 0..MAX_UPDATE_ATTEMPTS {
            let Some(stored) = self.read(name).await? else {
                return Err(AwsError::UnknownGateway(name.to_owned()).into());
            };
            let before = stored.gateway.status;
            let next = f(&before);
            if next == before {
                // Nothing to write: the consistent read is as good as a write.
                return Ok(StatusChange {
                    before,
                    after: next,
                });
            }
            if self.write_status(name, &next, stored.revision).await? {
                return Ok(StatusChange {
                    before,
                    after: next,
                });
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(AwsError::Contended {
            what: "gateway status update",
            attempts: MAX_UPDATE_ATTEMPTS,
        }
        .into())
    }

    async fn read(&self, name: &str) -> Result<Option<Stored>, AwsError> {
        let gateway = items::gateway_from_item;
        get_consistent(&self.client, &self.table, NAME, name.to_owned(), gateway).await
    }

    /// Writes `status` if the revision is still `revision`; `Ok(false)` if another
    /// writer moved it (or the gateway was removed) since.
    async fn write_status(
        &self,
        name: &str,
        status: &GatewayStatus,
        revision: u64,
    ) -> Result<bool, AwsError> {
        self.write_conditionally(name, STATUS, status_json(status)?, revision)
            .await
    }

    /// Sets one attribute (the status or the config, as JSON) and moves the revision, if
    /// the revision is still `revision`; `Ok(false)` if another writer moved it (or the
    /// gateway was removed) since.
    async fn write_conditionally(
        &self,
        name: &str,
        attribute: &str,
        json: String,
        revision: u64,
    ) -> Result<bool, AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(NAME, s(name))
            .update_expression("SET #a = :a, #r = #r + :one")
            .condition_expression("#r = :r")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_names("#r", REVISION)
            .expression_attribute_values(":a", s(json))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":r", n(revision))
            .send()
            .await;
        AwsError::condition_held("UpdateItem", result)
    }
}

/// A random pause of up to 5, 10, 20, 40, then 80 ms.
fn backoff(attempt: u32) -> Duration {
    random_pause(5u64 << attempt.min(4))
}

#[async_trait]
impl GatewayRegistry for DynamoGatewayRegistry {
    async fn change_status(
        &self,
        gateway: &str,
        change: &(dyn for<'s> Fn(&'s GatewayStatus) -> GatewayStatus + Send + Sync),
    ) -> Result<StatusChange, StoreError> {
        DynamoGatewayRegistry::update_status(self, gateway, change).await
    }

    /// Every gateway, by name. The registry is small: a consistent scan of all pages.
    async fn list(&self) -> Result<Vec<Gateway>, StoreError> {
        let mut gateways = Vec::new();
        let mut start_key: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| AwsError::call("Scan", &e))?;
            for item in page.items() {
                gateways.push(items::gateway_from_item(item)?.gateway);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => break,
            }
        }
        gateways.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        Ok(gateways)
    }

    async fn change_config(
        &self,
        gateway: &str,
        change: &(dyn for<'c> Fn(&'c GatewayConfig) -> GatewayConfig + Send + Sync),
    ) -> Result<Option<GatewayConfig>, StoreError> {
        for attempt in 0..MAX_UPDATE_ATTEMPTS {
            let Some(stored) = self.read(gateway).await? else {
                return Ok(None);
            };
            let next = change(&stored.gateway.config);
            if next == stored.gateway.config {
                return Ok(Some(next));
            }
            let written = self
                .write_conditionally(gateway, CONFIG, config_json(&next)?, stored.revision)
                .await?;
            if written {
                return Ok(Some(next));
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(AwsError::Contended {
            what: "gateway config update",
            attempts: MAX_UPDATE_ATTEMPTS,
        }
        .into())
    }

    /// Sets the configuration; a new gateway starts with the default status, a known
    /// one keeps what was learnt.
    async fn upsert_config(&self, config: &GatewayConfig) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(NAME, s(config.name.clone()))
            // The revision moves with the config too, so a `change_config` that read the
            // old config cannot write over this one.
            .update_expression(
                "SET #c = :c, #s = if_not_exists(#s, :default_status), \
                 #r = if_not_exists(#r, :zero) + :one",
            )
            .expression_attribute_names("#c", CONFIG)
            .expression_attribute_names("#s", STATUS)
            .expression_attribute_names("#r", REVISION)
            .expression_attribute_values(":c", s(config_json(config)?))
            .expression_attribute_values(
                ":default_status",
                s(status_json(&GatewayStatus::default())?),
            )
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(|e| AwsError::call("UpdateItem", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_short_growing_and_jittered() {
        for attempt in 0..MAX_UPDATE_ATTEMPTS {
            let pause = backoff(attempt);
            let cap = Duration::from_millis(5 << attempt.min(4));
            assert!(
                pause >= Duration::from_millis(1) && pause <= cap,
                "{pause:?}"
            );
        }
        let pauses: std::collections::HashSet<_> = (0..50).map(|_| backoff(10)).collect();
        assert!(pauses.len() > 1, "no jitter: {pauses:?}");
    }
}
