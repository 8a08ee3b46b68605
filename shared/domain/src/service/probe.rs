//! The scheduled health probe: ask every gateway's health endpoint (concurrently, each
//! with the connector's short timeout) and record what it said in the registry.
//!
//! A gateway failing `unhealthy_after` probes in a row becomes `unhealthy` and routing
//! skips it; one probe passing brings it back. An open breaker whose cool-down has passed
//! and whose gateway answers moves to half-open, so the next payment is its trial.

use crate::gateways::{Gateway, GatewayStatus, Health};
use crate::ports::gateway::HealthOutcome;
use crate::ports::{Clock, ConnectorDirectory, GatewayRegistry, StatusChange, StoreError};
use futures::future::join_all;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct ProbePolicy {
    /// Failed probes in a row that make a gateway unhealthy. Default 3.
    pub unhealthy_after: u32,
    /// A healthy answer slower than this is `degraded`. Default 500 ms.
    pub degraded_latency: Duration,
    /// A probe that changes nothing but the time and latency of the check is recorded
    /// only when the last record is this old (so `last_checked_at` is never older, and
    /// most idle runs write nothing). Default 5 minutes.
    pub record_unchanged_after: Duration,
}

impl Default for ProbePolicy {
    fn default() -> Self {
        Self {
            unhealthy_after: 3,
            degraded_latency: Duration::from_millis(500),
            record_unchanged_after: Duration::from_secs(300),
        }
    }
}

/// One gateway's probe result, and whether its health changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub gateway: String,
    pub before: Health,
    pub after: Health,
    pub latency_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeSummary {
    pub probed: Vec<Probed>,
    /// Gateways whose status could not be recorded (the registry failed).
    pub unrecorded: Vec<String>,
}

impl ProbeSummary {
    pub fn changed(&self) -> impl Iterator<Item = &Probed> {
        self.probed.iter().filter(|p| p.before != p.after)
    }
}

pub struct ProbePorts<'a> {
    pub registry: &'a dyn GatewayRegistry,
    pub connectors: &'a dyn ConnectorDirectory,
    pub clock: &'a dyn Clock,
    pub policy: ProbePolicy,
}

pub async fn probe_gateways(ports: &ProbePorts<'_>) -> Result<ProbeSummary, StoreError> {
    let gateways = ports.registry.list().await?;
    let results = join_all(gateways.iter().map(|gateway| probe_one(ports, gateway))).await;
    let mut summary = ProbeSummary::default();
    for (gateway, result) in gateways.iter().zip(results) {
        match result {
            Ok(probed) => summary.probed.push(probed),
            Err(error) => {
                tracing::warn!(gateway = %gateway.config.name, %error, "could not record the probe");
                summary.unrecorded.push(gateway.config.name.clone());
            }
        }
    }
    Ok(summary)
}

async fn probe_one(ports: &ProbePorts<'_>, gateway: &Gateway) -> Result<Probed, StoreError> {
    let name = &gateway.config.name;
    let outcome = ports.connectors.connector(&gateway.config).health().await;
    let now = ports.clock.now();
    let policy = ports.policy;
    // `before` is the health the stored update actually started from (it may re-run on a
    // conflict, or another run may have moved it since the list): so two overlapping
    // runs report each transition once.
    let change = |status: &GatewayStatus| next_status(status, &outcome, now, &policy);
    // A probe that changes nothing but the time and latency of the check, recorded
    // recently, writes nothing (nor reads): the common, idle case costs no request.
    // Judged on the listed status, which may be a moment old: the next run corrects what
    // it missed.
    let listed = &gateway.status;
    let recorded_recently = listed
        .last_checked_at
        .is_some_and(|at| now - at < policy.record_unchanged_after);
    if recorded_recently && changes_nothing(listed, &change(listed)) {
        return Ok(Probed {
            gateway: name.clone(),
            before: listed.health,
            after: listed.health,
            latency_ms: match &outcome {
                HealthOutcome::Healthy { latency } | HealthOutcome::Unhealthy { latency, .. } => {
                    latency.as_millis() as u64
                }
            },
        });
    }
    let StatusChange { before, after } = ports.registry.change_status(name, &change).await?;
    if before.health != after.health {
        tracing::info!(gateway = %name, from = ?before.health, to = ?after.health, "gateway health changed");
        crate::metrics::record_health_change(name, after.health);
    }
    if before.breaker != after.breaker {
        crate::metrics::record_breaker(name, &after.breaker, now);
    }
    Ok(Probed {
        gateway: name.clone(),
        before: before.health,
        after: after.health,
        latency_ms: after.latency_ms.unwrap_or(0),
    })
}

/// Whether `next` differs from `status` only in when and how fast the check answered.
fn changes_nothing(status: &GatewayStatus, next: &GatewayStatus) -> bool {
    let same = GatewayStatus {
        last_checked_at: status.last_checked_at,
        latency_ms: status.latency_ms,
        ..next.clone()
    };
    &same == status
}

/// The status after one probe: pure, so the registry can re-apply it on a conflict.
pub fn next_status(
    status: &GatewayStatus,
    outcome: &HealthOutcome,
    now: time::OffsetDateTime,
    policy: &ProbePolicy,
) -> GatewayStatus {
    let mut next = status.clone();
    next.last_checked_at = Some(now);
    match outcome {
        HealthOutcome::Healthy { latency } => {
            next.consecutive_probe_failures = 0;
            next.latency_ms = Some(latency.as_millis() as u64);
            next.health = if *latency > policy.degraded_latency {
                Health::Degraded
            } else {
                Health::Healthy
            };
            next.breaker = status.breaker.half_open_if_cooled(now);
        }
        HealthOutcome::Unhealthy { latency, .. } => {
            next.consecutive_probe_failures = status.consecutive_probe_failures.saturating_add(1);
            next.latency_ms = Some(latency.as_millis() as u64);
            next.health = if next.consecutive_probe_failures >= policy.unhealthy_after {
                Health::Unhealthy
            } else {
                Health::Degraded
            };
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateways::BreakerState;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

    fn down() -> HealthOutcome {
        HealthOutcome::Unhealthy {
            reason: "503".into(),
            latency: Duration::from_millis(3),
        }
    }

    fn up(ms: u64) -> HealthOutcome {
        HealthOutcome::Healthy {
            latency: Duration::from_millis(ms),
        }
    }

    #[test]
    fn k_failed_probes_in_a_row_make_a_gateway_unhealthy_and_one_pass_restores_it() {
        let policy = ProbePolicy::default();
        let mut status = GatewayStatus::default();
        for expected in [
            Health::Degraded,
            Health::Degraded,
            Health::Unhealthy,
            Health::Unhealthy,
        ] {
            status = next_status(&status, &down(), NOW, &policy);
            assert_eq!(status.health, expected);
        }
        status = next_status(&status, &up(10), NOW, &policy);
        assert_eq!(
            (status.health, status.consecutive_probe_failures),
            (Health::Healthy, 0)
        );
        assert_eq!(status.last_checked_at, Some(NOW));
    }

    #[test]
    fn only_a_probe_that_moves_health_failures_or_breaker_changes_anything() {
        let policy = ProbePolicy::default();
        let healthy = next_status(&GatewayStatus::default(), &up(10), NOW, &policy);
        // again healthy, another latency, later: nothing to write
        let later = NOW + time::Duration::minutes(1);
        assert!(changes_nothing(
            &healthy,
            &next_status(&healthy, &up(40), later, &policy)
        ));
        // a failed probe counts, a slow one degrades, a cooled breaker half-opens
        assert!(!changes_nothing(
            &healthy,
            &next_status(&healthy, &down(), later, &policy)
        ));
        assert!(!changes_nothing(
            &healthy,
            &next_status(&healthy, &up(900), later, &policy)
        ));
        let open = GatewayStatus {
            breaker: BreakerState::Open { until: NOW },
            ..healthy.clone()
        };
        assert!(!changes_nothing(
            &open,
            &next_status(&open, &up(10), later, &policy)
        ));
    }

    #[test]
    fn a_slow_answer_is_degraded() {
        let status = next_status(
            &GatewayStatus::default(),
            &up(900),
            NOW,
            &ProbePolicy::default(),
        );
        assert_eq!(
            (status.health, status.latency_ms),
            (Health::Degraded, Some(900))
        );
    }

    #[test]
    fn a_passing_probe_half_opens_a_cooled_breaker_only() {
        let policy = ProbePolicy::default();
        let mut status = GatewayStatus {
            breaker: BreakerState::Open { until: NOW },
            ..GatewayStatus::default()
        };
        assert_eq!(
            next_status(&status, &up(5), NOW, &policy).breaker,
            BreakerState::HalfOpen
        );
        status.breaker = BreakerState::Open {
            until: NOW + time::Duration::seconds(5),
        };
        assert_eq!(
            next_status(&status, &up(5), NOW, &policy).breaker,
            status.breaker
        );
        status.breaker = BreakerState::Open { until: NOW };
        assert_eq!(
            next_status(&status, &down(), NOW, &policy).breaker,
            status.breaker
        );
    }
}
