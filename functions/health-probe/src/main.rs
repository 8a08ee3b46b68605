//! Lambda entry point: build the AWS clients once, then probe on every scheduled event.

use gateway_processor::ConnectorCache;
use health_probe::{Probe, handle};
use lambda_runtime::{Error, service_fn};
use paygate_domain::ports::SystemClock;
use paygate_domain::service::probe::ProbePolicy;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    paygate_api::telemetry::init();
    let aws = paygate_aws::AwsAdapters::connect().await?;
    let probe = Probe {
        registry: aws.registry,
        connectors: Arc::new(ConnectorCache::new()),
        clock: Arc::new(SystemClock),
        policy: ProbePolicy::default(),
    };
    lambda_runtime::run(service_fn(|event| {
        let probe = &probe;
        async move { handle(probe, event).await }
    }))
    .await
}
