//! `paygate-ops merchants …`: merchants' API keys.
//!
//! * `add <merchant-id>`: generates a new API key from the operating system's CSPRNG,
//!   registers its SHA-256 hash for the merchant in the merchants table and prints the key
//!   once. Only the hash is stored, so the key can never be shown again. A merchant may
//!   hold several keys: running `add` again gives it another one, which is how a key is
//!   rotated (the old one keeps working until its item is removed from the table).
//! * `check`: reads one key from stdin (never from the command line, where shell history
//!   would keep it) and says which merchant it belongs to; exit code 1 when none.
//! * `revoke <key-hash> <merchant-id>`: removes the key with that hash (as `add` printed
//!   it) if it belongs to that merchant; requests with it are refused from then on. The
//!   merchant id guards against removing another merchant's key by a mistyped hash.
//!
//! A key is printed by `add` on a line of its own, and nowhere else: no error message,
//! `Debug` output or report of this module holds one. Keys are hashed exactly as the
//! intake hashes the bearer key it receives ([`paygate_domain::ports::ApiKey::hash`]).

mod add;
mod check;
mod ids;
mod key;
mod revoke;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub use add::SHOWN_ONCE;
pub use check::read_key;
pub use ids::{MAX_MERCHANT_ID_LEN, check_merchant_id, parse_key_hash};
pub use key::{KEY_BYTES, KEY_LEN, KEY_PREFIX, MAX_KEY_LEN, NewKey};

use crate::{Input, OpsError};
use async_trait::async_trait;
use paygate_aws::aws_sdk_dynamodb::Client as DynamoClient;
use paygate_aws::{DynamoMerchantDirectory, Resources};
use paygate_domain::MerchantId;
use paygate_domain::ports::{ApiKeyHash, MerchantDirectory, StoreError};
use std::io::Write;
use std::sync::Arc;

/// A `merchants` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MerchantCommand {
    /// Issue a new key for the merchant.
    Add { merchant: MerchantId },
    /// Look up the merchant of the key on stdin.
    Check,
    /// Remove the key with this hash, if it belongs to the merchant.
    Revoke {
        hash: ApiKeyHash,
        merchant: MerchantId,
    },
}

/// The merchants table as `merchants` needs it: lookups, and registering a hash.
#[async_trait]
pub trait KeyDirectory: MerchantDirectory {
    /// Maps `hash` to `merchant`; a hash mapped to another merchant is refused.
    async fn register(&self, hash: &ApiKeyHash, merchant: &MerchantId) -> Result<(), StoreError>;

    /// Removes `hash` if it is mapped to `merchant`; whether it did.
    async fn revoke(&self, hash: &ApiKeyHash, merchant: &MerchantId) -> Result<bool, StoreError>;
}

#[async_trait]
impl KeyDirectory for DynamoMerchantDirectory {
    async fn register(&self, hash: &ApiKeyHash, merchant: &MerchantId) -> Result<(), StoreError> {
        DynamoMerchantDirectory::register(self, hash, merchant).await
    }

    async fn revoke(&self, hash: &ApiKeyHash, merchant: &MerchantId) -> Result<bool, StoreError> {
        DynamoMerchantDirectory::revoke(self, hash, merchant).await
    }
}

/// The merchants table the `merchants` commands work on.
pub struct MerchantOps {
    pub directory: Arc<dyn KeyDirectory>,
    /// The table's name, for messages.
    pub table: String,
}

impl MerchantOps {
    /// The DynamoDB merchants table in `PAYGATE_MERCHANTS_TABLE` (from `resources`).
    pub fn connect(dynamodb: DynamoClient, resources: &Resources) -> Self {
        Self {
            directory: Arc::new(DynamoMerchantDirectory::new(dynamodb, resources)),
            table: resources.merchants_table.clone(),
        }
    }

    /// Runs one command: `add` writes its report to `out`; `check` reads the key from
    /// `input` (prompting on `err` when it is a terminal) and writes the merchant to `out`.
    pub async fn run(
        &self,
        command: &MerchantCommand,
        input: Input<'_>,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<(), OpsError> {
        match command {
            MerchantCommand::Add { merchant } => self.add(merchant, NewKey::generate()?, out).await,
            MerchantCommand::Check => {
                if input.terminal {
                    let _ = write!(
                        err,
                        "API key (one line; it is read from stdin so that it stays out of \
                         shell history): "
                    );
                    let _ = err.flush();
                }
                let key = read_key(input.reader)?;
                self.check(&key, out).await
            }
            MerchantCommand::Revoke { hash, merchant } => self.revoke(hash, merchant, out).await,
        }
    }

    fn table_error(&self, error: StoreError) -> OpsError {
        OpsError::MerchantsTable {
            table: self.table.clone(),
            error,
        }
    }
}
