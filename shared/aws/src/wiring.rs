//! The adapters every function needs, built once per process from the environment.

use crate::{
    DynamoEventStore, DynamoGatewayRegistry, DynamoMerchantDirectory, Resources, SqsQueue,
    sdk_config,
};
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_sqs::Client as SqsClient;
use paygate_domain::ports::QueueError;
use std::sync::Arc;

pub struct AwsAdapters {
    pub store: Arc<DynamoEventStore>,
    pub merchants: Arc<DynamoMerchantDirectory>,
    pub registry: Arc<DynamoGatewayRegistry>,
    pub queue: Arc<SqsQueue>,
    pub dynamodb: DynamoClient,
    pub sqs: SqsClient,
    pub resources: Resources,
}

impl AwsAdapters {
    /// Reads the SDK configuration and `PAYGATE_*` names, and resolves the queue.
    pub async fn connect() -> Result<Self, QueueError> {
        let config = sdk_config().await;
        let resources = Resources::from_env();
        let dynamodb = DynamoClient::new(&config);
        let sqs = SqsClient::new(&config);
        let queue = SqsQueue::deposits(sqs.clone(), &resources).await?;
        Ok(Self {
            store: Arc::new(DynamoEventStore::new(dynamodb.clone(), &resources)),
            merchants: Arc::new(DynamoMerchantDirectory::new(dynamodb.clone(), &resources)),
            registry: Arc::new(DynamoGatewayRegistry::new(dynamodb.clone(), &resources)),
            queue: Arc::new(queue),
            dynamodb,
            sqs,
            resources,
        })
    }
}
