//! An embedded queue with SQS's delivery semantics that matter here: messages become
//! visible after their delay, a received message is hidden for the visibility timeout
//! and comes back unless deleted, and the receive count goes up on each delivery.

use async_trait::async_trait;
use paygate_domain::ports::{DepositMessage, QueueError, QueueSender};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub message_id: Uuid,
    pub receipt: Uuid,
    pub body: DepositMessage,
    /// 1 on the first delivery.
    pub receive_count: u32,
}

struct Entry {
    message_id: Uuid,
    body: DepositMessage,
    visible_at: Instant,
    receipt: Option<Uuid>,
    receive_count: u32,
}

pub struct MemoryQueue {
    entries: Mutex<Vec<Entry>>,
    visibility_timeout: Duration,
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
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Up to `max` visible messages, each hidden for the visibility timeout.
    pub fn receive(&self, max: usize) -> Vec<QueuedMessage> {
        let now = Instant::now();
        let mut entries = self.entries();
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

    /// Deletes a received message; `false` if the receipt is stale.
    pub fn delete(&self, receipt: Uuid) -> bool {
        let mut entries = self.entries();
        let before = entries.len();
        entries.retain(|e| e.receipt != Some(receipt));
        entries.len() != before
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
        self.entries().push(Entry {
            message_id: Uuid::new_v4(),
            body: message.clone(),
            visible_at: Instant::now() + delay,
            receipt: None,
            receive_count: 0,
        });
        Ok(())
    }
}
