//! Watching a bus: a rule that copies matching events into an SQS queue of its own, and
//! the receive side. The contract tests, the integration tests and operators use it to
//! see what the publisher put on the bus (`init_resources.py` sets up the same kind of
//! tap, `paygate-all-events` → `paygate-events-tap`, on the emulators).

use crate::error::AwsError;
use crate::queue::{SqsQueue, queue_arn};
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::{RuleState, Target};
use aws_sdk_sqs::Client as SqsClient;
use aws_sdk_sqs::types::QueueAttributeName;
use paygate_domain::ports::BusEvent;
use serde_json::{Value, json};

/// The target id the tap gives its queue on its rule.
const TARGET_ID: &str = "tap";

/// A rule on a bus targeting a queue, both named after the tap.
#[derive(Debug, Clone)]
pub struct BusTap {
    eventbridge: Client,
    sqs: SqsClient,
    bus: String,
    rule: String,
    queue: SqsQueue,
}

/// An event as the bus delivered it to the tap's queue (EventBridge's envelope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TappedEvent {
    /// The id EventBridge gave the event (not paygate's `detail.event_id`).
    pub id: String,
    pub source: String,
    pub detail_type: String,
    pub detail: Value,
}

impl TappedEvent {
    /// The event as it was published.
    pub fn bus_event(&self) -> BusEvent {
        BusEvent {
            detail_type: self.detail_type.clone(),
            detail: self.detail.clone(),
        }
    }

    fn parse(body: &str) -> Result<Self, AwsError> {
        const WHAT: &str = "tapped event";
        let envelope: Value = serde_json::from_str(body)
            .map_err(|e| AwsError::malformed(WHAT, AwsError::json(&e)))?;
        let text = |field: &str| {
            envelope[field]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| AwsError::malformed(WHAT, format!("no {field}")))
        };
        Ok(Self {
            id: text("id")?,
            source: text("source")?,
            detail_type: text("detail-type")?,
            detail: envelope
                .get("detail")
                .cloned()
                .ok_or_else(|| AwsError::malformed(WHAT, "no detail"))?,
        })
    }
}

impl BusTap {
    /// Creates (or updates) queue `name` and rule `name` on `bus` matching `pattern`,
    /// targeting the queue, with a queue policy that lets EventBridge send for that rule.
    pub async fn create(
        eventbridge: Client,
        sqs: SqsClient,
        bus: &str,
        name: &str,
        pattern: &Value,
    ) -> Result<Self, AwsError> {
        let url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| AwsError::call("CreateQueue", &e))?
            .queue_url
            .ok_or_else(|| AwsError::malformed("CreateQueue answer", "no QueueUrl"))?;
        let queue = SqsQueue::new(sqs.clone(), url);
        let queue_arn = queue_arn(&sqs, &queue)
            .await
            .map_err(|e| AwsError::malformed("GetQueueAttributes answer", e.0))?;
        let rule_arn = eventbridge
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .event_pattern(pattern.to_string())
            .state(RuleState::Enabled)
            .description("paygate bus tap: copies matching events to an SQS queue")
            .send()
            .await
            .map_err(|e| AwsError::call("PutRule", &e))?
            .rule_arn
            .ok_or_else(|| AwsError::malformed("PutRule answer", "no RuleArn"))?;
        sqs.set_queue_attributes()
            .queue_url(queue.url())
            .attributes(
                QueueAttributeName::Policy,
                send_policy(&queue_arn, &rule_arn).to_string(),
            )
            .send()
            .await
            .map_err(|e| AwsError::call("SetQueueAttributes", &e))?;
        let target = Target::builder()
            .id(TARGET_ID)
            .arn(&queue_arn)
            .build()
            .map_err(|e| AwsError::Build {
                operation: "PutTargets",
                detail: e.to_string(),
            })?;
        let output = eventbridge
            .put_targets()
            .rule(name)
            .event_bus_name(bus)
            .targets(target)
            .send()
            .await
            .map_err(|e| AwsError::call("PutTargets", &e))?;
        if output.failed_entry_count() > 0 {
            let codes: Vec<&str> = output
                .failed_entries()
                .iter()
                .filter_map(|e| e.error_code())
                .collect();
            return Err(AwsError::Call {
                operation: "PutTargets",
                code: codes.first().map(|c| (*c).to_owned()),
                detail: format!("target refused: {}", codes.join(", ")),
            });
        }
        Ok(Self {
            eventbridge,
            sqs,
            bus: bus.to_owned(),
            rule: name.to_owned(),
            queue,
        })
    }

    pub fn queue(&self) -> &SqsQueue {
        &self.queue
    }

    pub fn rule(&self) -> &str {
        &self.rule
    }

    pub fn bus(&self) -> &str {
        &self.bus
    }

    /// Events in the queue now, waiting up to `wait_seconds` (0..=20) for at least
    /// one; each is deleted once read.
    pub async fn receive(&self, wait_seconds: i32) -> Result<Vec<TappedEvent>, AwsError> {
        let received = self
            .queue
            .receive(10, wait_seconds)
            .await
            .map_err(|e| AwsError::malformed("ReceiveMessage answer", e.0))?;
        let mut events = Vec::with_capacity(received.len());
        for message in received {
            self.queue
                .delete(&message.receipt_handle)
                .await
                .map_err(|e| AwsError::malformed("DeleteMessage answer", e.0))?;
            events.push(TappedEvent::parse(&message.body)?);
        }
        Ok(events)
    }

    /// Deletes the rule (its target first) and the queue.
    pub async fn remove(&self) -> Result<(), AwsError> {
        self.eventbridge
            .remove_targets()
            .rule(&self.rule)
            .event_bus_name(&self.bus)
            .ids(TARGET_ID)
            .send()
            .await
            .map_err(|e| AwsError::call("RemoveTargets", &e))?;
        self.eventbridge
            .delete_rule()
            .name(&self.rule)
            .event_bus_name(&self.bus)
            .send()
            .await
            .map_err(|e| AwsError::call("DeleteRule", &e))?;
        self.sqs
            .delete_queue()
            .queue_url(self.queue.url())
            .send()
            .await
            .map_err(|e| AwsError::call("DeleteQueue", &e))?;
        Ok(())
    }
}

/// The queue policy that lets EventBridge deliver to `queue_arn` for `rule_arn` only.
pub fn send_policy(queue_arn: &str, rule_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowPaygateBusRule",
            "Effect": "Allow",
            "Principal": { "Service": "events.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": rule_arn } },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eventbridge_envelope_parses() {
        let body = r#"{"version":"0","id":"abc","detail-type":"DepositSucceeded","source":"paygate",
            "account":"123456789012","time":"2026-01-01T00:00:00Z","region":"us-east-1",
            "resources":[],"detail":{"event_id":"e1","amount":10099}}"#;
        let event = TappedEvent::parse(body).unwrap();
        assert_eq!(event.source, "paygate");
        assert_eq!(
            event.bus_event(),
            BusEvent {
                detail_type: "DepositSucceeded".into(),
                detail: json!({"event_id": "e1", "amount": 10099}),
            }
        );
        assert!(TappedEvent::parse(r#"{"id":"x"}"#).is_err());
    }
}
