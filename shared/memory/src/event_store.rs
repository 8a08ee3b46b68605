//! Streams, read models and idempotency records behind one lock, so an append is atomic
//! exactly like the DynamoDB transaction it stands in for. The sweep index is computed
//! from the read models on demand (the DynamoDB adapter keeps two sparse indexes).
//! Every call asks the store's [`FaultHook`] first (see [`crate::faults`]).

use crate::faults::{Call, FaultHook, Hook, Port, guarded, guarded_conditional, guarded_load};
use async_trait::async_trait;
use paygate_domain::deposit::SweepKind;
use paygate_domain::idempotency::{IdempotencyKey, IdempotencyRecord, IdempotencyTransition};
use paygate_domain::ledger::{LedgerEntry, LedgerHead};
use paygate_domain::ports::{
    AppendBatch, AppendError, EventStore, ExternalLookup, StoreError, SweepIndex, Unpublished,
};
use paygate_domain::{DepositId, DepositView, MerchantId, RecordedEvent};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

#[derive(Default)]
pub(crate) struct Tables {
    streams: HashMap<DepositId, Vec<RecordedEvent>>,
    views: HashMap<DepositId, DepositView>,
    /// Per deposit, the version up to which its events are published (0: none yet).
    published: HashMap<DepositId, u64>,
    /// Per deposit, the versions of the last two appends' last bus events (0: none):
    /// `(before the last, the last)`.
    bus: HashMap<DepositId, (u64, u64)>,
    /// The deposits with bus events not yet published (the outbox index).
    pending: HashSet<DepositId>,
    idempotency: HashMap<String, IdempotencyRecord>,
    lookups: HashMap<String, ExternalLookup>,
    /// Per deposit, when the sweeper last looked at it and left it; an append makes it
    /// count from the view's `updated_at` again.
    examined: HashMap<DepositId, OffsetDateTime>,
    /// Per merchant: its ledger head and entries (oldest first).
    pub(crate) ledgers: HashMap<MerchantId, (LedgerHead, Vec<LedgerEntry>)>,
}

impl Tables {
    pub(crate) fn views(&self) -> impl Iterator<Item = &DepositView> {
        self.views.values()
    }

    pub(crate) fn view(&self, deposit: &DepositId) -> Option<&DepositView> {
        self.views.get(deposit)
    }
}

/// A copy of everything a [`MemoryEventStore`] holds.
#[derive(Debug, Clone, Default)]
pub struct StoreSnapshot {
    pub streams: HashMap<DepositId, Vec<RecordedEvent>>,
    pub views: HashMap<DepositId, DepositView>,
    /// Per deposit, the version up to which its events are published.
    pub published: HashMap<DepositId, u64>,
    /// The deposits with bus events not yet published.
    pub unpublished: HashSet<DepositId>,
    pub idempotency: Vec<IdempotencyRecord>,
    pub lookups: Vec<ExternalLookup>,
    /// Per merchant: its ledger head and entries, oldest first.
    pub ledgers: HashMap<MerchantId, (LedgerHead, Vec<LedgerEntry>)>,
}

#[derive(Default)]
pub struct MemoryEventStore {
    tables: Mutex<Tables>,
    faults: Hook,
}

impl MemoryEventStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose every call first asks `faults` what to do.
    pub fn with_faults(faults: Arc<dyn FaultHook>) -> Self {
        Self {
            tables: Mutex::default(),
            faults: faults.into(),
        }
    }

    /// A read under the store's hook (every fault fails it: only a stream load has data
    /// to damage, see [`EventStore::load`]).
    pub(crate) async fn read<T>(
        &self,
        call: Call,
        read: impl FnOnce(&Tables) -> T,
    ) -> Result<T, StoreError> {
        guarded(&*self.faults, call, async { Ok(read(&self.tables())) }).await
    }

    /// A conditional write other than an append: `lost_race` is what losing its
    /// condition answers.
    async fn write<T>(
        &self,
        call: Call,
        lost_race: T,
        write: impl FnOnce(&mut Tables) -> T,
    ) -> Result<T, StoreError> {
        let work = async { Ok(write(&mut self.tables())) };
        guarded_conditional(&*self.faults, call, lost_race, work).await
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave a half-applied append (all checks
        // happen before any write), so the data is still consistent.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Number of idempotency records, for tests proving a bad request wrote nothing.
    pub fn idempotency_count(&self) -> usize {
        self.tables().idempotency.len()
    }

    /// Number of streams, for tests proving a bad request wrote nothing.
    pub fn stream_count(&self) -> usize {
        self.tables().streams.len()
    }

    /// Everything stored, at once (for checks over the whole store: invariants, audits).
    pub fn snapshot(&self) -> StoreSnapshot {
        let tables = self.tables();
        StoreSnapshot {
            streams: tables.streams.clone(),
            views: tables.views.clone(),
            published: tables.published.clone(),
            unpublished: tables.pending.clone(),
            idempotency: tables.idempotency.values().cloned().collect(),
            lookups: tables.lookups.values().cloned().collect(),
            ledgers: tables.ledgers.clone(),
        }
    }
}

#[async_trait]
impl EventStore for MemoryEventStore {
    async fn load(&self, deposit: DepositId) -> Result<Vec<RecordedEvent>, StoreError> {
        let stream = async {
            Ok(self
                .tables()
                .streams
                .get(&deposit)
                .cloned()
                .unwrap_or_default())
        };
        guarded_load(&*self.faults, deposit, stream).await
    }

    async fn append(&self, batch: AppendBatch) -> Result<(), AppendError> {
        let call = Call::append(&batch);
        guarded(&*self.faults, call, async { self.tables().append(batch) }).await
    }

    async fn view(&self, deposit: DepositId) -> Result<Option<DepositView>, StoreError> {
        self.read(Call::read(Port::Store, "view").about(deposit), |tables| {
            tables.views.get(&deposit).cloned()
        })
        .await
    }

    async fn find_by_external_id(
        &self,
        gateway: &str,
        external_id: &str,
    ) -> Result<Option<ExternalLookup>, StoreError> {
        let key = ExternalLookup::storage_key(gateway, external_id);
        self.read(Call::read(Port::Store, "find_by_external_id"), |tables| {
            tables.lookups.get(&key).cloned()
        })
        .await
    }

    async fn idempotency_record(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let storage_key = IdempotencyRecord::storage_key(merchant, key);
        self.read(Call::read(Port::Store, "idempotency_record"), |tables| {
            tables.idempotency.get(&storage_key).cloned()
        })
        .await
    }

    async fn transition_idempotency(
        &self,
        transition: IdempotencyTransition<'_>,
    ) -> Result<bool, StoreError> {
        let storage_key = transition.storage_key();
        self.write(
            Call::write(Port::Store, "transition_idempotency"),
            false,
            |tables| match tables.idempotency.get_mut(&storage_key) {
                Some(record) if &record.state == transition.expected => {
                    record.state = transition.next.clone();
                    true
                }
                _ => false,
            },
        )
        .await
    }
}

impl Tables {
    /// The transaction: every check first, then every write, so a refused append
    /// changes nothing.
    fn append(&mut self, batch: AppendBatch) -> Result<(), AppendError> {
        let tables = self;
        let current = tables
            .streams
            .get(&batch.deposit_id)
            .map_or(0, |s| s.len() as u64);
        let versions_follow = batch.events.iter().enumerate().all(|(i, e)| {
            e.version == batch.expected_version + 1 + i as u64 && e.deposit_id == batch.deposit_id
        });
        if current != batch.expected_version || !versions_follow {
            return Err(AppendError::VersionConflict);
        }
        let claim_key = batch
            .idempotency
            .as_ref()
            .map(|r| IdempotencyRecord::storage_key(&r.merchant_id, &r.key));
        if let Some(key) = &claim_key
            && tables.idempotency.contains_key(key)
        {
            return Err(AppendError::IdempotencyKeyTaken);
        }
        for lookup in &batch.lookups {
            let key = ExternalLookup::storage_key(&lookup.gateway, &lookup.external_id);
            if tables
                .lookups
                .get(&key)
                .is_some_and(|l| l.deposit_id != lookup.deposit_id)
            {
                return Err(StoreError(format!(
                    "external id {key} already belongs to another deposit"
                ))
                .into());
            }
        }
        let merchant = &batch.view.merchant_id;
        let posted = if batch.ledger.is_empty() {
            None
        } else {
            let head = tables.ledgers.get(merchant).map_or_else(
                || LedgerHead::empty(merchant.clone()),
                |(head, _)| head.clone(),
            );
            Some(head.post(&batch.ledger)?)
        };
        if let Some((head, entries)) = posted {
            let ledger = tables
                .ledgers
                .entry(merchant.clone())
                .or_insert_with(|| (LedgerHead::empty(merchant.clone()), Vec::new()));
            ledger.0 = head;
            ledger.1.extend(entries);
        }
        for lookup in batch.lookups {
            let key = ExternalLookup::storage_key(&lookup.gateway, &lookup.external_id);
            tables.lookups.insert(key, lookup);
        }
        tables
            .streams
            .entry(batch.deposit_id)
            .or_default()
            .extend(batch.events);
        tables.published.entry(batch.deposit_id).or_insert(0);
        if let Some(outbox) = &batch.outbox {
            let marks = tables.bus.entry(batch.deposit_id).or_default();
            *marks = (marks.1, outbox.version);
            tables.pending.insert(batch.deposit_id);
        }
        tables.views.insert(batch.deposit_id, batch.view);
        tables.examined.remove(&batch.deposit_id);
        if let (Some(key), Some(record)) = (claim_key, batch.idempotency) {
            tables.idempotency.insert(key, record);
        }
        Ok(())
    }
}

impl Tables {
    fn publish_state(&self, deposit: DepositId) -> Option<Unpublished> {
        self.views.get(&deposit).map(|view| Unpublished {
            deposit_id: deposit,
            published_version: self.published.get(&deposit).copied().unwrap_or(0),
            version: view.version,
        })
    }
}

/// Oldest first, like the DynamoDB indexes (ties broken by id, so the order is stable).
fn oldest_first<T>(mut found: Vec<(OffsetDateTime, DepositId, T)>, limit: usize) -> Vec<T> {
    found.sort_by_key(|(at, id, _)| (*at, *id));
    found.into_iter().take(limit).map(|(_, _, t)| t).collect()
}

#[async_trait]
impl SweepIndex for MemoryEventStore {
    async fn stale(
        &self,
        kind: SweepKind,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<DepositView>, StoreError> {
        self.read(Call::read(Port::Index, "stale"), |tables| {
            let found = tables
                .views
                .values()
                .filter(|v| v.sweep_kind() == Some(kind))
                .map(|v| {
                    let waiting_since = tables.examined.get(&v.id).copied().unwrap_or(v.updated_at);
                    (waiting_since, v.id, v.clone())
                })
                .filter(|(waiting_since, _, _)| *waiting_since < before)
                .collect();
            oldest_first(found, limit)
        })
        .await
    }

    async fn defer(
        &self,
        deposit: DepositId,
        version: u64,
        examined_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.write(
            Call::write(Port::Index, "defer").about(deposit),
            (),
            |tables| {
                let indexed = tables
                    .views
                    .get(&deposit)
                    .is_some_and(|v| v.version == version && v.sweep_kind().is_some());
                if indexed {
                    tables.examined.insert(deposit, examined_at);
                }
            },
        )
        .await
    }

    async fn unpublished(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Unpublished>, StoreError> {
        self.read(Call::read(Port::Index, "unpublished"), |tables| {
            let found = tables
                .views
                .values()
                .filter(|v| v.updated_at < before)
                .filter(|v| tables.pending.contains(&v.id))
                .filter_map(|v| Some((v.updated_at, v.id, tables.publish_state(v.id)?)))
                .collect();
            oldest_first(found, limit)
        })
        .await
    }

    async fn publish_state(&self, deposit: DepositId) -> Result<Option<Unpublished>, StoreError> {
        self.read(
            Call::read(Port::Index, "publish_state").about(deposit),
            |tables| tables.publish_state(deposit),
        )
        .await
    }

    async fn mark_published(
        &self,
        deposit: DepositId,
        after: u64,
        up_to: u64,
    ) -> Result<bool, StoreError> {
        self.write(
            Call::write(Port::Index, "mark_published").about(deposit),
            false,
            |tables| {
                let Some(state) = tables.publish_state(deposit) else {
                    return false;
                };
                let moves =
                    (after..up_to).contains(&state.published_version) && up_to <= state.version;
                if moves {
                    tables.published.insert(deposit, up_to);
                    if up_to == state.version {
                        tables.pending.remove(&deposit);
                    }
                }
                moves
            },
        )
        .await
    }

    async fn mark_outbox_published(
        &self,
        deposit: DepositId,
        bus_version: u64,
    ) -> Result<bool, StoreError> {
        self.write(
            Call::write(Port::Index, "mark_outbox_published").about(deposit),
            false,
            |tables| {
                let (Some(&(before, last)), Some(&published)) =
                    (tables.bus.get(&deposit), tables.published.get(&deposit))
                else {
                    return false;
                };
                let moves = last == bus_version && published >= before && published < bus_version;
                if moves {
                    tables.published.insert(deposit, bus_version);
                    tables.pending.remove(&deposit);
                }
                moves
            },
        )
        .await
    }
}
