//! Where a PSP is and how long to wait for it.

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
