//! How long the processor waits before a message comes back, and how long attempts are
//! owned and may be re-sent.

use std::time::Duration;

/// When a message comes back after `RetryLater` or a failure: exponential backoff with
/// full jitter on the receive count, applied through the message's visibility timeout.
#[derive(Debug, Clone, Copy)]
pub struct RedeliveryPolicy {
    /// Default 10 s.
    pub base: Duration,
    /// Default 15 min.
    pub max: Duration,
}

impl Default for RedeliveryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(10),
            max: Duration::from_secs(15 * 60),
        }
    }
}

impl RedeliveryPolicy {
    /// The wait before delivery number `receive_count + 1`; `random` picks the jitter.
    pub fn delay(&self, receive_count: u32, random: u64) -> Duration {
        let exponent = receive_count.saturating_sub(1).min(20);
        let cap = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let half = cap.as_millis() as u64 / 2;
        // Half fixed, half jitter: grows for sure, yet spreads retries of a burst apart.
        Duration::from_millis(half + random % (half.max(1)))
    }
}

/// How long attempts belong to their owner, and how long their request may be re-sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptPolicy {
    /// How long after taking an attempt its owner may still be working on it: longer
    /// than the processor can run (the Lambda's 30 s timeout). Until then, or until the
    /// owner releases it, nobody else touches it. Default 60 s.
    pub lease: time::Duration,
    /// How long after an attempt started its request may still be sent again with the
    /// same key: PSPs forget idempotency keys (24 h is common), after which the same key
    /// could charge again. Past this, an attempt whose outcome is unknown is an anomaly
    /// for a person. Default 23 h.
    pub resend_within: time::Duration,
}

impl Default for AttemptPolicy {
    fn default() -> Self {
        Self {
            lease: time::Duration::seconds(60),
            resend_within: time::Duration::hours(23),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redelivery_delays_grow_and_stay_capped() {
        let policy = RedeliveryPolicy::default();
        let first = policy.delay(1, 0);
        let third = policy.delay(3, 0);
        assert!(first >= Duration::from_secs(5) && first <= Duration::from_secs(10));
        assert!(third >= Duration::from_secs(20));
        assert!(policy.delay(40, u64::MAX) <= policy.max);
    }

    #[test]
    fn attempts_are_leased_longer_than_the_processor_runs() {
        let policy = AttemptPolicy::default();
        assert!(policy.lease > time::Duration::seconds(30));
        assert!(policy.resend_within < time::Duration::hours(24));
    }
}
