//! Choosing and configuring a connector.
//!
//! # How outcomes are classified
//!
//! What is safe to do next depends on whether the PSP may have acted, so every answer
//! (or its absence) is mapped once, the same way for both wire formats:
//!
//! | what happened | create payment | payment status | refund |
//! |---|---|---|---|
//! | connection refused, DNS failure, connect timeout, TLS handshake failure, bad base URL (nothing was sent) | `Transient` | `Unknown` | `Transient` |
//! | timeout, reset or close after the request was sent; unreadable body | `Ambiguous` | `Unknown` | `Ambiguous` |
//! | HTTP 503, 429 | `Transient` | `Unknown` | `Transient` |
//! | HTTP 401, 403, 404, 405, 408 on a mutating call (refused before acting: our credentials, URL or request timing) | `Transient` | see below | `Transient` |
//! | HTTP 500, 502, 504, any other 5xx, 409 (same key in flight), 1xx/3xx | `Ambiguous` | `Unknown` | `Ambiguous` |
//! | SOAP `soap:Server` fault | `Ambiguous` | `Unknown` | `Ambiguous` |
//! | JSON 402 / SOAP `DECLINED` | `Declined` with the PSP's code | | |
//! | JSON 400, 422, other 4xx / SOAP `soap:Client` fault (our request was refused: final, never retried elsewhere) | `Declined` with the PSP's code (`gateway_rejected_request` if it gave none) | `Unknown` | `Rejected` with the PSP's code |
//! | 2xx with the expected body | `Accepted` (`Declined` if the body says declined/failed) | `Found` with the state | `Accepted` (`Rejected` if declined/failed) |
//! | 2xx with a malformed or unexpected body | `Ambiguous` | `Unknown` | `Ambiguous` |
//! | JSON 404 `{"error":{"code":"not_found"}}` / SOAP fault `NotFound` | | `NotFound` | |
//! | a 404 without the PSP's `not_found` answer (a wrong URL, a proxy) | | `Unknown` | |
//! | JSON refund 404 with the PSP's error body (no such payment) | | | `Rejected` with the PSP's code |
//!
//! `NotFound` lets the caller pay again elsewhere, so it is only returned when the PSP
//! itself says so. A request that cannot be encoded at all (a SOAP value with characters
//! XML cannot carry) is never sent and is `Declined { code: "gateway_rejected_request" }`.
//!
//! Health: a 2xx from `GET /health` within [`Timeouts::health`] is `Healthy`, anything else
//! `Unhealthy`; both carry the measured latency.

use crate::json::JsonConnector;
use crate::soap::SoapConnector;
use paygate_domain::gateways::WireFormat;
use paygate_domain::ports::gateway::GatewayConnector;
use std::sync::Arc;
use std::time::Duration;

/// How long a connector waits. Every call has a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open a connection (DNS, TCP, TLS). Default 2 s. Capped at half of `request`,
    /// so a connection that never opens is always reported as "nothing was sent"
    /// (transient) and never as a request timeout (ambiguous).
    pub connect: Duration,
    /// One payment, status or refund call, from the start of connecting to the last byte
    /// of the answer. Default 5 s.
    pub request: Duration,
    /// One health probe, end to end. Default 1 s.
    pub health: Duration,
}

impl Timeouts {
    pub const DEFAULT_CONNECT: Duration = Duration::from_secs(2);
    pub const DEFAULT_REQUEST: Duration = Duration::from_secs(5);
    pub const DEFAULT_HEALTH: Duration = Duration::from_secs(1);

    /// The connect timeout actually used: `connect`, at most half of `request`.
    pub fn effective_connect(&self) -> Duration {
        self.connect.min(self.request / 2)
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Self::DEFAULT_CONNECT,
            request: Self::DEFAULT_REQUEST,
            health: Self::DEFAULT_HEALTH,
        }
    }
}

/// Where a PSP is and how long to wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorConfig {
    /// Scheme, host, port and optional path prefix, e.g. `https://psp.example/api`;
    /// the format's paths (`/v1/payments`, `/soap`, `/health`) are appended to it.
    pub base_url: String,
    pub timeouts: Timeouts,
}

impl ConnectorConfig {
    /// A config with the default timeouts.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            timeouts: Timeouts::default(),
        }
    }
}

/// The connector for a wire format. Builds its HTTP client once: keep the result for the
/// life of the process (a Lambda's cold start), never build one per call.
///
/// Never fails: a base URL that does not parse is logged here and then makes every call
/// `Transient` (nothing is sent) and every health probe `Unhealthy`, so one bad registry
/// entry takes one gateway out of routing instead of failing the whole function.
pub fn connector_for(format: WireFormat, config: ConnectorConfig) -> Arc<dyn GatewayConnector> {
    match format {
        WireFormat::Json => Arc::new(JsonConnector::new(config)),
        WireFormat::Soap => Arc::new(SoapConnector::new(config)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_timeouts_are_the_documented_ones() {
        let t = Timeouts::default();
        assert_eq!(t.connect, Duration::from_secs(2));
        assert_eq!(t.request, Duration::from_secs(5));
        assert_eq!(t.health, Duration::from_secs(1));
        assert_eq!(t.effective_connect(), Duration::from_secs(2));
    }

    #[test]
    fn connect_timeout_is_capped_below_the_request_timeout() {
        let t = Timeouts {
            request: Duration::from_millis(300),
            ..Timeouts::default()
        };
        assert_eq!(t.effective_connect(), Duration::from_millis(150));
    }
}
