//! Where faults get into the in-memory adapters: every port call asks a [`FaultHook`]
//! first, so a test (or the lifecycle simulation) can fail it, delay it, make it conflict,
//! or let it commit and lose its answer — one switchboard for every suite, instead of a
//! forwarding wrapper per test. Without a hook ([`NoFaults`]) the adapters behave exactly
//! like their AWS twins on a good day.

use async_trait::async_trait;
use paygate_domain::DepositId;

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

impl Answer {
    pub fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            Self::Ok
        } else {
            Self::Failed
        }
    }
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

/// Runs `work` as `call` under `hook`: a failure, a conflict or a corruption answers
/// `fail(why)` without working; a lost reply works, then answers `fail(why)` (a read just
/// fails). The hook hears the answer before the caller does.
pub(crate) async fn guarded<T, E>(
    hook: &dyn FaultHook,
    call: Call,
    fail: impl Fn(String) -> E,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let result = match hook.on_call(&call).await {
        Fault::None => work(),
        Fault::Fail(why) => Err(fail(why)),
        Fault::Conflict => Err(fail(format!("{}: injected conflict", call.op))),
        Fault::Corrupt => Err(fail(format!("{}: injected corruption", call.op))),
        Fault::LoseReply(why) => {
            if call.writes {
                let _ = work();
            }
            Err(fail(why))
        }
    };
    hook.answered(&call, Answer::of(&result)).await;
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

    /// An append recording events of these kinds.
    pub fn recording(mut self, events: Vec<&'static str>) -> Self {
        self.events = events;
        self
    }
}
