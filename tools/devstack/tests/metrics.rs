//! The devstack's `/metrics`, scraped as Prometheus would, around a real lifecycle: a
//! deposit through the intake, the queue, the processor, a simulated gateway and its
//! webhook. This binary is its own process, so the Prometheus recorder is its own.

mod support;

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
    let (running, settings) = support::stack().await;
    let base = running.base_url.clone();
    let client = reqwest::Client::new();
    let scrape = || async {
        let reply = client.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        reply.text().await.unwrap()
    };
    let before = scrape().await;

    // WHEN a deposit is made and succeeds
    let gateway = support::succeeded_deposit(&running, &settings, "metrics-1").await;

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
