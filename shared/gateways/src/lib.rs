//! paygate's PSP connectors: one per wire format, each implementing the domain's
//! [`GatewayConnector`](paygate_domain::ports::gateway::GatewayConnector) port.
//!
//! The wire contract of both formats is in `WIRE.md` beside this crate. Each connector is
//! one folder: request/response transformers (`TryFrom`/`From` between the domain's types
//! and the PSP's) plus one trait implementation. What they share is here:
//!
//! - [`connector`]: the configuration and [`connector_for`], the only constructor callers need;
//! - `transport`: one HTTP client per connector (rustls on ring), timeouts on every call,
//!   and the split of transport failures into "nothing was sent" and "sent, no answer";
//! - `classify`: the HTTP status classes and the mapping of transport failures to outcomes.
//!
//! Every outcome is classified (accepted, declined, transient, ambiguous …) because the
//! caller's next step depends on it; the table is in [`connector`]'s documentation.
//! Nothing here logs a token, a secret or a body: only operations, HTTP statuses and codes.

mod cache;
mod classify;
pub mod connector;
pub mod json;
pub mod soap;
mod transport;
pub mod webhooks;

pub use cache::ConnectorCache;
pub use connector::{ConnectorConfig, Timeouts, connector_for};
pub use json::JsonConnector;
pub use paygate_domain::gateways::WireFormat;
pub use soap::SoapConnector;
pub use webhooks::{NotificationError, parse_notification};
