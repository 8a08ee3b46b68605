//! Domain events on the bus (EventBridge, `source` = `paygate`), at least once.
//!
//! Publishing never blocks or undoes a state change: the change is committed first, and
//! the read model remembers up to which version its events are published. Right after a
//! change the function that made it publishes what is new ([`flush`]); if that fails, the
//! sweeper finds the deposit in the unpublished index and publishes it later. Every
//! event's `detail.event_id` is the stored event's id, so consumers deduplicate.

use crate::DepositId;
use crate::deposit::{Deposit, DepositEvent, RecordedEvent};
use crate::ids::EventId;
use crate::ports::{BusEvent, EventPublisher, EventStore, PublishError, StoreError, SweepIndex};
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

/// The bus event for a stored event, if it is one consumers are told about.
pub fn bus_event(deposit: &Deposit, recorded: &RecordedEvent) -> Option<BusEvent> {
    let base = |detail: Value| {
        let mut object = json!({
            "event_id": recorded.event_id.to_string(),
            "deposit_id": deposit.id.to_string(),
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
    let refund_amount = |refund_id| {
        deposit
            .refunds
            .iter()
            .find(|r| r.id == refund_id)
            .map(|r| r.amount.minor())
    };
    let (detail_type, detail) = match &recorded.event {
        DepositEvent::DepositSucceeded { external_id } => (
            "DepositSucceeded",
            base(json!({
                "amount": deposit.request.amount.minor(),
                "country": deposit.request.country.code(),
                "gateway": deposit.gateway,
                "external_id": external_id,
            })),
        ),
        DepositEvent::DepositFailed { reason } => (
            "DepositFailed",
            base(json!({
                "amount": deposit.request.amount.minor(),
                "country": deposit.request.country.code(),
                "gateway": deposit.gateway,
                "reason": { "code": reason.code, "message": reason.message },
            })),
        ),
        DepositEvent::RefundSucceeded { refund_id } => (
            "RefundSucceeded",
            base(
                json!({ "refund_id": refund_id.to_string(), "amount": refund_amount(*refund_id) }),
            ),
        ),
        DepositEvent::RefundFailed { refund_id, reason } => (
            "RefundFailed",
            base(json!({
                "refund_id": refund_id.to_string(),
                "amount": refund_amount(*refund_id),
                "reason": { "code": reason.code, "message": reason.message },
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
