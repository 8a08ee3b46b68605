//! Runs the health probe on a timer, as the EventBridge schedule does in AWS.

use health_probe::{Probe, run_once};
use std::time::Duration;

pub async fn every(interval: Duration, probe: Probe) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = run_once(&probe).await {
            tracing::warn!(%error, "probe run failed");
        }
    }
}
