//! Pure conversions between the domain's records and DynamoDB items.
//!
//! * events table, key (`stream_id` S = `deposit#<uuid>`, `version` N): `event_id` S,
//!   `event_type` S, `schema_version` N, `occurred_at` S (RFC 3339), `correlation_id` S,
//!   `causation_id` S (absent when none), `payload` S (the `DepositEvent` as JSON).
//! * deposits table (the read model), key `deposit_id` S: `merchant_id` S, `status` S,
//!   `version` N, `updated_at` S, `doc` S (the `DepositView` as JSON).
//! * idempotency table, key `idempotency_key` S: `record` S (the record as JSON),
//!   `state` S (the `IdempotencyState` as JSON, authoritative), `expires_at` N (unix
//!   seconds, the table's TTL attribute).
//! * lookups table, key `lookup_key` S (`ExternalLookup::storage_key(gateway,
//!   external_id)`): `gateway` S, `external_id` S, `deposit_id` S, `merchant_id` S.

use crate::error::AwsError;
use aws_sdk_dynamodb::types::AttributeValue;
use paygate_domain::deposit::{DepositEvent, DepositView, RecordedEvent};
use paygate_domain::idempotency::{IdempotencyRecord, IdempotencyState};
use paygate_domain::ids::{CorrelationId, DepositId, EventId, MerchantId};
use paygate_domain::ports::ExternalLookup;
use std::collections::HashMap;
use std::str::FromStr;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const STREAM_ID: &str = "stream_id";
pub(crate) const VERSION: &str = "version";
pub(crate) const DEPOSIT_ID: &str = "deposit_id";
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency_key";
pub(crate) const STATE: &str = "state";
pub(crate) const LOOKUP_KEY: &str = "lookup_key";

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

pub(crate) fn view_to_item(view: &DepositView) -> Result<Item, AwsError> {
    let doc = serde_json::to_string(view).map_err(|e| AwsError::encode(VIEW, &e))?;
    Ok(Item::from([
        (DEPOSIT_ID.into(), s(view.id.0.to_string())),
        ("merchant_id".into(), s(view.merchant_id.0.clone())),
        ("status".into(), s(view.status.as_str())),
        (VERSION.into(), n(view.version)),
        ("updated_at".into(), s(rfc3339(VIEW, view.updated_at)?)),
        ("doc".into(), s(doc)),
    ]))
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

fn string<'a>(item: &'a Item, what: &'static str, name: &str) -> Result<&'a str, AwsError> {
    optional_string(item, what, name)?
        .ok_or_else(|| AwsError::malformed(what, format!("{name} is missing")))
}

fn number<T: FromStr>(item: &Item, what: &'static str, name: &str) -> Result<T, AwsError> {
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
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn events_round_trip_through_items() {
        for event in fixtures::stream(2) {
            let item = event_to_item(&event).unwrap();
            assert_eq!(event_from_item(&item).unwrap(), event);
        }
    }

    #[test]
    fn event_items_have_the_documented_attributes() {
        let mut events = fixtures::stream(2);
        let second = events.pop().unwrap();
        let first = events.pop().unwrap();
        let item = event_to_item(&first).unwrap();
        let id = first.deposit_id.0;
        assert_eq!(item[STREAM_ID], s(format!("deposit#{id}")));
        assert_eq!(item[VERSION], n(1));
        assert_eq!(item["event_type"], s("DepositRequested"));
        assert_eq!(item["schema_version"], n(1));
        assert_eq!(item["occurred_at"], s("2026-11-23T10:00:00Z"));
        assert_eq!(item["correlation_id"], s("corr-1"));
        assert!(!item.contains_key("causation_id"));
        let payload: serde_json::Value =
            serde_json::from_str(item["payload"].as_s().unwrap()).unwrap();
        assert_eq!(payload["type"], "DepositRequested");

        let item = event_to_item(&second).unwrap();
        assert_eq!(item["causation_id"], s("msg-1"));
        assert_eq!(item[VERSION], n(2));
    }

    #[test]
    fn malformed_event_items_are_refused_without_echoing_them() {
        let event = fixtures::stream(1).remove(0);
        let good = event_to_item(&event).unwrap();

        let mut bad = good.clone();
        bad.insert("payload".into(), s("{\"type\":\"secret-value\"}"));
        let err = event_from_item(&bad).unwrap_err().to_string();
        assert!(!err.contains("secret-value"), "{err}");

        let mut bad = good.clone();
        bad.insert("event_type".into(), s("DepositFailed"));
        assert!(event_from_item(&bad).is_err());

        let mut bad = good.clone();
        bad.insert(STREAM_ID.into(), s("refund#1"));
        assert!(event_from_item(&bad).is_err());

        let mut bad = good.clone();
        bad.insert(VERSION.into(), s("1"));
        assert!(event_from_item(&bad).is_err());

        let mut bad = good;
        bad.remove("occurred_at");
        assert!(event_from_item(&bad).is_err());
    }

    #[test]
    fn views_round_trip_through_items() {
        let view = fixtures::view(2);
        let item = view_to_item(&view).unwrap();
        assert_eq!(item[DEPOSIT_ID], s(view.id.0.to_string()));
        assert_eq!(item["merchant_id"], s("m-1"));
        assert_eq!(item["status"], s("processing"));
        assert_eq!(item[VERSION], n(2));
        assert_eq!(view_from_item(&item).unwrap(), view);
    }

    #[test]
    fn lookups_round_trip_through_items() {
        let lookup = ExternalLookup {
            gateway: "psp_a".into(),
            external_id: "pay_123".into(),
            deposit_id: fixtures::deposit_id(),
            merchant_id: MerchantId("m-1".into()),
        };
        let item = lookup_to_item(&lookup);
        assert_eq!(
            item[LOOKUP_KEY],
            s(ExternalLookup::storage_key("psp_a", "pay_123"))
        );
        assert_eq!(item["gateway"], s("psp_a"));
        assert_eq!(item["external_id"], s("pay_123"));
        assert_eq!(item[DEPOSIT_ID], s(lookup.deposit_id.0.to_string()));
        assert_eq!(item["merchant_id"], s("m-1"));
        assert_eq!(lookup_from_item(&item).unwrap(), lookup);

        let mut bad = item;
        bad.insert(DEPOSIT_ID.into(), s("not-a-uuid"));
        assert!(lookup_from_item(&bad).is_err());
    }

    #[test]
    fn idempotency_items_round_trip_and_the_state_attribute_wins() {
        let record = fixtures::idempotency_record();
        let mut item = idempotency_to_item(&record).unwrap();
        assert_eq!(
            item[IDEMPOTENCY_KEY],
            s(IdempotencyRecord::storage_key(
                &record.merchant_id,
                &record.key
            ))
        );
        assert_eq!(item["expires_at"], n(record.expires_at.unix_timestamp()));
        assert_eq!(idempotency_from_item(&item).unwrap(), record);

        item.insert(
            STATE.into(),
            s(state_json(&IdempotencyState::Completed).unwrap()),
        );
        let read = idempotency_from_item(&item).unwrap();
        assert_eq!(read.state, IdempotencyState::Completed);
        assert_eq!(read.response, record.response);
    }
}
