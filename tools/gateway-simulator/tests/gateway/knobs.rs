//! Every misbehaviour knob and the refund status endpoints over real HTTP, both formats.

use std::time::Duration;

use crate::common::*;
use crate::each_format::for_each_format;
use axum::http::Method;
use gateway_simulator::{Format, WebhookRetry};
use serde_json::{Value, json};

/// A create call that may go unanswered.
async fn try_create(sim: &Sim, key: &str, amount: i64) -> Result<Reply, String> {
    let (path, headers, body) = match sim.format() {
        Format::Json => (
            "/v1/payments",
            [("idempotency-key", key)],
            json!({"amount": amount, "currency": "AED", "country": "AE", "reference": "dep_1"})
                .to_string(),
        ),
        Format::Soap => (
            "/soap",
            [("soapaction", "\"CreatePayment\"")],
            soap_envelope(
                "CreatePayment",
                &format!(
                    "<p:IdempotencyKey>{key}</p:IdempotencyKey><p:Amount>{amount}</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country><p:Reference>dep_1</p:Reference>"
                ),
            ),
        ),
    };
    sim.http
        .try_call(Method::POST, &sim.url(path), &headers, Some(body))
        .await
}

/// The HTTP status of a status lookup by key, and the amount it reports when found.
async fn lookup(sim: &Sim, key: &str) -> (u16, Option<i64>) {
    let reply = sim.lookup(Of::Payment, By::Key(key)).await;
    let amount = match (sim.format(), reply.status) {
        (Format::Json, 200) => reply.json()["amount"].as_i64(),
        (Format::Soap, 200) => reply
            .body
            .split("<p:Amount>")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .and_then(|n| n.parse().ok()),
        _ => None,
    };
    (reply.status, amount)
}

fn payment_ids(sim: &Sim, deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(|d| sim.event(d).payment_id).collect()
}

async fn lost_reply_closes_the_connection_but_charges(format: Format) {
    let sim = start(format, None).await;
    sim.put_behaviour(json!({"lost_reply_rate": 1.0})).await;
    let outcome = try_create(&sim, "dep_lost:1", 100).await;
    assert!(outcome.is_err(), "answered: {}", outcome.unwrap().body);
    assert_eq!(sim.gateway.charges("dep_lost:1"), 1);
    assert_eq!(
        lookup(&sim, "dep_lost:1").await.0,
        200,
        "lookups are never lost"
    );
}

async fn a_key_in_flight_gets_the_configured_status(format: Format) {
    let sim = start(format, None).await;
    sim.put_behaviour(json!({"latency_ms": 300, "in_flight_key_status": 409}))
        .await;
    let (first, second) = tokio::join!(try_create(&sim, "dep_if:1", 100), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        try_create(&sim, "dep_if:1", 100).await
    });
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(matches!(first.status, 200 | 201), "{}", first.body);
    assert_eq!(second.status, 409, "{}", second.body);
    match format {
        Format::Json => assert_eq!(second.json()["error"]["code"], "idempotency_key_in_use"),
        Format::Soap => assert!(second.body.contains(
            "<faultcode>soap:Client</faultcode><faultstring>IdempotencyKeyInUse</faultstring>"
        )),
    }
    // 0: the second request waits for the first and gets its answer.
    sim.put_behaviour(json!({"in_flight_key_status": 0})).await;
    let (a, b) = tokio::join!(try_create(&sim, "dep_if:2", 100), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        try_create(&sim, "dep_if:2", 100).await
    });
    assert_eq!(a.unwrap().body, b.unwrap().body);
    assert_eq!(sim.gateway.charges("dep_if:2"), 1);
}

async fn lookups_lag_behind(format: Format) {
    let sim = start(format, None).await;
    sim.put_behaviour(json!({"lookup_lag_ms": 300, "webhook_delay_ms": 60_000}))
        .await;
    assert!(try_create(&sim, "dep_lag:1", 100).await.is_ok());
    assert_eq!(
        lookup(&sim, "dep_lag:1").await.0,
        match format {
            Format::Json => 404,
            Format::Soap => 500,
        }
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(lookup(&sim, "dep_lag:1").await.0, 200);
}

/// A payment and a payout alike: a key past its horizon is forgotten, so using it again
/// moves the money again.
async fn a_forgotten_key_moves_money_a_second_time(format: Format) {
    let sim = start(format, None).await;
    sim.put_behaviour(json!({"key_horizon_ms": 200})).await;
    let payment = sim.create("dep_hz:1", "tok_success", 100).await;
    let payout = sim.payout("po_j:1", "ba_success", 100).await;
    assert_eq!(sim.create("dep_hz:1", "tok_success", 100).await, payment);
    assert_eq!(sim.payout("po_j:1", "ba_success", 100).await, payout);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second_payment = sim.create("dep_hz:1", "tok_success", 100).await;
    assert_ne!(second_payment.id(), payment.id());
    assert_eq!(sim.gateway.charges("dep_hz:1"), 2);
    let second_payout = sim.payout("po_j:1", "ba_success", 100).await;
    assert_ne!(second_payout.id(), payout.id());
    for key in ["dep_hz:1", "po_j:1"] {
        assert_eq!(sim.admin_charges(key).await, 2, "{key}");
    }
    let by_key = sim.payout_status(By::Key("po_j:1")).await.unwrap().unwrap();
    assert_eq!(
        by_key.id,
        second_payout.id(),
        "the key now names the new payout"
    );
}

async fn a_mismatched_capture_shows_in_status_webhook_and_admin(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![]).await;
    sim.put_behaviour(json!({"capture_mismatch_rate": 1.0}))
        .await;
    assert!(try_create(&sim, "dep_cap:1", 1_001).await.is_ok());
    assert_eq!(lookup(&sim, "dep_cap:1").await, (200, Some(500)));
    let deliveries = receiver.wait_for(1, WAIT).await;
    assert_eq!(sim.event(&deliveries[0]).amount, 500);
    let payment = &sim.admin_payments().await[0];
    assert_eq!(
        (
            payment["amount"].as_i64(),
            payment["requested_amount"].as_i64()
        ),
        (Some(500), Some(1_001))
    );
}

async fn duplicated_webhooks_arrive_twice(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![]).await;
    sim.put_behaviour(json!({"webhook_duplicate_rate": 1.0}))
        .await;
    sim.create("dep_dup:1", "tok_success", 100).await;
    let deliveries = receiver.wait_for(2, WAIT).await;
    assert_eq!(sim.event(&deliveries[0]), sim.event(&deliveries[1]));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.deliveries().len(), 2, "both accepted: no retry");
    assert_eq!(sim.admin_payments().await[0]["events"][0]["attempts"], 2);
}

async fn dropped_webhooks_never_arrive_and_the_schedule_runs_out(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![]).await;
    sim.gateway.set_webhook_retry(WebhookRetry {
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        max_attempts: 3,
        timeout: Duration::from_secs(1),
    });
    sim.put_behaviour(json!({"webhook_drop_rate": 1.0})).await;
    let id = sim.accepted("dep_drop:1", "tok_success", 100).await;
    wait_for_status(&sim, &id, "succeeded").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.deliveries().is_empty());
    let event = &sim.admin_payments().await[0]["events"][0];
    assert_eq!(
        (event["attempts"].as_u64(), event["delivered"].as_bool()),
        (Some(3), Some(false))
    );
}

async fn reordered_webhooks_overtake_each_other(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![]).await;
    sim.put_behaviour(json!({"webhook_reorder": true})).await;
    let mut created = Vec::new();
    for i in 0..8 {
        created.push(
            sim.accepted(&format!("dep_ro:{i}"), "tok_success", 100)
                .await,
        );
    }
    let deliveries = receiver.wait_for(8, WAIT).await;
    let delivered = payment_ids(&sim, &deliveries);
    assert_ne!(delivered, created, "8 webhooks kept their order");
    let mut sorted = delivered.clone();
    sorted.sort();
    created.sort();
    assert_eq!(sorted, created);
}

async fn refund_status_is_found_by_id_and_key(format: Format) {
    let sim = start(format, None).await;
    sim.put_behaviour(json!({"webhook_delay_ms": 100})).await;
    let id = sim.accepted("dep_rs:1", "tok_success", 1_000).await;
    let Refunded::Accepted { id: refund_id } = sim.refund("dep_rs:refund:1", &id, 300).await else {
        panic!("refund refused");
    };
    let sim = &sim;
    let status_of = |reply: &Reply| -> String {
        match sim.format() {
            Format::Json => {
                let v: Value = reply.json();
                assert_eq!(v["payment_id"], id.as_str());
                assert_eq!(v["amount"], 300);
                v["status"].as_str().unwrap().to_owned()
            }
            Format::Soap => reply
                .body
                .split("<p:Status>")
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap()
                .to_lowercase(),
        }
    };
    let reply = sim.lookup(Of::Refund, By::Id(&refund_id)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(status_of(&reply), "pending");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reply = sim.lookup(Of::Refund, By::Key("dep_rs:refund:1")).await;
    assert_eq!(status_of(&reply), "succeeded");
    let missing = sim.lookup(Of::Refund, By::Key("dep_rs:refund:nope")).await;
    match format {
        Format::Json => assert_eq!(
            (missing.status, missing.json()["error"]["code"].clone()),
            (404, json!("not_found"))
        ),
        Format::Soap => assert!(
            missing.status == 500 && missing.body.contains("<faultstring>NotFound</faultstring>")
        ),
    }
    let payment = &sim.admin_payments().await[0];
    let refund = &payment["refunds"][0];
    assert_eq!(refund["id"], refund_id.as_str());
    assert_eq!(refund["idempotency_key"], "dep_rs:refund:1");
    assert_eq!(refund["amount"], 300);
    assert_eq!(refund["status"], "succeeded");
}

for_each_format!(
    lost_reply_closes_the_connection_but_charges,
    a_key_in_flight_gets_the_configured_status,
    lookups_lag_behind,
    a_forgotten_key_moves_money_a_second_time,
    a_mismatched_capture_shows_in_status_webhook_and_admin,
    duplicated_webhooks_arrive_twice,
    dropped_webhooks_never_arrive_and_the_schedule_runs_out,
    reordered_webhooks_overtake_each_other,
    refund_status_is_found_by_id_and_key,
);
