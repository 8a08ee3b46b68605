//! The health probe: an EventBridge-scheduled Lambda (`rate(1 minute)`). Each run
//!
//! 1. probes every registered gateway concurrently and records health, latency and
//!    `last_checked_at` (publishing `GatewayHealthChanged` for each change);
//! 2. runs the recovery sweeper within a time budget: re-enqueues lost messages, settles
//!    unresolved attempts and silent submissions, publishes unpublished domain events.
//!
//! Safe to run twice at once: registry updates and deposit appends are all conditional.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::LambdaEvent;
use paygate_domain::gateways::Health;
use paygate_domain::ids::EventId;
use paygate_domain::ports::{
    Clock, ConnectorDirectory, EventPublisher, EventStore, GatewayRegistry, IdGenerator,
    QueueSender, SweepIndex,
};
use paygate_domain::service::probe::{ProbePolicy, ProbePorts, probe_gateways};
use paygate_domain::service::process::AttemptPolicy;
use paygate_domain::service::publish::gateway_health_changed;
use paygate_domain::service::sweep::{SweepPolicy, SweepPorts, SweepSummary, sweep};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Probe {
    pub registry: Arc<dyn GatewayRegistry>,
    pub connectors: Arc<dyn ConnectorDirectory>,
    pub store: Arc<dyn EventStore>,
    pub index: Arc<dyn SweepIndex>,
    pub queue: Arc<dyn QueueSender>,
    pub publisher: Arc<dyn EventPublisher>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub policy: ProbePolicy,
    pub sweep: SweepPolicy,
    /// When the processor may re-send an attempt's request (the sweeper must agree).
    pub attempts: AttemptPolicy,
    /// How long the sweeper may run; keep it well under the function's timeout.
    pub sweep_budget: Duration,
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
    pub requeued: usize,
    pub attempts_settled: usize,
    pub submitted_settled: usize,
    pub refunds_settled: usize,
    pub published: usize,
    pub sweep_failures: usize,
    pub sweep_stopped_early: bool,
}

pub async fn run_once(app: &Probe) -> Result<RunSummary, lambda_runtime::Error> {
    let started = Instant::now();
    let deadline =
        app.clock.now() + time::Duration::try_from(app.sweep_budget).unwrap_or(time::Duration::MAX);
    let ports = ProbePorts {
        registry: app.registry.as_ref(),
        connectors: app.connectors.as_ref(),
        clock: app.clock.as_ref(),
        policy: app.policy,
    };
    let probed = probe_gateways(&ports).await?;
    let now = app.clock.now();
    let changes: Vec<_> = probed
        .changed()
        .map(|p| {
            gateway_health_changed(
                EventId(app.ids.new_uuid()),
                &p.gateway,
                p.before,
                p.after,
                p.latency_ms,
                now,
            )
        })
        .collect();
    if !changes.is_empty()
        && let Err(error) = app.publisher.publish(&changes).await
    {
        // Health is re-probed every minute; a lost notice is superseded by the next.
        tracing::warn!(%error, "could not publish gateway health changes");
    }
    let sweep_ports = SweepPorts {
        store: app.store.as_ref(),
        index: app.index.as_ref(),
        registry: app.registry.as_ref(),
        connectors: app.connectors.as_ref(),
        queue: app.queue.as_ref(),
        publisher: app.publisher.as_ref(),
        clock: app.clock.as_ref(),
        ids: app.ids.as_ref(),
        attempts: app.attempts,
    };
    let swept = match sweep(&sweep_ports, &app.sweep, deadline).await {
        Ok(summary) => summary,
        Err(error) => {
            tracing::warn!(%error, "sweep failed; the next run retries");
            SweepSummary {
                failures: 1,
                ..SweepSummary::default()
            }
        }
    };
    let count = |health| probed.probed.iter().filter(|p| p.after == health).count();
    let run = RunSummary {
        probed: probed.probed.len(),
        healthy: count(Health::Healthy),
        degraded: count(Health::Degraded),
        unhealthy: count(Health::Unhealthy),
        changed: probed.changed().map(|p| p.gateway.clone()).collect(),
        unrecorded: probed.unrecorded.clone(),
        requeued: swept.requeued,
        attempts_settled: swept.attempts_settled,
        submitted_settled: swept.submitted_settled,
        refunds_settled: swept.refunds_settled,
        published: swept.published,
        sweep_failures: swept.failures,
        sweep_stopped_early: swept.stopped_early,
    };
    tracing::info!(summary = ?run, elapsed_ms = started.elapsed().as_millis() as u64, "probe run finished");
    Ok(run)
}

/// The Lambda handler: the scheduled event carries nothing we need.
pub async fn handle(
    app: &Probe,
    _event: LambdaEvent<EventBridgeEvent>,
) -> Result<RunSummary, lambda_runtime::Error> {
    run_once(app).await
}
