//! `gateways enable|disable <name>`: flip `enabled`, keeping the rest of the configuration.

use super::routing::{routing_notes, unserved_after, write_unserved};
use super::{GatewayOps, TAKES_EFFECT};
use crate::OpsError;
use paygate_domain::gateways::GatewayConfig;
use std::io::Write;
use time::OffsetDateTime;

impl GatewayOps {
    /// Sets `enabled` on a gateway, keeping the rest of its configuration.
    pub(super) async fn set_enabled(
        &self,
        name: &str,
        enabled: bool,
        out: &mut dyn Write,
    ) -> Result<(), OpsError> {
        let gateways = self.registry.list().await?;
        let Some(gateway) = gateways.iter().find(|g| g.config.name == name) else {
            return Err(OpsError::UnknownGateway {
                name: name.to_owned(),
                table: self.table.clone(),
            });
        };
        let word = if enabled { "enabled" } else { "disabled" };
        if gateway.config.enabled == enabled {
            writeln!(out, "{name} is already {word}; nothing changed")?;
            return Ok(());
        }
        // Only `enabled` changes, on the configuration as stored at the time of the write:
        // a concurrent `put` of other fields is kept, never overwritten with what we listed.
        let change = |current: &GatewayConfig| GatewayConfig {
            enabled,
            ..current.clone()
        };
        let Some(config) = self.registry.change_config(name, &change).await? else {
            return Err(OpsError::UnknownGateway {
                name: name.to_owned(),
                table: self.table.clone(),
            });
        };
        writeln!(out, "{word} {name} in {}", self.table)?;
        writeln!(out, "{TAKES_EFFECT}")?;
        if enabled {
            for note in routing_notes(&gateway.status, OffsetDateTime::now_utc()) {
                writeln!(out, "note: {note}")?;
            }
        } else {
            writeln!(
                out,
                "note: payments it already holds are still settled with it (open attempts, \
                 refunds, the recovery sweeper), and the health probe keeps probing it"
            )?;
            let before: Vec<GatewayConfig> = gateways.iter().map(|g| g.config.clone()).collect();
            let after: Vec<GatewayConfig> = before
                .iter()
                .map(|c| {
                    if c.name == name {
                        config.clone()
                    } else {
                        c.clone()
                    }
                })
                .collect();
            write_unserved(out, &unserved_after(&before, &after))?;
        }
        Ok(())
    }
}
