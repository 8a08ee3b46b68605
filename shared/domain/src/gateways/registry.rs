use super::breaker::BreakerState;
use crate::money::{Country, Currency};
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

/// The wire format a PSP speaks (see `shared/gateways/WIRE.md`); each has one connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireFormat {
    /// REST with JSON bodies.
    Json,
    /// SOAP 1.1 with XML envelopes.
    Soap,
}

impl WireFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Soap => "soap",
        }
    }
}

impl fmt::Display for WireFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for WireFormat {
    type Err = UnknownWireFormat;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "json" => Ok(Self::Json),
            "soap" => Ok(Self::Soap),
            _ => Err(UnknownWireFormat(value.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown wire format `{0}` (known: json, soap)")]
pub struct UnknownWireFormat(pub String);

/// What a gateway can be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Payments,
    Refunds,
    Payouts,
}

impl Capability {
    pub const ALL: [Capability; 3] = [Self::Payments, Self::Refunds, Self::Payouts];

    pub fn parse(text: &str) -> Result<Self, UnknownCapability> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| UnknownCapability(text.to_owned()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payments => "payments",
            Self::Refunds => "refunds",
            Self::Payouts => "payouts",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability `{0}` (known: payments, refunds, payouts)")]
pub struct UnknownCapability(pub String);

/// What a gateway configured without a list can do (every gateway takes payments and
/// refunds them; payouts are opt-in).
pub fn default_capabilities() -> Vec<Capability> {
    vec![Capability::Payments, Capability::Refunds]
}

/// A gateway as configured: what it serves and in which order it is preferred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayConfig {
    pub name: String,
    /// The wire format, naming the connector that speaks it.
    pub format: WireFormat,
    pub base_url: String,
    pub countries: Vec<Country>,
    pub currencies: Vec<Currency>,
    /// Lower is preferred.
    pub priority: u32,
    pub enabled: bool,
    #[serde(default = "default_capabilities")]
    pub capabilities: Vec<Capability>,
}

impl GatewayConfig {
    pub fn can(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

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

impl Health {
    /// As operators and metrics name it (the serialized form).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_is_lowercase_on_the_wire_and_parses_only_known_names() {
        assert_eq!(
            serde_json::to_string(&WireFormat::Json).unwrap(),
            "\"json\""
        );
        assert_eq!(
            serde_json::from_str::<WireFormat>("\"soap\"").unwrap(),
            WireFormat::Soap
        );
        assert!(serde_json::from_str::<WireFormat>("\"SOAP\"").is_err());
        assert_eq!("json".parse::<WireFormat>(), Ok(WireFormat::Json));
        assert_eq!(
            "xml".parse::<WireFormat>(),
            Err(UnknownWireFormat("xml".into()))
        );
    }
}
