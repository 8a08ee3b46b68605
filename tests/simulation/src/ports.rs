//! The clock and id ports of a simulated run: simulated time, seeded ids.

use crate::executor::Timers;
use crate::rng::Rng;
use async_trait::async_trait;
use paygate_domain::ports::{Clock, IdGenerator};
use std::sync::Mutex;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// Simulated time; waiting on it lets the executor run others and move time on.
pub struct SimClock(pub Timers);

#[async_trait]
impl Clock for SimClock {
    fn now(&self) -> OffsetDateTime {
        let ms = self.0.now_ms();
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .expect("simulated time stays in range")
    }

    async fn sleep(&self, duration: Duration) {
        let due = self.0.now_ms() + duration.as_millis() as i64;
        self.0.sleep_until(due).await;
    }
}

/// Random (v4) ids drawn from the run's seed.
pub struct SeededIds(Mutex<Rng>);

impl SeededIds {
    pub fn new(rng: Rng) -> Self {
        Self(Mutex::new(rng))
    }
}

impl IdGenerator for SeededIds {
    fn new_uuid(&self) -> Uuid {
        let mut rng = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let high = u128::from(rng.next_u64()) << 64;
        let bytes = (high | u128::from(rng.next_u64())).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}
