//! CloudWatch Embedded Metric Format: the functions' metrics as JSON lines on stdout,
//! which Lambda's log pipeline turns into CloudWatch metrics with no extra AWS call.
//!
//! The recorder keeps what the `metrics` facade records since the last flush; each
//! Lambda invocation ends with [`EmfRecorder::flush`], which writes one line per set of
//! labels (the line's dimensions) and starts again from zero.

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

/// A metric's labels, sorted by name: the dimensions of its line.
type Labels = Vec<(String, String)>;

/// CloudWatch takes at most 100 values of one metric in one line.
const MAX_VALUES_PER_LINE: usize = 100;

pub struct EmfRecorder {
    namespace: String,
    registry: Registry<Key, AtomicStorage>,
    units: Mutex<HashMap<String, Unit>>,
}

impl EmfRecorder {
    /// Metrics go to CloudWatch namespace `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            registry: Registry::atomic(),
            units: Mutex::default(),
        }
    }

    /// Writes what was recorded since the last flush (nothing if nothing was) at
    /// `timestamp_ms`, and forgets it.
    pub fn flush(&self, timestamp_ms: u128, out: &mut impl Write) -> std::io::Result<()> {
        for line in self.lines(timestamp_ms) {
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// The lines a flush writes, one per label set (and more when a histogram holds over
    /// 100 values).
    fn lines(&self, timestamp_ms: u128) -> Vec<Value> {
        // label set → metric name → values (a counter or gauge has one).
        let mut groups: BTreeMap<Labels, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
        let mut counters = std::collections::HashSet::new();
        let mut add = |key: &Key, values: Vec<f64>| {
            if values.is_empty() {
                return;
            }
            let mut labels: Labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            groups
                .entry(labels)
                .or_default()
                .entry(key.name().to_owned())
                .or_default()
                .extend(values);
        };
        for (key, counter) in self.registry.get_counter_handles() {
            counters.insert(key.name().to_owned());
            let count = counter.swap(0, Ordering::Relaxed);
            add(
                &key,
                if count == 0 {
                    vec![]
                } else {
                    vec![count as f64]
                },
            );
        }
        // A gauge is what this invocation last saw: written once, then forgotten, so a
        // warm instance does not repeat a state another may have seen change since.
        for (key, gauge) in self.registry.get_gauge_handles() {
            add(&key, vec![f64::from_bits(gauge.load(Ordering::Relaxed))]);
            self.registry.delete_gauge(&key);
        }
        for (key, histogram) in self.registry.get_histogram_handles() {
            let mut values = Vec::new();
            histogram.clear_with(|chunk| values.extend_from_slice(chunk));
            add(&key, values);
        }
        let units = self.units.lock().map(|u| u.clone()).unwrap_or_default();
        let mut lines = Vec::new();
        for (labels, metrics) in groups {
            let rounds = metrics
                .values()
                .map(|v| v.len().div_ceil(MAX_VALUES_PER_LINE))
                .max()
                .unwrap_or(0);
            for round in 0..rounds {
                let mut line = Map::new();
                let mut definitions = Vec::new();
                for (name, values) in &metrics {
                    let chunk: Vec<f64> = values
                        .iter()
                        .skip(round * MAX_VALUES_PER_LINE)
                        .take(MAX_VALUES_PER_LINE)
                        .copied()
                        .collect();
                    let value = match chunk.as_slice() {
                        [] => continue,
                        [one] => json!(one),
                        many => json!(many),
                    };
                    let unit = match units.get(name) {
                        Some(unit) => cloudwatch_unit(*unit),
                        None if counters.contains(name) => "Count",
                        None => "None",
                    };
                    definitions.push(json!({ "Name": name, "Unit": unit }));
                    line.insert(name.clone(), value);
                }
                for (label, value) in &labels {
                    line.insert(label.clone(), json!(value));
                }
                let dimensions: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
                line.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": timestamp_ms as u64,
                        "CloudWatchMetrics": [{
                            "Namespace": self.namespace,
                            "Dimensions": [dimensions],
                            "Metrics": definitions,
                        }],
                    }),
                );
                lines.push(Value::Object(line));
            }
        }
        lines
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>) {
        if let (Some(unit), Ok(mut units)) = (unit, self.units.lock()) {
            units.insert(key.as_str().to_owned(), unit);
        }
    }
}

/// The process's metrics recorder, installed once; every function flushes it at the end
/// of each invocation. `None` if another recorder was installed first.
pub fn install(namespace: &str) -> Option<&'static EmfRecorder> {
    let recorder: &'static EmfRecorder = Box::leak(Box::new(EmfRecorder::new(namespace)));
    metrics::set_global_recorder(recorder).ok()?;
    Some(recorder)
}

impl EmfRecorder {
    /// [`flush`](Self::flush) to stdout now; a failure to write is not the caller's
    /// problem (the invocation's work is done).
    pub fn flush_to_stdout(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let _ = self.flush(now, &mut std::io::stdout().lock());
    }
}

/// The CloudWatch name of a unit.
fn cloudwatch_unit(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "Count",
        Unit::Percent => "Percent",
        Unit::Seconds => "Seconds",
        Unit::Milliseconds => "Milliseconds",
        Unit::Microseconds => "Microseconds",
        Unit::Bytes => "Bytes",
        Unit::CountPerSecond => "Count/Second",
        _ => "None",
    }
}

impl Recorder for EmfRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit.or(Some(Unit::Count)));
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.registry
            .get_or_create_counter(key, |c| Counter::from_arc(c.clone()))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.registry
            .get_or_create_gauge(key, |g| Gauge::from_arc(g.clone()))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.registry
            .get_or_create_histogram(key, |h| Histogram::from_arc(h.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flushed(recorder: &EmfRecorder) -> Vec<Value> {
        let mut out = Vec::new();
        recorder.flush(1_700_000_000_000, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn one_line_per_label_set_with_its_dimensions_then_nothing_until_more_is_recorded() {
        let recorder = EmfRecorder::new("paygate");
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_histogram!("gateway_call_ms", Unit::Milliseconds, "latency");
            metrics::counter!("gateway_calls", "gateway" => "psp_a", "outcome" => "accepted")
                .increment(2);
            metrics::histogram!("gateway_call_ms", "gateway" => "psp_a", "outcome" => "accepted")
                .record(12.5);
            metrics::counter!("deposits_requested").increment(1);
        });
        let lines = flushed(&recorder);
        assert_eq!(lines.len(), 2, "{lines:#?}");
        let plain = &lines[0];
        assert_eq!(plain["deposits_requested"], 1.0);
        assert_eq!(
            plain["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        let call = &lines[1];
        assert_eq!(call["gateway"], "psp_a");
        assert_eq!(call["gateway_calls"], 2.0);
        assert_eq!(call["gateway_call_ms"], 12.5);
        let directive = &call["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "paygate");
        assert_eq!(directive["Dimensions"], json!([["gateway", "outcome"]]));
        assert_eq!(
            directive["Metrics"],
            json!([
                { "Name": "gateway_call_ms", "Unit": "Milliseconds" },
                { "Name": "gateway_calls", "Unit": "Count" }
            ])
        );
        assert_eq!(call["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert!(flushed(&recorder).is_empty(), "a flush starts from zero");
    }

    #[test]
    fn a_gauge_is_written_by_the_flush_after_it_is_set_and_not_again() {
        let recorder = EmfRecorder::new("paygate");
        let set = |level: f64| {
            metrics::with_local_recorder(&recorder, || {
                metrics::gauge!("gateway_breaker_state", "gateway" => "psp_a").set(level);
            });
        };
        set(2.0);
        let lines = flushed(&recorder);
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert_eq!(lines[0]["gateway_breaker_state"], 2.0);
        assert!(
            flushed(&recorder).is_empty(),
            "a state seen once is written once"
        );
        set(0.0);
        assert_eq!(flushed(&recorder)[0]["gateway_breaker_state"], 0.0);
    }

    #[test]
    fn a_histogram_of_more_than_100_values_spreads_over_lines() {
        let recorder = EmfRecorder::new("paygate");
        metrics::with_local_recorder(&recorder, || {
            for n in 0..250 {
                metrics::histogram!("gateway_call_ms").record(f64::from(n));
            }
        });
        let lines = flushed(&recorder);
        let sizes: Vec<usize> = lines
            .iter()
            .map(|l| l["gateway_call_ms"].as_array().map_or(1, Vec::len))
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
    }
}
