//! Payouts, in both formats: lookups, settlement, keys in flight, admin (lost replies,
//! lag and forgotten keys are in `orders`).

use super::*;

#[test]
fn a_payout_is_created_looked_up_settled_and_reported() {
    let mut psp = TestPsp::hooked(30, Format::Json, |knobs| {
        knobs.latency_ms = 50;
        knobs.webhook_delay_ms = 1_000;
    });
    let (ticket, ready) = working(psp.arrive(&payout("po:1", "ba_success", 5_000), T0));
    assert!(psp.key_in_flight("po:1"));
    let created = psp.finish(ticket, ready).response;
    assert_eq!(created.status(), 201);
    let body = json_of(std::str::from_utf8(created.body()).unwrap());
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        json!({"id": id, "status": "pending", "amount": 5_000, "currency": "EUR", "reference": "po_1"})
    );
    assert_eq!(psp.charges("po:1"), 1);
    for uri in [
        format!("/v1/payouts/{id}"),
        "/v1/payouts?idempotency_key=po%3A1".into(),
    ] {
        let (status, body) = psp.call(&get(&uri), T0 + 100);
        assert_eq!(status, 200, "{uri}");
        assert_eq!(
            json_of(&body),
            json!({"id": id, "status": "pending", "amount": 5_000, "currency": "EUR",
                   "reference": "po_1", "failure_code": null})
        );
    }
    // Settles (and falls due) a webhook delay after its creation, at T0 + 50.
    assert_eq!(psp.next_due_ms(), Some(T0 + 1_050));
    let hooks = psp.due_webhooks(T0 + 1_050);
    assert_eq!(hooks.len(), 1);
    let event = json_of(std::str::from_utf8(&hooks[0].body).unwrap());
    assert_eq!(event["type"], "payout.paid");
    assert_eq!(event["payout_id"], id.as_str());
    assert_eq!(
        (event["amount"].as_i64(), event["reference"].as_str()),
        (Some(5_000), Some("po_1"))
    );
    psp.webhook_delivered(&hooks[0].event_id, true, T0 + 1_060);
    let truth = &psp.payouts()[0];
    assert_eq!(
        (truth.status, truth.failure_code.as_deref()),
        (PayoutStatus::Paid, None)
    );
    assert_eq!(
        (truth.events[0].attempts, truth.events[0].delivered),
        (1, true)
    );
    assert!(psp.payments().is_empty());
    let (_, body) = psp.call(&get(&format!("/v1/payouts/{id}")), T0 + 1_100);
    assert_eq!(json_of(&body)["status"], "paid");
}

#[test]
fn soap_payouts_are_rejected_at_once_or_fail_later() {
    let mut psp = TestPsp::hooked(31, Format::Soap, |knobs| knobs.webhook_delay_ms = 100);
    let fields = |key: &str, destination: &str| {
        format!(
            "<p:IdempotencyKey>{key}</p:IdempotencyKey><p:Amount>900</p:Amount><p:Currency>EUR</p:Currency><p:Country>DE</p:Country><p:Reference>po</p:Reference><p:Destination>{destination}</p:Destination>"
        )
    };
    let rejected = soap("CreatePayout", &fields("po:1", "ba_reject"));
    let (status, body) = psp.call(&rejected, T0);
    assert_eq!(status, 200);
    assert!(
        body.contains("</p:PayoutId><p:Status>REJECTED</p:Status><p:ReasonCode>destination_rejected</p:ReasonCode></p:CreatePayoutResponse>"),
        "{body}"
    );
    assert_eq!(psp.call(&rejected, T0 + 1), (status, body), "replayed");
    assert_eq!(psp.charges("po:1"), 0);

    let (_, body) = psp.call(
        &soap("CreatePayout", &fields("po:2", "ba_fail_webhook")),
        T0,
    );
    assert!(
        body.contains("<p:Status>PENDING</p:Status></p:CreatePayoutResponse>"),
        "{body}"
    );
    let hooks = psp.due_webhooks(T0 + 100);
    assert_eq!(hooks.len(), 1, "none for the rejected one");
    let notification = String::from_utf8_lossy(&hooks[0].body).into_owned();
    assert!(
        notification.contains("<p:Type>PAYOUT_FAILED</p:Type><p:PayoutId>po_"),
        "{notification}"
    );
    assert!(notification.contains("<p:ReasonCode>account_closed</p:ReasonCode>"));
    let (_, body) = psp.call(&soap_by_key("GetPayoutStatus", "po:2"), T0 + 101);
    assert!(
        body.contains("<p:Status>FAILED</p:Status><p:ReasonCode>account_closed</p:ReasonCode><p:Amount>900</p:Amount><p:Currency>EUR</p:Currency>"),
        "{body}"
    );
    let (status, body) = psp.call(
        &soap("GetPayoutStatus", "<p:PayoutId>po_nope</p:PayoutId>"),
        T0 + 102,
    );
    assert_eq!(status, 500);
    assert!(body.contains("<faultstring>NotFound</faultstring>"));
}

#[test]
fn a_payout_key_in_flight_is_answered_or_waited_for() {
    let mut psp = TestPsp::new(32, Format::Json, |knobs| {
        knobs.latency_ms = 100;
        knobs.in_flight_key_status = 409;
    });
    let request = payout("po:1", "ba_success", 100);
    let (first, ready) = working(psp.arrive(&request, T0));
    let Arrival::Answered(second) = psp.arrive(&request, T0 + 10) else {
        panic!("not answered at once");
    };
    assert_eq!(second.status(), 409);
    assert!(String::from_utf8_lossy(second.body()).contains("idempotency_key_in_use"));
    let first = psp.finish(first, ready).response;

    psp.set_behaviour(Behaviour {
        latency_ms: 100,
        ..Behaviour::default()
    });
    let again = payout("po:2", "ba_success", 100);
    let (holder, ready) = working(psp.arrive(&again, T0 + 200));
    assert!(matches!(psp.arrive(&again, T0 + 210), Arrival::WaitForKey { key } if key == "po:2"));
    let held = psp.finish(holder, ready).response;
    let (status, body) = psp.call(&again, ready);
    assert_eq!((status, body.as_bytes()), (201, held.body().as_slice()));
    assert_ne!(held.body(), first.body());
    assert_eq!((psp.charges("po:1"), psp.charges("po:2")), (1, 1));
    assert_eq!(psp.payouts().len(), 2);
}

#[test]
fn admin_payouts_and_reset() {
    let mut psp = TestPsp::new(35, Format::Json, |_| {});
    psp.call(&payout("po:1", "ba_reject", 300), T0);
    let (status, body) = psp.call(&get("/admin/payouts"), T0 + 1);
    assert_eq!(status, 200);
    let listed = &json_of(&body)[0];
    assert_eq!(listed["idempotency_key"], "po:1");
    assert_eq!(listed["destination"], "ba_reject");
    assert_eq!(listed["status"], "rejected");
    assert_eq!(listed["failure_code"], "destination_rejected");
    assert_eq!(
        (listed["created"].as_i64(), listed["created_ms"].as_i64()),
        (Some(T0 / 1000), Some(T0))
    );
    let (status, _) = psp.call(
        &http::Request::delete("/admin/payouts")
            .body(Vec::new())
            .unwrap(),
        T0,
    );
    assert_eq!(status, 405);

    let (ticket, ready) = {
        psp.set_behaviour(Behaviour {
            latency_ms: 10,
            ..Behaviour::default()
        });
        working(psp.arrive(&payout("po:2", "ba_success", 1), T0 + 2))
    };
    psp.reset();
    assert!(!psp.key_in_flight("po:2"));
    assert_eq!(psp.finish(ticket, ready).response.status(), 500);
    assert!(psp.payouts().is_empty());
}
