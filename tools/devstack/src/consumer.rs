//! Feeds the queue to the gateway processor the way Lambda's SQS event source mapping
//! does, with the processor's own trigger driver ([`gateway_processor::trigger`]): batches
//! of up to 10, records not reported as failed are deleted, failed ones come back after
//! their visibility timeout (which the processor sets to its backoff), and the queue's
//! redrive moves a message to the DLQ after too many receives.
//!
//! SQS delivers at least once: with `PAYGATE_DEV_QUEUE_DUPLICATES` a share of the messages
//! is also handed, at the same time, to a second concurrent processor run, so an
//! integration can watch the processor absorb duplicates.

pub use gateway_processor::trigger::TriggerQueue as PolledQueue;

use async_trait::async_trait;
use gateway_processor::Processor;
use gateway_processor::trigger::{Received, invoke_once};
use paygate_domain::ports::QueueError;
use rand::Rng;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs forever: poll, process the batch, delete what succeeded. With a share of
/// duplicates above zero, two pollers (two concurrent Lambda instances) share the queue.
pub async fn run(queue: Arc<dyn PolledQueue>, processor: Processor, duplicates: f64) {
    if duplicates <= 0.0 {
        return poll(queue.as_ref(), &processor).await;
    }
    let queue = Duplicating::new(queue, duplicates);
    tokio::join!(poll(&queue, &processor), poll(&queue, &processor));
}

async fn poll(queue: &dyn PolledQueue, processor: &Processor) {
    loop {
        match invoke_once(queue, processor).await {
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

/// Receipts of copies: deleting one is a no-op (the original's receipt governs).
const COPY_RECEIPT: &str = "duplicate-delivery:";

/// A queue that hands a share of what it receives out a second time, to whichever poller
/// asks next (the other one, while the first is busy with the original).
struct Duplicating {
    inner: Arc<dyn PolledQueue>,
    share: f64,
    copies: Mutex<Vec<Received>>,
}

impl Duplicating {
    fn new(inner: Arc<dyn PolledQueue>, share: f64) -> Self {
        Self {
            inner,
            share: share.min(1.0),
            copies: Mutex::new(Vec::new()),
        }
    }

    fn take_copies(&self) -> Vec<Received> {
        std::mem::take(&mut *self.copies.lock().expect("copies lock"))
    }
}

#[async_trait]
impl PolledQueue for Duplicating {
    async fn receive(&self) -> Result<Vec<Received>, QueueError> {
        let copies = self.take_copies();
        if !copies.is_empty() {
            return Ok(copies);
        }
        let received = self.inner.receive().await?;
        let mut rng = rand::rng();
        let duplicated: Vec<Received> = received
            .iter()
            .filter(|_| rng.random_bool(self.share))
            .map(|message| Received {
                message_id: format!("{}-copy", message.message_id),
                receipt: format!("{COPY_RECEIPT}{}", message.receipt),
                ..message.clone()
            })
            .collect();
        self.copies.lock().expect("copies lock").extend(duplicated);
        Ok(received)
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        if receipt.starts_with(COPY_RECEIPT) {
            return Ok(());
        }
        self.inner.delete(receipt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue holding `n` messages once.
    struct Once(Mutex<Vec<Received>>, Mutex<Vec<String>>);

    #[async_trait]
    impl PolledQueue for Once {
        async fn receive(&self) -> Result<Vec<Received>, QueueError> {
            Ok(std::mem::take(&mut *self.0.lock().unwrap()))
        }
        async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
            self.1.lock().unwrap().push(receipt.to_owned());
            Ok(())
        }
    }

    fn queue_of(n: usize) -> Arc<Once> {
        let messages = (0..n)
            .map(|i| Received {
                message_id: format!("m{i}"),
                receipt: format!("r{i}"),
                body: format!("{{\"n\":{i}}}"),
                receive_count: 1,
            })
            .collect();
        Arc::new(Once(Mutex::new(messages), Mutex::new(Vec::new())))
    }

    #[tokio::test]
    async fn every_message_is_handed_out_again_when_the_share_is_one() {
        let inner = queue_of(3);
        let queue = Duplicating::new(inner.clone(), 1.0);
        let first = queue.receive().await.unwrap();
        let second = queue.receive().await.unwrap();
        assert_eq!(first.len(), 3);
        let bodies = |r: &[Received]| r.iter().map(|m| m.body.clone()).collect::<Vec<_>>();
        assert_eq!(bodies(&first), bodies(&second));
        assert!(second.iter().all(|m| m.message_id.ends_with("-copy")));
        // deleting a copy leaves the original's receipt alone
        for message in first.iter().chain(&second) {
            queue.delete(&message.receipt).await.unwrap();
        }
        assert_eq!(*inner.1.lock().unwrap(), ["r0", "r1", "r2"]);
    }

    #[tokio::test]
    async fn an_empty_receive_copies_nothing() {
        let queue = Duplicating::new(queue_of(0), 1.0);
        assert!(queue.receive().await.unwrap().is_empty());
        assert!(queue.receive().await.unwrap().is_empty());
    }
}
