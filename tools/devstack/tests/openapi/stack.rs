//! The devstack, in process: `devstack::build` on the in-memory backend with two simulated
//! gateways (one `json` for AE/AED, one `soap` for JP/JPY; both can pay out), its queue consumer feeding the
//! real gateway processor, and `devstack::router` in front of the functions, called
//! without a socket. The intake's and webhooks' ports sit behind the kit's fault
//! switchboard, whose switched rules make the failures the API documents happen for
//! real: a store (its ledger and deposit list too) that is down, that always loses the
//! append race or that hands back a broken stream, a queue that is down or holds a send;
//! and an id generator that repeats itself.

use axum::Router;
use axum::body::{Body, to_bytes};
use devstack::gateways::{GatewaySeed, webhook_secret};
use devstack::{Functions, Settings};
use http::{HeaderMap, Method, Request, StatusCode};
use paygate_domain::ports::{EventStore, IdGenerator};
use paygate_domain::{Country, Currency};
use paygate_kit::faults::{Hooked, Port, Rule, Switchboard, Target};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tower::ServiceExt;
use uuid::Uuid;

pub const API_KEY: &str = "sk_test_openapi_5d2e9c41";
pub const JSON_GATEWAY: &str = "acme_json";
pub const SOAP_GATEWAY: &str = "globex_soap";
/// Where the stack says it is reached (it is called without a socket).
pub const BASE_URL: &str = "http://127.0.0.1:38080";

/// How long anything that should happen promptly may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(15);

/// One request and what came back.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: Method,
    pub path: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Exchange {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| {
            panic!(
                "{} {} answered {} with a body that is not JSON ({e}): {}",
                self.method, self.path, self.status, self.text
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header"))
    }

    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error: {}", self.text))
            .to_owned()
    }

    /// Asserts the status (and, for an error, its code).
    pub fn expect(&self, status: u16, code: Option<&str>) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{} {}: {}",
            self.method,
            self.path,
            self.text
        );
        if let Some(code) = code {
            assert_eq!(
                self.code(),
                code,
                "{} {}: {}",
                self.method,
                self.path,
                self.text
            );
        }
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Normal,
    /// Every call fails, as an unreachable DynamoDB would.
    Unavailable,
    /// Every append loses the race for its version.
    Conflict,
    /// Loads return the stream without its first event.
    Corrupt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueMode {
    Normal,
    Unavailable,
    /// The next send waits until [`Stack::release_queue`].
    Hold,
}

/// The switched rules behind each mode.
struct Switches {
    /// Every store call fails, and so do listing the registry and the merchant's deposits
    /// (all are DynamoDB).
    store_down: [Rule; 3],
    store_conflict: Rule,
    store_corrupt: Rule,
    queue_down: Rule,
    /// The send [`QueueMode::Hold`] holds, until released.
    held: Mutex<Option<Rule>>,
}

pub struct Stack {
    router: Router,
    faults: Arc<Switchboard>,
    switches: Switches,
    fixed_ids: Arc<AtomicBool>,
    log: Mutex<Vec<Exchange>>,
    consumer: JoinHandle<()>,
    _simulators: Vec<gateway_simulator::RunningGateway>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.consumer.abort();
    }
}

fn seed(name: &str, format: &str, country: &str, currency: &str) -> GatewaySeed {
    GatewaySeed {
        name: name.to_owned(),
        format: format.parse().expect("a wire format paygate speaks"),
        base_url: None,
        countries: vec![Country::parse(country).expect("a country")],
        currencies: vec![Currency::parse(currency).expect("a currency")],
        priority: 10,
        enabled: true,
        capabilities: paygate_domain::gateways::Capability::ALL.to_vec(),
    }
}

impl Stack {
    pub async fn start() -> Self {
        let settings = Settings::from_args_and_env(Vec::<String>::new(), |name| match name {
            "PAYGATE_DEV_API_KEY" => Some(API_KEY.to_owned()),
            _ => None,
        })
        .expect("settings");
        let seeds = vec![
            seed(JSON_GATEWAY, "json", "AE", "AED"),
            seed(SOAP_GATEWAY, "soap", "JP", "JPY"),
        ];
        let stack = devstack::build(&settings, seeds)
            .await
            .expect("the in-memory stack builds");
        assert!(
            stack
                .simulators
                .iter()
                .all(|s| s.webhook_base_url().is_none()),
            "the simulators send no webhooks of their own: the test signs them"
        );
        let faults = Switchboard::new();
        let unreachable = |what: &str| format!("ServiceUnavailable: the {what} is unreachable");
        let switches = Switches {
            store_down: [
                faults
                    .when(Target::port(Port::Store))
                    .switched()
                    .fail(unreachable("table")),
                faults
                    .when(Target::op(Port::Registry, "list"))
                    .switched()
                    .fail(unreachable("registry")),
                faults
                    .when(Target::op(Port::Index, "deposits"))
                    .switched()
                    .fail(unreachable("deposits index")),
            ],
            store_conflict: faults.when(Target::append()).switched().conflict(),
            store_corrupt: faults
                .when(Target::op(Port::Store, "load"))
                .switched()
                .corrupt(),
            queue_down: faults
                .when(Target::op(Port::Queue, "send"))
                .switched()
                .fail("SendMessage failed: the queue is unreachable"),
            held: Mutex::new(None),
        };
        let store: Arc<dyn EventStore> =
            Arc::new(Hooked::new(stack.intake.store.clone(), faults.clone()));
        let fixed_ids = Arc::new(AtomicBool::new(false));
        let mut intake = stack.intake.clone();
        intake.store = store.clone();
        intake.registry = Arc::new(Hooked::new(stack.intake.registry.clone(), faults.clone()));
        intake.ledger = Arc::new(Hooked::new(stack.intake.ledger.clone(), faults.clone()));
        intake.deposits = Arc::new(Hooked::new(stack.intake.deposits.clone(), faults.clone()));
        intake.queue = Arc::new(Hooked::new(stack.intake.queue.clone(), faults.clone()));
        intake.ids = Arc::new(SwitchedIds {
            fixed: fixed_ids.clone(),
            id: Uuid::now_v7(),
        });
        let mut webhooks = stack.webhooks.clone();
        webhooks.store = store;
        let functions = Functions {
            intake,
            webhooks,
            metrics: None,
            base_url: Some(BASE_URL.to_owned()),
        };
        let consumer = tokio::spawn(devstack::consumer::run(
            stack.queue.clone(),
            stack.processor.clone(),
            0.0,
        ));
        Self {
            router: devstack::router(functions),
            faults,
            switches,
            fixed_ids,
            log: Mutex::new(Vec::new()),
            consumer,
            _simulators: stack.simulators,
        }
    }

    pub fn set_store(&self, mode: StoreMode) {
        let switches = &self.switches;
        for rule in switches
            .store_down
            .iter()
            .chain([&switches.store_conflict, &switches.store_corrupt])
        {
            rule.off();
        }
        match mode {
            StoreMode::Normal => {}
            StoreMode::Unavailable => switches.store_down.iter().for_each(Rule::on),
            StoreMode::Conflict => switches.store_conflict.on(),
            StoreMode::Corrupt => switches.store_corrupt.on(),
        }
    }

    pub fn set_queue(&self, mode: QueueMode) {
        self.switches.queue_down.off();
        match mode {
            QueueMode::Normal => {}
            QueueMode::Unavailable => self.switches.queue_down.on(),
            QueueMode::Hold => {
                let held = self
                    .faults
                    .when(Target::op(Port::Queue, "send"))
                    .once()
                    .hold();
                *self.switches.held.lock().expect("the held send") = Some(held);
            }
        }
    }

    fn held(&self) -> Rule {
        self.switches
            .held
            .lock()
            .expect("the held send")
            .clone()
            .expect("QueueMode::Hold was set")
    }

    /// Waits until a send is held by [`QueueMode::Hold`].
    pub async fn queue_holding(&self) {
        self.held().entered().await;
    }

    pub fn release_queue(&self) {
        self.held().release();
    }

    pub fn set_fixed_ids(&self, fixed: bool) {
        self.fixed_ids.store(fixed, Ordering::SeqCst);
    }

    /// Sends one request through the devstack's router and records the exchange.
    pub async fn send(&self, request: Request<Body>) -> Exchange {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router never fails");
        let (parts, body) = response.into_parts();
        let bytes = to_bytes(body, usize::MAX).await.expect("a readable body");
        let exchange = Exchange {
            method,
            path,
            status: parts.status,
            headers: parts.headers,
            text: String::from_utf8(bytes.to_vec()).expect("a UTF-8 body"),
        };
        self.log.lock().expect("the log").push(exchange.clone());
        exchange
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().expect("the log").clone()
    }

    /// A merchant request with the test key (`key`: the Idempotency-Key, if any).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Exchange {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {API_KEY}"));
        if let Some(key) = key {
            // From bytes, so a test can send keys that are not ASCII.
            let value = http::HeaderValue::from_bytes(key.as_bytes()).expect("a header value");
            builder = builder.header("idempotency-key", value);
        }
        let body = match body {
            Some(text) => {
                builder = builder.header("content-type", "application/json");
                Body::from(text.to_owned())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).expect("a request")).await
    }

    /// The same request without an API key.
    pub async fn anonymous(&self, method: Method, path: &str, body: &str) -> Exchange {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("idempotency-key", "anonymous")
            .body(Body::from(body.to_owned()))
            .expect("a request");
        self.send(request).await
    }

    pub async fn post_deposit(&self, key: &str, body: &Value) -> Exchange {
        self.post_json("/v1/deposits", key, body).await
    }

    pub async fn post_payout(&self, key: &str, body: &Value) -> Exchange {
        self.post_json("/v1/payouts", key, body).await
    }

    /// `POST path` of `body` under idempotency key `key`.
    pub async fn post_json(&self, path: &str, key: &str, body: &Value) -> Exchange {
        let body = body.to_string();
        self.call(Method::POST, path, Some(key), Some(&body)).await
    }

    pub async fn get(&self, path: &str) -> Exchange {
        self.call(Method::GET, path, None, None).await
    }

    pub async fn refund(&self, deposit: &str, key: &str, body: &str) -> Exchange {
        self.call(
            Method::POST,
            &format!("/v1/deposits/{deposit}/refunds"),
            Some(key),
            Some(body),
        )
        .await
    }

    /// POSTs `body` to `/webhooks/{gateway}` with `signature` as `Paygate-Signature`.
    pub async fn webhook_with(
        &self,
        gateway: &str,
        signature: Option<&[u8]>,
        body: &str,
    ) -> Exchange {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(format!("/webhooks/{gateway}"));
        if let Some(signature) = signature {
            builder = builder.header(
                "paygate-signature",
                http::HeaderValue::from_bytes(signature).expect("a header value"),
            );
        }
        self.send(
            builder
                .body(Body::from(body.to_owned()))
                .expect("a request"),
        )
        .await
    }

    /// POSTs `body` to the gateway's webhook, signed now with the devstack's secret for it.
    pub async fn webhook(&self, gateway: &str, body: &str) -> Exchange {
        let signature = sign(&webhook_secret(gateway), now(), body);
        self.webhook_with(gateway, Some(signature.as_bytes()), body)
            .await
    }

    /// Polls `GET /v1/deposits/{id}` until `done` holds for the deposit.
    pub async fn deposit_until(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let never = format!("deposit {id} never became {what}");
        self.get_until(&format!("/v1/deposits/{id}"), &never, done)
            .await
    }

    /// Polls `GET /v1/payouts/{id}` until `done` holds for the payout.
    pub async fn payout_until(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let never = format!("payout {id} never became {what}");
        self.get_until(&format!("/v1/payouts/{id}"), &never, done)
            .await
    }

    /// Polls the audit trail until it holds `count` events of `kind`.
    pub async fn events_until(&self, id: &str, kind: &str, count: usize) -> Value {
        let never = format!("deposit {id} never had {count} {kind}");
        self.get_until(&format!("/v1/deposits/{id}/events"), &never, |events| {
            let of_kind = events["data"].as_array().expect("events").iter();
            of_kind.filter(|e| e["type"] == kind).count() >= count
        })
        .await
    }

    /// Polls `GET path` (answered 200) until `done` holds for its body; fails saying
    /// `never` and the last body after [`PATIENCE`].
    async fn get_until(&self, path: &str, never: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let body = self.get(path).await.expect(200, None).json();
            if done(&body) {
                return body;
            }
            assert!(tokio::time::Instant::now() < deadline, "{never}: {body}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn sign(secret: &str, at: i64, body: &str) -> String {
    paygate_signature::sign(secret.as_bytes(), at, body.as_bytes())
}

// ---------------------------------------------------------------- ids

struct SwitchedIds {
    fixed: Arc<AtomicBool>,
    id: Uuid,
}

impl IdGenerator for SwitchedIds {
    fn new_uuid(&self) -> Uuid {
        if self.fixed.load(Ordering::SeqCst) {
            self.id
        } else {
            Uuid::now_v7()
        }
    }
}
