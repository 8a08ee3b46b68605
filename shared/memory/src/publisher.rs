//! An in-memory event bus: records what was published, in order, and can be switched to
//! fail (as EventBridge does when it is unreachable or refuses an entry).
//!
//! It refuses what EventBridge refuses before anything is recorded: a detail that is
//! not a JSON object, and an event over 256 KB (source + detail-type + detail, in UTF-8
//! bytes). A failed publish records nothing (EventBridge may have delivered part of it;
//! callers publish everything again either way).

use crate::faults::{Call, FaultHook, Hook, Port, guarded};
use async_trait::async_trait;
use paygate_domain::ports::{BusEvent, EventPublisher, PublishError};
use paygate_domain::service::publish::SOURCE;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// EventBridge's limit on one event (and one `PutEvents` request).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

#[derive(Default)]
pub struct MemoryPublisher {
    published: Mutex<Vec<BusEvent>>,
    failing: AtomicBool,
    calls: AtomicUsize,
    faults: Hook,
}

impl MemoryPublisher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every later publish first asks `faults` what to do (see [`crate::faults`]).
    pub fn with_faults(mut self, faults: Arc<dyn FaultHook>) -> Self {
        self.faults = faults.into();
        self
    }

    /// A publisher whose every publish fails until [`set_failing(false)`](Self::set_failing).
    pub fn failing() -> Self {
        let publisher = Self::default();
        publisher.set_failing(true);
        publisher
    }

    /// While `true`, every publish fails with a [`PublishError`] and records nothing.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn published_guard(&self) -> std::sync::MutexGuard<'_, Vec<BusEvent>> {
        self.published.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Everything published so far, oldest first.
    pub fn published(&self) -> Vec<BusEvent> {
        self.published_guard().clone()
    }

    /// Everything published so far, oldest first, forgetting it.
    pub fn take(&self) -> Vec<BusEvent> {
        std::mem::take(&mut *self.published_guard())
    }

    /// The published events of one detail-type, oldest first.
    pub fn of_type(&self, detail_type: &str) -> Vec<BusEvent> {
        self.published_guard()
            .iter()
            .filter(|e| e.detail_type == detail_type)
            .cloned()
            .collect()
    }

    /// How many times `publish` was called (failed calls and empty ones included).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn len(&self) -> usize {
        self.published_guard().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl EventPublisher for MemoryPublisher {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(PublishError("memory bus switched to fail".into()));
        }
        guarded(
            &*self.faults,
            Call::write(Port::Publisher, "publish"),
            async { self.record(events) },
        )
        .await
    }
}

impl MemoryPublisher {
    /// Checks what EventBridge checks, then records everything or nothing.
    fn record(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        for (index, event) in events.iter().enumerate() {
            if !event.detail.is_object() {
                return Err(PublishError(format!(
                    "event {index} ({}): the detail must be a JSON object",
                    event.detail_type
                )));
            }
            let size = SOURCE.len() + event.detail_type.len() + event.detail.to_string().len();
            if size > MAX_EVENT_BYTES {
                return Err(PublishError(format!(
                    "event {index} ({}) is {size} bytes, over EventBridge's {MAX_EVENT_BYTES}",
                    event.detail_type
                )));
            }
        }
        self.published_guard().extend(events.iter().cloned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> BusEvent {
        BusEvent {
            detail_type: "DepositSucceeded".into(),
            detail: serde_json::json!({ "event_id": format!("e{n}") }),
        }
    }

    #[tokio::test]
    async fn a_failing_bus_records_nothing_until_switched_back() {
        let bus = MemoryPublisher::failing();
        assert!(bus.publish(&[event(1)]).await.is_err());
        assert!(bus.is_empty());
        bus.set_failing(false);
        bus.publish(&[event(1), event(2)]).await.unwrap();
        assert_eq!(bus.published(), vec![event(1), event(2)]);
        assert_eq!(bus.calls(), 2);
        assert_eq!(bus.take().len(), 2);
        assert!(bus.is_empty());
    }

    #[tokio::test]
    async fn a_refused_event_refuses_the_whole_publish() {
        let bus = MemoryPublisher::new();
        let not_an_object = BusEvent {
            detail_type: "DepositFailed".into(),
            detail: serde_json::json!("text"),
        };
        assert!(bus.publish(&[event(1), not_an_object]).await.is_err());
        assert!(bus.is_empty());
    }
}
