//! The [`EventStore`](paygate_domain::ports::EventStore) on DynamoDB.

mod cancellation;
mod dynamo;
mod items;

pub use dynamo::{DynamoEventStore, MAX_TRANSACTION_ITEMS};
