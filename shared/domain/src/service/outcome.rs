//! Applying an outcome a gateway reported by webhook (already verified and parsed).
//!
//! * the first report of an outcome moves the deposit (`submitted → succeeded|failed`);
//! * the same report again is a no-op (gateways retry; they may also re-send);
//! * a report contradicting a final state is recorded for audit, never applied;
//! * a report for a payment the processor has not recorded yet is refused, so the
//!   gateway retries it later instead of it being lost.

use super::command::{CommandError, CommandPorts, RetryPolicy, execute};
use crate::deposit::{Deposit, DepositEvent, DepositStatus, FailureReason, TransitionError};
use crate::ids::CorrelationId;
use crate::ports::gateway::{GatewayNotification, NotifiedOutcome};
use crate::ports::{Clock, EventStore, IdGenerator, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The outcome changed the deposit.
    Recorded { status: DepositStatus },
    /// Already known: nothing to do.
    Duplicate { status: DepositStatus },
    /// Contradicts the final state: kept for audit only.
    Contradiction { status: DepositStatus },
}

#[derive(Debug, thiserror::Error)]
pub enum OutcomeError {
    /// No deposit is known for this payment yet: ask the gateway to retry.
    #[error("no deposit recorded for this payment yet")]
    NotYetKnown,
    /// Refund outcomes are not handled yet.
    #[error("unsupported outcome {0}")]
    Unsupported(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError),
}

pub struct OutcomePorts<'a> {
    pub store: &'a dyn EventStore,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn IdGenerator,
}

pub async fn apply_notification(
    ports: &OutcomePorts<'_>,
    gateway: &str,
    notification: &GatewayNotification,
    correlation: &CorrelationId,
) -> Result<Applied, OutcomeError> {
    let lookup = ports
        .store
        .find_by_external_id(gateway, &notification.external_id)
        .await?
        .ok_or(OutcomeError::NotYetKnown)?;
    let wanted = match &notification.outcome {
        NotifiedOutcome::PaymentSucceeded => DepositStatus::Succeeded,
        NotifiedOutcome::PaymentFailed { .. } => DepositStatus::Failed,
        other => return Err(OutcomeError::Unsupported(other.name())),
    };
    let command = CommandPorts {
        store: ports.store,
        clock: ports.clock,
        ids: ports.ids,
    };
    let causation = format!("{gateway}:{}", notification.event_id);
    // The decision taken on the state the events were finally appended to.
    let last = std::sync::Mutex::new(Decision::Nothing);
    let decide = |d: &Deposit| -> Result<Vec<DepositEvent>, TransitionError> {
        let judged = decision(d, wanted);
        *last.lock().unwrap_or_else(|p| p.into_inner()) = judged;
        Ok(match judged {
            Decision::Apply => vec![outcome_event(d, notification)],
            Decision::Contradiction
                if !d.ignored_gateway_events.contains(&notification.event_id) =>
            {
                vec![DepositEvent::ContradictingOutcomeIgnored {
                    gateway_event_id: notification.event_id.clone(),
                    reported: notification.outcome.name().to_owned(),
                }]
            }
            Decision::Contradiction | Decision::Nothing => vec![],
        })
    };
    let after = execute(
        &command,
        lookup.deposit_id,
        correlation,
        Some(&causation),
        RetryPolicy::default(),
        decide,
    )
    .await?;
    let judged = *last.lock().unwrap_or_else(|p| p.into_inner());
    Ok(match judged {
        Decision::Apply if after.status == wanted => Applied::Recorded {
            status: after.status,
        },
        Decision::Contradiction => Applied::Contradiction {
            status: after.status,
        },
        _ => Applied::Duplicate {
            status: after.status,
        },
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Apply,
    Nothing,
    Contradiction,
}

fn decision(deposit: &Deposit, wanted: DepositStatus) -> Decision {
    match deposit.status {
        DepositStatus::Submitted => Decision::Apply,
        // Refund statuses imply the payment succeeded.
        DepositStatus::Succeeded | DepositStatus::PartiallyRefunded | DepositStatus::Refunded
            if wanted == DepositStatus::Succeeded =>
        {
            Decision::Nothing
        }
        DepositStatus::Failed if wanted == DepositStatus::Failed => Decision::Nothing,
        status if status.is_final_outcome() => Decision::Contradiction,
        // Pending / processing: the processor has not recorded the submission yet.
        _ => Decision::Nothing,
    }
}

fn outcome_event(deposit: &Deposit, notification: &GatewayNotification) -> DepositEvent {
    match &notification.outcome {
        NotifiedOutcome::PaymentFailed { code } => DepositEvent::DepositFailed {
            reason: FailureReason::new(code.clone(), "the gateway reported the payment failed"),
        },
        _ => DepositEvent::DepositSucceeded {
            external_id: deposit
                .external_id
                .clone()
                .unwrap_or_else(|| notification.external_id.clone()),
        },
    }
}
