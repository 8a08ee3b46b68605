//! Taking a deposit (or payout) request: record it durably, then ask for it to be
//! processed. A payout's request also reserves its amount in the merchant's ledger, in
//! the same write: refused, with nothing written, if `available` cannot cover it.
//!
//! Order matters for money: the `DepositRequested` event, the read model and the
//! idempotency claim are committed together first; only then is the message sent. Once
//! the append is known to be stored the request succeeds, whatever happens to the send:
//! the sweeper re-sends the message of a deposit left `pending`. A request never answers
//! a failure for a deposit it stored (the merchant would retry with a new key and pay
//! twice): an append whose answer was lost is sent again until its outcome is known.

use super::command::{CommandError, RetryPolicy, create};
pub use super::idempotent::{IntakeError, IntakePorts, KeyContext};
use super::idempotent::{enqueue_and_complete, new_claim, resume};
use crate::crypto::{CryptoError, FieldCipher};
use crate::deposit::{DepositEvent, DepositView, Direction, NewDeposit, PaymentMethod};
use crate::ids::DepositId;
use crate::validation::DepositRequest;
use secrecy::ExposeSecret;

/// The endpoint names mixed into request fingerprints.
pub const CREATE_DEPOSIT: &str = "create_deposit";
pub const CREATE_PAYOUT: &str = "create_payout";

/// The answer to a create request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// This request created the deposit.
    New(DepositView),
    /// An earlier request with the same key and body did; this is its response again.
    Replayed(DepositView),
}

pub struct IntakeRequest<'a> {
    /// The merchant, its idempotency key and the request's fingerprint and correlation.
    pub keyed: KeyContext<'a>,
    pub request: DepositRequest,
}

/// How often an append whose outcome is unknown is sent again before the request gives
/// up (a 503: retry with the same key). Short waits: a client is waiting.
const CREATE_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 4,
    base_delay: std::time::Duration::from_millis(50),
    max_delay: std::time::Duration::from_millis(400),
};

pub async fn request_deposit(
    ports: &IntakePorts<'_>,
    input: IntakeRequest<'_>,
) -> Result<Created, IntakeError> {
    let now = ports.clock.now();
    let deposit_id = DepositId(ports.ids.new_uuid());
    let first = DepositEvent::DepositRequested {
        deposit_id,
        merchant_id: input.keyed.merchant.clone(),
        request: seal(ports.cipher, deposit_id, &input.request)?,
    };
    let state = new_claim(ports);
    let key = &input.keyed;
    let claim = key.claim(ports, &state, None, now);
    let commands = ports.commands();
    let created = create(
        &commands,
        deposit_id,
        first,
        claim,
        key.cause(),
        CREATE_RETRY,
    )
    .await;
    let view = match created {
        Ok(deposit) => deposit.view(),
        Err(CommandError::KeyTaken) => {
            match key.record(ports).await? {
                // Our own earlier try committed, its answer was lost.
                Some(record) if record.deposit_id == deposit_id => record.response,
                _ => {
                    let record = resume(ports, key).await?;
                    crate::metrics::record_replay(match input.request.direction {
                        Direction::Deposit => CREATE_DEPOSIT,
                        Direction::Payout => CREATE_PAYOUT,
                    });
                    return Ok(Created::Replayed(record.response));
                }
            }
        }
        Err(CommandError::Store(error)) => return Err(error.into()),
        // Nothing was written: the payout's reservation would overdraw `available`.
        Err(CommandError::BalanceInsufficient(short)) => return Err(short.into()),
        Err(other) => return Err(IntakeError::Inconsistent(other.to_string())),
    };
    // Durable from here on: whatever happens to the message, the answer is 202.
    enqueue_and_complete(ports, key, deposit_id, &state).await;
    Ok(Created::New(view))
}

/// Encrypts the payment method's token, bound to the deposit, before it is stored.
fn seal(
    cipher: &FieldCipher,
    deposit_id: DepositId,
    request: &DepositRequest,
) -> Result<NewDeposit, CryptoError> {
    let context = deposit_id.0.as_bytes();
    let payment_method = request
        .payment_method
        .as_ref()
        .map(|pm| -> Result<PaymentMethod, CryptoError> {
            Ok(PaymentMethod {
                kind: pm.kind.clone(),
                details: cipher.encrypt(pm.token.expose_secret().as_bytes(), context)?,
            })
        })
        .transpose()?;
    Ok(NewDeposit {
        direction: request.direction,
        amount: request.amount,
        currency: request.currency,
        country: request.country,
        customer_id: request.customer_id.clone(),
        payment_method,
        metadata: request.metadata.clone(),
    })
}
