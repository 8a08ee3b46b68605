//! Feeds the status page's [`Window`] from what the functions record through the
//! `metrics` facade, passing everything on to the wrapped recorder (Prometheus) as it
//! was: the page and `/metrics` count the same calls.

use super::window::Window;
use ::metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use paygate_domain::metrics::{DEPOSITS_REQUESTED, GATEWAY_CALL_MS};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The window the process's recorder feeds. One per process, like the recorder: every
/// stack started in the process (tests start several) counts into it.
pub fn recent() -> &'static Mutex<Window> {
    static RECENT: OnceLock<Mutex<Window>> = OnceLock::new();
    RECENT.get_or_init(Mutex::default)
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn with_window(record: impl FnOnce(&mut Window)) {
    // A panic while recording cannot leave a bucket half written that matters to anyone.
    let mut window = recent().lock().unwrap_or_else(|p| p.into_inner());
    record(&mut window);
}

/// A recorder that also tells [`recent`] about new deposits and gateway calls.
pub struct Tap<R> {
    inner: R,
}

impl<R> Tap<R> {
    pub fn new(inner: R) -> Self {
        Self { inner }
    }
}

impl<R: Recorder> Recorder for Tap<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        let counter = self.inner.register_counter(key, metadata);
        if key.name() == DEPOSITS_REQUESTED {
            Counter::from_arc(Arc::new(DepositsRequested(counter)))
        } else {
            counter
        }
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        let histogram = self.inner.register_histogram(key, metadata);
        if key.name() != GATEWAY_CALL_MS {
            return histogram;
        }
        let label = |name: &str| {
            key.labels()
                .find(|l| l.key() == name)
                .map(|l| l.value().to_owned())
        };
        Histogram::from_arc(Arc::new(GatewayCall {
            inner: histogram,
            gateway: label("gateway").unwrap_or_default(),
            accepted: label("outcome").as_deref() == Some("accepted"),
        }))
    }
}

struct DepositsRequested(Counter);

impl CounterFn for DepositsRequested {
    fn increment(&self, value: u64) {
        self.0.increment(value);
        with_window(|window| window.record_deposits(unix_now(), value));
    }

    fn absolute(&self, value: u64) {
        self.0.absolute(value);
    }
}

/// One gateway call's latency, under its gateway and outcome labels.
struct GatewayCall {
    inner: Histogram,
    gateway: String,
    accepted: bool,
}

impl HistogramFn for GatewayCall {
    fn record(&self, took_ms: f64) {
        self.inner.record(took_ms);
        with_window(|window| window.record_call(unix_now(), &self.gateway, self.accepted, took_ms));
    }
}
