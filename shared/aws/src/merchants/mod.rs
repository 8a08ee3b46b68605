//! The [`MerchantDirectory`](paygate_domain::ports::MerchantDirectory) on DynamoDB.

mod dynamo;

pub use dynamo::DynamoMerchantDirectory;
