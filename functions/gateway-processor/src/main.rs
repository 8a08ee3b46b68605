//! Lambda entry point: build the AWS clients once, then process SQS batches.

use gateway_processor::{ConnectorCache, Processor, handle};
use lambda_runtime::{Error, service_fn};
use paygate_domain::crypto::FieldCipher;
use paygate_domain::gateways::BreakerPolicy;
use paygate_domain::ports::{RandomIds, SystemClock};
use paygate_domain::service::process::RedeliveryPolicy;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    paygate_api::telemetry::init();
    let aws = paygate_aws::AwsAdapters::connect().await?;
    // Resolved from Secrets Manager by the template; never logged.
    let field_keys =
        std::env::var("PAYGATE_FIELD_KEYS").map_err(|_| "PAYGATE_FIELD_KEYS is not set")?;
    let processor = Processor {
        store: aws.publishing_store(),
        registry: aws.registry,
        connectors: Arc::new(ConnectorCache::new()),
        redelivery: aws.queue,
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        cipher: Arc::new(FieldCipher::from_spec(&field_keys)?),
        breaker: BreakerPolicy::default(),
        backoff: RedeliveryPolicy::default(),
        in_flight_grace: paygate_domain::service::process::IN_FLIGHT_GRACE,
    };
    lambda_runtime::run(service_fn(|event| {
        let processor = &processor;
        async move { handle(processor, event).await }
    }))
    .await
}
