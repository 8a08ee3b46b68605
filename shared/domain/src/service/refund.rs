//! Requesting a refund of a succeeded deposit.
//!
//! The sum of refunds never exceeds the captured amount, even under concurrent requests:
//! each `RefundRequested` is appended at the stream version it was checked against, so
//! of two requests racing for the last euro one wins and the other re-checks on fresh
//! state (and is refused). The idempotency claim is part of the same append, and once it
//! is stored the request succeeds, whatever happens to the message.

use super::command::{CommandError, Decision, RetryPolicy, Start, execute};
use super::idempotent::{
    IntakeError, IntakePorts, KeyContext, enqueue_and_complete, new_claim, resume,
};
use crate::deposit::{Deposit, DepositEvent, DepositView, TransitionError};
use crate::idempotency::RefundSnapshot;
use crate::ids::{DepositId, RefundId};
use crate::ledger::BalanceInsufficient;
use crate::money::Amount;

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
    /// The merchant's available balance cannot cover it (e.g. it was paid out).
    #[error(transparent)]
    BalanceInsufficient(BalanceInsufficient),
    #[error("gave up after {0} concurrent changes")]
    Contended(u32),
    #[error(transparent)]
    Intake(#[from] IntakeError),
}

pub struct RefundInput<'a> {
    /// The merchant, its idempotency key and the request's fingerprint and correlation.
    pub keyed: KeyContext<'a>,
    pub deposit_id: DepositId,
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

/// What a refund request concluded on the state it was decided on.
enum Verdict {
    /// The refund is recorded (now, or by an earlier try whose answer was lost).
    Recorded,
    NotFound,
    NothingLeft,
    Refused(TransitionError),
}

pub async fn request_refund(
    ports: &IntakePorts<'_>,
    input: RefundInput<'_>,
) -> Result<RefundCreated, RefundError> {
    // A key seen before is answered from its record, whatever the deposit's state now:
    // a request that records a refund claims the key in the same write (so a used key
    // fails it), and one that is refused looks for the key's record before answering.
    // The first try of a new key therefore reads nothing more than the deposit.
    let key = &input.keyed;
    let refund_id = RefundId(ports.ids.new_uuid());
    let state = new_claim(ports);
    let now = ports.clock.now();
    // Filled by the decision, the same on every try: the amount may depend on the state.
    let mut snapshot = None;
    // Only a later try can find this refund recorded by an earlier one whose answer was
    // lost; on the first, a refund with its id is another request's, and is refused.
    let mut first_try = true;
    let decide = |deposit: &Deposit| -> Result<Decision<Verdict>, TransitionError> {
        // A payout is no deposit: there is nothing to refund under its id.
        if &deposit.merchant_id != input.keyed.merchant || deposit.is_payout() {
            return Ok(Decision::nothing(Verdict::NotFound));
        }
        let retrying = !std::mem::replace(&mut first_try, false);
        if retrying && deposit.refunds.iter().any(|r| r.id == refund_id) {
            return Ok(Decision::nothing(Verdict::Recorded));
        }
        let amount = match input.amount {
            Some(amount) => amount,
            None => match Amount::new(deposit.refundable_remaining()) {
                Ok(left) => left,
                Err(_) if deposit.status.is_refundable() => {
                    return Ok(Decision::nothing(Verdict::NothingLeft));
                }
                // Not refundable at all: the status graph says why.
                Err(_) => deposit.request.amount,
            },
        };
        let event = DepositEvent::RefundRequested {
            refund_id,
            amount,
            charge: None,
        };
        if let Err(refused) = deposit.check(&event) {
            return Ok(Decision::nothing(Verdict::Refused(refused)));
        }
        let refund = RefundSnapshot { refund_id, amount };
        snapshot = Some(refund.clone());
        Ok(
            Decision::record(vec![event], Verdict::Recorded).with_claim(key.claim(
                ports,
                &state,
                Some(refund),
                now,
            )),
        )
    };
    let start = Start::Load(input.deposit_id);
    let retry = RetryPolicy::default();
    let executed = execute(&ports.commands(), start, key.cause(), retry, decide).await;
    let executed = match executed {
        Ok(executed) => executed,
        Err(CommandError::NotFound(_)) => {
            return refuse(ports, &input, RefundError::NotFound).await;
        }
        Err(CommandError::KeyTaken) => return replay(ports, &input).await,
        Err(CommandError::BalanceInsufficient(short)) => {
            return refuse(ports, &input, RefundError::BalanceInsufficient(short)).await;
        }
        Err(CommandError::Contended(n)) => return Err(RefundError::Contended(n)),
        Err(CommandError::Store(error)) => return Err(IntakeError::from(error).into()),
        Err(other) => return Err(IntakeError::Inconsistent(other.to_string()).into()),
    };
    let refused = match executed.outcome {
        Verdict::Recorded => None,
        Verdict::NotFound => Some(RefundError::NotFound),
        Verdict::NothingLeft => Some(RefundError::NothingLeft),
        Verdict::Refused(error) => Some(RefundError::Refused(error)),
    };
    if let Some(refused) = refused {
        return refuse(ports, &input, refused).await;
    }
    let refund = executed
        .deposit
        .refunds
        .iter()
        .find(|r| r.id == refund_id)
        .map(|r| RefundSnapshot {
            refund_id,
            amount: r.amount,
        })
        .or(snapshot)
        .ok_or_else(|| IntakeError::Inconsistent("recorded refund is missing".into()))?;
    // Durable from here on: whatever happens to the message, the answer is 202.
    enqueue_and_complete(ports, key, input.deposit_id, &state).await;
    Ok(RefundCreated::New {
        refund,
        deposit: executed.deposit.view(),
    })
}

/// A request the deposit's state refuses: unless its key was used before (an earlier
/// request's refund made the state what it is, or won the race this one lost), then it
/// is that request's replay.
async fn refuse(
    ports: &IntakePorts<'_>,
    input: &RefundInput<'_>,
    refused: RefundError,
) -> Result<RefundCreated, RefundError> {
    if input.keyed.record(ports).await?.is_some() {
        return replay(ports, input).await;
    }
    Err(refused)
}

async fn replay(
    ports: &IntakePorts<'_>,
    input: &RefundInput<'_>,
) -> Result<RefundCreated, RefundError> {
    let record = resume(ports, &input.keyed).await?;
    match record.refund {
        // The same fingerprint means the same endpoint, deposit and body.
        Some(refund) if record.deposit_id == input.deposit_id => {
            crate::metrics::record_replay(CREATE_REFUND);
            Ok(RefundCreated::Replayed {
                refund,
                deposit: record.response,
            })
        }
        _ => Err(IntakeError::KeyReused.into()),
    }
}
