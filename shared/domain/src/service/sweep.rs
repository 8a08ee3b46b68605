//! The recovery sweeper (run by the scheduled probe): nothing stays stuck, nothing is
//! forgotten after a crash. It finds deposits through the sweep index (never a scan):
//!
//! * `pending` for too long: the intake crashed between its write and its send, or the
//!   message was lost → the message is sent again (processing is idempotent);
//! * `processing` with an attempt open for too long (an unclear answer nobody settled) →
//!   the gateway is asked about that attempt and the answer recorded;
//! * `submitted` for too long (the webhook never came) → the gateway is asked for the
//!   payment's status and a final answer recorded;
//! * events not yet on the bus → published.
//!
//! Each run is bounded in work (`limit` per kind) and time (`deadline`), and safe to run
//! twice at once: every write is a conditional append decided on fresh state.

use super::command::{CommandPorts, RetryPolicy, execute};
use super::publish::{PublishPorts, flush};
use crate::deposit::{Deposit, DepositEvent, DepositStatus, DepositView, FailureReason, SweepKind};
use crate::gateways::Gateway;
use crate::ids::CorrelationId;
use crate::ports::gateway::{PaymentState, StatusOutcome};
use crate::ports::{
    Clock, ConnectorDirectory, DepositMessage, EventPublisher, EventStore, GatewayRegistry,
    IdGenerator, QueueSender, StoreError, SweepIndex,
};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct SweepPolicy {
    /// A deposit `pending` this long lost its message. Default 15 min: longer than a
    /// message's whole retry schedule, so a deposit whose message is merely backing off
    /// (no gateway available yet) is not sent twice.
    pub pending_after: time::Duration,
    /// An attempt open this long is settled by asking the gateway. Default 5 min.
    pub open_attempt_after: time::Duration,
    /// A deposit `submitted` this long without a webhook is reconciled. Default 10 min.
    pub submitted_after: time::Duration,
    /// Events unpublished this long are published by the sweeper. Default 30 s.
    pub unpublished_after: time::Duration,
    /// At most this many deposits of each kind per run. Default 100.
    pub limit: usize,
}

impl Default for SweepPolicy {
    fn default() -> Self {
        Self {
            pending_after: time::Duration::minutes(15),
            open_attempt_after: time::Duration::minutes(5),
            submitted_after: time::Duration::minutes(10),
            unpublished_after: time::Duration::seconds(30),
            limit: 100,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepSummary {
    pub requeued: usize,
    pub attempts_settled: usize,
    pub submitted_settled: usize,
    pub published: usize,
    pub failures: usize,
    /// The deadline came before all work was looked at.
    pub stopped_early: bool,
}

pub struct SweepPorts<'a> {
    pub store: &'a dyn EventStore,
    pub index: &'a dyn SweepIndex,
    pub registry: &'a dyn GatewayRegistry,
    pub connectors: &'a dyn ConnectorDirectory,
    pub queue: &'a dyn QueueSender,
    pub publisher: &'a dyn EventPublisher,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn IdGenerator,
}

pub async fn sweep(
    ports: &SweepPorts<'_>,
    policy: &SweepPolicy,
    deadline: Instant,
) -> Result<SweepSummary, StoreError> {
    let mut summary = SweepSummary::default();
    let now = ports.clock.now();
    let correlation = CorrelationId(format!("sweep-{}", ports.ids.new_uuid()));
    let gateways = ports.registry.list().await?;

    for view in ports
        .index
        .stale(SweepKind::Pending, now - policy.pending_after, policy.limit)
        .await?
    {
        if Instant::now() >= deadline {
            summary.stopped_early = true;
            return Ok(summary);
        }
        let message = DepositMessage {
            deposit_id: view.id,
            merchant_id: view.merchant_id.clone(),
            correlation_id: correlation.clone(),
        };
        match ports.queue.send(&message, Duration::ZERO).await {
            Ok(()) => {
                summary.requeued += 1;
                // Sent again: not again before another `pending_after` has passed.
                defer(ports, &view, now).await;
            }
            Err(error) => {
                tracing::warn!(deposit_id = %view.id, %error, "could not re-enqueue");
                summary.failures += 1;
            }
        }
    }

    let settle_kinds = [
        (SweepKind::Processing, policy.open_attempt_after),
        (SweepKind::Submitted, policy.submitted_after),
    ];
    for (kind, after) in settle_kinds {
        for view in ports.index.stale(kind, now - after, policy.limit).await? {
            if Instant::now() >= deadline {
                summary.stopped_early = true;
                return Ok(summary);
            }
            match settle(ports, &gateways, &view, &correlation).await {
                Ok(true) if kind == SweepKind::Processing => summary.attempts_settled += 1,
                Ok(true) => summary.submitted_settled += 1,
                // Left as it was: behind the deposits not looked at yet, so one the
                // gateway cannot settle (yet) never hides the others.
                Ok(false) => defer(ports, &view, now).await,
                Err(error) => {
                    tracing::warn!(deposit_id = %view.id, %error, "could not reconcile");
                    summary.failures += 1;
                    defer(ports, &view, now).await;
                }
            }
        }
    }

    let publish = PublishPorts {
        store: ports.store,
        index: ports.index,
        publisher: ports.publisher,
    };
    for pending in ports
        .index
        .unpublished(now - policy.unpublished_after, policy.limit)
        .await?
    {
        if Instant::now() >= deadline {
            summary.stopped_early = true;
            return Ok(summary);
        }
        match flush(&publish, pending.deposit_id).await {
            Ok(count) => summary.published += count,
            Err(error) => {
                tracing::warn!(deposit_id = %pending.deposit_id, %error, "could not publish");
                summary.failures += 1;
            }
        }
    }
    Ok(summary)
}

/// Marks `view` as looked at and left at `now` (see [`SweepIndex::defer`]). A failure
/// only costs the deposit its place in the queue, so it is logged, not counted.
async fn defer(ports: &SweepPorts<'_>, view: &DepositView, now: time::OffsetDateTime) {
    if let Err(error) = ports.index.defer(view.id, view.version, now).await {
        tracing::warn!(deposit_id = %view.id, %error, "could not defer");
    }
}

/// Asks the gateway about the deposit's latest attempt and records a final answer.
/// `Ok(true)` when something was recorded.
async fn settle(
    ports: &SweepPorts<'_>,
    gateways: &[Gateway],
    view: &DepositView,
    correlation: &CorrelationId,
) -> Result<bool, crate::service::CommandError> {
    let stream = ports.store.load(view.id).await?;
    let deposit = Deposit::replay(&stream)
        .map_err(|e| crate::service::CommandError::Corrupt(e.to_string()))?;
    let Some(attempt) = deposit.attempts.last().cloned() else {
        return Ok(false);
    };
    let open = deposit
        .open_attempt()
        .is_some_and(|a| a.number == attempt.number);
    if !(open || deposit.status == DepositStatus::Submitted) {
        return Ok(false);
    }
    let Some(connector) = gateways
        .iter()
        .find(|g| g.config.name == attempt.gateway)
        .map(|g| ports.connectors.connector(&g.config))
    else {
        return Ok(false);
    };
    let answer = connector
        .payment_status(&attempt.idempotency_key, None)
        .await;
    let number = attempt.number;
    let gateway = attempt.gateway.clone();
    // Whether this run's final decision appended anything (another run may have just
    // settled it, in which case execute returns fresh state and nothing of ours).
    let appended = std::sync::atomic::AtomicBool::new(false);
    let decide = |d: &Deposit| -> Result<Vec<DepositEvent>, crate::deposit::TransitionError> {
        let events = settlement(d, &answer, number, &gateway);
        appended.store(!events.is_empty(), std::sync::atomic::Ordering::SeqCst);
        Ok(events)
    };
    let command = CommandPorts {
        store: ports.store,
        clock: ports.clock,
        ids: ports.ids,
    };
    let after = execute(
        &command,
        view.id,
        correlation,
        Some("sweeper"),
        RetryPolicy::default(),
        decide,
    )
    .await?;
    let ours = appended.load(std::sync::atomic::Ordering::SeqCst);
    if ours && after.status == DepositStatus::Processing {
        // Routing continues through the processor, like any other delivery.
        let message = DepositMessage {
            deposit_id: view.id,
            merchant_id: view.merchant_id.clone(),
            correlation_id: correlation.clone(),
        };
        if let Err(error) = ports.queue.send(&message, Duration::ZERO).await {
            tracing::warn!(deposit_id = %view.id, %error, "could not re-enqueue after closing the attempt");
        }
    }
    Ok(ours)
}

/// What to record for a deposit given what its gateway says about `attempt`.
fn settlement(
    d: &Deposit,
    answer: &StatusOutcome,
    number: u32,
    gateway: &str,
) -> Vec<DepositEvent> {
    let still_open = d.open_attempt().is_some_and(|a| a.number == number);
    let failed = |code: &str| FailureReason::new(code, "the gateway reports the payment failed");
    match (answer, d.status) {
        (
            StatusOutcome::Found {
                external_id, state, ..
            },
            DepositStatus::Processing,
        ) if still_open => match state {
            PaymentState::Pending => vec![DepositEvent::DepositSubmitted {
                attempt: number,
                gateway: gateway.to_owned(),
                external_id: external_id.clone(),
            }],
            PaymentState::Succeeded => vec![
                DepositEvent::DepositSubmitted {
                    attempt: number,
                    gateway: gateway.to_owned(),
                    external_id: external_id.clone(),
                },
                DepositEvent::DepositSucceeded {
                    external_id: external_id.clone(),
                },
            ],
            PaymentState::Failed { code } | PaymentState::Declined { code } => vec![
                DepositEvent::AttemptFailed {
                    attempt: number,
                    reason: failed(code),
                    retryable: false,
                },
                DepositEvent::DepositFailed {
                    reason: failed(code),
                },
            ],
        },
        (
            StatusOutcome::Found {
                external_id, state, ..
            },
            DepositStatus::Submitted,
        ) => match state {
            PaymentState::Succeeded => vec![DepositEvent::DepositSucceeded {
                external_id: external_id.clone(),
            }],
            PaymentState::Failed { code } | PaymentState::Declined { code } => {
                vec![DepositEvent::DepositFailed {
                    reason: failed(code),
                }]
            }
            PaymentState::Pending => vec![],
        },
        // The attempt never reached the gateway (long past any in-flight call): close
        // it, so the next delivery of the message routes again.
        (StatusOutcome::NotFound, DepositStatus::Processing) if still_open => {
            vec![DepositEvent::AttemptFailed {
                attempt: number,
                reason: FailureReason::new(
                    "not_received",
                    "the gateway has no payment for this attempt",
                ),
                retryable: true,
            }]
        }
        _ => vec![],
    }
}
