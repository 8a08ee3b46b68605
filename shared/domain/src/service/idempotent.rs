//! The steps every idempotent request shares once its key is claimed: send the message,
//! complete the claim (or release it on failure), and judge a key that was already taken.

use super::intake::{IntakeError, IntakePorts};
use crate::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyRecord, IdempotencyState, Verdict, judge,
};
use crate::ids::{CorrelationId, DepositId, MerchantId};
use crate::ports::DepositMessage;
use std::time::Duration;

/// Who holds which key, for which request.
pub struct KeyContext<'a> {
    pub merchant: &'a MerchantId,
    pub key: &'a IdempotencyKey,
    pub fingerprint: &'a Fingerprint,
    pub correlation: &'a CorrelationId,
}

/// The key is taken: replay, refuse, or take over a request that died half-way.
pub(super) async fn resume(
    ports: &IntakePorts<'_>,
    input: &KeyContext<'_>,
) -> Result<IdempotencyRecord, IntakeError> {
    let record = ports
        .store
        .idempotency_record(input.merchant, input.key)
        .await?
        .ok_or_else(|| IntakeError::Inconsistent("claimed idempotency key has no record".into()))?;
    match judge(&record, input.fingerprint, ports.clock.now()) {
        Verdict::Replay(_) => Ok(record),
        Verdict::Mismatch => Err(IntakeError::KeyReused),
        Verdict::InFlight => Err(IntakeError::InFlight),
        Verdict::Abandoned { .. } => {
            let claim = IdempotencyState::InFlight {
                owner: ports.ids.new_uuid(),
                lease_until: ports.clock.now() + ports.policy.lease,
            };
            let taken = ports
                .store
                .transition_idempotency(input.merchant, input.key, &record.state, &claim)
                .await?;
            if !taken {
                return Err(IntakeError::InFlight);
            }
            tracing::info!(deposit_id = %record.deposit_id, "taking over an abandoned request to re-send its message");
            enqueue_and_complete(ports, input, record.deposit_id, &claim).await?;
            Ok(record)
        }
    }
}

pub(super) async fn enqueue_and_complete(
    ports: &IntakePorts<'_>,
    input: &KeyContext<'_>,
    deposit_id: DepositId,
    claim: &IdempotencyState,
) -> Result<(), IntakeError> {
    let message = DepositMessage {
        deposit_id,
        merchant_id: input.merchant.clone(),
        correlation_id: input.correlation.clone(),
    };
    if let Err(error) = ports.queue.send(&message, Duration::ZERO).await {
        release(ports, input, claim).await;
        return Err(error.into());
    }
    let completed = ports
        .store
        .transition_idempotency(
            input.merchant,
            input.key,
            claim,
            &IdempotencyState::Completed,
        )
        .await?;
    if !completed {
        // Our lease ran out and a retry took over; it re-sends and completes the record.
        tracing::warn!(%deposit_id, "idempotency lease was taken over before completion");
    }
    Ok(())
}

/// Ends our lease at once so the client's retry may take over without waiting it out.
async fn release(ports: &IntakePorts<'_>, input: &KeyContext<'_>, claim: &IdempotencyState) {
    let IdempotencyState::InFlight { owner, .. } = claim else {
        return;
    };
    // Clearly in the past, so a retry on an instance whose clock lags still sees it expired.
    let expired = IdempotencyState::InFlight {
        owner: *owner,
        lease_until: ports.clock.now() - ports.policy.lease,
    };
    if let Err(error) = ports
        .store
        .transition_idempotency(input.merchant, input.key, claim, &expired)
        .await
    {
        tracing::warn!(%error, "could not release the idempotency lease; a retry waits for it to expire");
    }
}
