//! Lambda entry point: build the AWS clients once, then serve API Gateway requests.

use deposit_intake::key_cache::CachedMerchants;
use deposit_intake::{Intake, IntakeConfig, handle};
use lambda_http::{Error, service_fn};
use paygate_domain::ports::{RandomIds, SystemClock};
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    paygate_telemetry::init();
    let aws = paygate_aws::AwsAdapters::connect().await?;
    // The field keys are read once per cold start (from Secrets Manager in the template).
    let cipher = Arc::new(aws.field_cipher().await?);
    let clock = Arc::new(SystemClock);
    let intake = Intake {
        store: aws.publishing_store(),
        queue: aws.queue,
        merchants: Arc::new(CachedMerchants::new(aws.merchants, clock.clone())),
        ledger: aws.store.clone(),
        deposits: aws.store.clone(),
        registry: aws.registry,
        clock,
        ids: Arc::new(RandomIds),
        cipher,
        config: IntakeConfig::default(),
    };
    let metrics = paygate_telemetry::InvocationMetrics::install(paygate_domain::metrics::describe);
    lambda_http::run(service_fn(|request| {
        metrics.around(async { Ok::<_, Error>(handle(&intake, request).await) })
    }))
    .await
}
