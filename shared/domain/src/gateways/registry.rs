use super::breaker::BreakerState;
use crate::money::{Country, Currency};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A gateway as configured: what it serves and in which order it is preferred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayConfig {
    pub name: String,
    /// The wire format, naming the connector that speaks it (`json`, `soap`).
    pub format: String,
    pub base_url: String,
    pub countries: Vec<Country>,
    pub currencies: Vec<Currency>,
    /// Lower is preferred.
    pub priority: u32,
    pub enabled: bool,
}

impl GatewayConfig {
    pub fn serves(&self, country: Country, currency: Currency) -> bool {
        self.countries.contains(&country) && self.currencies.contains(&currency)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    #[default]
    Healthy,
    Degraded,
    /// Failed enough probes in a row: routing skips it until a probe passes again.
    Unhealthy,
}

/// What the system has learnt about a gateway at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GatewayStatus {
    pub health: Health,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_checked_at: Option<OffsetDateTime>,
    pub latency_ms: Option<u64>,
    pub consecutive_probe_failures: u32,
    pub breaker: BreakerState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gateway {
    pub config: GatewayConfig,
    pub status: GatewayStatus,
}

impl Gateway {
    /// Whether routing may send it a payment now: enabled, not unhealthy, and its breaker
    /// lets a call through (an open breaker past its cool-down lets a trial through).
    pub fn takes_calls(&self, now: OffsetDateTime) -> bool {
        self.config.enabled
            && self.status.health != Health::Unhealthy
            && self.status.breaker.allows_call(now)
    }
}
