//! `service::execute` (load → decide → append at the version decided on, retry on a lost
//! race) and the merchant-scoped queries, against `paygate-memory`'s event store (lost
//! races, slow reads and outages from the kit's fault switchboard).

use async_trait::async_trait;
use paygate_domain::deposit::{
    AttemptState, Deposit, DepositEvent, DepositStatus, Direction, RecordedEvent, SCHEMA_VERSION,
    TransitionError,
};
use paygate_domain::ids::{CorrelationId, DepositId, MerchantId};
use paygate_domain::ports::{AppendBatch, Clock, EventStore, IdGenerator};
use paygate_domain::service::{
    Cause, CommandError, CommandPorts, Decision, RetryPolicy, Start, deposit_events, deposit_view,
    execute,
};
use paygate_kit::faults::{Answer, Port, Switchboard, Target};
use paygate_kit::streams::*;
use paygate_memory::MemoryEventStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;
use time::{OffsetDateTime, macros::datetime};
use uuid::Uuid;

const NOW: OffsetDateTime = datetime!(2026-11-24 08:30 UTC);

// ---------------------------------------------------------------- ports

/// `paygate-memory`'s event store, holding a stream for [`DEPOSIT`] as given (however
/// invalid), and the switchboard it asks before each later call.
struct Store {
    memory: MemoryEventStore,
    faults: Arc<Switchboard>,
}

impl Store {
    async fn with_stream(events: Vec<RecordedEvent>) -> Self {
        let faults = Switchboard::new();
        let memory = MemoryEventStore::with_faults(faults.clone());
        if let Some(first) = events.first() {
            // The view of the whole stream when it replays, else of its first event.
            let view = Deposit::replay(&events)
                .or_else(|_| Deposit::start(first))
                .expect("a stream starting with its request")
                .view();
            // What a replayable stream moved (some seed streams do not replay whole).
            let ledger = paygate_domain::ledger::movements(None, &events).unwrap_or_default();
            memory
                .append(AppendBatch {
                    deposit_id: first.deposit_id,
                    expected_version: 0,
                    events,
                    view,
                    idempotency: None,
                    lookups: Vec::new(),
                    ledger,
                    outbox: None,
                })
                .await
                .expect("the stream is seeded");
        }
        Self { memory, faults }
    }

    async fn stream(&self, deposit: DepositId) -> Vec<RecordedEvent> {
        self.memory.load(deposit).await.expect("the stream loads")
    }
}

struct FixedClock;

#[async_trait]
impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        NOW
    }

    async fn sleep(&self, _: std::time::Duration) {}
}

/// Distinct, predictable ids (their low bits also feed the retry jitter).
#[derive(Default)]
struct CountingIds(AtomicU64);

impl IdGenerator for CountingIds {
    fn new_uuid(&self) -> Uuid {
        Uuid::from_u128(0xABC0_0000 + u128::from(self.0.fetch_add(1, Ordering::SeqCst)))
    }
}

fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
    }
}

/// One more failed attempt, numbered from the state it was decided on.
fn one_failed_attempt(deposit: &Deposit) -> Result<Vec<DepositEvent>, TransitionError> {
    let n = deposit.next_attempt_number();
    Ok(vec![attempt_started(n), attempt_failed(n, true)])
}

/// [`one_failed_attempt`] as a decision with no outcome of its own.
fn one_failed_attempt_decided(deposit: &Deposit) -> Result<Decision<()>, TransitionError> {
    one_failed_attempt(deposit).map(|events| Decision::record(events, ()))
}

async fn run_command<F>(
    store: &Store,
    retry: RetryPolicy,
    decide: F,
) -> Result<Deposit, CommandError>
where
    F: Fn(&Deposit) -> Result<Vec<DepositEvent>, TransitionError>,
{
    let ids = CountingIds::default();
    let ports = CommandPorts {
        store: &store.memory,
        clock: &FixedClock,
        ids: &ids,
    };
    execute(
        &ports,
        Start::Load(DEPOSIT),
        Cause {
            correlation: &correlation(),
            causation: Some("msg-1"),
        },
        retry,
        |deposit| decide(deposit).map(|events| Decision::record(events, ())),
    )
    .await
    .map(|executed| executed.deposit)
}

// ---------------------------------------------------------------- execute

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_commands_on_one_deposit_all_land_gaplessly() {
    // GIVEN a requested deposit and 20 writers racing on its stream
    let store = Arc::new(Store::with_stream(Stream::requested(10_099).events).await);
    let load = Target::op(Port::Store, "load");
    store
        .faults
        .when(load)
        .delay_answer(Duration::from_millis(1));
    let appends = store.faults.watch(Target::append());
    let ids = Arc::new(CountingIds::default());
    let start = Arc::new(tokio::sync::Barrier::new(20));

    // WHEN each appends [AttemptStarted n, AttemptFailed n] decided on the state it read
    let writers: Vec<_> = (0..20)
        .map(|writer| {
            let (store, ids, start) = (store.clone(), ids.clone(), start.clone());
            tokio::spawn(async move {
                let ports = CommandPorts {
                    store: &store.memory,
                    clock: &FixedClock,
                    ids: &*ids,
                };
                let correlation = CorrelationId(format!("writer-{writer}"));
                start.wait().await;
                execute(
                    &ports,
                    Start::Load(DEPOSIT),
                    Cause {
                        correlation: &correlation,
                        causation: None,
                    },
                    RetryPolicy::default(),
                    one_failed_attempt_decided,
                )
                .await
                .map(|executed| executed.deposit)
            })
        })
        .collect();
    let mut landed_at = Vec::new();
    for writer in writers {
        let deposit = writer.await.unwrap().expect("every writer gets through");
        landed_at.push(deposit.version);
    }

    // THEN the stream is versions 1..=41 without gaps and holds 20 attempts, 1..=20
    let stream = store.stream(DEPOSIT).await;
    let versions: Vec<u64> = stream.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=41).collect::<Vec<_>>());
    let deposit = Deposit::replay(&stream).expect("the stream replays");
    assert_eq!(deposit.version, 41);
    assert_eq!(deposit.status, DepositStatus::Processing);
    assert_eq!(
        deposit
            .attempts
            .iter()
            .map(|a| a.number)
            .collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
    assert!(
        deposit
            .attempts
            .iter()
            .all(|a| a.state == AttemptState::Failed { retryable: true })
    );
    // each writer's pair is adjacent, and each writer saw its own append
    for pair in stream[1..].chunks(2) {
        assert_eq!(pair[0].correlation_id, pair[1].correlation_id);
    }
    landed_at.sort_unstable();
    assert_eq!(landed_at, (1..=20).map(|i| 1 + 2 * i).collect::<Vec<u64>>());
    // the read model followed the stream
    assert_eq!(
        store.memory.view(DEPOSIT).await.unwrap(),
        Some(deposit.view())
    );
    // and the writers really raced: some lost and decided again
    assert!(appends.answers(Answer::Conflict) > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn appended_events_carry_their_context_and_the_view_follows() {
    let store = Store::with_stream(Stream::requested(10_099).events).await;

    let deposit = run_command(&store, quick_retries(3), one_failed_attempt)
        .await
        .unwrap();

    assert_eq!(deposit.version, 3);
    let stream = store.stream(DEPOSIT).await;
    for (event, version) in stream[1..].iter().zip(2..) {
        assert_eq!(event.version, version);
        assert_eq!(event.deposit_id, DEPOSIT);
        assert_eq!(event.schema_version, SCHEMA_VERSION);
        assert_eq!(event.occurred_at, NOW);
        assert_eq!(event.correlation_id, correlation());
        assert_eq!(event.causation_id.as_deref(), Some("msg-1"));
    }
    assert_ne!(stream[1].event_id, stream[2].event_id);
    assert_eq!(Deposit::replay(&stream).unwrap(), deposit);
    let view = store.memory.view(DEPOSIT).await.unwrap().unwrap();
    assert_eq!((view.version, view.updated_at), (3, NOW));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_race_is_decided_again_on_fresh_state() {
    let store = Store::with_stream(Stream::requested(100).events).await;
    store.faults.when(Target::append()).times(3).conflict();
    let decisions = AtomicU32::new(0);

    let deposit = run_command(&store, quick_retries(5), |d| {
        decisions.fetch_add(1, Ordering::SeqCst);
        one_failed_attempt(d)
    })
    .await
    .unwrap();

    assert_eq!(decisions.load(Ordering::SeqCst), 4);
    assert_eq!(deposit.version, 3);
    assert_eq!(store.stream(DEPOSIT).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_keeps_losing_gives_up_as_contended() {
    let store = Store::with_stream(Stream::requested(100).events).await;
    store.faults.when(Target::append()).conflict();

    let outcome = run_command(&store, quick_retries(3), one_failed_attempt).await;

    assert!(
        matches!(outcome, Err(CommandError::Contended(3))),
        "{outcome:?}"
    );
    assert_eq!(store.stream(DEPOSIT).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_decision_appends_nothing() {
    let store = Store::with_stream(Stream::requested(100).events).await;

    type Decide = fn(&Deposit) -> Result<Vec<DepositEvent>, TransitionError>;
    let cases: [(&str, Decide, TransitionError); 3] = [
        (
            "an event the aggregate refuses",
            |_| Ok(vec![succeeded("ext_1")]),
            TransitionError::IllegalTransition {
                status: DepositStatus::Pending,
                event: "DepositSucceeded",
            },
        ),
        (
            "a batch whose second event is refused is not half-written",
            |_| Ok(vec![attempt_started(1), attempt_started(2)]),
            TransitionError::AttemptStillOpen(1),
        ),
        (
            "a decision that refuses by itself",
            |_| Err(TransitionError::AttemptStillOpen(7)),
            TransitionError::AttemptStillOpen(7),
        ),
    ];
    for (case, decide, refusal) in cases {
        let outcome = run_command(&store, quick_retries(3), decide).await;
        assert!(
            matches!(&outcome, Err(CommandError::Rejected(refused)) if *refused == refusal),
            "{case}: {outcome:?}"
        );
    }

    assert_eq!(store.stream(DEPOSIT).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn deciding_nothing_is_a_no_op() {
    let store = Store::with_stream(Stream::succeeded(100).events).await;

    let deposit = run_command(&store, quick_retries(3), |_| Ok(vec![]))
        .await
        .unwrap();

    assert_eq!(deposit.status, DepositStatus::Succeeded);
    assert_eq!(deposit.version, 4);
    assert_eq!(store.stream(DEPOSIT).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_on_an_unknown_deposit_is_not_found() {
    let store = Store::with_stream(Stream::requested(100).events).await;
    let ids = CountingIds::default();
    let ports = CommandPorts {
        store: &store.memory,
        clock: &FixedClock,
        ids: &ids,
    };

    let outcome = execute(
        &ports,
        Start::Load(OTHER_DEPOSIT),
        Cause {
            correlation: &correlation(),
            causation: None,
        },
        quick_retries(3),
        one_failed_attempt_decided,
    )
    .await;

    assert!(
        matches!(outcome, Err(CommandError::NotFound(id)) if id == OTHER_DEPOSIT),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_stream_is_reported_as_corrupt() {
    let mut events = Stream::requested(100).events;
    events.push(recorded(DEPOSIT, 2, succeeded("ext_1")));
    let store = Store::with_stream(events).await;

    let outcome = run_command(&store, quick_retries(3), one_failed_attempt).await;

    assert!(
        matches!(outcome, Err(CommandError::Corrupt(_))),
        "{outcome:?}"
    );
    assert_eq!(store.stream(DEPOSIT).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_store_is_reported_as_such() {
    let store = Store::with_stream(Stream::requested(100).events).await;
    store
        .faults
        .when(Target::port(Port::Store))
        .fail("connection refused");

    let outcome = run_command(&store, quick_retries(3), one_failed_attempt).await;

    assert!(
        matches!(outcome, Err(CommandError::Store(_))),
        "{outcome:?}"
    );
}

// ---------------------------------------------------------------- queries

#[tokio::test(flavor = "multi_thread")]
async fn a_merchant_reads_its_own_deposit_and_its_events() {
    let stream = Stream::succeeded(100);
    let store = Store::with_stream(stream.events.clone()).await;

    let view = deposit_view(&store.memory, &merchant(), Direction::Deposit, DEPOSIT)
        .await
        .unwrap();
    let events = deposit_events(&store.memory, &merchant(), Direction::Deposit, DEPOSIT)
        .await
        .unwrap();

    assert_eq!(view, Some(stream.deposit.view()));
    assert_eq!(events, Some(stream.events));
}

#[tokio::test(flavor = "multi_thread")]
async fn another_merchants_deposit_and_an_unknown_one_are_not_found() {
    let store = Store::with_stream(Stream::succeeded(100).events).await;
    let intruder = MerchantId("m_other".into());

    for (merchant, deposit) in [(&intruder, DEPOSIT), (&merchant(), OTHER_DEPOSIT)] {
        let view = deposit_view(&store.memory, merchant, Direction::Deposit, deposit);
        assert_eq!(view.await.unwrap(), None, "{merchant:?} {deposit}");
        let events = deposit_events(&store.memory, merchant, Direction::Deposit, deposit);
        assert_eq!(events.await.unwrap(), None, "{merchant:?} {deposit}");
    }
}
