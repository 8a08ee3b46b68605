//! What a seed decides about its run: how much traffic, which faults and how often, and
//! how the PSPs misbehave. Drawn once, printed with a failing seed.

use crate::faults::StoreFaults;
use crate::rng::Rng;
use gateway_simulator::Behaviour;
use paygate_domain::service::process::AttemptPolicy;
use paygate_domain::service::sweep::SweepPolicy;
use std::collections::BTreeMap;

/// The queue (SQS) and the Lambda event source mapping in front of the processor.
#[derive(Debug, Clone, Copy)]
pub struct QueueFaults {
    /// Share of received messages handed to two workers at once.
    pub duplicate_rate: f64,
    pub visibility_timeout_ms: i64,
    pub max_receive_count: u32,
    /// Whether an operator redrives the DLQ back now and then (old messages come back).
    pub redrive: bool,
}

/// Functions: crashes at await points, time-outs.
#[derive(Debug, Clone, Copy)]
pub struct FunctionFaults {
    /// Chance, each time an invocation is about to run, that it is dropped there.
    pub crash_rate: f64,
}

/// How merchants behave.
#[derive(Debug, Clone, Copy)]
pub struct MerchantHabits {
    pub deposits: usize,
    /// After a failure answer (5xx, connection lost): retry with the same key, a new
    /// key, or give up (the rest).
    pub same_key_retry: f64,
    pub new_key_retry: f64,
    /// Sends the same request twice at once.
    pub double_submit: f64,
    /// Refunds a succeeded deposit (some twice at once, some in full).
    pub refund_rate: f64,
    /// Pays out part of a succeeded deposit's amount (some more than the balance holds).
    pub payout_rate: f64,
}

#[derive(Debug, Clone)]
pub struct SeedConfig {
    /// How long faults last, from the start.
    pub faults_for_ms: i64,
    /// How long the run goes on after faults stop (the sweeper's periods, and more).
    pub calm_for_ms: i64,
    pub store: StoreFaults,
    pub queue: QueueFaults,
    pub functions: FunctionFaults,
    /// Connection failures before anything is sent, per PSP call.
    pub network_fail_rate: f64,
    pub psps: BTreeMap<&'static str, Behaviour>,
    pub merchants: MerchantHabits,
    pub sweep: SweepPolicy,
    pub attempts: AttemptPolicy,
}

impl SeedConfig {
    pub fn draw(rng: &mut Rng, gateways: &[&'static str]) -> Self {
        let psps = gateways
            .iter()
            .map(|name| (*name, draw_behaviour(rng)))
            .collect();
        Self {
            faults_for_ms: rng.between(5, 20) * 60_000,
            calm_for_ms: 3 * 3_600_000,
            store: StoreFaults::draw(rng),
            queue: QueueFaults {
                duplicate_rate: *rng.pick(&[0.0, 0.05, 0.2, 0.5]),
                visibility_timeout_ms: *rng.pick(&[180_000, 180_000, 20_000]),
                max_receive_count: *rng.pick(&[5, 5, 2]),
                redrive: rng.chance(0.5),
            },
            functions: FunctionFaults {
                crash_rate: *rng.pick(&[0.0, 0.002, 0.01, 0.03]),
            },
            network_fail_rate: *rng.pick(&[0.0, 0.02, 0.1]),
            psps,
            merchants: MerchantHabits {
                deposits: rng.between(4, 20) as usize,
                same_key_retry: 0.8,
                new_key_retry: 0.1,
                double_submit: *rng.pick(&[0.0, 0.1, 0.3]),
                refund_rate: *rng.pick(&[0.2, 0.5, 0.8]),
                payout_rate: 0.0,
            },
            sweep: SweepPolicy::default(),
            attempts: AttemptPolicy::default(),
        }
    }

    /// Some seeds make gateways forget idempotency keys after 10 minutes, and paygate
    /// stop re-sending attempts after 8: attempts whose outcome stays unknown longer are
    /// left for a person (an `attempt_unresolved` anomaly), never sent again. Drawn from
    /// its own stream so it does not move any other draw of the seed.
    pub fn draw_horizons(&mut self, seed: u64) {
        let mut rng = Rng::new(seed ^ 0x4B45_595F_484F_525A);
        if rng.chance(0.2) {
            self.attempts.resend_within = time::Duration::minutes(8);
            // The sweeper looks well within the horizon, as it does with the defaults.
            self.sweep.attempt_after = time::Duration::minutes(2);
            self.sweep.submitted_after = time::Duration::minutes(3);
            self.sweep.refund_after = time::Duration::minutes(3);
            for behaviour in self.psps.values_mut() {
                behaviour.key_horizon_ms = 10 * 60_000;
            }
        }
    }

    /// Some seeds' PSPs decline a share of refunds while faults are on, so refunds fail
    /// and their money comes back (in the ledger: `reserved` back to `available`). Drawn
    /// from its own stream so it does not move any other draw of the seed.
    pub fn draw_refund_failures(&mut self, seed: u64) {
        let mut rng = Rng::new(seed ^ 0x5245_4655_4E44_5F4E);
        if rng.chance(0.3) {
            let rate = *rng.pick(&[0.2, 0.5]);
            for behaviour in self.psps.values_mut() {
                behaviour.refund_failure_rate = rate;
            }
        }
    }

    /// Most seeds' merchants pay out part of what they took (a few ask for more than
    /// their balance holds). Drawn from its own stream so it does not move any other
    /// draw of the seed.
    pub fn draw_payouts(&mut self, seed: u64) {
        let mut rng = Rng::new(seed ^ 0x5041_594F_5554_5321);
        self.merchants.payout_rate = *rng.pick(&[0.0, 0.3, 0.6, 0.9]);
    }

    /// The behaviour of PSP `gateway` while faults are on.
    pub fn psp(&self, gateway: &str) -> Behaviour {
        self.psps.get(gateway).copied().unwrap_or_default()
    }

    pub fn end_ms(&self, start_ms: i64) -> i64 {
        start_ms + self.faults_for_ms + self.calm_for_ms
    }
}

fn draw_behaviour(rng: &mut Rng) -> Behaviour {
    let harsh = rng.chance(0.5);
    let rate = |rng: &mut Rng, high: f64| {
        if harsh {
            *rng.pick(&[0.0, high / 2.0, high])
        } else {
            0.0
        }
    };
    Behaviour {
        latency_ms: *rng.pick(&[0, 50, 500, 3_000, 8_000]),
        error_rate: rate(rng, 0.2),
        outage: false,
        health_down: harsh && rng.chance(0.2),
        webhook_delay_ms: *rng.pick(&[200, 5_000, 60_000]),
        lost_reply_rate: rate(rng, 0.15),
        in_flight_key_status: *rng.pick(&[0, 409, 429]),
        lookup_lag_ms: *rng.pick(&[0, 0, 30_000, 300_000]),
        key_horizon_ms: 24 * 3_600_000,
        capture_mismatch_rate: rate(rng, 0.05),
        refund_failure_rate: 0.0,
        webhook_duplicate_rate: rate(rng, 0.3),
        webhook_drop_rate: rate(rng, 0.5),
        webhook_reorder: harsh && rng.chance(0.5),
    }
}
