//! The devstack's `/metrics`, scraped as Prometheus would, around a real lifecycle: a
//! deposit through the intake, the queue, the processor, a simulated gateway and its
//! webhook. This binary is its own process, so the Prometheus recorder is its own.

use devstack::Settings;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// `series` (a name, with label pairs it must carry) in Prometheus' text format: the sum
/// over every sample that matches (0 when none does).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(series, _)| {
            let (series_name, rest) = series.split_once('{').unwrap_or((series, ""));
            series_name == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|(_, value)| value.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_through_the_stack_shows_in_its_prometheus_metrics() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings =
        Settings::from_args_and_env(["--addr".to_owned(), "127.0.0.1:0".to_owned()], |_| None)
            .expect("default settings");
    let running = devstack::start(&settings).await.expect("the stack starts");
    let base = running.base_url.clone();
    let client = reqwest::Client::new();
    let scrape = || async {
        let reply = client.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        reply.text().await.unwrap()
    };
    let before = scrape().await;

    // WHEN a deposit is made and succeeds
    let answer = |request: reqwest::RequestBuilder| async {
        let reply = request
            .bearer_auth(settings.api_key())
            .send()
            .await
            .unwrap();
        reply.json::<Value>().await.unwrap()
    };
    let created = answer(
        client
            .post(format!("{base}/v1/deposits"))
            .header("Idempotency-Key", "metrics-1")
            .json(&json!({
                "amount": 1500, "currency": "AED", "country": "AE", "customer_id": "cus_1",
                "payment_method": { "type": "card", "token": "tok_success" },
            })),
    )
    .await;
    let id = created["id"].as_str().expect("a deposit id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let gateway = loop {
        let read = answer(client.get(format!("{base}/v1/deposits/{id}"))).await;
        if read["status"] == "succeeded" {
            break read["gateway"].as_str().expect("its gateway").to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the deposit did not succeed: {read}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // THEN /metrics counted it, where it went, and how the call went
    let after = scrape().await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    let corridor = [("corridor", "AE-AED")];
    assert_eq!(grew("deposits_requested", &corridor), 1.0, "{after}");
    let succeeded = [("corridor", "AE-AED"), ("gateway", gateway.as_str())];
    assert_eq!(grew("deposits_succeeded", &succeeded), 1.0, "{after}");
    assert_eq!(
        grew("amount_captured_minor", &[("currency", "AED")]),
        1500.0
    );
    let accepted = [("gateway", gateway.as_str()), ("outcome", "accepted")];
    assert_eq!(grew("gateway_calls", &accepted), 1.0, "{after}");
    assert_eq!(grew("gateway_call_ms_count", &accepted), 1.0, "{after}");
    assert_eq!(
        grew(
            "deposit_time_to_final_seconds_count",
            &[("outcome", "succeeded")]
        ),
        1.0
    );
    assert!(after.contains("# HELP gateway_calls"), "described: {after}");
    running.stop();
}
