//! The conversions against the documented attributes, and round trips.

use super::*;
use crate::fixtures;
use paygate_domain::deposit::DepositStatus;

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
    let payload: serde_json::Value = serde_json::from_str(item["payload"].as_s().unwrap()).unwrap();
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

    for (attribute, value) in [
        ("event_type", s("DepositFailed")),
        (STREAM_ID, s("refund#1")),
        (VERSION, s("1")),
    ] {
        let mut bad = good.clone();
        bad.insert(attribute.into(), value);
        assert!(event_from_item(&bad).is_err(), "{attribute}");
    }

    let mut bad = good;
    bad.remove("occurred_at");
    assert!(event_from_item(&bad).is_err());
}

/// The item an update writes on a fresh deposit (placeholders resolved).
fn updated_item(update: &ViewUpdate) -> Item {
    let mut item = Item::new();
    let set = update
        .expression
        .trim_start_matches("SET ")
        .replace("if_not_exists(#published, :zero)", ":zero")
        .replace("if_not_exists(#bus, #v)", ":zero");
    let set = set.split(" REMOVE ").next().unwrap();
    for assignment in set.split(", ") {
        let (name, value) = assignment.split_once(" = ").unwrap();
        item.insert(update.names[name].clone(), update.values[value].clone());
    }
    item
}

#[test]
fn view_updates_write_the_documented_attributes() {
    let view = fixtures::view(2);
    let update = view_update(&view, 1, 1, None).unwrap();
    let item = updated_item(&update);
    assert_eq!(item["merchant_id"], s("m-1"));
    assert_eq!(item["status"], s("processing"));
    assert_eq!(item[VERSION], n(2));
    assert_eq!(item[SWEEP_STATUS], s("processing"));
    assert_eq!(item[PUBLISHED_VERSION], n(0));
    // nothing for the bus: the outbox and the bus versions are left as they are
    assert!(!item.contains_key(OUTBOX), "{item:?}");
    assert!(!item.contains_key(BUS_VERSION), "{item:?}");
    // a new deposit starts its bus versions at 0, in the outbox only with bus events
    let item = updated_item(&view_update(&fixtures::view(1), 1, 0, None).unwrap());
    assert_eq!(
        (&item[BUS_VERSION], &item[PREVIOUS_BUS_VERSION]),
        (&n(0), &n(0))
    );
    assert!(!item.contains_key(OUTBOX), "{item:?}");
    let item = updated_item(&view_update(&fixtures::view(1), 1, 0, Some(1)).unwrap());
    assert_eq!(
        (&item[BUS_VERSION], &item[OUTBOX]),
        (&n(1), &s(OUTBOX_PENDING))
    );
    // a later append with bus events keeps the bus version it follows
    let later = view_update(&view, 1, 1, Some(2)).unwrap();
    assert!(
        later
            .expression
            .contains("#previous_bus = if_not_exists(#bus, #v), #bus = :bus"),
        "{}",
        later.expression
    );
    let item = updated_item(&later);
    assert_eq!(
        (&item[BUS_VERSION], &item[OUTBOX]),
        (&n(2), &s(OUTBOX_PENDING))
    );
    let item = updated_item(&update);
    assert_eq!(
        item[UPDATED_AT],
        s(sortable_timestamp(VIEW, view.updated_at).unwrap())
    );
    assert!(
        update
            .expression
            .contains("#published = if_not_exists(#published, :zero)"),
        "{}",
        update.expression
    );
    assert!(!update.expression.contains("REMOVE"));
    assert_eq!(view_from_item(&item).unwrap(), view);
}

#[test]
fn only_deposits_the_sweeper_watches_are_in_the_sweep_index() {
    for (status, pending_refunds) in DepositStatus::ALL
        .into_iter()
        .flat_map(|status| [(status, 0), (status, 1)])
    {
        let view = DepositView {
            status,
            pending_refunds,
            ..fixtures::view(2)
        };
        let update = view_update(&view, 1, 1, None).unwrap();
        let expected = match (status, pending_refunds) {
            (DepositStatus::Pending, _) => Some("pending"),
            (DepositStatus::Processing, _) => Some("processing"),
            (DepositStatus::Submitted, _) => Some("submitted"),
            (_, 0) => None,
            (_, _) => Some("refunding"),
        };
        let watched = expected.is_some();
        assert_eq!(
            view.sweep_kind().map(|k| k.as_str()),
            expected,
            "{status:?}"
        );
        assert_eq!(
            update.expression.ends_with(" REMOVE #sweep, #sweep_at"),
            !watched,
            "{status:?}: {}",
            update.expression
        );
        // While indexed, a change restarts the wait: `sweep_at` is the change's time.
        assert_eq!(
            update.expression.contains("#sweep_at = :updated"),
            watched,
            "{status:?}: {}",
            update.expression
        );
        assert_eq!(update.values.get(":sweep"), expected.map(s).as_ref());
    }
}

#[test]
fn sortable_timestamps_have_a_fixed_width_in_utc() {
    use time::macros::datetime;
    let whole = datetime!(2026-11-23 10:00:00 UTC);
    let half = datetime!(2026-11-23 10:00:00.5 UTC);
    let dubai = datetime!(2026-11-23 14:00:01 +04:00);
    let texts: Vec<String> = [whole, half, dubai]
        .iter()
        .map(|at| sortable_timestamp(VIEW, *at).unwrap())
        .collect();
    assert_eq!(texts[0], "2026-11-23T10:00:00.000000000Z");
    assert_eq!(texts[1], "2026-11-23T10:00:00.500000000Z");
    assert_eq!(texts[2], "2026-11-23T10:00:01.000000000Z");
    assert!(texts[0] < texts[1] && texts[1] < texts[2]);
    for (text, at) in texts.iter().zip([whole, half, dubai]) {
        assert_eq!(OffsetDateTime::parse(text, &Rfc3339).unwrap(), at);
    }
    assert!(sortable_timestamp(VIEW, datetime!(-0001-01-01 0:00 UTC)).is_err());
}

#[test]
fn publish_states_read_a_missing_mark_as_nothing_published() {
    let id = fixtures::deposit_id();
    let mut item = Item::from([
        (DEPOSIT_ID.into(), s(id.0.to_string())),
        (VERSION.into(), n(3)),
    ]);
    let state = unpublished_from_item(&item).unwrap();
    assert_eq!(
        (state.deposit_id, state.published_version, state.version),
        (id, 0, 3)
    );
    item.insert(PUBLISHED_VERSION.into(), n(2));
    assert_eq!(unpublished_from_item(&item).unwrap().published_version, 2);
    item.insert(PUBLISHED_VERSION.into(), s("2"));
    assert!(unpublished_from_item(&item).is_err());
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

#[test]
fn index_partitions_spread_deposits_and_shard_zero_is_the_unsharded_value() {
    assert_eq!(partition("pending", 0), "pending");
    assert_eq!(partition("processing", 3), "processing#3");
    let mut used = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let id = DepositId(uuid::Uuid::now_v7());
        let shard = shard_of(id, 8);
        assert!(shard < 8);
        assert_eq!(shard_of(id, 8), shard, "always the same partition");
        assert_eq!(shard_of(id, 1), 0);
        used.insert(shard);
    }
    assert_eq!(
        used.len(),
        8,
        "ids made in one burst still spread: {used:?}"
    );
    // The update writes the deposit's partition into both indexes.
    let mut view = fixtures::view(2);
    view.id = DepositId(uuid::Uuid::from_u128(8 * 1000 + 5));
    let update = view_update(&view, 8, 1, Some(2)).unwrap();
    assert_eq!(update.values[":pending"], s("pending#5"));
    assert_eq!(update.values[":sweep"], s("processing#5"));
}
