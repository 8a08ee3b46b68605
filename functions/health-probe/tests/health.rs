//! The probe half of `run_once`, on memory in front of real simulated gateways: health
//! recorded in the registry (3 failed probes → unhealthy, one pass → healthy), routing by
//! the REAL gateway processor following it, `GatewayHealthChanged` on the bus for every
//! change and only then, and an open breaker half-opened once cooled and probed healthy.

use paygate_domain::gateways::{BreakerState, Health};
use paygate_kit::world::probe::{
    ALPHA, BRAVO, Registered, Stored, World, calm, health_down, submitted_external_id,
};
use time::format_description::well_known::Rfc3339;

/// The gateway a deposit was submitted to, after the processor handled its message.
async fn routed_to(world: &World) -> String {
    let id = world.deposit("tok_visa").await;
    assert_eq!(world.drain().await, [id]);
    let view = world.view(id).await;
    assert_eq!(view.status.as_str(), "submitted", "{view:?}");
    view.gateway.expect("a submitted deposit has its gateway")
}

#[tokio::test]
async fn a_gateway_failing_its_health_check_is_degraded_then_unhealthy_after_three_runs_skipped_by_routing_and_restored_by_one_passing_run()
 {
    // GIVEN the top-priority gateway's health check answers 503 (its payment API works)
    let world = World::new().await;
    world.gateway(ALPHA).set_behaviour(health_down());

    // WHEN the probe runs once, then twice
    let first = world.run().await;
    // THEN it is degraded (one failed probe), and routing still prefers it
    assert_eq!(first.probed, 2);
    assert_eq!((first.healthy, first.degraded, first.unhealthy), (1, 1, 0));
    assert_eq!(first.changed, [ALPHA]);
    let status = world.gateway_status(ALPHA).await;
    assert_eq!(
        (status.health, status.consecutive_probe_failures),
        (Health::Degraded, 1)
    );
    assert_eq!(status.last_checked_at, Some(world.clock_now()));
    assert_eq!(routed_to(&world).await, ALPHA, "degraded is still routed");

    world.advance(time::Duration::minutes(1));
    let second = world.run().await;
    assert!(second.changed.is_empty(), "degraded → degraded: {second:?}");
    assert_eq!(world.health(ALPHA).await, Health::Degraded);

    // WHEN it fails a third probe in a row
    world.advance(time::Duration::minutes(1));
    let third = world.run().await;

    // THEN it is unhealthy and a deposit goes to the next gateway, never to it
    assert_eq!((third.healthy, third.degraded, third.unhealthy), (1, 0, 1));
    assert_eq!(third.changed, [ALPHA]);
    assert_eq!(world.health(ALPHA).await, Health::Unhealthy);
    let alpha_payments = world.gateway(ALPHA).payments().len();
    assert_eq!(routed_to(&world).await, BRAVO);
    assert_eq!(world.gateway(ALPHA).payments().len(), alpha_payments);
    // ... and stays skipped while it keeps failing
    world.advance(time::Duration::minutes(1));
    assert!(world.run().await.changed.is_empty());
    assert_eq!(routed_to(&world).await, BRAVO);

    // WHEN its health check passes again, for one run
    world.gateway(ALPHA).set_behaviour(calm());
    world.advance(time::Duration::minutes(1));
    let recovered = world.run().await;

    // THEN it is healthy at once and routing returns to it
    assert_eq!(recovered.changed, [ALPHA]);
    assert_eq!((recovered.healthy, recovered.unhealthy), (2, 0));
    let status = world.gateway_status(ALPHA).await;
    assert_eq!(
        (status.health, status.consecutive_probe_failures),
        (Health::Healthy, 0)
    );
    assert_eq!(routed_to(&world).await, ALPHA);
    assert_eq!(
        world.health_changes(),
        [
            (ALPHA.into(), "healthy".into(), "degraded".into()),
            (ALPHA.into(), "degraded".into(), "unhealthy".into()),
            (ALPHA.into(), "unhealthy".into(), "healthy".into()),
        ]
    );
}

#[tokio::test]
async fn gateway_health_changed_is_published_for_each_change_with_its_detail_and_never_when_nothing_changes()
 {
    let world = World::new().await;

    // WHEN every gateway passes, run after run
    for _ in 0..2 {
        let run = world.run().await;
        assert!(run.changed.is_empty(), "{run:?}");
        world.advance(time::Duration::minutes(1));
    }
    // THEN nothing is published (the probe's status writes are no changes of health)
    assert!(world.bus.is_empty(), "{:?}", world.bus.published());

    // WHEN one gateway starts failing, keeps failing, then recovers
    world.gateway(BRAVO).set_behaviour(health_down());
    let mut published_per_run = Vec::new();
    let mut checked_at = Vec::new();
    for run in 0..5 {
        if run == 4 {
            world.gateway(BRAVO).set_behaviour(calm());
        }
        let before = world.bus.len();
        world.run().await;
        published_per_run.push(world.bus.len() - before);
        checked_at.push(world.clock_now());
        world.advance(time::Duration::minutes(1));
    }

    // THEN exactly the runs that changed its health published one event each
    // (healthy→degraded, degraded→degraded, →unhealthy, unhealthy→unhealthy, →healthy)
    assert_eq!(published_per_run, [1, 0, 1, 0, 1]);
    let events = world.bus.of_type("GatewayHealthChanged");
    assert_eq!(events.len(), 3);
    let expected = [
        ("healthy", "degraded", checked_at[0]),
        ("degraded", "unhealthy", checked_at[2]),
        ("unhealthy", "healthy", checked_at[4]),
    ];
    let mut ids = std::collections::HashSet::new();
    for (event, (from, to, at)) in events.iter().zip(expected) {
        let detail = &event.detail;
        assert_eq!(detail["gateway"], BRAVO, "{detail}");
        assert_eq!(detail["from"], from, "{detail}");
        assert_eq!(detail["to"], to, "{detail}");
        assert_eq!(
            detail["checked_at"],
            at.format(&Rfc3339).unwrap().as_str(),
            "{detail}"
        );
        assert!(detail["latency_ms"].is_u64(), "{detail}");
        let id = detail["event_id"].as_str().expect("an event_id");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        assert!(ids.insert(id.to_owned()), "event ids are unique");
    }
    assert!(
        world
            .bus
            .published()
            .iter()
            .all(|e| e.detail_type == "GatewayHealthChanged"),
        "only health changes were published"
    );
    assert_eq!(
        world
            .bus
            .of_type("GatewayHealthChanged")
            .iter()
            .filter(|e| e.detail["gateway"] == ALPHA)
            .count(),
        0,
        "the healthy gateway never changed"
    );
}

#[tokio::test]
async fn an_open_breaker_past_its_cool_down_half_opens_when_its_gateway_passes_the_probe_and_its_trial_closes_it()
 {
    // GIVEN the top-priority gateway's breaker is open for another 30 s
    let world = World::new().await;
    let until = world.clock_now() + time::Duration::seconds(30);
    world
        .registry
        .update_status(ALPHA, |s| s.breaker = BreakerState::Open { until })
        .unwrap();

    // WHEN the probe runs before the cool-down is over (the gateway answers)
    world.run().await;
    // THEN the breaker stays open and deposits go elsewhere
    assert_eq!(
        world.gateway_status(ALPHA).await.breaker,
        BreakerState::Open { until }
    );
    assert_eq!(routed_to(&world).await, BRAVO);

    // WHEN the cool-down has passed but the gateway fails its probe
    world.advance(time::Duration::seconds(31));
    world.gateway(ALPHA).set_behaviour(health_down());
    world.run().await;
    // THEN it stays open (a failing gateway gets no trial from the probe)
    assert_eq!(
        world.gateway_status(ALPHA).await.breaker,
        BreakerState::Open { until }
    );

    // WHEN it passes the next probe
    world.gateway(ALPHA).set_behaviour(calm());
    world.advance(time::Duration::minutes(1));
    let run = world.run().await;

    // THEN the breaker is half-open (health moved degraded → healthy on the way)
    assert_eq!(
        world.gateway_status(ALPHA).await.breaker,
        BreakerState::HalfOpen
    );
    assert_eq!(run.changed, [ALPHA]);
    // ... and the next deposit is its trial, which succeeds and closes the breaker
    let id = world.deposit("tok_visa").await;
    world.drain().await;
    assert_eq!(world.view(id).await.gateway.as_deref(), Some(ALPHA));
    assert!(submitted_external_id(&world.events(id).await).is_some());
    world.assert_breaker_reset(ALPHA).await;
}

/// A transition is reported from the status the stored update started from, not from
/// the list read at the start of the run: two overlapping runs report each change once.
#[tokio::test]
async fn two_probe_runs_at_once_publish_one_health_change_per_transition() {
    // GIVEN a gateway whose health check fails
    let world = World::new().await;
    world.gateway(BRAVO).set_behaviour(health_down());

    // WHEN two scheduled runs overlap (EventBridge may deliver an event twice)
    let (a, b) = tokio::join!(world.run(), world.run());

    // THEN its health changed once (healthy → degraded), so at most one notice says so
    let changes = world.health_changes();
    assert_eq!(
        changes,
        [(BRAVO.into(), "healthy".into(), "degraded".into())],
        "runs: {a:?} / {b:?}; stored: {:?}",
        world.gateway_status(BRAVO).await
    );
    // ... and every change the runs report is one that happened
    let reported = a.changed.len() + b.changed.len();
    assert_eq!(reported, 1, "runs: {a:?} / {b:?}");
}
