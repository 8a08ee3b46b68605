//! Domain events on the bus (EventBridge, `source` = `paygate`), at least once.
//!
//! Publishing never blocks or undoes a state change: the change is committed first, and
//! the read model remembers up to which version its events are published. Right after a
//! change the function that made it publishes what is new ([`flush`]); if that fails, the
//! sweeper finds the deposit in the unpublished index and publishes it later. Every
//! event's `detail.event_id` is the stored event's id, so consumers deduplicate.

use crate::DepositId;
use crate::deposit::{Deposit, DepositEvent, Direction, FailureReason, RecordedEvent};
use crate::ids::EventId;
use crate::ports::{
    BusEvent, EventPublisher, EventStore, Outbox, PublishError, StoreError, SweepIndex,
};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

pub const SOURCE: &str = "paygate";

#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("stored stream is unreadable: {0}")]
    Corrupt(String),
}

pub struct PublishPorts<'a> {
    pub store: &'a dyn EventStore,
    pub index: &'a dyn SweepIndex,
    pub publisher: &'a dyn EventPublisher,
}

/// Publishes the deposit's events after its published mark, then moves the mark.
/// Returns how many bus events were sent.
pub async fn flush(ports: &PublishPorts<'_>, deposit_id: DepositId) -> Result<usize, FlushError> {
    let Some(state) = ports.index.publish_state(deposit_id).await? else {
        return Ok(0);
    };
    if state.published_version >= state.version {
        return Ok(0);
    }
    let stream = ports.store.load(deposit_id).await?;
    let deposit = Deposit::replay(&stream).map_err(|e| FlushError::Corrupt(e.to_string()))?;
    let fresh: Vec<&RecordedEvent> = stream
        .iter()
        .filter(|e| e.version > state.published_version)
        .collect();
    let events: Vec<BusEvent> = fresh
        .iter()
        .filter_map(|e| bus_event(&deposit, e))
        .collect();
    if !events.is_empty() {
        ports.publisher.publish(&events).await?;
    }
    ports
        .index
        .mark_published(deposit_id, state.published_version, deposit.version)
        .await?;
    Ok(events.len())
}

/// [`flush`] for callers that must not fail because of the bus: logs and moves on (the
/// sweeper retries).
pub async fn flush_best_effort(ports: &PublishPorts<'_>, deposit_id: DepositId) {
    if let Err(error) = flush(ports, deposit_id).await {
        tracing::warn!(%deposit_id, %error, "domain events not published yet; the sweeper will retry");
    }
}

/// What `events`, just decided and leading to `deposit`, put on the bus; `None` when
/// none of them goes there.
pub fn outbox(deposit: &Deposit, events: &[RecordedEvent]) -> Option<Outbox> {
    let mut version = None;
    let events = events
        .iter()
        .filter_map(|recorded| {
            let event = bus_event(deposit, recorded)?;
            version = Some(recorded.version);
            Some(event)
        })
        .collect();
    version.map(|version| Outbox { version, events })
}

/// The bus event for a stored event, if it is one consumers are told about.
pub fn bus_event(deposit: &Deposit, recorded: &RecordedEvent) -> Option<BusEvent> {
    let direction = deposit.request.direction;
    let id_field = match direction {
        Direction::Deposit => "deposit_id",
        Direction::Payout => "payout_id",
    };
    let base = |detail: Value| {
        let mut object = json!({
            "event_id": recorded.event_id.to_string(),
            id_field: deposit.id.to_string(),
            "merchant_id": deposit.merchant_id.0,
            "version": recorded.version,
            "occurred_at": recorded.occurred_at.format(&Rfc3339).unwrap_or_default(),
            "correlation_id": recorded.correlation_id.0,
            "currency": deposit.request.currency.code(),
        });
        if let (Some(target), Value::Object(extra)) = (object.as_object_mut(), detail) {
            target.extend(extra);
        }
        object
    };
    // paygate's own refund of a stray charge names that charge; the merchant's do not.
    let refund_detail = |refund_id: crate::ids::RefundId| {
        let refund = deposit.refunds.iter().find(|r| r.id == refund_id);
        let charge = refund.and_then(|r| r.charge.clone());
        json!({
            "refund_id": refund_id.to_string(),
            "amount": refund.map(|r| r.amount.minor()),
            "reversed_charge": charge
                .map(|c| json!({ "gateway": c.gateway, "external_id": c.external_id })),
        })
    };
    // A deposit's success and its failure both name what was asked and where it went.
    let outcome_detail = |key: &str, value: Value| {
        let mut detail = json!({
            "amount": deposit.request.amount.minor(),
            "country": deposit.request.country.code(),
            "gateway": deposit.gateway,
        });
        detail[key] = value;
        base(detail)
    };
    let reason_detail =
        |reason: &FailureReason| json!({ "code": reason.code, "message": reason.message });
    let (detail_type, detail) = match &recorded.event {
        DepositEvent::DepositSucceeded { external_id } => (
            recorded.event.name(direction),
            outcome_detail("external_id", json!(external_id)),
        ),
        DepositEvent::DepositFailed { reason } => (
            recorded.event.name(direction),
            outcome_detail("reason", reason_detail(reason)),
        ),
        DepositEvent::RefundSucceeded { refund_id } => {
            ("RefundSucceeded", base(refund_detail(*refund_id)))
        }
        DepositEvent::RefundFailed { refund_id, reason } => {
            let mut detail = refund_detail(*refund_id);
            detail["reason"] = reason_detail(reason);
            ("RefundFailed", base(detail))
        }
        DepositEvent::PaymentAnomalyDetected { anomaly } => (
            "PaymentAnomalyDetected",
            base(json!({
                "kind": anomaly.kind.as_str(),
                "gateway": anomaly.gateway,
                "external_id": anomaly.external_id,
                "charged_amount": anomaly.charged.map(|m| m.amount.minor()),
                "charged_currency": anomaly.charged.map(|m| m.currency.code()),
                "attempt": anomaly.attempt,
                "detail": anomaly.detail,
            })),
        ),
        _ => return None,
    };
    Some(BusEvent {
        detail_type: detail_type.to_owned(),
        detail,
    })
}

/// `GatewayHealthChanged`: published by the probe when a gateway's health changes.
pub fn gateway_health_changed(
    event_id: EventId,
    gateway: &str,
    from: crate::gateways::Health,
    to: crate::gateways::Health,
    latency_ms: u64,
    checked_at: time::OffsetDateTime,
) -> BusEvent {
    let name = |h: crate::gateways::Health| serde_json::to_value(h).unwrap_or(Value::Null);
    BusEvent {
        detail_type: "GatewayHealthChanged".to_owned(),
        detail: json!({
            "event_id": event_id.to_string(),
            "gateway": gateway,
            "from": name(from),
            "to": name(to),
            "latency_ms": latency_ms,
            "checked_at": checked_at.format(&Rfc3339).unwrap_or_default(),
        }),
    }
}

/// An [`EventStore`] that publishes right after each append commits: an append whose
/// events go on the bus publishes its [`Outbox`] as decided (no reload) and marks it
/// published with one conditional write; if an earlier append's events are still
/// pending, it flushes everything pending instead. Failures are logged: the sweeper
/// retries. An append with nothing for the bus costs nothing more. Reads and everything
/// else pass straight through.
pub struct PublishingEventStore {
    pub inner: std::sync::Arc<dyn EventStore>,
    pub index: std::sync::Arc<dyn SweepIndex>,
    pub publisher: std::sync::Arc<dyn EventPublisher>,
}

impl PublishingEventStore {
    async fn publish_outbox(&self, deposit_id: DepositId, outbox: Outbox) {
        if let Err(error) = self.publisher.publish(&outbox.events).await {
            tracing::warn!(%deposit_id, %error, "domain events not published yet; the sweeper will retry");
            return;
        }
        match self
            .index
            .mark_outbox_published(deposit_id, outbox.version)
            .await
        {
            Ok(true) => {}
            // An earlier append's events are pending (or a later one's came in between).
            Ok(false) => {
                let ports = PublishPorts {
                    store: self.inner.as_ref(),
                    index: self.index.as_ref(),
                    publisher: self.publisher.as_ref(),
                };
                flush_best_effort(&ports, deposit_id).await;
            }
            Err(error) => {
                tracing::warn!(%deposit_id, %error, "could not move the published mark; the sweeper will");
            }
        }
    }
}

#[async_trait::async_trait]
impl EventStore for PublishingEventStore {
    async fn load(&self, deposit: DepositId) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.load(deposit).await
    }

    async fn append(
        &self,
        batch: crate::ports::AppendBatch,
    ) -> Result<(), crate::ports::AppendError> {
        let deposit_id = batch.deposit_id;
        let outbox = batch.outbox.clone();
        self.inner.append(batch).await?;
        if let Some(outbox) = outbox {
            self.publish_outbox(deposit_id, outbox).await;
        }
        Ok(())
    }

    async fn view(
        &self,
        deposit: DepositId,
    ) -> Result<Option<crate::deposit::DepositView>, StoreError> {
        self.inner.view(deposit).await
    }

    async fn find_by_external_id(
        &self,
        gateway: &str,
        external_id: &str,
    ) -> Result<Option<crate::ports::ExternalLookup>, StoreError> {
        self.inner.find_by_external_id(gateway, external_id).await
    }

    async fn idempotency_record(
        &self,
        merchant: &crate::MerchantId,
        key: &crate::idempotency::IdempotencyKey,
    ) -> Result<Option<crate::idempotency::IdempotencyRecord>, StoreError> {
        self.inner.idempotency_record(merchant, key).await
    }

    async fn transition_idempotency(
        &self,
        transition: crate::idempotency::IdempotencyTransition<'_>,
    ) -> Result<bool, StoreError> {
        self.inner.transition_idempotency(transition).await
    }
}
