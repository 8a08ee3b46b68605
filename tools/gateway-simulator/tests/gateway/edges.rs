//! Bad requests, run-time reconfiguration, shutdown, and the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;
use axum::http::Method;
use gateway_simulator::{Behaviour, Format};
use serde_json::json;

#[tokio::test]
async fn json_bad_requests_are_400_invalid_request() {
    let sim = start(Format::Json, None).await;
    let good = json!({"amount": 100, "currency": "AED", "country": "AE", "reference": "d"});
    let cases = [
        (vec![], good.to_string()),                   // no Idempotency-Key
        (vec![("idempotency-key", "k")], "{".into()), // not JSON
        (
            vec![("idempotency-key", "k")],
            json!({"amount": -1, "currency": "AED", "country": "AE", "reference": "d"}).to_string(),
        ),
        (
            vec![("idempotency-key", "k")],
            json!({"amount": 1, "currency": "aed", "country": "AE", "reference": "d"}).to_string(),
        ),
    ];
    for (headers, body) in cases {
        let reply = sim.post("/v1/payments", &headers, body).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.json()["error"]["code"], "invalid_request");
    }
    assert_eq!(sim.gateway.charges("k"), 0);
    let missing = sim.get("/v1/payments").await;
    assert_eq!(missing.status, 400);
}

#[tokio::test]
async fn soap_bad_requests_are_client_faults() {
    let sim = start(Format::Soap, None).await;
    let garbage = sim.post("/soap", &[], "<not-soap".into()).await;
    assert_eq!(garbage.status, 500);
    assert!(
        garbage.body.contains("<faultcode>soap:Client</faultcode>"),
        "{}",
        garbage.body
    );

    let fields = "<p:IdempotencyKey>k</p:IdempotencyKey><p:Amount>1</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country><p:Reference>d</p:Reference>";
    let mismatched = sim
        .post(
            "/soap",
            &[("soapaction", "\"Refund\"")],
            soap_envelope("CreatePayment", fields),
        )
        .await;
    assert_eq!(mismatched.status, 500);
    assert!(
        mismatched
            .body
            .contains("<faultstring>InvalidRequest</faultstring>")
    );
    assert_eq!(sim.gateway.charges("k"), 0);

    // no token means tok_success; a missing SOAPAction is tolerated
    let accepted = sim
        .post("/soap", &[], soap_envelope("CreatePayment", fields))
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert!(accepted.body.contains("<p:Status>PENDING</p:Status>"));
    assert_eq!(sim.gateway.charges("k"), 1);
}

#[tokio::test]
async fn admin_reflects_the_library_api_and_unknown_fields_are_refused() {
    let sim = start(Format::Json, None).await;
    let wanted = Behaviour {
        latency_ms: 1,
        error_rate: 0.25,
        outage: false,
        health_down: true,
        webhook_delay_ms: 42,
        ..Behaviour::default()
    };
    sim.gateway.set_behaviour(wanted);
    let reply = sim.get("/admin/behaviour").await;
    assert_eq!(
        reply.json(),
        json!({"latency_ms": 1, "error_rate": 0.25, "outage": false, "health_down": true, "webhook_delay_ms": 42,
               "lost_reply_rate": 0.0, "in_flight_key_status": 0, "lookup_lag_ms": 0, "key_horizon_ms": 0,
               "capture_mismatch_rate": 0.0, "refund_failure_rate": 0.0, "webhook_duplicate_rate": 0.0, "webhook_drop_rate": 0.0,
               "webhook_reorder": false})
    );
    assert_eq!(sim.put_behaviour(json!({"latncy_ms": 5})).await.status, 400);
    assert_eq!(sim.gateway.behaviour(), wanted);
}

#[tokio::test]
async fn webhook_url_can_be_set_at_run_time() {
    let receiver = receiver(vec![]).await;
    let sim = start(Format::Json, None).await;
    let id = sim.accepted("dep_w:1", "tok_success", 100).await;
    // no URL: the payment still settles, nothing is sent
    wait_for_status(&sim, &id, "succeeded").await;

    sim.gateway
        .set_webhook_base_url(Some(receiver.base_url.clone()));
    sim.create("dep_w:2", "tok_success", 100).await;
    receiver.wait_for(1, Duration::from_secs(5)).await;

    let put = sim
        .http
        .call(
            Method::PUT,
            &sim.url("/admin/webhook"),
            &[],
            Some(json!({"base_url": null}).to_string()),
        )
        .await;
    assert_eq!(put.json(), json!({"base_url": null}));
    assert_eq!(sim.gateway.webhook_base_url(), None);
}

#[tokio::test]
async fn dropping_the_gateway_stops_the_server_and_pending_webhooks() {
    let (receiver, sim) = start_with_receiver(Format::Json, vec![]).await;
    sim.gateway.set_behaviour(Behaviour {
        webhook_delay_ms: 100,
        ..Behaviour::default()
    });
    sim.create("dep_x:1", "tok_success", 100).await.id();
    let addr = sim.gateway.addr();
    drop(sim);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(receiver.deliveries().is_empty(), "webhook sent after drop");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn binary_starts_the_configured_gateways() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gateway-simulator"))
        .args(["--gateway", "alpha:json:0", "--gateway", "beta:soap:0"])
        .env("PAYGATE_SIM_SECRET_ALPHA", "whsec_alpha")
        .env_remove("PAYGATE_SIM_SECRET_BETA")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line == "ready";
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    });
    let lines = tokio::time::timeout(Duration::from_secs(10), lines)
        .await
        .expect("no ready line")
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(lines.last().map(String::as_str), Some("ready"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("secret beta whsec_dev_")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("secret alpha")),
        "{lines:?}"
    );
    let urls: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("gateway "))
        .collect();
    assert_eq!(urls.len(), 2, "{lines:?}");
    assert!(urls[0].starts_with("alpha json http://127.0.0.1:"));
    assert!(urls[1].starts_with("beta soap http://127.0.0.1:"));
}
