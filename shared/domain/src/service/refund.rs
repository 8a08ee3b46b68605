//! Requesting a refund of a succeeded deposit.
//!
//! The sum of refunds never exceeds the captured amount, even under concurrent requests:
//! each `RefundRequested` is appended at the stream version it was checked against, so
//! of two requests racing for the last euro one wins and the other re-checks on fresh
//! state (and is refused). The idempotency claim is part of the same append.

use super::command::RetryPolicy;
use super::idempotent::{KeyContext, enqueue_and_complete, resume};
use super::intake::{IntakeError, IntakePorts};
use crate::deposit::{
    Deposit, DepositEvent, DepositView, RecordedEvent, SCHEMA_VERSION, TransitionError,
};
use crate::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyRecord, IdempotencyState, RefundSnapshot,
};
use crate::ids::{CorrelationId, DepositId, EventId, MerchantId, RefundId};
use crate::money::Amount;
use crate::ports::{AppendBatch, AppendError};

/// The endpoint name mixed into request fingerprints.
pub const CREATE_REFUND: &str = "create_refund";

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// Unknown deposit, or another merchant's.
    #[error("no such deposit")]
    NotFound,
    /// Not refundable in its state, or more than what is left.
    #[error(transparent)]
    Refused(TransitionError),
    #[error("nothing is left to refund")]
    NothingLeft,
    #[error("gave up after {0} concurrent changes")]
    Contended(u32),
    #[error(transparent)]
    Intake(#[from] IntakeError),
}

pub struct RefundInput<'a> {
    pub merchant: &'a MerchantId,
    pub deposit_id: DepositId,
    pub key: &'a IdempotencyKey,
    pub fingerprint: &'a Fingerprint,
    pub correlation: &'a CorrelationId,
    /// `None`: everything that is left.
    pub amount: Option<Amount>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundCreated {
    New {
        refund: RefundSnapshot,
        deposit: DepositView,
    },
    Replayed {
        refund: RefundSnapshot,
        deposit: DepositView,
    },
}

impl RefundInput<'_> {
    fn key_context(&self) -> KeyContext<'_> {
        KeyContext {
            merchant: self.merchant,
            key: self.key,
            fingerprint: self.fingerprint,
            correlation: self.correlation,
        }
    }
}

pub async fn request_refund(
    ports: &IntakePorts<'_>,
    input: RefundInput<'_>,
) -> Result<RefundCreated, RefundError> {
    let retry = RetryPolicy::default();
    for attempt in 0..retry.max_attempts {
        let stream = ports
            .store
            .load(input.deposit_id)
            .await
            .map_err(IntakeError::from)?;
        // A key seen before is answered from its record, whatever the deposit's state now.
        // Checked AFTER loading: the claim commits with its event, so a stream that shows
        // another request's refund also shows that request's claim if it was this one.
        if ports
            .store
            .idempotency_record(input.merchant, input.key)
            .await
            .map_err(IntakeError::from)?
            .is_some()
        {
            return replay(ports, &input).await;
        }
        if stream.is_empty() {
            return Err(RefundError::NotFound);
        }
        let deposit =
            Deposit::replay(&stream).map_err(|e| IntakeError::Inconsistent(e.to_string()))?;
        if &deposit.merchant_id != input.merchant {
            return Err(RefundError::NotFound);
        }
        let amount = match input.amount {
            Some(amount) => amount,
            None => match Amount::new(deposit.refundable_remaining()) {
                Ok(left) => left,
                Err(_) if deposit.status.is_refundable() => return Err(RefundError::NothingLeft),
                // Not refundable at all: the status graph below says why.
                Err(_) => deposit.request.amount,
            },
        };
        let refund = RefundSnapshot {
            refund_id: RefundId(ports.ids.new_uuid()),
            amount,
        };
        let now = ports.clock.now();
        let event = RecordedEvent {
            deposit_id: deposit.id,
            version: deposit.version + 1,
            event_id: EventId(ports.ids.new_uuid()),
            schema_version: SCHEMA_VERSION,
            occurred_at: now,
            correlation_id: input.correlation.clone(),
            causation_id: None,
            event: DepositEvent::RefundRequested {
                refund_id: refund.refund_id,
                amount,
                charge: None,
            },
        };
        let mut next = deposit.clone();
        next.apply(&event).map_err(RefundError::Refused)?;
        let claim = IdempotencyState::InFlight {
            owner: ports.ids.new_uuid(),
            lease_until: now + ports.policy.lease,
        };
        let view = next.view();
        let batch = AppendBatch {
            deposit_id: deposit.id,
            expected_version: deposit.version,
            events: vec![event],
            view: view.clone(),
            idempotency: Some(IdempotencyRecord {
                merchant_id: input.merchant.clone(),
                key: input.key.clone(),
                fingerprint: input.fingerprint.clone(),
                deposit_id: deposit.id,
                state: claim.clone(),
                response: view.clone(),
                refund: Some(refund.clone()),
                created_at: now,
                expires_at: now + ports.policy.retention,
            }),
            lookups: Vec::new(),
        };
        match ports.store.append(batch).await {
            Ok(()) => {
                enqueue_and_complete(ports, &input.key_context(), deposit.id, &claim).await?;
                return Ok(RefundCreated::New {
                    refund,
                    deposit: view,
                });
            }
            Err(AppendError::VersionConflict) => {
                let random = ports.ids.new_uuid().as_u128() as u64;
                tokio::time::sleep(retry.delay(attempt, random)).await;
            }
            Err(AppendError::IdempotencyKeyTaken) => return replay(ports, &input).await,
            Err(AppendError::Store(e) | AppendError::Ambiguous(e)) => {
                return Err(IntakeError::from(e).into());
            }
        }
    }
    Err(RefundError::Contended(retry.max_attempts))
}

async fn replay(
    ports: &IntakePorts<'_>,
    input: &RefundInput<'_>,
) -> Result<RefundCreated, RefundError> {
    let record = resume(ports, &input.key_context()).await?;
    match record.refund {
        // The same fingerprint means the same endpoint, deposit and body.
        Some(refund) if record.deposit_id == input.deposit_id => Ok(RefundCreated::Replayed {
            refund,
            deposit: record.response,
        }),
        _ => Err(IntakeError::KeyReused.into()),
    }
}
