//! The [`EventPublisher`](paygate_domain::ports::EventPublisher) on EventBridge: domain
//! events go to paygate's custom bus (`PAYGATE_EVENT_BUS`) with `source` `paygate`, their
//! detail-type (`DepositSucceeded`, ...) and their detail as JSON; rules on the bus
//! route them to consumers.

mod batch;
mod eventbridge;
mod tap;

pub use batch::{MAX_ENTRIES_PER_REQUEST, MAX_REQUEST_BYTES, put_events_entry_size};
pub use eventbridge::{EVENT_SOURCE, EventBridgePublisher};
pub use tap::{BusTap, TappedEvent, send_policy};
