//! Idempotency keys (after the IETF `Idempotency-Key` draft and Stripe).
//!
//! The first request with a key claims it in the same transaction that records the
//! deposit; the claim is a lease that the request completes once the message is sent.
//! Later requests with the key are judged against the stored record.

use crate::deposit::DepositView;
use crate::ids::{DepositId, MerchantId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// A merchant-chosen key, 1–255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    #[error("the Idempotency-Key header is required")]
    Missing,
    #[error("Idempotency-Key must be 1 to 255 printable ASCII characters")]
    Invalid,
}

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(value: Option<&str>) -> Result<Self, IdempotencyKeyError> {
        let value = value.ok_or(IdempotencyKeyError::Missing)?;
        let ok = (1..=Self::MAX_LEN).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(IdempotencyKeyError::Invalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A digest of what a request asked for, to tell "the same request again" from "a
/// different request reusing the key". Requests' fingerprints are keyed
/// ([`crate::crypto::FieldCipher::fingerprint`]): a body may hold a clear card token, and
/// a plain hash of it, kept for days, could be checked against guesses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// What is stored.
    digest: String,
    /// The same request's digests under the keys it may have been stored with before
    /// (older field keys, the unkeyed digest of records written before keying): a match
    /// with any of them is the same request.
    also: Vec<String>,
}

impl Fingerprint {
    /// The unkeyed digest (SHA-256) of `canonical_request` on `operation`: what records
    /// written before keyed fingerprints hold, and what tests use. `operation` names the
    /// endpoint, so a key reused on another endpoint never matches.
    pub fn of(operation: &str, canonical_request: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(operation.as_bytes());
        hasher.update([0]);
        hasher.update(canonical_request);
        Self::from_stored(hex::encode(hasher.finalize()))
    }

    /// `digest`, also matching the same request's `also` digests.
    pub fn with_alternatives(digest: String, also: Vec<String>) -> Self {
        Self { digest, also }
    }

    pub fn as_str(&self) -> &str {
        &self.digest
    }

    pub fn from_stored(digest: String) -> Self {
        Self {
            digest,
            also: Vec::new(),
        }
    }

    /// Whether `stored` is this request's fingerprint, under any key it may have used.
    pub fn matches(&self, stored: &Fingerprint) -> bool {
        self.digest == stored.digest || self.also.contains(&stored.digest)
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.digest)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from_stored)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum IdempotencyState {
    /// The request that owns the lease is still working (or died while working).
    InFlight {
        owner: Uuid,
        #[serde(with = "time::serde::rfc3339")]
        lease_until: OffsetDateTime,
    },
    Completed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub merchant_id: MerchantId,
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
    pub deposit_id: DepositId,
    pub state: IdempotencyState,
    /// The first response's resource, replayed as it was.
    pub response: DepositView,
    /// For a refund request: the refund it created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<RefundSnapshot>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// After this the store may forget the key (DynamoDB TTL).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl IdempotencyRecord {
    /// The store's key: keys are scoped per merchant. The merchant id's length prefix
    /// keeps `("m#1", "k")` and `("m", "1#k")` apart.
    pub fn storage_key(merchant: &MerchantId, key: &IdempotencyKey) -> String {
        format!("{}:{}#{}", merchant.0.len(), merchant.0, key.as_str())
    }
}

/// A compare-and-set on one record ([`crate::ports::EventStore::transition_idempotency`]):
/// the merchant's `key` moves from `expected` to `next`, or nothing changes.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyTransition<'a> {
    pub merchant: &'a MerchantId,
    pub key: &'a IdempotencyKey,
    pub expected: &'a IdempotencyState,
    pub next: &'a IdempotencyState,
}

impl IdempotencyTransition<'_> {
    /// The record's [`IdempotencyRecord::storage_key`].
    pub fn storage_key(&self) -> String {
        IdempotencyRecord::storage_key(self.merchant, self.key)
    }
}

/// A refund as its creating request answered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundSnapshot {
    pub refund_id: crate::ids::RefundId,
    pub amount: crate::money::Amount,
}

/// What to do with a request whose key is already claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Same request, finished: answer with the first response.
    Replay(DepositView),
    /// Different request under the same key.
    Mismatch,
    /// Same request, and its first execution is still running.
    InFlight,
    /// Same request, whose first execution stopped before finishing: take it over.
    Abandoned { owner: Uuid },
}

pub fn judge(
    record: &IdempotencyRecord,
    fingerprint: &Fingerprint,
    now: OffsetDateTime,
) -> Verdict {
    if !fingerprint.matches(&record.fingerprint) {
        return Verdict::Mismatch;
    }
    match record.state {
        IdempotencyState::Completed => Verdict::Replay(record.response.clone()),
        IdempotencyState::InFlight { lease_until, .. } if lease_until > now => Verdict::InFlight,
        IdempotencyState::InFlight { owner, .. } => Verdict::Abandoned { owner },
    }
}

/// How long keys live and how long a request may hold one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyPolicy {
    /// How long a key is remembered. Default 48 h (the API promises at least 24 h).
    pub retention: Duration,
    /// How long a request owns its key before a retry may take over. Default 30 s,
    /// longer than a Lambda invocation of the intake can run.
    pub lease: Duration,
}

impl Default for IdempotencyPolicy {
    fn default() -> Self {
        Self {
            retention: Duration::hours(48),
            lease: Duration::seconds(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_present_and_short_and_printable() {
        assert_eq!(
            IdempotencyKey::parse(None),
            Err(IdempotencyKeyError::Missing)
        );
        assert_eq!(
            IdempotencyKey::parse(Some("")),
            Err(IdempotencyKeyError::Invalid)
        );
        assert_eq!(
            IdempotencyKey::parse(Some(&"k".repeat(256))),
            Err(IdempotencyKeyError::Invalid)
        );
        assert_eq!(
            IdempotencyKey::parse(Some("a\nb")),
            Err(IdempotencyKeyError::Invalid)
        );
        assert!(IdempotencyKey::parse(Some(&"k".repeat(255))).is_ok());
    }

    #[test]
    fn fingerprints_differ_by_operation_and_body() {
        let a = Fingerprint::of("create_deposit", b"{}");
        assert_eq!(a, Fingerprint::of("create_deposit", b"{}"));
        assert_ne!(a, Fingerprint::of("create_refund", b"{}"));
        assert_ne!(a, Fingerprint::of("create_deposit", b"{ }"));
    }
}
