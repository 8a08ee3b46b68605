//! The run-time switchboard: latency, error rate, outage, health, webhook delay.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::gateway::Gateway;
use crate::{Format, json_api, soap_api};

/// How a simulated gateway misbehaves right now.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Behaviour {
    /// Added to every non-admin request before it is handled.
    pub latency_ms: u64,
    /// Share (0.0–1.0) of payment/refund/status calls answered 503 before doing anything.
    pub error_rate: f64,
    /// 503 to everything but `/admin`.
    pub outage: bool,
    /// 503 on `/health` only.
    pub health_down: bool,
    /// How long after creation a payment or refund settles and its webhook is sent.
    pub webhook_delay_ms: u64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_rate: 0.0,
            outage: false,
            health_down: false,
            webhook_delay_ms: 200,
        }
    }
}

impl Behaviour {
    /// Keeps `error_rate` within 0.0–1.0 (NaN counts as 0.0).
    pub(crate) fn sanitized(mut self) -> Self {
        self.error_rate = if self.error_rate.is_nan() {
            0.0
        } else {
            self.error_rate.clamp(0.0, 1.0)
        };
        self
    }
}

/// `PUT /admin/behaviour`: every field optional, absent fields keep their value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviourPatch {
    pub latency_ms: Option<u64>,
    pub error_rate: Option<f64>,
    pub outage: Option<bool>,
    pub health_down: Option<bool>,
    pub webhook_delay_ms: Option<u64>,
}

impl BehaviourPatch {
    pub fn apply(self, mut to: Behaviour) -> Behaviour {
        if let Some(v) = self.latency_ms {
            to.latency_ms = v;
        }
        if let Some(v) = self.error_rate {
            to.error_rate = v;
        }
        if let Some(v) = self.outage {
            to.outage = v;
        }
        if let Some(v) = self.health_down {
            to.health_down = v;
        }
        if let Some(v) = self.webhook_delay_ms {
            to.webhook_delay_ms = v;
        }
        to
    }
}

/// A uniform sample in [0, 1) from the OS random source (48 fully random bits of a v4 UUID).
fn random_unit() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() >> 80;
    bits as f64 / (1u64 << 48) as f64
}

/// Applies outage, latency and error rate to every non-admin route.
///
/// Once past the outage check the request is handled in its own task: like a real PSP,
/// the simulator finishes what it was asked even when the client stops waiting (a
/// client timeout during `latency_ms` leaves a payment behind: the "ambiguous" case).
pub(crate) async fn gate(
    State(gateway): State<Arc<Gateway>>,
    req: Request,
    next: Next,
) -> Response {
    let behaviour = gateway.behaviour();
    let is_health = req.uri().path() == "/health";
    if behaviour.outage {
        tracing::debug!(gateway = %gateway.name, path = %req.uri().path(), "outage: 503");
        return unavailable(gateway.format, is_health);
    }
    let handled = tokio::spawn(async move {
        if behaviour.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(behaviour.latency_ms)).await;
        }
        if !is_health && behaviour.error_rate > 0.0 && random_unit() < behaviour.error_rate {
            tracing::debug!(gateway = %gateway.name, path = %req.uri().path(), "injected error: 503");
            return unavailable(gateway.format, false);
        }
        next.run(req).await
    });
    match handled.await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "request handler failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn unavailable(format: Format, is_health: bool) -> Response {
    match (format, is_health) {
        (Format::Json, true) => json_api::health_response(false),
        (Format::Soap, true) => soap_api::health_response(false),
        (Format::Json, false) => json_api::unavailable(),
        (Format::Soap, false) => soap_api::unavailable(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_matches_the_documented_values() {
        let b = Behaviour::default();
        assert_eq!(
            (
                b.latency_ms,
                b.error_rate,
                b.outage,
                b.health_down,
                b.webhook_delay_ms
            ),
            (0, 0.0, false, false, 200)
        );
    }

    #[test]
    fn patch_changes_only_given_fields() {
        let patch: BehaviourPatch = serde_json::from_str(r#"{"outage":true}"#).unwrap();
        let b = patch.apply(Behaviour::default());
        assert!(b.outage);
        assert_eq!(b.webhook_delay_ms, 200);
    }

    #[test]
    fn error_rate_is_clamped() {
        let b = Behaviour {
            error_rate: 7.0,
            ..Behaviour::default()
        };
        assert_eq!(b.sanitized().error_rate, 1.0);
        let b = Behaviour {
            error_rate: f64::NAN,
            ..Behaviour::default()
        };
        assert_eq!(b.sanitized().error_rate, 0.0);
    }

    #[test]
    fn random_unit_stays_in_range() {
        for _ in 0..1000 {
            let x = random_unit();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
