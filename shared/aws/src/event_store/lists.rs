//! Paged reads, newest first: a merchant's ledger entries and its deposit or payout
//! lists (queries on a partition scoped to the merchant, never a scan).

use super::dynamo::DynamoEventStore;
use super::items::{self, Item, MERCHANT_ID, STATUS, n, s};
use super::ledger::{ENTRY, HEAD_ITEM, SEQUENCE, json};
use crate::error::AwsError;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use paygate_domain::deposit::{DepositStatus, Direction};
use paygate_domain::ledger::{LedgerEntry, LedgerHead, Movement};
use paygate_domain::page::{Cursor, Page, PageRequest};
use paygate_domain::ports::{DepositList, EntryFilter, EventStore, Ledger, StoreError};
use paygate_domain::{DepositId, DepositView, MerchantId};

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
    /// Up to `limit` matching items, newest first, each read by `parse`, and whether more
    /// match beyond them (a filter applies after DynamoDB's limit, so it reads on until it
    /// has `limit + 1` or runs out).
    async fn page<T>(
        &self,
        query: Query<'_>,
        limit: usize,
        parse: impl Fn(&Item) -> Result<T, AwsError>,
    ) -> Result<Page<T>, AwsError> {
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
        let data = found.iter().map(parse).collect::<Result<_, _>>()?;
        Ok(Page { data, has_more })
    }
}

#[async_trait]
impl Ledger for DynamoEventStore {
    async fn head(&self, merchant: &MerchantId) -> Result<LedgerHead, StoreError> {
        Ok(self.read_head(merchant, 0).await?.head)
    }

    async fn deferred(&self, merchant: &MerchantId) -> Result<Vec<Movement>, StoreError> {
        Ok(self.read_deferred(merchant).await?)
    }

    async fn entries(
        &self,
        merchant: &MerchantId,
        filter: EntryFilter,
        page: &PageRequest<u64>,
    ) -> Result<Page<LedgerEntry>, StoreError> {
        // Entries are 1..: the head (0) and deferred movements (below it) are never on a
        // page.
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
        let parse = |item: &Item| json(item, ENTRY, "entry");
        Ok(self.page(query, page.limit, parse).await?)
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
                let Some(view) = view.filter(|v| v.belongs_to(merchant, direction)) else {
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
        let parse = items::view_from_item;
        Ok(Some(self.page(query, page.limit, parse).await?))
    }
}
