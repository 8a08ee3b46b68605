//! The cached gateway list: reused while fresh, forgotten by every write through it.

use paygate_domain::gateways::{
    BreakerPolicy, BreakerState, CachedRegistry, CallResult, LISTED_FOR,
};
use paygate_domain::ports::{Clock, GatewayRegistry};
use paygate_kit::contract::fixtures;
use paygate_memory::{ManualClock, MemoryGatewayRegistry};
use std::sync::Arc;
use time::Duration;

/// The cache over a registry holding gateway `alpha`.
fn registry() -> (Arc<MemoryGatewayRegistry>, Arc<ManualClock>, CachedRegistry) {
    let inner = Arc::new(MemoryGatewayRegistry::with_gateways([
        fixtures::gateway_config("alpha"),
    ]));
    let clock = Arc::new(ManualClock::new(fixtures::now()));
    let cached = CachedRegistry::new(inner.clone(), clock.clone());
    (inner, clock, cached)
}

#[tokio::test]
async fn a_listing_is_reused_until_it_is_old_then_read_again() {
    let (inner, clock, cached) = registry();
    assert_eq!(cached.list().await.unwrap().len(), 1);
    // a gateway added elsewhere is not seen while the listing is fresh …
    inner
        .upsert_config(&fixtures::gateway_config("beta"))
        .await
        .unwrap();
    clock.advance(LISTED_FOR - Duration::milliseconds(1));
    assert_eq!(cached.list().await.unwrap().len(), 1);
    // … and is once it is old
    clock.advance(Duration::milliseconds(1));
    assert_eq!(cached.list().await.unwrap().len(), 2);
}

#[tokio::test]
async fn its_own_breaker_moves_are_seen_at_once() {
    let (_, clock, cached) = registry();
    assert_eq!(
        cached.list().await.unwrap()[0].status.breaker,
        BreakerState::default()
    );
    let policy = BreakerPolicy {
        failure_threshold: 1,
        ..BreakerPolicy::default()
    };
    let state = cached
        .record_call("alpha", CallResult::Failure, clock.now(), &policy)
        .await
        .unwrap();
    assert!(matches!(state, BreakerState::Open { .. }), "{state:?}");
    assert_eq!(cached.list().await.unwrap()[0].status.breaker, state);
}
