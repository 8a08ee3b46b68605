//! The simulated gateways' fault knobs, switched through their `/admin/behaviour`, as a
//! person testing an integration would.

use serde_json::{Value, json};

/// Every fault the simulator has, at rates that leave most payments going through.
pub fn faults_on() -> Value {
    json!({
        "latency_ms": 150,
        "error_rate": 0.1,
        "lost_reply_rate": 0.15,
        "in_flight_key_status": 409,
        "lookup_lag_ms": 5_000,
        "capture_mismatch_rate": 0.02,
        "webhook_delay_ms": 1_000,
        "webhook_duplicate_rate": 0.3,
        "webhook_drop_rate": 0.3,
        "webhook_reorder": true,
    })
}

/// The simulator's defaults again.
pub fn faults_off() -> Value {
    serde_json::to_value(gateway_simulator::Behaviour::default()).expect("the behaviour serialises")
}

/// Sends `patch` to every gateway at `base_urls`.
pub async fn switch(
    client: &reqwest::Client,
    base_urls: &[String],
    patch: &Value,
) -> Result<(), String> {
    for base in base_urls {
        let reply = client
            .put(format!("{base}/admin/behaviour"))
            .json(patch)
            .send()
            .await
            .map_err(|e| format!("PUT {base}/admin/behaviour: {e}"))?;
        if !reply.status().is_success() {
            let status = reply.status();
            let body = reply.text().await.unwrap_or_default();
            return Err(format!("PUT {base}/admin/behaviour: {status} {body}"));
        }
    }
    Ok(())
}
