//! Payouts over real HTTP, both formats: magic destinations, idempotency, lookups,
//! webhooks, the admin view and the knobs that apply to them.

use std::time::Duration;

use crate::common::*;
use crate::each_format::for_each_format;
use gateway_simulator::{Format, PayoutStatus};
use serde_json::json;

fn unknown_payout_id() -> String {
    format!("po_{}", "0".repeat(32))
}

async fn ba_success_is_accepted_pending_then_paid_by_a_signed_webhook(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![]).await;
    sim.put_behaviour(json!({"webhook_delay_ms": 300})).await;
    let id = sim.payout_accepted("po_a:1", "ba_success", 5_000).await;
    assert!(id.starts_with("po_"), "{id}");
    assert_eq!(id.len(), "po_".len() + 32);
    assert!(id[3..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(sim.gateway.charges("po_a:1"), 1);
    let pending = sim.payout_status(By::Id(&id)).await.unwrap().unwrap();
    assert_eq!(
        (pending.status.as_str(), pending.failure_code),
        ("pending", None)
    );

    let deliveries = receiver.wait_for(1, WAIT).await;
    assert_signed(&deliveries[0]);
    assert_eq!(
        deliveries[0].path,
        format!("/webhooks/{}", sim.gateway.name())
    );
    let event = sim.payout_event(&deliveries[0]);
    assert!(event.id.starts_with("evt_"));
    assert_eq!(
        event,
        PayoutEvent {
            id: event.id.clone(),
            kind: "payout.paid".into(),
            payout_id: id.clone(),
            reference: "payout_1".into(),
            amount: 5_000,
            currency: "EUR".into(),
            failure_code: None,
        }
    );
    // Settled before the webhook was sent.
    let paid = sim.payout_status(By::Key("po_a:1")).await.unwrap().unwrap();
    assert_eq!(
        (paid.id.as_str(), paid.status.as_str()),
        (id.as_str(), "paid")
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let events = &sim.admin_payouts().await[0]["events"];
    assert_eq!(events[0]["type"], "payout.paid");
    assert_eq!(
        (
            events[0]["attempts"].as_u64(),
            events[0]["delivered"].as_bool()
        ),
        (Some(1), Some(true))
    );
    assert!(sim.admin_payments().await.as_array().unwrap().is_empty());
}

async fn ba_reject_is_rejected_at_once_and_sends_no_webhook(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![]).await;
    let rejected = sim.payout("po_b:1", "ba_reject", 5_000).await;
    let Created::Declined { id: Some(id), code } = &rejected else {
        panic!("{rejected:?}");
    };
    assert_eq!(code, "destination_rejected");
    assert!(id.starts_with("po_"));
    // The same key answers the same rejection; nothing moved.
    assert_eq!(sim.payout("po_b:1", "ba_reject", 5_000).await, rejected);
    assert_eq!(sim.gateway.charges("po_b:1"), 0);
    let status = sim.payout_status(By::Key("po_b:1")).await.unwrap().unwrap();
    assert_eq!(status.status, "rejected");
    assert_eq!(status.failure_code.as_deref(), Some("destination_rejected"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(receiver.deliveries().is_empty());
}

async fn ba_fail_webhook_is_accepted_then_reported_failed(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![]).await;
    let id = sim.payout_accepted("po_c:1", "ba_fail_webhook", 700).await;
    assert_eq!(sim.gateway.charges("po_c:1"), 1);
    let deliveries = receiver.wait_for(1, WAIT).await;
    assert_signed(&deliveries[0]);
    let event = sim.payout_event(&deliveries[0]);
    assert_eq!(event.kind, "payout.failed");
    assert_eq!(event.payout_id, id);
    assert_eq!(event.amount, 700);
    assert_eq!(event.failure_code.as_deref(), Some("account_closed"));
    let status = sim.payout_status(By::Id(&id)).await.unwrap().unwrap();
    assert_eq!(status.status, "failed");
    assert_eq!(status.failure_code.as_deref(), Some("account_closed"));
}

async fn the_same_key_is_one_payout_even_concurrently(format: Format) {
    let sim = start(format, None).await;
    let first = sim.payout("po_d:1", "ba_success", 100).await;
    assert_eq!(sim.payout("po_d:1", "ba_success", 100).await, first);
    let calls = (0..10).map(|_| sim.payout("po_d:2", "ba_success", 100));
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(|r| r == &results[0]), "{results:?}");
    assert_ne!(results[0].id(), first.id());
    assert_eq!(sim.gateway.charges("po_d:1"), 1);
    assert_eq!(sim.gateway.charges("po_d:2"), 1);
    assert_eq!(sim.gateway.payouts().len(), 2);
}

async fn lookups_find_a_payout_by_id_and_key_or_nothing(format: Format) {
    let sim = start(format, None).await;
    sim.put_behaviour(json!({"webhook_delay_ms": 60_000})).await;
    let id = sim.payout_accepted("po_e:1", "ba_success", 100).await;
    let by_id = sim.payout_status(By::Id(&id)).await.unwrap().unwrap();
    assert_eq!(
        by_id,
        sim.payout_status(By::Key("po_e:1")).await.unwrap().unwrap()
    );
    assert_eq!(
        (by_id.id.as_str(), by_id.status.as_str()),
        (id.as_str(), "pending")
    );
    assert_eq!(sim.payout_status(By::Key("po_never:1")).await, Ok(None));
    assert_eq!(
        sim.payout_status(By::Id(&unknown_payout_id())).await,
        Ok(None)
    );
    // A payout is not a payment, and a payment key names no payout.
    assert_eq!(sim.status_by_id(&id).await, Ok(None));
    sim.accepted("dep_e:1", "tok_success", 100).await;
    assert_eq!(sim.payout_status(By::Key("dep_e:1")).await, Ok(None));
}

async fn a_payout_is_never_refundable(format: Format) {
    let sim = start(format, None).await;
    let id = sim.payout_accepted("po_f:1", "ba_success", 1_000).await;
    assert_eq!(
        sim.refund("po_f:refund:1", &id, 100).await,
        Refunded::NotFound
    );
    assert_eq!(sim.gateway.charges("po_f:refund:1"), 0);
}

async fn admin_lists_payouts_counts_their_charges_and_reset_forgets_them(format: Format) {
    let sim = start(format, None).await;
    sim.put_behaviour(json!({"webhook_delay_ms": 60_000})).await;
    let id = sim.payout_accepted("po_g:1", "ba_success", 2_500).await;
    sim.payout("po_g:2", "ba_reject", 10).await;
    let payouts = sim.admin_payouts().await;
    assert_eq!(payouts.as_array().unwrap().len(), 2);
    let payout = &payouts[0];
    let created = payout["created"].as_i64().unwrap();
    let created_ms = payout["created_ms"].as_i64().unwrap();
    assert_eq!(created, created_ms.div_euclid(1000));
    assert_eq!(
        *payout,
        json!({"id": id, "idempotency_key": "po_g:1", "amount": 2_500, "currency": "EUR",
               "country": "DE", "reference": "payout_1", "destination": "ba_success",
               "status": "pending", "failure_code": null, "events": [],
               "created": created, "created_ms": created_ms})
    );
    assert_eq!(payouts[1]["status"], "rejected");
    assert_eq!(payouts[1]["failure_code"], "destination_rejected");
    assert_eq!(sim.admin_charges("po_g:1").await, 1);
    assert_eq!(sim.admin_charges("po_g:2").await, 0);
    assert_eq!(sim.gateway.payouts()[0].status, PayoutStatus::Pending);

    let reset = sim.post("/admin/reset", &[], String::new()).await;
    assert_eq!(reset.status, 204);
    assert!(sim.admin_payouts().await.as_array().unwrap().is_empty());
    assert_eq!(sim.admin_charges("po_g:1").await, 0);
    assert_eq!(sim.payout_status(By::Id(&id)).await, Ok(None));
}

async fn outage_and_errors_answer_503_and_pay_nothing_out(format: Format) {
    let sim = start(format, None).await;
    sim.put_behaviour(json!({"outage": true})).await;
    assert_eq!(
        sim.payout("po_h:1", "ba_success", 100).await,
        Created::Unavailable(503)
    );
    assert_eq!(sim.payout_status(By::Key("po_h:1")).await, Err(503));
    sim.put_behaviour(json!({"outage": false, "error_rate": 1.0}))
        .await;
    assert_eq!(
        sim.payout("po_h:1", "ba_success", 100).await,
        Created::Unavailable(503)
    );
    assert_eq!(sim.gateway.charges("po_h:1"), 0);
    sim.put_behaviour(json!({"error_rate": 0.0})).await;
    assert!(matches!(
        sim.payout("po_h:1", "ba_success", 100).await,
        Created::Accepted { .. }
    ));
}

async fn a_lost_reply_still_pays_out_and_the_payout_is_found(format: Format) {
    let sim = start(format, None).await;
    sim.put_behaviour(json!({"lost_reply_rate": 1.0})).await;
    let (path, headers, body) = match format {
        Format::Json => (
            "/v1/payouts",
            vec![("idempotency-key", "po_i:1")],
            json!({"amount": 100, "currency": "EUR", "country": "DE", "reference": "payout_1"})
                .to_string(),
        ),
        Format::Soap => (
            "/soap",
            vec![("soapaction", "\"CreatePayout\"")],
            soap_envelope(
                "CreatePayout",
                "<p:IdempotencyKey>po_i:1</p:IdempotencyKey><p:Amount>100</p:Amount><p:Currency>EUR</p:Currency><p:Country>DE</p:Country><p:Reference>payout_1</p:Reference>",
            ),
        ),
    };
    let unanswered = sim
        .http
        .try_call(
            axum::http::Method::POST,
            &sim.url(path),
            &headers,
            Some(body),
        )
        .await;
    assert!(
        unanswered.is_err(),
        "answered: {}",
        unanswered.unwrap().body
    );
    assert_eq!(sim.gateway.charges("po_i:1"), 1);
    let found = sim.payout_status(By::Key("po_i:1")).await.unwrap().unwrap();
    assert_eq!(found.status, "pending", "no destination means ba_success");
}

async fn payment_only_knobs_leave_payouts_alone(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![]).await;
    sim.put_behaviour(json!({"capture_mismatch_rate": 1.0, "refund_failure_rate": 1.0}))
        .await;
    sim.payout("po_k:1", "ba_success", 1_001).await.id();
    let event = sim.payout_event(&receiver.wait_for(1, WAIT).await[0]);
    assert_eq!((event.kind.as_str(), event.amount), ("payout.paid", 1_001));
    assert_eq!(sim.gateway.payouts()[0].amount, 1_001);
}

async fn payout_webhooks_are_retried_duplicated_and_dropped_like_payments(format: Format) {
    let (receiver, sim) = start_with_receiver(format, vec![500]).await;
    sim.put_behaviour(json!({"webhook_duplicate_rate": 1.0}))
        .await;
    sim.payout("po_l:1", "ba_success", 100).await.id();
    // Round 1: two copies, the first refused (500) and the second accepted: delivered.
    let deliveries = receiver.wait_for(2, WAIT).await;
    assert_eq!(
        sim.payout_event(&deliveries[0]),
        sim.payout_event(&deliveries[1])
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.deliveries().len(), 2, "accepted once: no retry");
    let event = &sim.admin_payouts().await[0]["events"][0];
    assert_eq!(
        (event["attempts"].as_u64(), event["delivered"].as_bool()),
        (Some(2), Some(true))
    );

    sim.put_behaviour(json!({"webhook_duplicate_rate": 0.0, "webhook_drop_rate": 1.0}))
        .await;
    sim.payout("po_l:2", "ba_success", 100).await.id();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.deliveries().len(), 2, "dropped on the way");
    assert_eq!(sim.gateway.payouts()[1].status, PayoutStatus::Paid);
}

for_each_format!(
    ba_success_is_accepted_pending_then_paid_by_a_signed_webhook,
    ba_reject_is_rejected_at_once_and_sends_no_webhook,
    ba_fail_webhook_is_accepted_then_reported_failed,
    the_same_key_is_one_payout_even_concurrently,
    lookups_find_a_payout_by_id_and_key_or_nothing,
    a_payout_is_never_refundable,
    admin_lists_payouts_counts_their_charges_and_reset_forgets_them,
    outage_and_errors_answer_503_and_pay_nothing_out,
    a_lost_reply_still_pays_out_and_the_payout_is_found,
    payment_only_knobs_leave_payouts_alone,
    payout_webhooks_are_retried_duplicated_and_dropped_like_payments,
);

#[tokio::test]
async fn json_bad_payouts_are_400_and_soap_ones_client_faults() {
    let json_sim = start(Format::Json, None).await;
    let good = json!({"amount": 1, "currency": "EUR", "country": "DE", "reference": "p"});
    let cases = [
        (vec![], good.to_string()),
        (
            vec![("idempotency-key", "k")],
            json!({"amount": 0, "currency": "EUR", "country": "DE", "reference": "p"}).to_string(),
        ),
        (
            vec![("idempotency-key", "k")],
            json!({"amount": 1, "currency": "EUR", "country": "DE"}).to_string(),
        ),
    ];
    for (headers, body) in cases {
        let reply = json_sim.post("/v1/payouts", &headers, body).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.json()["error"]["code"], "invalid_request");
    }
    assert_eq!(json_sim.get("/v1/payouts").await.status, 400);

    let soap_sim = start(Format::Soap, None).await;
    let reply = soap_sim
        .soap(
            "CreatePayout",
            "<p:IdempotencyKey>k</p:IdempotencyKey><p:Amount>1</p:Amount><p:Currency>eur</p:Currency><p:Country>DE</p:Country><p:Reference>p</p:Reference>",
        )
        .await;
    assert_eq!(reply.status, 500);
    assert!(
        reply.body.contains(
            "<faultcode>soap:Client</faultcode><faultstring>InvalidRequest</faultstring>"
        ),
        "{}",
        reply.body
    );
    let neither = soap_sim.soap("GetPayoutStatus", "<p:PayoutId/>").await;
    assert!(neither.body.contains("InvalidRequest"), "{}", neither.body);
    assert_eq!(
        json_sim.gateway.charges("k") + soap_sim.gateway.charges("k"),
        0
    );
}
