//! What every `GatewayRegistry` must do. The AWS registry's table is shared by parallel
//! tests, so each case uses gateways of its own and looks only at them in `list()`.

use crate::contract::fixtures::{gateway_config, gateway_name, now};
use futures::future::join_all;
use paygate_domain::gateways::{
    BreakerPolicy, BreakerState, CallResult, Gateway, GatewayConfig, GatewayStatus,
};
use paygate_domain::ports::GatewayRegistry;
use std::sync::Arc;
use time::Duration;

/// The registry's entry for `name`, if `list()` has it (exactly once).
async fn listed(registry: &dyn GatewayRegistry, name: &str) -> Option<Gateway> {
    let mut found: Vec<Gateway> = registry
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter(|g| g.config.name == name)
        .collect();
    assert!(found.len() <= 1, "{name} listed {} times", found.len());
    found.pop()
}

/// A new gateway of this case's own, upserted with [`gateway_config`]; its name.
async fn new_gateway(registry: &dyn GatewayRegistry) -> String {
    let name = gateway_name();
    registry
        .upsert_config(&gateway_config(&name))
        .await
        .unwrap();
    name
}

fn policy(failure_threshold: u32) -> BreakerPolicy {
    BreakerPolicy {
        failure_threshold,
        window: Duration::hours(1),
        cool_down: Duration::seconds(30),
    }
}

pub async fn an_upserted_gateway_is_listed_with_the_default_status(
    registry: Arc<dyn GatewayRegistry>,
) {
    // GIVEN two new gateways
    let (a, b) = (gateway_name(), gateway_name());
    let config_a = gateway_config(&a);
    let config_b = gateway::second(&b);
    // WHEN their configurations are upserted
    registry.upsert_config(&config_a).await.unwrap();
    registry.upsert_config(&config_b).await.unwrap();
    // THEN both are listed as configured, with nothing learnt yet
    for config in [config_a, config_b] {
        let gateway = listed(registry.as_ref(), &config.name).await.unwrap();
        assert_eq!(
            gateway,
            Gateway {
                config,
                status: GatewayStatus::default()
            }
        );
    }
}

pub async fn upserting_again_replaces_the_config_and_keeps_the_learnt_status(
    registry: Arc<dyn GatewayRegistry>,
) {
    // GIVEN a gateway whose breaker has counted a failure
    let name = new_gateway(registry.as_ref()).await;
    let learnt = registry
        .record_call(&name, CallResult::Failure, now(), &policy(5))
        .await
        .unwrap();
    assert!(
        matches!(learnt, BreakerState::Closed { failures: 1, .. }),
        "{learnt:?}"
    );
    // WHEN its configuration is upserted again, changed
    let changed = gateway::second(&name);
    registry.upsert_config(&changed).await.unwrap();
    // THEN the new configuration is listed with the breaker state it had learnt
    let gateway = listed(registry.as_ref(), &name).await.unwrap();
    assert_eq!(gateway.config, changed);
    assert_eq!(gateway.status.breaker, learnt);
}

pub async fn failures_at_the_threshold_open_the_breaker_and_a_success_closes_it(
    registry: Arc<dyn GatewayRegistry>,
) {
    // GIVEN a gateway with a breaker that opens at 3 failures
    let name = new_gateway(registry.as_ref()).await;
    let policy = policy(3);
    let t0 = now();
    // WHEN calls fail 2 times, THEN it is still closed
    for i in 1..=2 {
        let state = registry
            .record_call(&name, CallResult::Failure, t0, &policy)
            .await
            .unwrap();
        assert_eq!(
            state,
            BreakerState::Closed {
                failures: i,
                window_started: Some(t0)
            }
        );
    }
    // WHEN the 3rd fails, THEN it opens for the cool-down, as listed
    let t3 = t0 + Duration::seconds(1);
    let opened = registry
        .record_call(&name, CallResult::Failure, t3, &policy)
        .await
        .unwrap();
    let open = BreakerState::Open {
        until: t3 + policy.cool_down,
    };
    assert_eq!(opened, open);
    let gateway = listed(registry.as_ref(), &name).await.unwrap();
    assert_eq!(gateway.status.breaker, open);
    assert!(!gateway.status.breaker.allows_call(t3));
    // WHEN a (trial) call succeeds, THEN it is closed again, the count reset
    let closed = registry
        .record_call(&name, CallResult::Success, t3 + policy.cool_down, &policy)
        .await
        .unwrap();
    assert_eq!(closed, BreakerState::default());
    let gateway = listed(registry.as_ref(), &name).await.unwrap();
    assert_eq!(gateway.status.breaker, BreakerState::default());
}

pub async fn concurrent_failures_are_all_counted(registry: Arc<dyn GatewayRegistry>) {
    const CALLS: u32 = 20;
    // GIVEN a gateway whose breaker opens only at 100 failures
    let name = new_gateway(registry.as_ref()).await;
    let policy = policy(100);
    let t0 = now();
    // WHEN 20 instances record a failure at the same time
    let tasks = (0..CALLS).map(|_| {
        let registry = registry.clone();
        let name = name.clone();
        tokio::spawn(async move {
            registry
                .record_call(&name, CallResult::Failure, t0, &policy)
                .await
        })
    });
    let mut counts: Vec<u32> = join_all(tasks)
        .await
        .into_iter()
        .map(|outcome| match outcome.unwrap().unwrap() {
            BreakerState::Closed { failures, .. } => failures,
            other => panic!("expected a closed breaker, got {other:?}"),
        })
        .collect();
    // THEN every failure counted once: each saw its own count, and 20 are stored
    counts.sort_unstable();
    assert_eq!(counts, (1..=CALLS).collect::<Vec<_>>());
    let gateway = listed(registry.as_ref(), &name).await.unwrap();
    assert_eq!(
        gateway.status.breaker,
        BreakerState::Closed {
            failures: CALLS,
            window_started: Some(t0)
        }
    );
}

pub async fn recording_a_call_on_an_unknown_gateway_fails(registry: Arc<dyn GatewayRegistry>) {
    let name = gateway_name();
    let result = registry
        .record_call(&name, CallResult::Failure, now(), &policy(5))
        .await;
    assert!(result.is_err(), "{result:?}");
    // ... and does not create it
    assert_eq!(listed(registry.as_ref(), &name).await, None);
}

mod gateway {
    use crate::contract::fixtures::gateway_config;
    use paygate_domain::gateways::GatewayConfig;
    use paygate_domain::{Country, Currency};

    /// A configuration differing from `gateway_config` in every field but the name.
    pub fn second(name: &str) -> GatewayConfig {
        GatewayConfig {
            format: paygate_domain::gateways::WireFormat::Soap,
            base_url: "http://127.0.0.1:9002/soap".into(),
            countries: vec![Country::parse("AE").unwrap(), Country::parse("SA").unwrap()],
            currencies: vec![
                Currency::parse("AED").unwrap(),
                Currency::parse("SAR").unwrap(),
            ],
            priority: 7,
            enabled: false,
            ..gateway_config(name)
        }
    }
}

pub async fn changing_a_config_keeps_a_concurrent_upsert_and_the_learnt_status(
    registry: Arc<dyn GatewayRegistry>,
) {
    // GIVEN a gateway whose breaker has counted a failure
    let name = gateway_name();
    let config = gateway_config(&name);
    registry.upsert_config(&config).await.unwrap();
    registry
        .record_call(&name, CallResult::Failure, now(), &policy(5))
        .await
        .unwrap();
    for round in 1..=8u32 {
        // WHEN one writer upserts a new priority while others flip `enabled` through
        // change_config, all at once
        let moved = GatewayConfig {
            priority: config.priority + round,
            ..config.clone()
        };
        let upsert = {
            let registry = registry.clone();
            tokio::spawn(async move { registry.upsert_config(&moved).await.unwrap() })
        };
        let enabled = round % 2 == 0;
        let flips = (0..4).map(|_| {
            let (registry, name) = (registry.clone(), name.clone());
            tokio::spawn(async move {
                let flip = |current: &GatewayConfig| GatewayConfig {
                    enabled,
                    ..current.clone()
                };
                registry.change_config(&name, &flip).await.unwrap()
            })
        });
        for changed in join_all(flips).await {
            assert_eq!(changed.unwrap().map(|c| c.enabled), Some(enabled));
        }
        upsert.await.unwrap();
        // THEN the upsert is never lost to a change that read the config before it
        let gateway = listed(registry.as_ref(), &name).await.unwrap();
        assert_eq!(
            gateway.config.priority,
            config.priority + round,
            "round {round}: a change_config wrote over the upsert"
        );
    }
    // AND what was learnt is kept
    let gateway = listed(registry.as_ref(), &name).await.unwrap();
    assert!(
        matches!(
            gateway.status.breaker,
            BreakerState::Closed { failures: 1, .. }
        ),
        "{:?}",
        gateway.status.breaker
    );
}

pub async fn changing_the_config_of_an_unknown_gateway_writes_nothing(
    registry: Arc<dyn GatewayRegistry>,
) {
    let name = gateway_name();
    let disable = |current: &GatewayConfig| GatewayConfig {
        enabled: false,
        ..current.clone()
    };
    assert_eq!(registry.change_config(&name, &disable).await.unwrap(), None);
    assert_eq!(listed(registry.as_ref(), &name).await, None);
}
