use async_trait::async_trait;
use paygate_domain::ports::Clock;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

/// A clock tests move by hand, to cross leases and timeouts without sleeping. A service
/// that waits on it (`sleep`) moves it forward by the wait and yields, as if the time
/// had passed at once.
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn sleep(&self, duration: std::time::Duration) {
        self.advance(Duration::try_from(duration).unwrap_or(Duration::MAX));
        tokio::task::yield_now().await;
    }
}
