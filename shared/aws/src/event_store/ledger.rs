//! The merchants' ledgers on DynamoDB, and the merchants' deposit lists.
//!
//! Ledger table, key (`merchant_id` S, `sequence` N): the merchant's head at sequence 0
//! (`head` S: the [`LedgerHead`] as JSON; `entries` N: how many entries it counts), its
//! entries at 1.. (`entry` S: the [`LedgerEntry`] as JSON; `amount` N: what it changed
//! in `available`, so a query can keep only balance transactions). An append with
//! movements reads the head, posts through it, and writes the new head, on the condition
//! that it still counts what was read, with the new entries, in the events' transaction:
//! entries are gapless and balances exact, and one that lost the race posts again on the
//! head that won.

use super::dynamo::DynamoEventStore;
use super::items::{self, Item, MERCHANT_ID, STATUS, n, s, string};
use crate::error::AwsError;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use paygate_domain::deposit::{DepositStatus, Direction};
use paygate_domain::ledger::{BalanceInsufficient, LedgerEntry, LedgerHead, Movement};
use paygate_domain::page::{Cursor, Page, PageRequest};
use paygate_domain::ports::{DepositList, EntryFilter, EventStore, Ledger, StoreError};
use paygate_domain::{DepositId, DepositView, MerchantId};

const SEQUENCE: &str = "sequence";
const HEAD_ITEM: u64 = 0;
const ENTRIES: &str = "entries";
const HEAD: &str = "ledger head";
const ENTRY: &str = "ledger entry";

/// A head as read: `None` when the merchant has none stored yet.
pub(super) struct ReadHead {
    pub head: LedgerHead,
    pub stored: Option<u64>,
}

/// What an append posts: the head after it, the entries, and the head it was read from.
pub(super) struct Posting {
    pub read: ReadHead,
    pub head: LedgerHead,
    pub entries: Vec<LedgerEntry>,
}

impl DynamoEventStore {
    async fn read_head(&self, merchant: &MerchantId) -> Result<ReadHead, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.ledger_table)
            .key(MERCHANT_ID, s(merchant.0.clone()))
            .key(SEQUENCE, n(HEAD_ITEM))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::call("GetItem", &e))?;
        match output.item {
            None => Ok(ReadHead {
                head: LedgerHead::empty(merchant.clone()),
                stored: None,
            }),
            Some(item) => {
                let head: LedgerHead = json(&item, HEAD, "head")?;
                Ok(ReadHead {
                    stored: Some(head.sequence),
                    head,
                })
            }
        }
    }

    /// Reads `merchant`'s head and posts `movements` through it.
    pub(super) async fn post(
        &self,
        merchant: &MerchantId,
        movements: &[Movement],
    ) -> Result<Result<Posting, BalanceInsufficient>, AwsError> {
        let read = self.read_head(merchant).await?;
        Ok(read.head.post(movements).map(|(head, entries)| Posting {
            read,
            head,
            entries,
        }))
    }

    /// The head's conditional put, then one put per entry.
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
        head_put = match posting.read.stored {
            None => head_put
                .condition_expression("attribute_not_exists(#m)")
                .expression_attribute_names("#m", MERCHANT_ID),
            Some(read) => head_put
                .condition_expression("#e = :read")
                .expression_attribute_names("#e", ENTRIES)
                .expression_attribute_values(":read", n(read)),
        };
        let mut writes = vec![TransactWriteItem::builder().put(build(head_put)?).build()];
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
        Ok(writes)
    }
}

fn build(put: aws_sdk_dynamodb::types::builders::PutBuilder) -> Result<Put, AwsError> {
    put.build().map_err(|e| AwsError::Build {
        operation: "TransactWriteItems",
        detail: e.to_string(),
    })
}

fn encode(what: &'static str, value: &impl serde::Serialize) -> Result<String, AwsError> {
    serde_json::to_string(value).map_err(|e| AwsError::encode(what, &e))
}

fn json<T: serde::de::DeserializeOwned>(
    item: &Item,
    what: &'static str,
    name: &str,
) -> Result<T, AwsError> {
    serde_json::from_str(string(item, what, name)?)
        .map_err(|e| AwsError::malformed(what, format!("{name}: {}", AwsError::json(&e))))
}

/// One page of a query over a partition sorted oldest to newest by its sort key.
struct Query<'a> {
    table: &'a str,
    index: Option<&'static str>,
    partition: (&'static str, String),
    /// The sort key's name, and the condition on it (`#sk` and `:a`, `:b`) with its
    /// values; `None` for the whole partition.
    sort: (&'static str, Option<SortCondition>),
    /// Reads oldest first from the cursor (`ending_before`), then turns the page round.
    forward: bool,
    /// `#f` and `:f` in the expression: applied after DynamoDB's own limit.
    filter: Option<(&'static str, &'static str, AttributeValue)>,
}

struct SortCondition {
    expression: &'static str,
    values: Vec<(&'static str, AttributeValue)>,
}

impl SortCondition {
    fn new(expression: &'static str, values: Vec<(&'static str, AttributeValue)>) -> Self {
        Self { expression, values }
    }
}

impl DynamoEventStore {
    /// Up to `limit` matching items, newest first, and whether more match beyond them (a
    /// filter applies after DynamoDB's limit, so it reads on until it has `limit + 1`
    /// or runs out).
    async fn page(&self, query: Query<'_>, limit: usize) -> Result<(Vec<Item>, bool), AwsError> {
        let (sort_name, condition) = query.sort;
        let key_condition = match &condition {
            None => "#pk = :pk".to_owned(),
            Some(sort) => format!("#pk = :pk AND {}", sort.expression),
        };
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(query.table)
                .set_index_name(query.index.map(str::to_owned))
                .key_condition_expression(&key_condition)
                .expression_attribute_names("#pk", query.partition.0)
                .expression_attribute_values(":pk", s(query.partition.1.clone()))
                .scan_index_forward(query.forward)
                .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start);
            if let Some(sort) = &condition {
                request = request.expression_attribute_names("#sk", sort_name);
                for (name, value) in &sort.values {
                    request = request.expression_attribute_values(*name, value.clone());
                }
            }
            if let Some((expression, name, value)) = &query.filter {
                request = request
                    .filter_expression(*expression)
                    .expression_attribute_names("#f", *name)
                    .expression_attribute_values(":f", value.clone());
            }
            let output = request
                .send()
                .await
                .map_err(|e| AwsError::call("Query", &e))?;
            found.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() && found.len() <= limit => start = Some(key),
                _ => break,
            }
        }
        let has_more = found.len() > limit;
        found.truncate(limit);
        if query.forward {
            found.reverse();
        }
        Ok((found, has_more))
    }
}

#[async_trait]
impl Ledger for DynamoEventStore {
    async fn head(&self, merchant: &MerchantId) -> Result<LedgerHead, StoreError> {
        Ok(self.read_head(merchant).await?.head)
    }

    async fn entries(
        &self,
        merchant: &MerchantId,
        filter: EntryFilter,
        page: &PageRequest<u64>,
    ) -> Result<Page<LedgerEntry>, StoreError> {
        // Entries are 1..: the head (0) is never on a page.
        let (condition, forward) = match page.cursor {
            None => (
                SortCondition::new("#sk > :a", vec![(":a", n(HEAD_ITEM))]),
                false,
            ),
            Some(Cursor::StartingAfter(sequence)) if sequence <= 1 => {
                return Ok(Page {
                    data: Vec::new(),
                    has_more: false,
                });
            }
            Some(Cursor::StartingAfter(sequence)) => (
                SortCondition::new(
                    "#sk BETWEEN :a AND :b",
                    vec![(":a", n(1)), (":b", n(sequence - 1))],
                ),
                false,
            ),
            Some(Cursor::EndingBefore(sequence)) => (
                SortCondition::new("#sk > :a", vec![(":a", n(sequence))]),
                true,
            ),
        };
        let query = Query {
            table: &self.ledger_table,
            index: None,
            partition: (MERCHANT_ID, merchant.0.clone()),
            sort: (SEQUENCE, Some(condition)),
            forward,
            filter: match filter {
                EntryFilter::All => None,
                EntryFilter::Balance => Some(("#f <> :f", "amount", n(0))),
            },
        };
        let (items, has_more) = self.page(query, page.limit).await?;
        let data = items
            .iter()
            .map(|item| json(item, ENTRY, "entry"))
            .collect::<Result<_, _>>()?;
        Ok(Page { data, has_more })
    }
}

#[async_trait]
impl DepositList for DynamoEventStore {
    async fn deposits(
        &self,
        merchant: &MerchantId,
        direction: Direction,
        status: Option<DepositStatus>,
        page: &PageRequest<DepositId>,
    ) -> Result<Option<Page<DepositView>>, StoreError> {
        // The cursor must be one of the merchant's, going the same way; the list goes by
        // its key.
        let condition = match &page.cursor {
            None => None,
            Some(cursor) => {
                let view = EventStore::view(self, *cursor.key()).await?;
                let Some(view) =
                    view.filter(|v| &v.merchant_id == merchant && v.direction == direction)
                else {
                    return Ok(None);
                };
                let key = s(items::list_key(&view)?);
                Some(match cursor {
                    Cursor::StartingAfter(_) => SortCondition::new("#sk < :a", vec![(":a", key)]),
                    Cursor::EndingBefore(_) => SortCondition::new("#sk > :a", vec![(":a", key)]),
                })
            }
        };
        let query = Query {
            table: &self.deposits_table,
            index: Some(items::list_index(direction)),
            partition: (MERCHANT_ID, merchant.0.clone()),
            sort: (items::list_attribute(direction), condition),
            forward: matches!(page.cursor, Some(Cursor::EndingBefore(_))),
            filter: status.map(|status| ("#f = :f", STATUS, s(status.as_str()))),
        };
        let (found, has_more) = self.page(query, page.limit).await?;
        let data = found
            .iter()
            .map(items::view_from_item)
            .collect::<Result<_, _>>()?;
        Ok(Some(Page { data, has_more }))
    }
}
