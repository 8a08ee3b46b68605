//! Taps on paygate's EventBridge bus: a rule and a queue of a test's own, the pattern
//! for one deposit's events, and reading what reached the queue.

use paygate_aws::{AwsAdapters, BusTap, EVENT_SOURCE, TappedEvent};
use serde_json::{Value, json};
use std::fmt::Display;
use uuid::Uuid;

/// A rule on paygate's bus matching `pattern`, targeting a queue of its own; both are
/// named `{prefix}{a fresh id}`.
pub async fn tap_bus(aws: &AwsAdapters, prefix: &str, pattern: &Value) -> BusTap {
    let name = format!("{prefix}{}", Uuid::new_v4().simple());
    BusTap::create(
        aws.bus.client().clone(),
        aws.sqs.clone(),
        aws.bus.bus_name(),
        &name,
        pattern,
    )
    .await
    .expect("a rule and queue on the bus")
}

/// The pattern of paygate's `detail_type` events about one deposit.
pub fn deposit_event_pattern(detail_type: &str, deposit_id: impl Display) -> Value {
    json!({
        "source": [EVENT_SOURCE],
        "detail-type": [detail_type],
        "detail": { "deposit_id": [deposit_id.to_string()] },
    })
}

/// Done with `tap`: one more receive (where a second copy of an event would show), then
/// its rule and queue are removed. Everything received, `received` first.
pub async fn close_tap(tap: &BusTap, mut received: Vec<TappedEvent>) -> Vec<TappedEvent> {
    received.extend(tap.receive(1).await.expect("receive from the tap"));
    tap.remove()
        .await
        .expect("remove the test's rule and queue");
    received
}

/// The events whose `detail.event_id` is `event_id`.
pub fn with_event_id<'a>(events: &'a [TappedEvent], event_id: &str) -> Vec<&'a TappedEvent> {
    events
        .iter()
        .filter(|e| e.detail["event_id"] == event_id)
        .collect()
}
