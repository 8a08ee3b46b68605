//! What every `EventStore` must do.

use crate::contract::fixtures::{
    self, failed_attempt, follow_up_batch, in_flight, key, merchant, new_deposit_batch,
};
use futures::future::join_all;
use paygate_domain::idempotency::{
    IdempotencyKey, IdempotencyRecord, IdempotencyState, IdempotencyTransition,
};
use paygate_domain::ports::{AppendError, EventStore, RandomIds, SystemClock};
use paygate_domain::service::{Cause, CommandPorts, Decision, RetryPolicy, Start, execute};
use paygate_domain::{CorrelationId, DepositId, DepositStatus, MerchantId, RecordedEvent};
use std::collections::HashSet;
use std::sync::Arc;
use uuid::Uuid;

/// A new deposit of `merchant`, appended without an idempotency claim: its id and its
/// stream.
async fn created(store: &dyn EventStore, merchant: &MerchantId) -> (DepositId, Vec<RecordedEvent>) {
    let batch = new_deposit_batch(merchant, None);
    let (id, stream) = (batch.deposit_id, batch.events.clone());
    store.append(batch).await.unwrap();
    (id, stream)
}

pub async fn append_then_load_returns_the_stream_in_order(store: Arc<dyn EventStore>) {
    // GIVEN a new deposit
    let (id, first) = created(store.as_ref(), &merchant()).await;
    // WHEN two more events are appended
    let more = failed_attempt(id, 2, 1);
    store
        .append(follow_up_batch(&first, more.clone()))
        .await
        .unwrap();
    // THEN the stream holds all three, in order, exactly as written
    let stream = store.load(id).await.unwrap();
    let expected: Vec<_> = first.into_iter().chain(more).collect();
    assert_eq!(stream, expected);
}

pub async fn an_unknown_stream_loads_empty(store: Arc<dyn EventStore>) {
    let unknown = DepositId(Uuid::now_v7());
    assert!(store.load(unknown).await.unwrap().is_empty());
    assert!(store.view(unknown).await.unwrap().is_none());
}

pub async fn appending_at_a_taken_version_conflicts_and_writes_nothing(store: Arc<dyn EventStore>) {
    // GIVEN a stream at version 3
    let (id, first) = created(store.as_ref(), &merchant()).await;
    store
        .append(follow_up_batch(&first, failed_attempt(id, 2, 1)))
        .await
        .unwrap();
    let before = store.load(id).await.unwrap();
    let view_before = store.view(id).await.unwrap();
    // WHEN a writer that read version 1 appends at version 2
    let stale = follow_up_batch(&first, failed_attempt(id, 2, 1));
    let result = store.append(stale).await;
    // THEN it gets a conflict and neither the stream nor the view changed
    assert!(
        matches!(result, Err(AppendError::VersionConflict)),
        "{result:?}"
    );
    assert_eq!(store.load(id).await.unwrap(), before);
    assert_eq!(store.view(id).await.unwrap(), view_before);
}

pub async fn a_taken_idempotency_key_refuses_the_whole_append(store: Arc<dyn EventStore>) {
    // GIVEN a deposit created under key K
    let merchant = merchant();
    let winner = new_deposit_batch(&merchant, Some("order-1"));
    store.append(winner).await.unwrap();
    // WHEN another new deposit claims K
    let loser = new_deposit_batch(&merchant, Some("order-1"));
    let loser_id = loser.deposit_id;
    let result = store.append(loser).await;
    // THEN the claim fails and the loser's stream and view were not written
    assert!(
        matches!(result, Err(AppendError::IdempotencyKeyTaken)),
        "{result:?}"
    );
    assert!(store.load(loser_id).await.unwrap().is_empty());
    assert!(store.view(loser_id).await.unwrap().is_none());
}

pub async fn the_view_follows_the_latest_append(store: Arc<dyn EventStore>) {
    let merchant = merchant();
    let (id, first) = created(store.as_ref(), &merchant).await;
    let view = store.view(id).await.unwrap().unwrap();
    assert_eq!((view.status, view.version), (DepositStatus::Pending, 1));
    assert_eq!(view.merchant_id, merchant);

    store
        .append(follow_up_batch(&first, failed_attempt(id, 2, 1)))
        .await
        .unwrap();
    let view = store.view(id).await.unwrap().unwrap();
    assert_eq!((view.status, view.version), (DepositStatus::Processing, 3));
}

/// The idempotency record `merchant` holds under `key`, if any.
async fn record_of(
    store: &dyn EventStore,
    merchant: &MerchantId,
    key: &IdempotencyKey,
) -> Option<IdempotencyRecord> {
    store.idempotency_record(merchant, key).await.unwrap()
}

pub async fn idempotency_state_moves_only_from_the_expected_state(store: Arc<dyn EventStore>) {
    // GIVEN a claimed key
    let merchant = merchant();
    let batch = new_deposit_batch(&merchant, Some("k-1"));
    let claim = batch.idempotency.clone().unwrap();
    store.append(batch).await.unwrap();
    let k = key("k-1");
    let state = || async {
        record_of(store.as_ref(), &merchant, &k)
            .await
            .unwrap()
            .state
    };
    assert_eq!(
        record_of(store.as_ref(), &merchant, &k).await,
        Some(claim.clone())
    );
    let completing = |expected| IdempotencyTransition {
        merchant: &merchant,
        key: &k,
        expected,
        next: &IdempotencyState::Completed,
    };
    // WHEN someone moves it from a state it is not in
    let stray = in_flight();
    let moved = store
        .transition_idempotency(completing(&stray))
        .await
        .unwrap();
    // THEN nothing moves
    assert!(!moved);
    assert_eq!(state().await, claim.state);
    // WHEN its owner completes it, THEN it is completed, once
    let complete = || store.transition_idempotency(completing(&claim.state));
    assert!(complete().await.unwrap());
    assert!(!complete().await.unwrap());
    assert_eq!(state().await, IdempotencyState::Completed);
}

pub async fn idempotency_keys_are_scoped_per_merchant(store: Arc<dyn EventStore>) {
    let (a, b) = (merchant(), merchant());
    let same = key("same-key");
    for merchant in [&a, &b] {
        store
            .append(new_deposit_batch(merchant, Some("same-key")))
            .await
            .unwrap();
    }
    let record_a = record_of(store.as_ref(), &a, &same).await.unwrap();
    let record_b = record_of(store.as_ref(), &b, &same).await.unwrap();
    assert_ne!(record_a.deposit_id, record_b.deposit_id);
    assert_eq!(
        record_of(store.as_ref(), &fixtures::merchant(), &same).await,
        None
    );
}

pub async fn concurrent_writers_leave_a_gapless_stream_with_no_lost_event(
    store: Arc<dyn EventStore>,
) {
    const WRITERS: usize = 50;
    // GIVEN one deposit
    let batch = new_deposit_batch(&merchant(), None);
    let id = batch.deposit_id;
    store.append(batch).await.unwrap();
    // WHEN 50 writers each record one failed attempt on it at the same time
    let tasks = (0..WRITERS).map(|writer| {
        let store = store.clone();
        tokio::spawn(async move {
            let ports = CommandPorts {
                store: store.as_ref(),
                clock: &SystemClock,
                ids: &RandomIds,
            };
            // Every event of a deposit carries its correlation id: the writer is told
            // by what caused its events.
            let correlation = CorrelationId("writers".into());
            let writer = format!("writer-{writer}");
            execute(
                &ports,
                Start::Load(id),
                Cause {
                    correlation: &correlation,
                    causation: Some(&writer),
                },
                RetryPolicy::default(),
                |deposit| {
                    let n = deposit.next_attempt_number();
                    let events = failed_attempt(id, deposit.version + 1, n);
                    Ok(Decision::record(
                        events.into_iter().map(|e| e.event).collect(),
                        (),
                    ))
                },
            )
            .await
            .map(|_| ())
        })
    });
    for outcome in join_all(tasks).await {
        outcome.unwrap().unwrap();
    }
    // THEN versions run 1..=101 without a gap, and every writer's pair is there once
    let stream = store.load(id).await.unwrap();
    let versions: Vec<u64> = stream.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=1 + 2 * WRITERS as u64).collect::<Vec<_>>());
    let writers: HashSet<_> = stream
        .iter()
        .skip(1)
        .map(|e| e.causation_id.clone().expect("each writer's"))
        .collect();
    assert_eq!(writers.len(), WRITERS);
    let view = store.view(id).await.unwrap().unwrap();
    assert_eq!(view.version, 1 + 2 * WRITERS as u64);
}

pub async fn concurrent_claims_of_one_key_create_exactly_one_stream(store: Arc<dyn EventStore>) {
    const CLAIMERS: usize = 50;
    let merchant = merchant();
    let batches: Vec<_> = (0..CLAIMERS)
        .map(|_| new_deposit_batch(&merchant, Some("contended")))
        .collect();
    let ids: Vec<_> = batches.iter().map(|b| b.deposit_id).collect();
    let results = join_all(batches.into_iter().map(|batch| {
        let store = store.clone();
        tokio::spawn(async move { store.append(batch).await })
    }))
    .await;
    let winners = results.iter().filter(|r| matches!(r, Ok(Ok(())))).count();
    assert_eq!(winners, 1);
    for result in &results {
        match result.as_ref().unwrap() {
            Ok(()) | Err(AppendError::IdempotencyKeyTaken) | Err(AppendError::VersionConflict) => {}
            Err(other) => panic!("unexpected append error {other:?}"),
        }
    }
    let record = store
        .idempotency_record(&merchant, &key("contended"))
        .await
        .unwrap()
        .unwrap();
    let mut with_events = 0;
    for id in ids {
        if !store.load(id).await.unwrap().is_empty() {
            with_events += 1;
            assert_eq!(id, record.deposit_id);
        }
    }
    assert_eq!(with_events, 1);
}

pub async fn a_recorded_lookup_finds_its_deposit(store: Arc<dyn EventStore>) {
    // GIVEN a new deposit whose batch records a gateway's payment id
    let external = fixtures::external_id();
    let mut batch = new_deposit_batch(&merchant(), None);
    let lookup = fixtures::lookup(&batch, "psp_a", &external);
    batch.lookups.push(lookup.clone());
    store.append(batch).await.unwrap();
    // WHEN the id is looked up, THEN it names the deposit and its merchant
    let found = store.find_by_external_id("psp_a", &external).await.unwrap();
    assert_eq!(found, Some(lookup));
    // ... but only at that gateway
    assert_eq!(
        store.find_by_external_id("psp_b", &external).await.unwrap(),
        None
    );
}

pub async fn recording_the_same_lookup_again_for_the_same_deposit_is_fine(
    store: Arc<dyn EventStore>,
) {
    // GIVEN a deposit whose first batch recorded a payment id
    let external = fixtures::external_id();
    let mut batch = new_deposit_batch(&merchant(), None);
    let id = batch.deposit_id;
    let lookup = fixtures::lookup(&batch, "psp_a", &external);
    batch.lookups.push(lookup.clone());
    let first = batch.events.clone();
    store.append(batch).await.unwrap();
    // WHEN a later batch of the same deposit records it again (a redelivered message)
    let mut again = follow_up_batch(&first, failed_attempt(id, 2, 1));
    again.lookups.push(lookup.clone());
    store.append(again).await.unwrap();
    // THEN the append went through and the lookup is unchanged
    assert_eq!(store.load(id).await.unwrap().len(), 3);
    assert_eq!(
        store.find_by_external_id("psp_a", &external).await.unwrap(),
        Some(lookup)
    );
}

pub async fn an_external_id_of_another_deposit_refuses_the_whole_append(
    store: Arc<dyn EventStore>,
) {
    // GIVEN a payment id recorded for deposit A
    let external = fixtures::external_id();
    let mut first = new_deposit_batch(&merchant(), None);
    let owner = fixtures::lookup(&first, "psp_a", &external);
    first.lookups.push(owner.clone());
    store.append(first).await.unwrap();
    // WHEN deposit B's batch (events, view, claim) points the same id at B
    let merchant_b = merchant();
    let mut other = new_deposit_batch(&merchant_b, Some("order-b"));
    let other_id = other.deposit_id;
    other
        .lookups
        .push(fixtures::lookup(&other, "psp_a", &external));
    let result = store.append(other).await;
    // THEN the append fails as a store error naming the cause, and wrote nothing
    match &result {
        Err(AppendError::Store(err)) => {
            assert!(err.0.contains("another deposit"), "{err}");
        }
        other => panic!("expected a store error, got {other:?}"),
    }
    assert!(store.load(other_id).await.unwrap().is_empty());
    assert!(store.view(other_id).await.unwrap().is_none());
    assert!(
        store
            .idempotency_record(&merchant_b, &key("order-b"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.find_by_external_id("psp_a", &external).await.unwrap(),
        Some(owner)
    );
}

pub async fn an_unknown_external_id_finds_nothing(store: Arc<dyn EventStore>) {
    let external = fixtures::external_id();
    assert_eq!(
        store.find_by_external_id("psp_a", &external).await.unwrap(),
        None
    );
}
