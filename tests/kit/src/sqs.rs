//! The SQS side of the processor's suites: the trigger driver the devstack runs too
//! (re-exported from [`gateway_processor::trigger`]), draining a queue with it, one Lambda
//! invocation with hand-made records, and a redelivery scheduler that records backoffs.

pub use gateway_processor::trigger::{
    BATCH_SIZE, Invocation, Received, TriggerQueue, invoke_once, record,
};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use gateway_processor::{Processor, handle};
use lambda_runtime::{Context, LambdaEvent};
use paygate_domain::ports::{QueueError, RedeliveryScheduler};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs the trigger on `queue` until a receive hands nothing over; returns every message
/// handed to the processor, in order. Fails after 50 invocations (a queue that never
/// drains).
pub async fn drain(queue: &dyn TriggerQueue, processor: &Processor) -> Vec<Received> {
    let mut seen = Vec::new();
    for _ in 0..50 {
        let invocation = invoke_deleting(queue, processor).await;
        if invocation.received.is_empty() {
            return seen;
        }
        seen.extend(invocation.received);
    }
    let counts: Vec<u32> = seen.iter().map(|m| m.receive_count).collect();
    panic!("the queue never drained: {counts:?}");
}

/// One trigger invocation ([`invoke_once`]) on `queue`, which must have deleted every
/// message the processor did not report as failed.
pub async fn invoke_deleting(queue: &dyn TriggerQueue, processor: &Processor) -> Invocation {
    let invocation = invoke_once(queue, processor)
        .await
        .expect("the queue answers");
    assert!(
        invocation.undeleted.is_empty(),
        "processed messages stay on the queue: {:?}",
        invocation.undeleted
    );
    invocation
}

/// One Lambda invocation of the processor with these records, through its handler.
pub async fn invoke(processor: &Processor, records: Vec<SqsMessage>) -> SqsBatchResponse {
    let mut event = SqsEvent::default();
    event.records = records;
    handle(processor, LambdaEvent::new(event, Context::default()))
        .await
        .expect("the handler never fails the whole batch")
}

/// Records every backoff the processor asks for; applies it on `then` when there is one
/// (else nowhere: a queue with visibility 0 shows a retried message again at once).
#[derive(Default)]
pub struct Redeliveries {
    asked: Mutex<Vec<Duration>>,
    then: Option<Arc<dyn RedeliveryScheduler>>,
}

impl Redeliveries {
    /// Records, applies nothing.
    pub fn recorded() -> Self {
        Self::default()
    }

    /// Records, then applies each backoff on `scheduler` (e.g. SQS).
    pub fn applied_on(scheduler: Arc<dyn RedeliveryScheduler>) -> Self {
        Self {
            asked: Mutex::default(),
            then: Some(scheduler),
        }
    }

    /// Every backoff asked for, in order.
    pub fn delays(&self) -> Vec<Duration> {
        self.asked.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl RedeliveryScheduler for Redeliveries {
    async fn redeliver_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.asked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(delay);
        match &self.then {
            Some(scheduler) => scheduler.redeliver_after(receipt, delay).await,
            None => Ok(()),
        }
    }
}
