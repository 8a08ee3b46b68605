//! Pure conversions between the domain's records and DynamoDB items.
//!
//! * events table, key (`stream_id` S = `deposit#<uuid>`, `version` N): `event_id` S,
//!   `event_type` S, `schema_version` N, `occurred_at` S (RFC 3339), `correlation_id` S,
//!   `causation_id` S (absent when none), `payload` S (the `DepositEvent` as JSON).
//! * deposits table (the read model), key `deposit_id` S: `merchant_id` S, `status` S,
//!   `version` N, `updated_at` S (fixed-width UTC RFC 3339, so it sorts as text),
//!   `doc` S (the `DepositView` as JSON), and for the sweeper's two sparse indexes:
//!   `sweep_status` S (the view's `SweepKind`: `pending`, `processing`, `submitted`, or
//!   `refunding` for a final deposit with refunds in flight; absent otherwise) and
//!   `sweep_at` S (`updated_at`, or when the sweeper last looked at it
//!   and left it; index `by_sweep_due` on `sweep_status` + `sweep_at`),
//!   `published_version` N (the stream version up to which events are on the bus,
//!   kept across appends) and `outbox` S (`pending`, present only while
//!   `published_version < version`; index `by_outbox` on `outbox` + `updated_at`), and
//!   `list_key` S (see [`list_key`]; index `by_merchant` on `merchant_id` + `list_key`).
//! * idempotency table, key `idempotency_key` S: `record` S (the record as JSON),
//!   `state` S (the `IdempotencyState` as JSON, authoritative), `expires_at` N (unix
//!   seconds, the table's TTL attribute).
//! * lookups table, key `lookup_key` S (`ExternalLookup::storage_key(gateway,
//!   external_id)`): `gateway` S, `external_id` S, `deposit_id` S, `merchant_id` S.

use crate::error::AwsError;
use aws_sdk_dynamodb::types::AttributeValue;
use paygate_domain::deposit::{DepositEvent, DepositView, Direction, RecordedEvent};
use paygate_domain::idempotency::{IdempotencyRecord, IdempotencyState};
use paygate_domain::ids::{CorrelationId, DepositId, EventId, MerchantId};
use paygate_domain::ports::{ExternalLookup, Unpublished};
use std::collections::HashMap;
use std::str::FromStr;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

pub(crate) use crate::dynamo::Item;

pub(crate) const STREAM_ID: &str = "stream_id";
pub(crate) const VERSION: &str = "version";
pub(crate) const DEPOSIT_ID: &str = "deposit_id";
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency_key";
pub(crate) const STATE: &str = "state";
pub(crate) const LOOKUP_KEY: &str = "lookup_key";
pub(crate) const UPDATED_AT: &str = "updated_at";
pub(crate) const DOC: &str = "doc";
pub(crate) const SWEEP_STATUS: &str = "sweep_status";
/// When the deposit's wait for the sweeper started: its last change, or the sweeper's
/// last look (`defer`). The sweep index's sort key.
pub(crate) const SWEEP_AT: &str = "sweep_at";
pub(crate) const PUBLISHED_VERSION: &str = "published_version";
pub(crate) const OUTBOX: &str = "outbox";
/// The version of the deposit's last bus event (0: none yet).
pub(crate) const BUS_VERSION: &str = "bus_version";
/// The `bus_version` before the last append that had bus events: publishing that
/// append's events may move the mark only if the mark is at least there.
pub(crate) const PREVIOUS_BUS_VERSION: &str = "previous_bus_version";
/// The only value of `outbox`: the index needs a partition key, and one is enough.
pub(crate) const OUTBOX_PENDING: &str = "pending";
/// Deposits table index: `sweep_status` (HASH), `sweep_at` (RANGE), includes `doc`.
pub(crate) const BY_SWEEP_DUE: &str = "by_sweep_due";
/// Deposits table index: `outbox` (HASH), `updated_at` (RANGE), includes
/// `published_version` and `version`.
pub(crate) const BY_OUTBOX: &str = "by_outbox";
pub(crate) const MERCHANT_ID: &str = "merchant_id";
pub(crate) const STATUS: &str = "status";
/// A deposit's place in its merchant's list: creation time (fixed width), `#`, its id.
pub(crate) const LIST_KEY: &str = "list_key";
/// Deposits table index: `merchant_id` (HASH), `list_key` (RANGE), includes `doc` and
/// `status`.
pub(crate) const BY_MERCHANT: &str = "by_merchant";
/// A payout's place in its merchant's payouts: as [`LIST_KEY`], on payouts only (so
/// each list is its own sparse index).
pub(crate) const PAYOUT_LIST_KEY: &str = "payout_list_key";
/// Deposits table index: `merchant_id` (HASH), `payout_list_key` (RANGE), as
/// [`BY_MERCHANT`].
pub(crate) const BY_MERCHANT_PAYOUTS: &str = "by_merchant_payouts";

/// The index a merchant's list of `direction` is read from.
pub(crate) fn list_index(direction: Direction) -> &'static str {
    match direction {
        Direction::Deposit => BY_MERCHANT,
        Direction::Payout => BY_MERCHANT_PAYOUTS,
    }
}

/// The attribute that puts a view in [`list_index`]'s list.
pub(crate) fn list_attribute(direction: Direction) -> &'static str {
    match direction {
        Direction::Deposit => LIST_KEY,
        Direction::Payout => PAYOUT_LIST_KEY,
    }
}

const STREAM_PREFIX: &str = "deposit#";
const EVENT: &str = "event";
const VIEW: &str = "deposit view";
const RECORD: &str = "idempotency record";
const LOOKUP: &str = "external id lookup";

/// The events table's partition key of a deposit's stream.
pub(crate) fn stream_id(deposit: DepositId) -> String {
    format!("{STREAM_PREFIX}{}", deposit.0)
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn event_to_item(event: &RecordedEvent) -> Result<Item, AwsError> {
    let payload =
        serde_json::to_string(&event.event).map_err(|e| AwsError::encode("event payload", &e))?;
    let mut item = Item::from([
        (STREAM_ID.into(), s(stream_id(event.deposit_id))),
        (VERSION.into(), n(event.version)),
        ("event_id".into(), s(event.event_id.0.to_string())),
        ("event_type".into(), s(event.event.kind())),
        ("schema_version".into(), n(event.schema_version)),
        ("occurred_at".into(), s(rfc3339(EVENT, event.occurred_at)?)),
        ("correlation_id".into(), s(event.correlation_id.0.clone())),
        ("payload".into(), s(payload)),
    ]);
    if let Some(causation) = &event.causation_id {
        item.insert("causation_id".into(), s(causation.clone()));
    }
    Ok(item)
}

pub(crate) fn event_from_item(item: &Item) -> Result<RecordedEvent, AwsError> {
    let stream = string(item, EVENT, STREAM_ID)?;
    let deposit_id = stream
        .strip_prefix(STREAM_PREFIX)
        .and_then(DepositId::parse)
        .ok_or_else(|| AwsError::malformed(EVENT, "stream_id is not deposit#<uuid>"))?;
    let event_id = EventId::parse(string(item, EVENT, "event_id")?)
        .ok_or_else(|| AwsError::malformed(EVENT, "event_id is not a uuid"))?;
    let event: DepositEvent = serde_json::from_str(string(item, EVENT, "payload")?)
        .map_err(|e| AwsError::malformed(EVENT, format!("payload: {}", AwsError::json(&e))))?;
    let event_type = string(item, EVENT, "event_type")?;
    if event_type != event.kind() {
        return Err(AwsError::malformed(
            EVENT,
            format!("event_type {event_type} does not match its payload"),
        ));
    }
    Ok(RecordedEvent {
        deposit_id,
        version: number(item, EVENT, VERSION)?,
        event_id,
        schema_version: number(item, EVENT, "schema_version")?,
        occurred_at: timestamp(item, EVENT, "occurred_at")?,
        correlation_id: CorrelationId(string(item, EVENT, "correlation_id")?.to_owned()),
        causation_id: optional_string(item, EVENT, "causation_id")?.map(str::to_owned),
        event,
    })
}

/// The read model's `UpdateItem` for an append (without key and condition). An update,
/// not a put: a put would wipe `published_version`, which only the publisher moves.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ViewUpdate {
    pub expression: String,
    /// `#placeholder` → attribute name.
    pub names: HashMap<String, String>,
    /// `:placeholder` → value.
    pub values: Item,
}

/// Writes the view's attributes, moves it into (or out of) the status index, starts
/// `published_version` at 0 for a new deposit (else keeps it). An append with bus events
/// (`bus_version`: the last one's version) puts the deposit in the outbox index and
/// records that version, keeping the previous one; an append without leaves both as
/// they are (a new deposit starts them at 0).
pub(crate) fn view_update(
    view: &DepositView,
    shards: u32,
    expected_version: u64,
    bus_version: Option<u64>,
) -> Result<ViewUpdate, AwsError> {
    let shard = shard_of(view.id, shards);
    let doc = serde_json::to_string(view).map_err(|e| AwsError::encode(VIEW, &e))?;
    let mut names = HashMap::from(
        [
            ("#merchant", "merchant_id"),
            ("#status", "status"),
            ("#v", VERSION),
            ("#updated", UPDATED_AT),
            ("#doc", DOC),
            ("#sweep", SWEEP_STATUS),
            ("#sweep_at", SWEEP_AT),
            ("#published", PUBLISHED_VERSION),
            ("#list", list_attribute(view.direction)),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let mut values = Item::from([
        (":merchant".into(), s(view.merchant_id.0.clone())),
        (":status".into(), s(view.status.as_str())),
        (":v".into(), n(view.version)),
        (
            ":updated".into(),
            s(sortable_timestamp(VIEW, view.updated_at)?),
        ),
        (":doc".into(), s(doc)),
        (":zero".into(), n(0)),
        (":list".into(), s(list_key(view)?)),
    ]);
    let mut expression = "SET #merchant = :merchant, #status = :status, #v = :v, \
                          #updated = :updated, #doc = :doc, \
                          #published = if_not_exists(#published, :zero), #list = :list"
        .to_owned();
    let mut name = |placeholder: &str, attribute: &str| {
        names.insert(placeholder.to_owned(), attribute.to_owned());
    };
    if expected_version == 0 || bus_version.is_some() {
        name("#bus", BUS_VERSION);
        name("#previous_bus", PREVIOUS_BUS_VERSION);
        values.insert(":bus".into(), n(bus_version.unwrap_or(0)));
        expression.push_str(if expected_version == 0 {
            ", #previous_bus = :zero, #bus = :bus"
        } else {
            // Items written before bus versions existed: everything up to their version
            // counts as possibly pending.
            ", #previous_bus = if_not_exists(#bus, #v), #bus = :bus"
        });
    }
    if bus_version.is_some() {
        name("#outbox", OUTBOX);
        values.insert(":pending".into(), s(partition(OUTBOX_PENDING, shard)));
        expression.push_str(", #outbox = :pending");
    }
    match view.sweep_kind() {
        Some(kind) => {
            // A change restarts the wait: whatever the sweeper deferred is moot now.
            expression.push_str(", #sweep = :sweep, #sweep_at = :updated");
            values.insert(":sweep".into(), s(partition(kind.as_str(), shard)));
        }
        None => expression.push_str(" REMOVE #sweep, #sweep_at"),
    }
    Ok(ViewUpdate {
        expression,
        names,
        values,
    })
}

/// Which of `shards` index partitions a deposit's index entries go to: its id's low bits
/// (random in a UUIDv7), so entries spread evenly and a deposit always lands in the same
/// one.
pub(crate) fn shard_of(deposit: DepositId, shards: u32) -> u32 {
    (deposit.0.as_u128() % u128::from(shards.max(1))) as u32
}

/// A sparse index's partition value: `base` for shard 0 (what a single partition, and
/// every item written before sharding, holds), `base#<shard>` for the others.
pub(crate) fn partition(base: &str, shard: u32) -> String {
    if shard == 0 {
        base.to_owned()
    } else {
        format!("{base}#{shard}")
    }
}

/// A deposit's publish state from an item holding `deposit_id`, `version` and maybe
/// `published_version` (absent on items written before there was one: nothing
/// published yet).
pub(crate) fn unpublished_from_item(item: &Item) -> Result<Unpublished, AwsError> {
    let deposit_id = DepositId::parse(string(item, VIEW, DEPOSIT_ID)?)
        .ok_or_else(|| AwsError::malformed(VIEW, "deposit_id is not a uuid"))?;
    let published_version = match item.get(PUBLISHED_VERSION) {
        None => 0,
        Some(_) => number(item, VIEW, PUBLISHED_VERSION)?,
    };
    Ok(Unpublished {
        deposit_id,
        published_version,
        version: number(item, VIEW, VERSION)?,
    })
}

/// `at` in UTC as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`: valid RFC 3339 of fixed width, so
/// text order is time order (the indexes' sort key). Plain RFC 3339 formatting is not:
/// it drops a zero fraction (`…:00Z` sorts after `…:00.5Z`) and keeps the offset.
pub(crate) fn sortable_timestamp(
    what: &'static str,
    at: OffsetDateTime,
) -> Result<String, AwsError> {
    let out_of_range = || AwsError::Encode {
        what,
        detail: "timestamp: outside years 0000-9999".into(),
    };
    let utc = at
        .checked_to_offset(UtcOffset::UTC)
        .ok_or_else(out_of_range)?;
    if !(0..=9999).contains(&utc.year()) {
        return Err(out_of_range());
    }
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.nanosecond()
    ))
}

/// The view's [`LIST_KEY`]: text order is creation order, ties broken by id (the order
/// the memory store lists in).
pub(crate) fn list_key(view: &DepositView) -> Result<String, AwsError> {
    Ok(format!(
        "{}#{}",
        sortable_timestamp(VIEW, view.created_at)?,
        view.id.0
    ))
}

pub(crate) fn view_from_item(item: &Item) -> Result<DepositView, AwsError> {
    serde_json::from_str(string(item, VIEW, "doc")?)
        .map_err(|e| AwsError::malformed(VIEW, format!("doc: {}", AwsError::json(&e))))
}

pub(crate) fn state_json(state: &IdempotencyState) -> Result<String, AwsError> {
    serde_json::to_string(state).map_err(|e| AwsError::encode("idempotency state", &e))
}

pub(crate) fn idempotency_to_item(record: &IdempotencyRecord) -> Result<Item, AwsError> {
    let json = serde_json::to_string(record).map_err(|e| AwsError::encode(RECORD, &e))?;
    Ok(Item::from([
        (
            IDEMPOTENCY_KEY.into(),
            s(IdempotencyRecord::storage_key(
                &record.merchant_id,
                &record.key,
            )),
        ),
        ("record".into(), s(json)),
        (STATE.into(), s(state_json(&record.state)?)),
        ("expires_at".into(), n(record.expires_at.unix_timestamp())),
    ]))
}

/// The record, with its state taken from the `state` attribute (the one that
/// transitions update).
pub(crate) fn idempotency_from_item(item: &Item) -> Result<IdempotencyRecord, AwsError> {
    let mut record: IdempotencyRecord = serde_json::from_str(string(item, RECORD, "record")?)
        .map_err(|e| AwsError::malformed(RECORD, format!("record: {}", AwsError::json(&e))))?;
    record.state = serde_json::from_str(string(item, RECORD, STATE)?)
        .map_err(|e| AwsError::malformed(RECORD, format!("state: {}", AwsError::json(&e))))?;
    Ok(record)
}

pub(crate) fn lookup_to_item(lookup: &ExternalLookup) -> Item {
    Item::from([
        (
            LOOKUP_KEY.into(),
            s(ExternalLookup::storage_key(
                &lookup.gateway,
                &lookup.external_id,
            )),
        ),
        ("gateway".into(), s(lookup.gateway.clone())),
        ("external_id".into(), s(lookup.external_id.clone())),
        (DEPOSIT_ID.into(), s(lookup.deposit_id.0.to_string())),
        ("merchant_id".into(), s(lookup.merchant_id.0.clone())),
    ])
}

pub(crate) fn lookup_from_item(item: &Item) -> Result<ExternalLookup, AwsError> {
    let deposit_id = DepositId::parse(string(item, LOOKUP, DEPOSIT_ID)?)
        .ok_or_else(|| AwsError::malformed(LOOKUP, "deposit_id is not a uuid"))?;
    Ok(ExternalLookup {
        gateway: string(item, LOOKUP, "gateway")?.to_owned(),
        external_id: string(item, LOOKUP, "external_id")?.to_owned(),
        deposit_id,
        merchant_id: MerchantId(string(item, LOOKUP, "merchant_id")?.to_owned()),
    })
}

fn rfc3339(what: &'static str, at: OffsetDateTime) -> Result<String, AwsError> {
    at.format(&Rfc3339).map_err(|e| AwsError::Encode {
        what,
        detail: format!("timestamp: {e}"),
    })
}

fn optional_string<'a>(
    item: &'a Item,
    what: &'static str,
    name: &str,
) -> Result<Option<&'a str>, AwsError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value)),
        Some(_) => Err(AwsError::malformed(what, format!("{name} is not a string"))),
    }
}

pub(crate) fn string<'a>(
    item: &'a Item,
    what: &'static str,
    name: &str,
) -> Result<&'a str, AwsError> {
    optional_string(item, what, name)?
        .ok_or_else(|| AwsError::malformed(what, format!("{name} is missing")))
}

pub(crate) fn number<T: FromStr>(
    item: &Item,
    what: &'static str,
    name: &str,
) -> Result<T, AwsError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| AwsError::malformed(what, format!("{name} is out of range"))),
        Some(_) => Err(AwsError::malformed(what, format!("{name} is not a number"))),
        None => Err(AwsError::malformed(what, format!("{name} is missing"))),
    }
}

fn timestamp(item: &Item, what: &'static str, name: &str) -> Result<OffsetDateTime, AwsError> {
    OffsetDateTime::parse(string(item, what, name)?, &Rfc3339)
        .map_err(|_| AwsError::malformed(what, format!("{name} is not an RFC 3339 timestamp")))
}

#[cfg(test)]
mod tests;
