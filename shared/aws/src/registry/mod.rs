//! The [`GatewayRegistry`](paygate_domain::ports::GatewayRegistry) on DynamoDB.

mod dynamo;
mod items;

pub use dynamo::{DynamoGatewayRegistry, MAX_UPDATE_ATTEMPTS};
