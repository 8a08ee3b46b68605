//! The processor's SQS trigger, as Lambda's event source mapping runs it: receive a batch
//! of up to 10 messages, hand it to the handler, delete the records it did not report
//! failed. Failed ones come back after their visibility timeout (which the processor sets
//! to its backoff), and the queue's redrive moves a message to the DLQ after too many
//! receives. The devstack's consumer and the test suites drive the processor with it, on
//! SQS or on the embedded queue (feature `memory`).

use crate::{Processor, process_batch, process_record};
use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsMessage;
use paygate_domain::ports::{DepositMessage, QueueError};
use std::collections::HashSet;
use std::time::Instant;
use uuid::Uuid;

/// The most records Lambda hands the processor at once (the template's `BatchSize`).
pub const BATCH_SIZE: usize = 10;

/// A received message, whatever queue it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    pub receipt: String,
    pub body: String,
    /// 1 on the first delivery.
    pub receive_count: u32,
}

impl Received {
    /// The SQS record Lambda hands the function for this message.
    pub fn record(&self) -> SqsMessage {
        let mut record = SqsMessage::default();
        record.message_id = Some(self.message_id.clone());
        record.receipt_handle = Some(self.receipt.clone());
        record.body = Some(self.body.clone());
        record.attributes.insert(
            "ApproximateReceiveCount".into(),
            self.receive_count.to_string(),
        );
        record.event_source = Some("aws:sqs".into());
        record
    }

    /// The body as a deposit message.
    pub fn deposit_message(&self) -> Result<DepositMessage, QueueError> {
        serde_json::from_str(&self.body)
            .map_err(|e| QueueError(format!("not a deposit message: {e}")))
    }
}

/// The SQS record of one delivery of `message` (its `receive_count`-th), with fresh ids,
/// as Lambda would hand it over.
pub fn record(message: &DepositMessage, receive_count: u32) -> SqsMessage {
    Received {
        message_id: Uuid::new_v4().to_string(),
        receipt: Uuid::new_v4().to_string(),
        body: serde_json::to_string(message).expect("a deposit message serialises"),
        receive_count,
    }
    .record()
}

/// A queue the trigger reads.
#[async_trait]
pub trait TriggerQueue: Send + Sync {
    /// Up to [`BATCH_SIZE`] messages (SQS long-polls for up to a second).
    async fn receive(&self) -> Result<Vec<Received>, QueueError>;
    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;
}

/// The SQS queue (the functions' adapter), as Lambda's event source mapping reads it.
#[cfg(feature = "aws")]
mod sqs {
    use super::*;
    use paygate_aws::{ReceivedMessage, SqsQueue};

    impl From<ReceivedMessage> for Received {
        fn from(message: ReceivedMessage) -> Self {
            Self {
                message_id: message.message_id,
                receipt: message.receipt_handle,
                body: message.body,
                receive_count: message.receive_count,
            }
        }
    }

    #[async_trait]
    impl TriggerQueue for SqsQueue {
        async fn receive(&self) -> Result<Vec<Received>, QueueError> {
            let received = SqsQueue::receive(self, BATCH_SIZE as i32, 1).await?;
            Ok(received.into_iter().map(Received::from).collect())
        }

        async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
            SqsQueue::delete(self, receipt).await
        }
    }
}

#[cfg(feature = "memory")]
mod memory {
    use super::*;
    use paygate_memory::{MemoryQueue, QueuedMessage};

    impl From<QueuedMessage> for Received {
        fn from(message: QueuedMessage) -> Self {
            Self {
                message_id: message.message_id.to_string(),
                receipt: message.receipt.to_string(),
                body: serde_json::to_string(&message.body).expect("a deposit message serialises"),
                receive_count: message.receive_count,
            }
        }
    }

    #[async_trait]
    impl TriggerQueue for MemoryQueue {
        async fn receive(&self) -> Result<Vec<Received>, QueueError> {
            let received = MemoryQueue::receive(self, BATCH_SIZE);
            Ok(received.into_iter().map(Received::from).collect())
        }

        async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
            let deleted = receipt
                .parse()
                .is_ok_and(|receipt| MemoryQueue::delete(self, receipt));
            if deleted {
                Ok(())
            } else {
                Err(QueueError(format!("stale receipt {receipt}")))
            }
        }
    }
}

/// One invocation of the processor by the trigger.
#[derive(Debug)]
pub struct Invocation {
    /// When the batch was received.
    pub at: Instant,
    pub received: Vec<Received>,
    /// Message ids reported in `batchItemFailures` (left on the queue).
    pub failed: HashSet<String>,
    /// Deletes of processed messages that failed (they will be processed again).
    pub undeleted: Vec<QueueError>,
}

impl Invocation {
    /// The receive counts of the records of this batch.
    pub fn receive_counts(&self) -> Vec<u32> {
        self.received.iter().map(|m| m.receive_count).collect()
    }

    /// Whether the message was reported failed (to be delivered again).
    pub fn retried(&self, message: &Received) -> bool {
        self.failed.contains(&message.message_id)
    }
}

/// Receives one batch from `queue`; when it holds anything, runs the processor on it (as
/// its Lambda handler does) and deletes the records not reported failed.
pub async fn invoke_once(
    queue: &dyn TriggerQueue,
    processor: &Processor,
) -> Result<Invocation, QueueError> {
    let received = queue.receive().await?;
    let at = Instant::now();
    let mut invocation = Invocation {
        at,
        received,
        failed: HashSet::new(),
        undeleted: Vec::new(),
    };
    if invocation.received.is_empty() {
        return Ok(invocation);
    }
    let records = invocation.received.iter().map(Received::record).collect();
    let response = process_batch(records, |record| process_record(processor, record)).await;
    invocation.failed = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    for message in &invocation.received {
        if !invocation.failed.contains(&message.message_id)
            && let Err(error) = queue.delete(&message.receipt).await
        {
            invocation.undeleted.push(error);
        }
    }
    Ok(invocation)
}
