//! The functions' exporter, CloudWatch Embedded Metric Format, around a real lifecycle:
//! this binary installs the EMF recorder the Lambdas install (it is its own process, so
//! the recorder is its own), runs a deposit through a stack, and reads back what one
//! flush writes, as CloudWatch would.

mod support;

use serde_json::Value;

/// The sum of `metric` over the flushed lines whose dimensions include `labels`.
fn emitted(lines: &[Value], metric: &str, labels: &[(&str, &str)]) -> f64 {
    lines
        .iter()
        .filter(|line| labels.iter().all(|(k, v)| line[*k] == *v))
        .filter_map(|line| match &line[metric] {
            Value::Number(n) => n.as_f64(),
            Value::Array(values) => Some(values.iter().filter_map(Value::as_f64).sum()),
            _ => None,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_through_the_stack_shows_in_one_emf_flush() {
    let recorder = paygate_telemetry::emf::install("paygate").expect("the only recorder");
    let (running, settings) = support::stack().await;

    // WHEN a deposit is made and succeeds, and the invocations' metrics are flushed
    let gateway = support::succeeded_deposit(&running, &settings, "emf-1").await;
    let mut out = Vec::new();
    recorder.flush(1_700_000_000_000, &mut out).unwrap();
    running.stop();

    // THEN every line is an EMF document naming its metrics and dimensions ...
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "paygate", "{line}");
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000u64, "{line}");
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(!line[name].is_null(), "{name} has no value in {line}");
        }
        for dimension in directive["Dimensions"][0].as_array().unwrap() {
            let name = dimension.as_str().unwrap();
            assert!(line[name].is_string(), "{name} has no value in {line}");
        }
    }
    // ... and they hold the lifecycle: where it went, how much, how the call went
    let corridor = [("corridor", "AE-AED")];
    assert_eq!(
        emitted(&lines, "deposits_requested", &corridor),
        1.0,
        "{text}"
    );
    let succeeded = [("corridor", "AE-AED"), ("gateway", gateway.as_str())];
    assert_eq!(
        emitted(&lines, "deposits_succeeded", &succeeded),
        1.0,
        "{text}"
    );
    let aed = [("currency", "AED")];
    assert_eq!(
        emitted(&lines, "amount_captured_minor", &aed),
        1500.0,
        "{text}"
    );
    let accepted = [("gateway", gateway.as_str()), ("outcome", "accepted")];
    assert_eq!(emitted(&lines, "gateway_calls", &accepted), 1.0, "{text}");
    assert!(
        emitted(&lines, "gateway_call_ms", &accepted) > 0.0,
        "{text}"
    );
    let breaker = [("gateway", gateway.as_str())];
    assert_eq!(
        emitted(&lines, "gateway_breaker_state", &breaker),
        0.0,
        "{text}"
    );
    assert!(text.contains("\"gateway_breaker_state\""), "{text}");

    // ... and a flush with nothing new writes nothing
    let mut again = Vec::new();
    recorder.flush(1_700_000_001_000, &mut again).unwrap();
    assert!(again.is_empty(), "{}", String::from_utf8_lossy(&again));
}
