//! The switchboard: one [`FaultHook`] every suite uses to make ports misbehave, instead of
//! a forwarding test double per test. The in-memory adapters ask it before each call and
//! tell it how each call ended; any other adapter (DynamoDB, SQS) is put behind it with
//! [`Hooked`].
//!
//! A rule is a [`Target`] (which calls), a span (all of them, the next N, or while
//! switched on; optionally after skipping some) and an action (fail, conflict, lose the
//! reply, corrupt, wait, hold until released, meet other calls, run a closure first or
//! after the answer). Every rule counts the calls it matched, those it acted on and how
//! they were answered:
//!
//! ```text
//! let faults = Switchboard::new();
//! let store = MemoryEventStore::with_faults(faults.clone());
//! let crash = faults.when(Target::append().recording(&["DepositSubmitted"])).once().fail("died");
//! let appends = faults.watch(Target::append());
//! // ... run the code under test ...
//! assert_eq!(crash.fired(), 1);
//! assert!(appends.answers(Answer::Conflict) > 0);
//! ```

mod hooked;

pub use hooked::Hooked;
pub use paygate_memory::{Answer, Call, Fault, FaultHook, NoFaults, Port};

use async_trait::async_trait;
use futures::future::BoxFuture;
use paygate_domain::DepositId;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{Barrier, Notify};

/// How long a held or meeting call waits for the rest of the test before it fails.
const PATIENCE: Duration = Duration::from_secs(5);

/// The event kinds of a gateway's answer to an attempt: the append a processor that dies
/// between the gateway call and its write never makes.
pub const OUTCOMES: &[&str] = &["DepositSubmitted", "AttemptFailed", "DepositFailed"];

/// Which calls a rule is about: every field left unset matches anything.
#[derive(Debug, Clone, Default)]
pub struct Target {
    port: Option<Port>,
    op: Option<&'static str>,
    deposit: Option<DepositId>,
    events: Vec<&'static str>,
}

impl Target {
    /// Every call to every port.
    pub fn any() -> Self {
        Self::default()
    }

    /// Every call to `port`.
    pub fn port(port: Port) -> Self {
        Self {
            port: Some(port),
            ..Self::default()
        }
    }

    /// The calls to `port`'s method `op` (e.g. `"load"`, `"send"`, `"list"`).
    pub fn op(port: Port, op: &'static str) -> Self {
        Self {
            op: Some(op),
            ..Self::port(port)
        }
    }

    /// Appends to the event store.
    pub fn append() -> Self {
        Self::op(Port::Store, "append")
    }

    /// Only calls about `deposit`.
    pub fn about(mut self, deposit: DepositId) -> Self {
        self.deposit = Some(deposit);
        self
    }

    /// Only appends recording an event of one of these kinds.
    pub fn recording(mut self, kinds: &[&'static str]) -> Self {
        self.events = kinds.to_vec();
        self
    }

    pub fn matches(&self, call: &Call) -> bool {
        self.port.is_none_or(|port| port == call.port)
            && self.op.is_none_or(|op| op == call.op)
            && self.deposit.is_none_or(|id| call.deposit == Some(id))
            && (self.events.is_empty() || call.events.iter().any(|e| self.events.contains(e)))
    }
}

type Work = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

enum Action {
    /// Count only.
    Watch,
    Fault(Fault),
    Delay(Duration),
    Hold,
    Run(Work),
    DelayAnswer(Duration),
    RunAfterAnswer(Work),
}

impl Action {
    /// Whether the action happens once the call is answered (else before it runs).
    fn after_answer(&self) -> bool {
        matches!(self, Self::DelayAnswer(_) | Self::RunAfterAnswer(_))
    }
}

#[derive(Clone, Copy)]
enum Span {
    Always,
    Times(usize),
    Switched,
}

#[derive(Default)]
struct Answers {
    ok: usize,
    conflict: usize,
    failed: usize,
    last: Option<Instant>,
}

struct RuleState {
    target: Target,
    action: Action,
    span: Span,
    skip: usize,
    on: AtomicBool,
    /// Matching calls seen (before they run), and matching answers seen.
    calls: AtomicUsize,
    answered: AtomicUsize,
    fired: AtomicUsize,
    answers: Mutex<Answers>,
    entered: Notify,
    release: Notify,
}

impl RuleState {
    /// Whether the rule acts on the `n`-th (0-based) matching call or answer.
    fn takes(&self, n: usize) -> bool {
        if n < self.skip {
            return false;
        }
        match self.span {
            Span::Always => true,
            Span::Times(times) => n - self.skip < times,
            Span::Switched => self.on.load(Ordering::SeqCst),
        }
    }

    fn answers(&self) -> MutexGuard<'_, Answers> {
        self.answers.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn act(&self) {
        self.fired.fetch_add(1, Ordering::SeqCst);
        match &self.action {
            Action::Delay(delay) | Action::DelayAnswer(delay) => tokio::time::sleep(*delay).await,
            Action::Hold => {
                self.entered.notify_one();
                self.release.notified().await;
            }
            Action::Run(work) | Action::RunAfterAnswer(work) => work().await,
            Action::Watch | Action::Fault(_) => {}
        }
    }
}

/// A rule of a [`Switchboard`], to switch, release and read its counts.
#[derive(Clone)]
pub struct Rule(Arc<RuleState>);

impl Rule {
    /// Switches a [`switched`](RuleBuilder::switched) rule on.
    pub fn on(&self) {
        self.0.on.store(true, Ordering::SeqCst);
    }

    pub fn off(&self) {
        self.0.on.store(false, Ordering::SeqCst);
    }

    /// How many calls the rule acted on.
    pub fn fired(&self) -> usize {
        self.0.fired.load(Ordering::SeqCst)
    }

    /// How many calls matched its target (acted on or not).
    pub fn calls(&self) -> usize {
        self.0.calls.load(Ordering::SeqCst)
    }

    /// How many matching calls ended with `answer`.
    pub fn answers(&self, answer: Answer) -> usize {
        let answers = self.0.answers();
        match answer {
            Answer::Ok => answers.ok,
            Answer::Conflict => answers.conflict,
            Answer::Failed => answers.failed,
        }
    }

    /// When the latest matching call was answered.
    pub fn answered_at(&self) -> Option<Instant> {
        self.0.answers().last
    }

    /// Waits until a [`hold`](RuleBuilder::hold) rule holds a call.
    pub async fn entered(&self) {
        tokio::time::timeout(PATIENCE, self.0.entered.notified())
            .await
            .expect("a call reaches the held port");
    }

    /// Lets the held call go on.
    pub fn release(&self) {
        self.0.release.notify_one();
    }
}

/// A rule being written: its target and span so far; an action method adds it.
#[must_use = "a rule does nothing until an action adds it"]
pub struct RuleBuilder<'a> {
    board: &'a Switchboard,
    target: Target,
    span: Span,
    skip: usize,
}

impl RuleBuilder<'_> {
    /// Only the next matching call.
    pub fn once(self) -> Self {
        self.times(1)
    }

    /// Only the next `times` matching calls.
    pub fn times(mut self, times: usize) -> Self {
        self.span = Span::Times(times);
        self
    }

    /// Only while switched on ([`Rule::on`]); it starts off.
    pub fn switched(mut self) -> Self {
        self.span = Span::Switched;
        self
    }

    /// Lets the first `calls` matching calls by untouched.
    pub fn skip(mut self, calls: usize) -> Self {
        self.skip = calls;
        self
    }

    fn add(self, action: Action) -> Rule {
        let rule = Rule(Arc::new(RuleState {
            target: self.target,
            action,
            span: self.span,
            skip: self.skip,
            on: AtomicBool::new(false),
            calls: AtomicUsize::new(0),
            answered: AtomicUsize::new(0),
            fired: AtomicUsize::new(0),
            answers: Mutex::default(),
            entered: Notify::new(),
            release: Notify::new(),
        }));
        self.board.rules().push(rule.0.clone());
        rule
    }

    /// The call fails without doing anything, with `why` as the error.
    pub fn fail(self, why: impl Into<String>) -> Rule {
        self.add(Action::Fault(Fault::Fail(why.into())))
    }

    /// A write loses its race (an append's version is taken).
    pub fn conflict(self) -> Rule {
        self.add(Action::Fault(Fault::Conflict))
    }

    /// A write commits and its caller sees the failure `why`.
    pub fn lose_reply(self, why: impl Into<String>) -> Rule {
        self.add(Action::Fault(Fault::LoseReply(why.into())))
    }

    /// A stream loads without its first event.
    pub fn corrupt(self) -> Rule {
        self.add(Action::Fault(Fault::Corrupt))
    }

    /// The call waits `delay`, then goes through.
    pub fn delay(self, delay: Duration) -> Rule {
        self.add(Action::Delay(delay))
    }

    /// The call goes through at once and its answer comes `delay` later.
    pub fn delay_answer(self, delay: Duration) -> Rule {
        self.add(Action::DelayAnswer(delay))
    }

    /// The call waits until [`Rule::release`]; [`Rule::entered`] waits for it.
    pub fn hold(self) -> Rule {
        self.add(Action::Hold)
    }

    /// The next `parties` calls wait for each other before they run.
    pub fn meet(self, parties: usize) -> Rule {
        let work = meeting(parties);
        self.times(parties).add(Action::Run(work))
    }

    /// The next `parties` calls run, then wait for each other before they answer.
    pub fn meet_after_answer(self, parties: usize) -> Rule {
        let work = meeting(parties);
        self.times(parties).add(Action::RunAfterAnswer(work))
    }

    /// Runs `work` before the call (e.g. another writer getting there first).
    pub fn run<F, Fut>(self, work: F) -> Rule
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add(Action::Run(Arc::new(move || Box::pin(work()))))
    }

    /// Runs `work` once the call is done, before its caller sees the answer.
    pub fn run_after_answer<F, Fut>(self, work: F) -> Rule
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add(Action::RunAfterAnswer(Arc::new(move || Box::pin(work()))))
    }
}

fn meeting(parties: usize) -> Work {
    let barrier = Arc::new(Barrier::new(parties));
    Arc::new(move || {
        let barrier = barrier.clone();
        Box::pin(async move {
            tokio::time::timeout(PATIENCE, barrier.wait())
                .await
                .expect("every party reaches the port");
        })
    })
}

/// The rules, in the order they were added. A call goes through every matching rule in
/// turn; the first fault a rule answers is the call's fault (later fault rules leave that
/// call alone).
#[derive(Default)]
pub struct Switchboard {
    rules: Mutex<Vec<Arc<RuleState>>>,
}

impl Switchboard {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn rules(&self) -> MutexGuard<'_, Vec<Arc<RuleState>>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn matching(&self, call: &Call) -> Vec<Arc<RuleState>> {
        self.rules()
            .iter()
            .filter(|rule| rule.target.matches(call))
            .cloned()
            .collect()
    }

    /// Starts a rule about the calls `target` matches; by default it acts on every one.
    pub fn when(&self, target: Target) -> RuleBuilder<'_> {
        RuleBuilder {
            board: self,
            target,
            span: Span::Always,
            skip: 0,
        }
    }

    /// A rule that only counts the calls `target` matches and their answers.
    pub fn watch(&self, target: Target) -> Rule {
        self.when(target).add(Action::Watch)
    }
}

#[async_trait]
impl FaultHook for Switchboard {
    async fn on_call(&self, call: &Call) -> Fault {
        let mut fault = Fault::None;
        for rule in self.matching(call) {
            let n = rule.calls.fetch_add(1, Ordering::SeqCst);
            if rule.action.after_answer() || !rule.takes(n) {
                continue;
            }
            match &rule.action {
                Action::Fault(chosen) if fault == Fault::None => {
                    rule.fired.fetch_add(1, Ordering::SeqCst);
                    fault = chosen.clone();
                }
                Action::Fault(_) => {}
                _ => rule.act().await,
            }
        }
        fault
    }

    async fn answered(&self, call: &Call, answer: Answer) {
        let rules = self.matching(call);
        for rule in &rules {
            let mut answers = rule.answers();
            match answer {
                Answer::Ok => answers.ok += 1,
                Answer::Conflict => answers.conflict += 1,
                Answer::Failed => answers.failed += 1,
            }
            answers.last = Some(Instant::now());
        }
        for rule in rules {
            if !rule.action.after_answer() {
                continue;
            }
            let n = rule.answered.fetch_add(1, Ordering::SeqCst);
            if rule.takes(n) {
                rule.act().await;
            }
        }
    }
}
