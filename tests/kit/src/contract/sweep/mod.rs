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
use crate::streams::{
    attempt_started, deposit_failed, refund_failed, refund_id, refund_requested, refund_succeeded,
    submitted, succeeded,
};
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

/// The external id the gateway gives every payment of these cases.
const PAYMENT: &str = "pay_sweep";

/// A random whole second of 2001, different for every case.
fn instant() -> OffsetDateTime {
    let seconds = (Uuid::new_v4().as_u128() % (360 * 86_400)) as i64;
    datetime!(2001-01-01 00:00 UTC) + Duration::seconds(seconds)
}

/// An attempt the gateway took: started, then submitted.
fn submission() -> Vec<DepositEvent> {
    vec![attempt_started(1), submitted(1, PAYMENT)]
}

/// A deposit a case created, and its stream as the case wrote it.
struct Written<'a> {
    store: &'a dyn EventStore,
    stream: Vec<RecordedEvent>,
}

impl<'a> Written<'a> {
    /// A new deposit whose first event happened `at`.
    async fn create(store: &'a dyn EventStore, at: OffsetDateTime) -> Self {
        let mut batch = new_deposit_batch(&merchant(), None);
        batch.events[0].occurred_at = at;
        batch.view = Deposit::start(&batch.events[0]).unwrap().view();
        store.append(batch.clone()).await.unwrap();
        Self {
            store,
            stream: batch.events,
        }
    }

    /// A new deposit at `at` whose attempt was submitted then too: at version 3.
    async fn submitted(store: &'a dyn EventStore, at: OffsetDateTime) -> Self {
        let mut written = Self::create(store, at).await;
        written.append(submission(), at).await;
        written
    }

    /// A new deposit at `at` charged then too: at version 4, its last event
    /// (`DepositSucceeded`) one that goes on the bus.
    async fn succeeded(store: &'a dyn EventStore, at: OffsetDateTime) -> Self {
        let mut written = Self::submitted(store, at).await;
        written.append(vec![succeeded(PAYMENT)], at).await;
        written
    }

    fn id(&self) -> DepositId {
        self.stream[0].deposit_id
    }

    /// Appends `events`, all happening `at`.
    async fn append(&mut self, events: Vec<DepositEvent>, at: OffsetDateTime) {
        let first = self.stream.len() as u64 + 1;
        let events: Vec<RecordedEvent> = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| RecordedEvent {
                occurred_at: at,
                ..recorded(self.id(), first + i as u64, event)
            })
            .collect();
        self.store
            .append(follow_up_batch(&self.stream, events.clone()))
            .await
            .unwrap();
        self.stream.extend(events);
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

/// `stale(kind, before, LIMIT)` restricted to `mine`, checking what every answer must
/// satisfy: only that kind (for the in-flight kinds, that status), only changed before
/// the cut-off. (The order is by how long each has waited, which deferrals change; the
/// cases check it on their own deposits.)
async fn stale_of(
    index: &dyn SweepIndex,
    kind: SweepKind,
    before: OffsetDateTime,
    mine: &[DepositId],
) -> Vec<DepositView> {
    let found = index.stale(kind, before, LIMIT).await.unwrap();
    assert!(found.len() <= LIMIT);
    for view in &found {
        assert_eq!(view.sweep_kind(), Some(kind), "{view:?}");
        assert!(view.updated_at < before, "{view:?} is not before {before}");
    }
    found.into_iter().filter(|v| mine.contains(&v.id)).collect()
}

/// Asserts that the sweep index partitions `id` is in, at the cut-off `before`, settle
/// on `expected`.
async fn assert_kinds(
    index: &dyn SweepIndex,
    id: DepositId,
    before: OffsetDateTime,
    expected: &[SweepKind],
) {
    let found = settled(
        || async move {
            let mut found = Vec::new();
            for kind in SweepKind::ALL {
                if !stale_of(index, kind, before, &[id]).await.is_empty() {
                    found.push(kind);
                }
            }
            found
        },
        |found| found == expected,
    )
    .await;
    assert_eq!(found, expected, "the sweep index partitions of {id}");
}

async fn found_view(store: &dyn EventStore, id: DepositId) -> DepositView {
    store.view(id).await.unwrap().expect("the deposit's view")
}

pub async fn a_new_pending_deposit_is_stale_only_once_its_last_change_is_before_the_cut_off(
    (store, index): Stores,
) {
    // GIVEN a deposit created at T
    let at = instant();
    let id = Written::create(store.as_ref(), at).await.id();
    let mine = [id];
    // WHEN the sweeper looks for deposits pending since before T + 1 s
    let found = settled(
        || {
            stale_of(
                index.as_ref(),
                SweepKind::Pending,
                at + Duration::SECOND,
                &mine,
            )
        },
        |found| !found.is_empty(),
    )
    .await;
    // THEN it finds it, with its current view
    assert_eq!(found, vec![found_view(store.as_ref(), id).await]);
    // ... but not when looking for deposits pending since before T (strictly)
    assert!(
        stale_of(index.as_ref(), SweepKind::Pending, at, &[id])
            .await
            .is_empty()
    );
    // ... nor under another kind
    assert_kinds(
        index.as_ref(),
        id,
        at + Duration::SECOND,
        &[SweepKind::Pending],
    )
    .await;
}

pub async fn a_deposit_moves_between_status_indexes_with_its_status((store, index): Stores) {
    // GIVEN a deposit pending since T
    let at = instant();
    let mut deposit = Written::create(store.as_ref(), at).await;
    let id = deposit.id();
    let cut_off = at + Duration::minutes(10);
    assert_kinds(index.as_ref(), id, cut_off, &[SweepKind::Pending]).await;
    // WHEN an attempt starts at T + 1 min, THEN it is processing and no longer pending
    deposit
        .append(vec![attempt_started(1)], at + Duration::MINUTE)
        .await;
    assert_kinds(index.as_ref(), id, cut_off, &[SweepKind::Processing]).await;
    // ... and its index entry moved with its last change
    let processing = SweepKind::Processing;
    assert!(
        stale_of(index.as_ref(), processing, at + Duration::MINUTE, &[id])
            .await
            .is_empty()
    );
    // WHEN the gateway takes it, THEN it is submitted only, with its current view
    deposit
        .append(vec![submitted(1, PAYMENT)], at + Duration::minutes(2))
        .await;
    assert_kinds(index.as_ref(), id, cut_off, &[SweepKind::Submitted]).await;
    let found = stale_of(index.as_ref(), SweepKind::Submitted, cut_off, &[id]).await;
    assert_eq!(found, vec![found_view(store.as_ref(), id).await]);
}

pub async fn final_deposits_are_in_no_status_index((store, index): Stores) {
    // GIVEN a deposit that succeeded and one that failed
    let at = instant();
    let mut won = Written::create(store.as_ref(), at).await;
    let outcome = vec![
        attempt_started(1),
        submitted(1, PAYMENT),
        succeeded(PAYMENT),
    ];
    won.append(outcome, at + Duration::SECOND).await;
    let mut lost = Written::create(store.as_ref(), at).await;
    lost.append(vec![deposit_failed("no_gateway")], at + Duration::SECOND)
        .await;
    // THEN neither is in any partition: final statuses are never indexed, nor are they
    // refunding (no refund is in flight)
    let cut_off = at + Duration::minutes(10);
    for deposit in [&won, &lost] {
        assert_kinds(index.as_ref(), deposit.id(), cut_off, &[]).await;
    }
    // ... while both still exist
    let won = found_view(store.as_ref(), won.id()).await;
    let lost = found_view(store.as_ref(), lost.id()).await;
    assert_eq!(
        (won.status, lost.status),
        (DepositStatus::Succeeded, DepositStatus::Failed)
    );
}

pub async fn a_final_deposit_is_refunding_while_a_refund_is_in_flight((store, index): Stores) {
    // GIVEN two deposits that succeeded at T, in no partition
    let at = instant();
    let cut_off = at + Duration::minutes(10);
    let mut refunded = Written::submitted(store.as_ref(), at).await;
    let mut kept = Written::submitted(store.as_ref(), at).await;
    for deposit in [&mut refunded, &mut kept] {
        deposit.append(vec![succeeded(PAYMENT)], at).await;
        assert_kinds(index.as_ref(), deposit.id(), cut_off, &[]).await;
    }
    let ids = [refunded.id(), kept.id()];
    // WHEN a refund of each is requested at T + 1 min
    for deposit in [&mut refunded, &mut kept] {
        deposit
            .append(vec![refund_requested(1, 10_099)], at + Duration::MINUTE)
            .await;
    }
    // THEN both are refunding, with their current views, and in no other partition
    for id in ids {
        assert_kinds(index.as_ref(), id, cut_off, &[SweepKind::Refunding]).await;
    }
    let found = stale_of(index.as_ref(), SweepKind::Refunding, cut_off, &ids).await;
    let mut views = Vec::new();
    for id in ids {
        views.push(found_view(store.as_ref(), id).await);
    }
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(views.iter().all(|view| found.contains(view)), "{found:?}");
    // ... stale only once the request is before the cut-off (strictly)
    let requested_at = at + Duration::MINUTE;
    assert!(
        stale_of(index.as_ref(), SweepKind::Refunding, requested_at, &ids)
            .await
            .is_empty()
    );
    // WHEN the gateway takes one refund, THEN it is still refunding (its outcome is open)
    let taken = DepositEvent::RefundSubmitted {
        refund_id: refund_id(1),
        refund_external_id: "rf_sweep".into(),
    };
    refunded
        .append(vec![taken], at + Duration::minutes(2))
        .await;
    assert_kinds(index.as_ref(), ids[0], cut_off, &[SweepKind::Refunding]).await;
    // WHEN one refund succeeds and the other fails, THEN neither is refunding any more
    refunded
        .append(vec![refund_succeeded(1)], at + Duration::minutes(3))
        .await;
    kept.append(vec![refund_failed(1)], at + Duration::minutes(3))
        .await;
    for id in ids {
        assert_kinds(index.as_ref(), id, at + Duration::days(1), &[]).await;
    }
    let refunded = found_view(store.as_ref(), ids[0]).await;
    let kept = found_view(store.as_ref(), ids[1]).await;
    assert_eq!(
        (refunded.status, kept.status),
        (DepositStatus::Refunded, DepositStatus::Succeeded)
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
        ids.push(Written::create(store.as_ref(), time).await.id());
    }
    let (late, early, middle) = (ids[0], ids[1], ids[2]);
    let pending = |before| stale_of(index.as_ref(), SweepKind::Pending, before, &ids);
    // WHEN the sweeper asks for those pending since before T + 2 s
    let cut_off = at + Duration::seconds(2);
    let found = settled(|| pending(cut_off), |found| found.len() == 3).await;
    // THEN it gets them oldest first
    assert_eq!(ids_of(&found), [early, middle, late]);
    // ... the cut-off is exclusive, to the nanosecond
    let middle_at = at + Duration::milliseconds(500);
    assert_eq!(ids_of(&pending(middle_at).await), [early]);
    let just_after = middle_at + Duration::NANOSECOND;
    assert_eq!(ids_of(&pending(just_after).await), [early, middle]);
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

pub async fn every_indexed_deposit_is_found_whatever_partition_holds_it((store, index): Stores) {
    // GIVEN a dozen pending deposits and a dozen with an unpublished outcome, changed a
    // second apart (a store may spread its index over partitions: each deposit lands in
    // one of them)
    let at = instant();
    let mut ids = Vec::new();
    let mut outcomes = Vec::new();
    for second in 0..12 {
        let at = at + Duration::seconds(second);
        ids.push(Written::create(store.as_ref(), at).await.id());
        outcomes.push(Written::succeeded(store.as_ref(), at).await.id());
    }
    // WHEN the sweeper asks for the pending and the unpublished ones
    let cut_off = at + Duration::minutes(1);
    let pending = settled(
        || stale_of(index.as_ref(), SweepKind::Pending, cut_off, &ids),
        |found| found.len() == ids.len(),
    )
    .await;
    let unpublished = settled(
        || unpublished_of(index.as_ref(), cut_off, &outcomes),
        |found| found.len() == outcomes.len(),
    )
    .await;
    // THEN every one is found, once, oldest first
    assert_eq!(ids_of(&pending), ids);
    let order: Vec<DepositId> = unpublished.iter().map(|s| s.deposit_id).collect();
    assert_eq!(order, outcomes);
}

fn ids_of(found: &[DepositView]) -> Vec<DepositId> {
    found.iter().map(|v| v.id).collect()
}

pub async fn a_deferred_deposit_waits_behind_those_not_looked_at_since((store, index): Stores) {
    // GIVEN two deposits pending since T and T + 1 s
    let at = instant();
    let older = Written::create(store.as_ref(), at).await.id();
    let newer = Written::create(store.as_ref(), at + Duration::SECOND)
        .await
        .id();
    let ids = [older, newer];
    let pending = |before| stale_of(index.as_ref(), SweepKind::Pending, before, &ids);
    let cut_off = at + Duration::minutes(10);
    let found = settled(|| pending(cut_off), |found| found.len() == 2).await;
    assert_eq!(ids_of(&found), ids, "the longest-waiting first");

    // WHEN the sweeper looks at the older one at T + 1 min and leaves it
    index.defer(older, 1, at + Duration::MINUTE).await.unwrap();

    // THEN it waits from then on: behind the newer one, and not stale before T + 1 min
    let found = settled(|| pending(cut_off), |found| ids_of(found) == [newer, older]).await;
    assert_eq!(ids_of(&found), [newer, older]);
    let before_the_look = at + Duration::seconds(30);
    assert_eq!(ids_of(&pending(before_the_look).await), [newer]);
    // ... while its view is untouched (a deferral is no change of the deposit)
    assert_eq!(found_view(store.as_ref(), older).await.updated_at, at);
}

pub async fn a_change_restarts_the_wait_and_a_stale_deferral_is_ignored((store, index): Stores) {
    // GIVEN a deposit pending since T, deferred at T + 1 h
    let at = instant();
    let mut deposit = Written::create(store.as_ref(), at).await;
    let id = deposit.id();
    index.defer(id, 1, at + Duration::HOUR).await.unwrap();
    // WHEN an attempt starts at T + 1 min
    deposit
        .append(vec![attempt_started(1)], at + Duration::MINUTE)
        .await;
    // THEN it waits in `processing` from its change, not from the deferral
    let just_after = at + Duration::minutes(2);
    assert_kinds(index.as_ref(), id, just_after, &[SweepKind::Processing]).await;
    // WHEN a sweeper that saw version 1 defers it late
    index.defer(id, 1, at + Duration::HOUR).await.unwrap();
    // THEN nothing changes: it is still stale from its change at T + 1 min
    assert_kinds(index.as_ref(), id, just_after, &[SweepKind::Processing]).await;
    // ... and deferring a final deposit, or an unknown one, is harmless
    deposit
        .append(
            vec![submitted(1, PAYMENT), succeeded(PAYMENT)],
            at + Duration::minutes(3),
        )
        .await;
    index.defer(id, 4, at + Duration::HOUR).await.unwrap();
    index.defer(DepositId(Uuid::now_v7()), 1, at).await.unwrap();
    assert_kinds(index.as_ref(), id, at + Duration::days(1), &[]).await;
    assert_eq!(
        found_view(store.as_ref(), id).await.status,
        DepositStatus::Succeeded
    );
}
