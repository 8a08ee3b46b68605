//! The ports: what the domain needs from the outside world. Each has a real AWS adapter
//! and an in-memory adapter, and both pass the same contract suite.

pub mod gateway;

use crate::deposit::{DepositStatus, Direction};
use crate::deposit::{DepositView, RecordedEvent};
use crate::gateways::{
    BreakerPolicy, BreakerState, CallResult, Gateway, GatewayConfig, GatewayStatus,
};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord, IdempotencyTransition};
use crate::ids::{CorrelationId, DepositId, MerchantId};
use crate::ledger::{BalanceInsufficient, LedgerEntry, LedgerHead, Movement};
use crate::page::{Page, PageRequest};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// The storage backend failed or is unreachable. Carries context for logs only.
#[derive(Debug, Clone, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended to the stream first: reload and decide again.
    #[error("stream version conflict")]
    VersionConflict,
    /// The idempotency key in this append is already claimed.
    #[error("idempotency key already claimed")]
    IdempotencyKeyTaken,
    /// The batch's ledger movements would overdraw one of the merchant's accounts.
    #[error(transparent)]
    BalanceInsufficient(#[from] BalanceInsufficient),
    /// Nothing was written (the store refused or could not be reached).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The append may or may not have committed: its answer was lost (a timeout after
    /// sending, a connection reset, a server error). Read again before deciding.
    #[error("the append's outcome is unknown: {0}")]
    Ambiguous(StoreError),
}

/// Everything one command writes, committed all-or-nothing.
#[derive(Debug, Clone)]
pub struct AppendBatch {
    pub deposit_id: DepositId,
    /// The stream's version the command decided on; the new events follow it.
    pub expected_version: u64,
    pub events: Vec<RecordedEvent>,
    /// The read model after the events.
    pub view: DepositView,
    /// Claimed only if no record with the same key exists.
    pub idempotency: Option<IdempotencyRecord>,
    /// Gateway payment ids → this deposit, for webhooks. Written only if new.
    pub lookups: Vec<ExternalLookup>,
    /// What the events move in the merchant's ledger ([`crate::ledger::movement`]): the
    /// store posts them through the merchant's [`LedgerHead`] in the same write, or
    /// writes nothing ([`AppendError::BalanceInsufficient`]).
    pub ledger: Vec<Movement>,
    /// The events that go on the bus, if any do: the store puts the deposit in the
    /// unpublished index in the same write (and an append without any leaves it as it is).
    pub outbox: Option<Outbox>,
}

/// What an append puts on the bus: published right after it commits
/// ([`SweepIndex::mark_outbox_published`]), or later by the sweeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbox {
    /// The version of the append's last event that goes on the bus.
    pub version: u64,
    pub events: Vec<BusEvent>,
}

/// Finds the deposit a gateway's payment id belongs to (webhooks carry only that id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalLookup {
    pub gateway: String,
    pub external_id: String,
    pub deposit_id: DepositId,
    pub merchant_id: MerchantId,
}

impl ExternalLookup {
    /// The store's key: external ids are only unique per gateway.
    pub fn storage_key(gateway: &str, external_id: &str) -> String {
        format!("{}:{}#{}", gateway.len(), gateway, external_id)
    }
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// The whole stream, oldest first, read consistently.
    async fn load(&self, deposit: DepositId) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Appends events at `expected_version + 1 ..`, writes the view and claims the
    /// idempotency key, atomically.
    async fn append(&self, batch: AppendBatch) -> Result<(), AppendError>;

    /// The read model, or `None` if no such deposit.
    async fn view(&self, deposit: DepositId) -> Result<Option<DepositView>, StoreError>;

    /// The deposit a gateway's payment id was recorded for.
    async fn find_by_external_id(
        &self,
        gateway: &str,
        external_id: &str,
    ) -> Result<Option<ExternalLookup>, StoreError>;

    async fn idempotency_record(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Moves a record from `expected` to `next`; `Ok(false)` if it was not in `expected`
    /// (someone else moved it first).
    async fn transition_idempotency(
        &self,
        transition: IdempotencyTransition<'_>,
    ) -> Result<bool, StoreError>;
}

/// The merchants' ledgers, read. They are written only by [`EventStore::append`].
#[async_trait]
pub trait Ledger: Send + Sync {
    /// The merchant's balances and entry count (empty if nothing was ever posted), read
    /// consistently.
    async fn head(&self, merchant: &MerchantId) -> Result<LedgerHead, StoreError>;

    /// Movements the store accepted with their events but has not numbered yet: captures
    /// written while other appends held the merchant's head (each
    /// [`Movement::never_overdraws`]). The next append that posts for the merchant numbers
    /// them first; until then they count in the balance ([`LedgerHead::balances_with`]).
    async fn deferred(&self, merchant: &MerchantId) -> Result<Vec<Movement>, StoreError>;

    /// The merchant's entries, newest first, by sequence number; with
    /// [`EntryFilter::Balance`] only those that change `available` (the merchant's
    /// balance transactions).
    async fn entries(
        &self,
        merchant: &MerchantId,
        filter: EntryFilter,
        page: &PageRequest<u64>,
    ) -> Result<Page<LedgerEntry>, StoreError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryFilter {
    All,
    /// Entries whose amount in `available` is not zero.
    Balance,
}

impl EntryFilter {
    pub fn admits(self, entry: &LedgerEntry) -> bool {
        self == Self::All || entry.amount() != 0
    }
}

/// A merchant's deposits or payouts, listed from an index scoped to the merchant (never
/// a scan).
#[async_trait]
pub trait DepositList: Send + Sync {
    /// Those going `direction`, newest first (by creation, then id), optionally only
    /// those in `status`. The cursor is one of the merchant's, going the same way;
    /// `Ok(None)` if it is not (unknown, another merchant's, or the other direction's).
    async fn deposits(
        &self,
        merchant: &MerchantId,
        direction: Direction,
        status: Option<DepositStatus>,
        page: &PageRequest<DepositId>,
    ) -> Result<Option<Page<DepositView>>, StoreError>;
}

/// Finds the deposits the sweeper must look at, from sparse indexes on the read model
/// (never a table scan): those not final yet or with refunds in flight, and those with
/// unpublished events.
#[async_trait]
pub trait SweepIndex: Send + Sync {
    /// Deposits of `kind` ([`DepositView::sweep_kind`]) last changed, or last
    /// [deferred](Self::defer), before `before`; the longest-waiting first, at most `limit`.
    async fn stale(
        &self,
        kind: crate::deposit::SweepKind,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<DepositView>, StoreError>;

    /// Records that the sweeper looked at the deposit at `examined_at` and left it as it
    /// was (a message re-sent, a gateway that could not answer yet): `stale` then counts
    /// its wait from `examined_at`, so deposits nobody has looked at come first and one
    /// that cannot be settled never hides the others. Nothing happens if the deposit
    /// changed since `version` (the change already counts) or is no longer indexed.
    async fn defer(
        &self,
        deposit: DepositId,
        version: u64,
        examined_at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Deposits with bus events not yet published (appended with an [`Outbox`] and not
    /// marked since), changed before `before`, oldest first, at most `limit`.
    async fn unpublished(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Unpublished>, StoreError>;

    /// The deposit's published mark and latest version (one consistent read), or `None`
    /// for an unknown deposit.
    async fn publish_state(&self, deposit: DepositId) -> Result<Option<Unpublished>, StoreError>;

    /// Records that the deposit's events `(after, up_to]` are published: moves the mark to
    /// `up_to` only if it is already at `after` or beyond (so a gap left by an earlier
    /// failed publish is never skipped) and never moves it backwards. The deposit leaves
    /// the unpublished index once the mark reaches its latest version. Returns whether
    /// the mark moved.
    async fn mark_published(
        &self,
        deposit: DepositId,
        after: u64,
        up_to: u64,
    ) -> Result<bool, StoreError>;

    /// Records that the bus events of the append whose [`Outbox`] ends at `bus_version`
    /// are published, with one conditional write: moves the mark to `bus_version` and
    /// takes the deposit out of the unpublished index, only if no later append brought
    /// bus events and every earlier append's were published. Returns whether it did;
    /// when not, [`flush`](crate::service::publish::flush) publishes what is pending.
    async fn mark_outbox_published(
        &self,
        deposit: DepositId,
        bus_version: u64,
    ) -> Result<bool, StoreError>;
}

/// A deposit whose events after `published_version` still have to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpublished {
    pub deposit_id: DepositId,
    pub published_version: u64,
    pub version: u64,
}

/// A domain event as it goes on the event bus (EventBridge: `source` `paygate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusEvent {
    /// `DepositSucceeded`, `DepositFailed`, `RefundSucceeded`, `GatewayHealthChanged`, …
    pub detail_type: String,
    /// JSON; always carries `event_id` so consumers can deduplicate.
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("event bus unavailable: {0}")]
pub struct PublishError(pub String);

#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes all of `events` or fails (a partial failure is a failure: the caller
    /// publishes again later, and consumers deduplicate on `event_id`).
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError>;
}

/// The message that asks the gateway processor to work on a deposit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositMessage {
    pub deposit_id: DepositId,
    pub merchant_id: MerchantId,
    pub correlation_id: CorrelationId,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("queue unavailable: {0}")]
pub struct QueueError(pub String);

#[async_trait]
pub trait QueueSender: Send + Sync {
    async fn send(&self, message: &DepositMessage, delay: Duration) -> Result<(), QueueError>;
}

/// Delays the next delivery of a received message (SQS: its visibility timeout), which
/// is how a message asks to be retried later with backoff.
#[async_trait]
pub trait RedeliveryScheduler: Send + Sync {
    async fn redeliver_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError>;
}

/// The gateway registry: configuration seeded from a file, health and breaker state
/// learnt at run time and shared by every instance.
#[async_trait]
pub trait GatewayRegistry: Send + Sync {
    async fn list(&self) -> Result<Vec<Gateway>, StoreError>;

    /// Records how a call went, moving the breaker atomically; returns the new state.
    /// A breaker move is a status change like any other, so every adapter makes it one.
    async fn record_call(
        &self,
        gateway: &str,
        result: CallResult,
        now: OffsetDateTime,
        policy: &BreakerPolicy,
    ) -> Result<BreakerState, StoreError> {
        let moved = |status: &GatewayStatus| GatewayStatus {
            breaker: status.breaker.after(result, now, policy),
            ..status.clone()
        };
        Ok(self.change_status(gateway, &moved).await?.after.breaker)
    }

    /// Changes a gateway's learnt status atomically (`change` may run more than once if
    /// another writer got there first); returns the status the stored change started
    /// from and the result, so two callers racing report each transition once.
    async fn change_status(
        &self,
        gateway: &str,
        change: &(dyn for<'s> Fn(&'s GatewayStatus) -> GatewayStatus + Send + Sync),
    ) -> Result<StatusChange, StoreError>;

    /// Creates or replaces a gateway's configuration, keeping its learnt status.
    async fn upsert_config(&self, config: &GatewayConfig) -> Result<(), StoreError>;

    /// Changes an existing gateway's configuration atomically with respect to every other
    /// writer (`change` may run more than once if another got there first), so an
    /// operator's `disable` cannot undo a concurrent `put`. Returns the stored result;
    /// `None` (and nothing written) for an unknown gateway.
    async fn change_config(
        &self,
        gateway: &str,
        change: &(dyn for<'c> Fn(&'c GatewayConfig) -> GatewayConfig + Send + Sync),
    ) -> Result<Option<GatewayConfig>, StoreError>;
}

/// A gateway status before and after one atomic change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub before: GatewayStatus,
    pub after: GatewayStatus,
}

/// Builds (and caches) the connector for a gateway from its wire format.
pub trait ConnectorDirectory: Send + Sync {
    fn connector(&self, gateway: &GatewayConfig) -> std::sync::Arc<dyn gateway::GatewayConnector>;
}

/// A merchant's API key. Never printed; only its hash is stored or compared.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl ApiKey {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// SHA-256 is enough here: keys are long random strings, not passwords.
    pub fn hash(&self) -> ApiKeyHash {
        ApiKeyHash(hex::encode(Sha256::digest(
            self.0.expose_secret().as_bytes(),
        )))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiKeyHash(pub String);

#[async_trait]
pub trait MerchantDirectory: Send + Sync {
    async fn merchant_for(&self, key: &ApiKeyHash) -> Result<Option<MerchantId>, StoreError>;
}

/// Time, and waiting: services never sleep any other way, so a simulated clock decides
/// every wait in tests and in the lifecycle simulation.
#[async_trait]
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
    async fn sleep(&self, duration: Duration);
}

pub trait IdGenerator: Send + Sync {
    fn new_uuid(&self) -> Uuid;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Time-ordered random ids (UUID v7), so ids sort roughly by creation.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn new_uuid(&self) -> Uuid {
        Uuid::now_v7()
    }
}
