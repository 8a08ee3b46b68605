//! What every idempotent request (a deposit, a refund) shares once its effect is stored:
//! the message is sent and the claim completed (both best effort: the effect is durable,
//! so the request succeeds, and the sweeper re-sends a message that never left), and a
//! key that was already taken is judged.

use super::command::{Cause, Claim, CommandPorts};
use crate::crypto::{CryptoError, FieldCipher};
use crate::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyPolicy, IdempotencyRecord, IdempotencyState,
    IdempotencyTransition, RefundSnapshot, Verdict, judge,
};
use crate::ids::{CorrelationId, DepositId, MerchantId};
use crate::ports::{Clock, DepositMessage, EventStore, IdGenerator, QueueSender, StoreError};
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("the idempotency key was already used with a different request")]
    KeyReused,
    #[error("a request with this idempotency key is still being processed")]
    InFlight,
    /// Nothing was stored, or whether it was could not be learnt: safe to retry with the
    /// same key (never with a new one).
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A payout the merchant's available balance cannot cover: nothing was written.
    #[error(transparent)]
    BalanceInsufficient(#[from] crate::ledger::BalanceInsufficient),
    #[error("stored state is inconsistent: {0}")]
    Inconsistent(String),
}

pub struct IntakePorts<'a> {
    pub store: &'a dyn EventStore,
    pub queue: &'a dyn QueueSender,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn IdGenerator,
    pub cipher: &'a FieldCipher,
    pub policy: IdempotencyPolicy,
}

/// Who holds which key, for which request.
pub struct KeyContext<'a> {
    pub merchant: &'a MerchantId,
    pub key: &'a IdempotencyKey,
    pub fingerprint: &'a Fingerprint,
    pub correlation: &'a CorrelationId,
}

impl<'a> IntakePorts<'a> {
    /// The ports the request's command runs on.
    pub(super) fn commands(&self) -> CommandPorts<'a> {
        CommandPorts {
            store: self.store,
            clock: self.clock,
            ids: self.ids,
        }
    }
}

impl<'a> KeyContext<'a> {
    /// The key's record moving from `expected` to `next`.
    fn transition(
        &self,
        expected: &'a IdempotencyState,
        next: &'a IdempotencyState,
    ) -> IdempotencyTransition<'a> {
        IdempotencyTransition {
            merchant: self.merchant,
            key: self.key,
            expected,
            next,
        }
    }

    /// The claim recorded with the request's effect: its key in `state`, kept for the
    /// policy's retention from `now`, with the refund it made (if it is a refund).
    pub(super) fn claim(
        &self,
        ports: &IntakePorts<'_>,
        state: &IdempotencyState,
        refund: Option<RefundSnapshot>,
        now: OffsetDateTime,
    ) -> Claim {
        Claim {
            merchant: self.merchant.clone(),
            key: self.key.clone(),
            fingerprint: self.fingerprint.clone(),
            state: state.clone(),
            refund,
            created_at: now,
            expires_at: now + ports.policy.retention,
        }
    }

    /// A merchant's request: correlated, caused by no earlier event.
    pub(super) fn cause(&self) -> Cause<'_> {
        Cause {
            correlation: self.correlation,
            causation: None,
        }
    }

    /// The key's record, if the key was used before.
    pub(super) async fn record(
        &self,
        ports: &IntakePorts<'_>,
    ) -> Result<Option<IdempotencyRecord>, IntakeError> {
        Ok(ports
            .store
            .idempotency_record(self.merchant, self.key)
            .await?)
    }
}

/// A fresh claim of the key for this request, held for the policy's lease.
pub(super) fn new_claim(ports: &IntakePorts<'_>) -> IdempotencyState {
    IdempotencyState::InFlight {
        owner: ports.ids.new_uuid(),
        lease_until: ports.clock.now() + ports.policy.lease,
    }
}

/// The key is taken: replay, refuse, or take over a request that died half-way.
pub(super) async fn resume(
    ports: &IntakePorts<'_>,
    input: &KeyContext<'_>,
) -> Result<IdempotencyRecord, IntakeError> {
    let record = input
        .record(ports)
        .await?
        .ok_or_else(|| IntakeError::Inconsistent("claimed idempotency key has no record".into()))?;
    match judge(&record, input.fingerprint, ports.clock.now()) {
        Verdict::Replay(_) => Ok(record),
        Verdict::Mismatch => {
            crate::metrics::record_key_reused();
            Err(IntakeError::KeyReused)
        }
        Verdict::InFlight => Err(IntakeError::InFlight),
        Verdict::Abandoned { .. } => {
            let claim = new_claim(ports);
            let takeover = input.transition(&record.state, &claim);
            let taken = ports.store.transition_idempotency(takeover).await?;
            if !taken {
                return Err(IntakeError::InFlight);
            }
            tracing::info!(deposit_id = %record.deposit_id, "taking over an abandoned request to re-send its message");
            enqueue_and_complete(ports, input, record.deposit_id, &claim).await;
            Ok(record)
        }
    }
}

/// The request's effect is stored: send the message and complete the claim. Neither can
/// fail the request any more: a message that did not leave is re-sent by the sweeper
/// (its `pending_after`), and an uncompleted claim is taken over by a retry after its
/// lease, which sends again and completes it.
pub(super) async fn enqueue_and_complete(
    ports: &IntakePorts<'_>,
    input: &KeyContext<'_>,
    deposit_id: DepositId,
    claim: &IdempotencyState,
) {
    let message = DepositMessage {
        deposit_id,
        merchant_id: input.merchant.clone(),
        correlation_id: input.correlation.clone(),
    };
    if let Err(error) = ports.queue.send(&message, Duration::ZERO).await {
        tracing::warn!(%deposit_id, %error, "message not sent; the sweeper re-sends it");
    }
    let completion = input.transition(claim, &IdempotencyState::Completed);
    match ports.store.transition_idempotency(completion).await {
        Ok(true) => {}
        // Our lease ran out and a retry took over; it re-sends and completes the record.
        Ok(false) => {
            tracing::warn!(%deposit_id, "idempotency lease was taken over before completion")
        }
        Err(error) => {
            tracing::warn!(%deposit_id, %error, "claim not completed; a retry takes it over after the lease")
        }
    }
}
