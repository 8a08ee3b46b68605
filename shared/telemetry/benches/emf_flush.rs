//! What the EMF writer costs one invocation: recording what a processor invocation
//! records (a deposit processed with one fallback) and flushing it, timed over many
//! rounds; the bytes are what the invocation adds to its log.
//!
//! `cargo bench -p paygate-telemetry --bench emf_flush -- [ROUNDS]` (default 20000).

use paygate_telemetry::emf::EmfRecorder;
use std::time::Instant;

fn one_invocation() {
    let corridor = "AE-AED";
    metrics::counter!("gateway_calls", "gateway" => "alpha", "outcome" => "transient").increment(1);
    metrics::histogram!("gateway_call_ms", "gateway" => "alpha", "outcome" => "transient")
        .record(31.0);
    metrics::counter!("attempts_failed", "gateway" => "alpha", "retryable" => "true").increment(1);
    metrics::counter!("gateway_calls", "gateway" => "bravo", "outcome" => "accepted").increment(1);
    metrics::histogram!("gateway_call_ms", "gateway" => "bravo", "outcome" => "accepted")
        .record(84.0);
    metrics::counter!("deposits_succeeded", "gateway" => "bravo", "corridor" => corridor)
        .increment(1);
    metrics::counter!("amount_captured_minor", "currency" => "AED").increment(10_099);
    metrics::histogram!("deposit_time_to_final_seconds", "outcome" => "succeeded").record(1.4);
    metrics::counter!("store_conflicts").increment(1);
}

fn main() {
    let rounds: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let recorder = EmfRecorder::new("paygate");
    let mut out = Vec::with_capacity(4096);
    let mut bytes = 0;
    let started = Instant::now();
    for _ in 0..rounds {
        metrics::with_local_recorder(&recorder, one_invocation);
        out.clear();
        recorder
            .flush(1_700_000_000_000, &mut out)
            .expect("a flush");
        bytes = out.len();
    }
    let per_invocation = started.elapsed() / rounds;
    println!(
        "{rounds} invocations: {:.1} µs and {bytes} bytes of EMF per invocation (record + flush)",
        per_invocation.as_secs_f64() * 1e6
    );
}
