//! Behaviour of `POST /webhooks/{gateway}` as a gateway sees it (DESIGN §5–6, WIRE.md),
//! driven through `handle` with in-memory ports. Each test reads GIVEN / WHEN / THEN and
//! checks the stored stream, not just the answer.

use http::{Method, StatusCode};
use lambda_http::Body;
use paygate_domain::deposit::{AnomalyKind, FailureReason, MAX_CONTRADICTIONS};
use paygate_domain::{DepositEvent, DepositStatus};
use paygate_kit::in_case;
use paygate_kit::world::webhooks::*;
use paygate_signature::{DEFAULT_TOLERANCE_SECS, sign, sign_with_all};
use std::sync::Arc;
use tokio::task::JoinSet;
use webhook_callback::MAX_BODY_BYTES;

/// How long the racing store holds each read: every concurrent delivery reads the same
/// version inside it, so all but one lose the append and must decide again.
const RACE_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

// ================================================================ applying outcomes

#[tokio::test]
async fn a_signed_json_success_moves_the_submitted_deposit_to_succeeded() {
    // GIVEN a deposit that the JSON gateway accepted as pay_1
    let world = World::new();
    let id = world.submitted_deposit(ACME, "pay_1").await;

    // WHEN the gateway reports the payment succeeded, signed with its secret
    let reply = world.report(Succeeded, ACME, "evt_1", "pay_1").await;

    // THEN 200, and the stream records exactly that outcome
    reply.assert_applied("recorded", "succeeded");
    let events = world.events(id).await;
    let kinds: Vec<_> = events.iter().map(|e| e.event.kind()).collect();
    assert_eq!(kinds, SUCCEEDED_KINDS);
    let last = events.last().unwrap();
    assert_eq!(
        last.event,
        DepositEvent::DepositSucceeded {
            external_id: "pay_1".into()
        }
    );
    assert_eq!(last.version, 4);
    assert_eq!(last.causation_id.as_deref(), Some("acme:evt_1"));
    assert_eq!(last.occurred_at, start_time());
    let view = world.view(id).await;
    assert_eq!(view.status, DepositStatus::Succeeded);
    assert_eq!(view.version, 4);
    assert_eq!(view.external_id.as_deref(), Some("pay_1"));
    assert_eq!(view.gateway.as_deref(), Some(ACME));
}

#[tokio::test]
async fn the_webhooks_log_line_names_its_deposit_and_what_it_did() {
    // GIVEN a deposit that the JSON gateway accepted as pay_1, and the logs captured
    let world = World::new();
    let id = world.submitted_deposit(ACME, "pay_1").await;
    let logs = paygate_telemetry::capture::Captured::install(false);

    // WHEN the gateway reports the payment succeeded
    world
        .report(Succeeded, ACME, "evt_1", "pay_1")
        .await
        .assert_applied("recorded", "succeeded");

    // THEN one info line says it all: which deposit, what was reported, what it did
    let lines = logs.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let span = &logs.with_message("webhook handled")[0]["span"];
    assert_eq!(span["deposit_id"], id.to_string());
    assert_eq!(span["gateway"], ACME);
    assert_eq!(span["outcome"], "payment_succeeded");
    assert_eq!(span["result"], "recorded");
    assert_eq!(span["deposit_status"], "succeeded");
    assert_eq!(span["status"], 200);
}

#[tokio::test]
async fn a_signed_soap_failure_moves_the_submitted_deposit_to_failed() {
    // GIVEN a deposit that the SOAP gateway accepted as txn_9
    let world = World::new();
    let id = world.submitted_deposit(BRAVO, "txn_9").await;

    // WHEN the gateway reports PAYMENT_FAILED (insufficient_funds) as raw XML bytes
    let body = Body::Binary(failed(BRAVO, "evt_soap_1", "txn_9").into_bytes());
    let xml = [("content-type", "text/xml; charset=utf-8")];
    let reply = world.send(world.signed_post(BRAVO, &xml, body)).await;

    // THEN 200, and the deposit failed with the gateway's reason code
    reply.assert_applied("recorded", "failed");
    let events = world.events(id).await;
    assert_eq!(events.len(), 4);
    assert_eq!(
        events[3].event,
        DepositEvent::DepositFailed {
            reason: FailureReason::new(
                "insufficient_funds",
                "the gateway reported the payment failed"
            )
        }
    );
    assert_eq!(events[3].causation_id.as_deref(), Some("bravo:evt_soap_1"));
    assert_eq!(world.view(id).await.status, DepositStatus::Failed);
}

#[tokio::test]
async fn a_soap_success_and_a_json_failure_are_applied_too() {
    // GIVEN one deposit submitted to each gateway
    let world = World::new();
    let soap = world.submitted_deposit(BRAVO, "txn_ok").await;
    let json = world.submitted_deposit(ACME, "pay_ko").await;

    // WHEN the SOAP gateway reports success and the JSON one failure
    let soap_reply = world.report(Succeeded, BRAVO, "evt_s", "txn_ok").await;
    let json_reply = world.report(Failed, ACME, "evt_f", "pay_ko").await;

    // THEN each is applied to its own deposit
    soap_reply.assert_applied("recorded", "succeeded");
    json_reply.assert_applied("recorded", "failed");
    assert_eq!(world.view(soap).await.status, DepositStatus::Succeeded);
    assert_eq!(world.view(json).await.status, DepositStatus::Failed);
    assert_eq!(world.count(soap, "DepositSucceeded").await, 1);
    assert_eq!(world.count(json, "DepositFailed").await, 1);
}

#[tokio::test]
async fn the_outcome_event_carries_the_deposits_correlation_id_not_the_webhooks() {
    // GIVEN a submitted deposit
    let world = World::new();
    let id = world.submitted_deposit(ACME, "pay_c").await;
    let requested = world.events(id).await[0].correlation_id.clone();

    // WHEN the webhook carries an X-Correlation-Id of its own
    let body = Body::Text(succeeded(ACME, "evt_c", "pay_c"));
    let correlated = [("x-correlation-id", "corr-webhook-7")];
    let reply = world.send(world.signed_post(ACME, &correlated, body)).await;

    // THEN the outcome event carries the deposit's, so one id follows it end to end (the
    // webhook's own is in the webhook's log lines), and names the gateway event
    reply.assert_applied("recorded", "succeeded");
    let events = world.events(id).await;
    assert_ne!(requested.0, "corr-webhook-7");
    assert!(
        events.iter().all(|e| e.correlation_id == requested),
        "{events:?}"
    );
    assert_eq!(events[3].causation_id.as_deref(), Some("acme:evt_c"));
}

// ================================================================ authentication

#[tokio::test]
async fn a_webhook_without_a_valid_signature_is_401_and_changes_nothing() {
    // GIVEN a submitted deposit and a webhook body for it
    let world = World::new();
    let report = world.unsent_report().await;
    let now = world.now();
    let signed = |secret: &str, at: i64| Some(signature(secret, at, &report.body));
    let cases = [
        (
            "a secret the gateway does not have",
            signed(FOREIGN_SECRET, now),
        ),
        ("another gateway's secret", signed(BRAVO_SECRET, now)),
        (
            "signed more than 300 s ahead of now",
            signed(ACME_SECRET, now + DEFAULT_TOLERANCE_SECS + 1),
        ),
        ("no Paygate-Signature", None),
    ];
    for (what, header) in cases {
        // WHEN it arrives so signed
        let reply = world
            .send(webhook(ACME, header.as_deref(), &report.body))
            .await;

        // THEN 401 and nothing changes
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        reply.assert_unauthenticated();
        world.assert_untouched(&report).await;
    }
    assert_eq!(world.view(report.id).await.status, DepositStatus::Submitted);
}

#[tokio::test]
async fn a_signature_more_than_300_s_old_is_401_and_changes_nothing() {
    // GIVEN a submitted deposit and a webhook signed 301 s before now
    let world = World::new();
    let report = world.unsent_report().await;
    let stale = signature(
        ACME_SECRET,
        world.now() - DEFAULT_TOLERANCE_SECS - 1,
        &report.body,
    );

    // WHEN it arrives (a replay, or a clock far behind)
    let reply = world.send(webhook(ACME, Some(&stale), &report.body)).await;

    // THEN 401 and nothing changes
    reply.assert_unauthenticated();
    world.assert_untouched(&report).await;

    // ... and a correctly signed webhook that sat 301 s in a queue is stale as well
    world.clock.advance(time::Duration::seconds(301));
    world
        .assert_unauthenticated(webhook(ACME, Some(&report.header), &report.body))
        .await;
    world.assert_untouched(&report).await;
}

#[tokio::test]
async fn signatures_exactly_300_s_off_are_still_accepted() {
    // GIVEN two submitted deposits
    let world = World::new();
    let old = world.submitted_deposit(ACME, "pay_old").await;
    let ahead = world.submitted_deposit(ACME, "pay_ahead").await;

    // WHEN their webhooks are signed exactly 300 s behind and ahead of now
    let body = succeeded(ACME, "evt_old", "pay_old");
    let header = signature(ACME_SECRET, world.now() - DEFAULT_TOLERANCE_SECS, &body);
    let behind_reply = world.send(webhook(ACME, Some(&header), &body)).await;
    let body = succeeded(ACME, "evt_ahead", "pay_ahead");
    let header = signature(ACME_SECRET, world.now() + DEFAULT_TOLERANCE_SECS, &body);
    let ahead_reply = world.send(webhook(ACME, Some(&header), &body)).await;

    // THEN both are inside the tolerance
    behind_reply.assert_applied("recorded", "succeeded");
    ahead_reply.assert_applied("recorded", "succeeded");
    assert_eq!(world.view(old).await.status, DepositStatus::Succeeded);
    assert_eq!(world.view(ahead).await.status, DepositStatus::Succeeded);
}

#[tokio::test]
async fn a_tampered_body_is_401_and_changes_nothing() {
    // GIVEN a submitted deposit
    let world = World::new();
    let report = world.unsent_report().await;
    let (signed, header) = (&report.body, &report.header);

    // WHEN a "succeeded" body is signed, but a "failed" body is sent under that signature
    let sent = failed(ACME, "evt_1", "pay_1");
    let reply = world.send(webhook(ACME, Some(header), &sent)).await;

    // THEN 401 and nothing changes, also for a one-byte change (trailing newline)
    reply.assert_unauthenticated();
    world
        .assert_unauthenticated(webhook(ACME, Some(header), &format!("{signed}\n")))
        .await;
    // ... and for the right body under a timestamp edited after signing
    let t = world.now().to_string();
    let edited = header.replacen(&t, &(world.now() - 1).to_string(), 1);
    world
        .assert_unauthenticated(webhook(ACME, Some(&edited), signed))
        .await;
    world.assert_untouched(&report).await;
}

#[tokio::test]
async fn the_signature_is_checked_before_the_body_is_parsed() {
    // GIVEN a submitted deposit
    let world = World::new();
    let report = world.unsent_report().await;

    // WHEN bodies that are not notifications arrive unsigned or wrongly signed
    for body in ["{", "<not-json/>", "\u{0}\u{1}binary"] {
        let forged = signature(FOREIGN_SECRET, world.now(), body);
        let unsigned = world.send(webhook(ACME, None, body)).await;
        let wrong = world.send(webhook(ACME, Some(&forged), body)).await;

        // THEN 401 (not 400: nothing about the body is revealed before it is verified)
        unsigned.assert_unauthenticated();
        wrong.assert_unauthenticated();
    }
    world.assert_untouched(&report).await;
}

#[tokio::test]
async fn an_unknown_gateway_gets_the_same_401_as_a_bad_signature() {
    // GIVEN a submitted deposit at acme
    let world = World::new();
    let report = world.unsent_report().await;

    // WHEN the (correctly signed) webhook is posted under a gateway name nobody configured
    let unknown = world
        .send(webhook("acme-evil", Some(&report.header), &report.body))
        .await;
    // ... and for comparison, under acme with a wrong signature
    let bad = signature(FOREIGN_SECRET, world.now(), &report.body);
    let mismatch = world.send(webhook(ACME, Some(&bad), &report.body)).await;

    // THEN the same 401, byte for byte (nothing to probe), and nothing changes
    unknown.assert_unauthenticated();
    assert_eq!(unknown.text, mismatch.text);
    assert_eq!(unknown.headers, mismatch.headers);
    world.assert_untouched(&report).await;
}

#[tokio::test]
async fn a_malformed_signature_header_is_400_and_changes_nothing() {
    // GIVEN a submitted deposit and a body for it
    let world = World::new();
    let report = world.unsent_report().await;
    let v1 = report.header.split_once(",v1=").unwrap().1.to_owned();
    let now = world.now();

    // WHEN the header is not `t=<unix>,v1=<64 hex>[,v1=...]`
    let cases = [
        String::new(),
        "garbage".to_owned(),
        format!("v1={v1}"),
        format!("t={now}"),
        format!("t=abc,v1={v1}"),
        format!("t=-{now},v1={v1}"),
        format!("t={now},t={now},v1={v1}"),
        format!("t={now},v1={}", &v1[..62]),
        format!("t={now},v1=zz{}", &v1[2..]),
        format!("t={now},v1={v1},"),
        format!("t={now};v1={v1}"),
        format!("t={now},v0={v1}"),
    ];
    for header in cases {
        let reply = world.send(webhook(ACME, Some(&header), &report.body)).await;

        // THEN 400 invalid_request_error, and nothing changes
        reply.assert_bad_request("webhook_signature_malformed", None);
    }
    world.assert_untouched(&report).await;
}

#[tokio::test]
async fn a_signature_header_that_is_not_ascii_is_refused_and_changes_nothing() {
    // GIVEN a submitted deposit
    let world = World::new();
    let report = world.unsent_report().await;

    // WHEN the header holds bytes that are not visible ASCII
    let mut request = webhook(ACME, None, &report.body);
    request.headers_mut().insert(
        "paygate-signature",
        http::HeaderValue::from_bytes(b"t=1\xff,v1=00").unwrap(),
    );
    let reply = world.send(request).await;

    // THEN it is refused as a malformed header, and nothing changes
    reply.assert_bad_request("webhook_signature_malformed", None);
    world.assert_untouched(&report).await;
}

#[tokio::test]
async fn during_a_rotation_either_secret_passes_alone_or_beside_another_signature() {
    // GIVEN a gateway configured with its old and its new secret, and five deposits there
    let world = World::new();
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(world.submitted_deposit(ROTATING, &format!("pay_{n}")).await);
    }
    let now = world.now();
    let (old, new, foreign) = (
        OLD_SECRET.as_bytes(),
        NEW_SECRET.as_bytes(),
        FOREIGN_SECRET.as_bytes(),
    );
    let signers: [(&str, &[&[u8]]); 5] = [
        ("old secret only", &[old]),
        ("new secret only", &[new]),
        ("two v1: old and new", &[old, new]),
        ("two v1: old and unknown", &[old, foreign]),
        ("two v1: unknown and new", &[foreign, new]),
    ];

    for (n, (case, secrets)) in signers.iter().enumerate() {
        // WHEN the gateway signs with these secrets
        let body = succeeded(ROTATING, &format!("evt_{n}"), &format!("pay_{n}"));
        let header = sign_with_all(secrets, now, body.as_bytes());
        assert_eq!(header.matches("v1=").count(), secrets.len());
        let reply = world.send(webhook(ROTATING, Some(&header), &body)).await;

        // THEN it verifies and applies
        assert_eq!(reply.status, StatusCode::OK, "{case}: {}", reply.text);
        reply.assert_applied("recorded", "succeeded");
        assert_eq!(world.view(ids[n]).await.status, DepositStatus::Succeeded);
    }
}

#[tokio::test]
async fn during_a_rotation_two_signatures_with_unknown_secrets_are_401() {
    // GIVEN a rotating gateway and a deposit there
    let world = World::new();
    let (id, before) = world.watched_deposit(ROTATING, "pay_r").await;

    // WHEN both v1 entries are made with secrets it does not have (or with the other
    // gateway's)
    let body = succeeded(ROTATING, "evt_r", "pay_r");
    for secrets in [
        [FOREIGN_SECRET.as_bytes(), b"whsec_also_unknown".as_slice()],
        [ACME_SECRET.as_bytes(), BRAVO_SECRET.as_bytes()],
    ] {
        let header = sign_with_all(&secrets, world.now(), body.as_bytes());
        let reply = world.send(webhook(ROTATING, Some(&header), &body)).await;

        // THEN 401 and nothing changes
        reply.assert_unauthenticated();
    }
    world.assert_unchanged(&before, &[id]).await;
}

#[tokio::test]
async fn the_old_secret_of_a_rotating_gateway_does_not_work_for_another_gateway() {
    // GIVEN a deposit at acme
    let world = World::new();
    let report = world.unsent_report().await;

    // WHEN its webhook is signed with the rotating gateway's secrets
    let header = sign_with_all(
        &[OLD_SECRET.as_bytes(), NEW_SECRET.as_bytes()],
        world.now(),
        report.body.as_bytes(),
    );
    let reply = world.send(webhook(ACME, Some(&header), &report.body)).await;

    // THEN secrets are per gateway: 401
    reply.assert_unauthenticated();
    world.assert_untouched(&report).await;
}

// ================================================================ duplicates and order

#[tokio::test]
async fn a_success_reported_again_is_an_acknowledged_duplicate_that_records_nothing() {
    for (case, gateway, payment, again, times) in [
        // (it retries; so do networks)
        (
            "the same event, delivered ten times",
            ACME,
            "pay_1",
            "evt_1",
            9,
        ),
        (
            "the same outcome under a new event id",
            BRAVO,
            "txn_1",
            "evt_2",
            1,
        ),
    ] {
        // GIVEN a deposit whose success was recorded: the first delivery of evt_1
        let world = World::new();
        let id = world.recorded(Succeeded, gateway, payment, "evt_1").await;

        // WHEN the gateway reports it again
        for _ in 0..times {
            let reply = world.report(Succeeded, gateway, again, payment).await;

            // THEN each is an acknowledged duplicate
            in_case(case, || reply.assert_applied("duplicate", "succeeded"));
        }
        // AND nothing more was recorded
        assert_eq!(world.count(id, "DepositSucceeded").await, 1, "{case}");
        assert_eq!(world.events(id).await.len(), 4, "{case}");
        let status = world.view(id).await.status;
        assert_eq!(status, DepositStatus::Succeeded, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_webhook_delivered_ten_times_at_once_records_one_success() {
    // GIVEN a submitted deposit, on a store slow enough that concurrent deliveries
    // really race (they all read the same version before any of them appends)
    let world = Arc::new(World::racing(RACE_WINDOW));
    let id = world.submitted_deposit(ACME, "pay_1").await;
    let body = succeeded(ACME, "evt_1", "pay_1");

    // WHEN ten deliveries of the same event race each other
    let mut racing = JoinSet::new();
    for _ in 0..10 {
        let (world, body) = (world.clone(), body.clone());
        racing.spawn(async move { world.deliver(ACME, &body).await });
    }
    let replies = racing.join_all().await;

    // THEN every one is acknowledged, exactly one of them recorded the success
    let mut recorded = 0;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.json()["status"], "succeeded", "{}", reply.text);
        match reply.json()["result"].as_str().unwrap() {
            "recorded" => recorded += 1,
            "duplicate" => {}
            other => panic!("unexpected result {other}"),
        }
    }
    assert_eq!(recorded, 1);
    assert!(
        world.appends.answers(Answer::Conflict) > 0,
        "the deliveries did not race"
    );
    assert_eq!(world.count(id, "DepositSucceeded").await, 1);
    assert_eq!(world.kinds(id).await, SUCCEEDED_KINDS);
}

#[tokio::test]
async fn a_late_failure_after_success_is_kept_for_audit_once_and_never_applied() {
    // GIVEN a deposit whose success was recorded
    let world = World::new();
    let id = world.recorded(Succeeded, ACME, "pay_1", "evt_ok").await;

    // WHEN a contradicting "failed" arrives late
    let late = failed(ACME, "evt_late", "pay_1");
    let reply = world.deliver(ACME, &late).await;

    // THEN 200 (so the gateway stops retrying), the deposit stays succeeded, and the
    // contradiction is recorded as an anomaly for a person (nothing moved: no refund)
    reply.assert_applied("contradiction_ignored", "succeeded");
    assert_eq!(world.view(id).await.status, DepositStatus::Succeeded);
    let events = world.events(id).await;
    assert_eq!(events.len(), 5);
    let DepositEvent::PaymentAnomalyDetected { anomaly } = &events[4].event else {
        panic!("not an anomaly: {:?}", events[4].event);
    };
    assert_eq!(anomaly.kind, AnomalyKind::OutcomeContradiction);
    assert_eq!(anomaly.gateway, ACME);
    assert_eq!(anomaly.external_id.as_deref(), Some("pay_1"));
    assert_eq!(anomaly.gateway_event_id.as_deref(), Some("evt_late"));
    assert_eq!(anomaly.charged.map(|m| m.amount.minor()), Some(10099));
    assert_eq!(events[4].causation_id.as_deref(), Some("acme:evt_late"));

    // WHEN the same late event is delivered again
    let again = world.deliver(ACME, &late).await;

    // THEN still 200 and no second record
    again.assert_applied("contradiction_ignored", "succeeded");
    assert_eq!(world.count(id, "PaymentAnomalyDetected").await, 1);
    assert_eq!(world.count(id, "DepositFailed").await, 0);
    assert_eq!(world.count(id, "RefundRequested").await, 0);
    assert_eq!(world.events(id).await.len(), 5);
}

#[tokio::test]
async fn a_deposit_keeps_a_bounded_number_of_contradicting_reports() {
    // GIVEN a deposit whose success was recorded
    let world = World::new();
    let id = world.recorded(Succeeded, ACME, "pay_1", "evt_ok").await;
    // WHEN the gateway sends more distinct "failed" reports than a deposit keeps
    for n in 0..MAX_CONTRADICTIONS + 5 {
        let late = failed(ACME, &format!("evt_late_{n}"), "pay_1");
        // THEN each is acknowledged (the gateway stops retrying) ...
        world
            .deliver(ACME, &late)
            .await
            .assert_applied("contradiction_ignored", "succeeded");
    }
    // ... but only the first ones are recorded, and the deposit stays succeeded
    assert_eq!(
        world.count(id, "PaymentAnomalyDetected").await,
        MAX_CONTRADICTIONS
    );
    assert_eq!(world.view(id).await.status, DepositStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_late_failure_delivered_ten_times_at_once_is_audited_once() {
    // GIVEN a deposit whose success was recorded, on a store where deliveries race
    let world = Arc::new(World::racing(RACE_WINDOW));
    let id = world.recorded(Succeeded, ACME, "pay_1", "evt_ok").await;

    // WHEN ten deliveries of a late "failed" race each other
    let late = failed(ACME, "evt_late", "pay_1");
    let mut racing = JoinSet::new();
    for _ in 0..10 {
        let (world, late) = (world.clone(), late.clone());
        racing.spawn(async move { world.deliver(ACME, &late).await });
    }

    // THEN all are acknowledged and exactly one audit record exists
    for reply in racing.join_all().await {
        reply.assert_applied("contradiction_ignored", "succeeded");
    }
    assert!(
        world.appends.answers(Answer::Conflict) > 0,
        "the deliveries did not race"
    );
    assert_eq!(world.count(id, "PaymentAnomalyDetected").await, 1);
    assert_eq!(world.view(id).await.status, DepositStatus::Succeeded);
}

#[tokio::test]
async fn a_late_success_after_failure_is_an_anomaly_and_the_charge_is_refunded() {
    // GIVEN a deposit whose failure was recorded
    let world = World::new();
    let id = world.recorded(Failed, BRAVO, "txn_1", "evt_ko").await;

    // WHEN a contradicting success arrives: the gateway took the money after all
    let reply = world.report(Succeeded, BRAVO, "evt_ok", "txn_1").await;

    // THEN the failure stands (the merchant was told), the surprise is an anomaly, and
    // the charge is refunded: a refund of it is recorded and announced to the processor
    reply.assert_applied("anomaly_recorded", "failed");
    assert_eq!(world.view(id).await.status, DepositStatus::Failed);
    assert_eq!(world.count(id, "DepositSucceeded").await, 0);
    let events = world.events(id).await;
    let anomalies: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            DepositEvent::PaymentAnomalyDetected { anomaly } => Some(anomaly.kind),
            _ => None,
        })
        .collect();
    assert_eq!(anomalies, [AnomalyKind::SuccessAfterFailure]);
    let refunds: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            DepositEvent::RefundRequested { amount, charge, .. } => Some((*amount, charge.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    let (amount, charge) = &refunds[0];
    assert_eq!(amount.minor(), 10099);
    let charge = charge.as_ref().expect("the refund names the stray charge");
    assert_eq!(
        (charge.gateway.as_str(), charge.external_id.as_str()),
        (BRAVO, "txn_1")
    );
    let announced = world.queue.receive(10);
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0].body.deposit_id, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_success_and_failure_settle_once_and_audit_the_loser() {
    // GIVEN a submitted deposit, on a store where deliveries race
    let world = Arc::new(World::racing(RACE_WINDOW));
    let id = world.submitted_deposit(ACME, "pay_1").await;

    // WHEN a success and a failure for it race each other
    let ok = {
        let world = world.clone();
        tokio::spawn(async move { world.report(Succeeded, ACME, "evt_a", "pay_1").await })
    };
    let ko = {
        let world = world.clone();
        tokio::spawn(async move { world.report(Failed, ACME, "evt_b", "pay_1").await })
    };
    let (ok, ko) = (ok.await.unwrap(), ko.await.unwrap());

    // THEN exactly one outcome is applied, the other is on record as a contradiction
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ko.status, StatusCode::OK, "{}", ko.text);
    let results = [
        ok.json()["result"].as_str().unwrap().to_owned(),
        ko.json()["result"].as_str().unwrap().to_owned(),
    ];
    // (a failure that lost is a contradiction; a success that lost is a charge made
    // after a recorded failure, so an anomaly whose charge is refunded)
    let success_lost = results[0] == "anomaly_recorded";
    assert!(
        results.contains(&"recorded".to_owned())
            && (results.contains(&"contradiction_ignored".to_owned()) || success_lost),
        "{results:?}"
    );
    let outcomes =
        world.count(id, "DepositSucceeded").await + world.count(id, "DepositFailed").await;
    assert_eq!(outcomes, 1);
    assert_eq!(
        world.appends.answers(Answer::Conflict),
        1,
        "the two deliveries raced"
    );
    assert_eq!(world.count(id, "PaymentAnomalyDetected").await, 1);
    let refunds = world.count(id, "RefundRequested").await;
    assert_eq!(refunds, usize::from(success_lost));
    assert_eq!(world.events(id).await.len(), 5 + refunds);
}

// ================================================================ not ready, not ours

#[tokio::test]
async fn a_webhook_for_a_payment_not_recorded_yet_is_409_and_writes_nothing() {
    // GIVEN a deposit still being processed: the attempt is recorded, the gateway's
    // answer (and so the external-id lookup) is not
    let world = World::new();
    let pending = world.requested_deposit().await;
    let submitted = world.submitted_deposit(ACME, "pay_known").await;
    let before = world.snapshot(&[pending, submitted]).await;

    // WHEN the gateway's webhook for its (not yet known) payment id arrives first
    let reply = world
        .report(Succeeded, ACME, "evt_early", "pay_unknown")
        .await;

    // THEN 409 deposit_not_ready, so the gateway retries later, and nothing is written
    reply.assert_idempotency_error(StatusCode::CONFLICT, "deposit_not_ready");
    world.assert_unchanged(&before, &[pending, submitted]).await;
}

#[tokio::test]
async fn a_gateway_cannot_settle_another_gateways_payment() {
    // GIVEN a deposit that acme accepted as pay_1
    let world = World::new();
    let (id, before) = world.watched_deposit(ACME, "pay_1").await;

    // WHEN bravo, correctly signed, reports a payment with the same id
    let reply = world.report(Succeeded, BRAVO, "evt_1", "pay_1").await;

    // THEN external ids are per gateway: bravo has no such payment; nothing changes
    reply.assert_idempotency_error(StatusCode::CONFLICT, "deposit_not_ready");
    world.assert_unchanged(&before, &[id]).await;
}

#[tokio::test]
async fn a_signed_body_that_is_not_a_notification_is_400_and_changes_nothing() {
    // GIVEN a submitted deposit
    let world = World::new();
    let (id, before) = world.watched_deposit(ACME, "pay_1").await;

    // WHEN the gateway signs bodies that are not notifications it sends
    for body in [
        "",
        "{",
        r#"{"id":"evt_1","type":"payment.lost","payment_id":"pay_1"}"#,
        &succeeded(BRAVO, "evt_1", "pay_1"), // SOAP, but acme speaks JSON
    ] {
        let reply = world.deliver(ACME, body).await;

        // THEN 400 webhook_payload_invalid, and nothing changes
        reply.assert_bad_request("webhook_payload_invalid", None);
    }
    world.assert_unchanged(&before, &[id]).await;
}

#[tokio::test]
async fn a_store_outage_is_503_without_internals_and_the_gateway_retries() {
    // GIVEN the store is down
    let world = World::new();
    world.store_down();

    // WHEN a valid webhook arrives
    let reply = world.report(Succeeded, ACME, "evt_1", "pay_1").await;

    // THEN 503 (non-2xx: the gateway retries), with nothing of the cause
    reply.assert_unavailable();
    assert!(!reply.text.contains("AccessDenied"), "{}", reply.text);
    assert!(!reply.text.contains("arn:aws"), "{}", reply.text);
    reply.assert_no_secret();
}

// ================================================================ limits and routes

#[tokio::test]
async fn a_body_over_64_kib_is_413_even_when_signed_and_changes_nothing() {
    // GIVEN a submitted deposit
    let world = World::new();
    let (id, before) = world.watched_deposit(ACME, "pay_1").await;

    // WHEN a valid notification padded to 64 KiB + 1 byte is signed and sent
    let notification = succeeded(ACME, "evt_1", "pay_1");
    let padded = format!(
        "{notification}{}",
        " ".repeat(MAX_BODY_BYTES + 1 - notification.len())
    );
    assert_eq!(padded.len(), 64 * 1024 + 1);
    let reply = world.deliver(ACME, &padded).await;

    // THEN 413, and nothing changes
    reply.assert_invalid_request(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", None);
    world.assert_unchanged(&before, &[id]).await;
    // ... also when unsigned, or as binary
    world
        .send(webhook(ACME, None, &padded))
        .await
        .assert_invalid_request(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", None);
    let binary = world.signed_post(ACME, &[], Body::Binary(padded.into_bytes()));
    assert_eq!(
        world.send(binary).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    world.assert_unchanged(&before, &[id]).await;
}

#[tokio::test]
async fn a_body_of_exactly_64_kib_is_accepted() {
    // GIVEN a submitted deposit
    let world = World::new();
    let id = world.submitted_deposit(ACME, "pay_1").await;

    // WHEN a valid notification padded to exactly 64 KiB is signed and sent
    let notification = succeeded(ACME, "evt_1", "pay_1");
    let padded = format!(
        "{notification}{}",
        " ".repeat(MAX_BODY_BYTES - notification.len())
    );
    assert_eq!(padded.len(), MAX_BODY_BYTES);
    let reply = world.deliver(ACME, &padded).await;

    // THEN it is applied
    reply.assert_applied("recorded", "succeeded");
    assert_eq!(world.view(id).await.status, DepositStatus::Succeeded);
}

#[tokio::test]
async fn methods_other_than_post_are_405_with_allow_post_and_change_nothing() {
    // GIVEN a submitted deposit and a correctly signed body for it
    let world = World::new();
    let report = world.unsent_report().await;

    for method in [
        Method::GET,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
    ] {
        // WHEN the webhook route is called with another method
        let reply = world
            .send(request(
                method.clone(),
                "/webhooks/acme",
                &[("paygate-signature", &report.header)],
                Body::Text(report.body.clone()),
            ))
            .await;

        // THEN 405 naming POST, and nothing changes
        reply.assert_method_not_allowed();
        assert_eq!(reply.header("allow"), Some("POST"), "{method}");
    }
    world.assert_untouched(&report).await;
}

#[tokio::test]
async fn paths_that_name_no_gateway_are_404() {
    let world = World::new();
    for path in [
        "/webhooks/",
        "/webhooks",
        "/webhooks/acme/extra",
        "/v1/deposits",
    ] {
        let reply = world
            .send(request(Method::POST, path, &[], Body::Empty))
            .await;
        reply.assert_invalid_request(StatusCode::NOT_FOUND, "route_not_found", None);
    }
    assert_eq!(world.appends.calls(), 0);
}

// ================================================================ secrets

#[tokio::test]
async fn no_response_ever_contains_a_secret() {
    // GIVEN deposits at every gateway
    let world = World::new();
    world.submitted_deposit(ACME, "pay_1").await;
    world.submitted_deposit(BRAVO, "txn_1").await;
    world.submitted_deposit(ROTATING, "pay_r").await;
    let now = world.now();
    let body = succeeded(ACME, "evt_1", "pay_1");
    let signed = |secret: &str, t: i64| signature(secret, t, &body);
    let huge = " ".repeat(MAX_BODY_BYTES + 1);

    // WHEN every kind of request is made: good, bad, stale, malformed, unknown, too large
    let requests = vec![
        webhook(ACME, Some(&signed(ACME_SECRET, now)), &body),
        webhook(ACME, Some(&signed(ACME_SECRET, now)), &body),
        webhook(ACME, Some(&signed(FOREIGN_SECRET, now)), &body),
        webhook(ACME, Some(&signed(BRAVO_SECRET, now)), &body),
        webhook(ACME, Some(&signed(ACME_SECRET, now - 1000)), &body),
        webhook(ACME, Some("t=1,v1=nothex"), &body),
        webhook(ACME, None, &body),
        webhook("nobody", Some(&signed(ACME_SECRET, now)), &body),
        webhook(ROTATING, Some(&signed(OLD_SECRET, now)), &body),
        webhook(ACME, Some(&signed(ACME_SECRET, now)), &huge),
        webhook(
            BRAVO,
            Some(&sign(
                BRAVO_SECRET.as_bytes(),
                now,
                succeeded(BRAVO, "e", "txn_unknown").as_bytes(),
            )),
            &succeeded(BRAVO, "e", "txn_unknown"),
        ),
        request(Method::GET, "/webhooks/acme", &[], Body::Empty),
    ];
    let mut statuses = Vec::new();
    for request in requests {
        let reply = world.send(request).await;
        statuses.push(reply.status.as_u16());

        // THEN none of the answers carries a secret, in clear or hex
        reply.assert_no_secret();
    }
    assert_eq!(
        statuses,
        [200, 200, 401, 401, 401, 400, 401, 401, 409, 413, 409, 405]
    );
}

#[test]
fn the_configuration_never_prints_its_secrets() {
    let json = serde_json::json!({
        ACME: { "format": "json", "secrets": [ACME_SECRET] },
        ROTATING: { "format": "json", "secrets": [OLD_SECRET, NEW_SECRET] },
    })
    .to_string();
    let gateways = webhook_callback::WebhookGateways::from_json(&json).unwrap();
    let printed = format!("{gateways:?}");
    for secret in ALL_SECRETS {
        assert!(!printed.contains(secret), "{printed}");
    }
    assert!(printed.contains(ACME));
}
