//! paygate's PSP connectors: one per wire format, each implementing the domain's
//! [`GatewayConnector`](paygate_domain::ports::gateway::GatewayConnector) port.
//!
//! The wire contract of both formats is in `WIRE.md` beside this crate. Each connector is
//! one folder: request/response transformers (`TryFrom`/`From` between the domain's types
//! and the PSP's) plus one trait implementation. What they share is here:
//!
//! - [`connector`]: the configuration and [`connector_for`], the only constructor production
//!   callers need; [`connector_over`] puts any [`HttpExchange`] under a connector;
//! - `transport`: the [`HttpExchange`] seam, its production implementation
//!   ([`ReqwestExchange`]: rustls on ring, one pooled client per connector), deadlines on
//!   every call, and the split of failures into "nothing was sent" and "sent, no answer";
//! - `classify`: the HTTP status classes and the mapping of transport failures to outcomes.
//!
//! Every outcome is classified (accepted, declined, transient, ambiguous …) because the
//! caller's next step depends on it; the table is in [`connector`]'s documentation.
//! Nothing here logs a token, a secret or a body: only operations, HTTP statuses and codes.

mod cache;
mod classify;
mod config;
pub mod connector;
#[cfg(test)]
mod fuzz;
pub mod json;
pub mod soap;
#[cfg(test)]
mod test_support;
mod transport;
pub mod webhooks;

pub use cache::ConnectorCache;
pub use connector::{ConnectorConfig, Timeouts, connector_for, connector_over};
pub use json::JsonConnector;
pub use paygate_domain::gateways::WireFormat;
pub use soap::SoapConnector;
pub use transport::{HttpExchange, ReqwestExchange, TransportError};
pub use webhooks::{NotificationError, parse_notification};
