//! Payouts as a merchant sees them: `POST /v1/payouts` (its amount reserved from the
//! available balance in the same write, or `422 balance_insufficient` and nothing
//! written), `GET /v1/payouts`, `GET /v1/payouts/{id}` and its events, driven through
//! `handle` with in-memory ports. The money comes from deposits the kit's `World` brings
//! to `succeeded`; a payout reaches its later stages by the same events the processor and
//! the gateway's webhook record (`World::record`). Each test reads GIVEN / WHEN / THEN.

use http::{Method, StatusCode};
use paygate_domain::DepositId;
use paygate_kit::in_case;
use paygate_kit::world::intake::*;
use serde_json::{Value, json};
use time::Duration;

// ================================================================ requests and replies

/// WHEN-helper: merchant A asks for a payout of `amount` AED under `key`.
async fn pay_out(world: &World, key: &str, amount: u64) -> Reply {
    pay_out_body(world, KEY_A, key, &payout_body(amount)).await
}

/// WHEN-helper: the merchant of `api_key` posts `body` to `/v1/payouts` under `key`.
async fn pay_out_body(world: &World, api_key: &str, key: &str, body: &Value) -> Reply {
    world
        .send(post_payout(api_key, key, &body.to_string()))
        .await
}

/// GIVEN-helper: merchant A's payout of `amount` AED, accepted (its message consumed).
async fn payout(world: &World, key: &str, amount: u64) -> DepositId {
    let reply = pay_out(world, key, amount).await;
    let id = assert_accepted(&reply, amount);
    world.drain_queue();
    id
}

/// THEN-helper: a 202 with a fresh (not replayed) pending payout of `amount` AED to
/// [`payout_body`]'s destination, at its `Location`; its id.
fn assert_accepted(reply: &Reply, amount: u64) -> DepositId {
    reply.assert_json(StatusCode::ACCEPTED);
    reply.assert_not_replayed();
    let id = reply.deposit_id();
    assert_eq!(
        reply.header("location"),
        Some(format!("/v1/payouts/{id}").as_str())
    );
    let json = reply.json();
    let expected = json!({
        "id": id.to_string(), "object": "payout", "status": "pending", "amount": amount,
        "currency": "AED", "country": "AE", "gateway": null, "external_id": null,
        "metadata": { "reference": "PO-1" },
        "created_at": json["created_at"], "updated_at": json["updated_at"],
    });
    assert_eq!(json, expected);
    id
}

fn assert_balance_insufficient(reply: &Reply) {
    reply.assert_invalid_request(
        StatusCode::UNPROCESSABLE_ENTITY,
        "balance_insufficient",
        Some("amount"),
    );
}

fn assert_payout_not_found(reply: &Reply) {
    reply.assert_invalid_request(StatusCode::NOT_FOUND, "payout_not_found", Some("id"));
}

/// WHEN-helper: the merchant of `api_key` reads `GET path`.
async fn read(world: &World, api_key: &str, path: &str) -> Reply {
    world.send(get(api_key, path)).await
}

/// The ids of a 200 list at `path`, read by merchant `api_key`.
async fn listed(world: &World, api_key: &str, path: &str) -> Vec<String> {
    let (items, _) = read(world, api_key, path).await.assert_list();
    let id = |item: &Value| item["id"].as_str().expect("an id").to_owned();
    items.iter().map(id).collect()
}

/// The event types of the payout's trail, as merchant A reads them.
async fn trail(world: &World, id: DepositId) -> Vec<String> {
    let reply = read(world, KEY_A, &format!("/v1/payouts/{id}/events")).await;
    reply.assert_json(StatusCode::OK);
    let json = reply.json();
    let events = json["data"].as_array().expect("events");
    let kind = |e: &Value| e["type"].as_str().expect("a type").to_owned();
    events.iter().map(kind).collect()
}

// ================================================================ reserving the amount

#[tokio::test]
async fn a_payout_is_accepted_and_its_amount_reserved_from_available_at_once() {
    // GIVEN merchant A's deposit of 100.00 AED succeeded
    let world = World::new();
    let deposit = world.deposit_at(10_000, Stage::Succeeded).await;
    let deposited = world.transaction(
        deposit,
        ("txn_1", "deposit", deposit.to_string()),
        (10_000, 10_000),
    );
    world.assert_aed_balance(10_000, 0).await;

    // WHEN A pays 50.00 out
    world.clock.advance(Duration::seconds(1));
    let reply = pay_out(&world, "P", 5000).await;

    // THEN 202 with the pending payout, read back the same at its Location
    let id = assert_accepted(&reply, 5000);
    let again = read(&world, KEY_A, &format!("/v1/payouts/{id}")).await;
    again.assert_json(StatusCode::OK);
    assert_eq!(again.json(), reply.json());
    // AND its amount left `available` for `reserved`, by a `payout` balance transaction
    world.assert_aed_balance(5000, 5000).await;
    let requested = world.transaction(id, ("txn_2", "payout", id.to_string()), (-5000, 5000));
    assert_eq!(world.transactions(KEY_A).await, [requested, deposited]);
    // AND the processor is asked to send it
    let messages = world.drain_queue();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body.deposit_id, id);
    // AND its trail tells it in payout words, the destination without its token
    let trail = read(&world, KEY_A, &format!("/v1/payouts/{id}/events")).await;
    trail.assert_json(StatusCode::OK);
    trail.assert_hides(&[BANK_ACCOUNT]);
    let trail = trail.json();
    assert_eq!(trail["object"], "list");
    assert_eq!(trail["payout_id"], id.to_string());
    assert!(trail.get("deposit_id").is_none(), "{trail}");
    let events = trail["data"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{trail}");
    assert_eq!(events[0]["type"], "PayoutRequested");
    assert_eq!(
        events[0]["data"],
        json!({ "amount": 5000, "currency": "AED", "country": "AE",
                "destination": { "type": "bank_account" }, "metadata": { "reference": "PO-1" } })
    );
}

#[tokio::test]
async fn a_payout_available_cannot_cover_writes_nothing_and_its_key_can_be_retried() {
    // GIVEN merchant A's deposit of 10.00 AED succeeded
    let world = World::new();
    world.deposit_at(1000, Stage::Succeeded).await;
    world.assert_stored(1, 1);
    let before = world.transactions(KEY_A).await;

    // WHEN A asks to pay out 10.01 AED, then 1.00 EUR (a currency it holds nothing in)
    let too_much = pay_out(&world, "P", 1001).await;
    let mut euros = payout_body(100);
    euros["currency"] = json!("EUR");
    euros["country"] = json!("DE");
    let no_euros = pay_out_body(&world, KEY_A, "P-EUR", &euros).await;

    // THEN both are 422 balance_insufficient, and nothing was written: no stream, no
    // idempotency key, no message, no balance transaction, the balance as it was
    for reply in [&too_much, &no_euros] {
        assert_balance_insufficient(reply);
    }
    world.assert_stored(1, 1);
    assert!(world.stored_key(MERCHANT_A, "P").await.is_none());
    assert!(world.drain_queue().is_empty(), "no message may be sent");
    world.assert_aed_balance(1000, 0).await;
    assert_eq!(world.transactions(KEY_A).await, before);

    // WHEN another deposit of 5.00 AED succeeds and A retries the same request, same key
    world.deposit_at(500, Stage::Succeeded).await;
    world.drain_queue();
    let retried = pay_out(&world, "P", 1001).await;

    // THEN it is accepted now, and reserved
    assert_accepted(&retried, 1001);
    world.assert_aed_balance(499, 1001).await;
}

#[tokio::test]
async fn twenty_concurrent_payouts_against_a_balance_that_covers_five_reserve_exactly_five() {
    // GIVEN merchant A's deposit of 50.00 AED succeeded
    let world = World::new();
    world.deposit_at(5000, Stage::Succeeded).await;

    // WHEN 20 payouts of 10.00 AED arrive at once, each under its own key
    let requests = (0..20)
        .map(|n| post_payout(KEY_A, &format!("P-{n}"), &payout_body(1000).to_string()))
        .collect();
    let replies = world.send_at_once(requests).await;

    // THEN exactly 5 are accepted and the 15 others refused for the balance
    let accepted: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::ACCEPTED)
        .collect();
    assert_eq!(accepted.len(), 5, "{replies:#?}");
    for reply in replies.iter().filter(|r| r.status != StatusCode::ACCEPTED) {
        assert_balance_insufficient(reply);
    }
    // AND all of it is reserved, available is 0 and never went below
    world.assert_aed_balance(0, 5000).await;
    let transactions = world.transactions(KEY_A).await;
    assert_eq!(transactions.len(), 1 + 5, "one deposit, five payouts");
    for transaction in &transactions {
        let after = transaction["available_after"].as_i64().expect("an integer");
        assert!(after >= 0, "available went negative: {transaction}");
    }
    // AND only the accepted ones were written and listed
    world.assert_stored(1 + 5, 1 + 5);
    let mut ids: Vec<String> = accepted
        .iter()
        .map(|r| r.deposit_id().to_string())
        .collect();
    let mut listed = listed(&world, KEY_A, "/v1/payouts").await;
    ids.sort();
    listed.sort();
    assert_eq!(listed, ids);
}

// ================================================================ idempotency

#[tokio::test]
async fn the_same_key_and_body_replay_the_payout_and_reserve_once() {
    // GIVEN merchant A's payout of 30.00 AED under key P
    let world = World::new();
    world.deposit_at(10_000, Stage::Succeeded).await;
    let first = pay_out(&world, "P", 3000).await;
    let id = assert_accepted(&first, 3000);

    // WHEN the same request is sent again
    let replay = pay_out(&world, "P", 3000).await;

    // THEN the first answer again, marked replayed, with its Location; nothing more
    // written or reserved
    replay.assert_json(StatusCode::ACCEPTED);
    replay.assert_replayed();
    assert_eq!(replay.json(), first.json());
    assert_eq!(
        replay.header("location"),
        Some(format!("/v1/payouts/{id}").as_str())
    );
    world.assert_stored(2, 2);
    world.assert_aed_balance(7000, 3000).await;
}

#[tokio::test]
async fn a_key_used_for_a_payout_is_refused_for_another_body_or_a_deposit() {
    // GIVEN merchant A's payout of 30.00 AED under key P
    let world = World::new();
    world.deposit_at(10_000, Stage::Succeeded).await;
    assert_accepted(&pay_out(&world, "P", 3000).await, 3000);

    // WHEN the key comes again with another amount, or for a deposit
    let other_amount = pay_out(&world, "P", 3001).await;
    let deposit = world.post_valid_deposit(KEY_A, "P").await;

    // THEN both are 422 idempotency_key_reused, and nothing more is written or reserved
    for reply in [&other_amount, &deposit] {
        reply.assert_idempotency_error(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    }
    world.assert_stored(2, 2);
    world.assert_aed_balance(7000, 3000).await;
}

// ================================================================ validation

#[tokio::test]
async fn each_invalid_payout_is_refused_with_its_code_and_writes_nothing() {
    let bank_account = |token: &str| json!({ "type": "bank_account", "token": token });
    let cases: [(&str, Option<Value>, &str, &str); 17] = [
        ("destination", None, "parameter_missing", "destination"),
        (
            "destination",
            Some(Value::Null),
            "parameter_missing",
            "destination",
        ),
        (
            "destination",
            Some(json!("ba_success")),
            "destination_invalid",
            "destination",
        ),
        (
            "destination",
            Some(json!({ "type": "card", "token": "tok_visa" })),
            "destination_type_invalid",
            "destination.type",
        ),
        (
            "destination",
            Some(json!({ "type": "bank_account" })),
            "parameter_missing",
            "destination.token",
        ),
        (
            "destination",
            Some(bank_account("ba success")),
            "destination_token_invalid",
            "destination.token",
        ),
        (
            "destination",
            Some(bank_account("")),
            "destination_token_invalid",
            "destination.token",
        ),
        (
            "destination",
            Some(json!({ "type": "bank_account", "token": "ba_success", "iban": "DE89" })),
            "parameter_unknown",
            "destination.iban",
        ),
        (
            "customer_id",
            Some(json!("cus_42")),
            "parameter_unknown",
            "customer_id",
        ),
        (
            "payment_method",
            Some(json!({ "type": "card", "token": "tok_visa" })),
            "parameter_unknown",
            "payment_method",
        ),
        ("amount", Some(json!(0)), "amount_invalid", "amount"),
        ("amount", Some(json!("5000")), "amount_invalid", "amount"),
        (
            "amount",
            Some(json!(1_000_000_000_000_001_u64)),
            "amount_too_large",
            "amount",
        ),
        (
            "currency",
            Some(json!("XAU")),
            "currency_invalid",
            "currency",
        ),
        (
            "currency",
            Some(json!(978)),
            "parameter_invalid_type",
            "currency",
        ),
        ("country", Some(json!("XX")), "country_invalid", "country"),
        (
            "metadata",
            Some(json!({ "reference": 1 })),
            "metadata_invalid",
            "metadata",
        ),
    ];
    for (field, value, code, param) in cases {
        // GIVEN merchant A with no balance (validation comes first)
        let world = World::new();
        let mut body = payout_body(5000);
        let object = body.as_object_mut().expect("an object");
        match value {
            Some(value) => object.insert(field.to_owned(), value),
            None => object.remove(field),
        };

        // WHEN it posts the payout with that one field wrong
        let reply = pay_out_body(&world, KEY_A, "P", &body).await;

        // THEN 400 with the code, naming the field; nothing written
        let case = format!("{field}: {code}");
        in_case(&case, || {
            reply.assert_bad_request(code, Some(param));
            world.assert_nothing_written();
        });
    }
}

#[tokio::test]
async fn a_payout_needs_a_json_object_body_and_an_idempotency_key() {
    let world = World::new();
    world.deposit_at(10_000, Stage::Succeeded).await;
    world.drain_queue();
    // WHEN the body is not an object, or the key is missing
    let array = world.send(post_payout(KEY_A, "P", "[]")).await;
    let body = payout_body(100).to_string();
    let keyless = world
        .send(paygate_kit::http::post(KEY_A, "/v1/payouts", None, &body))
        .await;
    // THEN 400 each, nothing written or reserved
    array.assert_bad_request("body_invalid", None);
    keyless.assert_bad_request("idempotency_key_missing", Some("Idempotency-Key"));
    world.assert_stored(1, 1);
    world.assert_aed_balance(10_000, 0).await;
}

// ================================================================ whose and which

#[tokio::test]
async fn another_merchant_can_neither_read_nor_list_nor_page_from_a_payout() {
    // GIVEN merchant A's payout
    let world = World::new();
    world.deposit_at(10_000, Stage::Succeeded).await;
    let id = payout(&world, "P", 3000).await;

    // WHEN merchant B reads it, its trail, its own payouts, and pages from A's payout
    for path in [
        format!("/v1/payouts/{id}"),
        format!("/v1/payouts/{id}/events"),
    ] {
        // THEN 404 payout_not_found, exactly as for one that does not exist
        let reply = read(&world, KEY_B, &path).await;
        in_case(&path, || assert_payout_not_found(&reply));
    }
    assert_eq!(
        listed(&world, KEY_B, "/v1/payouts").await,
        Vec::<String>::new()
    );
    for cursor in ["starting_after", "ending_before"] {
        let path = format!("/v1/payouts?{cursor}={id}");
        let reply = read(&world, KEY_B, &path).await;
        in_case(&path, || {
            reply.assert_bad_request("cursor_invalid", Some(cursor));
        });
    }
    // AND B has no money, nor a balance transaction of A's payout
    world.assert_balance(KEY_B, json!([])).await;
    assert_eq!(world.transactions(KEY_B).await, Vec::<Value>::new());
    // AND A still reads it
    read(&world, KEY_A, &format!("/v1/payouts/{id}"))
        .await
        .assert_json(StatusCode::OK);
}

#[tokio::test]
async fn payouts_and_deposits_are_not_found_under_each_others_paths() {
    // GIVEN merchant A's deposit and payout
    let world = World::new();
    let deposit = world.deposit_at(10_000, Stage::Succeeded).await;
    world.clock.advance(Duration::seconds(1));
    let payout = payout(&world, "P", 3000).await;

    // WHEN each is read under the other's path (or a malformed id under payouts)
    // THEN 404 with the path's own code
    for path in [
        format!("/v1/payouts/{deposit}"),
        format!("/v1/payouts/{deposit}/events"),
        "/v1/payouts/not-a-uuid".to_owned(),
        "/v1/payouts/not-a-uuid/events".to_owned(),
    ] {
        let reply = read(&world, KEY_A, &path).await;
        in_case(&path, || assert_payout_not_found(&reply));
    }
    for path in [
        format!("/v1/deposits/{payout}"),
        format!("/v1/deposits/{payout}/events"),
    ] {
        let reply = read(&world, KEY_A, &path).await;
        in_case(&path, || reply.assert_deposit_not_found());
    }
    // AND each list holds its own kind only, and takes no cursor of the other
    assert_eq!(
        listed(&world, KEY_A, "/v1/deposits").await,
        [deposit.to_string()]
    );
    assert_eq!(
        listed(&world, KEY_A, "/v1/payouts").await,
        [payout.to_string()]
    );
    for path in [
        format!("/v1/payouts?starting_after={deposit}"),
        format!("/v1/deposits?starting_after={payout}"),
    ] {
        let reply = read(&world, KEY_A, &path).await;
        in_case(&path, || {
            reply.assert_bad_request("cursor_invalid", Some("starting_after"));
        });
    }
}

#[tokio::test]
async fn a_refund_of_a_payout_is_deposit_not_found_and_writes_nothing() {
    // GIVEN merchant A's payout of 30.00 AED
    let world = World::new();
    world.deposit_at(10_000, Stage::Succeeded).await;
    let id = payout(&world, "P", 3000).await;
    let stream = world.stored_events(id).await;

    // WHEN A asks for a refund of it, in full and in part
    for body in ["{}", r#"{"amount":100}"#] {
        let reply = world
            .send(post_refund(KEY_A, &id.to_string(), Some("R"), body))
            .await;
        // THEN 404 deposit_not_found
        in_case(body, || reply.assert_deposit_not_found());
    }
    // AND nothing changed: the payout's stream, the balance, the queue, the key
    assert_eq!(world.stored_events(id).await, stream);
    world.assert_aed_balance(7000, 3000).await;
    assert!(world.drain_queue().is_empty());
    assert!(world.stored_key(MERCHANT_A, "R").await.is_none());
}

// ================================================================ the lifecycle and the list

#[tokio::test]
async fn a_paid_payout_leaves_reserved_and_a_failed_one_comes_back_to_available() {
    // GIVEN merchant A's deposit of 100.00 AED and two payouts of 30.00 and 20.00
    let world = World::new();
    world.deposit_at(10_000, Stage::Succeeded).await;
    world.clock.advance(Duration::seconds(1));
    let paid = payout(&world, "P-paid", 3000).await;
    world.clock.advance(Duration::seconds(1));
    let failed = payout(&world, "P-failed", 2000).await;
    world.assert_aed_balance(5000, 5000).await;

    // WHEN the gateway pays the first and refuses the second
    world.clock.advance(Duration::seconds(1));
    world.record(paid, events_to(paid, Stage::Succeeded)).await;
    world.record(failed, events_to(failed, Stage::Failed)).await;

    // THEN the first is `paid` at the gateway, its amount gone from `reserved`
    let reply = read(&world, KEY_A, &format!("/v1/payouts/{paid}")).await;
    reply.assert_json(StatusCode::OK);
    let json = reply.json();
    assert_eq!(json["status"], "paid");
    assert_eq!(json["gateway"], PAYING_GATEWAY);
    assert_eq!(json["external_id"], payment_id(paid));
    // AND the second is `failed`, its amount available again by a `payout_reversal`
    let reply = read(&world, KEY_A, &format!("/v1/payouts/{failed}")).await;
    assert_eq!(reply.json()["status"], "failed");
    world.assert_aed_balance(7000, 0).await;
    // (txn_4 is the paid payout's settlement: it moves `reserved` only, so it is no
    // balance transaction)
    let reversal = world.transaction(
        failed,
        ("txn_5", "payout_reversal", failed.to_string()),
        (2000, 7000),
    );
    let transactions = world.transactions(KEY_A).await;
    let types: Vec<&str> = transactions
        .iter()
        .map(|t| t["type"].as_str().expect("a type"))
        .collect();
    assert_eq!(types, ["payout_reversal", "payout", "payout", "deposit"]);
    assert_eq!(transactions[0], reversal);
    // AND both trails tell it in payout words
    assert_eq!(
        trail(&world, paid).await,
        [
            "PayoutRequested",
            "AttemptStarted",
            "PayoutSubmitted",
            "PayoutPaid"
        ]
    );
    assert_eq!(
        trail(&world, failed).await,
        [
            "PayoutRequested",
            "AttemptStarted",
            "AttemptFailed",
            "PayoutFailed"
        ]
    );
}

#[tokio::test]
async fn the_status_filter_takes_payout_statuses_only() {
    // GIVEN merchant A's payouts: one pending, one paid, one failed
    let world = World::new();
    world.deposit_at(10_000, Stage::Succeeded).await;
    let pending = payout(&world, "P-1", 1000).await;
    let paid = payout(&world, "P-2", 1000).await;
    world.record(paid, events_to(paid, Stage::Succeeded)).await;
    let failed = payout(&world, "P-3", 1000).await;
    world.record(failed, events_to(failed, Stage::Failed)).await;

    // WHEN A lists them by status
    // THEN each status keeps its own
    for (status, expected) in [
        ("pending", vec![pending]),
        ("paid", vec![paid]),
        ("failed", vec![failed]),
        ("processing", vec![]),
        ("submitted", vec![]),
    ] {
        let path = format!("/v1/payouts?status={status}");
        let expected: Vec<String> = expected.iter().map(ToString::to_string).collect();
        assert_eq!(listed(&world, KEY_A, &path).await, expected, "{path}");
    }
    // AND a deposit's statuses are none of a payout's (nor `paid` a deposit's)
    for path in [
        "/v1/payouts?status=succeeded",
        "/v1/payouts?status=refunded",
        "/v1/payouts?status=partially_refunded",
        "/v1/deposits?status=paid",
    ] {
        let reply = read(&world, KEY_A, path).await;
        in_case(path, || {
            reply.assert_bad_request("status_invalid", Some("status"))
        });
    }
}

#[tokio::test]
async fn the_payout_list_pages_and_refuses_what_the_deposit_list_refuses() {
    // GIVEN merchant A's three payouts, a second apart
    let world = World::new();
    world.deposit_at(10_000, Stage::Succeeded).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        world.clock.advance(Duration::seconds(1));
        ids.push(payout(&world, &format!("P-{n}"), 100).await.to_string());
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    // WHEN A pages through them two at a time, both ways
    // THEN newest first, each once
    let (page, more) = read(&world, KEY_A, "/v1/payouts?limit=2")
        .await
        .assert_list();
    assert!(more);
    assert_eq!(page.len(), 2);
    assert_eq!(
        listed(
            &world,
            KEY_A,
            &format!("/v1/payouts?limit=2&starting_after={}", ids[1])
        )
        .await,
        newest_first[2..]
    );
    assert_eq!(
        listed(
            &world,
            KEY_A,
            &format!("/v1/payouts?limit=2&ending_before={}", ids[0])
        )
        .await,
        newest_first[..2]
    );
    // AND what the list does not take is refused, naming the parameter
    let id = &ids[0];
    for (query, code, param) in [
        ("limit=0".to_owned(), "limit_invalid", "limit"),
        ("limit=101".to_owned(), "limit_invalid", "limit"),
        (
            format!("starting_after={id}&ending_before={id}"),
            "parameters_exclusive",
            "ending_before",
        ),
        (
            "starting_after=txn_1".to_owned(),
            "cursor_invalid",
            "starting_after",
        ),
        (
            "customer_id=cus_42".to_owned(),
            "parameter_unknown",
            "customer_id",
        ),
        (
            "status=paid&status=failed".to_owned(),
            "parameter_duplicate",
            "status",
        ),
    ] {
        let path = format!("/v1/payouts?{query}");
        let reply = read(&world, KEY_A, &path).await;
        in_case(&path, || reply.assert_bad_request(code, Some(param)));
    }
}

#[tokio::test]
async fn the_payout_endpoints_need_a_valid_api_key() {
    // GIVEN merchant A's payout
    let world = World::new();
    world.deposit_at(10_000, Stage::Succeeded).await;
    let id = payout(&world, "P", 1000).await;
    let unknown = bearer("sk_test_nobody");
    for (method, path) in [
        (Method::POST, "/v1/payouts".to_owned()),
        (Method::GET, "/v1/payouts".to_owned()),
        (Method::GET, format!("/v1/payouts/{id}")),
        (Method::GET, format!("/v1/payouts/{id}/events")),
    ] {
        for headers in [vec![], vec![("authorization", unknown.as_str())]] {
            // WHEN it is called without a key, or with one nobody has
            let mut headers = headers.clone();
            headers.push(("idempotency-key", "P-anonymous"));
            let body = Body::Text(payout_body(100).to_string());
            let reply = world
                .send(request(method.clone(), &path, &headers, body))
                .await;
            // THEN 401 api_key_invalid, and nothing more is written or reserved
            in_case(&path, || reply.assert_api_key_invalid());
        }
    }
    world.assert_stored(2, 2);
    world.assert_aed_balance(9000, 1000).await;
}
