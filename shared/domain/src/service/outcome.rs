//! Applying an outcome a gateway reported by webhook (already verified and parsed).
//!
//! * the first report of an outcome moves the deposit (`submitted → succeeded|failed`),
//!   a success only if the amount and currency are the deposit's;
//! * the same report again is a no-op (gateways retry; they may also re-send);
//! * a report contradicting a final state never changes it: it is an anomaly, and money
//!   that moved where it should not have (a success after a failure, a charge the deposit
//!   does not hold) is refunded by paygate;
//! * a report for a payment the processor has not recorded yet, at the gateway of the
//!   deposit's open attempt, is that attempt's payment: it settles the attempt;
//! * a report naming no deposit of ours is refused, so the gateway keeps it and retries.

use super::command::{Cause, CommandError, CommandPorts, Decision, RetryPolicy, Start, execute};
use crate::deposit::{
    Anomaly, AnomalyKind, ChargeRef, Deposit, DepositEvent, DepositStatus, Direction,
    FailureReason, RefundState, Sighting, TransitionError,
};
use crate::ids::{CorrelationId, DepositId, RefundId};
use crate::ports::gateway::{GatewayNotification, NotifiedOutcome};
use crate::ports::{Clock, DepositMessage, EventStore, IdGenerator, QueueSender, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The outcome changed the deposit (or payout).
    Recorded(Reached),
    /// Already known: nothing to do.
    Duplicate(Reached),
    /// Contradicts the final state and moved no money: kept for audit (an anomaly).
    Contradiction(Reached),
    /// Money moved where it should not have: recorded as an anomaly (refunded, for a
    /// deposit).
    Anomaly(Reached),
}

/// Where the outcome left the deposit or payout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    pub status: DepositStatus,
    pub direction: Direction,
}

impl Reached {
    /// A deposit's.
    pub fn deposit(status: DepositStatus) -> Self {
        Self {
            status,
            direction: Direction::Deposit,
        }
    }

    /// The status as its owner reads it (a paid payout is `paid`).
    pub fn name(&self) -> &'static str {
        self.status.name(self.direction)
    }
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
    /// A refund paygate records (of a stray charge) goes to its gateway through the
    /// processor: its message is sent right away.
    pub queue: &'a dyn QueueSender,
}

pub async fn apply_notification(
    ports: &OutcomePorts<'_>,
    gateway: &str,
    notification: &GatewayNotification,
    correlation: &CorrelationId,
) -> Result<Applied, OutcomeError> {
    // The reference names the deposit the payment was for: when that deposit recorded
    // this very payment at this gateway, it is the one (no lookup needed). Otherwise the
    // lookup of the gateway's payment id is authoritative; failing that (a payment no
    // submission recorded), the reference.
    let referenced = match DepositId::parse(&notification.reference) {
        // An unknown id loads no stream, which replays to nothing.
        Some(id) => Deposit::replay(&ports.store.load(id).await?).ok(),
        None => None,
    };
    let recorded_this_payment = |deposit: &Deposit| {
        deposit.gateway.as_deref() == Some(gateway)
            && deposit.external_id.as_deref() == Some(notification.external_id.as_str())
    };
    let deposit_id = match referenced.as_ref().filter(|d| recorded_this_payment(d)) {
        Some(deposit) => deposit.id,
        None => match ports
            .store
            .find_by_external_id(gateway, &notification.external_id)
            .await?
        {
            Some(lookup) => lookup.deposit_id,
            None => referenced
                .as_ref()
                .map(|d| d.id)
                .ok_or(OutcomeError::NotYetKnown)?,
        },
    };
    // The webhook's span names its deposit from here on (a no-op in a span without it).
    tracing::Span::current().record("deposit_id", tracing::field::display(deposit_id));
    let start = match referenced.as_ref().filter(|d| d.id == deposit_id) {
        Some(deposit) => Start::From(deposit),
        None => Start::Load(deposit_id),
    };
    let command = CommandPorts {
        store: ports.store,
        clock: ports.clock,
        ids: ports.ids,
    };
    let causation = format!("{gateway}:{}", notification.event_id);
    let reversal = RefundId(ports.ids.new_uuid());
    let executed = execute(
        &command,
        start,
        Cause {
            correlation,
            causation: Some(&causation),
        },
        RetryPolicy::default(),
        |deposit| Ok(decide(deposit, gateway, notification, reversal)),
    )
    .await;
    let executed = match executed {
        Ok(executed) => executed,
        // A reference that names no deposit of ours: nothing to attach it to yet.
        Err(CommandError::NotFound(_)) => return Err(OutcomeError::NotYetKnown),
        Err(other) => return Err(other.into()),
    };
    // Also when nothing was appended now: our own earlier append (whose answer was lost)
    // may have recorded it, and a repeated message is harmless.
    if executed
        .deposit
        .refunds
        .iter()
        .any(|r| r.awaits_submission())
    {
        let message = DepositMessage {
            deposit_id,
            merchant_id: executed.deposit.merchant_id.clone(),
            correlation_id: correlation.clone(),
        };
        if let Err(error) = ports.queue.send(&message, std::time::Duration::ZERO).await {
            tracing::warn!(%deposit_id, %error, "refund message not sent; the sweeper sends it");
        }
    }
    let reached = Reached {
        status: executed.deposit.status,
        direction: executed.deposit.request.direction,
    };
    match executed.outcome {
        Judged::Apply => Ok(Applied::Recorded(reached)),
        Judged::Nothing => {
            crate::metrics::record_duplicate_webhook(gateway);
            Ok(Applied::Duplicate(reached))
        }
        Judged::Contradiction => Ok(Applied::Contradiction(reached)),
        Judged::Anomaly => Ok(Applied::Anomaly(reached)),
        Judged::NotYetKnown => Err(OutcomeError::NotYetKnown),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judged {
    Apply,
    Nothing,
    Contradiction,
    Anomaly,
    /// The processor has not recorded what this report is about yet.
    NotYetKnown,
}

fn decide(
    deposit: &Deposit,
    gateway: &str,
    notification: &GatewayNotification,
    reversal: RefundId,
) -> Decision<Judged> {
    let seen = Sighting {
        gateway,
        external_id: &notification.external_id,
        charged: Some(notification.charged),
        attempt: None,
        gateway_event_id: Some(&notification.event_id),
    };
    let own = deposit.gateway.as_deref() == Some(gateway)
        && deposit.external_id.as_deref() == Some(notification.external_id.as_str());
    match &notification.outcome {
        NotifiedOutcome::PaymentSucceeded if own => payment_succeeded(deposit, &seen, reversal),
        NotifiedOutcome::PaymentFailed { code } if own => payment_failed(deposit, &seen, code),
        NotifiedOutcome::PaymentSucceeded | NotifiedOutcome::PaymentFailed { .. } => {
            unknown_payment(deposit, &seen, notification, reversal)
        }
        NotifiedOutcome::RefundSucceeded { refund_external_id } => refund(
            deposit,
            &seen,
            refund_external_id,
            RefundState::Succeeded,
            |refund_id| vec![DepositEvent::RefundSucceeded { refund_id }],
        ),
        NotifiedOutcome::RefundFailed {
            refund_external_id,
            code,
        } => refund(
            deposit,
            &seen,
            refund_external_id,
            RefundState::Failed,
            |refund_id| {
                let reason =
                    FailureReason::new(code.clone(), "the gateway reported the refund failed");
                deposit.refund_failed(refund_id, reason)
            },
        ),
    }
}

/// The deposit's own payment succeeded.
fn payment_succeeded(
    deposit: &Deposit,
    seen: &Sighting<'_>,
    reversal: RefundId,
) -> Decision<Judged> {
    match deposit.status {
        DepositStatus::Submitted => {
            let events = deposit.confirm_charge(seen, reversal);
            let judged = if matches!(events.first(), Some(DepositEvent::DepositSucceeded { .. })) {
                Judged::Apply
            } else {
                Judged::Anomaly
            };
            Decision::record(events, judged)
        }
        // Refund statuses imply the payment succeeded.
        DepositStatus::Succeeded | DepositStatus::PartiallyRefunded | DepositStatus::Refunded => {
            match seen.charged {
                Some(charged) if !deposit.is_charged_as_asked(&charged) => {
                    contradiction(deposit, seen, "a success for another amount than recorded")
                }
                _ => Decision::nothing(Judged::Nothing),
            }
        }
        // Failed, yet the gateway took the money: refund it.
        DepositStatus::Failed => anomaly(deposit.stray_charge(seen, reversal)),
        DepositStatus::Pending | DepositStatus::Processing => {
            Decision::nothing(Judged::NotYetKnown)
        }
    }
}

/// The deposit's own payment failed.
fn payment_failed(deposit: &Deposit, seen: &Sighting<'_>, code: &str) -> Decision<Judged> {
    match deposit.status {
        DepositStatus::Submitted => Decision::record(
            vec![DepositEvent::DepositFailed {
                reason: FailureReason::new(code, "the gateway reported the payment failed"),
            }],
            Judged::Apply,
        ),
        DepositStatus::Failed => Decision::nothing(Judged::Nothing),
        DepositStatus::Pending | DepositStatus::Processing => {
            Decision::nothing(Judged::NotYetKnown)
        }
        // Recorded succeeded: the gateway now says failed. Nothing moved; a person checks.
        _ => contradiction(
            deposit,
            seen,
            "a failure reported after the payment succeeded",
        ),
    }
}

/// A payment of this deposit that is not the one it holds (or holds nothing yet).
fn unknown_payment(
    deposit: &Deposit,
    seen: &Sighting<'_>,
    notification: &GatewayNotification,
    reversal: RefundId,
) -> Decision<Judged> {
    if let Some(open) = deposit.open_attempt().filter(|a| a.gateway == seen.gateway) {
        // The open attempt's own payment: every earlier attempt at this gateway ended
        // with "nothing was done", so no other payment of ours can be there. Its
        // outcome settles the attempt whatever the attempt's call is still waiting for
        // (that call then finds its payment already recorded).
        let mut events = vec![DepositEvent::DepositSubmitted {
            attempt: open.number,
            gateway: seen.gateway.to_owned(),
            external_id: seen.external_id.to_owned(),
        }];
        if deposit.check(&events[0]).is_err() {
            return Decision::nothing(Judged::NotYetKnown);
        }
        match &notification.outcome {
            NotifiedOutcome::PaymentSucceeded => {
                events.extend(deposit.confirm_charge(seen, reversal));
            }
            NotifiedOutcome::PaymentFailed { code } => events.push(DepositEvent::DepositFailed {
                reason: FailureReason::new(code.clone(), "the gateway reported the payment failed"),
            }),
            _ => {}
        }
        let judged = if events
            .iter()
            .any(|e| matches!(e, DepositEvent::PaymentAnomalyDetected { .. }))
        {
            Judged::Anomaly
        } else {
            Judged::Apply
        };
        return Decision::record(events, judged);
    }
    match notification.outcome {
        NotifiedOutcome::PaymentSucceeded => anomaly(deposit.stray_charge(seen, reversal)),
        // A failed payment we did not know of moved no money.
        _ => Decision::nothing(Judged::Nothing),
    }
}

fn refund(
    deposit: &Deposit,
    seen: &Sighting<'_>,
    refund_external_id: &str,
    wanted: RefundState,
    events: impl FnOnce(RefundId) -> Vec<DepositEvent>,
) -> Decision<Judged> {
    match deposit
        .refunds
        .iter()
        .find(|r| r.external_id.as_deref() == Some(refund_external_id))
    {
        None => match unsubmitted_refund(deposit, seen) {
            // The one refund of this charge and amount whose submission was never
            // recorded (its call's answer was lost): this is its outcome.
            Some(refund) => {
                let submitted = DepositEvent::RefundSubmitted {
                    refund_id: refund,
                    refund_external_id: refund_external_id.to_owned(),
                };
                let mut recorded = vec![submitted];
                recorded.extend(events(refund));
                Decision::record(recorded, Judged::Apply)
            }
            None => Decision::nothing(Judged::NotYetKnown),
        },
        Some(refund) if refund.state == RefundState::Pending => {
            Decision::record(events(refund.id), Judged::Apply)
        }
        Some(refund) if refund.state == wanted => Decision::nothing(Judged::Nothing),
        Some(_) => contradiction(
            deposit,
            seen,
            "a refund outcome contradicting the recorded one",
        ),
    }
}

/// The refund a gateway's refund report must be about when it names a refund id the
/// deposit does not know: the only refund of that charge and amount not yet taken.
/// `None` when there is no such refund, or more than one (then nobody can tell which).
fn unsubmitted_refund(deposit: &Deposit, seen: &Sighting<'_>) -> Option<RefundId> {
    let charge = ChargeRef {
        gateway: seen.gateway.to_owned(),
        external_id: seen.external_id.to_owned(),
    };
    let mut candidates = deposit.refunds.iter().filter(|r| {
        r.awaits_submission()
            && r.charge.clone().or_else(|| deposit.own_charge()).as_ref() == Some(&charge)
            && seen
                .charged
                .is_some_and(|m| m.amount == r.amount && m.currency == deposit.request.currency)
    });
    match (candidates.next(), candidates.next()) {
        (Some(only), None) => Some(only.id),
        _ => None,
    }
}

/// Events that record money moved wrongly (empty when already recorded).
fn anomaly(events: Vec<DepositEvent>) -> Decision<Judged> {
    if events.is_empty() {
        Decision::nothing(Judged::Nothing)
    } else {
        Decision::record(events, Judged::Anomaly)
    }
}

/// An outcome contradicting a final one: recorded once per gateway event, never applied.
fn contradiction(deposit: &Deposit, seen: &Sighting<'_>, detail: &str) -> Decision<Judged> {
    let anomaly = Anomaly {
        kind: AnomalyKind::OutcomeContradiction,
        gateway: seen.gateway.to_owned(),
        external_id: Some(seen.external_id.to_owned()),
        charged: seen.charged,
        attempt: None,
        refund: None,
        gateway_event_id: seen.gateway_event_id.map(str::to_owned),
        detail: detail.to_owned(),
    };
    // Earlier versions kept the same report as a `ContradictingOutcomeIgnored`.
    let ignored_before = seen
        .gateway_event_id
        .is_some_and(|id| deposit.ignored_gateway_events.iter().any(|e| e == id));
    if ignored_before {
        return Decision::nothing(Judged::Contradiction);
    }
    if deposit.contradictions_full() {
        tracing::warn!(gateway = %seen.gateway, gateway_event_id = ?seen.gateway_event_id, "contradicting report not recorded: the deposit holds as many as it keeps");
        return Decision::nothing(Judged::Contradiction);
    }
    Decision::record(deposit.anomaly_once(anomaly), Judged::Contradiction)
}

impl From<TransitionError> for OutcomeError {
    fn from(error: TransitionError) -> Self {
        Self::Command(CommandError::Rejected(error))
    }
}
