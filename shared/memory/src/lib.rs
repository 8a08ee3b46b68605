//! In-memory adapters. Each one passes the same contract suite as its AWS twin (in
//! `paygate-kit`), which is why the local stack and the handler tests may trust it. Every
//! adapter asks a [`FaultHook`] before each call, so tests and the lifecycle simulation
//! inject failures in one place (see [`faults`]).

mod clock;
mod event_store;
pub mod faults;
mod listings;
mod merchants;
mod publisher;
mod queue;
mod registry;

pub use clock::ManualClock;
pub use event_store::{MemoryEventStore, StoreSnapshot};
pub use faults::{Answer, Call, Fault, FaultHook, NoFaults, Port};
pub use merchants::MemoryMerchantDirectory;
pub use publisher::{MAX_EVENT_BYTES, MemoryPublisher};
pub use queue::{MemoryQueue, QueuedMessage};
pub use registry::MemoryGatewayRegistry;
