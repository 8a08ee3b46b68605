//! Choosing and configuring a connector.
//!
//! # How outcomes are classified
//!
//! What is safe to do next depends on whether the PSP may have acted, so every answer
//! (or its absence) is mapped once, the same way for both wire formats. The HTTP status
//! speaks first; the body decides only where the status leaves it open. "Status" is every
//! lookup: payment, payout and refund status. A payout is classified exactly like a
//! payment: "create payment" is create payout too (a JSON `422 destination_rejected` or a
//! SOAP `REJECTED` is its final `Declined`).
//!
//! | what happened | create payment | status | refund |
//! |---|---|---|---|
//! | connection refused, DNS failure, connect timeout, TLS handshake failure, bad base URL (nothing was sent) | `Transient` | `Unknown` | `Transient` |
//! | timeout, reset or close after the request was sent | `Ambiguous` | `Unknown` | `Ambiguous` |
//! | HTTP 503, 429, whatever the body (a SOAP fault included) | `Transient` | `Unknown` | `Transient` |
//! | HTTP 401, 403, 405, 408, whatever the body (refused before acting: our credentials, URL or request timing) | `Transient` | `Unknown` | `Transient` |
//! | HTTP 409 (same key in flight), 502, 504, any other 5xx but 500 and 503, 1xx, 3xx, whatever the body (a `soap:Client` fault included) | `Ambiguous` | `Unknown` | `Ambiguous` |
//! | HTTP 500: JSON; SOAP without a `soap:Client` fault (`soap:Server`, no fault) | `Ambiguous` | `Unknown` | `Ambiguous` |
//! | HTTP 500 or 2xx with a SOAP `soap:Client` fault (SOAP 1.1 sends every fault with 500) | `Declined` with the fault string as code (`gateway_rejected_request` if unusable) | `NotFound` if the fault string is `NotFound`, else `Unknown` | `Rejected` with the fault string as code |
//! | HTTP 2xx with a `soap:Server` fault | `Ambiguous` | `Unknown` | `Ambiguous` |
//! | JSON 402 | `Declined` with the PSP's code (`declined` if none) | `Unknown` | `Rejected` |
//! | other 4xx (400, 410, 422 …): JSON, or SOAP with a `soap:Client` fault or no fault (our request was refused: final, never retried elsewhere) | `Declined` with the PSP's code (`gateway_rejected_request` if it gave none) | `Unknown` | `Rejected` with the PSP's code |
//! | other 4xx with a `soap:Server` fault (contradictory: the PSP may have failed mid-way) | `Ambiguous` | `Unknown` | `Ambiguous` |
//! | HTTP 404 with the PSP's own answer: JSON `{"error":{"code":"not_found"}}` / SOAP `soap:Client` fault `NotFound` | `Transient` | `NotFound` | `Rejected` with the PSP's code (no such payment) |
//! | JSON refund 404 with any other PSP error body / SOAP refund 404 with another `soap:Client` fault | | | `Rejected` with the PSP's code |
//! | any other 404 (a wrong URL, a proxy) | `Transient` | `Unknown` | `Transient` |
//! | 2xx with the expected body | `Accepted` (`Declined` if the body says declined/failed) | `Found` with the state (and, for payments, the amount when given) | `Accepted` (`Rejected` if declined/failed) |
//! | 2xx with a malformed or unexpected body; a body that could not be read whole | `Ambiguous` | `Unknown` | `Ambiguous` |
//!
//! So a `soap:Client` fault is final only where the status leaves the decision to the
//! body: a client fault carried on 409 or 429 is never a decline or a refund rejection.
//!
//! `NotFound` is only returned when the PSP itself says so, and even then it is not proof
//! that a payment never happened (PSPs index lazily and forget keys): the processor never
//! pays elsewhere on it. A request that cannot be encoded at all (a SOAP value with characters
//! XML cannot carry) is never sent and is `Declined { code: "gateway_rejected_request" }`.
//!
//! Health: a 2xx from `GET /health` within [`Timeouts::health`] is `Healthy`, anything else
//! `Unhealthy`; both carry the measured latency.

pub use crate::config::{ConnectorConfig, Timeouts};
use crate::json::JsonConnector;
use crate::soap::SoapConnector;
use crate::transport::{HttpExchange, Transport};
use paygate_domain::gateways::WireFormat;
use paygate_domain::ports::gateway::GatewayConnector;
use std::marker::PhantomData;
use std::sync::Arc;

/// A connector speaking the wire format `F` ([`Json`](crate::json::Json) or
/// [`Soap`](crate::soap::Soap)): what differs between formats is in its `GatewayConnector`
/// implementation, the transport under it is the same. Cheap to share: one HTTP client,
/// built in [`Self::new`].
pub struct Connector<F> {
    pub(crate) transport: Transport,
    format: PhantomData<F>,
}

impl<F> Connector<F> {
    /// Over the production HTTP client.
    pub fn new(config: ConnectorConfig) -> Self {
        Self::on(Transport::new(config))
    }

    /// Over any exchange (an in-process simulated PSP, a recording fake): the same
    /// requests, the same classification.
    pub fn with_exchange(config: ConnectorConfig, exchange: Arc<dyn HttpExchange>) -> Self {
        Self::on(Transport::over(config, exchange))
    }

    fn on(transport: Transport) -> Self {
        Self {
            transport,
            format: PhantomData,
        }
    }
}

/// The connector for a wire format. Builds its HTTP client once: keep the result for the
/// life of the process (a Lambda's cold start), never build one per call.
///
/// Never fails: a base URL that does not parse is logged here and then makes every call
/// `Transient` (nothing is sent) and every health probe `Unhealthy`, so one bad registry
/// entry takes one gateway out of routing instead of failing the whole function.
pub fn connector_for(format: WireFormat, config: ConnectorConfig) -> Arc<dyn GatewayConnector> {
    match format {
        WireFormat::Json => Arc::new(JsonConnector::new(config)),
        WireFormat::Soap => Arc::new(SoapConnector::new(config)),
    }
}

/// The connector for a wire format over any [`HttpExchange`]: an in-process simulated
/// PSP, a recording fake, a fault-injecting wrapper. The requests and the classification
/// are those of [`connector_for`]; `config.timeouts.request` and `.health` become the
/// deadlines handed to the exchange (`connect` is the production exchange's business).
pub fn connector_over(
    format: WireFormat,
    config: ConnectorConfig,
    exchange: Arc<dyn HttpExchange>,
) -> Arc<dyn GatewayConnector> {
    match format {
        WireFormat::Json => Arc::new(JsonConnector::with_exchange(config, exchange)),
        WireFormat::Soap => Arc::new(SoapConnector::with_exchange(config, exchange)),
    }
}
