//! Payments and refunds: latency, keys in flight, captures, webhooks, admin, reset and
//! replay (lost replies, lag and forgotten keys are in `orders`).

use super::*;

#[test]
fn create_status_refund_and_refund_status_with_latency() {
    let mut psp = TestPsp::new(1, Format::Json, |knobs| {
        knobs.latency_ms = 250;
        knobs.webhook_delay_ms = 1_000;
    });
    let (ticket, ready) = working(psp.arrive(&create("d:1", "tok_success", 10_099), T0));
    assert_eq!(ready, T0 + 250);
    assert!(psp.key_in_flight("d:1"));
    let created = psp.finish(ticket, ready);
    assert_eq!(created.response.status(), 201);
    let id = json_of(std::str::from_utf8(created.response.body()).unwrap())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!psp.key_in_flight("d:1"));

    let (status, body) = psp.call(&get(&format!("/v1/payments/{id}")), T0 + 300);
    assert_eq!(
        (status, json_of(&body)["status"].as_str()),
        (200, Some("pending"))
    );

    let (status, body) = psp.call(&refund("d:refund:1", &id, 500), T0 + 600);
    assert_eq!(status, 201);
    let refund_id = json_of(&body)["id"].as_str().unwrap().to_owned();
    let (status, body) = psp.call(&get("/v1/refunds?idempotency_key=d%3Arefund%3A1"), T0 + 900);
    assert_eq!(status, 200);
    assert_eq!(json_of(&body)["id"], refund_id.as_str());
    assert_eq!(json_of(&body)["status"], "pending");

    // Both settle a webhook delay after their creation (the refund was created at +850).
    let (_, body) = psp.call(&get(&format!("/v1/refunds/{refund_id}")), T0 + 1_900);
    assert_eq!(json_of(&body)["status"], "succeeded");
    let truth = psp.payments();
    assert_eq!(truth[0].status, PaymentStatus::Succeeded);
    assert_eq!(truth[0].refunds[0].status, RefundStatus::Succeeded);
    assert_eq!(psp.charges("d:1"), 1);
}

#[test]
fn an_unknown_refund_is_not_found_in_both_formats() {
    let mut json = TestPsp::new(2, Format::Json, |_| {});
    let (status, body) = json.call(&get("/v1/refunds/ref_x"), T0);
    assert_eq!(
        (status, json_of(&body)["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let mut soap_psp = TestPsp::new(2, Format::Soap, |_| {});
    let (status, body) = soap_psp.call(
        &soap("GetRefundStatus", "<p:RefundId>rf_x</p:RefundId>"),
        T0,
    );
    assert_eq!(status, 500);
    assert!(body.contains("<faultcode>soap:Client</faultcode><faultstring>NotFound</faultstring>"));
}

#[test]
fn a_refund_of_a_payment_that_fails_reports_failed() {
    let mut psp = TestPsp::new(3, Format::Soap, |knobs| knobs.webhook_delay_ms = 100);
    let fields = "<p:IdempotencyKey>d:1</p:IdempotencyKey><p:Amount>900</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country><p:Reference>d</p:Reference><p:Token>tok_fail_webhook</p:Token>";
    let (_, body) = psp.call(&soap("CreatePayment", fields), T0);
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
    let (status, _) = psp.call(&soap("Refund", &refund_fields), T0 + 10);
    assert_eq!(status, 200);
    let (_, body) = psp.call(&soap_by_key("GetRefundStatus", "d:refund:1"), T0 + 200);
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
        let mut psp = TestPsp::new(4, format, |knobs| {
            knobs.latency_ms = 100;
            knobs.in_flight_key_status = status;
        });
        let request = match format {
            Format::Json => create("d:1", "tok_success", 100),
            Format::Soap => soap(
                "CreatePayment",
                "<p:IdempotencyKey>d:1</p:IdempotencyKey><p:Amount>100</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country><p:Reference>d</p:Reference>",
            ),
        };
        let (first, ready) = working(psp.arrive(&request, T0));
        let Arrival::Answered(second) = psp.arrive(&request, T0 + 10) else {
            panic!("not answered at once");
        };
        assert_eq!(second.status(), status);
        let body = String::from_utf8_lossy(second.body()).into_owned();
        assert!(
            body.contains("idempotency_key_in_use") || body.contains("IdempotencyKeyInUse"),
            "{body}"
        );
        psp.finish(first, ready);
        assert_eq!(psp.payments().len(), 1);
    }

    let mut psp = TestPsp::new(5, Format::Json, |knobs| knobs.latency_ms = 100);
    let request = create("d:1", "tok_success", 100);
    let (first, ready) = working(psp.arrive(&request, T0));
    assert!(matches!(psp.arrive(&request, T0 + 10), Arrival::WaitForKey { key } if key == "d:1"));
    let first = psp.finish(first, ready).response;
    // Arriving again once the key is free replays the first answer.
    let (status, body) = psp.call(&request, ready);
    assert_eq!(status, 201);
    assert_eq!(body.as_bytes(), first.body().as_slice());
    assert_eq!(psp.charges("d:1"), 1);
}

#[test]
fn a_mismatched_capture_shows_everywhere() {
    let mut psp = TestPsp::hooked(9, Format::Soap, |knobs| {
        knobs.capture_mismatch_rate = 1.0;
        knobs.webhook_delay_ms = 10;
    });
    let fields = "<p:IdempotencyKey>d:1</p:IdempotencyKey><p:Amount>1001</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country><p:Reference>d</p:Reference>";
    psp.call(&soap("CreatePayment", fields), T0);
    let (_, body) = psp.call(&soap_by_key("GetPaymentStatus", "d:1"), T0 + 1);
    assert!(
        body.contains("<p:Amount>500</p:Amount><p:Currency>AED</p:Currency>"),
        "{body}"
    );
    let hooks = psp.due_webhooks(T0 + 10);
    assert!(String::from_utf8_lossy(&hooks[0].body).contains("<p:Amount>500</p:Amount>"));
    let truth = &psp.payments()[0];
    assert_eq!((truth.amount, truth.requested_amount), (500, 1001));
}

#[test]
fn webhooks_fall_due_after_settlement_and_retry() {
    let mut psp = TestPsp::new(10, Format::Json, |knobs| knobs.webhook_delay_ms = 200);
    psp.set_webhook_base_url(Some("http://paygate.test/".into()));
    psp.call(&create("d:1", "tok_success", 100), T0);
    assert_eq!(psp.next_due_ms(), Some(T0 + 200));
    assert!(psp.due_webhooks(T0 + 199).is_empty());
    let hooks = psp.due_webhooks(T0 + 200);
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].url, "http://paygate.test/webhooks/acme");
    assert_eq!(
        json_of(std::str::from_utf8(&hooks[0].body).unwrap())["type"],
        "payment.succeeded"
    );
    psp.webhook_delivered(&hooks[0].event_id, false, T0 + 210);
    assert_eq!(psp.next_due_ms(), Some(T0 + 410));
    let again = psp.due_webhooks(T0 + 410);
    assert_eq!(again[0].body, hooks[0].body, "the same event");
    psp.webhook_delivered(&again[0].event_id, true, T0 + 420);
    assert_eq!(psp.next_due_ms(), None);
    let event = &psp.payments()[0].events[0];
    assert_eq!((event.attempts, event.delivered), (2, true));
}

#[test]
fn dropped_webhooks_never_arrive_but_the_payment_settles() {
    let mut psp = TestPsp::hooked(11, Format::Json, |knobs| {
        knobs.webhook_drop_rate = 1.0;
        knobs.webhook_delay_ms = 0;
    });
    psp.call(&create("d:1", "tok_success", 100), T0);
    while let Some(at) = psp.next_due_ms() {
        assert!(psp.due_webhooks(at).is_empty());
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
    let mut psp = TestPsp::new(12, Format::Json, |knobs| {
        knobs.outage = true;
        knobs.latency_ms = 1_000;
    });
    assert!(matches!(psp.arrive(&get("/health"), T0), Arrival::Answered(r) if r.status() == 503));
    let admin = http::Request::put("/admin/behaviour")
        .body(br#"{"outage":false,"error_rate":1.0}"#.to_vec())
        .unwrap();
    assert!(matches!(psp.arrive(&admin, T0), Arrival::Answered(r) if r.status() == 200));
    assert!(
        matches!(psp.arrive(&create("d:1", "t", 1), T0), Arrival::Answered(r) if r.status() == 503)
    );
    // Health is spared by the error rate but pays the latency.
    let (_, ready) = working(psp.arrive(&get("/health"), T0));
    assert_eq!(ready, T0 + 1_000);
    let bad = http::Request::put("/admin/behaviour")
        .body(br#"{"lost_reply_rate":2}"#.to_vec())
        .unwrap();
    assert!(matches!(psp.arrive(&bad, T0), Arrival::Answered(r) if r.status() == 400));
}

#[test]
fn admin_payments_show_captured_and_requested_amounts_and_refunds() {
    let mut psp = TestPsp::new(13, Format::Json, |_| {});
    let (_, body) = psp.call(&create("d:1", "tok_success", 300), T0);
    let id = json_of(&body)["id"].as_str().unwrap().to_owned();
    psp.call(&refund("d:refund:1", &id, 100), T0 + 1);
    let (status, body) = psp.call(&get("/admin/payments"), T0 + 2);
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
    let mut psp = TestPsp::new(14, Format::Json, |knobs| knobs.latency_ms = 10);
    let (ticket, ready) = working(psp.arrive(&create("d:1", "tok_success", 1), T0));
    psp.reset();
    assert!(!psp.key_in_flight("d:1"));
    assert_eq!(psp.finish(ticket, ready).response.status(), 500);
    assert!(psp.payments().is_empty());
}

/// A whole run: the same seed gives the same transcript, byte for byte.
fn transcript(seed: u64) -> Vec<String> {
    let mut psp = TestPsp::hooked(seed, Format::Json, |knobs| {
        knobs.capture_mismatch_rate = 0.5;
        knobs.webhook_duplicate_rate = 0.5;
        knobs.webhook_drop_rate = 0.3;
        knobs.webhook_reorder = true;
        knobs.webhook_delay_ms = 50;
    });
    let mut log = Vec::new();
    for i in 0..5 {
        let (status, body) = psp.call(&create(&format!("d{i}:1"), "tok_success", 1_000), T0 + i);
        log.push(format!("{status} {body}"));
    }
    while let Some(at) = psp.next_due_ms() {
        for hook in psp.due_webhooks(at) {
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
