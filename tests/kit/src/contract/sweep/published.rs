//! The published mark and the unpublished index: what the publisher's sweep finds of
//! the events it still has to put on the bus.

use super::*;

/// `unpublished(before, LIMIT)` restricted to `mine`, checking every answer is behind.
pub(super) async fn unpublished_of(
    index: &dyn SweepIndex,
    before: OffsetDateTime,
    mine: &[DepositId],
) -> Vec<Unpublished> {
    let found = index.unpublished(before, LIMIT).await.unwrap();
    assert!(found.len() <= LIMIT);
    for state in &found {
        assert!(state.published_version < state.version, "{state:?}");
    }
    found
        .into_iter()
        .filter(|s| mine.contains(&s.deposit_id))
        .collect()
}

/// Asserts that the deposit's entry in the unpublished index, `(published_version,
/// version)`, settles on `expected`.
async fn assert_unpublished_entry(
    index: &dyn SweepIndex,
    id: DepositId,
    before: OffsetDateTime,
    expected: Option<(u64, u64)>,
) {
    let found = settled(
        || async move {
            let found = unpublished_of(index, before, &[id]).await;
            assert!(found.len() <= 1, "{found:?}");
            found.first().map(|s| (s.published_version, s.version))
        },
        |found| *found == expected,
    )
    .await;
    assert_eq!(found, expected, "the unpublished entry of {id}");
}

/// Asserts that the deposit's mark is at `published` of `version`, and that the
/// unpublished index (cut off at `before`) agrees: it lists the deposit with those
/// versions while bus events are `pending`, and not at all otherwise.
async fn assert_mark(
    index: &dyn SweepIndex,
    id: DepositId,
    before: OffsetDateTime,
    (published, version): (u64, u64),
    pending: bool,
) {
    assert_eq!(state(index, id).await, (published, version));
    let listed = pending.then_some((published, version));
    assert_unpublished_entry(index, id, before, listed).await;
}

async fn state(index: &dyn SweepIndex, id: DepositId) -> (u64, u64) {
    let state = index.publish_state(id).await.unwrap().unwrap();
    assert_eq!(state.deposit_id, id);
    (state.published_version, state.version)
}

pub async fn only_appends_with_bus_events_leave_the_deposit_unpublished((store, index): Stores) {
    // GIVEN a new deposit: nothing of it goes on the bus
    let at = instant();
    let mut deposit = Written::create(store.as_ref(), at).await;
    let id = deposit.id();
    let cut_off = at + Duration::minutes(10);
    // THEN nothing is published and nothing is pending
    assert_mark(index.as_ref(), id, cut_off, (0, 1), false).await;
    // WHEN two more events for no one but paygate are appended, THEN still nothing
    deposit.append(submission(), at + Duration::MINUTE).await;
    assert_mark(index.as_ref(), id, cut_off, (0, 3), false).await;
    // WHEN its outcome is appended: consumers wait for it
    deposit
        .append(vec![succeeded(PAYMENT)], at + Duration::minutes(2))
        .await;
    // THEN it is pending from the mark, dated by that append
    assert_mark(index.as_ref(), id, cut_off, (0, 4), true).await;
    assert_unpublished_entry(index.as_ref(), id, at + Duration::minutes(2), None).await;
}

pub async fn marking_the_latest_version_takes_the_deposit_out_of_the_unpublished_index(
    (store, index): Stores,
) {
    // GIVEN a deposit at version 4 whose outcome is unpublished
    let at = instant();
    let id = Written::succeeded(store.as_ref(), at).await.id();
    let cut_off = at + Duration::minutes(10);
    // WHEN its events (0, 4] are published
    assert!(index.mark_published(id, 0, 4).await.unwrap());
    // THEN the mark is at 4 and it is no longer unpublished
    assert_mark(index.as_ref(), id, cut_off, (4, 4), false).await;
    // ... and marking the same range again changes nothing
    assert!(!index.mark_published(id, 0, 4).await.unwrap());
    assert_eq!(state(index.as_ref(), id).await, (4, 4));
    // ... nor does its view
    assert_eq!(store.view(id).await.unwrap().unwrap().version, 4);
}

pub async fn marking_an_older_version_moves_the_mark_and_keeps_the_deposit_unpublished(
    (store, index): Stores,
) {
    // GIVEN a deposit at version 4 whose outcome is unpublished
    let at = instant();
    let id = Written::succeeded(store.as_ref(), at).await.id();
    let cut_off = at + Duration::minutes(10);
    // WHEN only (0, 1] is published (a publisher that loaded the stream at version 1)
    assert!(index.mark_published(id, 0, 1).await.unwrap());
    // THEN the mark is at 1 and the deposit is still unpublished, with the new mark
    assert_mark(index.as_ref(), id, cut_off, (1, 4), true).await;
    // WHEN the rest (1, 4] is published, THEN it leaves the index
    assert!(index.mark_published(id, 1, 4).await.unwrap());
    assert_mark(index.as_ref(), id, cut_off, (4, 4), false).await;
}

pub async fn the_mark_never_moves_backwards_over_a_gap_or_past_the_stream((store, index): Stores) {
    // GIVEN a deposit at version 4 with nothing published
    let at = instant();
    let id = Written::succeeded(store.as_ref(), at).await.id();
    let cut_off = at + Duration::minutes(10);
    // WHEN a publisher claims (1, 4] while (0, 1] was never published
    // THEN the mark stays: the gap would be skipped
    assert!(!index.mark_published(id, 1, 4).await.unwrap());
    // ... nor does it move past the stream's latest version
    assert!(!index.mark_published(id, 0, 5).await.unwrap());
    // ... nor for an empty or inverted range
    assert!(!index.mark_published(id, 0, 0).await.unwrap());
    assert!(!index.mark_published(id, 2, 1).await.unwrap());
    assert_mark(index.as_ref(), id, cut_off, (0, 4), true).await;
    // WHEN (0, 2] is published, then a slower publisher reports (0, 1]
    assert!(index.mark_published(id, 0, 2).await.unwrap());
    assert!(!index.mark_published(id, 0, 1).await.unwrap());
    // THEN the mark does not go back
    assert_mark(index.as_ref(), id, cut_off, (2, 4), true).await;
    // ... and a publisher that read the mark at 0 may still finish the job: its events
    // (0, 4] include the missing ones
    assert!(index.mark_published(id, 0, 4).await.unwrap());
    assert_mark(index.as_ref(), id, cut_off, (4, 4), false).await;
}

pub async fn an_append_with_bus_events_after_marking_makes_the_deposit_unpublished_again(
    (store, index): Stores,
) {
    // GIVEN a succeeded deposit whose events are all published
    let at = instant();
    let mut deposit = Written::succeeded(store.as_ref(), at).await;
    let id = deposit.id();
    let cut_off = at + Duration::minutes(10);
    assert!(index.mark_published(id, 0, 4).await.unwrap());
    // WHEN a refund is asked for (nothing for the bus)
    deposit
        .append(vec![refund_requested(1, 500)], at + Duration::MINUTE)
        .await;
    // THEN it stays out of the index, its mark kept
    assert_mark(index.as_ref(), id, cut_off, (4, 5), false).await;
    // WHEN the refund succeeds (consumers are told)
    deposit
        .append(vec![refund_succeeded(1)], at + Duration::minutes(2))
        .await;
    // THEN it is unpublished again from its mark, dated by that append
    assert_mark(index.as_ref(), id, cut_off, (4, 6), true).await;
    assert_unpublished_entry(index.as_ref(), id, at + Duration::minutes(2), None).await;
}

pub async fn publishing_an_appends_outbox_marks_it_in_one_step_when_nothing_older_is_pending(
    (store, index): Stores,
) {
    // GIVEN a deposit whose outcome (version 4) was just appended
    let at = instant();
    let mut deposit = Written::succeeded(store.as_ref(), at).await;
    let id = deposit.id();
    let cut_off = at + Duration::minutes(10);
    // WHEN its publisher reports a version that is not the last append's bus version
    // THEN nothing moves
    assert!(!index.mark_outbox_published(id, 3).await.unwrap());
    assert!(!index.mark_outbox_published(id, 5).await.unwrap());
    assert_mark(index.as_ref(), id, cut_off, (0, 4), true).await;
    // WHEN it reports the append's bus version, THEN the mark moves there and the
    // deposit leaves the index
    assert!(index.mark_outbox_published(id, 4).await.unwrap());
    assert_mark(index.as_ref(), id, cut_off, (4, 4), false).await;
    // ... once
    assert!(!index.mark_outbox_published(id, 4).await.unwrap());

    // GIVEN a refund's outcome whose publishing failed (left pending) …
    deposit
        .append(vec![refund_requested(1, 500)], at + Duration::MINUTE)
        .await;
    deposit
        .append(vec![refund_succeeded(1)], at + Duration::minutes(2))
        .await;
    // … and a second refund's, appended after it
    deposit
        .append(vec![refund_requested(2, 500)], at + Duration::minutes(3))
        .await;
    deposit
        .append(vec![refund_failed(2)], at + Duration::minutes(4))
        .await;
    // WHEN the second append's publisher marks its outbox
    // THEN the mark stays: the first refund's outcome is not published
    assert!(!index.mark_outbox_published(id, 8).await.unwrap());
    assert_mark(index.as_ref(), id, cut_off, (4, 8), true).await;
    // ... and the first's publisher is too late: a later append brought bus events
    assert!(!index.mark_outbox_published(id, 6).await.unwrap());
    // WHEN a flush publishes everything pending, THEN the deposit leaves the index
    assert!(index.mark_published(id, 4, 8).await.unwrap());
    assert_mark(index.as_ref(), id, cut_off, (8, 8), false).await;
}

pub async fn the_unpublished_index_returns_the_oldest_first_within_the_limit(
    (store, index): Stores,
) {
    // GIVEN three unpublished deposits changed at T + 2 s, T and T + 1 s
    let at = instant();
    let mut ids = Vec::new();
    for offset in [2, 0, 1] {
        ids.push(
            Written::succeeded(store.as_ref(), at + Duration::seconds(offset))
                .await
                .id(),
        );
    }
    let (late, early, middle) = (ids[0], ids[1], ids[2]);
    let cut_off = at + Duration::seconds(3);
    // WHEN the sweeper asks for those unpublished since before T + 3 s
    let found = settled(
        || unpublished_of(index.as_ref(), cut_off, &ids),
        |found| found.len() == 3,
    )
    .await;
    // THEN it gets them oldest first, each with its versions
    let order: Vec<DepositId> = found.iter().map(|s| s.deposit_id).collect();
    assert_eq!(order, [early, middle, late]);
    assert!(
        found
            .iter()
            .all(|s| (s.published_version, s.version) == (0, 4))
    );
    // ... and a limit keeps the oldest
    let two = index.unpublished(cut_off, 2).await.unwrap();
    assert_eq!(two.len(), 2, "{two:?}");
    if let Some(position) = two.iter().position(|s| s.deposit_id == late) {
        panic!("the newest deposit came before older ones at {position}: {two:?}");
    }
    assert!(index.unpublished(cut_off, 0).await.unwrap().is_empty());
}

pub async fn an_unknown_deposit_has_no_publish_state_and_cannot_be_marked((_, index): Stores) {
    let unknown = DepositId(Uuid::now_v7());
    assert_eq!(index.publish_state(unknown).await.unwrap(), None);
    assert!(!index.mark_published(unknown, 0, 1).await.unwrap());
    assert!(!index.mark_outbox_published(unknown, 1).await.unwrap());
    // ... and marking did not create it
    assert_eq!(index.publish_state(unknown).await.unwrap(), None);
}
