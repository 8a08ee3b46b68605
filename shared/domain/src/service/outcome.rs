//! Applying an outcome a gateway reported by webhook (already verified and parsed).
//!
//! * the first report of an outcome moves the deposit (`submitted → succeeded|failed`);
//! * the same report again is a no-op (gateways retry; they may also re-send);
//! * a report contradicting a final state is recorded for audit, never applied;
//! * a report for a payment the processor has not recorded yet is refused, so the
//!   gateway retries it later instead of it being lost.

use super::command::{CommandError, CommandPorts, RetryPolicy, execute};
use crate::deposit::{
    Deposit, DepositEvent, DepositStatus, FailureReason, RefundState, TransitionError,
};
use crate::ids::CorrelationId;
use crate::ids::RefundId;
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
    let command = CommandPorts {
        store: ports.store,
        clock: ports.clock,
        ids: ports.ids,
    };
    let causation = format!("{gateway}:{}", notification.event_id);
    // The decision taken on the state the events were finally appended to.
    let last = std::sync::Mutex::new(Decision::Nothing);
    let decide = |d: &Deposit| -> Result<Vec<DepositEvent>, TransitionError> {
        let judged = decide(d, notification);
        *last.lock().unwrap_or_else(|p| p.into_inner()) = judged.clone();
        Ok(match judged {
            Decision::Apply(event) => vec![event],
            Decision::Contradiction
                if !d.ignored_gateway_events.contains(&notification.event_id) =>
            {
                vec![DepositEvent::ContradictingOutcomeIgnored {
                    gateway_event_id: notification.event_id.clone(),
                    reported: notification.outcome.name().to_owned(),
                }]
            }
            Decision::Contradiction | Decision::Nothing | Decision::NotYetKnown => vec![],
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
    let judged = last.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let status = after.status;
    match judged {
        Decision::Apply(_) => Ok(Applied::Recorded { status }),
        Decision::Contradiction => Ok(Applied::Contradiction { status }),
        Decision::Nothing => Ok(Applied::Duplicate { status }),
        Decision::NotYetKnown => Err(OutcomeError::NotYetKnown),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Apply(DepositEvent),
    Nothing,
    Contradiction,
    /// The processor has not recorded what this report is about yet.
    NotYetKnown,
}

fn decide(deposit: &Deposit, notification: &GatewayNotification) -> Decision {
    match &notification.outcome {
        NotifiedOutcome::PaymentSucceeded => payment(deposit, DepositStatus::Succeeded, || {
            DepositEvent::DepositSucceeded {
                external_id: notification.external_id.clone(),
            }
        }),
        NotifiedOutcome::PaymentFailed { code } => payment(deposit, DepositStatus::Failed, || {
            DepositEvent::DepositFailed {
                reason: FailureReason::new(code.clone(), "the gateway reported the payment failed"),
            }
        }),
        NotifiedOutcome::RefundSucceeded { refund_external_id } => refund(
            deposit,
            refund_external_id,
            RefundState::Succeeded,
            |refund_id| DepositEvent::RefundSucceeded { refund_id },
        ),
        NotifiedOutcome::RefundFailed {
            refund_external_id,
            code,
        } => refund(
            deposit,
            refund_external_id,
            RefundState::Failed,
            |refund_id| DepositEvent::RefundFailed {
                refund_id,
                reason: FailureReason::new(code.clone(), "the gateway reported the refund failed"),
            },
        ),
    }
}

fn payment(
    deposit: &Deposit,
    wanted: DepositStatus,
    event: impl FnOnce() -> DepositEvent,
) -> Decision {
    match deposit.status {
        DepositStatus::Submitted => Decision::Apply(event()),
        // Refund statuses imply the payment succeeded.
        status
            if wanted == DepositStatus::Succeeded
                && (status == DepositStatus::Succeeded
                    || status.is_refundable()
                    || status == DepositStatus::Refunded) =>
        {
            Decision::Nothing
        }
        DepositStatus::Failed if wanted == DepositStatus::Failed => Decision::Nothing,
        status if status.is_final_outcome() => Decision::Contradiction,
        // Pending / processing: the processor has not recorded the submission yet.
        _ => Decision::NotYetKnown,
    }
}

fn refund(
    deposit: &Deposit,
    refund_external_id: &str,
    wanted: RefundState,
    event: impl FnOnce(RefundId) -> DepositEvent,
) -> Decision {
    match deposit
        .refunds
        .iter()
        .find(|r| r.external_id.as_deref() == Some(refund_external_id))
    {
        None => Decision::NotYetKnown,
        Some(refund) if refund.state == RefundState::Pending => Decision::Apply(event(refund.id)),
        Some(refund) if refund.state == wanted => Decision::Nothing,
        Some(_) => Decision::Contradiction,
    }
}
