//! The local stack: hosts the same handler code the Lambdas run, behind one HTTP address.

pub mod consumer;
pub mod gateways;
mod http_bridge;
pub mod metrics;
mod schedule;
mod settings;
mod status;
mod wiring;

pub use http_bridge::{Functions, OPENAPI_PATH, router};
pub use settings::{Backend, Settings};
pub use status::{PAGE_PATH as STATUS_PAGE_PATH, STATUS_JSON_PATH};
pub use wiring::{Stack, Sweeping, build};

use std::io::Write;
use tokio::net::TcpListener;

/// A started stack: where it listens, what it serves, and the tasks that run it.
pub struct Running {
    pub base_url: String,
    pub merchant: paygate_domain::MerchantId,
    pub gateways: Vec<paygate_domain::gateways::GatewayConfig>,
    /// The simulated gateways, kept alive for as long as the stack runs.
    pub simulators: Vec<gateway_simulator::RunningGateway>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    consumer: tokio::task::JoinHandle<()>,
    schedule: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Serves until `signal` completes, then stops every task.
    pub async fn serve_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        self.stop();
    }

    pub fn stop(self) {
        self.server.abort();
        self.consumer.abort();
        self.schedule.abort();
    }
}

/// The gateways to simulate: `PAYGATE_GATEWAYS_FILE`, or the default seed.
pub fn gateway_seeds() -> Result<Vec<gateways::GatewaySeed>, Box<dyn std::error::Error>> {
    Ok(match std::env::var("PAYGATE_GATEWAYS_FILE") {
        Ok(path) => gateways::parse_seed(&std::fs::read_to_string(path)?)?,
        Err(_) => gateways::parse_seed(gateways::DEFAULT_SEED)?,
    })
}

/// Builds the stack, binds `settings.addr`, and starts serving, the queue's consumer and
/// the scheduled probe.
pub async fn start(settings: &Settings) -> Result<Running, Box<dyn std::error::Error>> {
    let stack = wiring::build(settings, gateway_seeds()?).await?;
    let listener = TcpListener::bind(&settings.addr).await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    for simulator in &stack.simulators {
        simulator.set_webhook_base_url(Some(base_url.clone()));
    }
    let consumer = tokio::spawn(consumer::run(
        stack.queue.clone(),
        stack.processor.clone(),
        settings.queue_duplicates,
    ));
    let probe = health_probe::Probe {
        registry: stack.processor.registry.clone(),
        connectors: stack.processor.connectors.clone(),
        store: stack.sweeping.store,
        index: stack.sweeping.index,
        queue: stack.sweeping.queue,
        publisher: stack.sweeping.publisher,
        clock: stack.processor.clock.clone(),
        ids: stack.processor.ids.clone(),
        policy: Default::default(),
        sweep: settings.sweep,
        attempts: stack.processor.attempts,
        sweep_budget: settings
            .probe_interval
            .min(std::time::Duration::from_secs(15)),
    };
    let schedule = tokio::spawn(schedule::every(settings.probe_interval, probe));
    let status = status::Sources {
        registry: stack.processor.registry.clone(),
        deposits: stack.intake.deposits.clone(),
        store: stack.intake.store.clone(),
        merchant: stack.merchant.clone(),
        window: status::recent(),
    };
    let functions = http_bridge::Functions {
        intake: stack.intake,
        webhooks: stack.webhooks,
        metrics: metrics::prometheus(),
        base_url: Some(base_url.clone()),
    };
    // The status page is the devstack's own: the API's router (and its tests) stay as deployed.
    let app = http_bridge::router(functions).merge(status::routes(status));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Running {
        base_url,
        merchant: stack.merchant,
        gateways: stack.gateways,
        simulators: stack.simulators,
        server,
        consumer,
        schedule,
    })
}

/// Starts the stack, prints where to send requests, and serves until Ctrl-C.
pub async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let running = start(&settings).await?;
    let base_url = &running.base_url;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "paygate devstack ({} backend)",
        settings.backend.name()
    )?;
    writeln!(out, "  base URL:  {base_url}")?;
    writeln!(out, "  openapi:   {base_url}{OPENAPI_PATH}")?;
    writeln!(out, "  metrics:   {base_url}{}", metrics::METRICS_PATH)?;
    writeln!(out, "  status:    {base_url}{}", status::PAGE_PATH)?;
    writeln!(out, "  merchant:  {}", running.merchant)?;
    writeln!(
        out,
        "  probe:     every {} s (PAYGATE_PROBE_INTERVAL_SECS)",
        settings.probe_interval.as_secs()
    )?;
    for gateway in &running.gateways {
        writeln!(
            out,
            "  gateway:   {} ({}, priority {}) at {}",
            gateway.name, gateway.format, gateway.priority, gateway.base_url
        )?;
    }
    writeln!(out, "  API key:   {}", settings.api_key_for_display())?;
    writeln!(
        out,
        "  try:       curl -s -X POST {base_url}/v1/deposits \\"
    )?;
    writeln!(
        out,
        "               -H 'Authorization: Bearer {}' \\",
        settings.api_key_for_display()
    )?;
    writeln!(
        out,
        "               -H 'Idempotency-Key: demo-1' -H 'Content-Type: application/json' \\"
    )?;
    writeln!(
        out,
        "               -d '{{\"amount\":10099,\"currency\":\"AED\",\"country\":\"AE\",\"customer_id\":\"cus_42\"}}'"
    )?;
    out.flush()?;
    drop(out);
    running
        .serve_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
