//! The deposits queue on SQS. Bodies are the JSON of a [`DepositMessage`]; the
//! correlation id also travels as the `correlation_id` message attribute.

use crate::config::Resources;
use crate::error::AwsError;
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName};
use paygate_domain::ports::{DepositMessage, QueueError, QueueSender, RedeliveryScheduler};
use std::time::Duration;

/// SQS's longest per-message delay (15 minutes); longer delays are capped to it.
pub const MAX_DELAY_SECONDS: u64 = 900;

const CORRELATION_ID: &str = "correlation_id";

/// One queue, by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

/// A message as received: its body, and what it takes to delete it or delay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// How many times SQS has delivered it, this delivery included.
    pub receive_count: u32,
    /// The `correlation_id` message attribute, if it has one.
    pub correlation_id: Option<String>,
}

impl ReceivedMessage {
    /// The body as a deposit message.
    pub fn deposit_message(&self) -> Result<DepositMessage, QueueError> {
        serde_json::from_str(&self.body)
            .map_err(|e| AwsError::malformed("deposit message", AwsError::json(&e)).into())
    }
}

impl SqsQueue {
    /// A queue whose URL is known.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Looks the queue's URL up by name (`GetQueueUrl`).
    pub async fn resolve(client: Client, name: &str) -> Result<Self, QueueError> {
        let output = client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| AwsError::call("GetQueueUrl", &e))?;
        let url = output
            .queue_url
            .ok_or_else(|| AwsError::malformed("GetQueueUrl answer", "no QueueUrl"))?;
        Ok(Self::new(client, url))
    }

    /// The queue at `url` if one is given (as in a Lambda deployment), else looked up by
    /// `name`.
    pub async fn locate(client: Client, name: &str, url: Option<&str>) -> Result<Self, QueueError> {
        match url {
            Some(url) => Ok(Self::new(client, url)),
            None => Self::resolve(client, name).await,
        }
    }

    /// The deposits queue of `resources`.
    pub async fn deposits(client: Client, resources: &Resources) -> Result<Self, QueueError> {
        Self::locate(
            client,
            &resources.deposits_queue,
            resources.deposits_queue_url.as_deref(),
        )
        .await
    }

    /// The deposits dead-letter queue of `resources`.
    pub async fn deposits_dlq(client: Client, resources: &Resources) -> Result<Self, QueueError> {
        Self::locate(
            client,
            &resources.deposits_dlq,
            resources.deposits_dlq_url.as_deref(),
        )
        .await
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Receives up to `max` messages (clamped to 1..=10), long-polling up to
    /// `wait_seconds` (clamped to 0..=20) when none is there yet.
    pub async fn receive(
        &self,
        max: i32,
        wait_seconds: i32,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait_seconds.clamp(0, 20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names(CORRELATION_ID)
            .send()
            .await
            .map_err(|e| AwsError::call("ReceiveMessage", &e))?;
        output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| received(m).map_err(QueueError::from))
            .collect()
    }

    /// Deletes a received message (acknowledges it).
    pub async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| AwsError::call("DeleteMessage", &e))?;
        Ok(())
    }

    /// Makes a received message visible again after `seconds` (0 = at once).
    pub async fn change_visibility(&self, receipt: &str, seconds: i32) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| AwsError::call("ChangeMessageVisibility", &e))?;
        Ok(())
    }
}

#[async_trait]
impl QueueSender for SqsQueue {
    async fn send(&self, message: &DepositMessage, delay: Duration) -> Result<(), QueueError> {
        let body =
            serde_json::to_string(message).map_err(|e| AwsError::encode("deposit message", &e))?;
        let correlation = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(message.correlation_id.0.clone())
            .build()
            .map_err(|e| AwsError::Build {
                operation: "SendMessage",
                detail: e.to_string(),
            })?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay_seconds(delay))
            .message_attributes(CORRELATION_ID, correlation)
            .send()
            .await
            .map_err(|e| AwsError::call("SendMessage", &e))?;
        Ok(())
    }
}

/// Whole seconds, rounded up so a message is never delivered before its delay, and
/// capped at [`MAX_DELAY_SECONDS`].
fn delay_seconds(delay: Duration) -> i32 {
    let rounded_up = delay
        .as_secs()
        .saturating_add(u64::from(delay.subsec_nanos() > 0));
    // At most 900, so the conversion cannot fail.
    i32::try_from(rounded_up.min(MAX_DELAY_SECONDS)).unwrap_or(900)
}

fn received(message: Message) -> Result<ReceivedMessage, AwsError> {
    const WHAT: &str = "received message";
    let receive_count = message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .map(|count| {
            count
                .parse()
                .map_err(|_| AwsError::malformed(WHAT, "ApproximateReceiveCount is not a number"))
        })
        .transpose()?
        .unwrap_or(1);
    let correlation_id = message
        .message_attributes()
        .and_then(|a| a.get(CORRELATION_ID))
        .and_then(|v| v.string_value())
        .map(str::to_owned);
    Ok(ReceivedMessage {
        message_id: message
            .message_id
            .ok_or_else(|| AwsError::malformed(WHAT, "no MessageId"))?,
        receipt_handle: message
            .receipt_handle
            .ok_or_else(|| AwsError::malformed(WHAT, "no ReceiptHandle"))?,
        body: message
            .body
            .ok_or_else(|| AwsError::malformed(WHAT, "no Body"))?,
        receive_count,
        correlation_id,
    })
}

/// SQS caps a visibility timeout at 12 hours.
const MAX_VISIBILITY_SECONDS: u64 = 12 * 60 * 60;

#[async_trait]
impl RedeliveryScheduler for SqsQueue {
    async fn redeliver_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        // Rounded up, so a retry never comes back earlier than its backoff asks.
        let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
        self.change_visibility(receipt, seconds.min(MAX_VISIBILITY_SECONDS) as i32)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paygate_domain::ids::{CorrelationId, DepositId, MerchantId};

    #[test]
    fn delays_round_up_to_seconds_and_are_capped() {
        assert_eq!(delay_seconds(Duration::ZERO), 0);
        assert_eq!(delay_seconds(Duration::from_millis(1)), 1);
        assert_eq!(delay_seconds(Duration::from_millis(2500)), 3);
        assert_eq!(delay_seconds(Duration::from_secs(900)), 900);
        assert_eq!(delay_seconds(Duration::from_secs(3600)), 900);
        assert_eq!(delay_seconds(Duration::MAX), 900);
    }

    #[test]
    fn received_messages_carry_their_count_and_correlation() {
        let deposit = DepositMessage {
            deposit_id: DepositId(uuid::Uuid::from_u128(7)),
            merchant_id: MerchantId("m-1".into()),
            correlation_id: CorrelationId("corr-1".into()),
        };
        let message = Message::builder()
            .message_id("id-1")
            .receipt_handle("rh-1")
            .body(serde_json::to_string(&deposit).unwrap())
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "3")
            .message_attributes(
                CORRELATION_ID,
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("corr-1")
                    .build()
                    .unwrap(),
            )
            .build();
        let got = received(message).unwrap();
        assert_eq!(got.message_id, "id-1");
        assert_eq!(got.receipt_handle, "rh-1");
        assert_eq!(got.receive_count, 3);
        assert_eq!(got.correlation_id.as_deref(), Some("corr-1"));
        assert_eq!(got.deposit_message().unwrap(), deposit);
    }

    #[test]
    fn incomplete_messages_are_refused() {
        let no_body = Message::builder()
            .message_id("id-1")
            .receipt_handle("rh-1")
            .build();
        assert!(received(no_body).is_err());
        let bad_count = Message::builder()
            .message_id("id-1")
            .receipt_handle("rh-1")
            .body("{}")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "x")
            .build();
        assert!(received(bad_count).is_err());
        let not_a_deposit = ReceivedMessage {
            message_id: "id".into(),
            receipt_handle: "rh".into(),
            body: "{\"deposit_id\":\"secret\"}".into(),
            receive_count: 1,
            correlation_id: None,
        };
        let err = not_a_deposit.deposit_message().unwrap_err();
        assert!(!err.0.contains("secret"), "{err}");
    }
}
