//! The circuit breaker, as pure state transitions. The registry adapter stores the state
//! and applies these with an atomic conditional update, so every Lambda instance shares it.
//!
//! closed ──(N failures within the window)──▶ open ──(cool-down passed)──▶ half-open
//!    ▲                                                                      │
//!    └────────────────────(a call succeeds)──────────────────────────────────┘
//! A failure while half-open opens it again.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Failures within `window` that open the breaker. Default 5.
    pub failure_threshold: u32,
    /// Default 60 s.
    pub window: Duration,
    /// How long an open breaker refuses calls before one trial. Default 30 s.
    pub cool_down: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            window: Duration::seconds(60),
            cool_down: Duration::seconds(30),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BreakerState {
    Closed {
        failures: u32,
        #[serde(with = "time::serde::rfc3339::option", default)]
        window_started: Option<OffsetDateTime>,
    },
    Open {
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
    HalfOpen,
}

impl Default for BreakerState {
    fn default() -> Self {
        Self::Closed {
            failures: 0,
            window_started: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    /// The gateway answered (accepted or declined): it works.
    Success,
    /// Unreachable, unavailable or no clear answer.
    Failure,
}

impl BreakerState {
    /// Whether a call may go to the gateway now (an open breaker past its cool-down lets
    /// a trial through, i.e. behaves as half-open).
    pub fn allows_call(&self, now: OffsetDateTime) -> bool {
        match self {
            Self::Closed { .. } | Self::HalfOpen => true,
            Self::Open { until } => now >= *until,
        }
    }

    /// The name shown to operators.
    pub fn name(&self, now: OffsetDateTime) -> &'static str {
        match self {
            Self::Closed { .. } => "closed",
            Self::HalfOpen => "half_open",
            Self::Open { until } if now >= *until => "half_open",
            Self::Open { .. } => "open",
        }
    }

    /// The state after a call ended with `result`.
    pub fn after(&self, result: CallResult, now: OffsetDateTime, policy: &BreakerPolicy) -> Self {
        match (self, result) {
            (_, CallResult::Success) => Self::default(),
            (
                Self::Closed {
                    failures,
                    window_started,
                },
                CallResult::Failure,
            ) => {
                let in_window = window_started.is_some_and(|start| now - start <= policy.window);
                let (failures, start) = if in_window {
                    (failures + 1, window_started.unwrap_or(now))
                } else {
                    (1, now)
                };
                if failures >= policy.failure_threshold {
                    Self::Open {
                        until: now + policy.cool_down,
                    }
                } else {
                    Self::Closed {
                        failures,
                        window_started: Some(start),
                    }
                }
            }
            // A failed trial (or a failure reported late by a call started before opening).
            (Self::HalfOpen | Self::Open { .. }, CallResult::Failure) => Self::Open {
                until: now + policy.cool_down,
            },
        }
    }

    /// An open breaker whose cool-down has passed becomes half-open (the health probe
    /// does this when the gateway answers its probe).
    pub fn half_open_if_cooled(&self, now: OffsetDateTime) -> Self {
        match self {
            Self::Open { until } if now >= *until => Self::HalfOpen,
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

    #[test]
    fn opens_after_the_threshold_within_the_window_then_half_opens_and_closes() {
        let policy = BreakerPolicy::default();
        let mut state = BreakerState::default();
        for i in 0..4 {
            state = state.after(CallResult::Failure, T0 + Duration::seconds(i), &policy);
            assert!(state.allows_call(T0 + Duration::seconds(i)));
        }
        state = state.after(CallResult::Failure, T0 + Duration::seconds(5), &policy);
        assert_eq!(
            state,
            BreakerState::Open {
                until: T0 + Duration::seconds(35)
            }
        );
        assert!(!state.allows_call(T0 + Duration::seconds(34)));
        assert_eq!(state.name(T0 + Duration::seconds(34)), "open");
        assert!(state.allows_call(T0 + Duration::seconds(35)));
        let half = state.half_open_if_cooled(T0 + Duration::seconds(35));
        assert_eq!(half, BreakerState::HalfOpen);
        assert_eq!(
            half.after(CallResult::Success, T0, &policy),
            BreakerState::default()
        );
        assert!(matches!(
            half.after(CallResult::Failure, T0 + Duration::seconds(40), &policy),
            BreakerState::Open { .. }
        ));
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_open_it() {
        let policy = BreakerPolicy::default();
        let mut state = BreakerState::default();
        for i in 0..10 {
            state = state.after(CallResult::Failure, T0 + Duration::seconds(61 * i), &policy);
        }
        assert!(matches!(state, BreakerState::Closed { failures: 1, .. }));
    }

    #[test]
    fn a_success_resets_the_count() {
        let policy = BreakerPolicy::default();
        let state = BreakerState::default()
            .after(CallResult::Failure, T0, &policy)
            .after(CallResult::Failure, T0, &policy)
            .after(CallResult::Success, T0, &policy);
        assert_eq!(state, BreakerState::default());
    }
}
