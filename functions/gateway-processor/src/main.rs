//! Lambda entry point: build the AWS clients once, then process SQS batches.

use gateway_processor::{Processor, handle};
use lambda_runtime::{Error, service_fn};
use paygate_domain::gateways::CachedRegistry;
use paygate_domain::ports::SystemClock;
use paygate_gateways::ConnectorCache;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    paygate_telemetry::init();
    let aws = paygate_aws::AwsAdapters::connect().await?;
    // The field keys are read once per cold start (from Secrets Manager in the template).
    let cipher = Arc::new(aws.field_cipher().await?);
    let clock = Arc::new(SystemClock);
    let processor = Processor::new(
        aws.publishing_store(),
        Arc::new(CachedRegistry::new(aws.registry, clock.clone())),
        Arc::new(ConnectorCache::new()),
        aws.queue,
        clock,
        cipher,
    );
    let metrics = paygate_telemetry::InvocationMetrics::install(paygate_domain::metrics::describe);
    lambda_runtime::run(service_fn(|event| {
        metrics.around(handle(&processor, event))
    }))
    .await
}
