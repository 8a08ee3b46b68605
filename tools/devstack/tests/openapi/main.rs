//! `shared/api/openapi.json` against the running code.
//!
//! The devstack is built in process on the in-memory adapters (real handlers, real gateway
//! processor, simulated gateways) and every documented (path, method, status) is driven
//! by a real request. Each real response must be documented for its operation and valid
//! against the documented schema and headers; every documented status and error code must
//! have happened; every example must be valid against its own schema, have the keys real
//! responses have, and (for errors and webhook acknowledgements, which carry no ids) be
//! exactly a response that happened. The request schemas are checked against the
//! intake's validation, and the documented paths and methods against the router.

mod events;
mod lists;
mod payouts;
mod replays;
mod spec;
mod stack;

use http::{Method, Request};
use lists::expect_guarded;
use serde_json::{Map, Value, json};
use spec::{ResponseSpec, Spec, escape};
use stack::{
    BASE_URL, Exchange, JSON_GATEWAY, QueueMode, SOAP_GATEWAY, Stack, StoreMode, now, sign,
};
use std::collections::{BTreeMap, BTreeSet};

/// The intake's and the webhook's body limit.
const MAX_BODY: usize = 64 * 1024;
/// The largest amount, in minor units.
const MAX_AMOUNT: u64 = 1_000_000_000_000_000;

// ---------------------------------------------------------------- checks

/// Headers every response may carry without the spec declaring them.
const UNDECLARED_OK: [&str; 2] = ["content-type", "content-length"];

/// The response matches `response`: media type, body schema, declared headers, and no
/// header the spec does not declare.
fn check_against(spec: &Spec, response: &ResponseSpec, exchange: &Exchange) {
    let what = format!(
        "{} {} → {}",
        exchange.method, exchange.path, exchange.status
    );
    let media = exchange
        .header("content-type")
        .unwrap_or_else(|| panic!("{what}: no Content-Type"));
    let (schema, _) = response
        .content
        .get(media)
        .unwrap_or_else(|| panic!("{what}: {media} is not documented at {}", response.pointer));
    if let Err(errors) = spec.validate(schema, &exchange.json()) {
        panic!(
            "{what}: the body does not match {schema}:\n  {}\nbody: {}",
            errors.join("\n  "),
            exchange.text
        );
    }
    for (name, (required, schema)) in &response.headers {
        match exchange.header(name) {
            Some(value) => {
                if let Err(errors) = spec.validate(schema, &json!(value)) {
                    panic!("{what}: header {name}: {value:?} does not match: {errors:?}");
                }
            }
            None => assert!(!required, "{what}: the required header {name} is missing"),
        }
    }
    for name in exchange.headers.keys() {
        assert!(
            UNDECLARED_OK.contains(&name.as_str()) || response.headers.contains_key(name.as_str()),
            "{what}: header {name} is not documented at {}",
            response.pointer
        );
    }
}

/// The documented operation an exchange belongs to, if any.
fn operation_of(spec: &Spec, exchange: &Exchange) -> Option<(String, String)> {
    let template = spec.template_for(&exchange.path)?;
    let method = exchange.method.as_str().to_ascii_lowercase();
    spec.methods_of(&template)
        .contains(&method)
        .then_some((template, method))
}

/// Every exchange with a documented operation answered a documented status, and matches it.
fn check_documented(
    spec: &Spec,
    exchanges: &[Exchange],
) -> BTreeMap<(String, String, u16), Vec<Exchange>> {
    let mut observed: BTreeMap<(String, String, u16), Vec<Exchange>> = BTreeMap::new();
    for exchange in exchanges {
        let Some((template, method)) = operation_of(spec, exchange) else {
            continue;
        };
        let status = exchange.status.as_u16();
        let response = spec
            .response(&template, &method, status)
            .unwrap_or_else(|| {
                panic!(
                    "{method} {template} answered {status}, which the spec does not document: {}",
                    exchange.text
                )
            });
        check_against(spec, &response, exchange);
        observed
            .entry((template, method, status))
            .or_default()
            .push(exchange.clone());
    }
    observed
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every documented (path, method, status) happened, every documented error code of it
/// happened, and its examples are real.
fn check_coverage(spec: &Spec, observed: &BTreeMap<(String, String, u16), Vec<Exchange>>) {
    let mut missing = Vec::new();
    for (template, method, statuses) in spec.operations() {
        for status in statuses {
            let status: u16 = status.parse().expect("a numeric status");
            let key = (template.clone(), method.clone(), status);
            let Some(seen) = observed.get(&key) else {
                missing.push(format!("{method} {template} {status}"));
                continue;
            };
            let response = spec
                .response(&template, &method, status)
                .expect("documented");
            let (schema, examples) = response.json();
            let bodies: Vec<Value> = seen.iter().map(Exchange::json).collect();
            if status >= 400 {
                let documented = spec.error_codes(schema);
                let happened: BTreeSet<String> = seen.iter().map(Exchange::code).collect();
                assert_eq!(
                    documented, happened,
                    "{method} {template} {status}: the documented error codes (left) are not the ones driven (right)"
                );
            }
            assert!(
                !examples.is_empty(),
                "{method} {template} {status} has no example"
            );
            for (name, example) in examples {
                if let Err(errors) = spec.validate(schema, example) {
                    panic!(
                        "example {name} of {method} {template} {status} does not match its schema: {errors:?}"
                    );
                }
                for body in &bodies {
                    assert_eq!(
                        keys(example),
                        keys(body),
                        "example {name} of {method} {template} {status} has other top-level keys than the real response {body}"
                    );
                }
                // Error envelopes and webhook acknowledgements carry no ids or times: the
                // example must be a response that really happened.
                if status >= 400 || template.starts_with("/webhooks/") {
                    assert!(
                        bodies.contains(example),
                        "example {name} of {method} {template} {status} never happened; real bodies: {bodies:#?}"
                    );
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documented but never driven: {missing:#?}"
    );
}

// ---------------------------------------------------------------- bodies

fn card_deposit() -> Value {
    json!({ "amount": 10099, "currency": "AED", "country": "AE", "customer_id": "cus_42",
            "payment_method": { "type": "card", "token": "tok_visa" },
            "metadata": { "order": "A-1" } })
}

/// The card deposit with `field` set to `value`.
fn card_with(field: &str, value: Value) -> Value {
    with(&card_deposit(), field, value)
}

/// `body` with `field` set to `value`.
fn with(body: &Value, field: &str, value: Value) -> Value {
    let mut body = body.clone();
    body[field] = value;
    body
}

/// The card deposit without `field`.
fn card_without(field: &str) -> Value {
    without(&card_deposit(), field)
}

/// `body` without `field`.
fn without(body: &Value, field: &str) -> Value {
    let mut body = body.clone();
    body.as_object_mut().expect("an object").remove(field);
    body
}

/// What a create route refuses, each with its code: no key, a key that is not ASCII, and
/// under keys of their own (`{prefix}1`, `{prefix}2`, …) a body that is not JSON, has a
/// key twice, is no object, lacks `required` or is too large, then `valid` (a body the
/// route takes) with each `(field, value)` of `bad_fields` set.
fn refused_creates<'a>(
    prefix: &str,
    valid: &Value,
    required: &str,
    bad_fields: impl IntoIterator<Item = (&'a str, Value, &'static str)>,
) -> Vec<(Option<String>, String, &'static str)> {
    let malformed = [
        ("{\"amount\": ".to_owned(), "body_invalid_json"),
        (
            r#"{"amount":1,"amount":10099}"#.to_owned(),
            "body_duplicate_key",
        ),
        ("[]".to_owned(), "body_invalid"),
        (without(valid, required).to_string(), "parameter_missing"),
        (oversized(), "body_too_large"),
    ];
    let bad_fields = bad_fields
        .into_iter()
        .map(|(field, value, code)| (with(valid, field, value).to_string(), code));
    let keyed = malformed
        .into_iter()
        .chain(bad_fields)
        .zip(1..)
        .map(|((body, code), n)| (Some(format!("{prefix}{n}")), body, code));
    [
        (None, valid.to_string(), "idempotency_key_missing"),
        (
            Some("ééé".into()),
            valid.to_string(),
            "idempotency_key_invalid",
        ),
    ]
    .into_iter()
    .chain(keyed)
    .collect()
}

/// The amounts, currencies and countries every create route refuses, as `bad_fields` of
/// [`refused_creates`].
fn money_refusals() -> [(&'static str, Value, &'static str); 5] {
    [
        ("currency", json!(784), "parameter_invalid_type"),
        ("amount", json!(100.99), "amount_invalid"),
        ("amount", json!(MAX_AMOUNT + 1), "amount_too_large"),
        ("currency", json!("XAU"), "currency_invalid"),
        ("country", json!("XX"), "country_invalid"),
    ]
}

/// Posts each `(key, body, code)` of `refused` to `path`: each is refused with its code
/// (413 for a body too large, else 400); so is `valid` without an API key.
async fn expect_refused(
    stack: &Stack,
    path: &str,
    refused: Vec<(Option<String>, String, &str)>,
    valid: &Value,
) {
    for (key, body, code) in refused {
        let status = if code == "body_too_large" { 413 } else { 400 };
        let answer = stack
            .call(Method::POST, path, key.as_deref(), Some(&body))
            .await;
        answer.expect(status, Some(code));
    }
    let anonymous = stack
        .anonymous(Method::POST, path, &valid.to_string())
        .await;
    anonymous.expect(401, Some("api_key_invalid"));
}

/// 409: `POST path` of `body` under `key` again while the first request is still sending
/// its message. Returns the first request's answer.
async fn expect_in_progress(stack: &Stack, path: &str, key: &str, body: &Value) -> Exchange {
    stack.set_queue(QueueMode::Hold);
    let (first, second) = tokio::join!(stack.post_json(path, key, body), async {
        stack.queue_holding().await;
        let second = stack.post_json(path, key, body).await;
        stack.release_queue();
        second
    });
    second.expect(409, Some("idempotency_request_in_progress"));
    first
}

/// 503: `POST path` of `body` under `key` while the store is down (nothing is written).
/// Returns the answer to the retry with the same key once the store is back.
async fn expect_unavailable(stack: &Stack, path: &str, key: &str, body: &Value) -> Exchange {
    stack.set_store(StoreMode::Unavailable);
    let down = stack.post_json(path, key, body).await;
    down.expect(503, Some("service_unavailable"));
    stack.set_store(StoreMode::Normal);
    stack.post_json(path, key, body).await
}

fn request_example(spec: &Spec, template: &str, name: &str) -> Value {
    let method = "post";
    spec.request_body(template, method)["application/json"].1[name].clone()
}

/// A JSON gateway's report of `kind` about `payment` (and `refund`), for `amount` AED
/// (what moved: the payment's or the refund's).
fn json_report(
    kind: &str,
    event: &str,
    (payment, refund): (&str, Option<&str>),
    amount: u64,
    code: Option<&str>,
) -> String {
    json!({ "id": event, "type": kind, "payment_id": payment, "refund_id": refund,
            "reference": "test", "amount": amount, "currency": "AED", "failure_code": code, "created": now() })
    .to_string()
}

fn xml_report(kind: &str, event: &str, transaction: &str, reason: &str) -> String {
    format!(
        "<p:Notification xmlns:p=\"urn:paygate:sim:psp\"><p:EventId>{event}</p:EventId>\
         <p:Type>{kind}</p:Type><p:TransactionId>{transaction}</p:TransactionId><p:RefundId/>\
         <p:Reference>test</p:Reference><p:Amount>500</p:Amount><p:Currency>AED</p:Currency>\
         <p:ReasonCode>{reason}</p:ReasonCode></p:Notification>"
    )
}

fn id_of(exchange: &Exchange) -> String {
    exchange.json()["id"].as_str().expect("an id").to_owned()
}

/// The gateway's refund id the processor recorded for `refund`.
fn refund_external_id(events: &Value, refund: &str) -> String {
    events["data"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["type"] == "RefundSubmitted" && e["data"]["refund_id"] == refund)
        .and_then(|e| e["data"]["refund_external_id"].as_str())
        .unwrap_or_else(|| panic!("refund {refund} was not submitted: {events}"))
        .to_owned()
}

fn oversized() -> String {
    "x".repeat(MAX_BODY + 1)
}

// ---------------------------------------------------------------- the tour

/// The deposits the tour works on.
struct Deposits {
    /// AED, card `tok_visa`: goes to the json gateway; succeeds, then is refunded.
    card: String,
    /// JPY, no payment method: goes to the soap gateway; its webhook fails it.
    jpy: String,
    /// AED, card `tok_decline`: declined at once.
    declined: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_response_happens_and_matches_the_spec() {
    let spec = Spec::load();
    let stack = Stack::start().await;
    let deposits = create_deposits(&spec, &stack).await;
    read_deposits(&stack, &deposits.card).await;
    read_gateways(&stack).await;
    let payment = stack
        .deposit_until(&deposits.card, "submitted", |d| d["status"] == "submitted")
        .await["external_id"]
        .as_str()
        .expect("an external id")
        .to_owned();
    let jpy = stack
        .deposit_until(&deposits.jpy, "submitted", |d| d["status"] == "submitted")
        .await;
    assert_eq!(jpy["gateway"], SOAP_GATEWAY);
    let transaction = jpy["external_id"].as_str().expect("an external id");
    stack
        .deposit_until(&deposits.declined, "failed", |d| d["status"] == "failed")
        .await;
    receive_webhooks(&spec, &stack, &payment, transaction).await;
    refund(&spec, &stack, &deposits, &payment).await;
    // After the refunds: payouts the connectors cannot pay yet count as failed calls on
    // the json gateway's breaker.
    let payouts = payouts::pay_out(&spec, &stack, &deposits.card).await;
    lists::read_lists(&spec, &stack, &deposits.card).await;

    // Every kind of event went through the documented event schema.
    let mut kinds = BTreeSet::new();
    for id in [&deposits.card, &deposits.jpy, &deposits.declined] {
        let path = format!("/v1/deposits/{id}/events");
        let events = stack.get(&path).await.expect(200, None).json();
        for event in events["data"].as_array().expect("events") {
            kinds.insert(event["type"].as_str().expect("a type").to_owned());
        }
    }
    let documented = spec.event_types("Event");
    // All but those only a gateway time-out provokes, and the record earlier versions
    // wrote for a contradiction (`events.rs` checks every kind against the schema).
    let not_provoked_here = [
        "AttemptReleased",
        "AttemptResumed",
        "ContradictingOutcomeIgnored",
    ];
    let expected: BTreeSet<String> = documented
        .iter()
        .filter(|kind| !not_provoked_here.contains(&kind.as_str()))
        .cloned()
        .collect();
    assert_eq!(kinds, expected, "every documented event type happened");

    // And so for the payouts' trails, in payout words.
    let mut kinds = BTreeSet::new();
    for id in &payouts.all {
        let path = format!("/v1/payouts/{id}/events");
        let events = stack.get(&path).await.expect(200, None).json();
        for event in events["data"].as_array().expect("events") {
            kinds.insert(event["type"].as_str().expect("a type").to_owned());
        }
    }
    let expected: BTreeSet<String> = spec
        .event_types("PayoutEvent")
        .into_iter()
        .filter(|kind| !payouts::NOT_PROVOKED_YET.contains(&kind.as_str()))
        .collect();
    assert_eq!(
        kinds, expected,
        "every documented payout event type happened"
    );

    let observed = check_documented(&spec, &stack.exchanges());
    check_coverage(&spec, &observed);
}

/// `POST /v1/deposits`: every answer it has.
async fn create_deposits(spec: &Spec, stack: &Stack) -> Deposits {
    let card = request_example(spec, "/v1/deposits", "card");
    let created = stack.post_deposit("order-A-1", &card).await;
    created.expect(202, None);
    assert_eq!(created.header("idempotent-replayed"), None);
    let id = id_of(&created);
    let location = format!("/v1/deposits/{id}");
    assert_eq!(created.header("location"), Some(location.as_str()));
    let replayed = stack.post_deposit("order-A-1", &card).await;
    replayed.expect(202, None);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(replayed.json(), created.json());
    let other = card_with("amount", json!(1));
    let reused = stack.post_deposit("order-A-1", &other).await;
    reused.expect(422, Some("idempotency_key_reused"));

    let minimal = request_example(spec, "/v1/deposits", "minimal");
    let jpy = stack.post_deposit("order-B-1", &minimal).await;
    let declined = card_with(
        "payment_method",
        json!({ "type": "card", "token": "tok_decline" }),
    );
    let declined = stack.post_deposit("order-C-1", &declined).await;

    // A card deposit with one field set to what its check refuses.
    let bad_fields = [
        ("gateway", json!("acme_json"), "parameter_unknown"),
        ("currency", json!("ABC"), "currency_invalid"),
        ("customer_id", json!(""), "customer_id_invalid"),
        ("payment_method", json!("tok"), "payment_method_invalid"),
        (
            "payment_method",
            json!({ "type": "bank", "token": "t" }),
            "payment_method_type_invalid",
        ),
        (
            "payment_method",
            json!({ "type": "card", "token": "tok visa" }),
            "payment_method_token_invalid",
        ),
        ("metadata", json!({ "order": 1 }), "metadata_invalid"),
        ("metadata", many_keys(21), "metadata_invalid"),
    ];
    let bad_fields = money_refusals().into_iter().chain(bad_fields);
    let invalid = refused_creates("k", &card_deposit(), "customer_id", bad_fields);
    expect_refused(stack, "/v1/deposits", invalid, &card_deposit()).await;

    let body = card_with("metadata", json!({ "order": "held" }));
    let first = expect_in_progress(stack, "/v1/deposits", "order-held", &body).await;
    first.expect(202, None);

    // A queue that is down fails nothing: the deposit is stored, so it is a 202.
    let body = card_with("metadata", json!({ "order": "store-down" }));
    let retried = expect_unavailable(stack, "/v1/deposits", "order-store-down", &body).await;
    retried.expect(202, None);
    stack.set_queue(QueueMode::Unavailable);
    let body = card_with("metadata", json!({ "order": "queue-down" }));
    let stored = stack.post_deposit("order-queue-down", &body).await;
    stack.set_queue(QueueMode::Normal);
    stored.expect(202, None);

    // 500 when a fresh deposit's stream turns out to exist already.
    stack.set_store(StoreMode::Conflict);
    let conflict = stack.post_deposit("order-conflict", &card_deposit()).await;
    conflict.expect(500, Some("internal_error"));
    stack.set_store(StoreMode::Normal);

    Deposits {
        card: id,
        jpy: id_of(jpy.expect(202, None)),
        declined: id_of(declined.expect(202, None)),
    }
}

/// `GET /v1/deposits/{id}` and `GET /v1/deposits/{id}/events`: every answer they have.
async fn read_deposits(stack: &Stack, id: &str) {
    for path in [
        format!("/v1/deposits/{id}"),
        format!("/v1/deposits/{id}/events"),
    ] {
        stack.get(&path).await.expect(200, None);
        expect_guarded(stack, &path).await;
    }
    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/v1/deposits/{unknown}"),
        "/v1/deposits/not-a-uuid".to_owned(),
        format!("/v1/deposits/{unknown}/events"),
        "/v1/deposits/not-a-uuid/events".to_owned(),
    ] {
        stack
            .get(&path)
            .await
            .expect(404, Some("deposit_not_found"));
    }
}

/// `GET /v1/gateways`: the list (both simulated gateways), no key, the registry down.
async fn read_gateways(stack: &Stack) {
    let list = stack.get("/v1/gateways").await.expect(200, None).json();
    let names: Vec<&str> = list["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|gateway| gateway["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(names, [JSON_GATEWAY, SOAP_GATEWAY]);
    expect_guarded(stack, "/v1/gateways").await;
}

/// `POST /webhooks/{gateway}`: every answer it has, in both wire formats.
async fn receive_webhooks(spec: &Spec, stack: &Stack, payment: &str, transaction: &str) {
    let succeeded = json_report(
        "payment.succeeded",
        "evt_openapi_1",
        (payment, None),
        10099,
        None,
    );
    let recorded = stack.webhook(JSON_GATEWAY, &succeeded).await;
    let expected = json!({ "received": true, "result": "recorded", "status": "succeeded" });
    assert_eq!(recorded.expect(200, None).json(), expected);
    let again = stack.webhook(JSON_GATEWAY, &succeeded).await;
    assert_eq!(again.expect(200, None).json()["result"], "duplicate");
    let failed = json_report(
        "payment.failed",
        "evt_openapi_2",
        (payment, None),
        10099,
        Some("insufficient_funds"),
    );
    let ignored = stack.webhook(JSON_GATEWAY, &failed).await;
    assert_eq!(
        ignored.expect(200, None).json()["result"],
        "contradiction_ignored"
    );
    let soap = xml_report(
        "PAYMENT_FAILED",
        "evt_openapi_3",
        transaction,
        "insufficient_funds",
    );
    let soap_failed = stack.webhook(SOAP_GATEWAY, &soap).await;
    let expected = json!({ "received": true, "result": "recorded", "status": "failed" });
    assert_eq!(soap_failed.expect(200, None).json(), expected);

    let malformed = stack
        .webhook_with(JSON_GATEWAY, Some(b"v1=abc".as_slice()), &succeeded)
        .await;
    malformed.expect(400, Some("webhook_signature_malformed"));
    let not_json = stack.webhook(JSON_GATEWAY, r#"{"hello":"world"}"#).await;
    not_json.expect(400, Some("webhook_payload_invalid"));
    let not_xml = stack.webhook(SOAP_GATEWAY, "<nope/>").await;
    not_xml.expect(400, Some("webhook_payload_invalid"));
    let secret = devstack::gateways::webhook_secret(JSON_GATEWAY);
    let stale = sign(&secret, now() - 3600, &succeeded);
    let foreign = sign("whsec_not_the_gateways", now(), &succeeded);
    for (gateway, signature) in [
        ("nobody_pays", None),
        (JSON_GATEWAY, None),
        (JSON_GATEWAY, Some(stale.as_bytes())),
        (JSON_GATEWAY, Some(foreign.as_bytes())),
    ] {
        let answer = match signature {
            None if gateway == JSON_GATEWAY => stack.webhook_with(gateway, None, &succeeded).await,
            None => stack.webhook(gateway, &succeeded).await,
            Some(signature) => {
                stack
                    .webhook_with(gateway, Some(signature), &succeeded)
                    .await
            }
        };
        answer.expect(401, Some("webhook_signature_invalid"));
    }
    // The request examples are notifications the gateways' parsers accept (about payments
    // nobody recorded, hence 409).
    let examples = spec.request_body("/webhooks/{gateway}", "post");
    for (name, example) in &examples["application/json"].1 {
        let answer = stack.webhook(JSON_GATEWAY, &example.to_string()).await;
        assert_eq!(answer.status, 409, "JSON example {name}: {}", answer.text);
    }
    for (name, example) in &examples["text/xml"].1 {
        let xml = example.as_str().expect("XML text");
        let answer = stack.webhook(SOAP_GATEWAY, xml).await;
        assert_eq!(answer.status, 409, "XML example {name}: {}", answer.text);
    }
    let large = stack.webhook(JSON_GATEWAY, &oversized()).await;
    large.expect(413, Some("body_too_large"));
    stack.set_store(StoreMode::Unavailable);
    let down = stack.webhook(JSON_GATEWAY, &succeeded).await;
    down.expect(503, Some("service_unavailable"));
    stack.set_store(StoreMode::Normal);
}

/// `POST /v1/deposits/{id}/refunds`: every answer it has, and the gateway settling refunds.
async fn refund(spec: &Spec, stack: &Stack, deposits: &Deposits, payment: &str) {
    let id = deposits.card.as_str();
    let partial = request_example(spec, "/v1/deposits/{id}/refunds", "partial").to_string();
    let first = stack.refund(id, "refund-1", &partial).await;
    first.expect(202, None);
    assert_eq!(first.header("idempotent-replayed"), None);
    let first_id = id_of(&first);
    let replayed = stack.refund(id, "refund-1", &partial).await;
    assert_eq!(
        replayed.expect(202, None).header("idempotent-replayed"),
        Some("true")
    );
    let reused = stack.refund(id, "refund-1", r#"{"amount":301}"#).await;
    reused.expect(422, Some("idempotency_key_reused"));
    let too_much = stack.refund(id, "refund-big", r#"{"amount":10000}"#).await;
    too_much.expect(422, Some("refund_exceeds_remaining"));
    let failed = stack.refund(&deposits.jpy, "refund-failed", "{}").await;
    failed.expect(422, Some("deposit_not_refundable"));

    stack.set_queue(QueueMode::Hold);
    let one = r#"{"amount":1}"#;
    let (held, second) = tokio::join!(stack.refund(id, "refund-held", one), async {
        stack.queue_holding().await;
        let second = stack.refund(id, "refund-held", one).await;
        stack.release_queue();
        second
    });
    second.expect(409, Some("idempotency_request_in_progress"));
    held.expect(202, None);

    // Two refunds given the same refund id: the domain refuses the second.
    stack.set_fixed_ids(true);
    let same_id = stack.refund(id, "refund-same-id-1", one).await;
    same_id.expect(202, None);
    let refused = stack.refund(id, "refund-same-id-2", one).await;
    refused.expect(422, Some("refund_refused"));
    stack.set_fixed_ids(false);

    for (mode, status, code) in [
        (StoreMode::Conflict, 409, "deposit_busy"),
        (StoreMode::Corrupt, 500, "internal_error"),
        (StoreMode::Unavailable, 503, "service_unavailable"),
    ] {
        stack.set_store(mode);
        let answer = stack.refund(id, &format!("refund-{code}"), one).await;
        answer.expect(status, Some(code));
        stack.set_store(StoreMode::Normal);
    }

    let path = format!("/v1/deposits/{id}/refunds");
    let invalid: [(Option<&str>, String, &str); 10] = [
        (None, "{}".into(), "idempotency_key_missing"),
        (Some("with a tab\t"), "{}".into(), "idempotency_key_invalid"),
        (Some("r1"), "{".into(), "body_invalid_json"),
        (
            Some("r2"),
            r#"{"amount":1,"amount":2}"#.into(),
            "body_duplicate_key",
        ),
        (Some("r3"), "[]".into(), "body_invalid"),
        (
            Some("r4"),
            r#"{"reason":"requested_by_customer"}"#.into(),
            "parameter_unknown",
        ),
        (Some("r5"), r#"{"amount":0}"#.into(), "amount_invalid"),
        (Some("r6"), r#"{"amount":2.5}"#.into(), "amount_invalid"),
        (
            Some("r7"),
            json!({ "amount": MAX_AMOUNT + 1 }).to_string(),
            "amount_too_large",
        ),
        (Some("r8"), oversized(), "body_too_large"),
    ];
    for (key, body, code) in invalid {
        let status = if code == "body_too_large" { 413 } else { 400 };
        let answer = stack.call(Method::POST, &path, key, Some(&body)).await;
        answer.expect(status, Some(code));
    }
    let anonymous = stack.anonymous(Method::POST, &path, "{}").await;
    anonymous.expect(401, Some("api_key_invalid"));
    for deposit in [uuid::Uuid::now_v7().to_string(), "not-a-uuid".to_owned()] {
        let answer = stack.refund(&deposit, "refund-nobody", "{}").await;
        answer.expect(404, Some("deposit_not_found"));
    }

    // The gateway confirms the first refund and fails the next; the rest goes last.
    let events = stack.events_until(id, "RefundSubmitted", 3).await;
    let gateway_refund = refund_external_id(&events, &first_id);
    let report = json_report(
        "refund.succeeded",
        "evt_openapi_4",
        (payment, Some(&gateway_refund)),
        300,
        None,
    );
    let confirmed = stack.webhook(JSON_GATEWAY, &report).await;
    assert_eq!(
        confirmed.expect(200, None).json()["status"],
        "partially_refunded"
    );
    let next = stack.refund(id, "refund-2", r#"{"amount":200}"#).await;
    let next = id_of(next.expect(202, None));
    let events = stack.events_until(id, "RefundSubmitted", 4).await;
    let gateway_refund = refund_external_id(&events, &next);
    let report = json_report(
        "refund.failed",
        "evt_openapi_5",
        (payment, Some(&gateway_refund)),
        200,
        Some("expired_card"),
    );
    stack.webhook(JSON_GATEWAY, &report).await.expect(200, None);
    let rest = request_example(spec, "/v1/deposits/{id}/refunds", "rest").to_string();
    let everything = stack.refund(id, "refund-rest", &rest).await;
    // 100.99 less the 3.00 refunded and two 0.01 refunds still in flight.
    assert_eq!(
        everything.expect(202, None).json()["amount"],
        10099 - 300 - 1 - 1
    );
    let nothing = stack.refund(id, "refund-nothing", "{}").await;
    nothing.expect(422, Some("refund_exceeds_remaining"));

    // A deposit refunded as often as one may be refuses one more.
    let limited = payouts::fund(stack, "refund-limit").await;
    for n in 0..paygate_domain::deposit::MAX_REFUNDS {
        let answer = stack
            .refund(&limited, &format!("refund-limit-{n}"), one)
            .await;
        answer.expect(202, None);
    }
    let over = stack.refund(&limited, "refund-limit-over", one).await;
    over.expect(422, Some("refund_limit_reached"));
}

fn many_keys(count: usize) -> Value {
    Value::Object((0..count).map(|i| (format!("k{i}"), json!("v"))).collect())
}

// ---------------------------------------------------------------- requests

/// The request schemas say what the intake's validation says: bodies it accepts are
/// valid, bodies it refuses for their content are not, and so for Idempotency-Key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_schemas_agree_with_the_intakes_validation() {
    let spec = Spec::load();
    let stack = Stack::start().await;
    let deposit_schema = spec.request_body("/v1/deposits", "post")["application/json"]
        .0
        .clone();
    let full_metadata: Map<String, Value> = (0..20)
        .map(|i| (format!("{i:0>40}"), json!("v".repeat(500))))
        .collect();
    let accepted = [
        card_deposit(),
        json!({ "amount": 1, "currency": "KWD", "country": "AE", "customer_id": "c" }),
        json!({ "amount": MAX_AMOUNT, "currency": "JPY", "country": "JP",
                "customer_id": "x".repeat(255), "payment_method": null, "metadata": null }),
        card_with("metadata", Value::Object(full_metadata.clone())),
        card_with(
            "payment_method",
            json!({ "token": "t".repeat(255), "type": "card" }),
        ),
        card_with("customer_id", json!("Jürgen Müller-Lüdenscheidt")),
        // JSON Schema's `integer` holds 38.0, and so does the intake.
        card_with("amount", json!(38.0)),
    ];
    for (i, body) in accepted.iter().enumerate() {
        stack
            .post_deposit(&format!("ok-{i}"), body)
            .await
            .expect(202, None);
        if let Err(errors) = spec.validate(&deposit_schema, body) {
            panic!("the intake accepts {body} but the spec does not: {errors:?}");
        }
    }
    let token = |token: &str| json!({ "type": "card", "token": token });
    let refused = [
        (json!([]), "body_invalid"),
        (card_without("amount"), "parameter_missing"),
        (card_with("amount", Value::Null), "parameter_missing"),
        (card_with("currency", Value::Null), "parameter_missing"),
        (
            card_with("payment_method", json!({ "type": "card" })),
            "parameter_missing",
        ),
        (card_with("country", json!(1)), "parameter_invalid_type"),
        (card_with("extra", json!(1)), "parameter_unknown"),
        (
            card_with(
                "payment_method",
                json!({ "type": "card", "token": "t", "cvc": "1" }),
            ),
            "parameter_unknown",
        ),
        (card_with("amount", json!(0)), "amount_invalid"),
        (card_with("amount", json!(-5)), "amount_invalid"),
        (card_with("amount", json!(1.5)), "amount_invalid"),
        (card_with("amount", json!("100")), "amount_invalid"),
        (
            card_with("amount", json!(MAX_AMOUNT + 1)),
            "amount_too_large",
        ),
        (card_with("currency", json!("aed")), "currency_invalid"),
        (card_with("currency", json!("XXX")), "currency_invalid"),
        (card_with("currency", json!("USN")), "currency_invalid"),
        (card_with("country", json!("ae")), "country_invalid"),
        (card_with("country", json!("UK")), "country_invalid"),
        (
            card_with("customer_id", json!("x".repeat(256))),
            "customer_id_invalid",
        ),
        (
            card_with("customer_id", json!("cus\n42")),
            "customer_id_invalid",
        ),
        (
            card_with("customer_id", json!("cus\u{85}42")),
            "customer_id_invalid",
        ),
        (
            card_with("payment_method", json!(["card"])),
            "payment_method_invalid",
        ),
        (
            card_with("payment_method", json!({ "type": "Card", "token": "t" })),
            "payment_method_type_invalid",
        ),
        (
            card_with("payment_method", token("")),
            "payment_method_token_invalid",
        ),
        (
            card_with("payment_method", token(&"t".repeat(256))),
            "payment_method_token_invalid",
        ),
        (
            card_with("payment_method", token("tök")),
            "payment_method_token_invalid",
        ),
        (card_with("metadata", many_keys(21)), "metadata_invalid"),
        (
            card_with("metadata", json!({ "k".repeat(41): "v" })),
            "metadata_invalid",
        ),
        (
            card_with("metadata", json!({ "": "v" })),
            "metadata_invalid",
        ),
        (
            card_with("metadata", json!({ "k": "v".repeat(501) })),
            "metadata_invalid",
        ),
        (
            card_with("metadata", json!({ "k": null })),
            "metadata_invalid",
        ),
        (
            card_with("metadata", json!("order=A-1")),
            "metadata_invalid",
        ),
    ];
    for (i, (body, code)) in refused.iter().enumerate() {
        let answer = stack.post_deposit(&format!("bad-{i}"), body).await;
        answer.expect(400, Some(code));
        assert!(
            spec.validate(&deposit_schema, body).is_err(),
            "the intake refuses {body} ({code}) but the spec allows it"
        );
    }
    // An integer past u64, written as one: too large, like any amount past the maximum.
    let beyond_u64 = card_deposit()
        .to_string()
        .replace("10099", "18446744073709551616");
    let answer = stack
        .call(
            Method::POST,
            "/v1/deposits",
            Some("bad-u64"),
            Some(&beyond_u64),
        )
        .await;
    answer.expect(400, Some("amount_too_large"));

    let refund_schema = spec.request_body("/v1/deposits/{id}/refunds", "post")["application/json"]
        .0
        .clone();
    for body in [json!({}), json!({ "amount": null }), json!({ "amount": 1 })] {
        let valid = spec.validate(&refund_schema, &body);
        assert!(valid.is_ok(), "{body}: {valid:?}");
    }
    // Body checks come before the deposit's state, so any deposit will do.
    let target = stack.post_deposit("refund-target", &card_deposit()).await;
    let target = id_of(target.expect(202, None));
    let refused = [
        (json!([]), "body_invalid"),
        (json!({ "amount": 0 }), "amount_invalid"),
        (json!({ "amount": "5" }), "amount_invalid"),
        (json!({ "amount": MAX_AMOUNT + 1 }), "amount_too_large"),
        (json!({ "amount": 1.5 }), "amount_invalid"),
        (json!({ "amount": 1, "note": "x" }), "parameter_unknown"),
    ];
    for (i, (body, code)) in refused.iter().enumerate() {
        let answer = stack
            .refund(&target, &format!("refund-bad-{i}"), &body.to_string())
            .await;
        answer.expect(400, Some(code));
        assert!(
            spec.validate(&refund_schema, body).is_err(),
            "the spec allows {body}"
        );
    }

    // Payouts: the body is checked before the balance, so a body the intake's validation
    // takes is refused only for the balance (this merchant has none).
    let (payout_schema, examples) =
        spec.request_body("/v1/payouts", "post")["application/json"].clone();
    let payout = request_example(&spec, "/v1/payouts", "bankAccount");
    let payout_with = |field: &str, value: Value| {
        let mut body = payout.clone();
        body[field] = value;
        body
    };
    let bank_account = |token: &str| json!({ "type": "bank_account", "token": token });
    let mut accepted: Vec<Value> = examples.into_values().collect();
    accepted.extend([
        json!({ "amount": 1, "currency": "KWD", "country": "AE",
                "destination": bank_account("ba_reject") }),
        json!({ "amount": MAX_AMOUNT, "currency": "JPY", "country": "JP",
                "destination": bank_account(&"t".repeat(255)), "metadata": null }),
        payout_with("metadata", Value::Object(full_metadata)),
        payout_with(
            "destination",
            json!({ "token": "ba_fail_webhook", "type": "bank_account" }),
        ),
    ]);
    for (i, body) in accepted.iter().enumerate() {
        let answer = stack.post_payout(&format!("payout-ok-{i}"), body).await;
        answer.expect(422, Some("balance_insufficient"));
        if let Err(errors) = spec.validate(&payout_schema, body) {
            panic!("the intake accepts {body} but the spec does not: {errors:?}");
        }
    }
    let without = |field: &str| {
        let mut body = payout.clone();
        body.as_object_mut().expect("an object").remove(field);
        body
    };
    let refused = [
        (json!([]), "body_invalid"),
        (without("amount"), "parameter_missing"),
        (without("destination"), "parameter_missing"),
        (payout_with("destination", Value::Null), "parameter_missing"),
        (
            payout_with("destination", json!({ "type": "bank_account" })),
            "parameter_missing",
        ),
        (payout_with("country", json!(1)), "parameter_invalid_type"),
        (
            payout_with("customer_id", json!("cus_42")),
            "parameter_unknown",
        ),
        (
            payout_with("payment_method", json!({ "type": "card", "token": "t" })),
            "parameter_unknown",
        ),
        (
            payout_with(
                "destination",
                json!({ "type": "bank_account", "token": "t", "iban": "DE89" }),
            ),
            "parameter_unknown",
        ),
        (payout_with("amount", json!(0)), "amount_invalid"),
        (payout_with("amount", json!("100")), "amount_invalid"),
        (payout_with("amount", Value::Null), "parameter_missing"),
        (
            payout_with("amount", json!(MAX_AMOUNT + 1)),
            "amount_too_large",
        ),
        (payout_with("currency", json!("aed")), "currency_invalid"),
        (payout_with("country", json!("UK")), "country_invalid"),
        (
            payout_with("destination", json!(["bank_account"])),
            "destination_invalid",
        ),
        (
            payout_with("destination", json!({ "type": "card", "token": "t" })),
            "destination_type_invalid",
        ),
        (
            payout_with(
                "destination",
                json!({ "type": "Bank_Account", "token": "t" }),
            ),
            "destination_type_invalid",
        ),
        (
            payout_with("destination", bank_account("")),
            "destination_token_invalid",
        ),
        (
            payout_with("destination", bank_account(&"t".repeat(256))),
            "destination_token_invalid",
        ),
        (
            payout_with("destination", bank_account("bä")),
            "destination_token_invalid",
        ),
        (payout_with("metadata", many_keys(21)), "metadata_invalid"),
        (
            payout_with("metadata", json!({ "k": null })),
            "metadata_invalid",
        ),
    ];
    for (i, (body, code)) in refused.iter().enumerate() {
        let answer = stack.post_payout(&format!("payout-bad-{i}"), body).await;
        answer.expect(400, Some(code));
        assert!(
            spec.validate(&payout_schema, body).is_err(),
            "the intake refuses {body} ({code}) but the spec allows it"
        );
    }

    let key_schema = "/components/parameters/IdempotencyKey/schema";
    for key in ["a", "order A-1 (retry)", &"k".repeat(255)] {
        let body = card_with("metadata", json!({ "key": key.len().to_string() }));
        stack.post_deposit(key, &body).await.expect(202, None);
        assert!(spec.validate(key_schema, &json!(key)).is_ok(), "{key}");
    }
    for key in ["", &"k".repeat(256), "clé"] {
        let body = card_deposit().to_string();
        let answer = stack
            .call(Method::POST, "/v1/deposits", Some(key), Some(&body))
            .await;
        answer.expect(400, Some("idempotency_key_invalid"));
        assert!(spec.validate(key_schema, &json!(key)).is_err(), "{key:?}");
    }

    // Whatever came back is documented, too.
    check_documented(&spec, &stack.exchanges());
}

/// The currency and country enums are exactly what the domain accepts.
#[test]
fn the_currency_and_country_enums_are_exactly_what_the_domain_accepts() {
    let spec = Spec::load();
    let listed = |name: &str| -> BTreeSet<String> {
        spec.at(&format!("/components/schemas/{name}/enum"))
            .as_array()
            .expect("an enum")
            .iter()
            .map(|v| v.as_str().expect("a code").to_owned())
            .collect()
    };
    let letters: Vec<char> = ('A'..='Z').chain('a'..='z').collect();
    let mut currencies = BTreeSet::new();
    let mut countries = BTreeSet::new();
    for a in &letters {
        for b in &letters {
            let pair = format!("{a}{b}");
            if paygate_domain::Country::parse(&pair).is_ok() {
                countries.insert(pair.clone());
            }
            for c in &letters {
                let code = format!("{pair}{c}");
                if paygate_domain::Currency::parse(&code).is_ok() {
                    currencies.insert(code);
                }
            }
        }
    }
    assert_eq!(listed("Currency"), currencies);
    assert_eq!(listed("Country"), countries);
    assert!(
        currencies.contains("AED") && currencies.contains("KWD") && !currencies.contains("XAU")
    );
}

// ---------------------------------------------------------------- the document

/// Every `$ref` resolves, every response and request body has examples valid against
/// its own schema, every parameter example matches its schema, and path parameters are
/// declared.
#[test]
fn the_document_is_self_consistent() {
    let spec = Spec::load();
    let mut refs = Vec::new();
    collect_refs(&spec.doc, &mut refs);
    assert!(!refs.is_empty());
    for target in refs {
        assert!(target.starts_with("#/"), "{target} is not local");
        assert!(
            spec.doc.pointer(&target[1..]).is_some(),
            "{target} resolves to nothing"
        );
    }
    let mut operation_ids = BTreeSet::new();
    for (template, method, statuses) in spec.operations() {
        let operation = spec.at(&format!("/paths/{}/{method}", escape(&template)));
        assert!(
            operation_ids.insert(
                operation["operationId"]
                    .as_str()
                    .expect("an operationId")
                    .to_owned()
            ),
            "operationIds are unique"
        );
        let mut declared = BTreeSet::new();
        for (i, _) in operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let pointer = spec.deref(&format!(
                "/paths/{}/{method}/parameters/{i}",
                escape(&template)
            ));
            let parameter = spec.at(&pointer);
            if parameter["in"] == "path" {
                assert_eq!(parameter["required"], true, "{pointer}");
                declared.insert(parameter["name"].as_str().expect("a name").to_owned());
            }
            if let Some(example) = parameter.get("example")
                && let Err(errors) = spec.validate(&format!("{pointer}/schema"), example)
            {
                panic!("the example of {pointer} does not match its schema: {errors:?}");
            }
        }
        let in_template: BTreeSet<String> = template
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        assert_eq!(
            declared, in_template,
            "{method} {template}: path parameters"
        );
        for status in statuses {
            let response = spec
                .response(&template, &method, status.parse().expect("a status"))
                .expect("documented");
            assert!(spec.at(&response.pointer)["description"].is_string());
            for (media, (schema, examples)) in &response.content {
                assert!(
                    !examples.is_empty(),
                    "{method} {template} {status} {media}: no example"
                );
                for (name, example) in examples {
                    if let Err(errors) = spec.validate(schema, example) {
                        panic!("{method} {template} {status}: example {name}: {errors:?}");
                    }
                }
            }
        }
        if operation.get("requestBody").is_some() {
            for (media, (schema, examples)) in spec.request_body(&template, &method) {
                assert!(
                    !examples.is_empty(),
                    "{method} {template} request {media}: no example"
                );
                if media == "application/json" {
                    for (name, example) in examples {
                        if let Err(errors) = spec.validate(&schema, &example) {
                            panic!("{method} {template} request example {name}: {errors:?}");
                        }
                    }
                }
            }
        }
    }
    for name in ["RouteNotFound", "MethodNotAllowed"] {
        let response = spec.component_response(name);
        let (schema, examples) = response.json();
        for example in examples.values() {
            assert!(spec.validate(schema, example).is_ok(), "{name}");
        }
    }
    assert_eq!(
        spec.at("/components/securitySchemes/merchantApiKey/scheme"),
        "bearer"
    );
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(target) = object.get("$ref").and_then(Value::as_str) {
                refs.push(target.to_owned());
            }
            object.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

// ---------------------------------------------------------------- routes

/// The documented paths and methods are the ones the router serves: another method on a
/// documented path is 405 naming the documented one, a path outside the spec is 404, the
/// deployed API's routes (template.yaml) are exactly the documented operations, and the
/// devstack serves the document itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_covers_every_route_and_the_devstack_serves_it() {
    let spec = Spec::load();
    let stack = Stack::start().await;
    let deposit = id_of(
        stack
            .post_deposit("route-probe", &card_deposit())
            .await
            .expect(202, None),
    );
    let not_allowed = spec.component_response("MethodNotAllowed");
    let not_found = spec.component_response("RouteNotFound");

    for (template, _, _) in spec.operations() {
        let path = template
            .replace("{id}", &deposit)
            .replace("{gateway}", JSON_GATEWAY);
        let documented = spec.methods_of(&template);
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if documented.contains(&method.to_ascii_lowercase()) {
                continue;
            }
            let method = Method::from_bytes(method.as_bytes()).expect("a method");
            let answer = stack.call(method.clone(), &path, Some("probe"), None).await;
            answer.expect(405, Some("method_not_allowed"));
            let allow: BTreeSet<String> = answer
                .header("allow")
                .expect("an Allow header")
                .split(',')
                .map(|m| m.trim().to_ascii_lowercase())
                .collect();
            assert_eq!(
                allow, documented,
                "{method} {path}: Allow names the documented methods"
            );
            check_against(&spec, &not_allowed, &answer);
        }
    }
    for path in [
        "/",
        "/v1",
        "/v2/deposits",
        "/v1/deposit",
        "/v1/refunds",
        "/v1/balances",
        "/v1/balance/transactions/txn_1",
        "/v1/payout",
        &format!("/v1/deposits/{deposit}/event"),
        &format!("/v1/deposits/{deposit}/refunds/1"),
        &format!("/v1/payouts/{deposit}/refunds"),
        &format!("/v1/payouts/{deposit}/event"),
        "/webhooks",
        "/webhooks/",
        "/webhooks/acme_json/extra",
        "/openapi",
    ] {
        // Unknown paths are refused before authentication: no key needed to learn that.
        let answer = stack
            .send(Request::get(path).body(axum::body::Body::empty()).unwrap())
            .await;
        assert!(
            spec.template_for(path).is_none(),
            "{path} is not a documented path"
        );
        answer.expect(404, Some("route_not_found"));
        check_against(&spec, &not_found, &answer);
    }
    // Paths are exact: a documented path with a trailing slash is no route, whatever the
    // method, and is refused before authentication like any other.
    for (template, method, _) in spec.operations() {
        let path = template
            .replace("{id}", &deposit)
            .replace("{gateway}", JSON_GATEWAY);
        let path = format!("{path}/");
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("a method");
        let request = Request::builder().method(method.clone()).uri(&path);
        let answer = stack
            .send(request.body(axum::body::Body::empty()).unwrap())
            .await;
        assert!(
            spec.template_for(&path).is_none(),
            "{path} is not documented"
        );
        answer.expect(404, Some("route_not_found"));
        check_against(&spec, &not_found, &answer);
    }

    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
            .expect("template.yaml");
    let mut deployed = BTreeSet::new();
    for line in template.lines() {
        let (Some(method), Some(path)) = (field(line, "Method:"), field(line, "Path:")) else {
            continue;
        };
        deployed.insert((path, method.to_ascii_lowercase()));
    }
    assert!(!deployed.is_empty(), "template.yaml routes are found");
    let documented: BTreeSet<(String, String)> = spec
        .operations()
        .into_iter()
        .map(|(path, method, _)| (path, method))
        .collect();
    let undocumented: Vec<_> = deployed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes in template.yaml missing from the spec: {undocumented:?}"
    );
    let unrouted: Vec<_> = documented.difference(&deployed).collect();
    assert!(
        unrouted.is_empty(),
        "documented operations API Gateway does not route (template.yaml): {unrouted:?}"
    );

    // The document needs no credentials: asked with a bare request.
    let ask = |method: Method| {
        let request = Request::builder()
            .method(method)
            .uri(devstack::OPENAPI_PATH);
        stack.send(request.body(axum::body::Body::empty()).unwrap())
    };
    let served = ask(Method::GET).await;
    served.expect(200, None);
    assert_eq!(served.header("content-type"), Some("application/json"));
    let mut expected = spec.doc.clone();
    expected["servers"][0]["url"] = json!(BASE_URL);
    assert_eq!(
        served.json(),
        expected,
        "the served document is openapi.json, its first server this stack"
    );
    let posted = ask(Method::POST).await;
    posted.expect(405, Some("method_not_allowed"));
    assert_eq!(posted.header("allow"), Some("GET"));
}

/// `Method: POST` / `Path: "/v1/deposits/{id}"` out of one template.yaml event line.
fn field(line: &str, name: &str) -> Option<String> {
    let rest = line[line.find(name)? + name.len()..].trim_start();
    let value = match rest.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"')?],
        None => &rest[..rest.find([',', ' ', '}']).unwrap_or(rest.len())],
    };
    Some(value.to_owned()).filter(|v| !v.is_empty())
}

/// Rules the descriptions state are in the schemas too, where a schema-driven tool sees
/// them, and agree with the code that enforces them.
#[test]
fn the_schemas_hold_what_the_descriptions_say() {
    let spec = Spec::load();

    let signature = "/components/parameters/PaygateSignature/schema";
    let signed = sign("whsec_dev_acme_json", 1_795_440_000, "{}");
    let rotating = format!("{signed},v1={},v0=legacy", "ab".repeat(32));
    for header in [signed.as_str(), rotating.as_str()] {
        assert!(paygate_signature::SignatureHeader::parse(header).is_ok());
        let valid = spec.validate(signature, &json!(header));
        assert!(valid.is_ok(), "{header}: {valid:?}");
    }
    // Every example of the header is one the server parses (schemathesis sends them).
    let examples = spec.doc["components"]["parameters"]["PaygateSignature"]["schema"]["examples"]
        .as_array()
        .expect("the header's examples");
    for example in examples {
        let header = example.as_str().expect("a string example");
        let parsed = paygate_signature::SignatureHeader::parse(header);
        assert!(parsed.is_ok(), "the example {header} is malformed");
        assert!(spec.validate(signature, example).is_ok(), "{header}");
    }
    let hex = "ab".repeat(32);
    for malformed in [
        format!("v1={hex}"),
        "t=1795440000".to_owned(),
        format!("t=soon,v1={hex}"),
        format!("t=1795440000,v1={}", "ab".repeat(31)),
        format!("t=1795440000,v1={hex},junk"),
        // Each `v1` is 64 hex digits, not only one of them; `t` comes once and fits i64.
        format!("t=1795440000,v1={hex},v1={}", "ab".repeat(33)),
        format!("t=1795440000,v1={hex},v1=zz"),
        format!("t=1795440000,t=1795440001,v1={hex}"),
        format!("t={},v1={hex}", "9".repeat(20)),
    ] {
        assert!(paygate_signature::SignatureHeader::parse(&malformed).is_err());
        assert!(
            spec.validate(signature, &json!(malformed)).is_err(),
            "{malformed}"
        );
    }

    // A correlation id the server does not keep is replaced, not refused: the schema
    // admits any value, and the description says which are kept.
    let correlation = "/components/parameters/CorrelationId/schema";
    for kept in ["checkout-7f3a", "0193a4f2-6c1e-7b3d-8a52-4e9f0c7d21ab"] {
        assert!(paygate_domain::CorrelationId::from_header(kept).is_some());
        assert!(spec.validate(correlation, &json!(kept)).is_ok(), "{kept}");
    }
    let long = "a".repeat(129);
    for replaced in ["", "$", "{}", "two words", long.as_str()] {
        assert!(paygate_domain::CorrelationId::from_header(replaced).is_none());
        let admitted = spec.validate(correlation, &json!(replaced));
        assert!(
            admitted.is_ok(),
            "{replaced:?} is accepted, yet the spec refuses it"
        );
    }

    let notification = "/components/schemas/XmlNotification";
    let refund = json!({ "EventId": "e", "Type": "REFUND_SUCCEEDED", "TransactionId": "txn_1",
                         "RefundId": "rf_1", "Reference": "r", "Amount": 1, "Currency": "AED" });
    let payout = json!({ "EventId": "e", "Type": "PAYOUT_PAID", "PayoutId": "po_1",
                         "Reference": "r", "Amount": 1, "Currency": "AED" });
    assert!(spec.validate(notification, &refund).is_ok());
    assert!(spec.validate(notification, &payout).is_ok());
    let with = |body: &Value, field: &str, value: Option<&str>| {
        let mut body = body.clone();
        let object = body.as_object_mut().expect("an object");
        match value {
            Some(value) => object.insert(field.to_owned(), json!(value)),
            None => object.remove(field),
        };
        body
    };
    for refused in [
        with(&refund, "RefundId", Some("")),
        with(&refund, "RefundId", None),
        with(&refund, "TransactionId", None),
        with(&payout, "PayoutId", Some("")),
        with(&payout, "PayoutId", None),
    ] {
        assert!(
            spec.validate(notification, &refused).is_err(),
            "the spec allows {refused}"
        );
    }

    // The key of the spec's example is its own: replaying the spec's example does not
    // spend a key the README's requests use.
    let example = spec.doc["components"]["parameters"]["IdempotencyKey"]["example"]
        .as_str()
        .expect("an example key");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    assert!(
        !readme.contains(&format!("Idempotency-Key: {example}")),
        "the README uses the spec's example key {example}"
    );
}

/// The README's worked webhook signature is what the signer computes, with the secret the
/// devstack gives `acme_json` when none is configured.
#[test]
fn the_readme_signs_a_webhook_as_the_devstack_checks_it() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let body = r#"{"id":"evt_demo_1","type":"payment.succeeded","payment_id":"pay_demo","reference":"dep_demo","amount":10099,"currency":"AED"}"#;
    let header = sign("whsec_dev_acme_json", 1_795_440_000, body);
    assert!(readme.contains(body), "the README shows the signed body");
    assert!(
        readme.contains(&format!("Paygate-Signature: {header}")),
        "the README's signature is not {header}"
    );
    assert!(readme.contains("whsec_dev_<gateway>"));
    if std::env::var_os("PAYGATE_WEBHOOK_SECRET_ACME_JSON").is_none() {
        assert_eq!(
            devstack::gateways::webhook_secret("acme_json"),
            "whsec_dev_acme_json"
        );
    }
}
