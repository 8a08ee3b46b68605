//! Where faults get into the in-memory adapters: every port call asks a [`FaultHook`]
//! first, so a test (or the lifecycle simulation) can fail it, delay it, make it conflict,
//! or let it commit and lose its answer — one switchboard for every suite, instead of a
//! forwarding wrapper per test. Without a hook ([`NoFaults`]) the adapters behave exactly
//! like their AWS twins on a good day.

use async_trait::async_trait;
use paygate_domain::ports::{AppendBatch, AppendError, PublishError, QueueError, StoreError};
use paygate_domain::{DepositId, RecordedEvent};
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

/// Which adapter a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Port {
    /// The event store, its idempotency records and lookups ([`crate::MemoryEventStore`]).
    Store,
    /// The sweep index and the published mark (also [`crate::MemoryEventStore`]).
    Index,
    Queue,
    Registry,
    Publisher,
    Merchants,
}

/// One call to an adapter, as the hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub port: Port,
    /// The method's name, e.g. `"append"`, `"load"`, `"send"`, `"change_status"`.
    pub op: &'static str,
    /// Whether the call changes anything (only writes can commit and lose their answer).
    pub writes: bool,
    /// The deposit the call is about, when it is about one.
    pub deposit: Option<DepositId>,
    /// For an append, the kinds of the events it records (e.g. `"DepositSubmitted"`).
    pub events: Vec<&'static str>,
}

/// What happens to a call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// It goes through.
    #[default]
    None,
    /// It fails before doing anything (the store is unreachable, throttled, refused).
    Fail(String),
    /// A write loses a race: an append's version is taken, a conditional update's
    /// condition fails. Reads and sends treat it as [`Fault::Fail`].
    Conflict,
    /// A write commits and its answer is lost: the caller sees a failure that may have
    /// happened (for an append, [`AppendError::Ambiguous`]). A read just fails.
    ///
    /// [`AppendError::Ambiguous`]: paygate_domain::ports::AppendError::Ambiguous
    LoseReply(String),
    /// A read answers damaged data: a stream loads without its first event. Any other
    /// call treats it as [`Fault::Fail`].
    Corrupt,
}

/// How a call ended, as the hook is told once its work is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// An append lost the race for its version.
    Conflict,
    /// Any other failure (injected or not).
    Failed,
}

/// Decides what happens to each call. It may also wait (a slow store), park the call until
/// a test releases it, or act first (a concurrent writer): it is async and runs before
/// the adapter does anything. Once the call's work is done, [`answered`](Self::answered)
/// hears how it ended, before the caller does (so it can count, or hold the answer back).
#[async_trait]
pub trait FaultHook: Send + Sync {
    async fn on_call(&self, call: &Call) -> Fault;

    async fn answered(&self, _call: &Call, _answer: Answer) {}
}

/// Every call goes through.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFaults;

#[async_trait]
impl FaultHook for NoFaults {
    async fn on_call(&self, _call: &Call) -> Fault {
        Fault::None
    }
}

/// The hook an in-memory adapter asks before each call: [`NoFaults`] until it is given
/// one, so the adapters' defaults need no hook.
#[derive(Clone)]
pub(crate) struct Hook(Arc<dyn FaultHook>);

impl Default for Hook {
    fn default() -> Self {
        Self(Arc::new(NoFaults))
    }
}

impl From<Arc<dyn FaultHook>> for Hook {
    fn from(hook: Arc<dyn FaultHook>) -> Self {
        Self(hook)
    }
}

impl Deref for Hook {
    type Target = dyn FaultHook;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

/// The error a call answers with when a fault keeps it from answering its own: what
/// each [`Fault`] means for the port's error type.
pub trait Refusal: Sized {
    /// The call failed without doing anything, for `why`.
    fn failed(why: String) -> Self;

    /// A write went through and its answer was lost.
    fn ambiguous(why: String) -> Self {
        Self::failed(why)
    }

    /// A write lost its race (for most ports, just a failure).
    fn conflict(op: &str) -> Self {
        Self::failed(format!("{op}: injected conflict"))
    }

    /// How the hook hears of this error.
    fn answer(&self) -> Answer {
        Answer::Failed
    }
}

impl Refusal for StoreError {
    fn failed(why: String) -> Self {
        StoreError(why)
    }
}

impl Refusal for QueueError {
    fn failed(why: String) -> Self {
        QueueError(why)
    }
}

impl Refusal for PublishError {
    fn failed(why: String) -> Self {
        PublishError(why)
    }
}

/// An append's faults: a conflict is a taken version, a lost reply an ambiguous append.
impl Refusal for AppendError {
    fn failed(why: String) -> Self {
        AppendError::Store(StoreError(why))
    }

    fn ambiguous(why: String) -> Self {
        AppendError::Ambiguous(StoreError(why))
    }

    fn conflict(_op: &str) -> Self {
        AppendError::VersionConflict
    }

    fn answer(&self) -> Answer {
        match self {
            AppendError::VersionConflict => Answer::Conflict,
            _ => Answer::Failed,
        }
    }
}

/// Runs `work` as `call` under `hook`: a failure, a conflict or a corruption answers
/// [`Refusal`]s without working; a lost reply works, then answers
/// [`Refusal::ambiguous`] (a read just fails). The hook hears the answer before the
/// caller does. Every adapter (in memory, or behind the kit's `Hooked`) runs its calls
/// through here, so a fault means the same at every port.
pub async fn guarded<T, E: Refusal>(
    hook: &dyn FaultHook,
    call: Call,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    run(hook, call, Meets::failing(), work).await
}

/// [`guarded`] for a conditional write: losing its race answers `lost_race` (its "not
/// written"), as a real lost condition would, instead of failing.
pub async fn guarded_conditional<T, E: Refusal>(
    hook: &dyn FaultHook,
    call: Call,
    lost_race: T,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let meets = Meets {
        lost_race: Some(lost_race),
        ..Meets::failing()
    };
    run(hook, call, meets, work).await
}

/// [`guarded`] for loading `deposit`'s stream: a corruption loads it without its first
/// event instead of failing.
pub async fn guarded_load<E: Refusal>(
    hook: &dyn FaultHook,
    deposit: DepositId,
    load: impl Future<Output = Result<Vec<RecordedEvent>, E>>,
) -> Result<Vec<RecordedEvent>, E> {
    let meets = Meets {
        damage: Some(without_first_event),
        ..Meets::failing()
    };
    let call = Call::read(Port::Store, "load").about(deposit);
    run(hook, call, meets, load).await
}

fn without_first_event(mut events: Vec<RecordedEvent>) -> Vec<RecordedEvent> {
    if !events.is_empty() {
        events.remove(0);
    }
    events
}

/// A call's own answers to the faults that do not simply fail it.
struct Meets<T> {
    lost_race: Option<T>,
    damage: Option<fn(T) -> T>,
}

impl<T> Meets<T> {
    fn failing() -> Self {
        Self {
            lost_race: None,
            damage: None,
        }
    }
}

async fn run<T, E: Refusal>(
    hook: &dyn FaultHook,
    call: Call,
    meets: Meets<T>,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let result = match hook.on_call(&call).await {
        Fault::None => work.await,
        Fault::Fail(why) => Err(E::failed(why)),
        Fault::Conflict => match meets.lost_race {
            Some(answer) => Ok(answer),
            None => Err(E::conflict(call.op)),
        },
        Fault::Corrupt => match meets.damage {
            Some(damage) => work.await.map(damage),
            None => Err(E::failed(format!("{}: injected corruption", call.op))),
        },
        Fault::LoseReply(why) if call.writes => {
            // Committed or refused, the caller cannot tell which.
            let _ = work.await;
            Err(E::ambiguous(why))
        }
        Fault::LoseReply(why) => Err(E::failed(why)),
    };
    let answer = match &result {
        Ok(_) => Answer::Ok,
        Err(error) => error.answer(),
    };
    hook.answered(&call, answer).await;
    result
}

impl Call {
    pub fn read(port: Port, op: &'static str) -> Self {
        Self {
            port,
            op,
            writes: false,
            deposit: None,
            events: Vec::new(),
        }
    }

    pub fn write(port: Port, op: &'static str) -> Self {
        Self {
            port,
            op,
            writes: true,
            deposit: None,
            events: Vec::new(),
        }
    }

    pub fn about(mut self, deposit: DepositId) -> Self {
        self.deposit = Some(deposit);
        self
    }

    /// The store's append of `batch`: about its deposit, recording its events' kinds.
    pub fn append(batch: &AppendBatch) -> Self {
        Self {
            deposit: Some(batch.deposit_id),
            events: batch.events.iter().map(|e| e.event.kind()).collect(),
            ..Self::write(Port::Store, "append")
        }
    }
}
