//! Why a command failed: every message `paygate-ops` prints after `paygate-ops: ` with exit
//! code 1. None quotes an API key or a message body.

use crate::gateways::PutFileError;
use paygate_domain::MerchantId;
use paygate_domain::ports::{ApiKeyHash, QueueError, StoreError};
use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The gateway registry could not be read or written.
    #[error("gateway registry: {0}")]
    Registry(#[from] StoreError),
    #[error("could not write the output: {0}")]
    Io(#[from] io::Error),
    /// `dlq show`: no such message among those looked at.
    #[error("no message {message_id} among the {looked_at} message(s) in the DLQ")]
    NotFound {
        message_id: String,
        looked_at: usize,
    },
    /// `gateways enable|disable`: no gateway of that name in the registry.
    #[error("no gateway named {name:?} in {table} (`paygate-ops gateways list` shows them)")]
    UnknownGateway { name: String, table: String },
    /// `gateways put`: the file could not be read.
    #[error("could not read {}: {error}", .path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        error: io::Error,
    },
    /// `gateways put`: the file was refused; nothing was written.
    #[error("{}: nothing was written: {error}", .path.display())]
    PutFile {
        path: PathBuf,
        #[source]
        error: PutFileError,
    },
    /// `gateways put`: a write failed after `written` had been written.
    #[error(
        "could not write {failed}: {error}; {} (putting the same file again is safe)",
        already_written(.written)
    )]
    PartialPut {
        written: Vec<String>,
        failed: String,
        #[source]
        error: StoreError,
    },
    /// `merchants`: the merchants table could not be read or written.
    #[error("merchants table {table}: {error}")]
    MerchantsTable {
        table: String,
        #[source]
        error: StoreError,
    },
    /// `merchants add`: the operating system gave no random bytes; no key was made.
    #[error("could not get random bytes from the operating system ({0}); no key was made")]
    Entropy(String),
    /// `merchants add`: the key was registered, but writing it out failed. The key is
    /// lost (nobody has it); its item can be removed by its hash.
    #[error(
        "registered a new key for merchant {merchant} in {table} (key hash {}) but could not \
         show it: {error}; nobody has that key, so it is harmless: run `merchants add` again, \
         and remove its item (by that key hash) when convenient",
        .hash.0
    )]
    KeyNotShown {
        merchant: MerchantId,
        table: String,
        hash: ApiKeyHash,
        #[source]
        error: io::Error,
    },
    /// `merchants check`: what stdin held is no key to look up (the message never quotes
    /// it).
    #[error("{0}")]
    KeyInput(String),
    /// `merchants check`: no merchant has the key.
    #[error(
        "no merchant has this API key in {table} (key hash {}): it was never registered \
         there, or its item was removed",
        .hash.0
    )]
    UnknownKey { table: String, hash: ApiKeyHash },
    /// `ledger check`: the ledger could not be read.
    #[error("ledger of {merchant} in {table}: {error}")]
    LedgerRead {
        table: String,
        merchant: MerchantId,
        #[source]
        error: StoreError,
    },
    /// `ledger check`: the ledger disagrees with itself; the report says where.
    #[error("the ledger of {merchant} is not consistent: {problems} problem(s), listed above")]
    LedgerInconsistent {
        merchant: MerchantId,
        problems: usize,
    },
    /// `merchants revoke`: the merchant has no key with that hash; nothing changed.
    #[error(
        "merchant {merchant} has no key with hash {} in {table}; nothing was removed (check \
         the hash `merchants add` printed, and the merchant id)",
        .hash.0
    )]
    KeyNotRevoked {
        table: String,
        hash: ApiKeyHash,
        merchant: MerchantId,
    },
}

fn already_written(written: &[String]) -> String {
    if written.is_empty() {
        "nothing was written".to_owned()
    } else {
        format!("already written: {}", written.join(", "))
    }
}
