//! Behaviour of the deposit intake as a merchant sees it (DESIGN §5), driven through
//! `handle` with in-memory ports. Each test reads GIVEN / WHEN / THEN.

use http::{Method, StatusCode};
use lambda_http::Body;
use paygate_domain::DepositEvent;
use paygate_domain::ports::DepositMessage;
use paygate_kit::in_case;
use paygate_kit::world::intake::*;
use serde_json::{Value, json};
use time::Duration;

// ================================================================ creating a deposit

#[tokio::test]
async fn a_valid_deposit_is_accepted_as_pending_with_its_location() {
    // GIVEN merchant A with a valid API key
    let world = World::new();

    // WHEN it posts a valid deposit with an idempotency key
    let reply = world.post_valid_deposit(KEY_A, "order-A-1").await;

    // THEN 202 with the pending deposit and where to find it
    reply.assert_json(StatusCode::ACCEPTED);
    reply.assert_not_replayed();
    let body = reply.json();
    let id = reply.deposit_id();
    assert_eq!(body["id"], id.to_string());
    assert_eq!(body["status"], "pending");
    assert_eq!(body["amount"], 10099);
    assert_eq!(body["currency"], "AED");
    assert_eq!(body["country"], "AE");
    assert_eq!(body["customer_id"], "cus_42");
    assert_eq!(body["gateway"], Value::Null);
    assert_eq!(body["external_id"], Value::Null);
    assert_eq!(body["created_at"], START);
    assert_eq!(body["updated_at"], START);
    assert_eq!(
        reply.header("location"),
        Some(format!("/v1/deposits/{id}").as_str())
    );
}

#[tokio::test]
async fn an_accepted_deposit_is_enqueued_exactly_once_naming_it() {
    // GIVEN merchant A
    let world = World::new();

    // WHEN it creates a deposit
    let reply = world.deposit_created("order-A-1").await;

    // THEN exactly one message asks for that deposit to be processed
    let messages = world.drain_queue();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body.deposit_id, reply.deposit_id());
    assert_eq!(messages[0].body.merchant_id, merchant(MERCHANT_A));
    world.assert_stored(1, 1);
}

#[tokio::test]
async fn an_accepted_deposit_reads_back_with_the_same_fields() {
    // GIVEN a deposit merchant A created
    let world = World::new();
    let created = world.deposit_created("order-A-1").await;
    let id = created.deposit_id();

    // WHEN merchant A reads it
    let reply = world.read_deposit(KEY_A, id).await;

    // THEN 200 with the same deposit
    reply.assert_json(StatusCode::OK);
    assert_eq!(reply.json(), created.json());
    assert_eq!(reply.json()["status"], "pending");
}

#[tokio::test]
async fn the_audit_trail_of_a_new_deposit_is_one_deposit_requested_event() {
    // GIVEN a deposit merchant A created with a card
    let world = World::new();
    let id = world.deposit_created("order-A-1").await.deposit_id();

    // WHEN merchant A reads its events
    let reply = world.read_events(KEY_A, id).await;

    // THEN one DepositRequested whose data shows the card's type only
    reply.assert_json(StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["object"], "list");
    assert_eq!(body["deposit_id"], id.to_string());
    let events = body["data"].as_array().expect("a list of events");
    assert_eq!(events.len(), 1, "{body}");
    let event = &events[0];
    assert_eq!(event["type"], "DepositRequested");
    assert_eq!(event["version"], 1);
    assert_eq!(event["occurred_at"], START);
    assert_eq!(
        event["data"],
        json!({ "amount": 10099, "currency": "AED", "country": "AE", "customer_id": "cus_42",
                "payment_method": { "type": "card" }, "metadata": { "order": "A-1" } })
    );
}

#[tokio::test]
async fn the_card_token_is_never_returned_nor_stored_in_clear() {
    // GIVEN a deposit created with the token `tok_visa`, then replayed, read, and audited
    let world = World::new();
    let created = world.deposit_created("order-A-1").await;
    let id = created.deposit_id();
    let replayed = world.post_valid_deposit(KEY_A, "order-A-1").await;
    let read = world.read_deposit(KEY_A, id).await;
    let audit = world.read_events(KEY_A, id).await;

    // THEN no response carries the token
    for reply in [&created, &replayed, &read, &audit] {
        assert!(
            !reply.text.contains(TOKEN),
            "token leaked in a response: {}",
            reply.text
        );
        let headers = format!("{:?}", reply.headers);
        assert!(
            !headers.contains(TOKEN),
            "token leaked in headers: {headers}"
        );
    }
    // AND nothing stored carries it: events, read model, idempotency record, message
    let events = world.stored_events(id).await;
    let stored = [
        serde_json::to_string(&events).unwrap(),
        serde_json::to_string(&world.stored_view(id).await).unwrap(),
        serde_json::to_string(&world.stored_key(MERCHANT_A, "order-A-1").await).unwrap(),
        serde_json::to_string(
            &world
                .drain_queue()
                .iter()
                .map(|m| &m.body)
                .collect::<Vec<&DepositMessage>>(),
        )
        .unwrap(),
    ];
    for text in &stored {
        assert!(!text.contains(TOKEN), "token stored in clear: {text}");
    }
    // AND the request's fingerprint kept with the key is a MAC under the field keys, not
    // a plain hash of a body that holds the token
    let record = world.stored_key(MERCHANT_A, "order-A-1").await.unwrap();
    let fingerprint = record.fingerprint.as_str();
    assert!(
        fingerprint.starts_with("ephemeral."),
        "not keyed: {fingerprint}"
    );
    // AND the event does hold it, sealed to this deposit
    let DepositEvent::DepositRequested { request, .. } = &events[0].event else {
        panic!("the first event is DepositRequested");
    };
    let method = request
        .payment_method
        .as_ref()
        .expect("the payment method is kept");
    assert_eq!(method.kind, "card");
    let opened = world
        .intake
        .cipher
        .decrypt(&method.details, id.0.as_bytes())
        .unwrap();
    assert_eq!(opened, TOKEN.as_bytes());
}

#[tokio::test]
async fn the_callers_correlation_id_follows_the_deposit_into_its_event_and_message() {
    // GIVEN a request carrying X-Correlation-Id
    let world = World::new();
    let headers = [("idempotency-key", "k-1"), ("x-correlation-id", "corr-77")];
    let request = deposit_request(&headers, Body::Text(valid_body().to_string()));

    // WHEN it is accepted
    let reply = world.send(request).await;
    reply.assert_json(StatusCode::ACCEPTED);

    // THEN the event and the message carry that correlation id
    let id = reply.deposit_id();
    let audit = world.read_events(KEY_A, id).await;
    assert_eq!(audit.json()["data"][0]["correlation_id"], "corr-77");
    assert_eq!(world.drain_queue()[0].body.correlation_id.0, "corr-77");
}

#[tokio::test]
async fn payment_method_and_metadata_are_optional() {
    // GIVEN a body with only the required fields
    let world = World::new();
    let body = json!({ "amount": 500, "currency": "JPY", "country": "JP", "customer_id": "c-1" });

    // WHEN it is posted
    let reply = world
        .send(post_deposit(KEY_A, "minimal", &body.to_string()))
        .await;

    // THEN it is accepted and its audit trail shows no payment method
    reply.assert_json(StatusCode::ACCEPTED);
    assert_eq!(reply.json()["currency"], "JPY");
    let id = reply.deposit_id();
    let audit = world.read_events(KEY_A, id).await;
    assert_eq!(
        audit.json()["data"][0]["data"]["payment_method"],
        Value::Null
    );
    assert_eq!(world.queue.len(), 1);
}

#[tokio::test]
async fn a_body_delivered_as_binary_is_accepted_like_text() {
    // GIVEN the body as API Gateway hands over a base64-encoded payload (decoded to bytes)
    let world = World::new();
    let body = Body::Binary(valid_body().to_string().into_bytes());

    // WHEN it is posted
    let request = deposit_request(&[("idempotency-key", "bin-1")], body);
    let reply = world.send(request).await;

    // THEN it is accepted like a text body
    reply.assert_json(StatusCode::ACCEPTED);
    assert_eq!(world.queue.len(), 1);
}

// ================================================================ idempotency

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_response_as_long_as_the_key_is_kept() {
    for (case, later) in [
        ("5 minutes later", Duration::minutes(5)),
        // keys are kept at least 24 h
        ("25 hours later", Duration::hours(25)),
    ] {
        // GIVEN a deposit created with key K
        let world = World::new();
        let first = world.deposit_created("K").await;

        // WHEN the same request is sent again, later
        world.clock.advance(later);
        let again = world.post_valid_deposit(KEY_A, "K").await;

        // THEN the first response again, marked as replayed, and nothing new
        in_case(case, || {
            again.assert_json(StatusCode::ACCEPTED);
            again.assert_replayed();
        });
        assert_eq!(again.json(), first.json(), "{case}");
        assert_eq!(again.deposit_id(), first.deposit_id(), "{case}");
        let location = again.header("location");
        assert_eq!(location, first.header("location"), "{case}");
        assert_eq!(world.store.stream_count(), 1, "{case}");
        assert_eq!(world.store.idempotency_count(), 1, "{case}");
        assert_eq!(world.queue.len(), 1, "{case}");
    }
}

#[tokio::test]
async fn a_replay_ignores_key_order_and_whitespace() {
    // GIVEN a deposit created with key K
    let world = World::new();
    let first = world.deposit_created("K").await;

    // WHEN the same body is sent with its keys reordered and reformatted
    let reordered = r#"
        {
          "metadata"       : { "order" : "A-1" },
          "payment_method" : { "token": "tok_visa", "type": "card" },
          "customer_id"    : "cus_42",
          "country"        : "AE",
          "currency"       : "AED",
          "amount"         : 10099
        }
    "#;
    let again = world.send(post_deposit(KEY_A, "K", reordered)).await;

    // THEN it is the same request: replayed, same deposit, nothing new
    again.assert_json(StatusCode::ACCEPTED);
    again.assert_replayed();
    assert_eq!(again.deposit_id(), first.deposit_id());
    assert_eq!(world.store.stream_count(), 1);
    assert_eq!(world.queue.len(), 1);
}

#[tokio::test]
async fn the_same_key_with_a_different_body_is_refused_and_writes_nothing() {
    // GIVEN a deposit created with key K
    let world = World::new();
    let first = world.deposit_created("K").await;

    // WHEN key K is reused for another amount
    let reply = world
        .post_body_with("K", "amount", Some(json!(20000)))
        .await;

    // THEN 422 idempotency_key_reused, and the store and queue are as before
    reply.assert_idempotency_error(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    world.assert_stored(1, 1);
    assert_eq!(world.queue.len(), 1);
    let read = world.read_deposit(KEY_A, first.deposit_id()).await;
    assert_eq!(read.json()["amount"], 10099);
}

#[tokio::test]
async fn the_same_key_while_the_first_request_is_executing_is_a_conflict() {
    // GIVEN a first request with key K held inside its queue send
    let world = World::new();
    let (gate, first) = world.held_in_send("K").await;

    // WHEN the same request arrives meanwhile
    let second = world.post_valid_deposit(KEY_A, "K").await;

    // THEN 409, and it wrote nothing of its own
    second.assert_idempotency_error(StatusCode::CONFLICT, "idempotency_request_in_progress");
    world.assert_stored(1, 1);
    assert!(world.queue.is_empty());

    // AND once released, the first completes normally and later retries replay it
    gate.release();
    let first = first.await.expect("the first request finishes");
    first.assert_json(StatusCode::ACCEPTED);
    first.assert_not_replayed();
    let third = world.post_valid_deposit(KEY_A, "K").await;
    third.assert_replayed();
    assert_eq!(third.deposit_id(), first.deposit_id());
    assert_eq!(world.queue.len(), 1);
}

#[tokio::test]
async fn a_failed_queue_send_still_answers_202_because_the_deposit_is_stored() {
    // GIVEN a queue that fails its next send
    let world = World::new();
    let queue = world.fail_next_sends(1);

    // WHEN a deposit is posted
    let reply = world.post_valid_deposit(KEY_A, "K").await;

    // THEN 202 with the pending deposit: it is durable (written before the send), so the
    // request must not be answered as if it failed; the sweeper re-sends its message
    reply.assert_json(StatusCode::ACCEPTED);
    reply.assert_not_replayed();
    assert_eq!(reply.json()["status"], "pending");
    for internal in [
        QUEUE_FAILURE_DETAIL,
        "AccessDenied",
        "arn:",
        "sqs",
        "SendMessage",
        "123456789012",
    ] {
        assert!(
            !reply.text.contains(internal),
            "leaked {internal:?}: {}",
            reply.text
        );
    }
    // AND no message went out, while the deposit and its completed key are stored
    assert_eq!(queue.calls(), 1);
    world.assert_stored(1, 1);
    assert!(world.queue.is_empty());
}

#[tokio::test]
async fn a_retry_after_a_failed_send_replays_the_stored_deposit_and_creates_no_other() {
    // GIVEN a deposit whose queue send failed (answered 202 all the same)
    let world = World::new();
    let (queue, first) = world.posted_while_the_send_failed("K").await;
    first.assert_json(StatusCode::ACCEPTED);

    // WHEN the client retries with the same key, the queue working again
    let retry = world.post_valid_deposit(KEY_A, "K").await;

    // THEN the recorded deposit is replayed: same id, same location, nothing new stored
    retry.assert_json(StatusCode::ACCEPTED);
    retry.assert_replayed();
    let id = retry.deposit_id();
    assert_eq!(id, first.deposit_id());
    assert_eq!(
        retry.header("location"),
        Some(format!("/v1/deposits/{id}").as_str())
    );
    assert_eq!(
        world.store.stream_count(),
        1,
        "the retry reuses the recorded deposit"
    );
    // AND the completed key sends nothing again: the message is the sweeper's to re-send
    assert_eq!(queue.calls(), 1);
    assert!(world.queue.is_empty());
}

#[tokio::test]
async fn a_request_that_died_mid_send_holds_its_key_until_the_lease_expires_then_a_retry_sends() {
    // GIVEN a first request with key K that dies (is cancelled) inside its queue send
    let world = World::new();
    let (_gate, doomed) = world.held_in_send("K").await;
    doomed.abort();
    assert!(
        doomed
            .await
            .expect_err("the request was cancelled")
            .is_cancelled()
    );
    assert_eq!(world.store.stream_count(), 1);
    assert!(world.queue.is_empty());

    // WHEN a retry comes within the 30 s lease
    world.clock.advance(Duration::seconds(29));
    let early = world.post_valid_deposit(KEY_A, "K").await;

    // THEN it is told the first is still in progress
    early.assert_idempotency_error(StatusCode::CONFLICT, "idempotency_request_in_progress");
    assert!(world.queue.is_empty());

    // WHEN a retry comes after the lease ran out
    world.clock.advance(Duration::seconds(2));
    let late = world.post_valid_deposit(KEY_A, "K").await;

    // THEN it takes over: the original deposit is replayed and its message finally sent
    late.assert_json(StatusCode::ACCEPTED);
    late.assert_replayed();
    let messages = world.drain_queue();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body.deposit_id, late.deposit_id());
    assert_eq!(world.store.stream_count(), 1);
}

#[tokio::test]
async fn when_a_failed_send_cannot_complete_its_key_a_retry_takes_over_after_30_seconds() {
    // GIVEN a send that fails once and a store that fails to complete the key after it
    let world = World::new();
    let queue = world.fail_next_sends(1);
    world
        .faults
        .when(Target::op(Port::Store, "transition_idempotency"))
        .once()
        .fail("ProvisionedThroughputExceededException");
    let first = world.post_valid_deposit(KEY_A, "K").await;
    first.assert_json(StatusCode::ACCEPTED);

    // WHEN the client retries at once
    let early = world.post_valid_deposit(KEY_A, "K").await;

    // THEN the key is still leased: 409, nothing sent
    early.assert_idempotency_error(StatusCode::CONFLICT, "idempotency_request_in_progress");
    assert_eq!(queue.calls(), 1);

    // WHEN it retries after the lease expired
    world.clock.advance(Duration::seconds(31));
    let late = world.post_valid_deposit(KEY_A, "K").await;

    // THEN it takes over: the same deposit is replayed and its message sent
    late.assert_json(StatusCode::ACCEPTED);
    late.assert_replayed();
    assert_eq!(late.deposit_id(), first.deposit_id());
    assert_eq!(queue.calls(), 2);
    let messages = world.drain_queue();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body.deposit_id, late.deposit_id());
}

#[tokio::test]
async fn a_rejected_request_does_not_consume_its_idempotency_key() {
    // GIVEN a request refused for a bad amount under key K
    let world = World::new();
    let refused = world.post_body_with("K", "amount", Some(json!(0))).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    // WHEN the corrected request is sent with the same key
    let reply = world.post_valid_deposit(KEY_A, "K").await;

    // THEN it creates the deposit (no 422 for a "different body")
    reply.assert_json(StatusCode::ACCEPTED);
    reply.assert_not_replayed();
    assert_eq!(world.queue.len(), 1);
}

// ================================================================ bad requests

#[tokio::test]
async fn malformed_json_is_refused_and_leaves_no_trace() {
    let world = World::new();
    for body in [r#"{"amount": 10099, "currency": "AED","#, "", "not json"] {
        // WHEN a body that is not JSON is posted
        let reply = world.send(post_deposit(KEY_A, "K", body)).await;
        // THEN 400 body_invalid_json, nothing written
        reply.assert_bad_request("body_invalid_json", None);
        world.assert_nothing_written();
    }
}

#[tokio::test]
async fn a_body_naming_a_field_twice_is_refused_and_leaves_no_trace() {
    let world = World::new();
    // GIVEN a body where a proxy reading the first `amount` would see 1, we the last
    let body = r#"{"amount":1,"amount":10099,"currency":"AED","country":"AE","customer_id":"c"}"#;
    // WHEN it is posted
    let reply = world.send(post_deposit(KEY_A, "K", body)).await;
    // THEN it is refused, naming the field, and nothing is written
    reply.assert_bad_request("body_duplicate_key", Some("amount"));
    world.assert_nothing_written();
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused() {
    let world = World::new();
    for body in ["[]", "42", "null", r#""deposit""#] {
        let reply = world.send(post_deposit(KEY_A, "K", body)).await;
        reply.assert_bad_request("body_invalid", None);
        world.assert_nothing_written();
    }
}

#[tokio::test]
async fn a_field_with_an_invalid_value_is_refused_naming_it() {
    let too_large = json!(paygate_domain::money::MAX_AMOUNT_MINOR + 1);
    let cases = [
        // a currency ISO 4217 does not define, a country ISO 3166-1 does not assign
        ("currency", json!("ABC"), "currency_invalid"),
        ("country", json!("XX"), "country_invalid"),
        // amounts that are not positive integers in minor units: zero, negative,
        // fractional, a string (a whole float such as 100.0 is its integer, as JSON
        // Schema counts it)
        ("amount", json!(0), "amount_invalid"),
        ("amount", json!(-5), "amount_invalid"),
        ("amount", json!(10.5), "amount_invalid"),
        ("amount", json!("100"), "amount_invalid"),
        ("amount", json!(0.0), "amount_invalid"),
        // one above the largest accepted (10^18 minor units)
        ("amount", too_large, "amount_too_large"),
    ];
    for (field, value, code) in cases {
        // WHEN the field holds the value
        let world = World::new();
        let body = body_with(field, Some(value.clone()));
        let reply = world.send(post_deposit(KEY_A, "K", &body)).await;
        // THEN 400 with its code on that field, nothing written
        reply.assert_bad_request(code, Some(field));
        world.assert_nothing_written();
    }
}

#[tokio::test]
async fn a_missing_required_field_is_refused_naming_it() {
    let world = World::new();
    for field in ["amount", "currency", "country", "customer_id"] {
        let reply = world.post_body_with("K", field, None).await;
        reply.assert_bad_request("parameter_missing", Some(field));
        world.assert_nothing_written();
    }
}

#[tokio::test]
async fn an_unknown_field_is_refused_naming_it() {
    // GIVEN a body with a field the API does not define
    let world = World::new();
    let reply = world
        .post_body_with("K", "gateway", Some(json!("psp_a")))
        .await;
    // THEN 400 parameter_unknown on that field, nothing written
    reply.assert_bad_request("parameter_unknown", Some("gateway"));
    world.assert_nothing_written();
}

#[tokio::test]
async fn a_one_megabyte_body_is_refused_as_too_large() {
    // GIVEN an otherwise valid body padded to 1 MB
    let world = World::new();
    let padding = "x".repeat(1024 * 1024);
    let body = body_with("metadata", Some(json!({ "pad": padding })));
    assert!(body.len() > 1024 * 1024);

    // WHEN it is posted
    let reply = world.send(post_deposit(KEY_A, "K", &body)).await;

    // THEN 413 body_too_large, nothing written
    reply.assert_invalid_request(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", None);
    world.assert_nothing_written();
}

#[tokio::test]
async fn a_missing_or_invalid_idempotency_key_is_refused_naming_the_header() {
    let world = World::new();
    let valid = valid_body().to_string();
    let mut not_ascii = post_deposit(KEY_A, "placeholder", &valid);
    let header = http::HeaderValue::from_bytes("clé".as_bytes()).unwrap();
    not_ascii.headers_mut().insert("idempotency-key", header);
    let cases = [
        // (invalid, not missing)
        ("not ASCII", not_ascii, "idempotency_key_invalid"),
        (
            "no Idempotency-Key",
            deposit_request(&[], Body::Text(valid.clone())),
            "idempotency_key_missing",
        ),
        (
            "empty",
            post_deposit(KEY_A, "", &valid),
            "idempotency_key_invalid",
        ),
        (
            "256 characters",
            post_deposit(KEY_A, &"k".repeat(256), &valid),
            "idempotency_key_invalid",
        ),
    ];
    for (case, request, code) in cases {
        // WHEN a valid deposit is posted with that key
        let reply = world.send(request).await;

        // THEN 400 naming the header, nothing written
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{case}");
        in_case(case, || {
            reply.assert_bad_request(code, Some("Idempotency-Key"));
            world.assert_nothing_written();
        });
    }
    // AND the longest allowed key (255) is accepted
    let reply = world.post_valid_deposit(KEY_A, &"k".repeat(255)).await;
    reply.assert_json(StatusCode::ACCEPTED);
}
#[tokio::test]
async fn requests_without_a_valid_api_key_are_unauthenticated() {
    let world = World::new();
    let id = uuid::Uuid::new_v4();
    let cases: [(&str, Option<String>); 5] = [
        ("no Authorization", None),
        ("an unknown key", Some(bearer("sk_test_nobody"))),
        ("the Basic scheme", Some(format!("Basic {KEY_A}"))),
        ("a bare key without scheme", Some(KEY_A.to_owned())),
        ("an empty bearer", Some("Bearer ".to_owned())),
    ];
    for (what, authorization) in cases {
        for (method, path) in [
            (Method::POST, "/v1/deposits".to_owned()),
            (Method::GET, format!("/v1/deposits/{id}")),
            (Method::GET, format!("/v1/deposits/{id}/events")),
        ] {
            // WHEN a request comes with {what}
            let mut headers = vec![("idempotency-key", "K")];
            if let Some(value) = &authorization {
                headers.push(("authorization", value));
            }
            let body = Body::Text(valid_body().to_string());
            let reply = world
                .send(paygate_kit::http::request(
                    method.clone(),
                    &path,
                    &headers,
                    body,
                ))
                .await;
            // THEN 401 authentication_error / api_key_invalid, nothing written
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{what} on {method} {path}"
            );
            reply.assert_api_key_invalid();
            world.assert_nothing_written();
        }
    }
}

// ================================================================ tenant isolation

#[tokio::test]
async fn another_merchants_deposit_and_audit_trail_are_not_found_exactly_like_unknown_ones() {
    for (case, read) in [("the deposit", ""), ("its audit trail", "/events")] {
        // GIVEN a deposit of merchant A
        let world = World::new();
        let id = world.deposit_created("K").await.deposit_id();
        let read_as = async |api_key, deposit: &dyn std::fmt::Display| {
            let path = format!("/v1/deposits/{deposit}{read}");
            world.send(get(api_key, &path)).await
        };

        // WHEN merchant B reads it, one of a random id, and one of an id that is none
        let theirs = read_as(KEY_B, &id).await;
        let unknown = read_as(KEY_B, &uuid::Uuid::new_v4()).await;
        let malformed = read_as(KEY_B, &"not-a-uuid").await;

        // THEN all are the same 404: nothing confirms that A's deposit exists
        in_case(case, || theirs.assert_deposit_not_found());
        assert_eq!(theirs.text, unknown.text, "{case}");
        assert_eq!(theirs.headers, unknown.headers, "{case}");
        assert_eq!(malformed.text, unknown.text, "{case}");
        assert!(!theirs.text.contains(&id.to_string()), "{case}");
        // AND A still sees its own
        let own = read_as(KEY_A, &id).await;
        in_case(case, || own.assert_json(StatusCode::OK));
    }
}

#[tokio::test]
async fn idempotency_keys_are_scoped_per_merchant() {
    // GIVEN merchant A created a deposit with key K
    let world = World::new();
    let a = world.deposit_created("K").await;

    // WHEN merchant B sends the same body with the same key
    let b = world.post_valid_deposit(KEY_B, "K").await;

    // THEN B gets its own new deposit, not a replay of A's
    b.assert_json(StatusCode::ACCEPTED);
    b.assert_not_replayed();
    assert_ne!(b.deposit_id(), a.deposit_id());
    world.assert_stored(2, 2);
    let messages = world.drain_queue();
    assert_eq!(messages.len(), 2);
    assert!(
        messages
            .iter()
            .any(|m| m.body.deposit_id == b.deposit_id()
                && m.body.merchant_id == merchant(MERCHANT_B))
    );
    // AND each merchant sees only its own
    let b_reads = world.read_deposit(KEY_B, b.deposit_id()).await;
    b_reads.assert_json(StatusCode::OK);
    let a_reads_b = world.read_deposit(KEY_A, b.deposit_id()).await;
    assert_eq!(a_reads_b.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn idempotency_keys_of_merchants_whose_ids_overlap_do_not_collide() {
    // GIVEN merchant "acme" used key "eu#K", and merchant "acme#eu" exists
    let world = World::new();
    world.register("sk_test_acme", "acme");
    world.register("sk_test_acme_eu", "acme#eu");
    let acme = world.post_valid_deposit("sk_test_acme", "eu#K").await;
    acme.assert_json(StatusCode::ACCEPTED);

    // WHEN "acme#eu" sends the same body with key "K"
    let acme_eu = world.post_valid_deposit("sk_test_acme_eu", "K").await;

    // THEN it gets its own deposit, never a replay of acme's
    acme_eu.assert_json(StatusCode::ACCEPTED);
    acme_eu.assert_not_replayed();
    assert_ne!(acme_eu.deposit_id(), acme.deposit_id());
    world.assert_stored(2, 2);
}

// ================================================================ routing

#[tokio::test]
async fn an_unknown_route_is_not_found() {
    let world = World::new();
    for path in ["/", "/v2/deposits", "/v1/refunds", "/v1/deposits/x/y/z"] {
        let reply = world.send(get(KEY_A, path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        reply.assert_invalid_request(StatusCode::NOT_FOUND, "route_not_found", None);
    }
    world.assert_nothing_written();
}

#[tokio::test]
async fn a_wrong_method_on_a_deposit_is_not_allowed() {
    // GIVEN a deposit of merchant A
    let world = World::new();
    let id = world.deposit_created("K").await.deposit_id();
    let auth = bearer(KEY_A);

    for (method, path) in [
        (Method::DELETE, format!("/v1/deposits/{id}")),
        (Method::PUT, format!("/v1/deposits/{id}")),
        (Method::PATCH, format!("/v1/deposits/{id}")),
        (Method::POST, format!("/v1/deposits/{id}")),
        (Method::POST, format!("/v1/deposits/{id}/events")),
    ] {
        // WHEN it is called with a method the route does not take
        let headers = [("authorization", auth.as_str()), ("idempotency-key", "K2")];
        let reply = world
            .send(paygate_kit::http::request(
                method.clone(),
                &path,
                &headers,
                Body::Text("{}".into()),
            ))
            .await;
        // THEN 405, and the deposit is untouched
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        reply.assert_method_not_allowed();
        assert_eq!(reply.header("allow"), Some("GET"), "{method} {path}");
    }
    // The deposits themselves take GET (the list) and POST (a new one).
    let deposits = world
        .send(paygate_kit::http::request(
            Method::DELETE,
            "/v1/deposits",
            &[("authorization", auth.as_str())],
            Body::Empty,
        ))
        .await;
    deposits.assert_method_not_allowed();
    assert_eq!(deposits.header("allow"), Some("GET, POST"));
    assert_eq!(world.stored_events(id).await.len(), 1);
    assert_eq!(world.store.stream_count(), 1);
    assert_eq!(world.queue.len(), 1);
}
