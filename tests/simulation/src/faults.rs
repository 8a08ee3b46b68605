//! The store's, queue's and registry's faults in a simulated run: every adapter call is a
//! scheduling point (another task may run first), and while faults are on, a call may be
//! slow, fail, lose a race, or commit and lose its answer — each by a seeded chance, each
//! counted so a run that injected nothing is visible.

use crate::executor::{Timers, YieldNow};
use crate::rng::Rng;
use crate::trace::Trace;
use async_trait::async_trait;
use paygate_domain::DepositId;
use paygate_memory::{Call, Fault, FaultHook, Port};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// The chances of each fault per call while faults are on.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreFaults {
    /// A call fails before doing anything (throttled, unreachable).
    pub fail: f64,
    /// A conditional write loses its race.
    pub conflict: f64,
    /// A write commits and its answer is lost.
    pub lose_reply: f64,
    /// A call is slow: it waits up to `max_delay_ms` first.
    pub delay: f64,
    pub max_delay_ms: i64,
}

impl StoreFaults {
    pub fn draw(rng: &mut Rng) -> Self {
        let scale = *rng.pick(&[0.0, 0.5, 1.0, 2.0]);
        Self {
            fail: 0.02 * scale,
            conflict: 0.03 * scale,
            lose_reply: 0.02 * scale,
            delay: 0.05 * scale,
            max_delay_ms: rng.between(10, 3_000),
        }
    }
}

pub struct SimFaults {
    timers: Timers,
    state: Mutex<State>,
    trace: Trace,
}

struct State {
    rng: Rng,
    plan: StoreFaults,
    on: bool,
    counts: BTreeMap<&'static str, u64>,
    /// Deposits whose stream got an append call already.
    appended: BTreeSet<DepositId>,
    /// Deposits whose creating append committed and lost its answer: their intake may
    /// not learn whether they exist (a 503 then means "unknown, retry the same key").
    lost_creates: BTreeSet<DepositId>,
}

impl SimFaults {
    pub fn new(timers: Timers, rng: Rng, plan: StoreFaults, trace: Trace) -> Self {
        Self {
            timers,
            state: Mutex::new(State {
                rng,
                plan,
                on: true,
                counts: BTreeMap::new(),
                appended: BTreeSet::new(),
                lost_creates: BTreeSet::new(),
            }),
            trace,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Faults stop: every later call goes through.
    pub fn stop(&self) {
        self.state().on = false;
    }

    /// Deposits whose creation's answer was lost (see the field).
    pub fn lost_creates(&self) -> BTreeSet<DepositId> {
        self.state().lost_creates.clone()
    }

    /// How many faults of each kind were injected.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.state().counts.clone()
    }
}

fn port_name(port: Port) -> &'static str {
    match port {
        Port::Store => "store",
        Port::Index => "index",
        Port::Queue => "queue",
        Port::Registry => "registry",
        Port::Publisher => "bus",
        Port::Merchants => "merchants",
    }
}

#[async_trait]
impl FaultHook for SimFaults {
    async fn on_call(&self, call: &Call) -> Fault {
        YieldNow::default().await;
        let (delay, fault) = {
            let mut state = self.state();
            if !state.on {
                return Fault::None;
            }
            let plan = state.plan;
            let delay = state
                .rng
                .chance(plan.delay)
                .then(|| state.rng.between(1, plan.max_delay_ms.max(1)));
            let fault = if state.rng.chance(plan.fail) {
                Fault::Fail(format!(
                    "{} {}: injected failure",
                    port_name(call.port),
                    call.op
                ))
            } else if call.writes && state.rng.chance(plan.conflict) {
                Fault::Conflict
            } else if call.writes && state.rng.chance(plan.lose_reply) {
                Fault::LoseReply(format!("{} {}: answer lost", port_name(call.port), call.op))
            } else {
                Fault::None
            };
            let kind = match fault {
                Fault::None => None,
                Fault::Fail(_) => Some("store_fail"),
                Fault::Conflict => Some("store_conflict"),
                Fault::LoseReply(_) => Some("store_lost_reply"),
                Fault::Corrupt => Some("store_corrupt"),
            };
            if call.op == "append"
                && let Some(deposit) = call.deposit
            {
                let first = state.appended.insert(deposit);
                if first && matches!(fault, Fault::LoseReply(_)) {
                    state.lost_creates.insert(deposit);
                }
            }
            for counted in kind.into_iter().chain(delay.map(|_| "store_delay")) {
                *state.counts.entry(counted).or_default() += 1;
            }
            (delay, fault)
        };
        if let Some(ms) = delay {
            self.timers.sleep_until(self.timers.now_ms() + ms).await;
        }
        if fault != Fault::None {
            let deposit = call.deposit.map(|d| d.to_string()).unwrap_or_default();
            self.trace.note(
                self.timers.now_ms(),
                format!(
                    "fault {fault:?} on {} {} {deposit}",
                    port_name(call.port),
                    call.op
                ),
            );
        }
        fault
    }
}
