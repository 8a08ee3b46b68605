//! The deposit aggregate: one event stream per deposit, state rebuilt by replaying it.

mod aggregate;
mod events;
mod status;
mod view;

pub use aggregate::{Attempt, AttemptState, Deposit, Refund, RefundState, TransitionError};
pub use events::{
    Anomaly, AnomalyKind, ChargeRef, DepositEvent, FailureReason, NewDeposit, PaymentMethod,
    RecordedEvent, SCHEMA_VERSION,
};
pub use status::DepositStatus;
pub use view::{DepositView, SweepKind};
