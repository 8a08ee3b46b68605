//! The [`EventStore`](paygate_domain::ports::EventStore) on DynamoDB, and the
//! [`SweepIndex`](paygate_domain::ports::SweepIndex) over its read model, the merchants'
//! [`Ledger`](paygate_domain::ports::Ledger) and their
//! [`DepositList`](paygate_domain::ports::DepositList).

mod cancellation;
mod dynamo;
mod items;
mod ledger;
mod lists;
mod sweep;

pub use dynamo::{DynamoEventStore, MAX_TRANSACTION_ITEMS};
