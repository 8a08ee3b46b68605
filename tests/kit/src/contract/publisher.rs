//! What every `EventPublisher` must do, observed through a probe that reads back what
//! reached the bus's consumers (memory: the publisher's record; AWS: an SQS queue that a
//! rule on the bus, matching `source` `paygate`, targets).
//!
//! Events are told apart by a fresh `detail.event_id`, so a probe that also sees other
//! tests' events does not confuse the cases.

use async_trait::async_trait;
use paygate_domain::ports::{BusEvent, EventPublisher};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Reads back what was published (and forgets it), for the contract only.
#[async_trait]
pub trait BusProbe: Send + Sync {
    /// Events that reached the consumer and were not read yet, waiting up to `wait` for
    /// at least one.
    async fn drain(&self, wait: Duration) -> Vec<BusEvent>;
}

type Bus = (Arc<dyn EventPublisher>, Arc<dyn BusProbe>);

fn event_id() -> String {
    Uuid::new_v4().to_string()
}

fn id_of(event: &BusEvent) -> Option<&str> {
    event.detail.get("event_id").and_then(Value::as_str)
}

/// A detail with the shapes real ones have: nested objects, nulls, big integers,
/// non-ASCII text, characters JSON escapes.
fn deposit_succeeded(event_id: &str) -> BusEvent {
    BusEvent {
        detail_type: "DepositSucceeded".into(),
        detail: json!({
            "event_id": event_id,
            "deposit_id": Uuid::now_v7().to_string(),
            "merchant_id": "mer_contract",
            "version": 4,
            "occurred_at": "2026-11-23T10:00:00Z",
            "correlation_id": "corr-\"quoted\"\\slash",
            "amount": 9_007_199_254_740_993_u64,
            "currency": "KWD",
            "country": "AE",
            "gateway": "psp-á-ü-日本",
            "external_id": null,
            "tags": ["a", "", "<b>&"],
            "reason": { "code": "ok", "message": "line\nbreak\ttab" },
        }),
    }
}

fn deposit_failed(event_id: &str) -> BusEvent {
    BusEvent {
        detail_type: "DepositFailed".into(),
        detail: json!({
            "event_id": event_id,
            "amount": 0,
            "reason": { "code": "card_declined", "message": "Declined" },
        }),
    }
}

/// Drains the probe until every event whose id is in `ids` has arrived (or a deadline
/// passes); returns those that arrived, each once per arrival, in arrival order.
async fn collect(probe: &dyn BusProbe, ids: &[String]) -> Vec<BusEvent> {
    let mut arrived: Vec<BusEvent> = Vec::new();
    for _ in 0..20 {
        arrived.extend(
            probe
                .drain(Duration::from_secs(1))
                .await
                .into_iter()
                .filter(|e| id_of(e).is_some_and(|id| ids.iter().any(|i| i == id))),
        );
        if ids
            .iter()
            .all(|id| arrived.iter().any(|e| id_of(e) == Some(id.as_str())))
        {
            break;
        }
    }
    arrived
}

/// Whatever with one of `ids` arrives within about `wait`.
async fn stray(probe: &dyn BusProbe, ids: &[String], wait: Duration) -> Vec<BusEvent> {
    probe
        .drain(wait)
        .await
        .into_iter()
        .filter(|e| id_of(e).is_some_and(|id| ids.iter().any(|i| i == id)))
        .collect()
}

pub async fn published_events_arrive_with_detail_type_and_detail_intact((publisher, probe): Bus) {
    let (first, second) = (event_id(), event_id());
    let sent = vec![deposit_succeeded(&first), deposit_failed(&second)];
    publisher.publish(&sent).await.unwrap();
    let arrived = collect(probe.as_ref(), &[first, second]).await;
    for event in &sent {
        assert!(
            arrived.contains(event),
            "{} did not arrive intact; arrived: {arrived:#?}",
            event.detail_type
        );
    }
}

pub async fn every_event_of_a_publish_larger_than_one_request_arrives((publisher, probe): Bus) {
    // EventBridge takes at most 10 entries per request.
    let ids: Vec<String> = (0..23).map(|_| event_id()).collect();
    let sent: Vec<BusEvent> = ids.iter().map(|id| deposit_failed(id)).collect();
    publisher.publish(&sent).await.unwrap();
    let arrived = collect(probe.as_ref(), &ids).await;
    for event in &sent {
        assert!(arrived.contains(event), "{:?} missing", id_of(event));
    }
}

pub async fn events_too_large_together_for_one_request_all_arrive((publisher, probe): Bus) {
    // Three ~100 KB events: over EventBridge's 256 KB per request together.
    let ids: Vec<String> = (0..3).map(|_| event_id()).collect();
    let sent: Vec<BusEvent> = ids
        .iter()
        .map(|id| {
            let mut event = deposit_failed(id);
            event.detail["padding"] = Value::String("p".repeat(100 * 1024));
            event
        })
        .collect();
    publisher.publish(&sent).await.unwrap();
    let arrived = collect(probe.as_ref(), &ids).await;
    for event in &sent {
        assert!(arrived.contains(event), "{:?} missing", id_of(event));
    }
}

pub async fn publishing_nothing_succeeds((publisher, _probe): Bus) {
    publisher.publish(&[]).await.unwrap();
}

pub async fn a_detail_that_is_not_a_json_object_refuses_the_whole_publish((publisher, probe): Bus) {
    let (good, bad) = (event_id(), event_id());
    let not_an_object = BusEvent {
        detail_type: "DepositFailed".into(),
        detail: json!([bad.clone()]),
    };
    let result = publisher
        .publish(&[deposit_failed(&good), not_an_object])
        .await;
    assert!(result.is_err(), "EventBridge refuses non-object details");
    let arrived = stray(probe.as_ref(), &[good], Duration::from_secs(2)).await;
    assert!(arrived.is_empty(), "nothing is sent: {arrived:?}");
}

pub async fn an_event_over_256_kb_refuses_the_whole_publish((publisher, probe): Bus) {
    let (good, big) = (event_id(), event_id());
    let mut oversized = deposit_failed(&big);
    oversized.detail["padding"] = Value::String("p".repeat(256 * 1024));
    let result = publisher.publish(&[deposit_failed(&good), oversized]).await;
    let error = result.expect_err("EventBridge refuses events over 256 KB");
    assert!(
        !error.0.contains("ppppp"),
        "the error must not carry the detail"
    );
    let arrived = stray(probe.as_ref(), &[good, big], Duration::from_secs(2)).await;
    assert!(arrived.is_empty(), "nothing is sent: {arrived:?}");
}
