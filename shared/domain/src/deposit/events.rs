//! What can happen to a deposit. Events are facts: once stored they are never changed,
//! so every variant keeps its shape; new facts get new variants (or a schema bump + upcast).

use crate::crypto::EncryptedField;
use crate::ids::{AttemptOwner, CorrelationId, DepositId, EventId, MerchantId, RefundId};
use crate::money::{Amount, Country, Currency, Money};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Bumped when an event's payload changes shape; readers upcast older versions.
pub const SCHEMA_VERSION: u16 = 1;

/// Which way the money goes. A payout is the deposit's lifecycle the other way round
/// (the same stream, attempts, ownership, sweeps and webhooks): the merchant's money
/// leaves for a destination instead of a customer's money arriving.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A customer pays the merchant.
    #[default]
    Deposit,
    /// The merchant's available balance is paid out to a destination (a bank account).
    Payout,
}

impl Direction {
    pub fn is_deposit(&self) -> bool {
        *self == Self::Deposit
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deposit => "deposit",
            Self::Payout => "payout",
        }
    }
}

/// A validated request for a new deposit or payout (see [`crate::validation`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDeposit {
    /// Absent in streams written before payouts existed: those are deposits.
    #[serde(default, skip_serializing_if = "Direction::is_deposit")]
    pub direction: Direction,
    pub amount: Amount,
    pub currency: Currency,
    pub country: Country,
    /// Empty for payouts.
    pub customer_id: String,
    /// Encrypted before it reaches an event: the store never sees the token in clear.
    /// For a payout, its destination (type `bank_account`).
    pub payment_method: Option<PaymentMethod>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A payment method as stored: its type in clear, its details encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethod {
    #[serde(rename = "type")]
    pub kind: String,
    pub details: EncryptedField,
}

/// Why a deposit or an attempt failed, as a stable machine code plus a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureReason {
    pub code: String,
    pub message: String,
}

impl FailureReason {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// A payment at a gateway, by the gateway's id for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeRef {
    pub gateway: String,
    pub external_id: String,
}

/// What kind of surprise a gateway caused. Every one is recorded, published, counted and
/// alarmed; those where money moved that should not have are also reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A charge the deposit does not hold as its own: made for an attempt that was closed
    /// or never recorded, or a second charge. Refunded automatically.
    UnexpectedCharge,
    /// A success reported for a deposit already recorded `failed`. Refunded automatically.
    SuccessAfterFailure,
    /// The gateway charged another amount or currency than asked. The deposit fails and
    /// the charge is refunded automatically.
    AmountMismatch,
    /// An outcome contradicting a final one (e.g. "failed" after "succeeded"). Nothing is
    /// changed; a person checks with the gateway.
    OutcomeContradiction,
    /// An attempt whose outcome is still unknown after the gateway may have forgotten its
    /// idempotency key: re-sending could charge twice, so a person settles it.
    AttemptUnresolved,
    /// A refund whose outcome is still unknown after the gateway may have forgotten its
    /// idempotency key: re-sending could refund twice, so a person settles it.
    RefundUnresolved,
    /// The gateway declined paygate's refund of a charge that is not the deposit's: the
    /// customer is still charged, so a person returns the money with the gateway.
    ReversalDeclined,
}

impl AnomalyKind {
    /// Whether it leaves an outcome nobody can learn without a person (the deposit or
    /// refund stays open until one settles it).
    pub fn needs_a_person(self) -> bool {
        matches!(
            self,
            Self::AttemptUnresolved | Self::RefundUnresolved | Self::ReversalDeclined
        )
    }

    /// Whether a person must act on it for a payout: every payout surprise, since money
    /// paid out is never reversed automatically.
    pub fn needs_a_person_for(self, direction: Direction) -> bool {
        self.needs_a_person() || direction == Direction::Payout
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnexpectedCharge => "unexpected_charge",
            Self::SuccessAfterFailure => "success_after_failure",
            Self::AmountMismatch => "amount_mismatch",
            Self::OutcomeContradiction => "outcome_contradiction",
            Self::AttemptUnresolved => "attempt_unresolved",
            Self::RefundUnresolved => "refund_unresolved",
            Self::ReversalDeclined => "reversal_declined",
        }
    }
}

/// A gateway surprise, as recorded on the deposit's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub gateway: String,
    /// The gateway's payment id, when the surprise is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// What the gateway says moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charged: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// The refund it is about, when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<RefundId>,
    /// The gateway's event id when a webhook reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_event_id: Option<String>,
    /// For people: what was seen, in a sentence (no PSP text, no secrets).
    pub detail: String,
}

impl Anomaly {
    /// Two anomalies with the same key are one fact reported twice (gateways retry).
    pub fn same_as(&self, other: &Anomaly) -> bool {
        self.kind == other.kind
            && self.gateway == other.gateway
            && self.external_id == other.external_id
            && self.attempt == other.attempt
            && self.refund == other.refund
            && (self.kind != AnomalyKind::OutcomeContradiction
                || self.gateway_event_id == other.gateway_event_id)
    }

    /// The charge this anomaly put in suspense (a charge that is not the deposit's, with
    /// what the gateway charged), if it is one that does.
    pub fn held_charge(&self) -> Option<ChargeRef> {
        let holds = matches!(
            self.kind,
            AnomalyKind::UnexpectedCharge
                | AnomalyKind::SuccessAfterFailure
                | AnomalyKind::AmountMismatch
        );
        self.charged?;
        self.charge().filter(|_| holds)
    }

    /// The charge the anomaly is about, when there is one.
    pub fn charge(&self) -> Option<ChargeRef> {
        self.external_id.as_ref().map(|external_id| ChargeRef {
            gateway: self.gateway.clone(),
            external_id: external_id.clone(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DepositEvent {
    DepositRequested {
        deposit_id: DepositId,
        merchant_id: MerchantId,
        #[serde(flatten)]
        request: NewDeposit,
    },
    /// Recorded BEFORE the gateway is called, so a crash after the call leaves an
    /// ambiguous attempt to reconcile rather than a payment nobody knows about.
    AttemptStarted {
        attempt: u32,
        gateway: String,
        idempotency_key: String,
        /// The delivery that opened it (absent in streams written before ownership).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<AttemptOwner>,
    },
    /// The owner stops waiting on the attempt's call without knowing its outcome (an
    /// unclear answer): any delivery may resume it now instead of after the owner's lease.
    AttemptReleased {
        attempt: u32,
    },
    /// A delivery takes over an open attempt (released, or its owner's lease ran out) to
    /// send the same request with the same key to the same gateway: the gateway's
    /// idempotency answers with the original payment, or makes exactly one.
    AttemptResumed {
        attempt: u32,
        owner: AttemptOwner,
    },
    AttemptFailed {
        attempt: u32,
        reason: FailureReason,
        /// Whether another gateway (or a later retry) may be tried.
        retryable: bool,
    },
    DepositSubmitted {
        attempt: u32,
        gateway: String,
        external_id: String,
    },
    DepositSucceeded {
        external_id: String,
    },
    DepositFailed {
        reason: FailureReason,
    },
    RefundRequested {
        refund_id: RefundId,
        amount: Amount,
        /// A refund paygate makes by itself of a charge that is not the deposit's own
        /// (see [`AnomalyKind`]); absent for the merchant's refunds of the deposit.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        charge: Option<ChargeRef>,
    },
    /// The gateway took the refund; its outcome arrives by webhook under this id.
    RefundSubmitted {
        refund_id: RefundId,
        refund_external_id: String,
    },
    RefundSucceeded {
        refund_id: RefundId,
    },
    RefundFailed {
        refund_id: RefundId,
        reason: FailureReason,
    },
    /// A gateway reported an outcome that contradicts the deposit's final state (e.g.
    /// "failed" after "succeeded"). Kept for audit; it never changes the outcome.
    ContradictingOutcomeIgnored {
        gateway_event_id: String,
        reported: String,
    },
    /// A gateway did something paygate did not ask for or expect (see [`AnomalyKind`]).
    PaymentAnomalyDetected {
        anomaly: Anomaly,
    },
}

impl DepositEvent {
    /// The stored `event_type`, also the EventBridge detail-type stem.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DepositRequested { .. } => "DepositRequested",
            Self::AttemptStarted { .. } => "AttemptStarted",
            Self::AttemptReleased { .. } => "AttemptReleased",
            Self::AttemptResumed { .. } => "AttemptResumed",
            Self::AttemptFailed { .. } => "AttemptFailed",
            Self::DepositSubmitted { .. } => "DepositSubmitted",
            Self::DepositSucceeded { .. } => "DepositSucceeded",
            Self::DepositFailed { .. } => "DepositFailed",
            Self::RefundRequested { .. } => "RefundRequested",
            Self::RefundSubmitted { .. } => "RefundSubmitted",
            Self::RefundSucceeded { .. } => "RefundSucceeded",
            Self::RefundFailed { .. } => "RefundFailed",
            Self::ContradictingOutcomeIgnored { .. } => "ContradictingOutcomeIgnored",
            Self::PaymentAnomalyDetected { .. } => "PaymentAnomalyDetected",
        }
    }
}

impl DepositEvent {
    /// The event's name for its direction: a payout's stream tells its story in payout
    /// words (`PayoutRequested`, `PayoutPaid`, …) on the API and the bus, while the store
    /// keeps one set of event types.
    pub fn name(&self, direction: Direction) -> &'static str {
        if direction.is_deposit() {
            return self.kind();
        }
        match self {
            Self::DepositRequested { .. } => "PayoutRequested",
            Self::DepositSubmitted { .. } => "PayoutSubmitted",
            Self::DepositSucceeded { .. } => "PayoutPaid",
            Self::DepositFailed { .. } => "PayoutFailed",
            other => other.kind(),
        }
    }
}

/// An event as stored in a stream: the fact plus where, when and why it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedEvent {
    pub deposit_id: DepositId,
    /// 1-based, gapless position in the stream.
    pub version: u64,
    pub event_id: EventId,
    pub schema_version: u16,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub correlation_id: CorrelationId,
    /// The event or message that caused this one, when there is one.
    pub causation_id: Option<String>,
    pub event: DepositEvent,
}
