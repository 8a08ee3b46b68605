//! `GET /v1/gateways`: each gateway's health and breaker state, for any merchant, with
//! nothing an operator keeps to themselves (address, wire format, priority).

use http::{Method, StatusCode};
use lambda_http::Body;
use paygate_domain::gateways::{BreakerPolicy, CallResult, GatewayConfig, Health};
use paygate_domain::ports::GatewayRegistry;
use paygate_domain::{Country, Currency};
use paygate_kit::world::intake::{
    KEY_A, KEY_B, Port, Target, World, bearer, get, request, start_time,
};
use serde_json::json;
use time::Duration;

fn config(name: &str, pairs: (&[&str], &[&str]), enabled: bool) -> GatewayConfig {
    GatewayConfig {
        name: name.into(),
        format: paygate_domain::gateways::WireFormat::Json,
        base_url: format!("https://{name}.psp.example/v1?key=secret"),
        countries: pairs.0.iter().map(|c| Country::parse(c).unwrap()).collect(),
        currencies: pairs
            .1
            .iter()
            .map(|c| Currency::parse(c).unwrap())
            .collect(),
        priority: 10,
        enabled,
        capabilities: paygate_domain::gateways::default_capabilities(),
    }
}

/// Four gateways in four states, as the probe and the breaker leave them.
async fn world_with_gateways() -> World {
    let world = World::new();
    let now = start_time();
    let registry = world.registry.clone();
    let ae = (&["AE"][..], &["AED"][..]);
    registry
        .upsert_config(&config("beta_soap", ae, true))
        .await
        .unwrap();
    registry
        .upsert_config(&config(
            "alpha_json",
            (&["AE", "US"], &["AED", "USD"]),
            true,
        ))
        .await
        .unwrap();
    registry
        .upsert_config(&config("delta_off", ae, false))
        .await
        .unwrap();
    registry
        .upsert_config(&config("gamma_sick", ae, true))
        .await
        .unwrap();
    registry
        .update_status("alpha_json", |status| {
            status.latency_ms = Some(42);
            status.last_checked_at = Some(now - Duration::seconds(20));
        })
        .unwrap();
    // beta's breaker opened 10 s ago for 30 s.
    let policy = BreakerPolicy {
        failure_threshold: 1,
        window: Duration::minutes(1),
        cool_down: Duration::seconds(30),
    };
    registry
        .record_call(
            "beta_soap",
            CallResult::Failure,
            now - Duration::seconds(10),
            &policy,
        )
        .await
        .unwrap();
    registry
        .update_status("gamma_sick", |status| status.health = Health::Unhealthy)
        .unwrap();
    world
}

#[tokio::test]
async fn every_gateway_is_listed_with_its_health_and_breaker_and_nothing_internal() {
    let world = world_with_gateways().await;
    let reply = world.send(get(KEY_A, "/v1/gateways")).await;
    reply.assert_json(StatusCode::OK);
    let open_until = (start_time() + Duration::seconds(20))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let checked = (start_time() - Duration::seconds(20))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let gateway = |name: &str, countries: &[&str], currencies: &[&str]| {
        json!({ "object": "gateway", "name": name, "countries": countries,
                "currencies": currencies, "capabilities": ["payments", "refunds"],
                "enabled": true, "health": "healthy",
                "latency_ms": null, "last_checked_at": null, "breaker": "closed",
                "breaker_open_until": null, "available": true })
    };
    let mut alpha = gateway("alpha_json", &["AE", "US"], &["AED", "USD"]);
    alpha["latency_ms"] = json!(42);
    alpha["last_checked_at"] = json!(checked);
    let mut beta = gateway("beta_soap", &["AE"], &["AED"]);
    beta["breaker"] = json!("open");
    beta["breaker_open_until"] = json!(open_until);
    beta["available"] = json!(false);
    let mut delta = gateway("delta_off", &["AE"], &["AED"]);
    delta["enabled"] = json!(false);
    delta["available"] = json!(false);
    let mut gamma = gateway("gamma_sick", &["AE"], &["AED"]);
    gamma["health"] = json!("unhealthy");
    gamma["available"] = json!(false);
    assert_eq!(
        reply.json(),
        json!({ "object": "list", "data": [alpha, beta, delta, gamma] })
    );
    assert!(!reply.text.contains("psp.example") && !reply.text.contains("secret"));
}

#[tokio::test]
async fn an_open_breaker_past_its_cool_down_shows_half_open_and_available() {
    let world = world_with_gateways().await;
    world.clock.advance(Duration::seconds(25));
    let reply = world.send(get(KEY_B, "/v1/gateways")).await;
    reply.assert_json(StatusCode::OK);
    let beta = &reply.json()["data"][1];
    assert_eq!(beta["name"], "beta_soap");
    assert_eq!(beta["breaker"], "half_open");
    assert_eq!(beta["breaker_open_until"], json!(null));
    assert_eq!(beta["available"], true);
}

#[tokio::test]
async fn an_empty_registry_is_an_empty_list() {
    let reply = World::new().send(get(KEY_A, "/v1/gateways")).await;
    reply.assert_json(StatusCode::OK);
    assert_eq!(reply.json(), json!({ "object": "list", "data": [] }));
}

#[tokio::test]
async fn the_list_needs_an_api_key_and_only_answers_get() {
    let world = world_with_gateways().await;
    let anonymous = world
        .send(request(Method::GET, "/v1/gateways", &[], Body::Empty))
        .await;
    anonymous.assert_api_key_invalid();
    let auth = bearer(KEY_A);
    let post = world
        .send(request(
            Method::POST,
            "/v1/gateways",
            &[("authorization", &auth)],
            Body::Empty,
        ))
        .await;
    post.assert_method_not_allowed();
    assert_eq!(post.header("allow"), Some("GET"));
}

#[tokio::test]
async fn an_unreadable_registry_is_a_503_without_internals() {
    // GIVEN a registry that cannot be read
    let world = World::new();
    world
        .faults
        .when(Target::op(Port::Registry, "list"))
        .fail("Scan failed: ProvisionedThroughputExceededException");
    let reply = world.send(get(KEY_A, "/v1/gateways")).await;
    reply.assert_unavailable();
    assert!(!reply.text.contains("Throughput"));
}
