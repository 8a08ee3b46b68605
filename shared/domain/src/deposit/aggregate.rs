//! Deposit state, rebuilt from its events. Every event is checked against the status graph
//! before it changes anything: an illegal event is an error, never a panic, and leaves the
//! state untouched.

use super::attempts::{Attempt, AttemptState};
use super::events::{Anomaly, DepositEvent, NewDeposit, RecordedEvent};
use super::refunds::{MAX_REFUNDS, Refund, RefundState};
use super::status::DepositStatus;
use super::view::DepositView;
use crate::ids::{CorrelationId, DepositId, MerchantId, RefundId};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a stream must start with DepositRequested at version 1")]
    NotStarted,
    #[error("event version {got} does not follow version {current}")]
    VersionGap { current: u64, got: u64 },
    #[error("event belongs to deposit {got}, not {expected}")]
    WrongStream { expected: DepositId, got: DepositId },
    #[error("{event} is not allowed while the deposit is {status}")]
    IllegalTransition {
        status: DepositStatus,
        event: &'static str,
    },
    #[error("attempt {got} is out of order (expected {expected})")]
    AttemptOutOfOrder { expected: u32, got: u32 },
    #[error("attempt {0} is still open; it must be concluded or reconciled first")]
    AttemptStillOpen(u32),
    #[error("no open attempt {0}")]
    NoOpenAttempt(u32),
    #[error("attempt {attempt} went to {expected}, not {got}")]
    GatewayMismatch {
        attempt: u32,
        expected: String,
        got: String,
    },
    #[error("the outcome names payment {got}, but the deposit was submitted as {expected}")]
    ExternalIdMismatch { expected: String, got: String },
    #[error("gateway event {0} was already recorded")]
    DuplicateGatewayEvent(String),
    #[error("refund {0} was already submitted to the gateway")]
    RefundAlreadySubmitted(RefundId),
    #[error("refund {0} already exists")]
    DuplicateRefund(RefundId),
    #[error("refund {0} is unknown or already concluded")]
    NoPendingRefund(RefundId),
    #[error("refund of {requested} exceeds the {remaining} left to refund")]
    RefundExceedsRemaining { requested: u64, remaining: u64 },
    /// A deposit's stream is replayed on every command: merchants' refunds are bounded.
    #[error("a deposit takes at most {max} refunds")]
    TooManyRefunds { max: usize },
    /// A resumed attempt's first call may have charged: "nothing was done" on a later
    /// call says nothing about it, so only a definite answer closes the attempt.
    #[error("attempt {0} was resumed; only a definite answer from its gateway closes it")]
    ResumedAttemptNeedsAnAnswer(u32),
    #[error("this anomaly was already recorded")]
    DuplicateAnomaly,
    #[error("charge {0} is already being refunded or was refunded")]
    ChargeAlreadyReversed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deposit {
    pub id: DepositId,
    pub merchant_id: MerchantId,
    pub request: NewDeposit,
    pub status: DepositStatus,
    pub version: u64,
    pub attempts: Vec<Attempt>,
    pub gateway: Option<String>,
    pub external_id: Option<String>,
    pub refunds: Vec<Refund>,
    /// Gateway events already recorded as contradicting (so repeats are not recorded twice).
    pub ignored_gateway_events: Vec<String>,
    /// Every gateway surprise recorded, oldest first.
    pub anomalies: Vec<Anomaly>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The request's correlation id: every later event of the deposit carries it too,
    /// whatever delivery or webhook caused it, so one id follows the deposit end to end.
    pub correlation_id: CorrelationId,
}

impl Deposit {
    /// Rebuilds a deposit from its whole stream, oldest first.
    pub fn replay(events: &[RecordedEvent]) -> Result<Self, TransitionError> {
        let (first, rest) = events.split_first().ok_or(TransitionError::NotStarted)?;
        let mut deposit = Self::start(first)?;
        for event in rest {
            deposit.apply(event)?;
        }
        Ok(deposit)
    }

    /// The state created by a stream's first event.
    pub fn start(first: &RecordedEvent) -> Result<Self, TransitionError> {
        match &first.event {
            DepositEvent::DepositRequested {
                deposit_id,
                merchant_id,
                request,
            } if first.version == 1 && *deposit_id == first.deposit_id => Ok(Self {
                id: *deposit_id,
                merchant_id: merchant_id.clone(),
                request: request.clone(),
                status: DepositStatus::Pending,
                version: 1,
                attempts: Vec::new(),
                gateway: None,
                external_id: None,
                refunds: Vec::new(),
                ignored_gateway_events: Vec::new(),
                anomalies: Vec::new(),
                created_at: first.occurred_at,
                updated_at: first.occurred_at,
                correlation_id: first.correlation_id.clone(),
            }),
            _ => Err(TransitionError::NotStarted),
        }
    }

    /// The correlation id `event`, caused by a request or delivery correlated as `asked`,
    /// is recorded with: a merchant's refund request keeps its own, and so do that
    /// refund's later events; everything else carries the deposit's, so one id follows
    /// each object end to end, whichever delivery, webhook or sweep moved it.
    pub fn correlation_for(&self, event: &DepositEvent, asked: &CorrelationId) -> CorrelationId {
        use DepositEvent::*;
        match event {
            RefundRequested { charge: None, .. } => asked.clone(),
            RefundSubmitted { refund_id, .. }
            | RefundSucceeded { refund_id }
            | RefundFailed { refund_id, .. } => self
                .refunds
                .iter()
                .find(|r| r.id == *refund_id)
                .map_or(&self.correlation_id, |r| &r.correlation_id)
                .clone(),
            _ => self.correlation_id.clone(),
        }
    }

    /// Applies the next event of the stream, or refuses it and changes nothing.
    pub fn apply(&mut self, recorded: &RecordedEvent) -> Result<(), TransitionError> {
        if recorded.deposit_id != self.id {
            return Err(TransitionError::WrongStream {
                expected: self.id,
                got: recorded.deposit_id,
            });
        }
        if recorded.version != self.version + 1 {
            return Err(TransitionError::VersionGap {
                current: self.version,
                got: recorded.version,
            });
        }
        let next = self.check(&recorded.event)?;
        self.commit(recorded, next);
        self.version = recorded.version;
        self.updated_at = recorded.occurred_at;
        Ok(())
    }

    /// Decides whether `event` may happen now and which status it leads to, without
    /// changing anything. Commands call this before they record an event.
    pub fn check(&self, event: &DepositEvent) -> Result<DepositStatus, TransitionError> {
        use DepositEvent::*;
        let next = match event {
            DepositRequested { .. } => return Err(self.illegal(event)),
            AttemptStarted { attempt, .. } => {
                if let Some(open) = self.open_attempt() {
                    return Err(TransitionError::AttemptStillOpen(open.number));
                }
                let expected = self.next_attempt_number();
                if *attempt != expected {
                    return Err(TransitionError::AttemptOutOfOrder {
                        expected,
                        got: *attempt,
                    });
                }
                DepositStatus::Processing
            }
            AttemptFailed {
                attempt, retryable, ..
            } => {
                let open = self.require_open_attempt(*attempt)?;
                if open.resumed && *retryable {
                    return Err(TransitionError::ResumedAttemptNeedsAnAnswer(*attempt));
                }
                DepositStatus::Processing
            }
            AttemptReleased { attempt } | AttemptResumed { attempt, .. } => {
                self.require_open_attempt(*attempt)?;
                return Ok(self.status);
            }
            DepositSubmitted {
                attempt, gateway, ..
            } => {
                let open = self.require_open_attempt(*attempt)?;
                if &open.gateway != gateway {
                    return Err(TransitionError::GatewayMismatch {
                        attempt: *attempt,
                        expected: open.gateway.clone(),
                        got: gateway.clone(),
                    });
                }
                DepositStatus::Submitted
            }
            DepositSucceeded { external_id } => {
                if let Some(expected) = &self.external_id
                    && expected != external_id
                {
                    return Err(TransitionError::ExternalIdMismatch {
                        expected: expected.clone(),
                        got: external_id.clone(),
                    });
                }
                DepositStatus::Succeeded
            }
            DepositFailed { .. } => {
                // An attempt whose outcome is unknown is reconciled first, never
                // written off: failing now could hide a payment that went through.
                if let Some(open) = self.open_attempt() {
                    return Err(TransitionError::AttemptStillOpen(open.number));
                }
                DepositStatus::Failed
            }
            // Money paid out cannot be pulled back by a refund.
            RefundRequested { .. } if self.is_payout() => return Err(self.illegal(event)),
            RefundRequested {
                refund_id,
                charge: Some(charge),
                ..
            } => {
                if self.refunds.iter().any(|r| r.id == *refund_id) {
                    return Err(TransitionError::DuplicateRefund(*refund_id));
                }
                if self.is_being_reversed(charge) {
                    return Err(TransitionError::ChargeAlreadyReversed(
                        charge.external_id.clone(),
                    ));
                }
                return Ok(self.status);
            }
            RefundRequested {
                refund_id,
                amount,
                charge: None,
            } => {
                if !matches!(
                    self.status,
                    DepositStatus::Succeeded | DepositStatus::PartiallyRefunded
                ) {
                    return Err(self.illegal(event));
                }
                if self.refunds.iter().any(|r| r.id == *refund_id) {
                    return Err(TransitionError::DuplicateRefund(*refund_id));
                }
                let merchants_refunds = self.refunds.iter().filter(|r| r.charge.is_none()).count();
                if merchants_refunds >= MAX_REFUNDS {
                    return Err(TransitionError::TooManyRefunds { max: MAX_REFUNDS });
                }
                let remaining = self.refundable_remaining();
                if amount.minor() > remaining {
                    return Err(TransitionError::RefundExceedsRemaining {
                        requested: amount.minor(),
                        remaining,
                    });
                }
                // A refund request does not move the status; its outcome does.
                return Ok(self.status);
            }
            RefundSubmitted { refund_id, .. } => {
                let refund = self.require_pending_refund(*refund_id)?;
                if refund.external_id.is_some() {
                    return Err(TransitionError::RefundAlreadySubmitted(*refund_id));
                }
                return Ok(self.status);
            }
            RefundSucceeded { refund_id } => {
                let refund = self.require_pending_refund(*refund_id)?;
                if refund.charge.is_some() {
                    // Reversing a stray charge does not touch the deposit's own money.
                    return Ok(self.status);
                }
                if self.refunded_amount() + refund.amount.minor() == self.request.amount.minor() {
                    DepositStatus::Refunded
                } else {
                    DepositStatus::PartiallyRefunded
                }
            }
            RefundFailed { refund_id, .. } => {
                self.require_pending_refund(*refund_id)?;
                return Ok(self.status);
            }
            ContradictingOutcomeIgnored {
                gateway_event_id, ..
            } => {
                if !self.status.is_final_outcome() {
                    return Err(self.illegal(event));
                }
                if self.ignored_gateway_events.contains(gateway_event_id) {
                    return Err(TransitionError::DuplicateGatewayEvent(
                        gateway_event_id.clone(),
                    ));
                }
                return Ok(self.status);
            }
            PaymentAnomalyDetected { anomaly } => {
                if self.anomalies.iter().any(|a| a.same_as(anomaly)) {
                    return Err(TransitionError::DuplicateAnomaly);
                }
                return Ok(self.status);
            }
        };
        if self.status.can_become(next) {
            Ok(next)
        } else {
            Err(self.illegal(event))
        }
    }

    fn commit(&mut self, recorded: &RecordedEvent, next: DepositStatus) {
        use DepositEvent::*;
        let at = recorded.occurred_at;
        match &recorded.event {
            DepositRequested { .. } => {}
            AttemptStarted {
                attempt,
                gateway,
                idempotency_key,
                owner,
            } => self.attempts.push(Attempt {
                number: *attempt,
                started_at: at,
                gateway: gateway.clone(),
                idempotency_key: idempotency_key.clone(),
                state: AttemptState::Open,
                owner: *owner,
                owned_since: at,
                resumed: false,
            }),
            AttemptReleased { .. } => {
                if let Some(open) = self.open_attempt_mut() {
                    open.owner = None;
                    open.owned_since = at;
                }
            }
            AttemptResumed { owner, .. } => {
                if let Some(open) = self.open_attempt_mut() {
                    open.owner = Some(*owner);
                    open.owned_since = at;
                    open.resumed = true;
                }
            }
            AttemptFailed { retryable, .. } => {
                self.close_open_attempt(AttemptState::Failed {
                    retryable: *retryable,
                });
            }
            DepositSubmitted {
                gateway,
                external_id,
                ..
            } => {
                self.close_open_attempt(AttemptState::Submitted);
                self.gateway = Some(gateway.clone());
                self.external_id = Some(external_id.clone());
            }
            DepositSucceeded { .. } => {}
            DepositFailed { .. } => {}
            RefundRequested {
                refund_id,
                amount,
                charge,
            } => self.refunds.push(Refund {
                id: *refund_id,
                amount: *amount,
                state: RefundState::Pending,
                external_id: None,
                charge: charge.clone(),
                requested_at: at,
                correlation_id: recorded.correlation_id.clone(),
            }),
            RefundSubmitted {
                refund_id,
                refund_external_id,
            } => {
                if let Some(refund) = self.refunds.iter_mut().find(|r| r.id == *refund_id) {
                    refund.external_id = Some(refund_external_id.clone());
                }
            }
            RefundSucceeded { refund_id } => {
                self.set_refund_state(*refund_id, RefundState::Succeeded)
            }
            RefundFailed { refund_id, .. } => {
                self.set_refund_state(*refund_id, RefundState::Failed)
            }
            ContradictingOutcomeIgnored {
                gateway_event_id, ..
            } => self.ignored_gateway_events.push(gateway_event_id.clone()),
            PaymentAnomalyDetected { anomaly } => self.anomalies.push(anomaly.clone()),
        }
        self.status = next;
    }

    fn illegal(&self, event: &DepositEvent) -> TransitionError {
        TransitionError::IllegalTransition {
            status: self.status,
            event: event.kind(),
        }
    }

    pub fn is_payout(&self) -> bool {
        self.request.direction == super::events::Direction::Payout
    }

    /// The read model a merchant sees.
    pub fn view(&self) -> DepositView {
        DepositView {
            id: self.id,
            direction: self.request.direction,
            merchant_id: self.merchant_id.clone(),
            status: self.status,
            amount: self.request.amount,
            currency: self.request.currency,
            country: self.request.country,
            customer_id: self.request.customer_id.clone(),
            gateway: self.gateway.clone(),
            external_id: self.external_id.clone(),
            refunded_amount: self.refunded_amount(),
            pending_refunds: self
                .refunds
                .iter()
                .filter(|r| r.state == RefundState::Pending)
                .count() as u32,
            metadata: self.request.metadata.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}
