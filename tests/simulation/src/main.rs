//! `paygate-sim --seeds START..END`: runs the lifecycle simulation for every seed of the
//! range on every core, shows progress on a terminal, prints each failing seed with its
//! replay command and trace, and ends with one summary line. Exit 0 only when no seed
//! broke a money rule. (`cargo xtask sim --seeds START..END` runs it in release.)

use clap::Parser;
use paygate_simulation::{SeedReport, run_seed};
use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Parser)]
#[command(about = "Deterministic simulation of paygate's whole deposit lifecycle")]
struct Args {
    /// Seeds to run, `START..END` (END excluded) or a single seed.
    #[arg(long, value_parser = parse_seeds, default_value = "0..100")]
    seeds: Range<u64>,
    /// Print the trace of every seed run (with one seed: a replay).
    #[arg(long)]
    trace: bool,
    /// Worker threads (default: every core).
    #[arg(long)]
    threads: Option<usize>,
}

fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let number = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("{t:?} is not a seed"))
    };
    match text.split_once("..") {
        Some((start, end)) => {
            let range = number(start)?..number(end)?;
            if range.is_empty() {
                return Err(format!("{text} holds no seed"));
            }
            Ok(range)
        }
        None => {
            let seed = number(text)?;
            Ok(seed..seed + 1)
        }
    }
}

#[derive(Default)]
struct Totals {
    seeds: u64,
    deposits: u64,
    refunds: u64,
    payouts: u64,
    faults: u64,
    anomalies: u64,
    needs_a_person: u64,
    violations: u64,
    failing: Vec<SeedReport>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let started = Instant::now();
    let total = args.seeds.end - args.seeds.start;
    let next = AtomicU64::new(args.seeds.start);
    let totals = Mutex::new(Totals::default());
    let progress = std::io::stderr().is_terminal();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::SeqCst);
                    if seed >= args.seeds.end {
                        break;
                    }
                    let report = run_seed(seed, args.trace);
                    if args.trace
                        && let Some(trace) = &report.trace
                    {
                        println!("== seed {seed}\n{trace}");
                    }
                    let mut totals = totals.lock().unwrap_or_else(|p| p.into_inner());
                    totals.seeds += 1;
                    totals.deposits += report.deposits as u64;
                    totals.refunds += report.refunds as u64;
                    totals.payouts += report.payouts as u64;
                    totals.faults += report.fault_count();
                    totals.anomalies += report.anomalies as u64;
                    totals.needs_a_person += report.needs_a_person as u64;
                    totals.violations += report.violations.len() as u64;
                    if !report.violations.is_empty() {
                        totals.failing.push(report);
                    }
                    if progress && (totals.seeds % 25 == 0 || totals.seeds == total) {
                        eprint!(
                            "\r{}/{total} seeds, {} violations, {:.0?}   ",
                            totals.seeds,
                            totals.violations,
                            started.elapsed()
                        );
                        let _ = std::io::stderr().flush();
                    }
                }
            });
        }
    });
    if progress {
        eprintln!();
    }
    let mut totals = totals.into_inner().unwrap_or_else(|p| p.into_inner());
    totals.failing.sort_by_key(|r| r.seed);
    for report in &totals.failing {
        println!(
            "seed {} broke {} rule(s):",
            report.seed,
            report.violations.len()
        );
        for violation in &report.violations {
            println!("  - {violation}");
        }
        println!("  faults: {:?}", report.faults);
        println!("  replay: cargo xtask sim --seeds {} --trace", report.seed);
        let replay = run_seed(report.seed, true);
        if let Some(trace) = replay.trace {
            let lines: Vec<&str> = trace.lines().collect();
            let shown = lines.len().saturating_sub(200);
            if shown > 0 {
                println!("  trace (last 200 of {} lines):", lines.len());
            } else {
                println!("  trace:");
            }
            for line in &lines[shown..] {
                println!("    {line}");
            }
        }
    }
    println!(
        "{} anomalies recorded, {} deposit(s) or payout(s) left for a person, {:.1?} on {threads} thread(s)",
        totals.anomalies,
        totals.needs_a_person,
        started.elapsed()
    );
    println!(
        "{} seeds, {} deposits, {} refunds, {} payouts, {} faults, {} violations",
        totals.seeds,
        totals.deposits,
        totals.refunds,
        totals.payouts,
        totals.faults,
        totals.violations
    );
    if totals.violations == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
