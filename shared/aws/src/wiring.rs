//! The adapters every function needs, built once per process from the environment.

use crate::{
    DynamoEventStore, DynamoGatewayRegistry, DynamoMerchantDirectory, EventBridgePublisher,
    RequestMeter, Resources, SecretError, SqsQueue, sdk_config, secret_setting,
};
use aws_sdk_dynamodb::Client as DynamoClient;

use aws_sdk_secretsmanager::Client as SecretsClient;
use aws_sdk_sqs::Client as SqsClient;
use paygate_domain::crypto::FieldCipher;
use paygate_domain::ports::{EventStore, QueueError};
use paygate_domain::service::publish::PublishingEventStore;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

pub struct AwsAdapters {
    pub store: Arc<DynamoEventStore>,
    pub merchants: Arc<DynamoMerchantDirectory>,
    pub registry: Arc<DynamoGatewayRegistry>,
    pub queue: Arc<SqsQueue>,
    /// Domain events to the bus (`PAYGATE_EVENT_BUS`).
    pub bus: Arc<EventBridgePublisher>,
    pub dynamodb: DynamoClient,
    pub sqs: SqsClient,
    pub secrets: SecretsClient,
    pub resources: Resources,
}

impl AwsAdapters {
    /// Reads the SDK configuration and `PAYGATE_*` names, and resolves the queue.
    pub async fn connect() -> Result<Self, QueueError> {
        Self::connect_with(None).await
    }

    /// [`connect`](Self::connect), every request these adapters make (the queue's
    /// resolution included) counted on `meter`.
    pub async fn connect_metered(meter: &RequestMeter) -> Result<Self, QueueError> {
        Self::connect_with(Some(meter)).await
    }

    async fn connect_with(meter: Option<&RequestMeter>) -> Result<Self, QueueError> {
        let config = sdk_config();
        let resources = Resources::from_env();
        macro_rules! client {
            ($sdk:ident) => {{
                let mut builder = $sdk::config::Builder::from(&config);
                if let Some(meter) = meter {
                    builder.push_interceptor(meter.interceptor());
                }
                $sdk::Client::from_conf(builder.build())
            }};
        }
        let dynamodb = client!(aws_sdk_dynamodb);
        let sqs = client!(aws_sdk_sqs);
        let queue = SqsQueue::deposits(sqs.clone(), &resources).await?;
        Ok(Self {
            store: Arc::new(DynamoEventStore::new(dynamodb.clone(), &resources)),
            merchants: Arc::new(DynamoMerchantDirectory::new(dynamodb.clone(), &resources)),
            registry: Arc::new(DynamoGatewayRegistry::new(dynamodb.clone(), &resources)),
            queue: Arc::new(queue),
            bus: Arc::new(EventBridgePublisher::from_resources(
                client!(aws_sdk_eventbridge),
                &resources,
            )),
            dynamodb,
            sqs,
            secrets: client!(aws_sdk_secretsmanager),
            resources,
        })
    }

    /// The secret setting `name` from the process environment: fetched from Secrets
    /// Manager when `<name>_SECRET_ARN` is set (as in the template), else `<name>` itself.
    pub async fn secret(&self, name: &str) -> Result<SecretString, SecretError> {
        secret_setting(&self.secrets, name, |variable| std::env::var(variable).ok()).await
    }

    /// The cipher of the deposits' sensitive fields, from the secret setting
    /// `PAYGATE_FIELD_KEYS` (see [`secret`](Self::secret)).
    pub async fn field_cipher(&self) -> Result<FieldCipher, SecretError> {
        const NAME: &str = "PAYGATE_FIELD_KEYS";
        let spec = self.secret(NAME).await?;
        FieldCipher::from_spec(spec.expose_secret()).map_err(|error| SecretError::Invalid {
            name: NAME.to_owned(),
            reason: error.to_string(),
        })
    }

    /// The event store the functions write through: every append that commits is
    /// followed by publishing its domain events to the bus (see `PublishingEventStore`).
    pub fn publishing_store(&self) -> Arc<dyn EventStore> {
        Arc::new(PublishingEventStore {
            inner: self.store.clone(),
            index: self.store.clone(),
            publisher: self.bus.clone(),
        })
    }
}
