//! How many ledger postings one merchant sustains in one currency when many writers post
//! at once: every posting goes through the merchant's head, so this is the hot key (a
//! capture that loses it waits as a deferred movement for the next posting to number).
//!
//! Against the emulators (`cargo xtask emulators`, then source `.tools/emulators.env`):
//! `cargo bench -p paygate-aws --bench hot_merchant -- [WRITERS] [POSTINGS]`
//! (default 50 writers, 1000 postings). Each posting is a deposit's success (three
//! events, the read model, the ledger head and one entry in one transaction).

use futures::future::join_all;
use paygate_aws::{DynamoEventStore, Resources, aws_sdk_dynamodb};
use paygate_domain::ports::{AppendBatch, AppendError, EventStore, Ledger};
use paygate_kit::contract::fixtures::{
    follow_up_batch, merchant, new_deposit_batch, succeeded_attempt,
};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let writers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let postings: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    paygate_kit::require_emulators();
    let config = paygate_aws::sdk_config();
    let store = Arc::new(DynamoEventStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        &Resources::from_env(),
    ));
    let merchant = merchant();

    // The deposits to succeed, created beforehand (not timed).
    let mut batches: Vec<AppendBatch> = Vec::with_capacity(postings);
    for _ in 0..postings {
        let created = new_deposit_batch(&merchant, None);
        let stream = created.events.clone();
        store.append(created).await.expect("a new deposit");
        let success = succeeded_attempt(stream[0].deposit_id, 2);
        batches.push(follow_up_batch(&stream, success));
    }

    let queue = Arc::new(Mutex::new(batches));
    let done = Arc::new(AtomicUsize::new(0));
    let conflicts = Arc::new(AtomicUsize::new(0));
    let terminal = std::io::stderr().is_terminal();
    let started = Instant::now();
    let workers = (0..writers).map(|_| {
        let (store, queue, done) = (store.clone(), queue.clone(), done.clone());
        let conflicts = conflicts.clone();
        async move {
            loop {
                let Some(batch) = queue.lock().expect("queue").pop() else {
                    return;
                };
                // A writer that lost the head too often is told of a conflict, and
                // decides again on a fresh stream, as every command does.
                loop {
                    match store.append(batch.clone()).await {
                        Ok(()) => break,
                        Err(AppendError::VersionConflict) => {
                            conflicts.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(other) => panic!("a posting failed: {other}"),
                    }
                }
                let posted = done.fetch_add(1, Ordering::Relaxed) + 1;
                if terminal && posted % 50 == 0 {
                    eprint!("\r{posted}/{postings} postings");
                    let _ = std::io::stderr().flush();
                }
            }
        }
    });
    join_all(workers.map(tokio::spawn)).await;
    let elapsed = started.elapsed();
    if terminal {
        eprintln!();
    }

    let head = store.head(&merchant).await.expect("the head");
    let waiting = store
        .deferred(&merchant)
        .await
        .expect("the deferred movements");
    assert_eq!(
        head.sequence as usize + waiting.len(),
        postings,
        "every posting counted once"
    );
    println!(
        "{postings} postings by {writers} writers on one merchant: {:.0}/s ({:.1} s, {} numbered, {} waiting for the next posting, {} gave up on the head and went again)",
        postings as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        head.sequence,
        waiting.len(),
        conflicts.load(Ordering::Relaxed)
    );
}
