//! `merchants add <merchant-id>`: a new key for the merchant, shown once.

use super::{MerchantOps, NewKey};
use crate::OpsError;
use paygate_domain::MerchantId;
use std::io::Write;

/// Said after every new key.
pub const SHOWN_ONCE: &str = "this key cannot be shown again: only its SHA-256 hash is stored. \
Give it to the merchant now, over a secure channel; they send it as `Authorization: Bearer <key>`.";

impl MerchantOps {
    /// Registers `key`'s hash for `merchant`, then shows the key, once.
    pub async fn add(
        &self,
        merchant: &MerchantId,
        key: NewKey,
        out: &mut dyn Write,
    ) -> Result<(), OpsError> {
        self.directory
            .register(key.hash(), merchant)
            .await
            .map_err(|error| self.table_error(error))?;
        let shown = writeln!(
            out,
            "added a new API key for merchant {merchant} in {} (key hash {})\n{}\n{SHOWN_ONCE}\n\
             Keys the merchant already has keep working: to rotate, have them switch to this \
             one, then run `paygate-ops merchants revoke <old key hash> {merchant}`.",
            self.table,
            key.hash().0,
            key.expose(),
        )
        .and_then(|()| out.flush());
        shown.map_err(|error| OpsError::KeyNotShown {
            merchant: merchant.clone(),
            table: self.table.clone(),
            hash: key.hash().clone(),
            error,
        })
    }
}
