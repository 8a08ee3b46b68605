//! Simulated gateways (`gateway_simulator`) for the suites that call real ones: bring-up on
//! loopback, their registry entries, the behaviours the suites share, and waiting for
//! what a gateway does in the background.

pub use gateway_simulator::{Behaviour, Format, PaymentStatus, RunningGateway};

use crate::fixtures::{country, currency};
use gateway_simulator::GatewaySpec;
use paygate_domain::gateways::{
    Gateway, GatewayConfig, GatewayStatus, WireFormat, default_capabilities,
};
use paygate_domain::ports::GatewayRegistry;
use std::time::Duration;

/// How long a test waits for a gateway to get somewhere before failing.
const PATIENCE: Duration = Duration::from_secs(5);

/// A gateway that works, whose payments stay `pending` while the test looks at them
/// (settlement, and so its webhook, is far in the future).
pub fn calm() -> Behaviour {
    Behaviour {
        webhook_delay_ms: 600_000,
        ..Behaviour::default()
    }
}

/// A gateway answering 503 to everything (WIRE.md: unavailable, nothing was done).
pub fn outage() -> Behaviour {
    Behaviour {
        outage: true,
        ..calm()
    }
}

/// A gateway that works, whose payments settle (to their token's outcome) after 30 ms.
pub fn settling() -> Behaviour {
    Behaviour {
        webhook_delay_ms: 30,
        ..Behaviour::default()
    }
}

/// A gateway whose `/health` answers 503 while its payment API works.
pub fn health_down() -> Behaviour {
    Behaviour {
        health_down: true,
        ..calm()
    }
}

/// A simulated gateway to start.
#[derive(Debug, Clone)]
pub struct Simulated {
    pub name: String,
    pub format: Format,
    /// Its webhook secret (`whsec_{name}` unless set).
    pub secret: String,
    /// Where it sends its webhooks (none: it sends none).
    pub webhooks: Option<String>,
    pub behaviour: Behaviour,
}

impl Simulated {
    /// A [`calm`] gateway that sends no webhooks.
    pub fn new(name: impl Into<String>, format: Format) -> Self {
        let name = name.into();
        Self {
            secret: format!("whsec_{name}"),
            name,
            format,
            webhooks: None,
            behaviour: calm(),
        }
    }

    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = secret.into();
        self
    }

    pub fn webhooks_to(mut self, base_url: impl Into<String>) -> Self {
        self.webhooks = Some(base_url.into());
        self
    }

    pub fn behaving(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }

    /// Starts it on a free loopback port.
    pub async fn spawn(self) -> RunningGateway {
        let sim = gateway_simulator::spawn(GatewaySpec {
            name: self.name,
            format: self.format,
            secret: self.secret,
            bind: "127.0.0.1:0".parse().expect("a socket address"),
            webhook_base_url: self.webhooks,
        })
        .await
        .expect("the gateway simulator starts");
        sim.set_behaviour(self.behaviour);
        sim
    }
}

/// The registry entry of `sim`: enabled, with `priority` (lower is preferred), serving
/// every one of `countries` and `currencies`.
pub fn entry(
    sim: &RunningGateway,
    priority: u32,
    countries: &[&str],
    currencies: &[&str],
) -> GatewayConfig {
    let format = sim.format().as_str().parse();
    GatewayConfig {
        name: sim.name().into(),
        format: format.expect("a wire format paygate speaks"),
        base_url: sim.base_url(),
        ..serving(countries, currencies, priority)
    }
}

/// An enabled JSON gateway `unnamed` at no address, with `priority`, serving every one of
/// `countries` and `currencies`: fill in what a test needs.
pub fn serving(countries: &[&str], currencies: &[&str], priority: u32) -> GatewayConfig {
    GatewayConfig {
        name: "unnamed".into(),
        format: WireFormat::Json,
        base_url: String::new(),
        countries: countries.iter().map(|c| country(c)).collect(),
        currencies: currencies.iter().map(|c| currency(c)).collect(),
        priority,
        enabled: true,
        capabilities: default_capabilities(),
    }
}

/// What `registry` holds of gateway `name` (which must be registered).
pub async fn registered(registry: &dyn GatewayRegistry, name: &str) -> Gateway {
    registry
        .list()
        .await
        .expect("the registry answers")
        .into_iter()
        .find(|g| g.config.name == name)
        .unwrap_or_else(|| panic!("no gateway {name} in the registry"))
}

async fn wait_until(what: impl Fn() -> bool, failure: impl FnOnce() -> String) {
    let waited = tokio::time::timeout(PATIENCE, async {
        while !what() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    if waited.is_err() {
        panic!("{}", failure());
    }
}

/// Waits until `sim` holds `count` payments.
pub async fn wait_for_payments(sim: &RunningGateway, count: usize) {
    wait_until(
        || sim.payments().len() >= count,
        || format!("{} never held {count} payment(s)", sim.name()),
    )
    .await;
}

/// Waits until `sim` holds `count` payments, none of them pending any more.
pub async fn wait_until_settled(sim: &RunningGateway, count: usize) {
    wait_until(
        || {
            let all = sim.payments();
            all.len() >= count && all.iter().all(|p| p.status != PaymentStatus::Pending)
        },
        || format!("{}'s {count} payment(s) never settled", sim.name()),
    )
    .await;
}

/// Waits until the payment made at `sim` with `idempotency_key` has settled.
pub async fn wait_until_key_settled(sim: &RunningGateway, idempotency_key: &str) {
    wait_until(
        || {
            sim.payments()
                .iter()
                .any(|p| p.idempotency_key == idempotency_key && p.status != PaymentStatus::Pending)
        },
        || format!("payment {idempotency_key} at {} never settled", sim.name()),
    )
    .await;
}

/// What `registry` has learnt of gateway `name` (which must be registered).
pub async fn status_of(registry: &dyn GatewayRegistry, name: &str) -> GatewayStatus {
    registered(registry, name).await.status
}
