//! Lambda entry point: build the AWS clients once, then serve webhook requests.

use lambda_http::{Error, service_fn};
use paygate_aws::secrecy::ExposeSecret;
use paygate_domain::ports::{RandomIds, SystemClock};
use std::sync::Arc;
use webhook_callback::{WebhookGateways, Webhooks, handle};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    paygate_telemetry::init();
    let aws = paygate_aws::AwsAdapters::connect().await?;
    // Fetched from Secrets Manager (PAYGATE_WEBHOOK_GATEWAYS_SECRET_ARN) once per cold
    // start; rotating a secret therefore takes effect as instances are replaced.
    let gateways = aws.secret("PAYGATE_WEBHOOK_GATEWAYS").await?;
    let webhooks = Webhooks {
        store: aws.publishing_store(),
        queue: aws.queue.clone(),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        gateways: Arc::new(WebhookGateways::from_json(gateways.expose_secret())?),
    };
    let metrics = paygate_telemetry::InvocationMetrics::install(paygate_domain::metrics::describe);
    lambda_http::run(service_fn(|request| {
        metrics.around(async { Ok::<_, Error>(handle(&webhooks, request).await) })
    }))
    .await
}
