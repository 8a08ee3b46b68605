//! The event store on DynamoDB: one stream per deposit in the events table, the read
//! model, the idempotency claims and the external-id lookups beside it, every append one
//! `TransactWriteItems`.

use super::cancellation::{self, Layout};
use super::items::{
    self, DEPOSIT_ID, IDEMPOTENCY_KEY, Item, LOOKUP_KEY, STATE, STREAM_ID, n, s, stream_id,
};
use super::ledger::{FOLD_EVERY, Post, Posting};
use crate::config::Resources;
use crate::dynamo::{get_consistent, random, random_pause};
use crate::error::AwsError;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use paygate_domain::deposit::{DepositView, RecordedEvent};
use paygate_domain::idempotency::{IdempotencyKey, IdempotencyRecord, IdempotencyTransition};
use paygate_domain::ids::{DepositId, MerchantId};
use paygate_domain::ledger::Movement;
use paygate_domain::ports::{AppendBatch, AppendError, EventStore, ExternalLookup, StoreError};

/// DynamoDB's limit on the items of one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// [`EventStore`] on five DynamoDB tables (events, deposits, idempotency, lookups,
/// ledger).
#[derive(Debug, Clone)]
pub struct DynamoEventStore {
    pub(super) client: Client,
    events_table: String,
    pub(super) deposits_table: String,
    idempotency_table: String,
    lookups_table: String,
    pub(super) ledger_table: String,
    pub(super) index_shards: u32,
    page_size: Option<i32>,
}

impl DynamoEventStore {
    /// Uses the events, deposits, idempotency, lookups and ledger tables named in
    /// `resources`.
    pub fn new(client: Client, resources: &Resources) -> Self {
        Self {
            client,
            events_table: resources.events_table.clone(),
            deposits_table: resources.deposits_table.clone(),
            idempotency_table: resources.idempotency_table.clone(),
            lookups_table: resources.lookups_table.clone(),
            ledger_table: resources.ledger_table.clone(),
            index_shards: resources.index_shards,
            page_size: None,
        }
    }

    /// Reads streams `events` items per `Query` page (default: DynamoDB's 1 MB pages),
    /// so tests can exercise paging with short streams.
    pub fn with_page_size(mut self, events: i32) -> Self {
        self.page_size = Some(events.max(1));
        self
    }

    fn put(&self, table: &str, item: Item, condition: &str) -> Result<TransactWriteItem, AwsError> {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(condition)
            .build()
            .map_err(|e| AwsError::Build {
                operation: "TransactWriteItems",
                detail: e.to_string(),
            })?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Records `lookup` unless its external id already points at another deposit
    /// (re-recording the same mapping just rewrites it).
    fn lookup_put(&self, lookup: &ExternalLookup) -> Result<TransactWriteItem, AwsError> {
        let put = Put::builder()
            .table_name(&self.lookups_table)
            .set_item(Some(items::lookup_to_item(lookup)))
            .condition_expression("attribute_not_exists(#k) OR #d = :d")
            .expression_attribute_names("#k", LOOKUP_KEY)
            .expression_attribute_names("#d", DEPOSIT_ID)
            .expression_attribute_values(":d", s(lookup.deposit_id.0.to_string()))
            .build()
            .map_err(|e| AwsError::Build {
                operation: "TransactWriteItems",
                detail: e.to_string(),
            })?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The transaction's items in [`Layout`] order: events, read model, claim, lookups,
    /// ledger.
    fn transaction(
        &self,
        batch: &AppendBatch,
        ledger: &LedgerPart,
    ) -> Result<Vec<TransactWriteItem>, AwsError> {
        let mut writes = Vec::with_capacity(layout(batch, ledger).items());
        for event in &batch.events {
            writes.push(self.put(
                &self.events_table,
                items::event_to_item(event)?,
                "attribute_not_exists(stream_id)",
            )?);
        }
        writes.push(self.view_update(batch)?);
        if let Some(record) = &batch.idempotency {
            writes.push(self.put(
                &self.idempotency_table,
                items::idempotency_to_item(record)?,
                "attribute_not_exists(idempotency_key)",
            )?);
        }
        for lookup in unique_lookups(batch) {
            writes.push(self.lookup_put(lookup)?);
        }
        match ledger {
            LedgerPart::Nothing => {}
            LedgerPart::Posted(posting) => writes.extend(self.ledger_writes(posting)?),
            LedgerPart::Deferred => {
                writes.extend(self.deferred_writes(&batch.view.merchant_id, &batch.ledger)?);
            }
        }
        Ok(writes)
    }

    /// The read model's write: an `Update` (keeping `published_version`) on the condition
    /// that the deposit is new (version 0) or still at the batch's expected version.
    fn view_update(&self, batch: &AppendBatch) -> Result<TransactWriteItem, AwsError> {
        let items::ViewUpdate {
            expression,
            mut names,
            mut values,
        } = items::view_update(
            &batch.view,
            self.index_shards,
            batch.expected_version,
            batch.outbox.as_ref().map(|outbox| outbox.version),
        )?;
        let condition = if batch.expected_version == 0 {
            names.insert("#id".into(), DEPOSIT_ID.into());
            "attribute_not_exists(#id)"
        } else {
            values.insert(":expected".into(), n(batch.expected_version));
            "#v = :expected"
        };
        let update = Update::builder()
            .table_name(&self.deposits_table)
            .key(DEPOSIT_ID, s(batch.deposit_id.0.to_string()))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| AwsError::Build {
                operation: "TransactWriteItems",
                detail: e.to_string(),
            })?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// What an append writes in the ledger.
enum LedgerPart {
    /// The batch moves no money.
    Nothing,
    /// Its movements, posted through the merchant's head (with deferred ones before them).
    Posted(Posting),
    /// Its movements, each a deferred item: they lost the head and cannot overdraw.
    Deferred,
}

/// The transaction's layout with that ledger part.
fn layout(batch: &AppendBatch, ledger: &LedgerPart) -> Layout {
    Layout {
        ledger: match ledger {
            LedgerPart::Nothing => 0,
            LedgerPart::Posted(posting) => posting.items(),
            LedgerPart::Deferred => batch.ledger.len(),
        },
        ..least_layout(batch)
    }
}

/// The smallest layout of the batch: a head and one entry per movement when it has
/// movements, no deferred movement numbered with them.
fn least_layout(batch: &AppendBatch) -> Layout {
    Layout {
        events: batch.events.len(),
        idempotency: batch.idempotency.is_some(),
        lookups: unique_lookups(batch).len(),
        ledger: if batch.ledger.is_empty() {
            0
        } else {
            1 + batch.ledger.len()
        },
    }
}

/// How many times an append posts again after losing the ledger head to another append
/// of the same merchant, and the most it waits in between.
const LEDGER_RACES: u32 = 200;
const LEDGER_BACKOFF_CAP_MS: u64 = 400;

/// The batch's lookups, each external id once (a transaction may not touch an item
/// twice), in the batch's order.
fn unique_lookups(batch: &AppendBatch) -> Vec<&ExternalLookup> {
    let mut unique: Vec<&ExternalLookup> = Vec::with_capacity(batch.lookups.len());
    for lookup in &batch.lookups {
        let seen = unique
            .iter()
            .any(|l| l.gateway == lookup.gateway && l.external_id == lookup.external_id);
        if !seen {
            unique.push(lookup);
        }
    }
    unique
}

/// Checks what the transaction's conditions cannot: the batch describes one gapless
/// run of the deposit's stream and fits in one transaction.
fn validate(batch: &AppendBatch) -> Result<(), AwsError> {
    let needed = least_layout(batch).items();
    if needed > MAX_TRANSACTION_ITEMS {
        return Err(AwsError::TooManyItems {
            needed,
            max: MAX_TRANSACTION_ITEMS,
        });
    }
    if batch.events.is_empty() {
        return Err(AwsError::InvalidBatch("no events to append".into()));
    }
    for (offset, event) in batch.events.iter().enumerate() {
        let expected = batch.expected_version + 1 + offset as u64;
        if event.deposit_id != batch.deposit_id || event.version != expected {
            return Err(AwsError::InvalidBatch(format!(
                "event {offset} is not version {expected} of the batch's stream"
            )));
        }
    }
    if batch.view.id != batch.deposit_id {
        return Err(AwsError::InvalidBatch(
            "the view belongs to another deposit".into(),
        ));
    }
    if let Some(index) = batch
        .lookups
        .iter()
        .position(|l| l.deposit_id != batch.deposit_id)
    {
        return Err(AwsError::InvalidBatch(format!(
            "lookup {index} points at another deposit than the batch's"
        )));
    }
    Ok(())
}

#[async_trait]
impl EventStore for DynamoEventStore {
    async fn load(&self, deposit: DepositId) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut events = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.events_table)
                .key_condition_expression("#s = :s")
                .expression_attribute_names("#s", STREAM_ID)
                .expression_attribute_values(":s", s(stream_id(deposit)))
                .consistent_read(true)
                .scan_index_forward(true)
                .set_limit(self.page_size)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| AwsError::call("Query", &e))?;
            for item in page.items() {
                events.push(items::event_from_item(item)?);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => break,
            }
        }
        Ok(events)
    }

    async fn append(&self, batch: AppendBatch) -> Result<(), AppendError> {
        validate(&batch)?;
        let merchant = &batch.view.merchant_id;
        // The items left for deferred movements numbered along with the batch's own.
        let room = MAX_TRANSACTION_ITEMS - least_layout(&batch).items() + 1 + batch.ledger.len();
        let may_wait = batch.ledger.iter().all(Movement::never_overdraws);
        // `Some(n)` once the batch's movements wait as deferred items: `n` others waited.
        let (mut races, mut deferred) = (0, None);
        loop {
            let ledger = if batch.ledger.is_empty() {
                LedgerPart::Nothing
            } else if deferred.is_some() {
                LedgerPart::Deferred
            } else {
                match self.post(merchant, &batch.ledger, room, may_wait).await?? {
                    Post::Through(posting) => LedgerPart::Posted(posting),
                    Post::Wait { waiting } => {
                        deferred = Some(waiting);
                        LedgerPart::Deferred
                    }
                }
            };
            let writes = self.transaction(&batch, &ledger)?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes))
                .send()
                .await;
            let err = match result {
                Ok(_) => {
                    if deferred.is_some_and(should_fold) {
                        // Number what waits, if the head is free; else its holder will.
                        if let Err(err) = self.fold_deferred(merchant).await {
                            tracing::warn!(error = %err, "deferred ledger movements left for the next posting");
                        }
                    }
                    return Ok(());
                }
                Err(err) => err,
            };
            match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let codes: Vec<Option<&str>> = cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|reason| reason.code())
                        .collect();
                    let (message, layout) = (cancelled.message(), layout(&batch, &ledger));
                    if cancellation::lost_only_the_ledger(&codes, message, layout) {
                        // Another append of the merchant posted first.
                        if may_wait && deferred.is_none() {
                            // Nothing to check against the head: accept it now, number
                            // it later.
                            deferred = Some(0);
                            continue;
                        }
                        if races < LEDGER_RACES {
                            // Post again on the head that won.
                            races += 1;
                            tokio::time::sleep(jitter(races)).await;
                            continue;
                        }
                    }
                    return Err(cancellation::classify(&codes, message, layout));
                }
                _ if outcome_unknown(&err) => {
                    return Err(AppendError::Ambiguous(
                        AwsError::call("TransactWriteItems", &err).into(),
                    ));
                }
                _ => return Err(AwsError::call("TransactWriteItems", &err).into()),
            }
        }
    }

    async fn view(&self, deposit: DepositId) -> Result<Option<DepositView>, StoreError> {
        let (table, id) = (&self.deposits_table, deposit.0.to_string());
        let parse = items::view_from_item;
        Ok(get_consistent(&self.client, table, DEPOSIT_ID, id, parse).await?)
    }

    async fn find_by_external_id(
        &self,
        gateway: &str,
        external_id: &str,
    ) -> Result<Option<ExternalLookup>, StoreError> {
        let table = &self.lookups_table;
        let key = ExternalLookup::storage_key(gateway, external_id);
        let parse = items::lookup_from_item;
        Ok(get_consistent(&self.client, table, LOOKUP_KEY, key, parse).await?)
    }

    async fn idempotency_record(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let table = &self.idempotency_table;
        let key = IdempotencyRecord::storage_key(merchant, key);
        let parse = items::idempotency_from_item;
        Ok(get_consistent(&self.client, table, IDEMPOTENCY_KEY, key, parse).await?)
    }

    async fn transition_idempotency(
        &self,
        transition: IdempotencyTransition<'_>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.idempotency_table)
            .key(IDEMPOTENCY_KEY, s(transition.storage_key()))
            .update_expression("SET #state = :next")
            .condition_expression("#state = :expected")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_values(":next", s(items::state_json(transition.next)?))
            .expression_attribute_values(":expected", s(items::state_json(transition.expected)?))
            .send()
            .await;
        Ok(AwsError::condition_held("UpdateItem", result)?)
    }
}

/// Whether a deferred append that saw `waiting` others should number them: the one
/// that makes a batch of [`FOLD_EVERY`], or by chance one in [`FOLD_EVERY`] (what a read
/// counts is capped, and writers that all saw the same count must not all fold).
fn should_fold(waiting: usize) -> bool {
    waiting + 1 == FOLD_EVERY || random().is_multiple_of(FOLD_EVERY as u64)
}

/// A random wait before posting again, growing with the races lost, so writers of one
/// merchant spread out instead of colliding again.
fn jitter(races: u32) -> std::time::Duration {
    random_pause((2u64 << races.min(10)).min(LEDGER_BACKOFF_CAP_MS))
}

/// Whether a failed `TransactWriteItems` may still have committed: the request may have
/// reached DynamoDB and the answer was lost (a timeout, a broken connection, an
/// unreadable reply) or DynamoDB itself says it does not know (`InternalServerError`, a
/// 5xx). Throttling, validation and cancellation answers mean nothing was written.
fn outcome_unknown<R: std::fmt::Debug>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            matches!(
                service.err(),
                TransactWriteItemsError::InternalServerError(_)
            ) || service.err().meta().code() == Some("InternalServerError")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn failure() -> Box<dyn std::error::Error + Send + Sync> {
        "boom".into()
    }

    #[test]
    fn a_lost_answer_is_unknown_and_a_request_never_built_is_not() {
        let timeout: SdkError<TransactWriteItemsError, ()> = SdkError::timeout_error(failure());
        assert!(outcome_unknown(&timeout));
        let unbuilt: SdkError<TransactWriteItemsError, ()> =
            SdkError::construction_failure(failure());
        assert!(!outcome_unknown(&unbuilt));
    }

    fn batch(events: Vec<RecordedEvent>, expected_version: u64) -> AppendBatch {
        AppendBatch {
            deposit_id: fixtures::deposit_id(),
            expected_version,
            view: fixtures::view(events.len() + expected_version as usize),
            events,
            idempotency: Some(fixtures::idempotency_record()),
            lookups: Vec::new(),
            ledger: Vec::new(),
            outbox: None,
        }
    }

    fn lookup(external_id: &str) -> ExternalLookup {
        ExternalLookup {
            gateway: "psp_a".into(),
            external_id: external_id.into(),
            deposit_id: fixtures::deposit_id(),
            merchant_id: MerchantId("m-1".into()),
        }
    }

    #[test]
    fn lookups_must_point_at_the_batch_deposit_and_go_last_once_each() {
        let mut with_lookups = batch(fixtures::stream(2), 0);
        with_lookups.lookups = vec![lookup("pay_1"), lookup("pay_2"), lookup("pay_1")];
        assert!(validate(&with_lookups).is_ok());
        let unique: Vec<_> = unique_lookups(&with_lookups)
            .into_iter()
            .map(|l| l.external_id.as_str())
            .collect();
        assert_eq!(unique, ["pay_1", "pay_2"]);
        assert_eq!(
            least_layout(&with_lookups),
            Layout {
                events: 2,
                idempotency: true,
                lookups: 2,
                ledger: 0,
            }
        );
        // Same external id at another gateway is another item.
        with_lookups.lookups.push(ExternalLookup {
            gateway: "psp_b".into(),
            ..lookup("pay_1")
        });
        assert_eq!(least_layout(&with_lookups).lookups, 3);

        with_lookups.lookups[1].deposit_id = DepositId(uuid::Uuid::from_u128(7));
        assert!(matches!(
            validate(&with_lookups),
            Err(AwsError::InvalidBatch(_))
        ));
    }

    #[test]
    fn batches_must_be_gapless_runs_of_one_stream() {
        assert!(validate(&batch(fixtures::stream(2), 0)).is_ok());
        let second = fixtures::stream(2).split_off(1);
        assert!(validate(&batch(second.clone(), 1)).is_ok());
        assert!(matches!(
            validate(&batch(second, 0)),
            Err(AwsError::InvalidBatch(_))
        ));
        assert!(matches!(
            validate(&batch(Vec::new(), 1)),
            Err(AwsError::InvalidBatch(_))
        ));
    }

    #[test]
    fn batches_over_the_transaction_limit_are_refused() {
        let first = fixtures::stream(1).remove(0);
        let events: Vec<RecordedEvent> = (0..99)
            .map(|i| RecordedEvent {
                version: i + 1,
                ..first.clone()
            })
            .collect();
        let mut big = batch(events, 0);
        big.view = fixtures::view(1);
        // 99 events + view + claim = 101 items.
        assert!(matches!(
            validate(&big),
            Err(AwsError::TooManyItems { needed: 101, .. })
        ));
        big.idempotency = None;
        assert!(validate(&big).is_ok());
        // Lookups count too: 99 events + view + 1 lookup = 101.
        big.lookups = vec![lookup("pay_1")];
        assert!(matches!(
            validate(&big),
            Err(AwsError::TooManyItems { needed: 101, .. })
        ));
        // ... but the same external id twice is one item.
        big.events.pop();
        big.view = fixtures::view(1);
        big.lookups = vec![lookup("pay_1"), lookup("pay_1")];
        assert_eq!(least_layout(&big).items(), 100);
        assert!(validate(&big).is_ok());
        let err: AppendError = AwsError::TooManyItems {
            needed: 101,
            max: 100,
        }
        .into();
        assert!(matches!(err, AppendError::Store(_)));
    }
}
