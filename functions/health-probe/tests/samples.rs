//! The sample events in `events/health-probe/` (what `sam local invoke` and
//! `cargo lambda invoke` send) run through the real handler, read exactly as the Lambda
//! runtime reads them (JSON → `EventBridgeEvent` in a `LambdaEvent`), in front of real
//! simulated gateways. A new sample without a case here fails
//! `every_sample_file_runs_through_a_case`.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use health_probe::handle;
use lambda_runtime::{Context, LambdaEvent};
use paygate_domain::gateways::Health;
use paygate_kit::samples::Samples;
use paygate_kit::world::probe::{ALPHA, BRAVO, Registered, World, health_down};
use serde_json::{Value, json};

const SAMPLES: Samples = Samples::of("health-probe");

const SCHEDULED: &str = "scheduled.json";

// ================================================================ one test per sample

#[tokio::test]
async fn scheduled_sample_probes_every_gateway_and_records_its_health() {
    scheduled_case().await;
}

// ================================================================ the case

async fn scheduled_case() {
    // GIVEN two registered gateways: alpha healthy, bravo's health check failing
    let world = World::new().await;
    world.gateway(BRAVO).set_behaviour(health_down());

    // WHEN the scheduler's event reaches the handler
    let event = sample_event(SCHEDULED);
    let summary = handle(&world.probe, LambdaEvent::new(event, Context::default()))
        .await
        .expect("a run on memory never fails");

    // THEN both were probed and what each answered is recorded, at the run's time
    assert_eq!(summary.probed, 2, "{summary:?}");
    assert_eq!(
        (summary.healthy, summary.degraded, summary.unhealthy),
        (1, 1, 0)
    );
    assert_eq!(summary.changed, [BRAVO]);
    assert!(summary.unrecorded.is_empty(), "{summary:?}");
    for (name, health, failures) in [(ALPHA, Health::Healthy, 0), (BRAVO, Health::Degraded, 1)] {
        let status = world.gateway_status(name).await;
        let answered = (status.health, status.consecutive_probe_failures);
        assert_eq!(answered, (health, failures), "{name}");
        assert_eq!(status.last_checked_at, Some(world.clock_now()), "{name}");
    }
    let alpha = world.gateway_status(ALPHA).await;
    assert!(alpha.latency_ms.is_some(), "alpha's latency is recorded");
    assert_eq!(
        world.health_changes(),
        [(BRAVO.into(), "healthy".into(), "degraded".into())]
    );

    // AND the scheduler gets the run's summary as JSON (nothing to sweep here)
    let returned = serde_json::to_value(&summary).expect("the summary serialises");
    assert_eq!(returned["probed"], 2);
    assert_eq!(returned["changed"], json!([BRAVO]));
    assert_eq!(returned["requeued"], 0);
    assert_eq!(returned["sweep_failures"], 0);
}

// ================================================================ coverage

/// Every file in `events/health-probe/` runs through its case; a file without one fails.
#[tokio::test]
async fn every_sample_file_runs_through_a_case() {
    for name in SAMPLES.files() {
        match name.as_str() {
            SCHEDULED => scheduled_case().await,
            other => SAMPLES.missing_case(other, file!()),
        }
    }
}

#[test]
fn the_events_readme_lists_these_samples() {
    SAMPLES.assert_readme_lists(&[]);
}

// ================================================================ reading the samples

/// The sample as the runtime decodes it, checked to be what EventBridge Scheduler
/// delivers to a templated Lambda target without an input: a "Scheduled Event" from
/// `aws.scheduler` naming the schedule, whose `detail` is the string `"{}"`.
fn sample_event(name: &str) -> EventBridgeEvent {
    let text = SAMPLES.text(name);
    let event: EventBridgeEvent = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{name} is no EventBridge event: {e}"));
    assert_eq!(event.version.as_deref(), Some("0"), "{name}");
    assert!(event.id.is_some(), "{name}: id");
    assert_eq!(event.detail_type, "Scheduled Event", "{name}");
    assert_eq!(event.source, "aws.scheduler", "{name}");
    assert!(event.time.is_some(), "{name}: time");
    let region = event.region.as_deref().expect("region");
    let account = event.account.as_deref().expect("account");
    let resources = event.resources.as_deref().unwrap_or_default();
    assert_eq!(resources.len(), 1, "{name}: the schedule's ARN");
    let schedule = format!("arn:aws:scheduler:{region}:{account}:schedule/");
    assert!(
        resources[0].starts_with(&schedule),
        "{name}: {}",
        resources[0]
    );
    assert_eq!(event.detail, Value::String("{}".into()), "{name}");
    event
}
