//! The devstack under load: a release devstack (in-memory backend) on a free loopback
//! port, `POST /v1/deposits` from [`crate::load`] with a unique `Idempotency-Key` per
//! request, and the devstack's own `/metrics` counters read at the window's edges for the
//! lifecycles it completed (`deposits_succeeded`: request → gateway → webhook).

use crate::load::{self, Connection, Load, MakeRequest};
use crate::rows::Row;
use crate::{Error, Result, stats};
use http_body_util::Full;
use hyper::Method;
use hyper::body::Bytes;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const API_KEY: &str = "sk_dev_footprint";
/// What a fresh devstack may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const DEPOSIT: &str = r#"{"amount":10099,"currency":"AED","country":"AE","customer_id":"cus_bench","payment_method":{"type":"card","token":"tok_success"}}"#;
const ACCEPTED_TARGET: f64 = 10_000.0;
const LIFECYCLES_TARGET: f64 = 5_000.0;

/// A running devstack; dropping it kills the process.
pub struct Devstack {
    child: Child,
    pub addr: SocketAddr,
}

impl Devstack {
    pub async fn start(binary: &Path, log: &Path) -> Result<Devstack> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map_err(Error::io("find a free port"))?
            .port();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let out = File::create(log).map_err(Error::io(format!("create {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(Error::io(format!("open {}", log.display())))?;
        let child = Command::new(binary)
            .args(["--addr", &addr.to_string()])
            .env("PAYGATE_DEV_API_KEY", API_KEY)
            .env_remove("PAYGATE_ADDR")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(Error::io(format!("start {}", binary.display())))?;
        let mut devstack = Devstack { child, addr };
        let started = Instant::now();
        loop {
            if let Some(status) = devstack
                .child
                .try_wait()
                .map_err(Error::io("wait for the devstack"))?
            {
                return Err(Error::Exited {
                    what: format!("the devstack (log {})", log.display()),
                    until: "answering",
                    status,
                });
            }
            if let Ok(mut connection) = Connection::open(addr).await
                && connection
                    .get("/metrics")
                    .await
                    .is_ok_and(|r| r.status == 200)
            {
                return Ok(devstack);
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(Error::TimedOut {
                    what: "the devstack".into(),
                    until: "answer",
                    seconds: START_TIMEOUT.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The sum of every series of the counter `name` in a Prometheus text exposition.
pub fn counter_total(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn succeeded(connection: &mut Connection) -> Result<f64> {
    let reply = connection.get("/metrics").await?;
    Ok(counter_total(&reply.body, "deposits_succeeded"))
}

/// What one run measured.
pub struct Throughput {
    pub deposits: load::Report,
    /// While the load runs.
    pub lifecycles_per_second: f64,
    /// After it, working off the backlog.
    pub draining_per_second: f64,
    pub connections: usize,
}

/// Loads the devstack for `warmup` + `window`; counts lifecycles over the window.
pub async fn measure(
    devstack: &Devstack,
    connections: usize,
    warmup: Duration,
    window: Duration,
) -> Result<Throughput> {
    let run = std::process::id();
    let make: Arc<MakeRequest> = Arc::new(move |connection: &Connection, n| {
        connection
            .request(Method::POST, "/v1/deposits")
            .header("authorization", format!("Bearer {API_KEY}"))
            .header("idempotency-key", format!("bench-{run}-{n}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(DEPOSIT.as_bytes())))
            .unwrap_or_default()
    });
    let spec = Load {
        addr: devstack.addr,
        connections,
        warmup,
        window,
        accepted_status: 202,
    };
    let mut metrics = Connection::open(devstack.addr).await?;
    let loading = tokio::spawn(async move { load::run(&spec, make).await });
    tokio::time::sleep(warmup).await;
    let before = succeeded(&mut metrics).await?;
    let opened = Instant::now();
    tokio::time::sleep(window).await;
    let after = succeeded(&mut metrics).await?;
    let measured = opened.elapsed();
    let deposits = loading.await.map_err(|e| Error::Http(e.to_string()))??;
    let draining = drain(&mut metrics).await?;
    Ok(Throughput {
        deposits,
        lifecycles_per_second: (after - before) / measured.as_secs_f64(),
        draining_per_second: draining,
        connections,
    })
}

/// How often the drain samples the counter, and how long it may stay still before the
/// backlog counts as drained.
const DRAIN_SAMPLE: Duration = Duration::from_millis(200);
const DRAIN_STILL: Duration = Duration::from_secs(2);
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

/// Lifecycles per second once the load stops: the processor, gateway and webhook path
/// alone, working off the backlog the load left (while the load runs, the intake takes
/// the cores). Counted from the load's end to the counter's last rise.
async fn drain(metrics: &mut Connection) -> Result<f64> {
    let started = Instant::now();
    let first = succeeded(metrics).await?;
    let (mut last, mut last_rise) = (first, started);
    let mut shown = started;
    while last_rise.elapsed() < DRAIN_STILL && started.elapsed() < DRAIN_LIMIT {
        tokio::time::sleep(DRAIN_SAMPLE).await;
        let now = succeeded(metrics).await?;
        if now > last {
            (last, last_rise) = (now, Instant::now());
        }
        if shown.elapsed() >= Duration::from_secs(5) {
            shown = Instant::now();
            eprintln!(
                "    draining: {:.0} lifecycles in {:.0} s",
                last - first,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let span = last_rise.duration_since(started).as_secs_f64();
    Ok(if span > 0.0 {
        (last - first) / span
    } else {
        0.0
    })
}

fn per_second(rate: f64) -> String {
    let whole = rate.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}/s")
}

/// The two rows: deposits accepted (with p99) and full lifecycles.
pub fn rows(result: &Throughput) -> Vec<Row> {
    let deposits = &result.deposits;
    let p99 = stats::percentile_sorted(&deposits.latencies_us, 99.0)
        .map_or(f64::NAN, |us| f64::from(us) / 1e3);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let setting = format!(
        "{} connections, {:.0} s; load generator on the same {cores}-core machine",
        result.connections,
        deposits.window.as_secs_f64()
    );
    let refused = if deposits.refused > 0 {
        format!(", {} refused", deposits.refused)
    } else {
        String::new()
    };
    vec![
        Row::new(
            "devstack: deposits accepted (`POST /v1/deposits` → 202)",
            format!(
                "{}, p99 {p99:.1} ms{refused} ({setting})",
                per_second(deposits.per_second())
            ),
            "6,378/s, p99 11 ms",
            format!("≥ {}", per_second(ACCEPTED_TARGET)),
            Some(deposits.per_second() >= ACCEPTED_TARGET && deposits.refused == 0),
        ),
        Row::new(
            "devstack: full lifecycles (deposit → gateway → webhook → `succeeded`)",
            format!(
                "{} working off the backlog after the load ({} during it, while the \
                 intake takes the cores; `deposits_succeeded`)",
                per_second(result.draining_per_second),
                per_second(result.lifecycles_per_second)
            ),
            "~2,400/s",
            format!("≥ {}", per_second(LIFECYCLES_TARGET)),
            Some(result.draining_per_second >= LIFECYCLES_TARGET),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_summed_over_their_labels() {
        let text = "# HELP deposits_succeeded deposits the gateway confirmed\n\
                    # TYPE deposits_succeeded counter\n\
                    deposits_succeeded{gateway=\"acme_json\",corridor=\"AE-AED\"} 1200\n\
                    deposits_succeeded{gateway=\"globex_soap\",corridor=\"AE-AED\"} 34\n\
                    deposits_succeeded_total 99\n\
                    deposits_requested{corridor=\"AE-AED\"} 5000\n";
        assert_eq!(counter_total(text, "deposits_succeeded"), 1234.0);
        assert_eq!(counter_total(text, "deposits_requested"), 5000.0);
        assert_eq!(counter_total("plain 7\n", "plain"), 7.0);
        assert_eq!(counter_total(text, "missing"), 0.0);
    }

    #[test]
    fn rates_are_whole_and_grouped_by_thousands() {
        assert_eq!(per_second(6378.4), "6,378/s");
        assert_eq!(per_second(10_000.0), "10,000/s");
        assert_eq!(per_second(999.6), "1,000/s");
        assert_eq!(per_second(12.0), "12/s");
        assert_eq!(per_second(1_234_567.0), "1,234,567/s");
    }
}
