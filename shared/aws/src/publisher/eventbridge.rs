//! The [`EventPublisher`] on an EventBridge bus: `PutEvents` with `source` `paygate`.

use super::batch::{self, MAX_REQUEST_BYTES, Oversized};
use crate::config::Resources;
use crate::error::AwsError;
use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use paygate_domain::ports::{BusEvent, EventPublisher, PublishError};
use std::collections::BTreeMap;

/// The `source` of every event paygate publishes (the domain's
/// [`SOURCE`](paygate_domain::service::publish::SOURCE)); rules match on it.
pub const EVENT_SOURCE: &str = paygate_domain::service::publish::SOURCE;

/// Publishes to one bus, by name (or ARN).
#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus: String,
}

/// A bus event encoded for `PutEvents`.
struct Encoded<'a> {
    detail_type: &'a str,
    detail: String,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    /// The bus of `resources` (`PAYGATE_EVENT_BUS`).
    pub fn from_resources(client: Client, resources: &Resources) -> Self {
        Self::new(client, &resources.event_bus)
    }

    /// The bus's name (or ARN) as configured.
    pub fn bus_name(&self) -> &str {
        &self.bus
    }

    /// The EventBridge client (for tests and tooling that manage rules).
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn put(&self, batch: &[Encoded<'_>]) -> Result<(), PublishError> {
        let entries = batch
            .iter()
            .map(|event| {
                PutEventsRequestEntry::builder()
                    .source(EVENT_SOURCE)
                    .detail_type(event.detail_type)
                    .detail(&event.detail)
                    .event_bus_name(&self.bus)
                    .build()
            })
            .collect();
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| AwsError::call("PutEvents", &e))?;
        let refused: Vec<String> = output
            .entries()
            .iter()
            .enumerate()
            .filter_map(|(index, result)| {
                let code = result.error_code()?;
                let detail_type = batch.get(index).map_or("?", |e| e.detail_type);
                Some(format!("entry {index} ({detail_type}): {code}"))
            })
            .collect();
        if output.failed_entry_count() > 0 || !refused.is_empty() {
            let failed = usize::try_from(output.failed_entry_count())
                .unwrap_or(0)
                .max(refused.len());
            return Err(PublishError(format!(
                "PutEvents refused {failed} of {} entries on bus {}: {}",
                batch.len(),
                self.bus,
                if refused.is_empty() {
                    "(no error codes given)".to_owned()
                } else {
                    refused.join(", ")
                }
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    /// Sends `events` in order, in as few `PutEvents` requests as the limits allow (10
    /// entries, 256 KB). Any refused entry or failed request fails the whole publish:
    /// the earlier requests may have been delivered, and the caller publishes everything
    /// again (consumers deduplicate on `detail.event_id`).
    ///
    /// Nothing is sent if an event's detail is not a JSON object or an event is over
    /// 256 KB on its own (EventBridge would refuse it). Logs counts and detail types,
    /// never a detail.
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        if events.is_empty() {
            return Ok(());
        }
        let encoded = events
            .iter()
            .enumerate()
            .map(|(index, event)| encode(index, event))
            .collect::<Result<Vec<_>, _>>()?;
        let sizes: Vec<usize> = encoded
            .iter()
            .map(|e| batch::put_events_entry_size(EVENT_SOURCE, e.detail_type, &e.detail))
            .collect();
        let batches = batch::batches(&sizes).map_err(|Oversized { index, size }| {
            PublishError(format!(
                "event {index} ({}) is {size} bytes, over EventBridge's {MAX_REQUEST_BYTES}",
                encoded[index].detail_type
            ))
        })?;
        let types = detail_types(events);
        for (number, range) in batches.iter().enumerate() {
            if let Err(error) = self.put(&encoded[range.clone()]).await {
                tracing::warn!(
                    bus = %self.bus,
                    events = events.len(),
                    requests_sent = number,
                    detail_types = %types,
                    %error,
                    "publishing to the event bus failed"
                );
                return Err(error);
            }
        }
        tracing::info!(
            bus = %self.bus,
            events = events.len(),
            requests = batches.len(),
            detail_types = %types,
            "published to the event bus"
        );
        Ok(())
    }
}

fn encode(index: usize, event: &BusEvent) -> Result<Encoded<'_>, PublishError> {
    if !event.detail.is_object() {
        return Err(PublishError(format!(
            "event {index} ({}): the detail must be a JSON object",
            event.detail_type
        )));
    }
    let detail = serde_json::to_string(&event.detail)
        .map_err(|e| PublishError(format!("event {index}: {}", AwsError::json(&e))))?;
    Ok(Encoded {
        detail_type: &event.detail_type,
        detail,
    })
}

/// `DepositSucceeded×2,DepositFailed×1`: what a log line may say about a publish.
fn detail_types(events: &[BusEvent]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for event in events {
        *counts.entry(event.detail_type.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(detail_type, count)| format!("{detail_type}×{count}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl From<AwsError> for PublishError {
    fn from(err: AwsError) -> Self {
        PublishError(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail_type: &str, detail: serde_json::Value) -> BusEvent {
        BusEvent {
            detail_type: detail_type.into(),
            detail,
        }
    }

    /// A client that is never called: the publishes below fail before any request.
    fn publisher() -> EventBridgePublisher {
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
            .build();
        EventBridgePublisher::new(Client::from_conf(config), "paygate-bus")
    }

    #[tokio::test]
    async fn a_detail_that_is_not_an_object_is_refused_before_sending() {
        let events = [
            event("DepositSucceeded", json!({"event_id": "e1"})),
            event("DepositFailed", json!(["tok_visa_secret"])),
        ];
        let err = publisher().publish(&events).await.unwrap_err();
        assert!(err.0.contains("event 1 (DepositFailed)"), "{err}");
        assert!(!err.0.contains("tok_visa_secret"), "{err}");
    }

    #[tokio::test]
    async fn an_oversized_event_is_refused_before_sending_without_its_detail() {
        let big = "x".repeat(MAX_REQUEST_BYTES);
        let events = [event("DepositSucceeded", json!({ "payer": big }))];
        let err = publisher().publish(&events).await.unwrap_err();
        assert!(err.0.contains("event 0 (DepositSucceeded)"), "{err}");
        assert!(
            !err.0.contains("xxxx"),
            "the detail must not be in the error"
        );
    }

    #[tokio::test]
    async fn publishing_nothing_sends_nothing() {
        publisher().publish(&[]).await.unwrap();
    }

    #[test]
    fn logs_name_detail_types_and_counts_only() {
        let events = [
            event("DepositSucceeded", json!({"merchant_id": "mer_secret"})),
            event("DepositFailed", json!({})),
            event("DepositSucceeded", json!({})),
        ];
        assert_eq!(detail_types(&events), "DepositFailed×1,DepositSucceeded×2");
    }
}
