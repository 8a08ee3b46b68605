//! What the domain counts, read back from a recorder local to each test.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use paygate_domain::gateways::{BreakerState, Health};
use paygate_domain::metrics::{
    BREAKER_STATE, FALLBACKS, HEALTH_CHANGES, record_appended, record_breaker, record_health_change,
};
use paygate_kit::streams::*;

/// Every value recorded under `name`, with its labels as `key=value` pairs.
fn recorded(run: impl FnOnce()) -> Vec<(String, Vec<String>, DebugValue)> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, run);
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            (key.name().to_owned(), labels, value)
        })
        .collect()
}

fn named<'a>(
    values: &'a [(String, Vec<String>, DebugValue)],
    name: &str,
) -> Vec<(&'a [String], &'a DebugValue)> {
    values
        .iter()
        .filter(|(n, _, _)| n == name)
        .map(|(_, labels, value)| (labels.as_slice(), value))
        .collect()
}

#[test]
fn an_attempt_on_another_gateway_after_a_failure_is_a_fallback_and_a_retry_is_not() {
    let failed_at_a = Stream::requested(1000)
        .then(attempt_started_at(1, "psp_a"))
        .then(attempt_failed(1, true));
    for (gateway, fallbacks) in [("psp_b", 1), ("psp_a", 0)] {
        let stream = failed_at_a.clone().then(attempt_started_at(2, gateway));
        let values = recorded(|| record_appended(&stream.deposit, &stream.events[3..]));
        let counted = named(&values, FALLBACKS);
        assert_eq!(counted.len(), fallbacks, "{gateway}: {values:?}");
        if let Some((labels, value)) = counted.first() {
            assert_eq!(labels, &["from=psp_a", "to=psp_b"]);
            assert_eq!(**value, DebugValue::Counter(1));
        }
    }
    // A first attempt falls back from nothing.
    let first = Stream::requested(1000).then(attempt_started_at(1, "psp_b"));
    let values = recorded(|| record_appended(&first.deposit, &first.events[1..]));
    assert!(named(&values, FALLBACKS).is_empty(), "{values:?}");
}

#[test]
fn the_breaker_gauge_says_where_the_breaker_is_and_health_changes_are_counted() {
    let now = at(1);
    for (state, level) in [
        (BreakerState::default(), 0.0),
        (BreakerState::HalfOpen, 1.0),
        (BreakerState::Open { until: at(2) }, 2.0),
        // past its cool-down an open breaker lets a trial through: half-open
        (BreakerState::Open { until: at(0) }, 1.0),
    ] {
        let values = recorded(|| record_breaker("psp_a", &state, now));
        let gauge = named(&values, BREAKER_STATE);
        assert_eq!(gauge.len(), 1, "{values:?}");
        assert_eq!(gauge[0].0, ["gateway=psp_a"]);
        assert_eq!(*gauge[0].1, DebugValue::Gauge(level.into()), "{state:?}");
    }
    let values = recorded(|| record_health_change("psp_a", Health::Unhealthy));
    let changes = named(&values, HEALTH_CHANGES);
    assert_eq!(changes[0].0, ["gateway=psp_a", "health=unhealthy"]);
    assert_eq!(*changes[0].1, DebugValue::Counter(1));
}
