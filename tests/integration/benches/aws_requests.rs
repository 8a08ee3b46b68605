//! AWS requests and cost per deposit: runs the metered lifecycles (see
//! `paygate_integration::metered`) against the emulators, prints what each function asked
//! of AWS, and writes the footprint table's rows to `aws_requests.jsonl` in
//! `PAYGATE_FOOTPRINT_ROWS` (else `target/footprint/rows`), which `cargo xtask bench`
//! prints. Needs the emulators' environment (`cargo xtask emulators`, or run through
//! `cargo xtask bench`).
//!
//! `cargo bench -p paygate-integration --bench aws_requests [-- RUNS]`

use paygate_integration::metered::{LifecycleCost, MeteredStack};
use paygate_integration::pairs;
use serde_json::json;
use std::io::Write;
use std::time::Duration;

/// us-east-1 list prices (December 2026), in dollars.
mod price {
    /// Lambda on arm64, per GB-second.
    pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// DynamoDB on-demand, per write and per read request unit.
    pub const DYNAMODB_WRITE_UNIT: f64 = 0.625 / 1e6;
    pub const DYNAMODB_READ_UNIT: f64 = 0.125 / 1e6;
    /// SQS standard queue, per request (64 KB chunk).
    pub const SQS_REQUEST: f64 = 0.40 / 1e6;
    /// EventBridge custom events, per event (64 KB chunk).
    pub const EVENTBRIDGE_EVENT: f64 = 1.00 / 1e6;
    /// API Gateway HTTP API, per request (first 300 million a month).
    pub const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
    /// CloudWatch Logs ingestion, per GB.
    pub const LOG_GB: f64 = 0.50;
}

/// The template's `MemorySize` for every function, in GB.
const MEMORY_GB: f64 = 256.0 / 1024.0;
/// Log bytes per invocation: one EMF flush (measured by `paygate-telemetry`'s
/// `emf_flush` bench: 1,699 bytes) and Lambda's START/END/REPORT lines (~350 bytes).
const LOG_BYTES_PER_INVOCATION: f64 = 1_699.0 + 350.0;

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    paygate_integration::require_emulators();
    let stack = MeteredStack::new(pairs::METERED).await;
    let mut deposits = Vec::new();
    let mut refunds = Vec::new();
    let mut probes = Vec::new();
    for run in 1..=runs {
        let (id, deposit) = stack.deposit_to_succeeded(pairs::METERED).await;
        deposits.push(deposit);
        refunds.push(stack.refund_to_refunded(id).await);
        probes.push(stack.probe_run().await);
        eprint!("\rlifecycles measured: {run}/{runs}");
    }
    eprintln!();
    let deposit = median_run(&deposits);
    let refund = median_run(&refunds);
    let probe = median_run(&probes);
    println!("deposit → succeeded: {deposit}\n");
    println!("refund → refunded: {refund}\n");
    println!("idle probe run: {probe}\n");

    let cost = Cost::of(&deposit);
    println!("{cost}");
    let stream_loads = deposit
        .of("processor")
        .tally
        .matching(|c| c.operation == "Query" && c.target.contains("events"));
    let probe_requests = probe.total().total();
    let rows = [
        lifecycle_row(
            "AWS requests, one deposit to succeeded",
            &deposit,
            "22 (intake 5, processor 10, webhook 7); floor 10",
        ),
        lifecycle_row(
            "AWS requests, one refund to refunded",
            &refund,
            "20; floor ~10",
        ),
        row(
            "processor: loads of the same stream per message",
            stream_loads.to_string(),
            "4; floor 1",
            "1",
            stream_loads <= 1,
        ),
        row(
            "idle probe run, AWS requests",
            format!("{probe_requests}"),
            "12 (registry scanned twice)",
            "≤ 6",
            probe_requests <= 6,
        ),
        row(
            "cost per million deposits on AWS (deposit → succeeded)",
            format!("${:.2}", cost.total() * 1e6),
            "—",
            "—",
            serde_json::Value::Null,
        ),
    ];
    write_rows(&rows);
}

/// The run whose total request count is the median (counts barely vary; the handlers'
/// times do, and the median run's are typical).
fn median_run(runs: &[LifecycleCost]) -> LifecycleCost {
    let mut sorted: Vec<&LifecycleCost> = runs.iter().collect();
    sorted.sort_by_key(|c| {
        (
            c.total().total(),
            c.functions.iter().map(|f| f.busy).sum::<Duration>(),
        )
    });
    sorted[sorted.len() / 2].clone()
}

/// What one deposit lifecycle costs on AWS, by service.
struct Cost {
    lines: Vec<(String, f64)>,
}

impl Cost {
    fn of(lifecycle: &LifecycleCost) -> Self {
        let total = lifecycle.total();
        let invocations: u32 = lifecycle.functions.iter().map(|f| f.invocations).sum();
        // Lambda bills each invocation's duration rounded up to the millisecond.
        let gb_seconds: f64 = lifecycle
            .functions
            .iter()
            .map(|f| f.busy.as_millis() as f64 + f64::from(f.invocations))
            .sum::<f64>()
            / 1000.0
            * MEMORY_GB;
        let sqs_sent = f64::from(total.of_service("SQS"));
        // Lambda's poller receives and deletes every message it hands over.
        let sqs_polled = 2.0 * f64::from(lifecycle.of("processor").invocations);
        let http_requests = f64::from(lifecycle.of("intake").invocations)
            + f64::from(lifecycle.of("webhook").invocations);
        let lines = vec![
            (
                format!("Lambda: {invocations} invocations"),
                f64::from(invocations) * price::LAMBDA_REQUEST,
            ),
            (
                format!("Lambda: {gb_seconds:.5} GB-s (handler time on the emulators, 256 MB)"),
                gb_seconds * price::LAMBDA_GB_SECOND,
            ),
            (
                format!("DynamoDB: {:.1} write units", total.write_units),
                total.write_units * price::DYNAMODB_WRITE_UNIT,
            ),
            (
                format!("DynamoDB: {:.1} read units", total.read_units),
                total.read_units * price::DYNAMODB_READ_UNIT,
            ),
            (
                format!("SQS: {sqs_sent} sent + {sqs_polled} by Lambda's poller"),
                (sqs_sent + sqs_polled) * price::SQS_REQUEST,
            ),
            (
                format!("EventBridge: {} events", total.of_service("EventBridge")),
                f64::from(total.of_service("EventBridge")) * price::EVENTBRIDGE_EVENT,
            ),
            (
                format!("API Gateway HTTP API: {http_requests} requests"),
                http_requests * price::HTTP_API_REQUEST,
            ),
            (
                format!(
                    "CloudWatch Logs: ~{:.0} bytes",
                    f64::from(invocations) * LOG_BYTES_PER_INVOCATION
                ),
                f64::from(invocations) * LOG_BYTES_PER_INVOCATION / 1e9 * price::LOG_GB,
            ),
        ];
        Self { lines }
    }

    fn total(&self) -> f64 {
        self.lines.iter().map(|(_, dollars)| dollars).sum()
    }
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "cost per million deposits (us-east-1 list prices):")?;
        for (what, dollars) in &self.lines {
            writeln!(f, "  {what:<70} ${:>8.2}", dollars * 1e6)?;
        }
        write!(f, "  {:<70} ${:>8.2}", "total", self.total() * 1e6)
    }
}

fn row(
    figure: &str,
    measured: String,
    baseline: &str,
    target: &str,
    met: impl Into<serde_json::Value>,
) -> serde_json::Value {
    json!({ "figure": figure, "measured": measured, "baseline": baseline, "target": target, "met": met.into() })
}

/// The row of a lifecycle's AWS requests (by function), against the target of 12.
fn lifecycle_row(figure: &str, lifecycle: &LifecycleCost, baseline: &str) -> serde_json::Value {
    let requests = lifecycle.total().total();
    let measured = format!("{requests} ({})", lifecycle.split());
    row(figure, measured, baseline, "≤ 12", requests <= 12)
}

/// Writes the rows to `aws_requests.jsonl` in `PAYGATE_FOOTPRINT_ROWS` (set by `cargo
/// xtask bench`), else in the workspace's `target/footprint/rows`.
fn write_rows(rows: &[serde_json::Value]) {
    let folder = std::env::var_os("PAYGATE_FOOTPRINT_ROWS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| {
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_owned()
            });
            std::path::Path::new(&target).join("footprint/rows")
        });
    std::fs::create_dir_all(&folder).expect("create the rows folder");
    let path = folder.join("aws_requests.jsonl");
    let mut file = std::fs::File::create(&path).expect("create the rows file");
    for row in rows {
        writeln!(file, "{row}").expect("write a row");
    }
    println!("{} rows → {}", rows.len(), path.display());
}
