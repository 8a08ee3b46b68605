//! What the exporter tests share: a stack of their own and one deposit through it.

use devstack::{Running, Settings};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A started stack on a free port, and the settings it runs with (its API key).
pub async fn stack() -> (Running, Settings) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings =
        Settings::from_args_and_env(["--addr".to_owned(), "127.0.0.1:0".to_owned()], |_| None)
            .expect("default settings");
    let running = devstack::start(&settings).await.expect("the stack starts");
    (running, settings)
}

/// Makes a deposit of AED 15.00 (`key`) through `running`'s API and waits until it
/// succeeds; the gateway that took it.
pub async fn succeeded_deposit(running: &Running, settings: &Settings, key: &str) -> String {
    let base = &running.base_url;
    let client = reqwest::Client::new();
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
            .header("Idempotency-Key", key)
            .json(&json!({
                "amount": 1500, "currency": "AED", "country": "AE", "customer_id": "cus_1",
                "payment_method": { "type": "card", "token": "tok_success" },
            })),
    )
    .await;
    let id = created["id"].as_str().expect("a deposit id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let read = answer(client.get(format!("{base}/v1/deposits/{id}"))).await;
        if read["status"] == "succeeded" {
            return read["gateway"].as_str().expect("its gateway").to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the deposit did not succeed: {read}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
