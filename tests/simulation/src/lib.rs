//! The lifecycle simulation: the whole of paygate — the four functions' real handlers
//! and use cases on the in-memory adapters, the real PSP connectors over simulated PSPs,
//! a queue with SQS's semantics, the probe's schedule — run by a deterministic executor
//! on simulated time, with every fault the seed decides: duplicate and concurrent
//! deliveries, crashes at any await point, time-outs, store failures, conflicts and lost
//! answers, PSPs that lose replies, answer 409/429 for keys in flight, index lazily,
//! capture other amounts and duplicate, drop or reorder webhooks, and merchants who retry
//! with the same key, a new key, or twice at once.
//!
//! One seed decides everything; the same seed replays the same run. After the faults
//! stop and the sweeper has had its periods, [`checker`] holds the end state to the
//! money rules (README, "Guarantees").

pub mod actors;
pub mod checker;
pub mod config;
pub mod executor;
pub mod faults;
pub mod merchant;
pub mod ports;
pub mod psp;
pub mod rng;
pub mod trace;
pub mod world;

use rng::Rng;
use std::collections::BTreeMap;
use std::rc::Rc;
use trace::Trace;
use world::{GATEWAYS, START_MS, World};

/// What one seed's run did and found.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub seed: u64,
    pub deposits: usize,
    pub refunds: usize,
    pub payouts: usize,
    pub anomalies: usize,
    pub needs_a_person: usize,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    pub violations: Vec<String>,
    /// How many events of each kind the run stored (`AttemptResumed`, `PayoutPaid`, …), and of each
    /// anomaly (`anomaly:unexpected_charge`, …): what a seed exercised.
    pub exercised: BTreeMap<String, u64>,
    /// What happened, if the run kept its trace.
    pub trace: Option<String>,
    /// A digest of the end state: the same seed gives the same digest.
    pub digest: u64,
}

impl SeedReport {
    pub fn fault_count(&self) -> u64 {
        self.faults.values().sum()
    }
}

/// Runs one seed. `keep_trace` keeps the trace (slower; for replays and failures).
pub fn run_seed(seed: u64, keep_trace: bool) -> SeedReport {
    run(seed, keep_trace, true)
}

/// Runs one seed as it ran before merchants paid out: a seed found before payouts
/// existed replays the run that caught its defect (payouts add draws to the run).
pub fn run_seed_without_payouts(seed: u64) -> SeedReport {
    run(seed, false, false)
}

fn run(seed: u64, keep_trace: bool, payouts: bool) -> SeedReport {
    let mut rng = Rng::new(seed);
    let names: Vec<&'static str> = GATEWAYS.iter().map(|g| g.name).collect();
    let mut config = config::SeedConfig::draw(&mut rng, &names);
    config.draw_horizons(seed);
    config.draw_refund_failures(seed);
    if payouts {
        config.draw_payouts(seed);
    }
    let trace = Trace::new(keep_trace);
    trace.note(START_MS, format!("seed {seed}: {config:?}"));
    let world = Rc::new(World::new(rng.next_u64(), config, trace.clone()));
    merchant::start(&world);
    actors::start(&world);
    let end = world.config.end_ms(START_MS);
    world.exec.run_until(end);
    let verdict = checker::check(&world);
    let mut faults: BTreeMap<String, u64> = world
        .faults
        .counts()
        .into_iter()
        .map(|(kind, n)| (kind.to_owned(), n))
        .collect();
    for psp in world.psps.values() {
        for (kind, n) in psp.fault_counts() {
            *faults.entry(kind.to_owned()).or_default() += n;
        }
    }
    let deaths = world.exec.deaths();
    faults.insert("function_crash".into(), deaths.crashed);
    faults.insert("function_timeout".into(), deaths.timed_out);
    faults.retain(|_, n| *n > 0);
    let digest = digest(&world);
    let exercised = exercised(&world);
    if keep_trace {
        // Every deposit a violation names (a ledger's totals name those that differ).
        let named: std::collections::BTreeSet<_> = verdict
            .violations
            .iter()
            .flat_map(|v| v.split(|c: char| !(c.is_ascii_hexdigit() || c == '-')))
            .filter(|word| word.len() == 36)
            .filter_map(paygate_domain::DepositId::parse)
            .collect();
        for id in named {
            trace.note(world.now_ms(), story(&world, id));
        }
    }
    SeedReport {
        seed,
        deposits: verdict.deposits,
        refunds: verdict.refunds,
        payouts: verdict.payouts,
        anomalies: verdict.anomalies,
        needs_a_person: verdict.needs_a_person,
        faults,
        violations: verdict.violations,
        exercised,
        trace: keep_trace.then(|| trace.render(START_MS)),
        digest,
    }
}

/// A deposit's whole stream and what the gateways hold for it, for a failing seed's trace.
fn story(world: &World, id: paygate_domain::DepositId) -> String {
    use std::fmt::Write as _;
    let mut out = format!("story of {id}:\n");
    let snapshot = world.store.snapshot();
    for event in snapshot.streams.get(&id).into_iter().flatten() {
        let at = (event.occurred_at.unix_timestamp_nanos() / 1_000_000) as i64 - START_MS;
        let _ = writeln!(
            out,
            "    v{} +{:.3}s {}: {}",
            event.version,
            at as f64 / 1000.0,
            event.correlation_id,
            serde_json::to_string(&event.event).unwrap_or_default()
        );
    }
    for (name, psp) in &world.psps {
        for payment in psp
            .payments()
            .iter()
            .filter(|p| p.reference == id.to_string())
        {
            let _ = writeln!(
                out,
                "    {name} {} key={} {:?} {} {} refunds: {:?}",
                payment.id,
                payment.idempotency_key,
                payment.status,
                payment.amount,
                payment.currency,
                payment
                    .refunds
                    .iter()
                    .map(|r| (r.idempotency_key.clone(), r.amount, r.status))
                    .collect::<Vec<_>>()
            );
        }
    }
    out
}

/// Event kinds and anomaly kinds the run stored, counted.
fn exercised(world: &World) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for stream in world.store.snapshot().streams.values() {
        let direction = match stream.first().map(|e| &e.event) {
            Some(paygate_domain::DepositEvent::DepositRequested { request, .. }) => {
                request.direction
            }
            _ => Default::default(),
        };
        for recorded in stream {
            // A payout's events in its own words (`PayoutPaid`, …).
            let name = recorded.event.name(direction);
            *counts.entry(name.to_owned()).or_default() += 1;
            if let paygate_domain::DepositEvent::PaymentAnomalyDetected { anomaly } =
                &recorded.event
            {
                *counts
                    .entry(format!("anomaly:{}", anomaly.kind.as_str()))
                    .or_default() += 1;
            }
        }
    }
    counts
}

/// FNV-1a over what the run left: streams (their event kinds), and the PSPs' books.
fn digest(world: &World) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut feed = |text: &str| {
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    let snapshot = world.store.snapshot();
    let mut ids: Vec<_> = snapshot.streams.keys().copied().collect();
    ids.sort();
    for id in ids {
        feed(&id.to_string());
        for event in &snapshot.streams[&id] {
            feed(event.event.kind());
        }
    }
    for (name, psp) in &world.psps {
        feed(name);
        for payment in psp.payments() {
            feed(&format!(
                "{}:{:?}:{}",
                payment.id,
                payment.status,
                payment.refunds.len()
            ));
        }
    }
    for answer in world.log.answers() {
        feed(&format!("{}:{:?}", answer.key, answer.status));
    }
    hash
}
