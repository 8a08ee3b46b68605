//! Feeds the queue to the gateway processor the way Lambda's SQS event source mapping
//! does, with the processor's own trigger driver ([`gateway_processor::trigger`]): batches
//! of up to 10, records not reported as failed are deleted, failed ones come back after
//! their visibility timeout (which the processor sets to its backoff), and the queue's
//! redrive moves a message to the DLQ after too many receives.

pub use gateway_processor::trigger::TriggerQueue as PolledQueue;

use gateway_processor::Processor;
use gateway_processor::trigger::invoke_once;
use std::sync::Arc;
use std::time::Duration;

/// Runs forever: poll, process the batch, delete what succeeded.
pub async fn run(queue: Arc<dyn PolledQueue>, processor: Processor) {
    loop {
        match invoke_once(queue.as_ref(), &processor).await {
            Ok(invocation) => {
                for error in &invocation.undeleted {
                    tracing::warn!(%error, "delete failed; the message will be processed again");
                }
                if invocation.received.is_empty() {
                    // The embedded queue answers at once; SQS has long-polled already.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
