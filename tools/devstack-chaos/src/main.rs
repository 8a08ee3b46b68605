//! `cargo run --release -p devstack-chaos`: starts the devstack in this process with the
//! queue delivering half its messages twice and every gateway fault knob on, sends a few
//! hundred deposits and refunds through its HTTP API, turns the knobs off, waits until
//! everything is final, and checks the gateways' books: no double charge, every deposit
//! and refund final, paygate and the gateways agreeing. Exit 0 only when nothing is wrong.

mod books;
mod knobs;
mod traffic;

use books::{Deposit, Findings, Payment};
use clap::Parser;
use devstack::{Running, Settings};
use futures::StreamExt;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use traffic::Merchant;

#[derive(Debug, Parser)]
#[command(about = "Deposits and refunds through the devstack under every fault knob")]
struct Options {
    /// How many deposits to send.
    #[arg(long, default_value_t = 300)]
    deposits: usize,
    /// How many merchants send at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Share of queue messages delivered twice at once (`PAYGATE_DEV_QUEUE_DUPLICATES`).
    #[arg(long, default_value_t = 0.5)]
    duplicates: f64,
    /// The sweeper's thresholds, in seconds (`PAYGATE_SWEEP_*_AFTER_SECS`).
    #[arg(long, default_value_t = 10)]
    sweep_after: u64,
    /// How long to wait, once the knobs are off, for everything to be final.
    #[arg(long, default_value_t = 900)]
    patience_secs: u64,
}

/// The pairs the devstack's default gateways serve.
const PAIRS: [(&str, &str); 5] = [
    ("AE", "AED"),
    ("US", "USD"),
    ("GB", "GBP"),
    ("DE", "EUR"),
    ("JP", "JPY"),
];

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    match chaos(&options).await {
        Ok(findings) if findings.problems() == 0 => ExitCode::SUCCESS,
        Ok(findings) => {
            for line in findings
                .double_charges
                .iter()
                .chain(&findings.not_final)
                .chain(&findings.disagreements)
            {
                eprintln!("  - {line}");
            }
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("devstack-chaos: {error}");
            ExitCode::from(2)
        }
    }
}

async fn chaos(options: &Options) -> Result<Findings, String> {
    let started = Instant::now();
    let settings = settings(options)?;
    let running = devstack::start(&settings)
        .await
        .map_err(|e| format!("the devstack did not start: {e}"))?;
    let gateways: Vec<String> = running.simulators.iter().map(|g| g.base_url()).collect();
    let merchant = Merchant {
        client: reqwest::Client::new(),
        base_url: running.base_url.clone(),
        api_key: settings.api_key().to_owned(),
        counts: Default::default(),
    };
    eprintln!(
        "devstack at {} ({} gateways), duplicates {}, every fault knob on",
        running.base_url,
        gateways.len(),
        options.duplicates
    );
    knobs::switch(&merchant.client, &gateways, &knobs::faults_on()).await?;
    let ids = send_traffic(options, &merchant).await;
    knobs::switch(&merchant.client, &gateways, &knobs::faults_off()).await?;
    eprintln!(
        "knobs off after {:.0?}; waiting for every deposit and refund to be final",
        started.elapsed()
    );
    let deposits = wait_until_final(options, &merchant, &ids).await?;
    let payments = books(&merchant.client, &gateways).await?;
    let findings = books::judge(&deposits, &payments);
    let counts = &merchant.counts;
    println!(
        "{} deposits, {} refunds, {} retries, {} anomalies, {} for a person, {} double charges, \
         {} not final, {} disagreements, {} unexpected answers, {:.0?}",
        counts.deposits.load(Ordering::Relaxed),
        counts.refunds.load(Ordering::Relaxed),
        counts.retries.load(Ordering::Relaxed),
        findings.anomalies,
        findings.needs_a_person,
        findings.double_charges.len(),
        findings.not_final.len(),
        findings.disagreements.len(),
        counts.unexpected.load(Ordering::Relaxed),
        started.elapsed()
    );
    stop(running);
    let unexpected = counts.unexpected.load(Ordering::Relaxed);
    if unexpected > 0 {
        return Err(format!("{unexpected} answers no valid request should get"));
    }
    Ok(findings)
}

/// The devstack's settings: this run's knobs over the environment's.
fn settings(options: &Options) -> Result<Settings, String> {
    let sweep_after = options.sweep_after.to_string();
    let overrides = [
        ("PAYGATE_ADDR", "127.0.0.1:0".to_owned()),
        (
            "PAYGATE_DEV_QUEUE_DUPLICATES",
            options.duplicates.to_string(),
        ),
        ("PAYGATE_PROBE_INTERVAL_SECS", "1".to_owned()),
        ("PAYGATE_SWEEP_PENDING_AFTER_SECS", sweep_after.clone()),
        ("PAYGATE_SWEEP_ATTEMPT_AFTER_SECS", sweep_after.clone()),
        ("PAYGATE_SWEEP_SUBMITTED_AFTER_SECS", sweep_after.clone()),
        ("PAYGATE_SWEEP_REFUND_AFTER_SECS", sweep_after),
    ];
    Settings::from_args_and_env(Vec::new(), |name| {
        overrides
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
            .or_else(|| std::env::var(name).ok())
    })
}

/// Every deposit (and its refunds), `concurrency` merchants at a time; the ids created.
async fn send_traffic(options: &Options, merchant: &Merchant) -> Vec<String> {
    let mut ids = Vec::new();
    let mut sent = futures::stream::iter(0..options.deposits)
        .map(|n| merchant.deposit_and_maybe_refund(PAIRS[n % PAIRS.len()]))
        .buffer_unordered(options.concurrency);
    let mut last = Instant::now();
    while let Some(result) = sent.next().await {
        match result {
            Ok(id) => ids.push(id),
            Err(error) => eprintln!("  a deposit was not created: {error}"),
        }
        if last.elapsed() > Duration::from_secs(5) {
            last = Instant::now();
            let counts = &merchant.counts;
            eprintln!(
                "  sent {}/{} deposits, {} refunds, {} retries",
                ids.len(),
                options.deposits,
                counts.refunds.load(Ordering::Relaxed),
                counts.retries.load(Ordering::Relaxed)
            );
        }
    }
    ids
}

/// Reads every deposit until all are final (or patience runs out); their last state.
async fn wait_until_final(
    options: &Options,
    merchant: &Merchant,
    ids: &[String],
) -> Result<Vec<Deposit>, String> {
    let deadline = Instant::now() + Duration::from_secs(options.patience_secs);
    loop {
        let mut deposits = Vec::with_capacity(ids.len());
        for id in ids {
            deposits.push(read(merchant, id).await?);
        }
        let waiting = deposits
            .iter()
            .filter(|d| !d.is_final() && !d.needs_a_person())
            .count();
        if waiting == 0 || Instant::now() >= deadline {
            return Ok(deposits);
        }
        eprintln!("  {waiting} of {} not final yet", ids.len());
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

async fn read(merchant: &Merchant, id: &str) -> Result<Deposit, String> {
    let view = merchant.get(&format!("/v1/deposits/{id}")).await?;
    let events = merchant.get(&format!("/v1/deposits/{id}/events")).await?;
    match (view, events) {
        ((200, view), (200, events)) => Ok(Deposit::from_api(&view, &events)),
        (view, events) => Err(format!("reading {id}: {view:?} {events:?}")),
    }
}

/// Every payment every gateway holds.
async fn books(client: &reqwest::Client, gateways: &[String]) -> Result<Vec<Payment>, String> {
    let mut payments = Vec::new();
    for base in gateways {
        let url = format!("{base}/admin/payments");
        let listed: Vec<Payment> = client
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        payments.extend(listed);
    }
    Ok(payments)
}

fn stop(running: Running) {
    running.stop();
}
