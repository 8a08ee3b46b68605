//! Payments and refunds: latency, keys in flight, lost replies, lag, forgotten keys,
//! captures, webhooks, admin, reset and replay.

use super::*;

#[test]
fn create_status_refund_and_refund_status_with_latency() {
    let mut dice = SplitMix64::new(1);
    let mut psp = psp(
        Format::Json,
        Behaviour {
            latency_ms: 250,
            webhook_delay_ms: 1_000,
            ..Behaviour::default()
        },
    );
    let (ticket, ready) = working(psp.arrive(&create("d:1", "tok_success", 10_099), T0, &mut dice));
    assert_eq!(ready, T0 + 250);
    assert!(psp.key_in_flight("d:1"));
    let created = psp.finish(ticket, ready, &mut dice);
    assert_eq!(created.response.status(), 201);
    let id = json_of(std::str::from_utf8(created.response.body()).unwrap())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!psp.key_in_flight("d:1"));

    let (status, body) = call(
        &mut psp,
        &get(&format!("/v1/payments/{id}")),
        T0 + 300,
        &mut dice,
    );
    assert_eq!(
        (status, json_of(&body)["status"].as_str()),
        (200, Some("pending"))
    );

    let (status, body) = call(
        &mut psp,
        &refund("d:refund:1", &id, 500),
        T0 + 600,
        &mut dice,
    );
    assert_eq!(status, 201);
    let refund_id = json_of(&body)["id"].as_str().unwrap().to_owned();
    let (status, body) = call(
        &mut psp,
        &get("/v1/refunds?idempotency_key=d%3Arefund%3A1"),
        T0 + 900,
        &mut dice,
    );
    assert_eq!(status, 200);
    assert_eq!(json_of(&body)["id"], refund_id.as_str());
    assert_eq!(json_of(&body)["status"], "pending");

    // Both settle a webhook delay after their creation (the refund was created at +850).
    let (_, body) = call(
        &mut psp,
        &get(&format!("/v1/refunds/{refund_id}")),
        T0 + 1_900,
        &mut dice,
    );
    assert_eq!(json_of(&body)["status"], "succeeded");
    let truth = psp.payments();
    assert_eq!(truth[0].status, PaymentStatus::Succeeded);
    assert_eq!(truth[0].refunds[0].status, RefundStatus::Succeeded);
    assert_eq!(psp.charges("d:1"), 1);
}

#[test]
fn an_unknown_refund_is_not_found_in_both_formats() {
    let mut dice = SplitMix64::new(2);
    let mut json = psp(Format::Json, Behaviour::default());
    let (status, body) = call(&mut json, &get("/v1/refunds/ref_x"), T0, &mut dice);
    assert_eq!(
        (status, json_of(&body)["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let mut soap_psp = psp(Format::Soap, Behaviour::default());
    let (status, body) = call(
        &mut soap_psp,
        &soap("GetRefundStatus", "<p:RefundId>rf_x</p:RefundId>"),
        T0,
        &mut dice,
    );
    assert_eq!(status, 500);
    assert!(body.contains("<faultcode>soap:Client</faultcode><faultstring>NotFound</faultstring>"));
}

#[test]
fn a_refund_of_a_payment_that_fails_reports_failed() {
    let mut dice = SplitMix64::new(3);
    let mut psp = psp(
        Format::Soap,
        Behaviour {
            webhook_delay_ms: 100,
            ..Behaviour::default()
        },
    );
    let fields = "<p:IdempotencyKey>d:1</p:IdempotencyKey><p:Amount>900</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country><p:Reference>d</p:Reference><p:Token>tok_fail_webhook</p:Token>";
    let (_, body) = call(&mut psp, &soap("CreatePayment", fields), T0, &mut dice);
    let id = body
        .split("<p:TransactionId>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let refund_fields = format!(
        "<p:IdempotencyKey>d:refund:1</p:IdempotencyKey><p:TransactionId>{id}</p:TransactionId><p:Amount>100</p:Amount>"
    );
    let (status, _) = call(
        &mut psp,
        &soap("Refund", &refund_fields),
        T0 + 10,
        &mut dice,
    );
    assert_eq!(status, 200);
    let (_, body) = call(
        &mut psp,
        &soap(
            "GetRefundStatus",
            "<p:IdempotencyKey>d:refund:1</p:IdempotencyKey>",
        ),
        T0 + 200,
        &mut dice,
    );
    assert!(
        body.contains("<p:Status>FAILED</p:Status><p:ReasonCode>payment_failed</p:ReasonCode>"),
        "{body}"
    );
}

#[test]
fn a_key_in_flight_is_answered_with_the_configured_status_or_waits() {
    for (format, status) in [
        (Format::Json, 409),
        (Format::Json, 429),
        (Format::Soap, 409),
    ] {
        let mut dice = SplitMix64::new(4);
        let mut psp = psp(
            format,
            Behaviour {
                latency_ms: 100,
                in_flight_key_status: status,
                ..Behaviour::default()
            },
        );
        let request = match format {
            Format::Json => create("d:1", "tok_success", 100),
            Format::Soap => soap(
                "CreatePayment",
                "<p:IdempotencyKey>d:1</p:IdempotencyKey><p:Amount>100</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country><p:Reference>d</p:Reference>",
            ),
        };
        let (first, ready) = working(psp.arrive(&request, T0, &mut dice));
        let Arrival::Answered(second) = psp.arrive(&request, T0 + 10, &mut dice) else {
            panic!("not answered at once");
        };
        assert_eq!(second.status(), status);
        let body = String::from_utf8_lossy(second.body()).into_owned();
        assert!(
            body.contains("idempotency_key_in_use") || body.contains("IdempotencyKeyInUse"),
            "{body}"
        );
        psp.finish(first, ready, &mut dice);
        assert_eq!(psp.payments().len(), 1);
    }

    let mut dice = SplitMix64::new(5);
    let mut psp = psp(
        Format::Json,
        Behaviour {
            latency_ms: 100,
            ..Behaviour::default()
        },
    );
    let request = create("d:1", "tok_success", 100);
    let (first, ready) = working(psp.arrive(&request, T0, &mut dice));
    assert!(
        matches!(psp.arrive(&request, T0 + 10, &mut dice), Arrival::WaitForKey { key } if key == "d:1")
    );
    let first = psp.finish(first, ready, &mut dice).response;
    // Arriving again once the key is free replays the first answer.
    let (status, body) = call(&mut psp, &request, ready, &mut dice);
    assert_eq!(status, 201);
    assert_eq!(body.as_bytes(), first.body().as_slice());
    assert_eq!(psp.charges("d:1"), 1);
}

#[test]
fn a_lost_reply_still_charges() {
    let mut dice = SplitMix64::new(6);
    let mut psp = psp(
        Format::Json,
        Behaviour {
            lost_reply_rate: 1.0,
            ..Behaviour::default()
        },
    );
    let (ticket, ready) = working(psp.arrive(&create("d:1", "tok_success", 100), T0, &mut dice));
    assert!(psp.finish(ticket, ready, &mut dice).lost);
    assert_eq!(psp.charges("d:1"), 1);
    // Lookups are never lost.
    let (status, _) = call(
        &mut psp,
        &get("/v1/payments?idempotency_key=d:1"),
        T0 + 1,
        &mut dice,
    );
    assert_eq!(status, 200);
}

#[test]
fn lookups_lag_behind_creation() {
    let mut dice = SplitMix64::new(7);
    let mut psp = psp(
        Format::Json,
        Behaviour {
            lookup_lag_ms: 500,
            ..Behaviour::default()
        },
    );
    let (_, body) = call(&mut psp, &create("d:1", "tok_success", 100), T0, &mut dice);
    let id = json_of(&body)["id"].as_str().unwrap().to_owned();
    for uri in [
        format!("/v1/payments/{id}"),
        "/v1/payments?idempotency_key=d:1".to_owned(),
    ] {
        assert_eq!(call(&mut psp, &get(&uri), T0 + 499, &mut dice).0, 404);
        assert_eq!(call(&mut psp, &get(&uri), T0 + 500, &mut dice).0, 200);
    }
}

#[test]
fn a_forgotten_key_charges_again() {
    let mut dice = SplitMix64::new(8);
    let mut psp = psp(
        Format::Json,
        Behaviour {
            key_horizon_ms: 1_000,
            ..Behaviour::default()
        },
    );
    let (_, first) = call(&mut psp, &create("d:1", "tok_success", 100), T0, &mut dice);
    let (_, replay) = call(
        &mut psp,
        &create("d:1", "tok_success", 100),
        T0 + 999,
        &mut dice,
    );
    assert_eq!(first, replay);
    let (_, second) = call(
        &mut psp,
        &create("d:1", "tok_success", 100),
        T0 + 1_000,
        &mut dice,
    );
    assert_ne!(json_of(&first)["id"], json_of(&second)["id"]);
    assert_eq!(psp.charges("d:1"), 2);
    assert_eq!(psp.payments().len(), 2);
}

#[test]
fn a_mismatched_capture_shows_everywhere() {
    let mut dice = SplitMix64::new(9);
    let mut psp = psp(
        Format::Soap,
        Behaviour {
            capture_mismatch_rate: 1.0,
            webhook_delay_ms: 10,
            ..Behaviour::default()
        },
    );
    psp.set_webhook_base_url(Some("http://paygate.test".into()));
    let fields = "<p:IdempotencyKey>d:1</p:IdempotencyKey><p:Amount>1001</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country><p:Reference>d</p:Reference>";
    call(&mut psp, &soap("CreatePayment", fields), T0, &mut dice);
    let (_, body) = call(
        &mut psp,
        &soap(
            "GetPaymentStatus",
            "<p:IdempotencyKey>d:1</p:IdempotencyKey>",
        ),
        T0 + 1,
        &mut dice,
    );
    assert!(
        body.contains("<p:Amount>500</p:Amount><p:Currency>AED</p:Currency>"),
        "{body}"
    );
    let hooks = psp.due_webhooks(T0 + 10, &mut dice);
    assert!(String::from_utf8_lossy(&hooks[0].body).contains("<p:Amount>500</p:Amount>"));
    let truth = &psp.payments()[0];
    assert_eq!((truth.amount, truth.requested_amount), (500, 1001));
}

#[test]
fn webhooks_fall_due_after_settlement_and_retry() {
    let mut dice = SplitMix64::new(10);
    let mut psp = psp(
        Format::Json,
        Behaviour {
            webhook_delay_ms: 200,
            ..Behaviour::default()
        },
    );
    psp.set_webhook_base_url(Some("http://paygate.test/".into()));
    call(&mut psp, &create("d:1", "tok_success", 100), T0, &mut dice);
    assert_eq!(psp.next_due_ms(), Some(T0 + 200));
    assert!(psp.due_webhooks(T0 + 199, &mut dice).is_empty());
    let hooks = psp.due_webhooks(T0 + 200, &mut dice);
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].url, "http://paygate.test/webhooks/acme");
    assert_eq!(
        json_of(std::str::from_utf8(&hooks[0].body).unwrap())["type"],
        "payment.succeeded"
    );
    psp.webhook_delivered(&hooks[0].event_id, false, T0 + 210);
    assert_eq!(psp.next_due_ms(), Some(T0 + 410));
    let again = psp.due_webhooks(T0 + 410, &mut dice);
    assert_eq!(again[0].body, hooks[0].body, "the same event");
    psp.webhook_delivered(&again[0].event_id, true, T0 + 420);
    assert_eq!(psp.next_due_ms(), None);
    let event = &psp.payments()[0].events[0];
    assert_eq!((event.attempts, event.delivered), (2, true));
}

#[test]
fn dropped_webhooks_never_arrive_but_the_payment_settles() {
    let mut dice = SplitMix64::new(11);
    let mut psp = psp(
        Format::Json,
        Behaviour {
            webhook_drop_rate: 1.0,
            webhook_delay_ms: 0,
            ..Behaviour::default()
        },
    );
    psp.set_webhook_base_url(Some("http://paygate.test".into()));
    call(&mut psp, &create("d:1", "tok_success", 100), T0, &mut dice);
    while let Some(at) = psp.next_due_ms() {
        assert!(psp.due_webhooks(at, &mut dice).is_empty());
    }
    let truth = &psp.payments()[0];
    assert_eq!(truth.status, PaymentStatus::Succeeded);
    assert_eq!(
        (truth.events[0].attempts, truth.events[0].delivered),
        (10, false)
    );
}

#[test]
fn immediate_answers_outage_errors_health_and_admin() {
    let mut dice = SplitMix64::new(12);
    let mut psp = psp(
        Format::Json,
        Behaviour {
            outage: true,
            latency_ms: 1_000,
            ..Behaviour::default()
        },
    );
    assert!(
        matches!(psp.arrive(&get("/health"), T0, &mut dice), Arrival::Answered(r) if r.status() == 503)
    );
    let admin = http::Request::put("/admin/behaviour")
        .body(br#"{"outage":false,"error_rate":1.0}"#.to_vec())
        .unwrap();
    assert!(matches!(psp.arrive(&admin, T0, &mut dice), Arrival::Answered(r) if r.status() == 200));
    assert!(
        matches!(psp.arrive(&create("d:1", "t", 1), T0, &mut dice), Arrival::Answered(r) if r.status() == 503)
    );
    // Health is spared by the error rate but pays the latency.
    let (_, ready) = working(psp.arrive(&get("/health"), T0, &mut dice));
    assert_eq!(ready, T0 + 1_000);
    let bad = http::Request::put("/admin/behaviour")
        .body(br#"{"lost_reply_rate":2}"#.to_vec())
        .unwrap();
    assert!(matches!(psp.arrive(&bad, T0, &mut dice), Arrival::Answered(r) if r.status() == 400));
}

#[test]
fn admin_payments_show_captured_and_requested_amounts_and_refunds() {
    let mut dice = SplitMix64::new(13);
    let mut psp = psp(Format::Json, Behaviour::default());
    let (_, body) = call(&mut psp, &create("d:1", "tok_success", 300), T0, &mut dice);
    let id = json_of(&body)["id"].as_str().unwrap().to_owned();
    call(&mut psp, &refund("d:refund:1", &id, 100), T0 + 1, &mut dice);
    let (status, body) = call(&mut psp, &get("/admin/payments"), T0 + 2, &mut dice);
    assert_eq!(status, 200);
    let payment = &json_of(&body)[0];
    assert_eq!(payment["id"], id.as_str());
    assert_eq!(payment["idempotency_key"], "d:1");
    assert_eq!(
        (
            payment["amount"].as_i64(),
            payment["requested_amount"].as_i64()
        ),
        (Some(300), Some(300))
    );
    assert_eq!(payment["status"], "pending");
    assert_eq!(payment["reference"], "dep_1");
    assert_eq!(payment["refunds"][0]["idempotency_key"], "d:refund:1");
    assert_eq!(payment["refunds"][0]["amount"], 100);
    assert_eq!(payment["refunds"][0]["status"], "pending");
}

#[test]
fn reset_forgets_work_in_flight() {
    let mut dice = SplitMix64::new(14);
    let mut psp = psp(
        Format::Json,
        Behaviour {
            latency_ms: 10,
            ..Behaviour::default()
        },
    );
    let (ticket, ready) = working(psp.arrive(&create("d:1", "tok_success", 1), T0, &mut dice));
    psp.reset();
    assert!(!psp.key_in_flight("d:1"));
    assert_eq!(psp.finish(ticket, ready, &mut dice).response.status(), 500);
    assert!(psp.payments().is_empty());
}

/// A whole run: the same seed gives the same transcript, byte for byte.
fn transcript(seed: u64) -> Vec<String> {
    let mut dice = SplitMix64::new(seed);
    let mut psp = psp(
        Format::Json,
        Behaviour {
            capture_mismatch_rate: 0.5,
            webhook_duplicate_rate: 0.5,
            webhook_drop_rate: 0.3,
            webhook_reorder: true,
            webhook_delay_ms: 50,
            ..Behaviour::default()
        },
    );
    psp.set_webhook_base_url(Some("http://paygate.test".into()));
    let mut log = Vec::new();
    for i in 0..5 {
        let (status, body) = call(
            &mut psp,
            &create(&format!("d{i}:1"), "tok_success", 1_000),
            T0 + i,
            &mut dice,
        );
        log.push(format!("{status} {body}"));
    }
    while let Some(at) = psp.next_due_ms() {
        for hook in psp.due_webhooks(at, &mut dice) {
            log.push(format!(
                "{at} {} {}",
                hook.signature,
                String::from_utf8_lossy(&hook.body)
            ));
            psp.webhook_delivered(&hook.event_id, true, at + 5);
        }
    }
    log
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = transcript(99);
    assert!(run.len() >= 10, "{run:?}");
    assert_eq!(run, transcript(99));
    assert_ne!(run, transcript(100));
}
