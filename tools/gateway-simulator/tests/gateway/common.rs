//! A small HTTP client that speaks both wire formats, and a webhook receiver.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::routing::post;
use gateway_simulator::{Behaviour, Format, GatewaySpec, RunningGateway};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{Value, json};

pub const SECRET: &str = "whsec_simulator_tests";

/// How long a test waits for webhooks.
pub const WAIT: Duration = Duration::from_secs(5);

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Panics unless the delivery carries a valid `Paygate-Signature` for [`SECRET`].
pub fn assert_signed(delivery: &Delivery) {
    let header = delivery
        .signature
        .as_deref()
        .expect("Paygate-Signature header");
    paygate_signature::verify(
        header,
        &[SECRET.as_bytes()],
        &delivery.body,
        unix_now(),
        paygate_signature::DEFAULT_TOLERANCE_SECS,
    )
    .unwrap_or_else(|e| panic!("signature {header:?} rejected: {e}"));
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

#[derive(Clone)]
pub struct Http(Client<HttpConnector, Full<Bytes>>);

impl Http {
    pub fn new() -> Self {
        Self(Client::builder(TokioExecutor::new()).build_http())
    }

    pub async fn call(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        self.try_call(method, url, headers, body)
            .await
            .expect("request failed")
    }

    /// `Err` when the connection closed without an answer.
    pub async fn try_call(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Reply, String> {
        let mut request = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(10), self.0.request(request))
            .await
            .expect("request timed out")
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Ok(Reply {
            status,
            content_type,
            body: String::from_utf8(body.to_vec()).unwrap(),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    Accepted { id: String },
    Declined { id: Option<String>, code: String },
    Unavailable(u16),
    Other(u16, String),
}

impl Created {
    pub fn id(&self) -> &str {
        match self {
            Created::Accepted { id } => id,
            other => panic!("not accepted: {other:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// lower case: pending | succeeded | failed | declined
    pub status: String,
    pub failure_code: Option<String>,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Refunded {
    Accepted { id: String },
    Exceeds,
    NotFound,
    Unavailable(u16),
    Other(u16, String),
}

/// A payout's webhook event, normalized across formats (`type` in the json spelling).
#[derive(Debug, Clone, PartialEq)]
pub struct PayoutEvent {
    pub id: String,
    pub kind: String,
    pub payout_id: String,
    pub reference: String,
    pub amount: i64,
    pub currency: String,
    pub failure_code: Option<String>,
}

/// A webhook event, normalized across formats (`type` in the json spelling).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub payment_id: String,
    pub refund_id: Option<String>,
    pub amount: i64,
    pub failure_code: Option<String>,
}

// ---- SOAP response shapes (local names) ----

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Body")]
    body: Body,
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "$value")]
    reply: SoapReply,
}

#[derive(Deserialize, Debug)]
enum SoapReply {
    CreatePaymentResponse(SoapFields),
    GetPaymentStatusResponse(SoapFields),
    RefundResponse(SoapFields),
    CreatePayoutResponse(SoapFields),
    GetPayoutStatusResponse(SoapFields),
    Fault(Fault),
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase", default)]
struct SoapFields {
    transaction_id: String,
    refund_id: String,
    payout_id: String,
    status: String,
    reason_code: String,
}

#[derive(Deserialize, Debug)]
struct Fault {
    faultcode: String,
    faultstring: String,
}

impl SoapReply {
    /// The answer to `operation` (`CreatePayment` or `CreatePayout`): the id it names and
    /// its fields; any other reply as it came.
    fn created(self, operation: &str) -> Result<(String, SoapFields), SoapReply> {
        match self {
            SoapReply::CreatePaymentResponse(r) if operation == "CreatePayment" => {
                Ok((r.transaction_id.clone(), r))
            }
            SoapReply::CreatePayoutResponse(r) if operation == "CreatePayout" => {
                Ok((r.payout_id.clone(), r))
            }
            other => Err(other),
        }
    }
}

fn soap_reply(reply: &Reply) -> SoapReply {
    assert!(
        reply.content_type.starts_with("text/xml"),
        "content type {:?}",
        reply.content_type
    );
    let envelope: Envelope = quick_xml::de::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("not a SOAP envelope ({e}): {}", reply.body));
    envelope.body.reply
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Notification {
    event_id: String,
    #[serde(rename = "Type")]
    kind: String,
    transaction_id: String,
    #[serde(default)]
    refund_id: String,
    amount: i64,
    #[serde(default)]
    reason_code: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PayoutNotification {
    event_id: String,
    #[serde(rename = "Type")]
    kind: String,
    #[serde(default)]
    transaction_id: Option<String>,
    #[serde(default)]
    refund_id: Option<String>,
    payout_id: String,
    reference: String,
    amount: i64,
    currency: String,
    #[serde(default)]
    reason_code: String,
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

pub fn soap_envelope(operation: &str, fields: &str) -> String {
    format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp"><soap:Body><p:{operation}>{fields}</p:{operation}></soap:Body></soap:Envelope>"#
    )
}

/// How the tests create a payment or a payout on either wire, and how the gateway tells
/// a refusal at once (a declined card, a rejected destination).
struct Order {
    json_path: &'static str,
    soap_operation: &'static str,
    currency: &'static str,
    country: &'static str,
    reference: &'static str,
    /// What chooses the outcome: its JSON field and its SOAP element.
    chooser: (&'static str, &'static str),
    /// A refusal's JSON status and its error's id field.
    json_refused: (u16, &'static str),
    soap_refused: &'static str,
}

const PAYMENT: Order = Order {
    json_path: "/v1/payments",
    soap_operation: "CreatePayment",
    currency: "AED",
    country: "AE",
    reference: "dep_1",
    chooser: ("token", "Token"),
    json_refused: (402, "payment_id"),
    soap_refused: "DECLINED",
};

const PAYOUT: Order = Order {
    json_path: "/v1/payouts",
    soap_operation: "CreatePayout",
    currency: "EUR",
    country: "DE",
    reference: "payout_1",
    chooser: ("destination", "Destination"),
    json_refused: (422, "payout_id"),
    soap_refused: "REJECTED",
};

/// A running simulated gateway plus a client for it.
pub struct Sim {
    pub gateway: RunningGateway,
    pub http: Http,
}

pub async fn start(format: Format, webhook_base_url: Option<String>) -> Sim {
    let gateway = gateway_simulator::spawn(GatewaySpec {
        name: format!("sim-{format}"),
        format,
        secret: SECRET.into(),
        bind: "127.0.0.1:0".parse().unwrap(),
        webhook_base_url,
    })
    .await
    .unwrap();
    gateway.set_behaviour(Behaviour {
        webhook_delay_ms: 10,
        ..Behaviour::default()
    });
    Sim {
        gateway,
        http: Http::new(),
    }
}

/// What a status call asks about.
#[derive(Debug, Clone, Copy)]
pub enum Of {
    Payment,
    Refund,
    Payout,
}

/// How a status call names it: by the PSP's id, or by the idempotency key it was created
/// under.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    Id(&'a str),
    Key(&'a str),
}

/// A gateway whose webhooks go to a new receiver answering `script` (see [`receiver`]).
pub async fn start_with_receiver(format: Format, script: Vec<u16>) -> (Receiver, Sim) {
    let receiver = receiver(script).await;
    let sim = start(format, Some(receiver.base_url.clone())).await;
    (receiver, sim)
}

impl Sim {
    pub fn format(&self) -> Format {
        self.gateway.format()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.base_url())
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.http
            .call(Method::GET, &self.url(path), &[], None)
            .await
    }

    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: String) -> Reply {
        self.http
            .call(Method::POST, &self.url(path), headers, Some(body))
            .await
    }

    /// A JSON call that creates something under an idempotency key.
    async fn post_json(&self, path: &str, key: &str, body: Value) -> Reply {
        let headers = [
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ];
        self.post(path, &headers, body.to_string()).await
    }

    pub async fn soap(&self, operation: &str, fields: &str) -> Reply {
        let action = format!("\"{operation}\"");
        let headers = [
            ("content-type", "text/xml; charset=utf-8"),
            ("soapaction", action.as_str()),
        ];
        self.post("/soap", &headers, soap_envelope(operation, fields))
            .await
    }

    /// The status call's answer as it came.
    pub async fn lookup(&self, of: Of, by: By<'_>) -> Reply {
        let (collection, operation, id_element) = match of {
            Of::Payment => ("/v1/payments", "GetPaymentStatus", "TransactionId"),
            Of::Refund => ("/v1/refunds", "GetRefundStatus", "RefundId"),
            Of::Payout => ("/v1/payouts", "GetPayoutStatus", "PayoutId"),
        };
        let (path, element, value) = match by {
            By::Id(id) => (format!("{collection}/{id}"), id_element, id),
            By::Key(key) => (
                format!("{collection}?idempotency_key={key}"),
                "IdempotencyKey",
                key,
            ),
        };
        match self.format() {
            Format::Json => self.get(&path).await,
            Format::Soap => {
                let fields = format!("<p:{element}>{value}</p:{element}>");
                self.soap(operation, &fields).await
            }
        }
    }

    /// Creates a payment and returns its id; panics unless it is accepted.
    pub async fn accepted(&self, key: &str, token: &str, amount: i64) -> String {
        self.create(key, token, amount).await.id().to_owned()
    }

    /// Creates a payment of `amount` AED with `token` (reference `dep_1`); `Declined` is a
    /// declined card.
    pub async fn create(&self, key: &str, token: &str, amount: i64) -> Created {
        self.create_order(&PAYMENT, key, token, amount).await
    }

    /// Creates a payment or a payout under `key`, its outcome chosen by `chooser`.
    async fn create_order(&self, order: &Order, key: &str, chooser: &str, amount: i64) -> Created {
        let Order {
            currency,
            country,
            reference,
            ..
        } = *order;
        match self.format() {
            Format::Json => {
                let mut body = json!({"amount": amount, "currency": currency, "country": country,
                                      "reference": reference});
                body[order.chooser.0] = json!(chooser);
                let reply = self.post_json(order.json_path, key, body).await;
                let (refused, id_field) = order.json_refused;
                match reply.status {
                    201 => {
                        let v = reply.json();
                        assert_eq!(v["status"], "pending");
                        assert_eq!(v["amount"], amount);
                        assert_eq!(v["currency"], currency);
                        assert_eq!(v["reference"], reference);
                        Created::Accepted {
                            id: v["id"].as_str().unwrap().to_owned(),
                        }
                    }
                    status if status == refused => {
                        let v = reply.json();
                        Created::Declined {
                            id: v["error"][id_field].as_str().map(str::to_owned),
                            code: v["error"]["code"].as_str().unwrap().to_owned(),
                        }
                    }
                    503 | 429 => Created::Unavailable(reply.status),
                    other => Created::Other(other, reply.body),
                }
            }
            Format::Soap => {
                let element = order.chooser.1;
                let fields = format!(
                    "<p:IdempotencyKey>{key}</p:IdempotencyKey><p:Amount>{amount}</p:Amount><p:Currency>{currency}</p:Currency><p:Country>{country}</p:Country><p:Reference>{reference}</p:Reference><p:{element}>{chooser}</p:{element}>"
                );
                let reply = self.soap(order.soap_operation, &fields).await;
                match reply.status {
                    200 => match soap_reply(&reply).created(order.soap_operation) {
                        Ok((id, r)) if r.status == "PENDING" => {
                            assert!(r.reason_code.is_empty());
                            Created::Accepted { id }
                        }
                        Ok((id, r)) if r.status == order.soap_refused => Created::Declined {
                            id: non_empty(id),
                            code: r.reason_code,
                        },
                        other => panic!("unexpected reply {other:?}"),
                    },
                    503 => Created::Unavailable(503),
                    other => Created::Other(other, reply.body),
                }
            }
        }
    }

    /// `Ok(None)` = not found; `Err(http status)` = unavailable or other error.
    pub async fn status_by_id(&self, id: &str) -> Result<Option<Status>, u16> {
        let reply = self.lookup(Of::Payment, By::Id(id)).await;
        self.status(reply)
    }

    pub async fn status_by_key(&self, key: &str) -> Result<Option<Status>, u16> {
        let reply = self.lookup(Of::Payment, By::Key(key)).await;
        self.status(reply)
    }

    /// A payout's status (`pending`, `paid`, `failed`, `rejected`), as for a payment.
    pub async fn payout_status(&self, by: By<'_>) -> Result<Option<Status>, u16> {
        let reply = self.lookup(Of::Payout, by).await;
        self.status(reply)
    }

    /// Creates a payout and returns its id; panics unless it is accepted.
    pub async fn payout_accepted(&self, key: &str, destination: &str, amount: i64) -> String {
        self.payout(key, destination, amount).await.id().to_owned()
    }

    /// Creates a payout of `amount` EUR to `destination` (reference `payout_1`);
    /// `Declined` is a rejected destination.
    pub async fn payout(&self, key: &str, destination: &str, amount: i64) -> Created {
        self.create_order(&PAYOUT, key, destination, amount).await
    }

    fn status(&self, reply: Reply) -> Result<Option<Status>, u16> {
        match self.format() {
            Format::Json => Self::json_status(reply),
            Format::Soap => Self::soap_status(reply),
        }
    }

    fn json_status(reply: Reply) -> Result<Option<Status>, u16> {
        match reply.status {
            200 => {
                let v = reply.json();
                Ok(Some(Status {
                    status: v["status"].as_str().unwrap().to_owned(),
                    failure_code: v["failure_code"].as_str().map(str::to_owned),
                    id: v["id"].as_str().unwrap().to_owned(),
                }))
            }
            404 => {
                assert_eq!(reply.json()["error"]["code"], "not_found");
                Ok(None)
            }
            other => Err(other),
        }
    }

    fn soap_status(reply: Reply) -> Result<Option<Status>, u16> {
        match reply.status {
            200 => match soap_reply(&reply) {
                SoapReply::GetPaymentStatusResponse(r) => Ok(Some(Status {
                    status: r.status.to_lowercase(),
                    failure_code: non_empty(r.reason_code),
                    id: r.transaction_id,
                })),
                SoapReply::GetPayoutStatusResponse(r) => Ok(Some(Status {
                    status: r.status.to_lowercase(),
                    failure_code: non_empty(r.reason_code),
                    id: r.payout_id,
                })),
                other => panic!("unexpected reply {other:?}"),
            },
            500 => match soap_reply(&reply) {
                SoapReply::Fault(f)
                    if f.faultcode == "soap:Client" && f.faultstring == "NotFound" =>
                {
                    Ok(None)
                }
                other => panic!("unexpected fault {other:?}"),
            },
            other => Err(other),
        }
    }

    pub async fn refund(&self, key: &str, payment_id: &str, amount: i64) -> Refunded {
        match self.format() {
            Format::Json => {
                let body = json!({"payment_id": payment_id, "amount": amount});
                let reply = self.post_json("/v1/refunds", key, body).await;
                match reply.status {
                    201 => {
                        let v = reply.json();
                        assert_eq!(v["status"], "pending");
                        assert_eq!(v["payment_id"], payment_id);
                        Refunded::Accepted {
                            id: v["id"].as_str().unwrap().to_owned(),
                        }
                    }
                    422 => {
                        assert_eq!(reply.json()["error"]["code"], "refund_exceeds_payment");
                        Refunded::Exceeds
                    }
                    404 => Refunded::NotFound,
                    503 => Refunded::Unavailable(503),
                    other => Refunded::Other(other, reply.body),
                }
            }
            Format::Soap => {
                let fields = format!(
                    "<p:IdempotencyKey>{key}</p:IdempotencyKey><p:TransactionId>{payment_id}</p:TransactionId><p:Amount>{amount}</p:Amount>"
                );
                let reply = self.soap("Refund", &fields).await;
                match reply.status {
                    200 => match soap_reply(&reply) {
                        SoapReply::RefundResponse(r) => {
                            assert_eq!(r.status, "PENDING");
                            Refunded::Accepted { id: r.refund_id }
                        }
                        other => panic!("unexpected reply {other:?}"),
                    },
                    500 => match soap_reply(&reply) {
                        SoapReply::Fault(f) if f.faultstring == "RefundExceedsPayment" => {
                            assert_eq!(f.faultcode, "soap:Client");
                            Refunded::Exceeds
                        }
                        SoapReply::Fault(f) if f.faultstring == "NotFound" => Refunded::NotFound,
                        _ => Refunded::Other(500, reply.body),
                    },
                    503 => Refunded::Unavailable(503),
                    other => Refunded::Other(other, reply.body),
                }
            }
        }
    }

    pub async fn health(&self) -> Reply {
        self.get("/health").await
    }

    pub async fn put_behaviour(&self, patch: Value) -> Reply {
        self.http
            .call(
                Method::PUT,
                &self.url("/admin/behaviour"),
                &[("content-type", "application/json")],
                Some(patch.to_string()),
            )
            .await
    }

    pub async fn admin_charges(&self, key: &str) -> u32 {
        let reply = self
            .get(&format!("/admin/charges?idempotency_key={key}"))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let v = reply.json();
        assert_eq!(v["idempotency_key"], key);
        v["charges"].as_u64().unwrap() as u32
    }

    pub async fn admin_payments(&self) -> Value {
        let reply = self.get("/admin/payments").await;
        assert_eq!(reply.status, 200);
        reply.json()
    }

    pub async fn admin_payouts(&self) -> Value {
        let reply = self.get("/admin/payouts").await;
        assert_eq!(reply.status, 200);
        reply.json()
    }

    /// Parses a delivered payout webhook of this gateway's format; it names no payment
    /// and no refund.
    pub fn payout_event(&self, delivery: &Delivery) -> PayoutEvent {
        let body = std::str::from_utf8(&delivery.body).unwrap();
        match self.format() {
            Format::Json => {
                let v: Value = serde_json::from_str(body).unwrap();
                assert!(
                    v.get("payment_id").is_none() && v.get("refund_id").is_none(),
                    "{v}"
                );
                PayoutEvent {
                    id: v["id"].as_str().unwrap().to_owned(),
                    kind: v["type"].as_str().unwrap().to_owned(),
                    payout_id: v["payout_id"].as_str().unwrap().to_owned(),
                    reference: v["reference"].as_str().unwrap().to_owned(),
                    amount: v["amount"].as_i64().unwrap(),
                    currency: v["currency"].as_str().unwrap().to_owned(),
                    failure_code: v["failure_code"].as_str().map(str::to_owned),
                }
            }
            Format::Soap => {
                let n: PayoutNotification = quick_xml::de::from_str(body).unwrap();
                assert!(
                    n.transaction_id.is_none() && n.refund_id.is_none(),
                    "{body}"
                );
                PayoutEvent {
                    id: n.event_id,
                    kind: n.kind.to_lowercase().replacen('_', ".", 1),
                    payout_id: n.payout_id,
                    reference: n.reference,
                    amount: n.amount,
                    currency: n.currency,
                    failure_code: non_empty(n.reason_code),
                }
            }
        }
    }

    /// Parses a delivered webhook body of this gateway's format.
    pub fn event(&self, delivery: &Delivery) -> Event {
        let body = std::str::from_utf8(&delivery.body).unwrap();
        match self.format() {
            Format::Json => {
                let v: Value = serde_json::from_str(body).unwrap();
                Event {
                    id: v["id"].as_str().unwrap().to_owned(),
                    kind: v["type"].as_str().unwrap().to_owned(),
                    payment_id: v["payment_id"].as_str().unwrap().to_owned(),
                    refund_id: v["refund_id"].as_str().map(str::to_owned),
                    amount: v["amount"].as_i64().unwrap(),
                    failure_code: v["failure_code"].as_str().map(str::to_owned),
                }
            }
            Format::Soap => {
                let n: Notification = quick_xml::de::from_str(body).unwrap();
                Event {
                    id: n.event_id,
                    kind: n.kind.to_lowercase().replacen('_', ".", 1),
                    payment_id: n.transaction_id,
                    refund_id: non_empty(n.refund_id),
                    amount: n.amount,
                    failure_code: non_empty(n.reason_code),
                }
            }
        }
    }
}

// ---- webhook receiver ----

#[derive(Debug, Clone)]
pub struct Delivery {
    pub path: String,
    pub signature: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

#[derive(Clone)]
struct ReceiverState {
    /// Statuses to answer, in order; 200 once exhausted.
    script: Arc<Mutex<Vec<u16>>>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    arrived: Arc<tokio::sync::Notify>,
}

pub struct Receiver {
    pub base_url: String,
    state: ReceiverState,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    state.deliveries.lock().unwrap().push(Delivery {
        path: format!("/webhooks/{name}"),
        signature: header("paygate-signature"),
        content_type: header("content-type"),
        body: body.to_vec(),
        at: Instant::now(),
    });
    state.arrived.notify_waiters();
    let mut script = state.script.lock().unwrap();
    let status = if script.is_empty() {
        200
    } else {
        script.remove(0)
    };
    StatusCode::from_u16(status).unwrap()
}

/// A webhook receiver answering `script` in order, then 200.
pub async fn receiver(script: Vec<u16>) -> Receiver {
    let state = ReceiverState {
        script: Arc::new(Mutex::new(script)),
        deliveries: Arc::default(),
        arrived: Arc::default(),
    };
    let app = Router::new()
        .route("/webhooks/{name}", post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Receiver {
        base_url,
        state,
        task,
    }
}

impl Receiver {
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.deliveries.lock().unwrap().clone()
    }

    /// Waits until at least `count` deliveries arrived (panics after `timeout`).
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.state.arrived.notified();
            let deliveries = self.deliveries();
            if deliveries.len() >= count {
                return deliveries;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!(
                    "only {} of {count} webhook deliveries within {timeout:?}",
                    self.deliveries().len()
                );
            }
        }
    }
}

/// Polls until the payment reaches `status` (settlement runs right before the webhook).
pub async fn wait_for_status(sim: &Sim, id: &str, status: &str) -> Status {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let current = sim.status_by_id(id).await.unwrap().unwrap();
        if current.status == status {
            return current;
        }
        assert!(Instant::now() < deadline, "payment stayed {current:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
