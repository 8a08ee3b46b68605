//! The deposit aggregate: one event stream per deposit, state rebuilt by replaying it.

mod aggregate;
mod attempts;
mod events;
mod refunds;
mod settlement;
mod status;
mod view;

pub use aggregate::{Deposit, TransitionError};
pub use attempts::{Attempt, AttemptState};
pub use events::{
    Anomaly, AnomalyKind, ChargeRef, DepositEvent, Direction, FailureReason, NewDeposit,
    PaymentMethod, RecordedEvent, SCHEMA_VERSION,
};
pub use refunds::{MAX_REFUNDS, Refund, RefundState};
pub use settlement::{
    AMOUNT_MISMATCH, GATEWAY_UNAVAILABLE, MAX_CONTRADICTIONS, Sighting, UNREACHABLE,
};
pub use status::DepositStatus;
pub use view::{DepositView, SweepKind};
