//! What can happen to a deposit. Events are facts: once stored they are never changed,
//! so every variant keeps its shape; new facts get new variants (or a schema bump + upcast).

use crate::crypto::EncryptedField;
use crate::ids::{CorrelationId, DepositId, EventId, MerchantId, RefundId};
use crate::money::{Amount, Country, Currency};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Bumped when an event's payload changes shape; readers upcast older versions.
pub const SCHEMA_VERSION: u16 = 1;

/// A validated request for a new deposit (see [`crate::validation`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDeposit {
    pub amount: Amount,
    pub currency: Currency,
    pub country: Country,
    pub customer_id: String,
    /// Encrypted before it reaches an event: the store never sees the token in clear.
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
}

impl DepositEvent {
    /// The stored `event_type`, also the EventBridge detail-type stem.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DepositRequested { .. } => "DepositRequested",
            Self::AttemptStarted { .. } => "AttemptStarted",
            Self::AttemptFailed { .. } => "AttemptFailed",
            Self::DepositSubmitted { .. } => "DepositSubmitted",
            Self::DepositSucceeded { .. } => "DepositSucceeded",
            Self::DepositFailed { .. } => "DepositFailed",
            Self::RefundRequested { .. } => "RefundRequested",
            Self::RefundSubmitted { .. } => "RefundSubmitted",
            Self::RefundSucceeded { .. } => "RefundSucceeded",
            Self::RefundFailed { .. } => "RefundFailed",
            Self::ContradictingOutcomeIgnored { .. } => "ContradictingOutcomeIgnored",
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
