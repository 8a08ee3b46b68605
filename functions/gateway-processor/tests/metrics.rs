//! The processor's metrics as CloudWatch reads them: a real processing run on in-memory
//! ports and simulated gateways, the EMF recorder installed as the process's recorder
//! (this test binary is its own process), its lines parsed back.

use paygate_kit::world::processor::*;
use serde_json::Value;

/// The value of `metric` in the line whose labels are exactly `labels`.
fn value(lines: &[Value], metric: &str, labels: &[(&str, &str)]) -> Option<Value> {
    lines
        .iter()
        .find(|line| {
            let dimensions = &line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0];
            let names: Vec<&str> = dimensions
                .as_array()
                .map(|d| d.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            names.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| names.contains(k) && line[*k] == *v)
                && line.get(metric).is_some()
        })
        .map(|line| line[metric].clone())
}

#[tokio::test]
async fn a_fallback_and_a_decline_are_counted_per_gateway_with_their_latency() {
    let recorder = paygate_telemetry::emf::install("paygate").expect("the only recorder");
    paygate_domain::metrics::describe();

    // GIVEN alpha in an outage, WHEN one deposit falls back to bravo and one is declined
    let world = World::new().await;
    world.gateway(ALPHA).set_behaviour(outage());
    world.processed_deposit("tok_visa").await;
    world.processed_deposit("tok_decline").await;

    // THEN the flushed lines say so, per gateway and outcome class
    let mut out = Vec::new();
    recorder.flush(1_700_000_000_000, &mut out).unwrap();
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    let alpha_down = [("gateway", ALPHA), ("outcome", "transient")];
    assert_eq!(
        value(&lines, "gateway_calls", &alpha_down),
        Some(2.0.into())
    );
    let taken = [("gateway", BRAVO), ("outcome", "accepted")];
    assert_eq!(value(&lines, "gateway_calls", &taken), Some(1.0.into()));
    let declined = [("gateway", BRAVO), ("outcome", "declined")];
    assert_eq!(value(&lines, "gateway_calls", &declined), Some(1.0.into()));
    let latency = value(&lines, "gateway_call_ms", &taken).expect("a latency");
    assert!(latency.as_f64().is_some_and(|ms| ms >= 0.0), "{latency}");
    let fell_back = [("gateway", ALPHA), ("retryable", "true")];
    assert_eq!(
        value(&lines, "attempts_failed", &fell_back),
        Some(2.0.into())
    );
    let failed = value(
        &lines,
        "deposits_failed",
        &[("corridor", "AE-AED"), ("reason", "card_declined")],
    );
    assert_eq!(failed, Some(1.0.into()), "{lines:#?}");
    // ... with their units declared
    let units: Vec<(String, String)> = lines
        .iter()
        .flat_map(|l| {
            l["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|m| {
            (
                m["Name"].as_str().unwrap().to_owned(),
                m["Unit"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        units.contains(&("gateway_call_ms".into(), "Milliseconds".into())),
        "{units:?}"
    );
    assert!(
        units.contains(&("gateway_calls".into(), "Count".into())),
        "{units:?}"
    );
}
