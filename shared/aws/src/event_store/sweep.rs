//! The [`SweepIndex`] on the deposits table's two sparse global secondary indexes
//! (see [`items`](super::items) for the attributes, written in every append's
//! transaction):
//!
//! * `by_sweep_due` (`sweep_status`, `sweep_at`; includes `doc`): a deposit is in it
//!   only while pending, processing or submitted, so [`SweepIndex::stale`] is one `Query`
//!   per page: `sweep_status = :s AND sweep_at < :before`, longest-waiting first.
//!   [`SweepIndex::defer`] moves `sweep_at` to when the sweeper looked, conditioned on
//!   the version it saw.
//! * `by_outbox` (`outbox`, `updated_at`; includes `published_version`, `version`): a
//!   deposit is in it only while `published_version < version`, so
//!   [`SweepIndex::unpublished`] is the same kind of `Query`.
//!
//! Both are eventually consistent (as every GSI): a deposit may show up for a moment
//! after it left, so callers decide on fresh state ([`SweepIndex::publish_state`] is a
//! consistent read; the sweeper's commands reload the stream).

use super::dynamo::DynamoEventStore;
use super::items::{
    self, BY_OUTBOX, BY_SWEEP_DUE, DEPOSIT_ID, DOC, Item, OUTBOX, OUTBOX_PENDING,
    PUBLISHED_VERSION, SWEEP_AT, SWEEP_STATUS, UPDATED_AT, VERSION, n, s,
};
use crate::error::AwsError;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use paygate_domain::deposit::{DepositView, SweepKind};
use paygate_domain::ids::DepositId;
use paygate_domain::ports::{StoreError, SweepIndex, Unpublished};
use time::OffsetDateTime;

/// One of the deposits table's sparse indexes, queried across its partitions: the base
/// value and its shards ([`items::partition`]).
struct IndexQuery<'a> {
    index: &'static str,
    partition_attribute: &'static str,
    partition_base: &'a str,
    /// The sort key: a fixed-width UTC RFC 3339 timestamp.
    range_attribute: &'static str,
    /// The projection expression and the names it uses (`#placeholder`, attribute).
    projection: &'static str,
    projected: &'static [(&'static str, &'static str)],
}

// Each index query also reads the sort key (`#updated`) and the id: partitions are
// merged by them.
const VIEW_PROJECTION: &[(&str, &str)] = &[("#doc", DOC), ("#id", DEPOSIT_ID)];
const VIEW_EXPRESSION: &str = "#doc, #id, #updated";
const STATE_PROJECTION: &[(&str, &str)] = &[
    ("#id", DEPOSIT_ID),
    ("#published", PUBLISHED_VERSION),
    ("#v", VERSION),
];
const STATE_EXPRESSION: &str = "#id, #published, #v";
const INDEXED_STATE_EXPRESSION: &str = "#id, #published, #v, #updated";

impl DynamoEventStore {
    /// The index's items whose sort key is before `before`, oldest first, at most
    /// `limit`, over every partition (each gives its own oldest `limit`, and the oldest
    /// of those are the index's), each read by `parse`.
    async fn query_before<T>(
        &self,
        query: IndexQuery<'_>,
        before: OffsetDateTime,
        limit: usize,
        parse: impl Fn(&Item) -> Result<T, AwsError>,
    ) -> Result<Vec<T>, AwsError> {
        let mut found = Vec::new();
        for shard in 0..self.index_shards {
            let partition = items::partition(query.partition_base, shard);
            found.extend(
                self.query_partition(&query, &partition, before, limit)
                    .await?,
            );
        }
        if self.index_shards > 1 {
            let sort_key = |item: &Item| {
                let at = item.get(query.range_attribute).and_then(|v| v.as_s().ok());
                let id = item.get(DEPOSIT_ID).and_then(|v| v.as_s().ok());
                (at.cloned(), id.cloned())
            };
            found.sort_by_key(sort_key);
            found.truncate(limit);
        }
        found.iter().map(parse).collect()
    }

    /// An `UpdateItem` of the deposit's item in the deposits table (its read model, which
    /// holds the sweep and outbox attributes).
    fn update_deposit(&self, deposit: DepositId) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.deposits_table)
            .key(DEPOSIT_ID, s(deposit.0.to_string()))
    }

    /// One partition's items whose sort key is before `before`, oldest first, at most
    /// `limit`, following pages until `limit` is reached or the partition is exhausted.
    async fn query_partition(
        &self,
        query: &IndexQuery<'_>,
        partition: &str,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Item>, AwsError> {
        let mut found = Vec::new();
        if limit == 0 {
            return Ok(found);
        }
        let before = items::sortable_timestamp("sweep cut-off", before)?;
        let mut start_key = None;
        loop {
            let remaining = i32::try_from(limit - found.len()).unwrap_or(i32::MAX);
            let mut request = self
                .client
                .query()
                .table_name(&self.deposits_table)
                .index_name(query.index)
                .key_condition_expression("#partition = :partition AND #updated < :before")
                .expression_attribute_names("#partition", query.partition_attribute)
                .expression_attribute_names("#updated", query.range_attribute)
                .expression_attribute_values(":partition", s(partition))
                .expression_attribute_values(":before", s(before.clone()))
                .projection_expression(query.projection)
                .scan_index_forward(true)
                .limit(remaining)
                .set_exclusive_start_key(start_key);
            for (placeholder, attribute) in query.projected {
                request = request.expression_attribute_names(*placeholder, *attribute);
            }
            let page = request
                .send()
                .await
                .map_err(|e| AwsError::call("Query", &e))?;
            found.extend(page.items.unwrap_or_default());
            if found.len() >= limit {
                found.truncate(limit);
                break;
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => break,
            }
        }
        Ok(found)
    }

    /// Moves the mark from `[after, up_to)` to `up_to` on one conditional update. With
    /// `latest` it also takes the deposit out of the outbox index and requires `up_to`
    /// to be the deposit's version; without, it requires a later version (the deposit
    /// stays unpublished). `Ok(false)` when the condition does not hold.
    async fn move_mark(
        &self,
        deposit: DepositId,
        after: u64,
        up_to: u64,
        latest: bool,
    ) -> Result<bool, AwsError> {
        // A missing mark (an item written before there was one) counts as 0.
        let mark_in_range = if after == 0 {
            "(attribute_not_exists(#published) OR #published < :up)"
        } else {
            "#published >= :after AND #published < :up"
        };
        let (update, version) = if latest {
            ("SET #published = :up REMOVE #outbox", "#v = :up")
        } else {
            ("SET #published = :up", "#v > :up")
        };
        let mut request = self
            .update_deposit(deposit)
            .update_expression(update)
            .condition_expression(format!("{version} AND {mark_in_range}"))
            .expression_attribute_names("#published", PUBLISHED_VERSION)
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":up", n(up_to));
        if latest {
            request = request.expression_attribute_names("#outbox", OUTBOX);
        }
        if after != 0 {
            request = request.expression_attribute_values(":after", n(after));
        }
        AwsError::condition_held("UpdateItem", request.send().await)
    }
}

#[async_trait]
impl SweepIndex for DynamoEventStore {
    async fn stale(
        &self,
        kind: SweepKind,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<DepositView>, StoreError> {
        let query = IndexQuery {
            index: BY_SWEEP_DUE,
            partition_attribute: SWEEP_STATUS,
            partition_base: kind.as_str(),
            range_attribute: SWEEP_AT,
            projection: VIEW_EXPRESSION,
            projected: VIEW_PROJECTION,
        };
        let parse = items::view_from_item;
        Ok(self.query_before(query, before, limit, parse).await?)
    }

    /// One `UpdateItem`, conditioned on the version the sweeper saw and on the deposit
    /// still being indexed; a failed condition is no error (it changed meanwhile).
    async fn defer(
        &self,
        deposit: DepositId,
        version: u64,
        examined_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at = items::sortable_timestamp("sweep deferral", examined_at)?;
        let result = self
            .update_deposit(deposit)
            .update_expression("SET #sweep_at = :at")
            .condition_expression("#v = :v AND attribute_exists(#sweep)")
            .expression_attribute_names("#sweep_at", SWEEP_AT)
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_names("#sweep", SWEEP_STATUS)
            .expression_attribute_values(":at", s(at))
            .expression_attribute_values(":v", n(version))
            .send()
            .await;
        // A failed condition is no error: the deposit changed (or left) meanwhile.
        AwsError::condition_held("UpdateItem", result)?;
        Ok(())
    }

    async fn unpublished(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Unpublished>, StoreError> {
        let query = IndexQuery {
            index: BY_OUTBOX,
            partition_attribute: OUTBOX,
            partition_base: OUTBOX_PENDING,
            range_attribute: UPDATED_AT,
            projection: INDEXED_STATE_EXPRESSION,
            projected: STATE_PROJECTION,
        };
        let parse = items::unpublished_from_item;
        Ok(self.query_before(query, before, limit, parse).await?)
    }

    async fn publish_state(&self, deposit: DepositId) -> Result<Option<Unpublished>, StoreError> {
        let mut request = self
            .client
            .get_item()
            .table_name(&self.deposits_table)
            .key(DEPOSIT_ID, s(deposit.0.to_string()))
            .consistent_read(true)
            .projection_expression(STATE_EXPRESSION);
        for (placeholder, attribute) in STATE_PROJECTION {
            request = request.expression_attribute_names(*placeholder, *attribute);
        }
        let output = request
            .send()
            .await
            .map_err(|e| AwsError::call("GetItem", &e))?;
        Ok(output
            .item
            .as_ref()
            .map(items::unpublished_from_item)
            .transpose()?)
    }

    /// Usually one conditional `UpdateItem`: the publisher catches up to the latest
    /// version, so the first try (`version = up_to`) moves the mark and removes
    /// `outbox` together. DynamoDB cannot REMOVE an attribute conditionally within one
    /// update, so when an append came in between (`version > up_to`) a second
    /// conditional update moves only the mark. Each condition also holds the mark in
    /// `[after, up_to)`: never backwards, never over a gap.
    async fn mark_published(
        &self,
        deposit: DepositId,
        after: u64,
        up_to: u64,
    ) -> Result<bool, StoreError> {
        if up_to <= after {
            return Ok(false);
        }
        if self.move_mark(deposit, after, up_to, true).await? {
            return Ok(true);
        }
        Ok(self.move_mark(deposit, after, up_to, false).await?)
    }

    /// One conditional `UpdateItem`: the mark moves to `bus_version` and the deposit
    /// leaves the outbox index if `bus_version` is still the last append's bus version
    /// and the mark covers the one before it (a later append without bus events changes
    /// neither, so it does not stand in the way).
    async fn mark_outbox_published(
        &self,
        deposit: DepositId,
        bus_version: u64,
    ) -> Result<bool, StoreError> {
        let request = self
            .update_deposit(deposit)
            .update_expression("SET #published = :bus REMOVE #outbox")
            .condition_expression(
                "#bus = :bus AND #published >= #previous_bus AND #published < :bus",
            )
            .expression_attribute_names("#published", PUBLISHED_VERSION)
            .expression_attribute_names("#outbox", OUTBOX)
            .expression_attribute_names("#bus", items::BUS_VERSION)
            .expression_attribute_names("#previous_bus", items::PREVIOUS_BUS_VERSION)
            .expression_attribute_values(":bus", n(bus_version));
        Ok(AwsError::condition_held(
            "UpdateItem",
            request.send().await,
        )?)
    }
}
