//! Any adapter behind a [`FaultHook`]: what the in-memory adapters do themselves, for the
//! DynamoDB and SQS adapters (and for a view of a port that only some callers get). It
//! asks the hook before each call and tells it the answer, with the same meaning of each
//! [`Fault`] as the in-memory adapters (a conflict on a write other than an append is a
//! failure here). It may also narrow what a shared table lists to one test's share.

use super::{Call, FaultHook, Port};
use async_trait::async_trait;
use paygate_domain::deposit::{DepositStatus, Direction, SweepKind};
use paygate_domain::gateways::{Gateway, GatewayConfig, GatewayStatus};
use paygate_domain::idempotency::{IdempotencyKey, IdempotencyRecord, IdempotencyTransition};
use paygate_domain::ledger::{LedgerEntry, LedgerHead, Movement};
use paygate_domain::page::{Page, PageRequest};
use paygate_domain::ports::{
    AppendBatch, AppendError, DepositList, DepositMessage, EntryFilter, EventStore, ExternalLookup,
    GatewayRegistry, Ledger, QueueError, QueueSender, StatusChange, StoreError, SweepIndex,
    Unpublished,
};
use paygate_domain::{DepositId, DepositView, MerchantId, RecordedEvent};
use paygate_memory::faults::{Refusal, guarded, guarded_load};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

type Keep<T> = Arc<dyn Fn(&T) -> bool + Send + Sync>;

/// `inner` behind `hook`.
pub struct Hooked<P: ?Sized> {
    inner: Arc<P>,
    hook: Arc<dyn FaultHook>,
    gateways: Option<Keep<Gateway>>,
    deposits: Option<Keep<DepositId>>,
}

impl<P: ?Sized> Hooked<P> {
    pub fn new(inner: Arc<P>, hook: Arc<dyn FaultHook>) -> Self {
        Self {
            inner,
            hook,
            gateways: None,
            deposits: None,
        }
    }

    /// The registry lists only the gateways `keep` accepts (a test's own, on a shared
    /// table); every other call goes through unchanged.
    pub fn listing_gateways(
        mut self,
        keep: impl Fn(&Gateway) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.gateways = Some(Arc::new(keep));
        self
    }

    /// The sweep index finds only the deposits `keep` accepts (a test's own, on a shared
    /// table); every other call goes through unchanged.
    pub fn listing_deposits(
        mut self,
        keep: impl Fn(&DepositId) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.deposits = Some(Arc::new(keep));
        self
    }

    /// Runs `work` as `call` under the hook, as the in-memory adapters run theirs.
    async fn guard<T, E: Refusal>(
        &self,
        call: Call,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        guarded(self.hook.as_ref(), call, work).await
    }

    fn keep_deposits<T>(&self, found: Vec<T>, id: impl Fn(&T) -> DepositId) -> Vec<T> {
        match &self.deposits {
            Some(keep) => found.into_iter().filter(|t| keep(&id(t))).collect(),
            None => found,
        }
    }
}

#[async_trait]
impl<P: EventStore + ?Sized> EventStore for Hooked<P> {
    async fn load(&self, deposit: DepositId) -> Result<Vec<RecordedEvent>, StoreError> {
        guarded_load(self.hook.as_ref(), deposit, self.inner.load(deposit)).await
    }

    async fn append(&self, batch: AppendBatch) -> Result<(), AppendError> {
        let call = Call::append(&batch);
        self.guard(call, self.inner.append(batch)).await
    }

    async fn view(&self, deposit: DepositId) -> Result<Option<DepositView>, StoreError> {
        let call = Call::read(Port::Store, "view").about(deposit);
        self.guard(call, self.inner.view(deposit)).await
    }

    async fn find_by_external_id(
        &self,
        gateway: &str,
        external_id: &str,
    ) -> Result<Option<ExternalLookup>, StoreError> {
        let call = Call::read(Port::Store, "find_by_external_id");
        let work = self.inner.find_by_external_id(gateway, external_id);
        self.guard(call, work).await
    }

    async fn idempotency_record(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let call = Call::read(Port::Store, "idempotency_record");
        let work = self.inner.idempotency_record(merchant, key);
        self.guard(call, work).await
    }

    async fn transition_idempotency(
        &self,
        transition: IdempotencyTransition<'_>,
    ) -> Result<bool, StoreError> {
        let call = Call::write(Port::Store, "transition_idempotency");
        let work = self.inner.transition_idempotency(transition);
        self.guard(call, work).await
    }
}

// The same operation names as the in-memory store's, so one rule targets both.
#[async_trait]
impl<P: Ledger + ?Sized> Ledger for Hooked<P> {
    async fn head(&self, merchant: &MerchantId) -> Result<LedgerHead, StoreError> {
        let call = Call::read(Port::Store, "ledger_head");
        self.guard(call, self.inner.head(merchant)).await
    }

    async fn deferred(&self, merchant: &MerchantId) -> Result<Vec<Movement>, StoreError> {
        let call = Call::read(Port::Store, "ledger_deferred");
        self.guard(call, self.inner.deferred(merchant)).await
    }

    async fn entries(
        &self,
        merchant: &MerchantId,
        filter: EntryFilter,
        page: &PageRequest<u64>,
    ) -> Result<Page<LedgerEntry>, StoreError> {
        let call = Call::read(Port::Store, "ledger_entries");
        self.guard(call, self.inner.entries(merchant, filter, page))
            .await
    }
}

#[async_trait]
impl<P: DepositList + ?Sized> DepositList for Hooked<P> {
    async fn deposits(
        &self,
        merchant: &MerchantId,
        direction: Direction,
        status: Option<DepositStatus>,
        page: &PageRequest<DepositId>,
    ) -> Result<Option<Page<DepositView>>, StoreError> {
        let call = Call::read(Port::Index, "deposits");
        self.guard(call, self.inner.deposits(merchant, direction, status, page))
            .await
    }
}

#[async_trait]
impl<P: SweepIndex + ?Sized> SweepIndex for Hooked<P> {
    async fn stale(
        &self,
        kind: SweepKind,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<DepositView>, StoreError> {
        let call = Call::read(Port::Index, "stale");
        let found = self
            .guard(call, self.inner.stale(kind, before, limit))
            .await?;
        Ok(self.keep_deposits(found, |v| v.id))
    }

    async fn defer(
        &self,
        deposit: DepositId,
        version: u64,
        examined_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let call = Call::write(Port::Index, "defer").about(deposit);
        let work = self.inner.defer(deposit, version, examined_at);
        self.guard(call, work).await
    }

    async fn unpublished(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Unpublished>, StoreError> {
        let call = Call::read(Port::Index, "unpublished");
        let found = self
            .guard(call, self.inner.unpublished(before, limit))
            .await?;
        Ok(self.keep_deposits(found, |u| u.deposit_id))
    }

    async fn publish_state(&self, deposit: DepositId) -> Result<Option<Unpublished>, StoreError> {
        let call = Call::read(Port::Index, "publish_state").about(deposit);
        self.guard(call, self.inner.publish_state(deposit)).await
    }

    async fn mark_published(
        &self,
        deposit: DepositId,
        after: u64,
        up_to: u64,
    ) -> Result<bool, StoreError> {
        let call = Call::write(Port::Index, "mark_published").about(deposit);
        let work = self.inner.mark_published(deposit, after, up_to);
        self.guard(call, work).await
    }

    async fn mark_outbox_published(
        &self,
        deposit: DepositId,
        bus_version: u64,
    ) -> Result<bool, StoreError> {
        let call = Call::write(Port::Index, "mark_outbox_published").about(deposit);
        let work = self.inner.mark_outbox_published(deposit, bus_version);
        self.guard(call, work).await
    }
}

#[async_trait]
impl<P: GatewayRegistry + ?Sized> GatewayRegistry for Hooked<P> {
    async fn list(&self) -> Result<Vec<Gateway>, StoreError> {
        let call = Call::read(Port::Registry, "list");
        let mut all = self.guard(call, self.inner.list()).await?;
        if let Some(keep) = &self.gateways {
            all.retain(|g| keep(g));
        }
        Ok(all)
    }

    async fn change_status(
        &self,
        gateway: &str,
        change: &(dyn for<'s> Fn(&'s GatewayStatus) -> GatewayStatus + Send + Sync),
    ) -> Result<StatusChange, StoreError> {
        let call = Call::write(Port::Registry, "change_status");
        let work = self.inner.change_status(gateway, change);
        self.guard(call, work).await
    }

    async fn upsert_config(&self, config: &GatewayConfig) -> Result<(), StoreError> {
        let call = Call::write(Port::Registry, "upsert_config");
        self.guard(call, self.inner.upsert_config(config)).await
    }

    async fn change_config(
        &self,
        gateway: &str,
        change: &(dyn for<'c> Fn(&'c GatewayConfig) -> GatewayConfig + Send + Sync),
    ) -> Result<Option<GatewayConfig>, StoreError> {
        let call = Call::write(Port::Registry, "change_config");
        let work = self.inner.change_config(gateway, change);
        self.guard(call, work).await
    }
}

#[async_trait]
impl<P: QueueSender + ?Sized> QueueSender for Hooked<P> {
    async fn send(&self, message: &DepositMessage, delay: Duration) -> Result<(), QueueError> {
        let call = Call::write(Port::Queue, "send").about(message.deposit_id);
        self.guard(call, self.inner.send(message, delay)).await
    }
}
