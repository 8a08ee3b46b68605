//! A deterministic executor: one thread, simulated time, and a seeded choice of which
//! ready task runs next. Every await point where a task yields is a place another task
//! may run first, and which one is decided by the seed, so a seed replays the same
//! interleaving every time.
//!
//! Time only moves when no task can run: it jumps to the earliest timer. A task can be
//! dropped mid-way (a crash at an await point, or a Lambda time-out); whoever awaits its
//! [`JoinHandle`] then learns that it died.

use crate::rng::Rng;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// Simulated time, in milliseconds since the Unix epoch, shared with the clock port.
#[derive(Debug, Default)]
pub struct SimTime(AtomicI64);

impl SimTime {
    pub fn new(start_ms: i64) -> Self {
        Self(AtomicI64::new(start_ms))
    }

    pub fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

type TaskId = u64;

/// Which tasks asked to run again, and the timers waiting for time to pass. Shared with
/// wakers and sleeping futures (which must be `Send + Sync`, hence the mutex).
#[derive(Default)]
struct Signals {
    woken: BTreeSet<TaskId>,
    /// (due ms, order of registration, waker).
    timers: BinaryHeap<Reverse<(i64, u64, TimerWaker)>>,
    timer_seq: u64,
}

struct TimerWaker(Waker);

impl PartialEq for TimerWaker {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for TimerWaker {}
impl PartialOrd for TimerWaker {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerWaker {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

struct TaskWaker {
    id: TaskId,
    signals: Arc<Mutex<Signals>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.signals).woken.insert(self.id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// How a task may end other than by finishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Death {
    /// Dropped at an await point (a process that crashed).
    Crashed,
    /// Dropped at its deadline (a Lambda time-out).
    TimedOut,
    /// Dropped because the simulation ended.
    Stopped,
}

/// What the executor may do to a task.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mortality {
    /// Chance of being dropped each time it is about to run (0: never).
    pub crash_rate: f64,
    /// Dropped if still running this many ms after it started.
    pub timeout_ms: Option<i64>,
}

struct Task {
    name: Rc<str>,
    future: Pin<Box<dyn Future<Output = ()>>>,
    mortality: Mortality,
    deadline: Option<i64>,
    on_death: Box<dyn FnOnce(Death)>,
}

/// Counts of what happened to tasks, for the run's report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Deaths {
    pub crashed: u64,
    pub timed_out: u64,
}

struct State {
    tasks: BTreeMap<TaskId, Task>,
    next_id: TaskId,
    deaths: Deaths,
    /// Tasks spawned while another was running, polled from the next step on.
    spawned: Vec<(TaskId, Task)>,
}

/// The executor. Cheap to clone: clones share everything.
#[derive(Clone)]
pub struct Executor {
    state: Rc<RefCell<State>>,
    signals: Arc<Mutex<Signals>>,
    time: Arc<SimTime>,
    rng: Rc<RefCell<Rng>>,
    trace: crate::trace::Trace,
}

impl Executor {
    pub fn new(time: Arc<SimTime>, rng: Rc<RefCell<Rng>>, trace: crate::trace::Trace) -> Self {
        Self {
            state: Rc::new(RefCell::new(State {
                tasks: BTreeMap::new(),
                next_id: 0,
                deaths: Deaths::default(),
                spawned: Vec::new(),
            })),
            signals: Arc::new(Mutex::new(Signals::default())),
            time,
            rng,
            trace,
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.time.now_ms()
    }

    pub fn deaths(&self) -> Deaths {
        self.state.borrow().deaths
    }

    /// Runs `future` as a task that never dies on its own (an actor of the world).
    pub fn spawn<F>(&self, name: &str, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn_mortal(name, Mortality::default(), future)
    }

    /// Runs `future` as a task that may crash or time out (an invocation of a function).
    pub fn spawn_mortal<F>(
        &self,
        name: &str,
        mortality: Mortality,
        future: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let slot: Rc<RefCell<Slot<F::Output>>> = Rc::new(RefCell::new(Slot::default()));
        let done = slot.clone();
        let died = slot.clone();
        let future = async move {
            let output = future.await;
            done.borrow_mut().finish(Ok(output));
        };
        let mut state = self.state.borrow_mut();
        let id = state.next_id;
        state.next_id += 1;
        let task = Task {
            name: name.into(),
            future: Box::pin(future),
            mortality,
            deadline: mortality.timeout_ms.map(|t| self.now_ms() + t),
            on_death: Box::new(move |death| died.borrow_mut().finish(Err(death))),
        };
        state.spawned.push((id, task));
        lock(&self.signals).woken.insert(id);
        JoinHandle { slot }
    }

    /// A future that is ready once simulated time reaches `due_ms`.
    pub fn sleep_until(&self, due_ms: i64) -> Sleep {
        self.timers().sleep_until(due_ms)
    }

    /// A scheduling point: the task steps aside, and the seed picks who runs next.
    pub fn yield_now(&self) -> YieldNow {
        YieldNow { yielded: false }
    }

    /// The shared time and timers, for the clock port.
    pub fn timers(&self) -> Timers {
        Timers {
            time: self.time.clone(),
            signals: self.signals.clone(),
        }
    }

    /// Runs tasks until simulated time would pass `end_ms` or nothing is left to do;
    /// then drops every task still alive. Returns the time it stopped at.
    pub fn run_until(&self, end_ms: i64) -> i64 {
        loop {
            self.adopt_spawned();
            let next = {
                let mut signals = lock(&self.signals);
                let ready: Vec<TaskId> = signals.woken.iter().copied().collect();
                if ready.is_empty() {
                    None
                } else {
                    let pick = ready[self.rng.borrow_mut().below(ready.len() as u64) as usize];
                    signals.woken.remove(&pick);
                    Some(pick)
                }
            };
            match next {
                Some(id) => self.step(id),
                None => {
                    if !self.advance_time(end_ms) {
                        break;
                    }
                }
            }
        }
        self.stop_all();
        self.now_ms()
    }

    fn adopt_spawned(&self) {
        let mut state = self.state.borrow_mut();
        let spawned = std::mem::take(&mut state.spawned);
        for (id, task) in spawned {
            state.tasks.insert(id, task);
        }
    }

    /// Moves time to the earliest timer (if before `end_ms`) and wakes what is due.
    fn advance_time(&self, end_ms: i64) -> bool {
        let mut signals = lock(&self.signals);
        let Some(Reverse((due, _, _))) = signals.timers.peek() else {
            return false;
        };
        let due = *due;
        if due > end_ms {
            return false;
        }
        if due > self.time.now_ms() {
            self.time.set(due);
        }
        while let Some(Reverse((at, _, _))) = signals.timers.peek() {
            if *at > due {
                break;
            }
            let Reverse((_, _, TimerWaker(waker))) = signals.timers.pop().expect("peeked");
            drop(signals);
            waker.wake();
            signals = lock(&self.signals);
        }
        drop(signals);
        self.expire_deadlines();
        true
    }

    fn expire_deadlines(&self) {
        let now = self.time.now_ms();
        let expired: Vec<TaskId> = self
            .state
            .borrow()
            .tasks
            .iter()
            .filter(|(_, t)| t.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.kill(id, Death::TimedOut);
        }
    }

    fn step(&self, id: TaskId) {
        let Some(mut task) = self.state.borrow_mut().tasks.remove(&id) else {
            return; // finished or died since it was woken
        };
        if task.mortality.crash_rate > 0.0
            && self.rng.borrow_mut().chance(task.mortality.crash_rate)
        {
            self.trace.note(
                self.now_ms(),
                format!("crash: {} dropped mid-way", task.name),
            );
            self.state.borrow_mut().deaths.crashed += 1;
            (task.on_death)(Death::Crashed);
            return;
        }
        let waker = Waker::from(Arc::new(TaskWaker {
            id,
            signals: self.signals.clone(),
        }));
        let mut context = Context::from_waker(&waker);
        match task.future.as_mut().poll(&mut context) {
            Poll::Ready(()) => {}
            Poll::Pending => {
                self.state.borrow_mut().tasks.insert(id, task);
            }
        }
    }

    fn kill(&self, id: TaskId, death: Death) {
        let Some(task) = self.state.borrow_mut().tasks.remove(&id) else {
            return;
        };
        if death == Death::TimedOut {
            self.trace.note(
                self.now_ms(),
                format!("timeout: {} dropped at its deadline", task.name),
            );
            self.state.borrow_mut().deaths.timed_out += 1;
        }
        (task.on_death)(death);
    }

    fn stop_all(&self) {
        self.adopt_spawned();
        let ids: Vec<TaskId> = self.state.borrow().tasks.keys().copied().collect();
        for id in ids {
            self.kill(id, Death::Stopped);
        }
        lock(&self.signals).timers.clear();
    }
}

/// Simulated time and its timers, as the clock port needs them (`Send + Sync`).
#[derive(Clone)]
pub struct Timers {
    time: Arc<SimTime>,
    signals: Arc<Mutex<Signals>>,
}

impl Timers {
    pub fn now_ms(&self) -> i64 {
        self.time.now_ms()
    }

    pub fn sleep_until(&self, due_ms: i64) -> Sleep {
        Sleep {
            due_ms,
            time: self.time.clone(),
            signals: self.signals.clone(),
            registered: false,
        }
    }
}

/// Ready once simulated time reaches its due time (a zero wait still yields once).
pub struct Sleep {
    due_ms: i64,
    time: Arc<SimTime>,
    signals: Arc<Mutex<Signals>>,
    registered: bool,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.registered && self.time.now_ms() >= self.due_ms {
            return Poll::Ready(());
        }
        let mut signals = lock(&self.signals);
        let seq = signals.timer_seq;
        signals.timer_seq += 1;
        let due = self.due_ms.max(self.time.now_ms());
        signals
            .timers
            .push(Reverse((due, seq, TimerWaker(cx.waker().clone()))));
        drop(signals);
        self.registered = true;
        Poll::Pending
    }
}

/// Pending once, waking itself at once: a point where the scheduler may switch tasks.
#[derive(Default)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

struct Slot<T> {
    result: Option<Result<T, Death>>,
    waiter: Option<Waker>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self {
            result: None,
            waiter: None,
        }
    }
}

impl<T> Slot<T> {
    fn finish(&mut self, result: Result<T, Death>) {
        if self.result.is_none() {
            self.result = Some(result);
            if let Some(waiter) = self.waiter.take() {
                waiter.wake();
            }
        }
    }
}

/// The outcome of a spawned task: its output, or how it died.
pub struct JoinHandle<T> {
    slot: Rc<RefCell<Slot<T>>>,
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, Death>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.borrow_mut();
        match slot.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                slot.waiter = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
