//! Gateways as the domain sees them: the registry entry, its health and circuit breaker,
//! and the routing rule that picks candidates for a deposit.

mod breaker;
mod cached;
mod registry;
mod routing;

pub use breaker::{BreakerPolicy, BreakerState, CallResult};
pub use cached::{CachedRegistry, LISTED_FOR};
pub use registry::{
    Capability, Gateway, GatewayConfig, GatewayStatus, Health, UnknownCapability,
    UnknownWireFormat, WireFormat, default_capabilities,
};
pub use routing::{Route, route};
