//! The merchants' ledgers on DynamoDB: reading a head, posting through it, and the
//! captures that wait for it.
//!
//! Ledger table, key (`merchant_id` S, `sequence` N): the merchant's head at sequence 0
//! (`head` S: the [`LedgerHead`] as JSON; `entries` N: how many entries it counts), its
//! entries at 1.. (`entry` S: the [`LedgerEntry`] as JSON; `amount` N: what it changed
//! in `available`, so a query can keep only balance transactions), and its deferred
//! movements at negative sequences (`deferred` S: the [`Movement`] as JSON).
//!
//! An append with movements reads the head, posts through it, and writes the new head,
//! on the condition that it still counts what was read, with the new entries, in the
//! events' transaction: entries are gapless and balances exact, and one that lost the
//! race posts again on the head that won. The head is one item, so a merchant's postings
//! are serialized: under load most appends would lose that race again and again. A batch
//! whose movements can never overdraw (a capture) therefore does not wait: once it lost
//! the race, it is written with its movements as deferred items instead (no condition
//! on the head), and whoever posts next for the merchant numbers them first, deleting
//! them in the same transaction.

use super::dynamo::DynamoEventStore;
use super::items::{Item, MERCHANT_ID, n, s, string};
use crate::error::AwsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use paygate_domain::MerchantId;
use paygate_domain::ids::EventId;
use paygate_domain::ledger::{BalanceInsufficient, LedgerEntry, LedgerHead, Movement};

pub(super) const SEQUENCE: &str = "sequence";
pub(super) const HEAD_ITEM: u64 = 0;
const ENTRIES: &str = "entries";
const HEAD: &str = "ledger head";
pub(super) const ENTRY: &str = "ledger entry";
const DEFERRED: &str = "deferred movement";

/// The most deferred movements one transaction numbers (each is an entry written and an
/// item deleted).
const MAX_FOLDED: usize = 25;

/// How many times a posting that the deferred movements it could not fit would make
/// possible folds them first and tries again.
const FOLD_ROUNDS: usize = 20;

/// A deferred append numbers what waits once it saw this many waiting before it: one
/// writer in so many folds, the others only add.
pub(super) const FOLD_EVERY: usize = 8;

/// A movement accepted without a number, and its item's sort key (negative).
pub(super) struct Deferred {
    pub key: i64,
    pub movement: Movement,
}

/// The sort key of the deferred item for `event`'s movement: a batch has at most one
/// movement per event, and an event is written once. Negative, so it never meets an
/// entry's sequence, and within 53 bits, so any JSON reader keeps it exact.
pub(super) fn deferred_key(event: EventId) -> i64 {
    let (high, low) = event.0.as_u64_pair();
    let bits = (high ^ low) & ((1 << 53) - 1);
    -(bits as i64) - 1
}

/// A head as read, with the deferred movements read beside it.
pub(super) struct ReadHead {
    pub head: LedgerHead,
    /// The entry count it was read at; `None` when the merchant has no head yet.
    pub stored: Option<u64>,
    pub deferred: Vec<Deferred>,
    /// Whether more deferred movements may wait than were read.
    pub more_deferred: bool,
}

/// What an append's read of the head decided.
pub(super) enum Post {
    /// Post through the head.
    Through(Posting),
    /// Movements that may wait found others waiting: the head is contended, so they
    /// join them without racing for it.
    Wait { waiting: usize },
}

/// What an append posts: the head after it, the entries (the deferred movements it
/// numbers first, then its own), and what it was read from.
pub(super) struct Posting {
    pub stored: Option<u64>,
    pub head: LedgerHead,
    pub entries: Vec<LedgerEntry>,
    /// The deferred items it numbered, to delete.
    pub folded: Vec<i64>,
}

impl Posting {
    /// The transaction items it writes: the head, the entries, the deletions.
    pub fn items(&self) -> usize {
        1 + self.entries.len() + self.folded.len()
    }
}

impl DynamoEventStore {
    /// A consistent query of the merchant's ledger items whose sequence is `relation` to
    /// the head's (`<=`: the head and what waits below it; `<`: only what waits).
    fn below_head(
        &self,
        merchant: &MerchantId,
        relation: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.ledger_table)
            .key_condition_expression(format!("#m = :m AND #s {relation} :head"))
            .expression_attribute_names("#m", MERCHANT_ID)
            .expression_attribute_names("#s", SEQUENCE)
            .expression_attribute_values(":m", s(merchant.0.clone()))
            .expression_attribute_values(":head", n(HEAD_ITEM))
            .consistent_read(true)
    }

    /// The head and up to `deferred` of the merchant's deferred movements, in one query
    /// (they sort below the head), read consistently.
    pub(super) async fn read_head(
        &self,
        merchant: &MerchantId,
        deferred: usize,
    ) -> Result<ReadHead, AwsError> {
        let output = self
            .below_head(merchant, "<=")
            .scan_index_forward(false)
            .limit(i32::try_from(deferred + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| AwsError::call("Query", &e))?;
        let more_deferred = output.last_evaluated_key.is_some_and(|key| !key.is_empty());
        let mut read = ReadHead {
            head: LedgerHead::empty(merchant.clone()),
            stored: None,
            deferred: Vec::new(),
            more_deferred,
        };
        for item in output.items.unwrap_or_default() {
            match sort_key(&item)? {
                0 => {
                    read.head = json(&item, HEAD, "head")?;
                    read.stored = Some(read.head.sequence);
                }
                key => read.deferred.push(Deferred {
                    key,
                    movement: json(&item, DEFERRED, "deferred")?,
                }),
            }
        }
        Ok(read)
    }

    /// Every deferred movement of the merchant, oldest key first.
    pub(super) async fn read_deferred(
        &self,
        merchant: &MerchantId,
    ) -> Result<Vec<Movement>, AwsError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .below_head(merchant, "<")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| AwsError::call("Query", &e))?;
            for item in output.items() {
                found.push(json(item, DEFERRED, "deferred")?);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(found),
            }
        }
    }

    /// Reads `merchant`'s head and posts the deferred movements waiting on it (as many as
    /// `room` transaction items hold) and then `movements`. When `movements` would
    /// overdraw but more deferred ones wait than fit, those are numbered first and it
    /// tries again: what the merchant was told it holds is what it can spend. Movements
    /// that `may_wait` and find others waiting join them instead ([`Post::Wait`]).
    pub(super) async fn post(
        &self,
        merchant: &MerchantId,
        movements: &[Movement],
        room: usize,
        may_wait: bool,
    ) -> Result<Result<Post, BalanceInsufficient>, AwsError> {
        let fold = (room.saturating_sub(1 + movements.len()) / 2).min(MAX_FOLDED);
        let mut rounds = 0;
        loop {
            let read = self.read_head(merchant, fold).await?;
            if may_wait && !read.deferred.is_empty() {
                let waiting = read.deferred.len();
                return Ok(Ok(Post::Wait { waiting }));
            }
            let mut all: Vec<Movement> = read.deferred.iter().map(|d| d.movement.clone()).collect();
            all.extend_from_slice(movements);
            match read.head.post(&all) {
                Ok((head, entries)) => {
                    return Ok(Ok(Post::Through(Posting {
                        stored: read.stored,
                        head,
                        entries,
                        folded: read.deferred.iter().map(|d| d.key).collect(),
                    })));
                }
                Err(_) if read.more_deferred && rounds < FOLD_ROUNDS => {
                    rounds += 1;
                    self.fold_deferred(merchant).await?;
                }
                Err(short) => return Ok(Err(short)),
            }
        }
    }

    /// Numbers the merchant's deferred movements, as many as one transaction holds, if
    /// its head is free: `Ok(false)` if another append posted first (it numbers them).
    pub(super) async fn fold_deferred(&self, merchant: &MerchantId) -> Result<bool, AwsError> {
        let read = self.read_head(merchant, MAX_FOLDED).await?;
        if read.deferred.is_empty() {
            return Ok(true);
        }
        let deferred: Vec<Movement> = read.deferred.iter().map(|d| d.movement.clone()).collect();
        let (head, entries) = read.head.post(&deferred).map_err(|short| {
            AwsError::malformed(DEFERRED, format!("a deferred movement overdraws: {short}"))
        })?;
        let posting = Posting {
            stored: read.stored,
            head,
            entries,
            folded: read.deferred.iter().map(|d| d.key).collect(),
        };
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(self.ledger_writes(&posting)?))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some() => Ok(false),
            Err(err) => Err(AwsError::call("TransactWriteItems", &err)),
        }
    }

    /// The head's conditional put, one put per entry, one delete per deferred item it
    /// numbered (on the condition that it is still there: else another append numbered
    /// it, and this one lost the race).
    pub(super) fn ledger_writes(
        &self,
        posting: &Posting,
    ) -> Result<Vec<TransactWriteItem>, AwsError> {
        let head = &posting.head;
        let mut head_put =
            Put::builder()
                .table_name(&self.ledger_table)
                .set_item(Some(Item::from([
                    (MERCHANT_ID.into(), s(head.merchant_id.0.clone())),
                    (SEQUENCE.into(), n(HEAD_ITEM)),
                    (ENTRIES.into(), n(head.sequence)),
                    ("head".into(), s(encode(HEAD, head)?)),
                ])));
        head_put = match posting.stored {
            None => head_put
                .condition_expression("attribute_not_exists(#m)")
                .expression_attribute_names("#m", MERCHANT_ID),
            Some(read) => head_put
                .condition_expression("#e = :read")
                .expression_attribute_names("#e", ENTRIES)
                .expression_attribute_values(":read", n(read)),
        };
        let mut writes = Vec::with_capacity(posting.items());
        writes.push(TransactWriteItem::builder().put(build(head_put)?).build());
        for entry in &posting.entries {
            let put = Put::builder()
                .table_name(&self.ledger_table)
                .set_item(Some(Item::from([
                    (MERCHANT_ID.into(), s(entry.merchant_id.0.clone())),
                    (SEQUENCE.into(), n(entry.sequence)),
                    ("amount".into(), n(entry.amount())),
                    ("entry".into(), s(encode(ENTRY, entry)?)),
                ])))
                .condition_expression("attribute_not_exists(#m)")
                .expression_attribute_names("#m", MERCHANT_ID);
            writes.push(TransactWriteItem::builder().put(build(put)?).build());
        }
        for key in &posting.folded {
            let delete = Delete::builder()
                .table_name(&self.ledger_table)
                .key(MERCHANT_ID, s(head.merchant_id.0.clone()))
                .key(SEQUENCE, n(key))
                .condition_expression("attribute_exists(#m)")
                .expression_attribute_names("#m", MERCHANT_ID)
                .build()
                .map_err(|e| build_error(&e))?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        Ok(writes)
    }

    /// One put per movement, each its own deferred item: no condition on the head.
    pub(super) fn deferred_writes(
        &self,
        merchant: &MerchantId,
        movements: &[Movement],
    ) -> Result<Vec<TransactWriteItem>, AwsError> {
        movements
            .iter()
            .map(|movement| {
                let put = Put::builder()
                    .table_name(&self.ledger_table)
                    .set_item(Some(Item::from([
                        (MERCHANT_ID.into(), s(merchant.0.clone())),
                        (SEQUENCE.into(), n(deferred_key(movement.event_id))),
                        ("deferred".into(), s(encode(DEFERRED, movement)?)),
                    ])))
                    .condition_expression("attribute_not_exists(#m)")
                    .expression_attribute_names("#m", MERCHANT_ID);
                Ok(TransactWriteItem::builder().put(build(put)?).build())
            })
            .collect()
    }
}

fn sort_key(item: &Item) -> Result<i64, AwsError> {
    item.get(SEQUENCE)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| AwsError::malformed(HEAD, "sequence is not a number"))
}

fn build(put: aws_sdk_dynamodb::types::builders::PutBuilder) -> Result<Put, AwsError> {
    put.build().map_err(|e| build_error(&e))
}

fn build_error(e: &impl std::fmt::Display) -> AwsError {
    AwsError::Build {
        operation: "TransactWriteItems",
        detail: e.to_string(),
    }
}

fn encode(what: &'static str, value: &impl serde::Serialize) -> Result<String, AwsError> {
    serde_json::to_string(value).map_err(|e| AwsError::encode(what, &e))
}

pub(super) fn json<T: serde::de::DeserializeOwned>(
    item: &Item,
    what: &'static str,
    name: &str,
) -> Result<T, AwsError> {
    serde_json::from_str(string(item, what, name)?)
        .map_err(|e| AwsError::malformed(what, format!("{name}: {}", AwsError::json(&e))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn deferred_keys_are_negative_exact_and_differ_by_event() {
        let keys: Vec<i64> = (0..1000)
            .map(|_| deferred_key(EventId(Uuid::new_v4())))
            .collect();
        assert!(keys.iter().all(|k| *k < 0 && *k >= -(1 << 53)));
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        let event = EventId(Uuid::new_v4());
        assert_eq!(deferred_key(event), deferred_key(event));
    }
}
