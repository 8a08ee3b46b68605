//! The simulator over real HTTP on 127.0.0.1, every behaviour for both wire formats.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::each_format::for_each_format;
use gateway_simulator::Format;
use serde_json::json;

fn id_prefix(format: Format) -> &'static str {
    match format {
        Format::Json => "pay_",
        Format::Soap => "txn_",
    }
}

async fn create_is_accepted_as_pending(format: Format) {
    let sim = start(format, None).await;
    let created = sim.create("dep_a:1", "tok_success", 10_099).await;
    let id = created.id();
    assert!(id.starts_with(id_prefix(format)), "{id}");
    assert_eq!(id.len(), id_prefix(format).len() + 32);
    assert!(
        id[id_prefix(format).len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
    );
    assert_eq!(sim.gateway.charges("dep_a:1"), 1);
    assert_eq!(sim.admin_charges("dep_a:1").await, 1);
}

async fn same_key_twice_returns_the_same_payment_and_charges_once(format: Format) {
    let sim = start(format, None).await;
    let first = sim.create("dep_b:1", "tok_success", 500).await;
    let second = sim.create("dep_b:1", "tok_success", 500).await;
    assert_eq!(first, second);
    assert_eq!(sim.gateway.charges("dep_b:1"), 1);
    // a new attempt is a new key, and a new charge
    let other = sim.create("dep_b:2", "tok_success", 500).await;
    assert_ne!(other.id(), first.id());
    assert_eq!(sim.gateway.charges("dep_b:2"), 1);
    assert_eq!(sim.admin_payments().await.as_array().unwrap().len(), 2);
}

async fn twenty_concurrent_identical_creates_charge_once(format: Format) {
    let sim = start(format, None).await;
    let calls = (0..20).map(|_| sim.create("dep_c:1", "tok_success", 700));
    let results = futures::future::join_all(calls).await;
    let id = results[0].id().to_owned();
    assert!(results.iter().all(|r| r.id() == id), "{results:?}");
    assert_eq!(sim.gateway.charges("dep_c:1"), 1);
    assert_eq!(sim.admin_charges("dep_c:1").await, 1);
    assert_eq!(sim.admin_payments().await.as_array().unwrap().len(), 1);
}

async fn decline_token_is_declined_at_once_and_sends_no_webhook(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![]).await;
    let created = sim.create("dep_d:1", "tok_decline", 900).await;
    let Created::Declined { code, .. } = &created else {
        panic!("{created:?}");
    };
    assert_eq!(code, "card_declined");
    // the same key answers the same decline
    assert_eq!(sim.create("dep_d:1", "tok_decline", 900).await, created);
    let status = sim.status_by_key("dep_d:1").await.unwrap().unwrap();
    assert_eq!(status.status, "declined");
    assert_eq!(status.failure_code.as_deref(), Some("card_declined"));
    assert_eq!(sim.gateway.charges("dep_d:1"), 0);
    // well past the 10 ms webhook delay
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(receiver.deliveries().is_empty());
}

async fn status_is_found_by_id_and_by_key(format: Format) {
    let sim = start(format, None).await;
    // settlement far away, so both answers see the same (pending) payment
    sim.put_behaviour(json!({"webhook_delay_ms": 60_000})).await;
    let id = sim.accepted("dep_e:1", "tok_success", 1_000).await;
    let by_id = sim.status_by_id(&id).await.unwrap().unwrap();
    let by_key = sim.status_by_key("dep_e:1").await.unwrap().unwrap();
    assert_eq!(by_id, by_key);
    assert_eq!(by_id.id, id);
    assert_eq!(by_id.status, "pending");
    assert_eq!(by_id.failure_code, None);
}

async fn unknown_key_or_id_is_not_found(format: Format) {
    let sim = start(format, None).await;
    assert_eq!(sim.status_by_key("dep_never:1").await, Ok(None));
    let unknown_id = format!("{}{}", id_prefix(format), "0".repeat(32));
    assert_eq!(sim.status_by_id(&unknown_id).await, Ok(None));
}

async fn refund_is_idempotent_and_bounded_by_the_amount(format: Format) {
    let sim = start(format, None).await;
    let id = sim.accepted("dep_f:1", "tok_success", 1_000).await;
    let first = sim.refund("dep_f:refund:r1", &id, 600).await;
    let Refunded::Accepted { id: refund_id } = &first else {
        panic!("{first:?}");
    };
    let prefix = match format {
        Format::Json => "ref_",
        Format::Soap => "rf_",
    };
    assert!(refund_id.starts_with(prefix), "{refund_id}");
    assert_eq!(sim.refund("dep_f:refund:r1", &id, 600).await, first);
    assert_eq!(sim.gateway.charges("dep_f:refund:r1"), 1);
    assert_eq!(
        sim.refund("dep_f:refund:r2", &id, 401).await,
        Refunded::Exceeds
    );
    assert!(matches!(
        sim.refund("dep_f:refund:r3", &id, 400).await,
        Refunded::Accepted { .. }
    ));
    assert_eq!(
        sim.refund("dep_f:refund:r4", &id, 1).await,
        Refunded::Exceeds
    );
    let unknown = format!("{}{}", id_prefix(format), "0".repeat(32));
    assert_eq!(
        sim.refund("dep_f:refund:r5", &unknown, 1).await,
        Refunded::NotFound
    );
    let payments = sim.admin_payments().await;
    assert_eq!(payments[0]["refunded"], 1_000);
    assert_eq!(payments[0]["refunds"].as_array().unwrap().len(), 2);
}

async fn outage_answers_503_everywhere_but_admin(format: Format) {
    let sim = start(format, None).await;
    let reply = sim.put_behaviour(json!({"outage": true})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["outage"], true);
    assert!(sim.gateway.behaviour().outage);

    assert_eq!(
        sim.create("dep_g:1", "tok_success", 100).await,
        Created::Unavailable(503)
    );
    assert_eq!(sim.status_by_key("dep_g:1").await, Err(503));
    assert_eq!(sim.health().await.status, 503);
    let unknown = format!("{}{}", id_prefix(format), "0".repeat(32));
    assert_eq!(
        sim.refund("dep_g:refund:1", &unknown, 1).await,
        Refunded::Unavailable(503)
    );
    assert_eq!(sim.admin_charges("dep_g:1").await, 0);
    assert!(sim.admin_payments().await.as_array().unwrap().is_empty());

    sim.put_behaviour(json!({"outage": false})).await;
    assert!(matches!(
        sim.create("dep_g:1", "tok_success", 100).await,
        Created::Accepted { .. }
    ));
    assert_eq!(sim.health().await.status, 200);
}

async fn error_rate_one_answers_503_and_charges_nothing(format: Format) {
    let sim = start(format, None).await;
    sim.put_behaviour(json!({"error_rate": 1.0})).await;
    for _ in 0..5 {
        assert_eq!(
            sim.create("dep_h:1", "tok_success", 100).await,
            Created::Unavailable(503)
        );
    }
    assert_eq!(sim.gateway.charges("dep_h:1"), 0);
    assert_eq!(sim.status_by_key("dep_h:1").await, Err(503));
    assert_eq!(sim.health().await.status, 200, "error rate spares /health");

    sim.put_behaviour(json!({"error_rate": 0.0})).await;
    assert_eq!(sim.status_by_key("dep_h:1").await, Ok(None));
    // out-of-range rates are refused
    assert_eq!(
        sim.put_behaviour(json!({"error_rate": 1.5})).await.status,
        400
    );
}

async fn health_down_fails_only_health(format: Format) {
    let sim = start(format, None).await;
    let up = sim.health().await;
    assert_eq!(up.status, 200);
    match format {
        Format::Json => assert_eq!(up.json(), json!({"status": "ok"})),
        Format::Soap => assert_eq!(up.body, "OK"),
    }
    sim.put_behaviour(json!({"health_down": true})).await;
    let down = sim.health().await;
    assert_eq!(down.status, 503);
    match format {
        Format::Json => assert_eq!(down.json(), json!({"status": "down"})),
        Format::Soap => assert_eq!(down.body, "DOWN"),
    }
    assert!(matches!(
        sim.create("dep_i:1", "tok_success", 100).await,
        Created::Accepted { .. }
    ));
    assert!(sim.status_by_key("dep_i:1").await.unwrap().is_some());
}

async fn latency_is_applied(format: Format) {
    let sim = start(format, None).await;
    sim.put_behaviour(json!({"latency_ms": 150})).await;
    assert_eq!(sim.gateway.behaviour().latency_ms, 150);
    let started = Instant::now();
    let created = sim.create("dep_j:1", "tok_success", 100).await;
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(created, Created::Accepted { .. }));
    let started = Instant::now();
    assert_eq!(sim.health().await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

async fn payment_goes_on_after_the_client_stops_waiting(format: Format) {
    let sim = start(format, None).await;
    sim.put_behaviour(json!({"latency_ms": 300})).await;
    let gave_up = tokio::time::timeout(
        Duration::from_millis(50),
        sim.create("dep_o:1", "tok_success", 100),
    )
    .await;
    assert!(gave_up.is_err(), "answered within the latency");
    sim.put_behaviour(json!({"latency_ms": 0})).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let found = sim.status_by_key("dep_o:1").await.unwrap();
    assert!(found.is_some(), "the abandoned request was not carried out");
    assert_eq!(sim.gateway.charges("dep_o:1"), 1);
}

async fn accepted_payment_is_confirmed_by_a_signed_webhook(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![]).await;
    // A slow webhook must not slow the create call down.
    sim.put_behaviour(json!({"webhook_delay_ms": 500})).await;
    let started = Instant::now();
    let id = sim.accepted("dep_k:1", "tok_success", 10_099).await;
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(
        sim.status_by_id(&id).await.unwrap().unwrap().status,
        "pending"
    );

    let deliveries = receiver.wait_for(1, WAIT).await;
    let delivery = &deliveries[0];
    assert_eq!(delivery.path, format!("/webhooks/{}", sim.gateway.name()));
    assert_signed(delivery);
    let expected_type = match format {
        Format::Json => "application/json",
        Format::Soap => "text/xml; charset=utf-8",
    };
    assert_eq!(delivery.content_type.as_deref(), Some(expected_type));
    let event = sim.event(delivery);
    assert!(event.id.starts_with("evt_"));
    assert_eq!(event.kind, "payment.succeeded");
    assert_eq!(event.payment_id, id);
    assert_eq!(event.refund_id, None);
    assert_eq!(event.amount, 10_099);
    assert_eq!(event.failure_code, None);
    // settled before the webhook was sent
    let status = sim.status_by_id(&id).await.unwrap().unwrap();
    assert_eq!(status.status, "succeeded");

    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(receiver.deliveries().len(), 1, "delivered once");
    let events = &sim.admin_payments().await[0]["events"];
    assert_eq!(events[0]["attempts"], 1);
    assert_eq!(events[0]["delivered"], true);
}

async fn fail_webhook_token_is_reported_failed(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![]).await;
    let id = sim.accepted("dep_l:1", "tok_fail_webhook", 2_000).await;
    let deliveries = receiver.wait_for(1, WAIT).await;
    assert_signed(&deliveries[0]);
    let event = sim.event(&deliveries[0]);
    assert_eq!(event.kind, "payment.failed");
    assert_eq!(event.payment_id, id);
    assert_eq!(event.failure_code.as_deref(), Some("insufficient_funds"));
    let status = sim.status_by_id(&id).await.unwrap().unwrap();
    assert_eq!(status.status, "failed");
    assert_eq!(status.failure_code.as_deref(), Some("insufficient_funds"));
}

async fn refund_is_confirmed_by_a_signed_webhook(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![]).await;
    let id = sim.accepted("dep_m:1", "tok_success", 2_000).await;
    receiver.wait_for(1, WAIT).await;
    wait_for_status(&sim, &id, "succeeded").await;
    let Refunded::Accepted { id: refund_id } = sim.refund("dep_m:refund:1", &id, 500).await else {
        panic!("refund refused");
    };
    let deliveries = receiver.wait_for(2, WAIT).await;
    assert_signed(&deliveries[1]);
    let event = sim.event(&deliveries[1]);
    assert_eq!(event.kind, "refund.succeeded");
    assert_eq!(event.payment_id, id);
    assert_eq!(event.refund_id.as_deref(), Some(refund_id.as_str()));
    assert_eq!(event.amount, 500);
    assert_ne!(event.id, sim.event(&deliveries[0]).id);
}

async fn failing_receiver_gets_retries_with_backoff_and_the_same_event(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![500, 500]).await;
    let id = sim.accepted("dep_n:1", "tok_success", 300).await;
    let deliveries = receiver.wait_for(3, WAIT).await;
    let events: Vec<Event> = deliveries.iter().map(|d| sim.event(d)).collect();
    assert!(events.iter().all(|e| e == &events[0]), "{events:?}");
    assert_eq!(events[0].payment_id, id);
    deliveries.iter().for_each(assert_signed);
    // backoff 0.2 s then 0.4 s (a little slack for timer granularity)
    let first_gap = deliveries[1].at - deliveries[0].at;
    let second_gap = deliveries[2].at - deliveries[1].at;
    assert!(first_gap >= Duration::from_millis(180), "{first_gap:?}");
    assert!(second_gap >= Duration::from_millis(380), "{second_gap:?}");

    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(receiver.deliveries().len(), 3, "no retry after the 2xx");
    let events = &sim.admin_payments().await[0]["events"];
    assert_eq!(events[0]["attempts"], 3);
    assert_eq!(events[0]["delivered"], true);
}

for_each_format!(
    create_is_accepted_as_pending,
    same_key_twice_returns_the_same_payment_and_charges_once,
    twenty_concurrent_identical_creates_charge_once,
    decline_token_is_declined_at_once_and_sends_no_webhook,
    status_is_found_by_id_and_by_key,
    unknown_key_or_id_is_not_found,
    refund_is_idempotent_and_bounded_by_the_amount,
    outage_answers_503_everywhere_but_admin,
    error_rate_one_answers_503_and_charges_nothing,
    health_down_fails_only_health,
    latency_is_applied,
    payment_goes_on_after_the_client_stops_waiting,
    accepted_payment_is_confirmed_by_a_signed_webhook,
    fail_webhook_token_is_reported_failed,
    refund_is_confirmed_by_a_signed_webhook,
    failing_receiver_gets_retries_with_backoff_and_the_same_event,
);
