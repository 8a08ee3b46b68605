//! An embedded queue with the SQS semantics the system relies on: messages become
//! visible after their delay; a received message is hidden for the visibility timeout and
//! comes back unless deleted; each delivery bumps its receive count; a message received
//! more than `max_receive_count` times moves to the dead-letter queue instead (redrive).

use crate::faults::{Call, FaultHook, Hook, Port, guarded};
use async_trait::async_trait;
use paygate_domain::ports::{
    Clock, DepositMessage, QueueError, QueueSender, RedeliveryScheduler, SystemClock,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub message_id: Uuid,
    pub receipt: Uuid,
    pub body: DepositMessage,
    /// 1 on the first delivery.
    pub receive_count: u32,
}

#[derive(Clone)]
struct Entry {
    message_id: Uuid,
    body: DepositMessage,
    visible_at: OffsetDateTime,
    receipt: Option<Uuid>,
    receive_count: u32,
}

struct Redrive {
    dead_letters: Arc<MemoryQueue>,
    max_receive_count: u32,
}

pub struct MemoryQueue {
    entries: Mutex<Vec<Entry>>,
    visibility_timeout: Duration,
    redrive: Option<Redrive>,
    clock: Arc<dyn Clock>,
    faults: Hook,
}

impl Default for MemoryQueue {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl MemoryQueue {
    pub fn new(visibility_timeout: Duration) -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            visibility_timeout,
            redrive: None,
            clock: Arc::new(SystemClock),
            faults: Hook::default(),
        }
    }

    /// Delays and visibility timeouts on `clock` instead of the wall clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Every later send first asks `faults` what to do (see [`crate::faults`]).
    pub fn with_faults(mut self, faults: Arc<dyn FaultHook>) -> Self {
        self.faults = faults.into();
        self
    }

    /// Moves messages received more than `max_receive_count` times to `dead_letters`.
    pub fn with_redrive(mut self, dead_letters: Arc<MemoryQueue>, max_receive_count: u32) -> Self {
        self.redrive = Some(Redrive {
            dead_letters,
            max_receive_count,
        });
        self
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Up to `max` visible messages, each hidden for the visibility timeout.
    pub fn receive(&self, max: usize) -> Vec<QueuedMessage> {
        let now = self.clock.now();
        let mut entries = self.entries();
        if let Some(redrive) = &self.redrive {
            let (dead, live): (Vec<Entry>, Vec<Entry>) = entries
                .drain(..)
                .partition(|e| e.visible_at <= now && e.receive_count >= redrive.max_receive_count);
            *entries = live;
            let mut dlq = redrive.dead_letters.entries();
            for mut entry in dead {
                tracing::warn!(deposit_id = %entry.body.deposit_id, "message moved to the dead-letter queue");
                entry.receipt = None;
                entry.receive_count = 0;
                entry.visible_at = now;
                dlq.push(entry);
            }
        }
        entries
            .iter_mut()
            .filter(|e| e.visible_at <= now)
            .take(max)
            .map(|entry| {
                let receipt = Uuid::new_v4();
                entry.receipt = Some(receipt);
                entry.receive_count += 1;
                entry.visible_at = now + self.visibility_timeout;
                QueuedMessage {
                    message_id: entry.message_id,
                    receipt,
                    body: entry.body.clone(),
                    receive_count: entry.receive_count,
                }
            })
            .collect()
    }

    /// Enqueues `body`, visible after `delay`.
    pub fn push(&self, body: DepositMessage, delay: Duration) {
        let visible_at = self.clock.now() + delay;
        self.entries().push(Entry {
            message_id: Uuid::new_v4(),
            body,
            visible_at,
            receipt: None,
            receive_count: 0,
        });
    }

    /// Deletes a received message; `false` if the receipt is stale.
    pub fn delete(&self, receipt: Uuid) -> bool {
        let mut entries = self.entries();
        let before = entries.len();
        entries.retain(|e| e.receipt != Some(receipt));
        entries.len() != before
    }

    /// Hides a received message for `delay` from now; `false` if the receipt is stale.
    pub fn change_visibility(&self, receipt: Uuid, delay: Duration) -> bool {
        let mut entries = self.entries();
        match entries.iter_mut().find(|e| e.receipt == Some(receipt)) {
            Some(entry) => {
                entry.visible_at = self.clock.now() + delay;
                true
            }
            None => false,
        }
    }

    /// Moves every message to `target` (the DLQ's redrive back to the source queue).
    pub fn move_all_to(&self, target: &MemoryQueue) -> usize {
        let moved: Vec<Entry> = self.entries().drain(..).collect();
        let count = moved.len();
        let now = self.clock.now();
        target.entries().extend(moved.into_iter().map(|mut e| {
            e.receipt = None;
            e.receive_count = 0;
            e.visible_at = now;
            e
        }));
        count
    }

    /// The messages held, visible or not (for listing a DLQ).
    pub fn peek(&self) -> Vec<DepositMessage> {
        self.entries().iter().map(|e| e.body.clone()).collect()
    }

    /// When the next message becomes visible (now, if one already is), if any is held.
    pub fn next_visible_at(&self) -> Option<OffsetDateTime> {
        self.entries().iter().map(|e| e.visible_at).min()
    }

    /// Messages held, visible or not.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl QueueSender for MemoryQueue {
    async fn send(&self, message: &DepositMessage, delay: Duration) -> Result<(), QueueError> {
        let call = Call::write(Port::Queue, "send").about(message.deposit_id);
        guarded(&*self.faults, call, async {
            self.push(message.clone(), delay);
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl RedeliveryScheduler for MemoryQueue {
    async fn redeliver_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        let receipt =
            Uuid::parse_str(receipt).map_err(|_| QueueError("malformed receipt".into()))?;
        if self.change_visibility(receipt, delay) {
            Ok(())
        } else {
            Err(QueueError("stale receipt".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paygate_domain::{CorrelationId, DepositId, MerchantId};

    fn message() -> DepositMessage {
        DepositMessage {
            deposit_id: DepositId(Uuid::now_v7()),
            merchant_id: MerchantId("m".into()),
            correlation_id: CorrelationId("c".into()),
        }
    }

    #[tokio::test]
    async fn a_message_received_too_often_moves_to_the_dead_letter_queue() {
        let dlq = Arc::new(MemoryQueue::new(Duration::ZERO));
        let queue = MemoryQueue::new(Duration::ZERO).with_redrive(dlq.clone(), 2);
        queue.send(&message(), Duration::ZERO).await.unwrap();
        assert_eq!(queue.receive(10)[0].receive_count, 1);
        assert_eq!(queue.receive(10)[0].receive_count, 2);
        assert!(
            queue.receive(10).is_empty(),
            "the third receive redrives instead"
        );
        assert_eq!((queue.len(), dlq.len()), (0, 1));
        assert_eq!(dlq.move_all_to(&queue), 1);
        assert_eq!(queue.receive(10)[0].receive_count, 1);
    }

    #[tokio::test]
    async fn a_delayed_redelivery_stays_hidden_until_its_time() {
        let queue = MemoryQueue::new(Duration::ZERO);
        queue.send(&message(), Duration::ZERO).await.unwrap();
        let received = queue.receive(1).remove(0);
        queue
            .redeliver_after(&received.receipt.to_string(), Duration::from_secs(60))
            .await
            .unwrap();
        assert!(queue.receive(1).is_empty());
        assert!(queue.delete(received.receipt));
    }
}
