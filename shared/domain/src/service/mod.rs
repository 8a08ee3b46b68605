//! Use cases, written against the ports.

mod command;
mod idempotent;
pub mod intake;
pub mod outcome;
pub mod probe;
pub mod process;
pub mod publish;
mod queries;
pub mod refund;
pub mod sweep;

pub use command::{
    Cause, Claim, CommandError, CommandPorts, Decision, Executed, RetryPolicy, Start, create,
    execute,
};
pub use queries::{balance_transactions, balances, deposit_events, deposit_view};
