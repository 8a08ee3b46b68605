//! Simulated payment service providers (WIRE.md) speaking the `json` REST format or the
//! `soap` SOAP 1.1 format, with idempotent payments, refunds and payouts, magic tokens,
//! payment, refund and payout status lookups, signed asynchronous webhooks with retries,
//! and a run-time `/admin` switchboard of misbehaviours.
//!
//! Two layers:
//! - [`psp`]: the PSP itself as a pure, deterministic core ([`Psp`]): time and randomness
//!   are arguments, so a seeded lifecycle simulation can drive it step by step (through
//!   the connectors' `HttpExchange` seam) under the very rules the HTTP simulator uses;
//! - the HTTP shell ([`spawn`]): one server per gateway that hands each request to the
//!   core, sleeps its latency, closes the connection unanswered for a lost reply, and
//!   delivers its webhooks over HTTP.
//!
//! Where WIRE.md is silent, the simulator decides:
//! - a repeated create/refund/payout with a known idempotency key replays the first
//!   answer (`pending` / declined / rejected), whatever the body; a declined payment and a
//!   rejected payout are on the books (status `declined` / `rejected`, nothing moved);
//!   other refused calls (400, a refund's 422, faults) record nothing, so they may be
//!   retried with the same key;
//! - idempotency keys are per kind of record: a payment, a refund and a payout never
//!   replay one another (a key in flight holds all three, and `/admin/charges` counts all
//!   three);
//! - a payout settles like a payment, `webhook_delay_ms` after creation; it is never
//!   refundable (a refund naming a payout id is `not_found`);
//! - a payment settles `webhook_delay_ms` after creation, just before its webhook is
//!   sent, even when no webhook URL is set (status queries still see the outcome);
//! - refunds are accepted on `pending` and `succeeded` payments up to the captured amount
//!   not yet refunded (a refund of a payment that then fails reports `refund.failed`);
//!   a refund of an unknown payment is `404 not_found` / `soap:Client` `NotFound`;
//! - every SOAP fault, `soap:Client` included, is HTTP 500 (SOAP 1.1): the fault code
//!   decides; `faultstring` is a stable code (`NotFound`, `InvalidRequest`,
//!   `RefundExceedsPayment`); 503 carries a `soap:Server` `ServiceUnavailable` fault; a
//!   key still in flight gets `in_flight_key_status` with an `IdempotencyKeyInUse` fault
//!   (`soap:Client` below 500);
//! - bad requests, outages and injected errors (`error_rate`, every payment/refund/status
//!   call, never `/health`) are answered at once; latency applies to the rest, `/health`
//!   included;
//! - a request the client stopped waiting for is still carried out (the ambiguous case);
//! - `/admin/charges` counts refunds and payouts under their own key too;
//! - an unknown route is `404` with code `no_such_route` (never `not_found`, which a
//!   status lookup reads as "no such payment").
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use gateway_simulator::{spawn, Behaviour, Format, GatewaySpec};
//! let psp = spawn(GatewaySpec {
//!     name: "acme".into(),
//!     format: Format::Json,
//!     secret: "whsec_test".into(),
//!     bind: "127.0.0.1:0".parse().unwrap(),
//!     webhook_base_url: None,
//! })
//! .await?;
//! psp.set_behaviour(Behaviour { latency_ms: 50, ..Behaviour::default() });
//! println!("{}", psp.base_url());
//! # Ok(()) }
//! ```

mod gateway;
pub mod psp;
mod webhook;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use psp::{
    Arrival, Behaviour, BehaviourPatch, Dice, EventRecord, Finished, PaymentRecord, PaymentStatus,
    PayoutRecord, PayoutStatus, Psp, RefundRecord, RefundStatus, SplitMix64, Ticket, Webhook,
    WebhookRetry,
};

use gateway::Gateway;

/// The wire format a simulated gateway speaks (WIRE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// REST with JSON bodies.
    Json,
    /// SOAP 1.1 over XML, one `/soap` endpoint.
    Soap,
}

impl Format {
    /// `"json"` or `"soap"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Soap => "soap",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown wire format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown gateway format {0:?} (expected \"json\" or \"soap\")")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Format::Json),
            "soap" => Ok(Format::Soap),
            other => Err(UnknownFormat(other.to_owned())),
        }
    }
}

/// What to run: one gateway, one port, one format. (Deserializable from a config file;
/// deliberately not serializable, and its `Debug` hides the secret.)
#[derive(Clone, Deserialize)]
pub struct GatewaySpec {
    /// Gateway name; webhooks go to `<webhook_base_url>/webhooks/<name>`.
    pub name: String,
    pub format: Format,
    /// Webhook signing secret (`Paygate-Signature`).
    pub secret: String,
    /// Where to listen; `127.0.0.1:0` picks a free port.
    pub bind: SocketAddr,
    /// Where to send webhooks; `None` sends none (payments still settle).
    pub webhook_base_url: Option<String>,
}

impl fmt::Debug for GatewaySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewaySpec")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("secret", &"***")
            .field("bind", &self.bind)
            .field("webhook_base_url", &self.webhook_base_url)
            .finish()
    }
}

/// Starts a gateway server on `spec.bind` and returns once it is listening.
pub async fn spawn(spec: GatewaySpec) -> std::io::Result<RunningGateway> {
    let valid_name = !spec.name.is_empty()
        && spec
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_name {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "gateway name {:?} must be non-empty ASCII letters, digits, '-' or '_'",
                spec.name
            ),
        ));
    }
    let listener = tokio::net::TcpListener::bind(spec.bind).await?;
    let addr = listener.local_addr()?;
    let (shutdown, stopped) = watch::channel(());
    let mut psp = Psp::new(&spec.name, spec.format, &spec.secret);
    psp.set_webhook_base_url(spec.webhook_base_url);
    let gateway = Arc::new(Gateway::new(psp, stopped));
    // Stops (and drops the listener) when the RunningGateway, the only sender, is dropped.
    tokio::spawn(gateway.clone().serve(listener));
    tracing::info!(gateway = %gateway.name, format = %gateway.format, %addr, "gateway simulator listening");
    Ok(RunningGateway {
        gateway,
        addr,
        shutdown,
    })
}

/// A running simulated gateway. Dropping it stops the server and its webhook tasks.
pub struct RunningGateway {
    gateway: Arc<Gateway>,
    addr: SocketAddr,
    shutdown: watch::Sender<()>,
}

impl RunningGateway {
    pub fn name(&self) -> &str {
        &self.gateway.name
    }

    pub fn format(&self) -> Format {
        self.gateway.format
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (the loopback address when bound to an unspecified one).
    pub fn base_url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}")
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.gateway.with_psp(|psp, _| psp.set_behaviour(behaviour));
    }

    pub fn behaviour(&self) -> Behaviour {
        self.gateway.with_psp(|psp, _| psp.behaviour())
    }

    /// How many times this idempotency key actually moved money (payment, refund or payout
    /// accepted): 0 or 1 unless idempotency is broken (or the key was forgotten).
    pub fn charges(&self, idempotency_key: &str) -> u32 {
        self.gateway.with_psp(|psp, _| psp.charges(idempotency_key))
    }

    /// Where webhooks go from now on (read at each delivery attempt).
    pub fn set_webhook_base_url(&self, url: Option<String>) {
        self.gateway
            .with_psp(|psp, _| psp.set_webhook_base_url(url));
    }

    pub fn webhook_base_url(&self) -> Option<String> {
        self.gateway
            .with_psp(|psp, _| psp.webhook_base_url().map(str::to_owned))
    }

    /// Retry schedule for webhooks (default: WIRE.md's 0.2 s doubling, capped at 5 s, 10 tries).
    pub fn set_webhook_retry(&self, retry: WebhookRetry) {
        self.gateway.with_psp(|psp, _| psp.set_webhook_retry(retry));
    }

    /// Every payment, in creation order, with its refunds and webhook events.
    pub fn payments(&self) -> Vec<PaymentRecord> {
        self.gateway.with_psp(|psp, _| psp.payments())
    }

    /// Every payout, in creation order, with its webhook events.
    pub fn payouts(&self) -> Vec<PayoutRecord> {
        self.gateway.with_psp(|psp, _| psp.payouts())
    }

    /// Forgets every payment, refund, payout, charge count and pending webhook (behaviour
    /// is kept).
    pub fn reset(&self) {
        self.gateway.reset();
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        // Wakes the server's graceful shutdown and every webhook task; dropping the
        // sender right after makes their `changed()` resolve for good.
        let _ = self.shutdown.send(());
    }
}

impl fmt::Debug for RunningGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningGateway")
            .field("name", &self.gateway.name)
            .field("format", &self.gateway.format)
            .field("addr", &self.addr)
            .finish()
    }
}
