//! Lambda entry point: build the AWS clients once, then serve webhook requests.

use lambda_http::{Error, service_fn};
use paygate_domain::ports::{RandomIds, SystemClock};
use std::sync::Arc;
use webhook_callback::{WebhookGateways, Webhooks, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    paygate_api::telemetry::init();
    let aws = paygate_aws::AwsAdapters::connect().await?;
    // Resolved from Secrets Manager by the template; never logged.
    let gateways = std::env::var("PAYGATE_WEBHOOK_GATEWAYS")
        .map_err(|_| "PAYGATE_WEBHOOK_GATEWAYS is not set")?;
    let webhooks = Webhooks {
        store: aws.publishing_store(),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        gateways: Arc::new(WebhookGateways::from_json(&gateways)?),
    };
    lambda_http::run(service_fn(|request| {
        let webhooks = &webhooks;
        async move { Ok::<_, Error>(handle(webhooks, request).await) }
    }))
    .await
}
