//! In-memory adapters. Each one passes the same contract suite as its AWS twin
//! (`paygate-kit`), which is why the local stack and the handler tests may trust it.

mod clock;
mod event_store;
mod merchants;
mod publisher;
mod queue;
mod registry;

pub use clock::ManualClock;
pub use event_store::MemoryEventStore;
pub use merchants::MemoryMerchantDirectory;
pub use publisher::{MAX_EVENT_BYTES, MemoryPublisher};
pub use queue::{MemoryQueue, QueuedMessage};
pub use registry::MemoryGatewayRegistry;
