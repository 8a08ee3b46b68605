//! The local stack: hosts the same handler code the Lambdas run, behind one HTTP address.

pub mod consumer;
pub mod gateways;
mod http_bridge;
mod schedule;
mod settings;
mod wiring;

pub use http_bridge::{Functions, OPENAPI_PATH, router};
pub use settings::{Backend, Settings};
pub use wiring::{Stack, Sweeping, build};

use std::io::Write;
use tokio::net::TcpListener;

/// Binds, prints where to send requests, and serves until Ctrl-C.
pub async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let seeds = match std::env::var("PAYGATE_GATEWAYS_FILE") {
        Ok(path) => gateways::parse_seed(&std::fs::read_to_string(path)?)?,
        Err(_) => gateways::parse_seed(gateways::DEFAULT_SEED)?,
    };
    let stack = wiring::build(&settings, seeds).await?;
    let listener = TcpListener::bind(&settings.addr).await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "paygate devstack ({} backend)",
        settings.backend.name()
    )?;
    writeln!(out, "  base URL:  {base_url}")?;
    writeln!(out, "  openapi:   {base_url}{OPENAPI_PATH}")?;
    writeln!(out, "  merchant:  {}", stack.merchant)?;
    writeln!(
        out,
        "  probe:     every {} s (PAYGATE_PROBE_INTERVAL_SECS)",
        settings.probe_interval.as_secs()
    )?;
    for gateway in &stack.gateways {
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
    let _simulators = stack.simulators;
    let functions = http_bridge::Functions {
        intake: stack.intake,
        webhooks: stack.webhooks,
    };
    axum::serve(listener, http_bridge::router(functions))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    consumer.abort();
    schedule.abort();
    Ok(())
}
