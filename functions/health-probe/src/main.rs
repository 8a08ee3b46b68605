//! Lambda entry point: build the AWS clients once, then probe and sweep on every
//! scheduled event.

use health_probe::{Probe, handle};
use lambda_runtime::{Error, service_fn};
use paygate_domain::gateways::CachedRegistry;
use paygate_domain::ports::{RandomIds, SystemClock};
use paygate_domain::service::probe::ProbePolicy;
use paygate_domain::service::process::AttemptPolicy;
use paygate_domain::service::sweep::SweepPolicy;
use paygate_gateways::ConnectorCache;
use std::sync::Arc;
use std::time::Duration;

/// The sweep starts no new item after this. The function's timeout (30 s in the
/// template) leaves room for the last item: a gateway status call (at most 5 s) and writes.
const SWEEP_BUDGET: Duration = Duration::from_secs(15);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    paygate_telemetry::init();
    let aws = paygate_aws::AwsAdapters::connect().await?;
    // Outcomes the sweeper records are published right away, like everyone else's.
    let store = aws.publishing_store();
    let clock = Arc::new(SystemClock);
    let probe = Probe {
        // The run's probe and sweep share one listing (any health change forgets it).
        registry: Arc::new(CachedRegistry::new(aws.registry, clock.clone())),
        connectors: Arc::new(ConnectorCache::new()),
        store,
        index: aws.store,
        queue: aws.queue,
        publisher: aws.bus,
        clock,
        ids: Arc::new(RandomIds),
        policy: ProbePolicy::default(),
        // PAYGATE_SWEEP_*_AFTER_SECS, or the defaults.
        sweep: SweepPolicy::from_settings(|name| std::env::var(name).ok())?,
        attempts: AttemptPolicy::default(),
        sweep_budget: SWEEP_BUDGET,
    };
    let metrics = paygate_telemetry::InvocationMetrics::install(paygate_domain::metrics::describe);
    lambda_runtime::run(service_fn(|event| metrics.around(handle(&probe, event)))).await
}
