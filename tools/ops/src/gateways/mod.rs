//! `paygate-ops gateways …`: the gateway registry as operators see it.
//!
//! * `list`: one line per gateway, with what the system learnt about it (health, breaker)
//!   and its base URL's host only (a path or query could carry credentials).
//! * `put <file.json>`: add or update gateways from a file shaped like the devstack seed,
//!   with `base_url` required ([`parse_put_file`]: a name that `POST /webhooks/{gateway}`
//!   can carry unencoded, names unique in the file, a known wire format, ISO 3166-1
//!   countries and ISO 4217 currencies, an absolute `https://` base URL, `http://` only for
//!   loopback hosts, without query or fragment).
//! * `enable` / `disable <name>`: flip `enabled`, keeping the rest of the configuration.
//!
//! The gateway processor lists the registry afresh for every message it handles (a
//! consistent scan, nothing cached), so every change here applies from the next message.

mod checks;
mod enable;
mod file;
mod list;
mod put;
mod raw;
mod routing;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub use checks::{MAX_NAME_LEN, check_base_url, check_name, display_host};
pub use file::{Problem, PutFileError, parse_put_file};
pub use list::write_gateways;
pub use raw::FIELDS;
pub use routing::unserved_after;

use crate::OpsError;
use paygate_aws::aws_sdk_dynamodb::Client as DynamoClient;
use paygate_aws::{DynamoGatewayRegistry, Resources};
use paygate_domain::ports::GatewayRegistry;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// A `gateways` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayCommand {
    List,
    Put { file: PathBuf },
    Enable { name: String },
    Disable { name: String },
}

/// Said after every change: how soon routing sees it.
pub const TAKES_EFFECT: &str = "the gateway processor reads the registry afresh (consistent read, no cache) \
for every message, so routing uses this from the next message it starts; a call already under way finishes";

/// The registry the `gateways` commands work on.
pub struct GatewayOps {
    pub registry: Arc<dyn GatewayRegistry>,
    /// Where the registry is, for messages (the table's name).
    pub table: String,
}

impl GatewayOps {
    /// The DynamoDB registry in `PAYGATE_GATEWAYS_TABLE` (from `resources`).
    pub fn connect(dynamodb: DynamoClient, resources: &Resources) -> Self {
        Self {
            registry: Arc::new(DynamoGatewayRegistry::new(dynamodb, resources)),
            table: resources.gateways_table.clone(),
        }
    }

    /// Runs one command, writing its report to `out`.
    pub async fn run(&self, command: &GatewayCommand, out: &mut dyn Write) -> Result<(), OpsError> {
        match command {
            GatewayCommand::List => self.list(out).await,
            GatewayCommand::Put { file } => self.put_file(file, out).await,
            GatewayCommand::Enable { name } => self.set_enabled(name, true, out).await,
            GatewayCommand::Disable { name } => self.set_enabled(name, false, out).await,
        }
    }
}

/// Country or currency codes as a list shows them: `AE,US`.
fn join<T: Copy>(items: &[T], code: impl Fn(T) -> &'static str) -> String {
    items
        .iter()
        .map(|item| code(*item))
        .collect::<Vec<_>>()
        .join(",")
}
