//! Feeds the queue to the gateway processor the way Lambda's SQS event source mapping
//! does: batches of up to 10, records not reported as failed are deleted, failed ones come
//! back after their visibility timeout (which the processor sets to its backoff), and
//! the queue's redrive moves a message to the DLQ after too many receives.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsMessage;
use gateway_processor::{Processor, process_batch, process_record};
use paygate_aws::SqsQueue;
use paygate_memory::MemoryQueue;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// A queue the consumer can poll: the embedded one or SQS.
#[async_trait]
pub trait PolledQueue: Send + Sync {
    async fn poll(&self) -> Vec<SqsMessage>;
    async fn delete(&self, receipt: &str);
}

#[async_trait]
impl PolledQueue for MemoryQueue {
    async fn poll(&self) -> Vec<SqsMessage> {
        let received = self.receive(10);
        if received.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        received
            .into_iter()
            .map(|m| {
                let mut record = SqsMessage::default();
                record.message_id = Some(m.message_id.to_string());
                record.receipt_handle = Some(m.receipt.to_string());
                record.body = serde_json::to_string(&m.body).ok();
                record.attributes.insert(
                    "ApproximateReceiveCount".into(),
                    m.receive_count.to_string(),
                );
                record
            })
            .collect()
    }

    async fn delete(&self, receipt: &str) {
        if let Ok(receipt) = receipt.parse() {
            MemoryQueue::delete(self, receipt);
        }
    }
}

#[async_trait]
impl PolledQueue for SqsQueue {
    async fn poll(&self) -> Vec<SqsMessage> {
        match self.receive(10, 1).await {
            Ok(received) => received
                .into_iter()
                .map(|m| {
                    let mut record = SqsMessage::default();
                    record.message_id = Some(m.message_id);
                    record.receipt_handle = Some(m.receipt_handle);
                    record.body = Some(m.body);
                    record.attributes.insert(
                        "ApproximateReceiveCount".into(),
                        m.receive_count.to_string(),
                    );
                    record
                })
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                Vec::new()
            }
        }
    }

    async fn delete(&self, receipt: &str) {
        if let Err(error) = SqsQueue::delete(self, receipt).await {
            tracing::warn!(%error, "delete failed; the message will be processed again");
        }
    }
}

/// Runs forever: poll, process the batch, delete what succeeded.
pub async fn run(queue: Arc<dyn PolledQueue>, processor: Processor) {
    loop {
        let records = queue.poll().await;
        if records.is_empty() {
            continue;
        }
        let receipts: Vec<(String, String)> = records
            .iter()
            .filter_map(|r| Some((r.message_id.clone()?, r.receipt_handle.clone()?)))
            .collect();
        let response = process_batch(records, |record| process_record(&processor, record)).await;
        let failed: HashSet<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        for (id, receipt) in receipts {
            if !failed.contains(&id) {
                queue.delete(&receipt).await;
            }
        }
    }
}
