//! What every store must do with the merchants' ledgers and deposit lists: post a
//! batch's movements in the same write as its events, never overdraw, number entries
//! gaplessly under concurrency, and page through lists exactly once.

use crate::contract::fixtures::{
    self, failed_attempt, follow_up_batch, merchant, new_deposit_batch, new_payout_batch, recorded,
    succeeded_attempt,
};
use futures::future::join_all;
use paygate_domain::deposit::{DepositStatus, Direction};
use paygate_domain::ledger::{Account, EntryType, LedgerHead, Movement, transfer};
use paygate_domain::page::{Cursor, Page, PageRequest};
use paygate_domain::ports::{
    AppendBatch, AppendError, DepositList, EntryFilter, EventStore, Ledger,
};
use paygate_domain::{Currency, DepositEvent, DepositId, MerchantId, RecordedEvent, RefundId};
use std::sync::Arc;
use uuid::Uuid;

/// One adapter seen through the three ports.
pub type Stores = (Arc<dyn EventStore>, Arc<dyn Ledger>, Arc<dyn DepositList>);

/// The fixtures' deposits are AED 100.99.
pub const CAPTURED: i64 = 10_099;

fn aed() -> Currency {
    Currency::parse("AED").unwrap()
}

/// A new deposit of `merchant`: its id and stream.
async fn created(store: &dyn EventStore, merchant: &MerchantId) -> (DepositId, Vec<RecordedEvent>) {
    let batch = new_deposit_batch(merchant, None);
    let (id, stream) = (batch.deposit_id, batch.events.clone());
    store.append(batch).await.unwrap();
    (id, stream)
}

/// Appends `events` after `stream` (with the movements they cause); the longer stream.
async fn then(
    store: &dyn EventStore,
    stream: Vec<RecordedEvent>,
    events: impl FnOnce(DepositId, u64) -> Vec<DepositEvent>,
) -> Vec<RecordedEvent> {
    let id = stream[0].deposit_id;
    let next = stream.len() as u64 + 1;
    let recorded: Vec<_> = events(id, next)
        .into_iter()
        .enumerate()
        .map(|(i, event)| recorded(id, next + i as u64, event))
        .collect();
    store
        .append(follow_up_batch(&stream, recorded.clone()))
        .await
        .unwrap();
    stream.into_iter().chain(recorded).collect()
}

/// A succeeded deposit of `merchant`: its stream.
async fn captured(store: &dyn EventStore, merchant: &MerchantId) -> Vec<RecordedEvent> {
    let (id, stream) = created(store, merchant).await;
    let success = succeeded_attempt(id, stream.len() as u64 + 1);
    store
        .append(follow_up_batch(&stream, success.clone()))
        .await
        .unwrap();
    stream.into_iter().chain(success).collect()
}

/// A merchant's ledger as appends post it: `deposits` succeeded deposits (AED 100.99 at
/// psp_a), the first then refunded `refund`, requested and settled: `deposits + 2`
/// entries, the refund's last.
pub async fn refunded_ledger(
    store: &dyn EventStore,
    merchant: &MerchantId,
    deposits: usize,
    refund: u64,
) {
    let first = captured(store, merchant).await;
    for _ in 1..deposits {
        captured(store, merchant).await;
    }
    let refund_id = RefundId(Uuid::new_v4());
    let stream = then(store, first, |_, _| {
        vec![DepositEvent::RefundRequested {
            refund_id,
            amount: paygate_domain::Amount::new(refund).unwrap(),
            charge: None,
        }]
    })
    .await;
    then(store, stream, |_, _| {
        vec![DepositEvent::RefundSucceeded { refund_id }]
    })
    .await;
}

/// A movement of `amount` from `from` to `to` caused by `event` (forged: the store posts
/// what it is given, whatever the events say).
fn forged(event: &RecordedEvent, from: Account, to: Account, amount: i64) -> Movement {
    Movement {
        entry_type: EntryType::Refund,
        currency: aed(),
        source: event.deposit_id.to_string(),
        deposit_id: event.deposit_id,
        event_id: event.event_id,
        postings: transfer(from, to, amount),
        occurred_at: event.occurred_at,
    }
}

/// The batch that starts and fails an attempt on a new deposit, moving `amount` out of
/// `available`.
fn debit(stream: &[RecordedEvent], attempt: u32, amount: i64) -> AppendBatch {
    let id = stream[0].deposit_id;
    let events = failed_attempt(id, stream.len() as u64 + 1, attempt);
    let movement = forged(&events[0], Account::Available, Account::Reserved, amount);
    let mut batch = follow_up_batch(stream, events);
    batch.ledger = vec![movement];
    batch
}

fn available(head: &LedgerHead) -> (i64, i64) {
    let balances = head.balances.get(&aed()).cloned().unwrap_or_default();
    (balances.available, balances.reserved)
}

/// Every entry of `merchant`'s ledger, oldest first (page after page).
pub async fn every_entry(
    ledger: &dyn Ledger,
    merchant: &MerchantId,
) -> Vec<paygate_domain::ledger::LedgerEntry> {
    let mut entries = Vec::new();
    let mut page = PageRequest::first(PageRequest::<u64>::MAX_LIMIT);
    loop {
        let found = ledger
            .entries(merchant, EntryFilter::All, &page)
            .await
            .unwrap();
        let oldest = found.data.last().map(|e| e.sequence);
        entries.extend(found.data);
        match oldest {
            Some(oldest) if found.has_more => {
                page.cursor = Some(Cursor::StartingAfter(oldest));
            }
            _ => break,
        }
    }
    entries.reverse();
    entries
}

pub async fn a_capture_credits_available_and_a_refund_moves_it_through_reserved(
    (store, ledger, _): Stores,
) {
    // GIVEN a merchant whose deposit succeeded
    let merchant = merchant();
    let stream = captured(store.as_ref(), &merchant).await;
    let head = ledger.head(&merchant).await.unwrap();
    assert_eq!((head.sequence, available(&head)), (1, (CAPTURED, 0)));
    assert_eq!(head.balances[&aed()].gateways["psp_a"], -CAPTURED);
    // WHEN it refunds 4000, and the refund succeeds
    let refund_id = RefundId(Uuid::new_v4());
    let stream = then(store.as_ref(), stream, |_, _| {
        vec![DepositEvent::RefundRequested {
            refund_id,
            amount: paygate_domain::Amount::new(4_000).unwrap(),
            charge: None,
        }]
    })
    .await;
    let head = ledger.head(&merchant).await.unwrap();
    assert_eq!(
        (head.sequence, available(&head)),
        (2, (CAPTURED - 4_000, 4_000))
    );
    then(store.as_ref(), stream, |_, _| {
        vec![DepositEvent::RefundSucceeded { refund_id }]
    })
    .await;
    // THEN the money left through the gateway, and every account adds up to zero
    let head = ledger.head(&merchant).await.unwrap();
    assert_eq!(
        (head.sequence, available(&head)),
        (3, (CAPTURED - 4_000, 0))
    );
    assert_eq!(head.balances[&aed()].gateways["psp_a"], 4_000 - CAPTURED);
    assert_eq!(head.balances[&aed()].total(), 0);
    // ... the entries, newest first, say what `available` was after each
    let page = ledger
        .entries(&merchant, EntryFilter::All, &PageRequest::first(10))
        .await
        .unwrap();
    let seen: Vec<_> = page
        .data
        .iter()
        .map(|e| (e.id(), e.movement.entry_type, e.amount(), e.available_after))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "txn_3".to_owned(),
                EntryType::RefundSettled,
                0,
                CAPTURED - 4_000
            ),
            (
                "txn_2".to_owned(),
                EntryType::Refund,
                -4_000,
                CAPTURED - 4_000
            ),
            ("txn_1".to_owned(), EntryType::Deposit, CAPTURED, CAPTURED),
        ]
    );
    assert!(!page.has_more);
    // ... the balance transactions are those that changed `available`
    let balance = ledger
        .entries(&merchant, EntryFilter::Balance, &PageRequest::first(10))
        .await
        .unwrap();
    let sequences: Vec<_> = balance.data.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [2, 1]);
    // ... and the head is the fold of the entries
    let entries = every_entry(ledger.as_ref(), &merchant).await;
    assert_eq!(LedgerHead::fold(merchant, &entries), Some(head));
}

pub async fn a_batch_that_would_overdraw_writes_nothing((store, ledger, _): Stores) {
    // GIVEN a merchant with CAPTURED available
    let merchant = merchant();
    captured(store.as_ref(), &merchant).await;
    let (_, other) = created(store.as_ref(), &merchant).await;
    let head_before = ledger.head(&merchant).await.unwrap();
    // WHEN a batch would take one more than that
    let result = store.append(debit(&other, 1, CAPTURED + 1)).await;
    // THEN it is refused, and neither the stream nor the ledger changed
    assert!(
        matches!(&result, Err(AppendError::BalanceInsufficient(short)) if short.account == Account::Available),
        "{result:?}"
    );
    assert_eq!(store.load(other[0].deposit_id).await.unwrap(), other);
    assert_eq!(ledger.head(&merchant).await.unwrap(), head_before);
    // ... while exactly what is there may go
    store.append(debit(&other, 1, CAPTURED)).await.unwrap();
    assert_eq!(
        available(&ledger.head(&merchant).await.unwrap()),
        (0, CAPTURED)
    );
}

pub async fn concurrent_debits_never_overdraw_and_entries_stay_gapless((store, ledger, _): Stores) {
    // GIVEN a merchant whose balance covers 10 debits of 1000, and 50 deposits to debit on
    let merchant = merchant();
    captured(store.as_ref(), &merchant).await;
    let mut streams = Vec::new();
    for _ in 0..50 {
        streams.push(created(store.as_ref(), &merchant).await.1);
    }
    // WHEN 50 writers each try to take 1000 at once
    let results = join_all(streams.iter().map(|stream| {
        let store = store.clone();
        let batch = debit(stream, 1, 1_000);
        async move { store.append(batch).await }
    }))
    .await;
    // THEN exactly 10 got it, the others were told the balance is short
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let short = results
        .iter()
        .filter(|r| matches!(r, Err(AppendError::BalanceInsufficient(_))))
        .count();
    assert_eq!((accepted, short), (10, 40), "{results:?}");
    // ... the balance is exact and the ledger is a gapless run that adds up to it
    let head = ledger.head(&merchant).await.unwrap();
    assert_eq!(available(&head), (CAPTURED - 10_000, 10_000));
    let entries = every_entry(ledger.as_ref(), &merchant).await;
    assert_eq!(entries.len(), 11);
    assert_eq!(LedgerHead::fold(merchant, &entries), Some(head));
}

pub async fn concurrent_captures_are_all_accepted_and_numbered_once((store, ledger, _): Stores) {
    // GIVEN 60 deposits of one merchant, waiting for their gateway's answer
    let merchant = merchant();
    let mut successes = Vec::new();
    for _ in 0..60 {
        let (id, stream) = created(store.as_ref(), &merchant).await;
        let success = succeeded_attempt(id, stream.len() as u64 + 1);
        successes.push(follow_up_batch(&stream, success));
    }
    let wanted = 60 * CAPTURED;
    // WHEN they all succeed at once (a merchant's head cannot take 60 writers at once)
    let results = join_all(successes.iter().map(|batch| {
        let (store, batch) = (store.clone(), batch.clone());
        async move { store.append(batch).await }
    }))
    .await;
    // THEN every capture was accepted, and counts in the balance exactly once, numbered
    // or waiting to be
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let balances = paygate_domain::service::balances(ledger.as_ref(), &merchant)
        .await
        .unwrap();
    assert_eq!(balances[&aed()].available, wanted);
    assert_eq!(balances[&aed()].total(), 0);
    let numbered = every_entry(ledger.as_ref(), &merchant).await;
    let deferred = ledger.deferred(&merchant).await.unwrap();
    let mut sources: Vec<_> = numbered
        .iter()
        .map(|e| &e.movement)
        .chain(&deferred)
        .map(|m| m.deposit_id)
        .collect();
    sources.sort();
    sources.dedup();
    assert_eq!(sources.len(), 60);
    assert_eq!(numbered.len() + deferred.len(), 60);
    // ... and a debit of all of it (which the head alone may not cover) numbers every
    // waiting capture first and leaves a gapless ledger that adds up to its head
    let (_, stream) = created(store.as_ref(), &merchant).await;
    store.append(debit(&stream, 1, wanted)).await.unwrap();
    let head = ledger.head(&merchant).await.unwrap();
    assert_eq!(available(&head), (0, wanted));
    assert!(ledger.deferred(&merchant).await.unwrap().is_empty());
    let entries = every_entry(ledger.as_ref(), &merchant).await;
    assert_eq!(entries.len(), 61);
    assert_eq!(LedgerHead::fold(merchant, &entries), Some(head));
}

pub async fn concurrent_payouts_reserve_exactly_what_is_there((store, ledger, _): Stores) {
    // GIVEN a merchant whose balance covers 10 payouts of 1000
    let merchant = merchant();
    captured(store.as_ref(), &merchant).await;
    // WHEN 50 payouts of 1000 are requested at once
    let batches: Vec<_> = (0..50)
        .map(|_| new_payout_batch(&merchant, 1_000))
        .collect();
    let results = join_all(batches.iter().map(|batch| {
        let store = store.clone();
        let batch = batch.clone();
        async move { store.append(batch).await }
    }))
    .await;
    // THEN exactly 10 were recorded and reserved; the others wrote nothing at all
    let accepted: Vec<_> = batches
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|(b, _)| b.deposit_id)
        .collect();
    assert_eq!(accepted.len(), 10, "{results:?}");
    for (batch, result) in batches.iter().zip(&results) {
        if result.is_err() {
            assert!(
                matches!(result, Err(AppendError::BalanceInsufficient(_))),
                "{result:?}"
            );
            assert!(store.load(batch.deposit_id).await.unwrap().is_empty());
            assert_eq!(store.view(batch.deposit_id).await.unwrap(), None);
        }
    }
    let head = ledger.head(&merchant).await.unwrap();
    assert_eq!(available(&head), (CAPTURED - 10_000, 10_000));
    // ... and one that fails gives its 1000 back, once
    let failed = store.load(accepted[0]).await.unwrap();
    then(store.as_ref(), failed, |_, _| {
        vec![DepositEvent::DepositFailed {
            reason: paygate_domain::deposit::FailureReason::new("account_closed", "closed"),
        }]
    })
    .await;
    let head = ledger.head(&merchant).await.unwrap();
    assert_eq!(available(&head), (CAPTURED - 9_000, 9_000));
    assert_eq!(head.balances[&aed()].total(), 0);
    let entries = every_entry(ledger.as_ref(), &merchant).await;
    let types: Vec<_> = entries.iter().map(|e| e.movement.entry_type).collect();
    assert_eq!(types.len(), 12);
    assert_eq!(types.last(), Some(&EntryType::PayoutReversal));
    assert_eq!(LedgerHead::fold(merchant, &entries), Some(head));
}

pub async fn payouts_and_deposits_are_listed_apart((store, _, list): Stores) {
    // GIVEN a merchant with a deposit that succeeded and a payout of part of it
    let merchant = merchant();
    let deposit = captured(store.as_ref(), &merchant).await[0].deposit_id;
    let payout = new_payout_batch(&merchant, 1_000);
    let payout_id = payout.deposit_id;
    store.append(payout).await.unwrap();
    // WHEN it lists its deposits and its payouts
    let first = PageRequest::first(10);
    let listed = async |direction| {
        let page = list
            .deposits(&merchant, direction, None, &first)
            .await
            .unwrap()
            .unwrap();
        page.data.iter().map(|v| v.id).collect::<Vec<_>>()
    };
    // THEN each list holds its own
    assert_eq!(listed(Direction::Deposit).await, [deposit]);
    assert_eq!(listed(Direction::Payout).await, [payout_id]);
    // ... and one list's object is no cursor in the other
    let after = |id| PageRequest {
        limit: 10,
        cursor: Some(Cursor::StartingAfter(id)),
    };
    let crossed = list
        .deposits(&merchant, Direction::Payout, None, &after(deposit))
        .await
        .unwrap();
    assert_eq!(crossed, None);
    let crossed = list
        .deposits(&merchant, Direction::Deposit, None, &after(payout_id))
        .await
        .unwrap();
    assert_eq!(crossed, None);
}

/// Every page of `list` from the newest, following `starting_after`, then back from the
/// oldest following `ending_before`: both walks' items, newest first.
async fn walk<T, K: Clone>(
    limit: usize,
    cursor_of: impl Fn(&T) -> K,
    list: impl AsyncFn(PageRequest<K>) -> Page<T>,
) -> (Vec<T>, Vec<T>) {
    let mut down = Vec::new();
    let mut request = PageRequest::first(limit);
    loop {
        let page = list(request).await;
        assert!(page.data.len() <= limit);
        let last = page.data.last().map(&cursor_of);
        down.extend(page.data);
        match (page.has_more, last) {
            (true, Some(last)) => {
                request = PageRequest {
                    limit,
                    cursor: Some(Cursor::StartingAfter(last)),
                }
            }
            _ => break,
        }
    }
    let mut up: Vec<T> = Vec::new();
    let Some(oldest) = down.last().map(&cursor_of) else {
        return (down, up);
    };
    let mut cursor = oldest;
    loop {
        let page = list(PageRequest {
            limit,
            cursor: Some(Cursor::EndingBefore(cursor.clone())),
        })
        .await;
        let first = page.data.first().map(&cursor_of);
        let mut newer = page.data;
        newer.extend(up);
        up = newer;
        match (page.has_more, first) {
            (true, Some(first)) => cursor = first,
            _ => break,
        }
    }
    (down, up)
}

pub async fn ledger_pages_list_every_entry_once_newest_first((store, ledger, _): Stores) {
    // GIVEN a merchant with 23 entries
    let merchant = merchant();
    captured(store.as_ref(), &merchant).await;
    for _ in 0..22 {
        let (_, stream) = created(store.as_ref(), &merchant).await;
        store.append(debit(&stream, 1, 1)).await.unwrap();
    }
    // WHEN it pages through them 5 at a time, down and back up
    let (down, up) = walk(
        5,
        |e: &paygate_domain::ledger::LedgerEntry| e.sequence,
        async |page| {
            ledger
                .entries(&merchant, EntryFilter::All, &page)
                .await
                .unwrap()
        },
    )
    .await;
    // THEN each walk saw every entry exactly once, newest first
    let expected: Vec<u64> = (1..=23).rev().collect();
    let sequences = |entries: &[paygate_domain::ledger::LedgerEntry]| -> Vec<u64> {
        entries.iter().map(|e| e.sequence).collect()
    };
    assert_eq!(sequences(&down), expected);
    assert_eq!(sequences(&up), expected[..expected.len() - 1]);
}

pub async fn deposits_list_the_merchants_own_newest_first_by_status((store, _, list): Stores) {
    // GIVEN a merchant with 7 deposits, 3 of them processing, and another merchant's
    let merchant = merchant();
    let mut ids = Vec::new();
    for n in 0..7 {
        let (id, stream) = created(store.as_ref(), &merchant).await;
        if n % 2 == 1 {
            then(store.as_ref(), stream, |id, version| {
                failed_attempt(id, version, 1)
                    .into_iter()
                    .map(|e| e.event)
                    .collect()
            })
            .await;
        }
        ids.push(id);
    }
    let (foreign, _) = created(store.as_ref(), &fixtures::merchant()).await;
    // WHEN it pages through them 3 at a time
    let all = async |page: PageRequest<DepositId>| {
        list.deposits(&merchant, Direction::Deposit, None, &page)
            .await
            .unwrap()
            .unwrap()
    };
    let (down, up) = walk(3, |v: &paygate_domain::DepositView| v.id, all).await;
    // THEN it sees its own, each once, newest first, both ways
    let seen: Vec<_> = down.iter().map(|v| v.id).collect();
    let newest_first: Vec<_> = ids.iter().rev().copied().collect();
    assert_eq!(seen, newest_first);
    let up: Vec<_> = up.iter().map(|v| v.id).collect();
    assert_eq!(up, newest_first[..newest_first.len() - 1]);
    // ... only the processing ones when it asks for those
    let processing = list
        .deposits(
            &merchant,
            Direction::Deposit,
            Some(DepositStatus::Processing),
            &PageRequest::first(10),
        )
        .await
        .unwrap()
        .unwrap();
    let seen: Vec<_> = processing.data.iter().map(|v| v.id).collect();
    let expected: Vec<_> = [5, 3, 1].iter().map(|n| ids[*n]).collect();
    assert_eq!((seen, processing.has_more), (expected, false));
    // ... and another merchant's deposit, or an unknown one, is no cursor
    for cursor in [foreign, DepositId(Uuid::now_v7())] {
        let page = PageRequest {
            limit: 3,
            cursor: Some(Cursor::StartingAfter(cursor)),
        };
        assert_eq!(
            list.deposits(&merchant, Direction::Deposit, None, &page)
                .await
                .unwrap(),
            None
        );
    }
}

pub async fn deposit_pages_stay_exact_while_new_deposits_arrive((store, _, list): Stores) {
    // GIVEN a merchant with 6 deposits
    let merchant = merchant();
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(created(store.as_ref(), &merchant).await.0);
    }
    // WHEN it pages through them 2 at a time while a new deposit arrives before each page
    let mut seen = Vec::new();
    let mut request = PageRequest::first(2);
    loop {
        created(store.as_ref(), &merchant).await;
        let page = list
            .deposits(&merchant, Direction::Deposit, None, &request)
            .await
            .unwrap()
            .unwrap();
        seen.extend(page.data.iter().map(|v| v.id));
        match page.data.last() {
            Some(last) if page.has_more => {
                request = PageRequest {
                    limit: 2,
                    cursor: Some(Cursor::StartingAfter(last.id)),
                }
            }
            _ => break,
        }
    }
    // THEN the walk saw the first new one and every older deposit exactly once, in order
    let first_new = seen[0];
    let expected: Vec<_> = std::iter::once(first_new)
        .chain(ids.iter().rev().copied())
        .collect();
    assert_eq!(seen, expected);
}
