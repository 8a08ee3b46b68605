//! An embedded queue with the SQS semantics the system relies on: messages become
//! visible after their delay; a received message is hidden for the visibility timeout and
//! comes back unless deleted; each delivery bumps its receive count; a message received
//! more than `max_receive_count` times moves to the dead-letter queue instead (redrive).

use crate::faults::{Call, FaultHook, Hook, Port, guarded};
use async_trait::async_trait;
use paygate_domain::ports::{
    Clock, DepositMessage, QueueError, QueueSender, RedeliveryScheduler, SystemClock,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
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

/// The messages, indexed so that a receive or a delete costs the same with a hundred
/// thousand messages waiting as with ten (the devstack under load holds that many).
#[derive(Default)]
struct Entries {
    next_seq: u64,
    /// In the order they were sent: receives hand out visible messages in this order.
    by_seq: BTreeMap<u64, Entry>,
    /// Every message by when it becomes visible (the next one's time).
    by_time: BTreeSet<(OffsetDateTime, u64)>,
    /// The messages out on a receipt.
    by_receipt: HashMap<Uuid, u64>,
    /// With a redrive: the messages received `max_receive_count` times, by when they
    /// become visible again (and so move to the dead-letter queue).
    exhausted: BTreeSet<(OffsetDateTime, u64)>,
}

impl Entries {
    fn insert(&mut self, entry: Entry) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_time.insert((entry.visible_at, seq));
        self.by_seq.insert(seq, entry);
    }

    fn remove(&mut self, seq: u64) -> Option<Entry> {
        let entry = self.by_seq.remove(&seq)?;
        self.by_time.remove(&(entry.visible_at, seq));
        self.exhausted.remove(&(entry.visible_at, seq));
        if let Some(receipt) = entry.receipt {
            self.by_receipt.remove(&receipt);
        }
        Some(entry)
    }

    /// Hides the message `seq` until `visible_at`.
    fn hide(&mut self, seq: u64, visible_at: OffsetDateTime) {
        let Some(entry) = self.by_seq.get_mut(&seq) else {
            return;
        };
        let before = (entry.visible_at, seq);
        entry.visible_at = visible_at;
        self.by_time.remove(&before);
        self.by_time.insert((visible_at, seq));
        if self.exhausted.remove(&before) {
            self.exhausted.insert((visible_at, seq));
        }
    }

    /// Takes out every message, in the order they were sent.
    fn drain(&mut self) -> Vec<Entry> {
        let entries = std::mem::take(&mut self.by_seq).into_values().collect();
        self.by_time.clear();
        self.by_receipt.clear();
        self.exhausted.clear();
        entries
    }
}

pub struct MemoryQueue {
    entries: Mutex<Entries>,
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
            entries: Mutex::new(Entries::default()),
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

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Up to `max` visible messages, each hidden for the visibility timeout.
    pub fn receive(&self, max: usize) -> Vec<QueuedMessage> {
        let now = self.clock.now();
        let mut entries = self.entries();
        if let Some(redrive) = &self.redrive {
            self.redrive_exhausted(&mut entries, redrive, now);
        }
        // Visible messages in the order they were sent; the ones skipped are out on a
        // receipt or delayed, few next to a backlog.
        let chosen: Vec<u64> = entries
            .by_seq
            .iter()
            .filter(|(_, e)| e.visible_at <= now)
            .take(max)
            .map(|(seq, _)| *seq)
            .collect();
        let hidden_until = now + self.visibility_timeout;
        let mut received = Vec::with_capacity(chosen.len());
        for seq in chosen {
            entries.hide(seq, hidden_until);
            let receipt = Uuid::new_v4();
            let Entries {
                by_seq,
                by_receipt,
                exhausted,
                ..
            } = &mut *entries;
            let entry = by_seq.get_mut(&seq).expect("chosen from the map");
            if let Some(stale) = entry.receipt.replace(receipt) {
                by_receipt.remove(&stale);
            }
            by_receipt.insert(receipt, seq);
            entry.receive_count += 1;
            if self
                .redrive
                .as_ref()
                .is_some_and(|r| entry.receive_count >= r.max_receive_count)
            {
                exhausted.insert((hidden_until, seq));
            }
            received.push(QueuedMessage {
                message_id: entry.message_id,
                receipt,
                body: entry.body.clone(),
                receive_count: entry.receive_count,
            });
        }
        received
    }

    /// Moves the visible messages already received `max_receive_count` times to the
    /// dead-letter queue, in the order they were sent.
    fn redrive_exhausted(&self, entries: &mut Entries, redrive: &Redrive, now: OffsetDateTime) {
        let mut due: Vec<u64> = entries
            .exhausted
            .iter()
            .take_while(|(visible_at, _)| *visible_at <= now)
            .map(|(_, seq)| *seq)
            .collect();
        if due.is_empty() {
            return;
        }
        due.sort_unstable();
        let mut dlq = redrive.dead_letters.entries();
        for seq in due {
            let Some(mut entry) = entries.remove(seq) else {
                continue;
            };
            tracing::warn!(deposit_id = %entry.body.deposit_id, "message moved to the dead-letter queue");
            entry.receipt = None;
            entry.receive_count = 0;
            entry.visible_at = now;
            dlq.insert(entry);
        }
    }

    /// Enqueues `body`, visible after `delay`.
    pub fn push(&self, body: DepositMessage, delay: Duration) {
        let visible_at = self.clock.now() + delay;
        self.entries().insert(Entry {
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
        match entries.by_receipt.get(&receipt).copied() {
            Some(seq) => entries.remove(seq).is_some(),
            None => false,
        }
    }

    /// Hides a received message for `delay` from now; `false` if the receipt is stale.
    pub fn change_visibility(&self, receipt: Uuid, delay: Duration) -> bool {
        let mut entries = self.entries();
        match entries.by_receipt.get(&receipt).copied() {
            Some(seq) => {
                entries.hide(seq, self.clock.now() + delay);
                true
            }
            None => false,
        }
    }

    /// Moves every message to `target` (the DLQ's redrive back to the source queue).
    pub fn move_all_to(&self, target: &MemoryQueue) -> usize {
        let moved = self.entries().drain();
        let count = moved.len();
        let now = self.clock.now();
        let mut target = target.entries();
        for mut entry in moved {
            entry.receipt = None;
            entry.receive_count = 0;
            entry.visible_at = now;
            target.insert(entry);
        }
        count
    }

    /// The messages held, visible or not (for listing a DLQ).
    pub fn peek(&self) -> Vec<DepositMessage> {
        self.entries()
            .by_seq
            .values()
            .map(|e| e.body.clone())
            .collect()
    }

    /// When the next message becomes visible (now, if one already is), if any is held.
    pub fn next_visible_at(&self) -> Option<OffsetDateTime> {
        self.entries().by_time.first().map(|(at, _)| *at)
    }

    /// Messages held, visible or not.
    pub fn len(&self) -> usize {
        self.entries().by_seq.len()
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
    async fn visible_messages_come_in_the_order_sent_and_a_receipt_works_once() {
        let queue = MemoryQueue::new(Duration::from_secs(30));
        let sent: Vec<DepositMessage> = (0..5).map(|_| message()).collect();
        for body in &sent {
            queue.send(body, Duration::ZERO).await.unwrap();
        }
        queue.push(message(), Duration::from_secs(60));
        let first = queue.receive(2);
        let ids = |got: &[QueuedMessage]| got.iter().map(|m| m.body.deposit_id).collect::<Vec<_>>();
        assert_eq!(ids(&first), [sent[0].deposit_id, sent[1].deposit_id]);
        let rest = queue.receive(10);
        assert_eq!(
            ids(&rest),
            sent[2..].iter().map(|m| m.deposit_id).collect::<Vec<_>>()
        );
        assert!(queue.delete(first[1].receipt));
        assert!(!queue.delete(first[1].receipt), "a receipt deletes once");
        assert!(!queue.change_visibility(first[1].receipt, Duration::ZERO));
        assert!(queue.change_visibility(first[0].receipt, Duration::ZERO));
        let again = queue.receive(10);
        assert_eq!(ids(&again), [sent[0].deposit_id]);
        assert_eq!(again[0].receive_count, 2);
        assert!(
            !queue.delete(first[0].receipt),
            "the first receipt went stale"
        );
        assert!(queue.delete(again[0].receipt));
        assert_eq!(queue.len(), 4);
        assert!(queue.next_visible_at().is_some());
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
