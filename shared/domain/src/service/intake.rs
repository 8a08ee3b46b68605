//! Taking a deposit request: record it durably, then ask for it to be processed.
//!
//! Order matters for money: the `DepositRequested` event, the read model and the
//! idempotency claim are committed together first; only then is the message sent. If the
//! send fails the request fails and the claim is released, so the client's retry (same
//! key) re-sends; the sweeper re-enqueues anything left `pending` regardless.

use super::idempotent::{KeyContext, enqueue_and_complete, resume};
use crate::crypto::{CryptoError, FieldCipher};
use crate::deposit::{
    Deposit, DepositEvent, DepositView, NewDeposit, PaymentMethod, RecordedEvent, SCHEMA_VERSION,
};
use crate::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyPolicy, IdempotencyRecord, IdempotencyState,
};
use crate::ids::{CorrelationId, DepositId, EventId, MerchantId};
use crate::ports::{
    AppendBatch, AppendError, Clock, EventStore, IdGenerator, QueueError, QueueSender, StoreError,
};
use crate::validation::DepositRequest;
use secrecy::ExposeSecret;

/// The endpoint name mixed into request fingerprints.
pub const CREATE_DEPOSIT: &str = "create_deposit";

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("the idempotency key was already used with a different request")]
    KeyReused,
    #[error("a request with this idempotency key is still being processed")]
    InFlight,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("stored state is inconsistent: {0}")]
    Inconsistent(String),
}

/// The answer to a create request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// This request created the deposit.
    New(DepositView),
    /// An earlier request with the same key and body did; this is its response again.
    Replayed(DepositView),
}

pub struct IntakePorts<'a> {
    pub store: &'a dyn EventStore,
    pub queue: &'a dyn QueueSender,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn IdGenerator,
    pub cipher: &'a FieldCipher,
    pub policy: IdempotencyPolicy,
}

pub struct IntakeRequest<'a> {
    pub merchant: &'a MerchantId,
    pub key: &'a IdempotencyKey,
    pub fingerprint: &'a Fingerprint,
    pub correlation: &'a CorrelationId,
    pub request: DepositRequest,
}

impl IntakeRequest<'_> {
    fn key_context(&self) -> KeyContext<'_> {
        KeyContext {
            merchant: self.merchant,
            key: self.key,
            fingerprint: self.fingerprint,
            correlation: self.correlation,
        }
    }
}

pub async fn request_deposit(
    ports: &IntakePorts<'_>,
    input: IntakeRequest<'_>,
) -> Result<Created, IntakeError> {
    let now = ports.clock.now();
    let deposit_id = DepositId(ports.ids.new_uuid());
    let owner = ports.ids.new_uuid();
    let first = RecordedEvent {
        deposit_id,
        version: 1,
        event_id: EventId(ports.ids.new_uuid()),
        schema_version: SCHEMA_VERSION,
        occurred_at: now,
        correlation_id: input.correlation.clone(),
        causation_id: None,
        event: DepositEvent::DepositRequested {
            deposit_id,
            merchant_id: input.merchant.clone(),
            request: seal(ports.cipher, deposit_id, &input.request)?,
        },
    };
    let view = Deposit::start(&first)
        .map_err(|e| IntakeError::Inconsistent(e.to_string()))?
        .view();
    let claim = IdempotencyState::InFlight {
        owner,
        lease_until: now + ports.policy.lease,
    };
    let record = IdempotencyRecord {
        merchant_id: input.merchant.clone(),
        key: input.key.clone(),
        fingerprint: input.fingerprint.clone(),
        deposit_id,
        state: claim.clone(),
        response: view.clone(),
        refund: None,
        created_at: now,
        expires_at: now + ports.policy.retention,
    };
    let batch = AppendBatch {
        deposit_id,
        expected_version: 0,
        events: vec![first],
        view: view.clone(),
        idempotency: Some(record),
        lookups: Vec::new(),
    };
    match ports.store.append(batch).await {
        Ok(()) => {
            enqueue_and_complete(ports, &input.key_context(), deposit_id, &claim).await?;
            Ok(Created::New(view))
        }
        Err(AppendError::IdempotencyKeyTaken) => {
            let record = resume(ports, &input.key_context()).await?;
            Ok(Created::Replayed(record.response))
        }
        Err(AppendError::VersionConflict) => Err(IntakeError::Inconsistent(format!(
            "fresh deposit id {deposit_id} already has events"
        ))),
        Err(AppendError::Store(e) | AppendError::Ambiguous(e)) => Err(e.into()),
    }
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
        amount: request.amount,
        currency: request.currency,
        country: request.country,
        customer_id: request.customer_id.clone(),
        payment_method,
        metadata: request.metadata.clone(),
    })
}
