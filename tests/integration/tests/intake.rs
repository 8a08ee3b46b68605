//! The deposit intake handler on DynamoDB + SQS (emulated): what DESIGN §5 promises.

use paygate_domain::DepositEvent;
use paygate_domain::ports::SystemClock;
use paygate_integration::{Traces, World, at_once, deposit_body};
use paygate_kit::fixtures;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn a_deposit_is_created_enqueued_and_readable() {
    // GIVEN a merchant
    let world = World::new().await;
    // WHEN it posts a deposit
    let created = world
        .accepted_deposit("order-1", deposit_body(json!(10099)))
        .await;
    // THEN it is accepted as pending, readable, and queued for processing
    let id = created.json["id"].as_str().unwrap().to_owned();
    assert_eq!(created.json["status"], "pending");
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/deposits/{id}").as_str())
    );

    let read = world.get(&format!("/v1/deposits/{id}")).await;
    assert_eq!(read.status, 200);
    for field in [
        "id",
        "status",
        "amount",
        "currency",
        "country",
        "customer_id",
        "created_at",
    ] {
        assert_eq!(read.json[field], created.json[field], "{field}");
    }

    let events = world.get(&format!("/v1/deposits/{id}/events")).await;
    assert_eq!(events.status, 200);
    assert_eq!(events.json["data"][0]["type"], "DepositRequested");
    assert_eq!(
        events.json["data"][0]["data"]["payment_method"],
        json!({ "type": "card" })
    );

    let messages = world.queue.receive(10, 2).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0]
            .deposit_message()
            .unwrap()
            .deposit_id
            .to_string(),
        id
    );
}

#[tokio::test]
async fn the_card_token_is_never_stored_in_clear() {
    let world = World::new().await;
    let created = world.accepted_deposit("k", deposit_body(json!(500))).await;
    let id = created.json["id"].as_str().unwrap();
    let stream = world
        .aws
        .dynamodb
        .query()
        .table_name(&world.aws.resources.events_table)
        .key_condition_expression("stream_id = :s")
        .expression_attribute_values(
            ":s",
            paygate_aws::aws_sdk_dynamodb::types::AttributeValue::S(format!("deposit#{id}")),
        )
        .send()
        .await
        .unwrap();
    let raw = format!("{:?}", stream.items());
    assert!(
        raw.contains("ciphertext"),
        "the payment method is stored encrypted"
    );
    assert!(
        !raw.contains("tok_visa"),
        "the token must not be stored in clear"
    );
}

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_response() {
    let world = World::new().await;
    let first = world
        .accepted_deposit("replay-me", deposit_body(json!(2500)))
        .await;
    assert_eq!(first.header("idempotent-replayed"), None);

    // Same body, keys in another order and other whitespace.
    let reordered = r#"{ "metadata": {"order":"A-1"}, "customer_id":"cus_42", "country":"AE",
        "currency":"AED", "amount":2500, "payment_method":{"token":"tok_visa","type":"card"} }"#;
    let again = world.post_deposit(Some("replay-me"), reordered).await;

    assert_eq!(again.status, 202);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json, first.json);
    assert_eq!(
        world.traces().await,
        Traces {
            deposits: 1,
            events: 1,
            idempotency: 1,
            messages: 1
        }
    );
}

#[tokio::test]
async fn the_same_key_with_another_body_is_rejected_with_422() {
    let world = World::new().await;
    world.accepted_deposit("k1", deposit_body(json!(100))).await;

    let other = world
        .post_deposit(Some("k1"), deposit_body(json!(101)))
        .await;

    assert_eq!(other.status, 422);
    assert_eq!(other.error_type(), "idempotency_error");
    assert_eq!(other.error_code(), "idempotency_key_reused");
    assert_eq!(world.traces().await.deposits, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_posts_with_one_key_create_exactly_one_deposit() {
    let world = Arc::new(World::new().await);
    let body = deposit_body(json!(777));

    let replies = at_once(&world, 50, |world, _| {
        let body = body.clone();
        async move { world.post_deposit(Some("burst"), body).await }
    })
    .await;

    let mut ids = std::collections::HashSet::new();
    for reply in &replies {
        match reply.status {
            202 => {
                ids.insert(reply.json["id"].as_str().unwrap().to_owned());
            }
            409 => assert_eq!(reply.error_code(), "idempotency_request_in_progress"),
            other => panic!("unexpected {other}: {:?}", reply.json),
        }
    }
    assert_eq!(ids.len(), 1, "every accepted reply names the same deposit");
    let fresh = replies
        .iter()
        .filter(|r| r.status == 202 && r.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(fresh, 1, "exactly one request created it");
    let traces = world.traces().await;
    assert_eq!(
        (traces.deposits, traces.events, traces.idempotency),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn another_merchants_deposit_is_not_found() {
    let alice = World::new().await;
    let created = alice
        .post_deposit(Some("mine"), deposit_body(json!(100)))
        .await;
    let id = created.json["id"].as_str().unwrap();
    let bob = alice.another_merchant().await;

    let read = bob.get(&format!("/v1/deposits/{id}")).await;
    let events = bob.get(&format!("/v1/deposits/{id}/events")).await;
    let unknown = bob
        .get(&format!("/v1/deposits/{}", uuid::Uuid::now_v7()))
        .await;

    assert_eq!((read.status, events.status), (404, 404));
    assert_eq!(
        read.json, unknown.json,
        "indistinguishable from a deposit that does not exist"
    );
    assert_eq!(read.error_code(), "deposit_not_found");
}

#[tokio::test]
async fn bad_requests_get_the_documented_error_and_leave_no_trace() {
    let world = World::new().await;
    let big = format!(
        r#"{{"amount":1,"currency":"AED","country":"AE","customer_id":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    let cases: Vec<(&str, Option<&str>, String, u16, &str)> = vec![
        (
            "malformed JSON",
            Some("k1"),
            "{\"amount\": ".into(),
            400,
            "body_invalid_json",
        ),
        (
            "unknown currency",
            Some("k2"),
            deposit_body(json!(100)).replace("AED", "ABC"),
            400,
            "currency_invalid",
        ),
        (
            "zero amount",
            Some("k3"),
            deposit_body(json!(0)),
            400,
            "amount_invalid",
        ),
        (
            "negative amount",
            Some("k4"),
            deposit_body(json!(-100)),
            400,
            "amount_invalid",
        ),
        (
            "fractional amount",
            Some("k5"),
            deposit_body(json!(10.5)),
            400,
            "amount_invalid",
        ),
        ("1 MB body", Some("k6"), big, 413, "body_too_large"),
        (
            "missing idempotency key",
            None,
            deposit_body(json!(100)),
            400,
            "idempotency_key_missing",
        ),
    ];
    for (name, key, body, status, code) in cases {
        let reply = world.post_deposit(key, body).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (status, code),
            "{name}: {:?}",
            reply.json
        );
        assert_eq!(reply.error_type(), "invalid_request_error", "{name}");
        assert!(
            reply.json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{name}"
        );
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{name}"
        );
    }

    let unauthenticated = world
        .send(
            http::Request::builder()
                .method("POST")
                .uri("/v1/deposits")
                .header("idempotency-key", "k7")
                .body(lambda_http::Body::Text(deposit_body(json!(100))))
                .unwrap(),
        )
        .await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(unauthenticated.error_type(), "authentication_error");

    assert_eq!(world.traces().await, Traces::default());
}

/// The ids of a 200 list, and its `has_more`.
fn listed(reply: &paygate_integration::Reply) -> (Vec<String>, bool) {
    assert_eq!(reply.status, 200, "{:?}", reply.json);
    let items = reply.json["data"].as_array().expect("a list");
    let ids = items.iter().map(|i| i["id"].as_str().unwrap().to_owned());
    (ids.collect(), reply.json["has_more"].as_bool().unwrap())
}

#[tokio::test]
async fn the_balance_and_the_lists_read_the_merchants_own_ledger_and_deposits() {
    // GIVEN a merchant's three deposits, the oldest paid at a gateway
    let alice = World::new().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let body = deposit_body(json!(10099));
        let created = alice.post_deposit(Some(&format!("order-{n}")), body).await;
        ids.push(created.json["id"].as_str().expect("an id").to_owned());
    }
    let paid = paygate_domain::DepositId::parse(&ids[0]).unwrap();
    // The gateway's id is unique per run: the emulators may hold earlier runs' lookups.
    let external_id = format!("pay_{paid}");
    let mut events = fixtures::submission(paid, "acme_json", &external_id);
    events.push(DepositEvent::DepositSucceeded { external_id });
    fixtures::record(
        alice.aws.store.as_ref(),
        &SystemClock,
        paid,
        "it",
        None,
        events,
    )
    .await;

    // THEN its balance and balance transactions hold that deposit's capture
    let balance = alice.get("/v1/balance").await;
    let aed = json!([{ "currency": "AED", "available": 10099, "reserved": 0 }]);
    assert_eq!(balance.json, json!({ "object": "balance", "data": aed }));
    let transactions = alice.get("/v1/balance/transactions").await;
    assert_eq!(listed(&transactions), (vec!["txn_1".to_owned()], false));
    assert_eq!(transactions.json["data"][0]["source"], ids[0]);
    // AND its deposits page newest first, both ways, and by status
    let pages = [
        ("limit=2", vec![&ids[2], &ids[1]], true),
        (
            &format!("limit=2&starting_after={}", ids[1]),
            vec![&ids[0]],
            false,
        ),
        (
            &format!("limit=1&ending_before={}", ids[0]),
            vec![&ids[1]],
            true,
        ),
        ("status=succeeded", vec![&ids[0]], false),
    ];
    for (query, expected, more) in pages {
        let (found, has_more) = listed(&alice.get(&format!("/v1/deposits?{query}")).await);
        assert_eq!(
            (found.iter().collect::<Vec<_>>(), has_more),
            (expected, more),
            "{query}"
        );
    }

    // AND another merchant sees none of it, nor can page from it
    let bob = alice.another_merchant().await;
    assert_eq!(bob.get("/v1/balance").await.json["data"], json!([]));
    for path in ["/v1/deposits", "/v1/balance/transactions"] {
        assert_eq!(listed(&bob.get(path).await), (vec![], false), "{path}");
    }
    for path in [
        format!("/v1/deposits?starting_after={}", ids[0]),
        "/v1/balance/transactions?starting_after=txn_1".to_owned(),
    ] {
        let refused = bob.get(&path).await;
        assert_eq!(
            (refused.status, refused.error_code()),
            (400, "cursor_invalid"),
            "{path}"
        );
    }
}
