//! The one way a stream changes: load, decide, append at the version decided on. If
//! another writer got there first, decide again on fresh state, a bounded number of
//! times; if the append's outcome is unknown (its answer was lost), read again and decide
//! again — every decision is a function of the state, so one that already committed
//! decides nothing the second time.

use crate::deposit::TransitionError;
use crate::deposit::{AnomalyKind, Deposit, DepositEvent, RecordedEvent, SCHEMA_VERSION};
use crate::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyRecord, IdempotencyState, RefundSnapshot,
};
use crate::ids::{CorrelationId, DepositId, EventId, MerchantId, RefundId};
use crate::ledger::{self, BalanceInsufficient};
use crate::ports::{
    AppendBatch, AppendError, Clock, EventStore, ExternalLookup, IdGenerator, StoreError,
};
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("deposit {0} does not exist")]
    NotFound(DepositId),
    #[error(transparent)]
    Rejected(#[from] TransitionError),
    #[error("gave up after {0} version conflicts")]
    Contended(u32),
    /// The idempotency key the decision claimed is already claimed.
    #[error("the idempotency key is already claimed")]
    KeyTaken,
    /// What the decision moves would overdraw the merchant's balance.
    #[error(transparent)]
    BalanceInsufficient(#[from] BalanceInsufficient),
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

impl CommandPorts<'_> {
    /// Waits before try number `attempt + 1`, with jitter.
    async fn back_off(&self, retry: &RetryPolicy, attempt: u32) {
        let random = self.ids.new_uuid().as_u128() as u64;
        self.clock.sleep(retry.delay(attempt, random)).await;
    }
}

/// Where a command's events come from and why.
#[derive(Debug, Clone, Copy)]
pub struct Cause<'a> {
    pub correlation: &'a CorrelationId,
    /// The event or message that caused them, when there is one.
    pub causation: Option<&'a str>,
}

/// An idempotency key claimed in the same append as the events (see [`IdempotencyRecord`];
/// the response is the view after the events).
#[derive(Debug, Clone)]
pub struct Claim {
    pub merchant: MerchantId,
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
    pub state: IdempotencyState,
    pub refund: Option<RefundSnapshot>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What a decision wants recorded, and what it concluded (returned to the caller as it
/// was decided on the state the events were appended to).
#[derive(Debug, Clone)]
pub struct Decision<T> {
    pub events: Vec<DepositEvent>,
    pub claim: Option<Claim>,
    pub outcome: T,
}

impl<T> Decision<T> {
    /// Nothing to record.
    pub fn nothing(outcome: T) -> Self {
        Self {
            events: Vec::new(),
            claim: None,
            outcome,
        }
    }

    pub fn record(events: Vec<DepositEvent>, outcome: T) -> Self {
        Self {
            events,
            claim: None,
            outcome,
        }
    }

    pub fn with_claim(mut self, claim: Claim) -> Self {
        self.claim = Some(claim);
        self
    }
}

/// A decision that records what `settle` makes of an answer on the state it is decided
/// on. The refund that would reverse an unwanted charge gets its id here, once, so a
/// decision made again on fresh state names the same refund.
pub(super) fn settlement<F>(
    ids: &dyn IdGenerator,
    settle: F,
) -> impl FnMut(&Deposit) -> Result<Decision<()>, TransitionError> + use<F>
where
    F: Fn(&Deposit, RefundId) -> Vec<DepositEvent>,
{
    let reversal = RefundId(ids.new_uuid());
    move |deposit| Ok(Decision::record(settle(deposit, reversal), ()))
}

/// After a command: the state, what the decision concluded, and whether this call
/// appended anything.
#[derive(Debug, Clone)]
pub struct Executed<T> {
    pub deposit: Deposit,
    pub outcome: T,
    pub appended: bool,
}

/// The state the first decision is taken on.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// Read the stream first.
    Load(DepositId),
    /// A state the caller just read (saves a read; a stale one only costs a retry).
    From(&'a Deposit),
}

/// Runs `decide` on the deposit's state and appends what it returns. A decision with no
/// events appends nothing (e.g. a redelivered message whose work is already recorded).
pub async fn execute<T, F>(
    ports: &CommandPorts<'_>,
    start: Start<'_>,
    cause: Cause<'_>,
    retry: RetryPolicy,
    mut decide: F,
) -> Result<Executed<T>, CommandError>
where
    F: FnMut(&Deposit) -> Result<Decision<T>, TransitionError>,
{
    let (deposit_id, mut known) = match start {
        Start::Load(id) => (id, None),
        Start::From(deposit) => (deposit.id, Some(deposit.clone())),
    };
    for attempt in 0..retry.max_attempts {
        let current = match known.take() {
            Some(deposit) => deposit,
            None => load(ports.store, deposit_id).await?,
        };
        let decision = decide(&current)?;
        if decision.events.is_empty() {
            return Ok(Executed {
                deposit: current,
                outcome: decision.outcome,
                appended: false,
            });
        }
        let (batch, next) = batch(
            ports,
            Some(&current),
            deposit_id,
            decision.events,
            decision.claim,
            cause,
        )?;
        match ports.store.append(batch.clone()).await {
            Ok(()) => {
                log_anomalies(&batch.events);
                crate::metrics::record_appended(&next, &batch.events);
                return Ok(Executed {
                    deposit: next,
                    outcome: decision.outcome,
                    appended: true,
                });
            }
            Err(AppendError::VersionConflict) => {
                metrics::counter!(crate::metrics::STORE_CONFLICTS).increment(1);
                ports.back_off(&retry, attempt).await;
            }
            Err(AppendError::Ambiguous(error)) => {
                // Read again: if it committed, the next decision sees it and decides nothing.
                tracing::warn!(%deposit_id, %error, "append outcome unknown; reading again");
                ports.back_off(&retry, attempt).await;
            }
            Err(AppendError::IdempotencyKeyTaken) => return Err(CommandError::KeyTaken),
            Err(AppendError::BalanceInsufficient(short)) => {
                // A store may judge the balance before the stream's version: a decision
                // taken on a stale stream is taken again before the balance is blamed.
                let fresh = load(ports.store, deposit_id).await?;
                if fresh.version == current.version {
                    return Err(short.into());
                }
                known = Some(fresh);
            }
            Err(AppendError::Store(error)) => return Err(error.into()),
        }
    }
    Err(CommandError::Contended(retry.max_attempts))
}

/// Starts a new stream with `first` (a `DepositRequested`) and the claim, atomically.
/// An unknown outcome is resolved by sending the same append again (a fresh stream:
/// if the first one committed, the second conflicts), at most `retry.max_attempts`
/// times. `Ok(state)` once it is known to be stored.
pub async fn create(
    ports: &CommandPorts<'_>,
    deposit_id: DepositId,
    first: DepositEvent,
    claim: Claim,
    cause: Cause<'_>,
    retry: RetryPolicy,
) -> Result<Deposit, CommandError> {
    let (batch, created) = batch(ports, None, deposit_id, vec![first], Some(claim), cause)?;
    let mut unknown = false;
    for attempt in 0..retry.max_attempts {
        match ports.store.append(batch.clone()).await {
            Ok(()) => {
                crate::metrics::record_appended(&created, &batch.events);
                return Ok(created);
            }
            // Only our own earlier try can have written this fresh stream: check it is
            // there before saying so (a refused try may have been the unknown one). A
            // balance refused after an unknown try may be our own reservation's doing.
            Err(refused @ (AppendError::VersionConflict | AppendError::BalanceInsufficient(_)))
                if unknown =>
            {
                match ports.store.load(deposit_id).await {
                    Ok(stream) if !stream.is_empty() => {
                        crate::metrics::record_appended(&created, &batch.events);
                        return Ok(created);
                    }
                    Ok(_) => match refused {
                        AppendError::BalanceInsufficient(short) => return Err(short.into()),
                        _ => ports.back_off(&retry, attempt).await,
                    },
                    Err(error) => {
                        tracing::warn!(%deposit_id, %error, "could not read back the new stream");
                        ports.back_off(&retry, attempt).await;
                    }
                }
            }
            Err(AppendError::VersionConflict) => {
                return Err(CommandError::Corrupt(format!(
                    "fresh deposit id {deposit_id} already has events"
                )));
            }
            Err(AppendError::IdempotencyKeyTaken) => return Err(CommandError::KeyTaken),
            Err(AppendError::BalanceInsufficient(short)) => return Err(short.into()),
            Err(AppendError::Ambiguous(error)) => {
                tracing::warn!(%deposit_id, %error, "append outcome unknown; sending it again");
                unknown = true;
                ports.back_off(&retry, attempt).await;
            }
            Err(AppendError::Store(error)) if unknown => {
                // Still unknown: try again while we may.
                tracing::warn!(%deposit_id, %error, "append outcome still unknown");
                ports.back_off(&retry, attempt).await;
            }
            Err(AppendError::Store(error)) => return Err(error.into()),
        }
    }
    Err(CommandError::Store(StoreError(format!(
        "the outcome of creating {deposit_id} stayed unknown"
    ))))
}

async fn load(store: &dyn EventStore, deposit_id: DepositId) -> Result<Deposit, CommandError> {
    let stream = store.load(deposit_id).await?;
    if stream.is_empty() {
        return Err(CommandError::NotFound(deposit_id));
    }
    Deposit::replay(&stream).map_err(|e| CommandError::Corrupt(e.to_string()))
}

/// Everything one command writes (its events in their envelopes, the view, the claim,
/// the lookups and the ledger movements), and the state after it. The one place events get their envelope.
fn batch(
    ports: &CommandPorts<'_>,
    current: Option<&Deposit>,
    deposit_id: DepositId,
    events: Vec<DepositEvent>,
    claim: Option<Claim>,
    cause: Cause<'_>,
) -> Result<(AppendBatch, Deposit), TransitionError> {
    let now = ports.clock.now();
    let expected_version = current.map_or(0, |d| d.version);
    let mut next: Option<Deposit> = current.cloned();
    let mut recorded = Vec::with_capacity(events.len());
    let mut movements = Vec::new();
    for (offset, event) in events.into_iter().enumerate() {
        let event = RecordedEvent {
            deposit_id,
            version: expected_version + 1 + offset as u64,
            event_id: EventId(ports.ids.new_uuid()),
            schema_version: SCHEMA_VERSION,
            occurred_at: now,
            correlation_id: match next.as_ref() {
                Some(deposit) => deposit.correlation_for(&event, cause.correlation),
                None => cause.correlation.clone(),
            },
            causation_id: cause.causation.map(str::to_owned),
            event,
        };
        let after = match next.as_mut() {
            Some(deposit) => {
                deposit.apply(&event)?;
                deposit
            }
            None => next.insert(Deposit::start(&event)?),
        };
        movements.extend(ledger::movement(after, &event));
        recorded.push(event);
    }
    let next = next.ok_or(TransitionError::NotStarted)?;
    let view = next.view();
    let idempotency = claim.map(|claim| IdempotencyRecord {
        merchant_id: claim.merchant,
        key: claim.key,
        fingerprint: claim.fingerprint,
        deposit_id,
        state: claim.state,
        response: view.clone(),
        refund: claim.refund,
        created_at: claim.created_at,
        expires_at: claim.expires_at,
    });
    let lookups = lookups_for(&next, &recorded);
    let outbox = super::publish::outbox(&next, &recorded);
    let batch = AppendBatch {
        deposit_id,
        expected_version,
        events: recorded,
        view,
        idempotency,
        lookups,
        ledger: movements,
        outbox,
    };
    Ok((batch, next))
}

/// Webhooks name a gateway's payment id; every payment id a deposit learns (its own
/// submission, a stray charge) records where it leads, in the same transaction.
fn lookups_for(deposit: &Deposit, events: &[RecordedEvent]) -> Vec<ExternalLookup> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            DepositEvent::DepositSubmitted {
                gateway,
                external_id,
                ..
            } => Some((gateway.clone(), external_id.clone())),
            DepositEvent::PaymentAnomalyDetected { anomaly } => anomaly
                .external_id
                .clone()
                .map(|external_id| (anomaly.gateway.clone(), external_id)),
            _ => None,
        })
        .map(|(gateway, external_id)| ExternalLookup {
            gateway,
            external_id,
            deposit_id: deposit.id,
            merchant_id: deposit.merchant_id.clone(),
        })
        .collect()
}

/// Money that moved unexpectedly is never only in the stream: every anomaly is also an
/// error line carrying `anomaly`, which the log metric filter counts and alarms on.
fn log_anomalies(events: &[RecordedEvent]) {
    for recorded in events {
        if let DepositEvent::PaymentAnomalyDetected { anomaly } = &recorded.event {
            let refunded = matches!(
                anomaly.kind,
                AnomalyKind::UnexpectedCharge
                    | AnomalyKind::SuccessAfterFailure
                    | AnomalyKind::AmountMismatch
            );
            tracing::error!(
                anomaly = anomaly.kind.as_str(),
                deposit_id = %recorded.deposit_id,
                gateway = %anomaly.gateway,
                external_id = anomaly.external_id.as_deref().unwrap_or(""),
                refunded,
                "payment anomaly: {}",
                anomaly.detail
            );
        }
    }
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
