//! Lambda entry point: build the AWS clients once, then process SQS batches.

use gateway_processor::{Processor, handle};
use lambda_runtime::{Error, service_fn};
use paygate_domain::gateways::BreakerPolicy;
use paygate_domain::gateways::CachedRegistry;
use paygate_domain::ports::{RandomIds, SystemClock};
use paygate_domain::service::process::RedeliveryPolicy;
use paygate_gateways::ConnectorCache;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    paygate_telemetry::init();
    let aws = paygate_aws::AwsAdapters::connect().await?;
    // The field keys are read once per cold start (from Secrets Manager in the template).
    let cipher = Arc::new(aws.field_cipher().await?);
    let clock = Arc::new(SystemClock);
    let processor = Processor {
        store: aws.publishing_store(),
        registry: Arc::new(CachedRegistry::new(aws.registry, clock.clone())),
        connectors: Arc::new(ConnectorCache::new()),
        redelivery: aws.queue,
        clock,
        ids: Arc::new(RandomIds),
        cipher,
        breaker: BreakerPolicy::default(),
        backoff: RedeliveryPolicy::default(),
        attempts: paygate_domain::service::process::AttemptPolicy::default(),
    };
    let metrics = paygate_telemetry::InvocationMetrics::install(paygate_domain::metrics::describe);
    lambda_runtime::run(service_fn(|event| {
        metrics.around(handle(&processor, event))
    }))
    .await
}
