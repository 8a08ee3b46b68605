//! The health probe: an EventBridge-scheduled Lambda (`rate(1 minute)`). Each run probes
//! every registered gateway concurrently, records health, latency and `last_checked_at`,
//! and logs a summary. Safe to run twice at once: every registry update is atomic.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::LambdaEvent;
use paygate_domain::ports::{Clock, ConnectorDirectory, GatewayRegistry};
use paygate_domain::service::probe::{ProbePolicy, ProbePorts, probe_gateways};
use serde::Serialize;
use std::sync::Arc;

#[derive(Clone)]
pub struct Probe {
    pub registry: Arc<dyn GatewayRegistry>,
    pub connectors: Arc<dyn ConnectorDirectory>,
    pub clock: Arc<dyn Clock>,
    pub policy: ProbePolicy,
}

/// What one run did, returned to the scheduler and logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub probed: usize,
    pub healthy: usize,
    pub degraded: usize,
    pub unhealthy: usize,
    pub changed: Vec<String>,
    pub unrecorded: Vec<String>,
}

pub async fn run_once(app: &Probe) -> Result<RunSummary, lambda_runtime::Error> {
    let ports = ProbePorts {
        registry: app.registry.as_ref(),
        connectors: app.connectors.as_ref(),
        clock: app.clock.as_ref(),
        policy: app.policy,
    };
    let summary = probe_gateways(&ports).await?;
    let count = |health| summary.probed.iter().filter(|p| p.after == health).count();
    use paygate_domain::gateways::Health;
    let run = RunSummary {
        probed: summary.probed.len(),
        healthy: count(Health::Healthy),
        degraded: count(Health::Degraded),
        unhealthy: count(Health::Unhealthy),
        changed: summary.changed().map(|p| p.gateway.clone()).collect(),
        unrecorded: summary.unrecorded.clone(),
    };
    tracing::info!(
        probed = run.probed,
        healthy = run.healthy,
        degraded = run.degraded,
        unhealthy = run.unhealthy,
        changed = ?run.changed,
        "probe run finished"
    );
    Ok(run)
}

/// The Lambda handler: the scheduled event carries nothing we need.
pub async fn handle(
    app: &Probe,
    _event: LambdaEvent<EventBridgeEvent>,
) -> Result<RunSummary, lambda_runtime::Error> {
    run_once(app).await
}
