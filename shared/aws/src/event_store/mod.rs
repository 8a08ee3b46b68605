//! The [`EventStore`](paygate_domain::ports::EventStore) on DynamoDB, and the
//! [`SweepIndex`](paygate_domain::ports::SweepIndex) over its read model.

mod cancellation;
mod dynamo;
mod items;
mod sweep;

pub use dynamo::{DynamoEventStore, MAX_TRANSACTION_ITEMS};
