//! The deposit aggregate: one event stream per deposit, state rebuilt by replaying it.

mod aggregate;
mod events;
mod settlement;
mod status;
mod view;

pub use aggregate::{
    Attempt, AttemptState, Deposit, MAX_REFUNDS, Refund, RefundState, TransitionError,
};
pub use events::{
    Anomaly, AnomalyKind, ChargeRef, DepositEvent, Direction, FailureReason, NewDeposit,
    PaymentMethod, RecordedEvent, SCHEMA_VERSION,
};
pub use settlement::{
    AMOUNT_MISMATCH, GATEWAY_UNAVAILABLE, MAX_CONTRADICTIONS, Sighting, UNREACHABLE,
};
pub use status::DepositStatus;
pub use view::{DepositView, SweepKind};
