//! `gateways put <file.json>`: add or update gateways. The whole file is checked first and
//! refused on any problem ([`parse_put_file`]); then each new or changed entry is upserted,
//! which keeps what was learnt about a gateway already there (health, breaker).

use super::file::parse_put_file;
use super::routing::{unserved_after, write_unserved};
use super::{GatewayOps, TAKES_EFFECT, display_host, join};
use crate::OpsError;
use paygate_domain::gateways::GatewayConfig;
use paygate_domain::{Country, Currency};
use std::io::Write;
use std::path::Path;

impl GatewayOps {
    pub(super) async fn put_file(&self, file: &Path, out: &mut dyn Write) -> Result<(), OpsError> {
        let configs = read_put_file(file)?;
        self.put(&configs, out).await
    }

    /// Upserts every entry that is new or changed, reporting each as it is written.
    async fn put(&self, configs: &[GatewayConfig], out: &mut dyn Write) -> Result<(), OpsError> {
        let before = self.registry.list().await?;
        let (mut added, mut updated, mut unchanged) = (Vec::new(), Vec::new(), Vec::new());
        for config in configs {
            let old = before
                .iter()
                .find(|g| g.config.name == config.name)
                .map(|g| &g.config);
            let line = match old {
                Some(old) if old == config => {
                    unchanged.push(config.name.clone());
                    writeln!(out, "unchanged {}", config.name)?;
                    continue;
                }
                Some(old) => format!(
                    "updated {}: {}",
                    config.name,
                    changes(old, config).join(", ")
                ),
                None => format!(
                    "added {}: {}, priority {}, {}, {} / {}, host {}",
                    config.name,
                    config.format,
                    config.priority,
                    if config.enabled {
                        "enabled"
                    } else {
                        "disabled"
                    },
                    join(&config.countries, Country::code),
                    join(&config.currencies, Currency::code),
                    display_host(&config.base_url),
                ),
            };
            if let Err(error) = self.registry.upsert_config(config).await {
                return Err(OpsError::PartialPut {
                    written: added.iter().chain(&updated).cloned().collect(),
                    failed: config.name.clone(),
                    error,
                });
            }
            writeln!(out, "{line}")?;
            if old.is_some() {
                updated.push(config.name.clone());
            } else {
                added.push(config.name.clone());
            }
        }
        writeln!(
            out,
            "{} gateway(s) in the file, table {}: {} added, {} updated, {} unchanged; \
             health and breaker state of existing gateways kept",
            configs.len(),
            self.table,
            added.len(),
            updated.len(),
            unchanged.len()
        )?;
        if added.is_empty() && updated.is_empty() {
            return Ok(());
        }
        writeln!(out, "{TAKES_EFFECT}")?;
        if !added.is_empty() {
            writeln!(
                out,
                "note: the health probe checks new gateways on its next run; their webhooks are \
                 refused until they are in the webhook configuration (PAYGATE_WEBHOOK_GATEWAYS)"
            )?;
        }
        let before: Vec<GatewayConfig> = before.into_iter().map(|g| g.config).collect();
        let mut after = before.clone();
        for config in configs {
            match after.iter_mut().find(|c| c.name == config.name) {
                Some(slot) => *slot = config.clone(),
                None => after.push(config.clone()),
            }
        }
        write_unserved(out, &unserved_after(&before, &after))?;
        Ok(())
    }
}

/// Reads and checks a `put` file; nothing is written when it fails.
fn read_put_file(path: &Path) -> Result<Vec<GatewayConfig>, OpsError> {
    let text = std::fs::read_to_string(path).map_err(|error| OpsError::ReadFile {
        path: path.to_owned(),
        error,
    })?;
    parse_put_file(&text).map_err(|error| OpsError::PutFile {
        path: path.to_owned(),
        error,
    })
}

/// What an update changes, for the report. A base URL is shown by its host only.
fn changes(old: &GatewayConfig, new: &GatewayConfig) -> Vec<String> {
    let mut changes = Vec::new();
    if old.format != new.format {
        changes.push(format!("format {} -> {}", old.format, new.format));
    }
    if old.base_url != new.base_url {
        let (from, to) = (display_host(&old.base_url), display_host(&new.base_url));
        changes.push(if from == to {
            format!("base_url changed (host {to})")
        } else {
            format!("base_url host {from} -> {to}")
        });
    }
    if old.countries != new.countries {
        changes.push(format!(
            "countries {} -> {}",
            join(&old.countries, Country::code),
            join(&new.countries, Country::code)
        ));
    }
    if old.currencies != new.currencies {
        changes.push(format!(
            "currencies {} -> {}",
            join(&old.currencies, Currency::code),
            join(&new.currencies, Currency::code)
        ));
    }
    if old.priority != new.priority {
        changes.push(format!("priority {} -> {}", old.priority, new.priority));
    }
    if old.enabled != new.enabled {
        changes.push(format!("enabled {} -> {}", old.enabled, new.enabled));
    }
    changes
}
