//! Each function's world, as its own suites run it: the real handler on in-memory ports
//! behind one fault [`Switchboard`](crate::faults::Switchboard), a clock the test moves by
//! hand, and the GIVEN / THEN helpers of that function's tests.

pub mod intake;
pub mod probe;
pub mod processor;
pub mod webhooks;

use paygate_domain::gateways::{BreakerState, GatewayStatus};
use paygate_domain::{DepositId, DepositView, RecordedEvent};
use paygate_memory::{MemoryEventStore, MemoryGatewayRegistry};

/// THEN-helpers every world with an in-memory event store shares: what it holds of a
/// deposit.
pub trait Stored: Sync {
    /// The in-memory store the world's handlers write to.
    fn event_store(&self) -> &MemoryEventStore;

    /// The deposit's stream, oldest first.
    fn events(&self, id: DepositId) -> impl Future<Output = Vec<RecordedEvent>> + Send {
        crate::fixtures::events_of(self.event_store(), id)
    }

    /// The deposit's read model, which must exist.
    fn view(&self, id: DepositId) -> impl Future<Output = DepositView> + Send {
        crate::fixtures::view_of(self.event_store(), id)
    }

    /// The stream as event kinds, oldest first.
    fn kinds(&self, id: DepositId) -> impl Future<Output = Vec<&'static str>> + Send {
        async move {
            let events = self.events(id).await;
            events.iter().map(|e| e.event.kind()).collect()
        }
    }

    /// How many events of `kind` the stream holds.
    fn count(&self, id: DepositId, kind: &str) -> impl Future<Output = usize> + Send {
        async move {
            let kinds = self.kinds(id).await;
            kinds.iter().filter(|k| **k == kind).count()
        }
    }
}

/// What every world with a gateway registry reads of it.
pub trait Registered: Sync {
    /// The in-memory registry the world's handlers read and update.
    fn gateway_registry(&self) -> &MemoryGatewayRegistry;

    /// What the registry has learnt of gateway `name` (which must be registered).
    fn gateway_status(&self, name: &str) -> impl Future<Output = GatewayStatus> + Send {
        crate::gateways::status_of(self.gateway_registry(), name)
    }

    /// THEN-helper: the breaker of gateway `name` is closed and counts no failure.
    fn assert_breaker_reset(&self, name: &str) -> impl Future<Output = ()> + Send {
        async move {
            let breaker = self.gateway_status(name).await.breaker;
            assert_eq!(breaker, BreakerState::default(), "{name}");
        }
    }
}
