//! Recent activity in one-second buckets over the last few minutes: what the status page
//! charts. Times are unix seconds passed in, so the tests decide the clock.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// How far back the window remembers, and the span of a gateway's figures and charts.
pub const SPAN_SECS: u64 = 300;
/// How many seconds one point of a gateway's charts covers.
pub const STEP_SECS: u64 = 10;
/// How many seconds of deposits per second are charted.
pub const RATE_SECS: u64 = 120;
/// The seconds the current deposit rate is averaged over.
const RATE_NOW_SECS: u64 = 10;

/// Gateway calls and new deposits, by the second they were recorded in.
#[derive(Debug, Default)]
pub struct Window {
    /// Oldest first, only seconds in which something was recorded.
    seconds: VecDeque<Second>,
}

#[derive(Debug, Default)]
struct Second {
    at: u64,
    deposits: u64,
    calls: BTreeMap<String, Calls>,
}

/// One gateway's payment calls in some span.
#[derive(Debug, Default, Clone)]
struct Calls {
    accepted: u64,
    /// One entry per call, accepted or not.
    latencies_ms: Vec<f64>,
}

impl Calls {
    fn add(&mut self, other: &Calls) {
        self.accepted += other.accepted;
        self.latencies_ms.extend_from_slice(&other.latencies_ms);
    }

    fn success_rate(&self) -> Option<f64> {
        let total = self.latencies_ms.len();
        (total > 0).then(|| self.accepted as f64 / total as f64)
    }

    fn p95_ms(&self) -> Option<f64> {
        percentile(&self.latencies_ms, 0.95)
    }
}

/// Deposits per second: now (averaged over the last complete seconds) and for each of
/// the last [`RATE_SECS`] complete seconds, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepositRate {
    pub now: f64,
    pub per_second: Vec<u64>,
}

/// One gateway's payment calls over the last [`SPAN_SECS`]: totals, and a point per
/// [`STEP_SECS`] for the charts (`None` where it had no calls).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayTrend {
    pub calls: u64,
    /// The share of calls the gateway accepted.
    pub success_rate: Option<f64>,
    pub p95_ms: Option<f64>,
    pub success_rate_series: Vec<Option<f64>>,
    pub p95_ms_series: Vec<Option<f64>>,
}

impl Window {
    /// `count` new deposits at `at`.
    pub fn record_deposits(&mut self, at: u64, count: u64) {
        if let Some(second) = self.second(at) {
            second.deposits += count;
        }
    }

    /// One payment call to `gateway` at `at`, which took `took_ms`.
    pub fn record_call(&mut self, at: u64, gateway: &str, accepted: bool, took_ms: f64) {
        if let Some(second) = self.second(at) {
            let calls = second.calls.entry(gateway.to_owned()).or_default();
            calls.accepted += u64::from(accepted);
            calls.latencies_ms.push(took_ms);
        }
    }

    /// The bucket for `at`, made if new; `None` if `at` is already out of the window.
    /// Forgets whatever the newest second leaves behind the window.
    fn second(&mut self, at: u64) -> Option<&mut Second> {
        let newest = self.seconds.back().map_or(at, |s| s.at.max(at));
        let oldest_kept = newest.saturating_sub(SPAN_SECS - 1);
        while self.seconds.front().is_some_and(|s| s.at < oldest_kept) {
            self.seconds.pop_front();
        }
        if at < oldest_kept {
            return None;
        }
        // Records arrive in order but for races between threads: search from the back.
        let index = match self.seconds.iter().rposition(|s| s.at <= at) {
            Some(i) if self.seconds[i].at == at => i,
            Some(i) => {
                self.seconds.insert(
                    i + 1,
                    Second {
                        at,
                        ..Default::default()
                    },
                );
                i + 1
            }
            None => {
                self.seconds.push_front(Second {
                    at,
                    ..Default::default()
                });
                0
            }
        };
        self.seconds.get_mut(index)
    }

    /// Seconds in `from..to`.
    fn between(&self, from: u64, to: u64) -> impl Iterator<Item = &Second> {
        self.seconds
            .iter()
            .filter(move |s| (from..to).contains(&s.at))
    }

    pub fn deposit_rate(&self, now: u64) -> DepositRate {
        // The current second is still filling: only complete ones count.
        let from = now.saturating_sub(RATE_SECS);
        let mut per_second = vec![0; RATE_SECS as usize];
        for second in self.between(from, now) {
            per_second[(second.at - from) as usize] += second.deposits;
        }
        let recent: u64 = per_second[(RATE_SECS - RATE_NOW_SECS) as usize..]
            .iter()
            .sum();
        DepositRate {
            now: recent as f64 / RATE_NOW_SECS as f64,
            per_second,
        }
    }

    pub fn gateway(&self, now: u64, name: &str) -> GatewayTrend {
        let end = now + 1;
        let from = end.saturating_sub(SPAN_SECS);
        let mut steps = vec![Calls::default(); (SPAN_SECS / STEP_SECS) as usize];
        let mut total = Calls::default();
        for second in self.between(from, end) {
            if let Some(calls) = second.calls.get(name) {
                steps[((second.at - from) / STEP_SECS) as usize].add(calls);
                total.add(calls);
            }
        }
        GatewayTrend {
            calls: total.latencies_ms.len() as u64,
            success_rate: total.success_rate(),
            p95_ms: total.p95_ms(),
            success_rate_series: steps.iter().map(Calls::success_rate).collect(),
            p95_ms_series: steps.iter().map(Calls::p95_ms).collect(),
        }
    }
}

/// The nearest-rank percentile (`share` of 0.95: the 95th), `None` for no values.
fn percentile(values: &[f64], share: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (share * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_700_000_000;

    #[test]
    fn the_p95_is_the_nearest_rank() {
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 0.95), Some(95.0));
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 0.95), Some(3.0));
        assert_eq!(percentile(&[], 0.95), None);
    }

    #[test]
    fn a_gateways_success_rate_and_p95_cover_its_calls_in_the_span() {
        let mut window = Window::default();
        for ms in 1..=19 {
            window.record_call(T, "acme", true, f64::from(ms));
        }
        window.record_call(T + 5, "acme", false, 100.0);
        window.record_call(T + 5, "globex", true, 3.0);

        let acme = window.gateway(T + 5, "acme");
        assert_eq!(acme.calls, 20);
        assert_eq!(acme.success_rate, Some(0.95));
        assert_eq!(acme.p95_ms, Some(19.0));
        assert_eq!(window.gateway(T + 5, "globex").calls, 1);

        let idle = window.gateway(T + 5, "initech");
        assert_eq!(
            (idle.calls, idle.success_rate, idle.p95_ms),
            (0, None, None)
        );
    }

    #[test]
    fn the_charts_have_a_point_per_step_with_the_newest_last() {
        let mut window = Window::default();
        window.record_call(T, "acme", false, 50.0);
        window.record_call(T - 20, "acme", true, 10.0);
        let trend = window.gateway(T, "acme");
        let points = (SPAN_SECS / STEP_SECS) as usize;
        assert_eq!(trend.success_rate_series.len(), points);
        assert_eq!(trend.success_rate_series[points - 1], Some(0.0));
        assert_eq!(trend.p95_ms_series[points - 1], Some(50.0));
        assert_eq!(trend.success_rate_series[points - 3], Some(1.0));
        assert_eq!(trend.success_rate_series[points - 2], None);
    }

    #[test]
    fn calls_older_than_the_span_are_forgotten() {
        let mut window = Window::default();
        window.record_call(T, "acme", true, 1.0);
        window.record_call(T + SPAN_SECS, "acme", true, 2.0);
        assert_eq!(window.gateway(T + SPAN_SECS, "acme").calls, 1);
        assert_eq!(window.seconds.len(), 1, "the old second is dropped");
        window.record_call(T, "acme", true, 1.0);
        assert_eq!(
            window.seconds.len(),
            1,
            "a late record out of the span is ignored"
        );
    }

    #[test]
    fn records_out_of_order_land_in_their_own_second() {
        let mut window = Window::default();
        window.record_deposits(T + 2, 1);
        window.record_deposits(T, 2);
        window.record_deposits(T + 1, 3);
        window.record_deposits(T + 1, 1);
        let ats: Vec<u64> = window.seconds.iter().map(|s| s.at).collect();
        assert_eq!(ats, [T, T + 1, T + 2]);
        let rate = window.deposit_rate(T + 3);
        assert_eq!(rate.per_second[RATE_SECS as usize - 3..], [2, 4, 1]);
    }

    #[test]
    fn the_deposit_rate_counts_complete_seconds_only() {
        let mut window = Window::default();
        for second in 0..10 {
            window.record_deposits(T + second, 2);
        }
        window.record_deposits(T + 10, 50);
        let rate = window.deposit_rate(T + 10);
        assert_eq!(rate.per_second.len(), RATE_SECS as usize);
        assert_eq!(rate.now, 2.0);
        assert_eq!(rate.per_second.iter().sum::<u64>(), 20);
    }
}
