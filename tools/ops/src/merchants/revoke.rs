//! `merchants revoke <key-hash> <merchant-id>`: one of the merchant's keys removed, by
//! its hash.

use super::MerchantOps;
use crate::OpsError;
use paygate_domain::MerchantId;
use paygate_domain::ports::ApiKeyHash;
use std::io::Write;

impl MerchantOps {
    /// Removes the key `hash` of `merchant`, or fails with [`OpsError::KeyNotRevoked`].
    pub async fn revoke(
        &self,
        hash: &ApiKeyHash,
        merchant: &MerchantId,
        out: &mut dyn Write,
    ) -> Result<(), OpsError> {
        let revoked = self
            .directory
            .revoke(hash, merchant)
            .await
            .map_err(|error| self.table_error(error))?;
        if !revoked {
            return Err(OpsError::KeyNotRevoked {
                table: self.table.clone(),
                hash: hash.clone(),
                merchant: merchant.clone(),
            });
        }
        writeln!(
            out,
            "revoked the key with hash {} of merchant {merchant} in {}: requests with it are \
             refused (401) from now on",
            hash.0, self.table
        )?;
        Ok(())
    }
}
