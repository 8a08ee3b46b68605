//! Any adapter behind a [`FaultHook`]: what the in-memory adapters do themselves, for the
//! DynamoDB and SQS adapters (and for a view of a port that only some callers get). It
//! asks the hook before each call and tells it the answer, with the same meaning of each
//! [`Fault`] as the in-memory adapters (a conflict on a write other than an append is a
//! failure here). It may also narrow what a shared table lists to one test's share.

use super::{Answer, Call, Fault, FaultHook, Port};
use async_trait::async_trait;
use paygate_domain::deposit::SweepKind;
use paygate_domain::gateways::{
    BreakerPolicy, BreakerState, CallResult, Gateway, GatewayConfig, GatewayStatus,
};
use paygate_domain::idempotency::{IdempotencyKey, IdempotencyRecord, IdempotencyState};
use paygate_domain::ports::{
    AppendBatch, AppendError, DepositMessage, EventStore, ExternalLookup, GatewayRegistry,
    QueueError, QueueSender, StatusChange, StoreError, SweepIndex, Unpublished,
};
use paygate_domain::{DepositId, DepositView, MerchantId, RecordedEvent};
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

    /// Runs `work` as `call`: a failure, conflict or corruption answers `fail(why)`
    /// without working; a lost reply works, then answers `fail(why)`.
    async fn guard<T, E>(
        &self,
        call: Call,
        fail: impl Fn(String) -> E,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let result = match self.hook.on_call(&call).await {
            Fault::None => work.await,
            Fault::Fail(why) => Err(fail(why)),
            Fault::Conflict => Err(fail(format!("{}: injected conflict", call.op))),
            Fault::Corrupt => Err(fail(format!("{}: injected corruption", call.op))),
            Fault::LoseReply(why) => {
                if call.writes {
                    let _ = work.await;
                }
                Err(fail(why))
            }
        };
        self.hook.answered(&call, Answer::of(&result)).await;
        result
    }

    fn keep_deposits<T>(&self, found: Vec<T>, id: impl Fn(&T) -> DepositId) -> Vec<T> {
        match &self.deposits {
            Some(keep) => found.into_iter().filter(|t| keep(&id(t))).collect(),
            None => found,
        }
    }
}

fn store(port: Port, op: &'static str, writes: bool, deposit: Option<DepositId>) -> Call {
    let call = if writes {
        Call::write(port, op)
    } else {
        Call::read(port, op)
    };
    match deposit {
        Some(id) => call.about(id),
        None => call,
    }
}

#[async_trait]
impl<P: EventStore + ?Sized> EventStore for Hooked<P> {
    async fn load(&self, deposit: DepositId) -> Result<Vec<RecordedEvent>, StoreError> {
        let call = store(Port::Store, "load", false, Some(deposit));
        let result = match self.hook.on_call(&call).await {
            Fault::None => self.inner.load(deposit).await,
            Fault::Corrupt => self.inner.load(deposit).await.map(|mut events| {
                if !events.is_empty() {
                    events.remove(0);
                }
                events
            }),
            Fault::Fail(why) | Fault::LoseReply(why) => Err(StoreError(why)),
            Fault::Conflict => Err(StoreError("load: injected conflict".into())),
        };
        self.hook.answered(&call, Answer::of(&result)).await;
        result
    }

    async fn append(&self, batch: AppendBatch) -> Result<(), AppendError> {
        let call = store(Port::Store, "append", true, Some(batch.deposit_id))
            .recording(batch.events.iter().map(|e| e.event.kind()).collect());
        let result = match self.hook.on_call(&call).await {
            Fault::None => self.inner.append(batch).await,
            Fault::Fail(why) => Err(AppendError::Store(StoreError(why))),
            Fault::Corrupt => Err(AppendError::Store(StoreError(
                "append: injected corruption".into(),
            ))),
            Fault::Conflict => Err(AppendError::VersionConflict),
            Fault::LoseReply(why) => {
                let _ = self.inner.append(batch).await;
                Err(AppendError::Ambiguous(StoreError(why)))
            }
        };
        let answer = match &result {
            Ok(()) => Answer::Ok,
            Err(AppendError::VersionConflict) => Answer::Conflict,
            Err(_) => Answer::Failed,
        };
        self.hook.answered(&call, answer).await;
        result
    }

    async fn view(&self, deposit: DepositId) -> Result<Option<DepositView>, StoreError> {
        let call = store(Port::Store, "view", false, Some(deposit));
        self.guard(call, StoreError, self.inner.view(deposit)).await
    }

    async fn find_by_external_id(
        &self,
        gateway: &str,
        external_id: &str,
    ) -> Result<Option<ExternalLookup>, StoreError> {
        let call = store(Port::Store, "find_by_external_id", false, None);
        let work = self.inner.find_by_external_id(gateway, external_id);
        self.guard(call, StoreError, work).await
    }

    async fn idempotency_record(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let call = store(Port::Store, "idempotency_record", false, None);
        let work = self.inner.idempotency_record(merchant, key);
        self.guard(call, StoreError, work).await
    }

    async fn transition_idempotency(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        expected: &IdempotencyState,
        next: &IdempotencyState,
    ) -> Result<bool, StoreError> {
        let call = store(Port::Store, "transition_idempotency", true, None);
        let work = self
            .inner
            .transition_idempotency(merchant, key, expected, next);
        self.guard(call, StoreError, work).await
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
        let call = store(Port::Index, "stale", false, None);
        let found = self
            .guard(call, StoreError, self.inner.stale(kind, before, limit))
            .await?;
        Ok(self.keep_deposits(found, |v| v.id))
    }

    async fn defer(
        &self,
        deposit: DepositId,
        version: u64,
        examined_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let call = store(Port::Index, "defer", true, Some(deposit));
        let work = self.inner.defer(deposit, version, examined_at);
        self.guard(call, StoreError, work).await
    }

    async fn unpublished(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Unpublished>, StoreError> {
        let call = store(Port::Index, "unpublished", false, None);
        let found = self
            .guard(call, StoreError, self.inner.unpublished(before, limit))
            .await?;
        Ok(self.keep_deposits(found, |u| u.deposit_id))
    }

    async fn publish_state(&self, deposit: DepositId) -> Result<Option<Unpublished>, StoreError> {
        let call = store(Port::Index, "publish_state", false, Some(deposit));
        self.guard(call, StoreError, self.inner.publish_state(deposit))
            .await
    }

    async fn mark_published(
        &self,
        deposit: DepositId,
        after: u64,
        up_to: u64,
    ) -> Result<bool, StoreError> {
        let call = store(Port::Index, "mark_published", true, Some(deposit));
        let work = self.inner.mark_published(deposit, after, up_to);
        self.guard(call, StoreError, work).await
    }
}

#[async_trait]
impl<P: GatewayRegistry + ?Sized> GatewayRegistry for Hooked<P> {
    async fn list(&self) -> Result<Vec<Gateway>, StoreError> {
        let call = Call::read(Port::Registry, "list");
        let mut all = self.guard(call, StoreError, self.inner.list()).await?;
        if let Some(keep) = &self.gateways {
            all.retain(|g| keep(g));
        }
        Ok(all)
    }

    async fn record_call(
        &self,
        gateway: &str,
        result: CallResult,
        now: OffsetDateTime,
        policy: &BreakerPolicy,
    ) -> Result<BreakerState, StoreError> {
        let call = Call::write(Port::Registry, "record_call");
        let work = self.inner.record_call(gateway, result, now, policy);
        self.guard(call, StoreError, work).await
    }

    async fn change_status(
        &self,
        gateway: &str,
        change: &(dyn for<'s> Fn(&'s GatewayStatus) -> GatewayStatus + Send + Sync),
    ) -> Result<StatusChange, StoreError> {
        let call = Call::write(Port::Registry, "change_status");
        let work = self.inner.change_status(gateway, change);
        self.guard(call, StoreError, work).await
    }

    async fn upsert_config(&self, config: &GatewayConfig) -> Result<(), StoreError> {
        let call = Call::write(Port::Registry, "upsert_config");
        self.guard(call, StoreError, self.inner.upsert_config(config))
            .await
    }

    async fn change_config(
        &self,
        gateway: &str,
        change: &(dyn for<'c> Fn(&'c GatewayConfig) -> GatewayConfig + Send + Sync),
    ) -> Result<Option<GatewayConfig>, StoreError> {
        let call = Call::write(Port::Registry, "change_config");
        let work = self.inner.change_config(gateway, change);
        self.guard(call, StoreError, work).await
    }
}

#[async_trait]
impl<P: QueueSender + ?Sized> QueueSender for Hooked<P> {
    async fn send(&self, message: &DepositMessage, delay: Duration) -> Result<(), QueueError> {
        let call = Call::write(Port::Queue, "send").about(message.deposit_id);
        self.guard(call, QueueError, self.inner.send(message, delay))
            .await
    }
}
