//! Running a command against a stream with optimistic concurrency: load, decide, append
//! at the version decided on; if another writer got there first, decide again on fresh
//! state, a bounded number of times.

use crate::deposit::{Deposit, DepositEvent, RecordedEvent, SCHEMA_VERSION, TransitionError};
use crate::ids::{CorrelationId, DepositId, EventId};
use crate::ports::{
    AppendBatch, AppendError, Clock, EventStore, ExternalLookup, IdGenerator, StoreError,
};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("deposit {0} does not exist")]
    NotFound(DepositId),
    #[error(transparent)]
    Rejected(#[from] TransitionError),
    #[error("gave up after {0} version conflicts")]
    Contended(u32),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored stream is unreadable: {0}")]
    Corrupt(String),
}

/// How often to re-run a command that lost a race, and how long to wait between tries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Enough for dozens of writers racing on one stream.
    fn default() -> Self {
        Self {
            max_attempts: 100,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(100),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with full jitter, from a caller-supplied random number so the
    /// domain stays deterministic in tests.
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let cap_ms = cap.as_millis().max(1) as u64;
        Duration::from_millis(random % cap_ms + 1)
    }
}

pub struct CommandPorts<'a> {
    pub store: &'a dyn EventStore,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn IdGenerator,
}

/// Runs `decide` on the deposit's current state and appends the events it returns.
/// Returns the state after them. `decide` returning no events is a no-op (e.g. a
/// redelivered message whose work is already recorded).
pub async fn execute<F>(
    ports: &CommandPorts<'_>,
    deposit_id: DepositId,
    correlation: &CorrelationId,
    causation: Option<&str>,
    retry: RetryPolicy,
    decide: F,
) -> Result<Deposit, CommandError>
where
    F: Fn(&Deposit) -> Result<Vec<DepositEvent>, TransitionError>,
{
    for attempt in 0..retry.max_attempts {
        let stream = ports.store.load(deposit_id).await?;
        if stream.is_empty() {
            return Err(CommandError::NotFound(deposit_id));
        }
        let current = Deposit::replay(&stream).map_err(|e| CommandError::Corrupt(e.to_string()))?;
        let events = decide(&current)?;
        if events.is_empty() {
            return Ok(current);
        }
        let mut next = current.clone();
        let now = ports.clock.now();
        let mut recorded = Vec::with_capacity(events.len());
        for (offset, event) in events.into_iter().enumerate() {
            let event = RecordedEvent {
                deposit_id,
                version: current.version + 1 + offset as u64,
                event_id: EventId(ports.ids.new_uuid()),
                schema_version: SCHEMA_VERSION,
                occurred_at: now,
                correlation_id: correlation.clone(),
                causation_id: causation.map(str::to_owned),
                event,
            };
            next.apply(&event)?;
            recorded.push(event);
        }
        let lookups = lookups_for(&next, &recorded);
        let batch = AppendBatch {
            deposit_id,
            expected_version: current.version,
            events: recorded,
            view: next.view(),
            idempotency: None,
            lookups,
        };
        match ports.store.append(batch).await {
            Ok(()) => return Ok(next),
            Err(AppendError::VersionConflict) => {
                let random = ports.ids.new_uuid().as_u128() as u64;
                tokio::time::sleep(retry.delay(attempt, random)).await;
            }
            Err(AppendError::IdempotencyKeyTaken) => {
                return Err(CommandError::Corrupt("unexpected idempotency claim".into()));
            }
            Err(AppendError::Store(e) | AppendError::Ambiguous(e)) => return Err(e.into()),
        }
    }
    Err(CommandError::Contended(retry.max_attempts))
}

/// Webhooks name a gateway's payment id; each submission records where it leads, in the
/// same transaction as the event.
fn lookups_for(deposit: &Deposit, events: &[RecordedEvent]) -> Vec<ExternalLookup> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            DepositEvent::DepositSubmitted {
                gateway,
                external_id,
                ..
            } => Some(ExternalLookup {
                gateway: gateway.clone(),
                external_id: external_id.clone(),
                deposit_id: deposit.id,
                merchant_id: deposit.merchant_id.clone(),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_capped() {
        let policy = RetryPolicy::default();
        assert!(policy.delay(0, u64::MAX) <= Duration::from_millis(2));
        assert!(policy.delay(30, u64::MAX) <= policy.max_delay + Duration::from_millis(1));
        assert!(policy.delay(5, 0) >= Duration::from_millis(1));
    }
}
