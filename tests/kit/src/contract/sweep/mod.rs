//! What every `SweepIndex` must do, over the read model its `EventStore` writes.
//!
//! The AWS adapter's tables are shared by the cases running in parallel (and by other
//! suites on the same emulators), so every case looks only at its own deposits, and
//! dates them at a random instant of 2001 (the view's `updated_at` is the last event's
//! `occurred_at`): a cut-off just after such an instant selects a handful of deposits
//! (this suite's), not every deposit the other suites left pending a moment ago, so
//! generous limits are truly generous. Secondary indexes may lag (DynamoDB's are
//! eventually consistent), so the index's answers are polled for a few seconds.

mod published;

pub use published::*;

use crate::contract::fixtures::{follow_up_batch, merchant, new_deposit_batch, recorded};
use paygate_domain::deposit::FailureReason;
use paygate_domain::deposit::SweepKind;
use paygate_domain::ports::{EventStore, SweepIndex, Unpublished};
use paygate_domain::{Deposit, DepositEvent, DepositId, DepositStatus, DepositView, RecordedEvent};
use std::future::Future;
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// The store that appends and the index over what it wrote (the same adapter).
pub type Stores = (Arc<dyn EventStore>, Arc<dyn SweepIndex>);

/// Far more than the deposits any cut-off of these cases selects.
const LIMIT: usize = 1_000;

/// The statuses the index holds.
const SWEPT: [DepositStatus; 3] = [
    DepositStatus::Pending,
    DepositStatus::Processing,
    DepositStatus::Submitted,
];

/// The index partition of a deposit in one of the [`SWEPT`] statuses.
fn kind_of(status: DepositStatus) -> SweepKind {
    match status {
        DepositStatus::Pending => SweepKind::Pending,
        DepositStatus::Processing => SweepKind::Processing,
        DepositStatus::Submitted => SweepKind::Submitted,
        other => panic!("{other} is not swept by status"),
    }
}

/// A random whole second of 2001, different for every case.
fn instant() -> OffsetDateTime {
    let seconds = (Uuid::new_v4().as_u128() % (360 * 86_400)) as i64;
    datetime!(2001-01-01 00:00 UTC) + Duration::seconds(seconds)
}

/// A new deposit whose first event happened `at`; returns its stream.
async fn create(store: &dyn EventStore, at: OffsetDateTime) -> Vec<RecordedEvent> {
    let mut batch = new_deposit_batch(&merchant(), None);
    batch.events[0].occurred_at = at;
    batch.view = Deposit::start(&batch.events[0]).unwrap().view();
    store.append(batch.clone()).await.unwrap();
    batch.events
}

/// Appends `events` to the stream, all happening `at`.
async fn append(
    store: &dyn EventStore,
    stream: &mut Vec<RecordedEvent>,
    events: Vec<DepositEvent>,
    at: OffsetDateTime,
) {
    let id = stream[0].deposit_id;
    let first = stream.len() as u64 + 1;
    let events: Vec<RecordedEvent> = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| RecordedEvent {
            occurred_at: at,
            ..recorded(id, first + i as u64, event)
        })
        .collect();
    store
        .append(follow_up_batch(stream, events.clone()))
        .await
        .unwrap();
    stream.extend(events);
}

fn started() -> DepositEvent {
    DepositEvent::AttemptStarted {
        attempt: 1,
        gateway: "psp_a".into(),
        idempotency_key: Uuid::new_v4().to_string(),
        owner: None,
    }
}

fn submitted() -> DepositEvent {
    DepositEvent::DepositSubmitted {
        attempt: 1,
        gateway: "psp_a".into(),
        external_id: "pay_sweep".into(),
    }
}

fn succeeded() -> DepositEvent {
    DepositEvent::DepositSucceeded {
        external_id: "pay_sweep".into(),
    }
}

fn failed() -> DepositEvent {
    DepositEvent::DepositFailed {
        reason: FailureReason::new("no_gateway", "no gateway serves this deposit"),
    }
}

/// Runs `probe` until `done` holds of its answer (at most ~5 s: indexes may lag), and
/// returns the last answer.
async fn settled<T, F, Fut>(mut probe: F, done: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    for _ in 0..50 {
        let answer = probe().await;
        if done(&answer) {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    probe().await
}

/// `stale(status, before, LIMIT)` restricted to `mine`, checking what every answer must
/// satisfy: only that status, only changed before the cut-off. (The order is by how long
/// each has waited, which deferrals change; the cases check it on their own deposits.)
async fn stale_of(
    index: &dyn SweepIndex,
    status: DepositStatus,
    before: OffsetDateTime,
    mine: &[DepositId],
) -> Vec<DepositView> {
    let found = index.stale(kind_of(status), before, LIMIT).await.unwrap();
    assert!(found.len() <= LIMIT);
    for view in &found {
        assert_eq!(view.status, status, "{view:?}");
        assert!(view.updated_at < before, "{view:?} is not before {before}");
    }
    found.into_iter().filter(|v| mine.contains(&v.id)).collect()
}

/// The status indexes `id` is in, at the cut-off `before` (once the index settles on
/// `expected`).
async fn statuses_of(
    index: &dyn SweepIndex,
    id: DepositId,
    before: OffsetDateTime,
    expected: &[DepositStatus],
) -> Vec<DepositStatus> {
    settled(
        || async move {
            let mut found = Vec::new();
            for status in SWEPT {
                if !stale_of(index, status, before, &[id]).await.is_empty() {
                    found.push(status);
                }
            }
            found
        },
        |found| found == expected,
    )
    .await
}

pub async fn a_new_pending_deposit_is_stale_only_once_its_last_change_is_before_the_cut_off(
    (store, index): Stores,
) {
    // GIVEN a deposit created at T
    let at = instant();
    let stream = create(store.as_ref(), at).await;
    let id = stream[0].deposit_id;
    let mine = [id];
    // WHEN the sweeper looks for deposits pending since before T + 1 s
    let found = settled(
        || {
            stale_of(
                index.as_ref(),
                DepositStatus::Pending,
                at + Duration::SECOND,
                &mine,
            )
        },
        |found| !found.is_empty(),
    )
    .await;
    // THEN it finds it, with its current view
    assert_eq!(found, vec![store.view(id).await.unwrap().unwrap()]);
    // ... but not when looking for deposits pending since before T (strictly)
    assert!(
        stale_of(index.as_ref(), DepositStatus::Pending, at, &[id])
            .await
            .is_empty()
    );
    // ... nor under another status
    assert_eq!(
        statuses_of(
            index.as_ref(),
            id,
            at + Duration::SECOND,
            &[DepositStatus::Pending]
        )
        .await,
        [DepositStatus::Pending]
    );
}

pub async fn a_deposit_moves_between_status_indexes_with_its_status((store, index): Stores) {
    // GIVEN a deposit pending since T
    let at = instant();
    let mut stream = create(store.as_ref(), at).await;
    let id = stream[0].deposit_id;
    let cut_off = at + Duration::minutes(10);
    assert_eq!(
        statuses_of(index.as_ref(), id, cut_off, &[DepositStatus::Pending]).await,
        [DepositStatus::Pending]
    );
    // WHEN an attempt starts at T + 1 min, THEN it is processing and no longer pending
    append(
        store.as_ref(),
        &mut stream,
        vec![started()],
        at + Duration::MINUTE,
    )
    .await;
    assert_eq!(
        statuses_of(index.as_ref(), id, cut_off, &[DepositStatus::Processing]).await,
        [DepositStatus::Processing]
    );
    // ... and its index entry moved with its last change
    assert!(
        stale_of(
            index.as_ref(),
            DepositStatus::Processing,
            at + Duration::MINUTE,
            &[id]
        )
        .await
        .is_empty()
    );
    // WHEN the gateway takes it, THEN it is submitted only, with its current view
    append(
        store.as_ref(),
        &mut stream,
        vec![submitted()],
        at + Duration::minutes(2),
    )
    .await;
    assert_eq!(
        statuses_of(index.as_ref(), id, cut_off, &[DepositStatus::Submitted]).await,
        [DepositStatus::Submitted]
    );
    let found = stale_of(index.as_ref(), DepositStatus::Submitted, cut_off, &[id]).await;
    assert_eq!(found, vec![store.view(id).await.unwrap().unwrap()]);
}

pub async fn final_deposits_are_in_no_status_index((store, index): Stores) {
    // GIVEN a deposit that succeeded and one that failed
    let at = instant();
    let mut won = create(store.as_ref(), at).await;
    append(
        store.as_ref(),
        &mut won,
        vec![started(), submitted(), succeeded()],
        at + Duration::SECOND,
    )
    .await;
    let mut lost = create(store.as_ref(), at).await;
    append(
        store.as_ref(),
        &mut lost,
        vec![failed()],
        at + Duration::SECOND,
    )
    .await;
    let cut_off = at + Duration::minutes(10);
    // THEN neither is in any status index, final statuses are never indexed
    for stream in [&won, &lost] {
        let id = stream[0].deposit_id;
        assert_eq!(statuses_of(index.as_ref(), id, cut_off, &[]).await, []);
    }
    // ... nor in the refunding one: no refund is in flight
    let refunding = index
        .stale(SweepKind::Refunding, cut_off, LIMIT)
        .await
        .unwrap();
    for stream in [&won, &lost] {
        let id = stream[0].deposit_id;
        assert!(refunding.iter().all(|v| v.id != id), "{refunding:?}");
    }
    // ... while both still exist
    let won = store.view(won[0].deposit_id).await.unwrap().unwrap();
    let lost = store.view(lost[0].deposit_id).await.unwrap().unwrap();
    assert_eq!(
        (won.status, lost.status),
        (DepositStatus::Succeeded, DepositStatus::Failed)
    );
}

pub async fn the_status_index_returns_the_oldest_first_within_the_limit((store, index): Stores) {
    // GIVEN three pending deposits changed at T, T + 0.5 s and T + 1 s, created out of
    // order, the last one dated in another time zone
    let at = instant();
    let dubai = UtcOffset::from_hms(4, 0, 0).unwrap();
    let times = [
        (at + Duration::SECOND).to_offset(dubai),
        at,
        at + Duration::milliseconds(500),
    ];
    let mut ids = Vec::new();
    for time in times {
        ids.push(create(store.as_ref(), time).await[0].deposit_id);
    }
    let (late, early, middle) = (ids[0], ids[1], ids[2]);
    // WHEN the sweeper asks for those pending since before T + 2 s
    let cut_off = at + Duration::seconds(2);
    let found = settled(
        || stale_of(index.as_ref(), DepositStatus::Pending, cut_off, &ids),
        |found| found.len() == 3,
    )
    .await;
    // THEN it gets them oldest first
    let order: Vec<DepositId> = found.iter().map(|v| v.id).collect();
    assert_eq!(order, [early, middle, late]);
    // ... the cut-off is exclusive, to the nanosecond
    let middle_at = at + Duration::milliseconds(500);
    let before_middle = stale_of(index.as_ref(), DepositStatus::Pending, middle_at, &ids).await;
    assert_eq!(
        before_middle.iter().map(|v| v.id).collect::<Vec<_>>(),
        [early]
    );
    let just_after = middle_at + Duration::NANOSECOND;
    let up_to_middle = stale_of(index.as_ref(), DepositStatus::Pending, just_after, &ids).await;
    assert_eq!(
        up_to_middle.iter().map(|v| v.id).collect::<Vec<_>>(),
        [early, middle]
    );
    // ... and a limit keeps the longest-waiting: two deposits, none newer than the
    // middle one (they may be other cases' deposits, some deferred, so their order is
    // not by `updated_at`; this case's own order is checked above)
    let two = index.stale(SweepKind::Pending, cut_off, 2).await.unwrap();
    assert_eq!(two.len(), 2, "{two:?}");
    assert!(two.iter().all(|v| v.updated_at <= middle_at), "{two:?}");
    assert!(
        index
            .stale(SweepKind::Pending, cut_off, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_deferred_deposit_waits_behind_those_not_looked_at_since((store, index): Stores) {
    // GIVEN two deposits pending since T and T + 1 s
    let at = instant();
    let older = create(store.as_ref(), at).await;
    let newer = create(store.as_ref(), at + Duration::SECOND).await;
    let ids = [older[0].deposit_id, newer[0].deposit_id];
    let ids_of = |found: &[DepositView]| found.iter().map(|v| v.id).collect::<Vec<_>>();
    let cut_off = at + Duration::minutes(10);
    let found = settled(
        || stale_of(index.as_ref(), DepositStatus::Pending, cut_off, &ids),
        |found| found.len() == 2,
    )
    .await;
    assert_eq!(ids_of(&found), ids, "the longest-waiting first");

    // WHEN the sweeper looks at the older one at T + 1 min and leaves it
    index.defer(ids[0], 1, at + Duration::MINUTE).await.unwrap();

    // THEN it waits from then on: behind the newer one, and not stale before T + 1 min
    let found = settled(
        || stale_of(index.as_ref(), DepositStatus::Pending, cut_off, &ids),
        |found| ids_of(found) == [ids[1], ids[0]],
    )
    .await;
    assert_eq!(ids_of(&found), [ids[1], ids[0]]);
    let before_the_look = at + Duration::seconds(30);
    let found = stale_of(
        index.as_ref(),
        DepositStatus::Pending,
        before_the_look,
        &ids,
    )
    .await;
    assert_eq!(ids_of(&found), [ids[1]]);
    // ... while its view is untouched (a deferral is no change of the deposit)
    assert_eq!(found_view(&store, ids[0]).await.updated_at, at);
}

pub async fn a_change_restarts_the_wait_and_a_stale_deferral_is_ignored((store, index): Stores) {
    // GIVEN a deposit pending since T, deferred at T + 1 h
    let at = instant();
    let mut stream = create(store.as_ref(), at).await;
    let id = stream[0].deposit_id;
    index.defer(id, 1, at + Duration::HOUR).await.unwrap();
    // WHEN an attempt starts at T + 1 min
    append(
        store.as_ref(),
        &mut stream,
        vec![started()],
        at + Duration::MINUTE,
    )
    .await;
    // THEN it waits in `processing` from its change, not from the deferral
    let just_after = at + Duration::minutes(2);
    assert_eq!(
        statuses_of(index.as_ref(), id, just_after, &[DepositStatus::Processing]).await,
        [DepositStatus::Processing]
    );
    // WHEN a sweeper that saw version 1 defers it late
    index.defer(id, 1, at + Duration::HOUR).await.unwrap();
    // THEN nothing changes: it is still stale from its change at T + 1 min
    assert_eq!(
        statuses_of(index.as_ref(), id, just_after, &[DepositStatus::Processing]).await,
        [DepositStatus::Processing]
    );
    // ... and deferring a final deposit, or an unknown one, is harmless
    append(
        store.as_ref(),
        &mut stream,
        vec![submitted(), succeeded()],
        at + Duration::minutes(3),
    )
    .await;
    index.defer(id, 4, at + Duration::HOUR).await.unwrap();
    index.defer(DepositId(Uuid::now_v7()), 1, at).await.unwrap();
    assert!(
        statuses_of(index.as_ref(), id, at + Duration::days(1), &[])
            .await
            .is_empty()
    );
    assert_eq!(
        store.view(id).await.unwrap().unwrap().status,
        DepositStatus::Succeeded
    );
}

async fn found_view(store: &Arc<dyn EventStore>, id: DepositId) -> DepositView {
    store.view(id).await.unwrap().expect("the deposit's view")
}
