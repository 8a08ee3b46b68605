//! The world the handler tests run in: in-memory ports, two merchants, a clock the test
//! moves by hand, request builders, response assertions and misbehaving test doubles.

use async_trait::async_trait;
use deposit_intake::{Intake, IntakeConfig, handle};
use http::{HeaderMap, Method, StatusCode};
use lambda_http::{Body, Request};
use paygate_domain::crypto::FieldCipher;
use paygate_domain::idempotency::{IdempotencyKey, IdempotencyRecord, IdempotencyState};
use paygate_domain::ports::{
    ApiKey, AppendBatch, AppendError, DepositMessage, EventStore, QueueError, QueueSender,
    RandomIds, StoreError,
};
use paygate_domain::{DepositId, DepositView, MerchantId, RecordedEvent};
use paygate_memory::{
    ManualClock, MemoryEventStore, MemoryGatewayRegistry, MemoryMerchantDirectory, MemoryQueue,
    QueuedMessage,
};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Notify;

pub const KEY_A: &str = "sk_test_merchant_a_4f9c2e";
pub const KEY_B: &str = "sk_test_merchant_b_81d07a";
pub const MERCHANT_A: &str = "merchant_a";
pub const MERCHANT_B: &str = "merchant_b";
pub const START: &str = "2026-11-23T10:00:00Z";
pub const TOKEN: &str = "tok_visa";

/// How long a test waits for something that should happen at once before failing.
const PATIENCE: Duration = Duration::from_secs(5);

pub fn start_time() -> OffsetDateTime {
    time::macros::datetime!(2026-11-23 10:00:00 UTC)
}

pub fn merchant(id: &str) -> MerchantId {
    MerchantId(id.to_owned())
}

/// The intake wired to in-memory ports, with merchants A and B registered.
pub struct World {
    pub intake: Intake,
    pub store: Arc<MemoryEventStore>,
    /// Where sent messages land, whatever sender double sits in front of it.
    pub queue: Arc<MemoryQueue>,
    pub clock: Arc<ManualClock>,
    pub merchants: Arc<MemoryMerchantDirectory>,
}

impl World {
    pub fn new() -> Self {
        Self::build(|sink| sink, |store| store)
    }

    /// A world whose queue sender is `make(sink)`; messages it lets through reach `sink`.
    pub fn with_queue<Q: QueueSender + 'static>(
        make: impl FnOnce(Arc<MemoryQueue>) -> Q,
    ) -> (Self, Arc<Q>) {
        let mut double = None;
        let world = Self::build(
            |sink| {
                let q = Arc::new(make(sink));
                double = Some(q.clone());
                q
            },
            |store| store,
        );
        (world, double.expect("the queue double was built"))
    }

    fn build(
        queue: impl FnOnce(Arc<MemoryQueue>) -> Arc<dyn QueueSender>,
        store: impl FnOnce(Arc<MemoryEventStore>) -> Arc<dyn EventStore>,
    ) -> Self {
        let memory_store = Arc::new(MemoryEventStore::new());
        let sink = Arc::new(MemoryQueue::default());
        let clock = Arc::new(ManualClock::new(start_time()));
        let merchants = Arc::new(MemoryMerchantDirectory::new());
        merchants.register(ApiKey::new(KEY_A).hash(), merchant(MERCHANT_A));
        merchants.register(ApiKey::new(KEY_B).hash(), merchant(MERCHANT_B));
        let intake = Intake {
            store: store(memory_store.clone()),
            queue: queue(sink.clone()),
            merchants: merchants.clone(),
            registry: Arc::new(MemoryGatewayRegistry::new()),
            clock: clock.clone(),
            ids: Arc::new(RandomIds),
            cipher: Arc::new(FieldCipher::ephemeral()),
            config: IntakeConfig::default(),
        };
        Self {
            intake,
            store: memory_store,
            queue: sink,
            clock,
            merchants,
        }
    }

    /// Replaces the store port the handler sees (the counts still come from memory).
    pub fn with_store_double(
        mut self,
        make: impl FnOnce(Arc<MemoryEventStore>) -> Arc<dyn EventStore>,
    ) -> Self {
        self.intake.store = make(self.store.clone());
        self
    }

    /// GIVEN-helper: one more merchant, known by `api_key`.
    pub fn register(&self, api_key: &str, merchant_id: &str) {
        self.merchants
            .register(ApiKey::new(api_key).hash(), merchant(merchant_id));
    }

    pub async fn send(&self, request: Request) -> Reply {
        Reply::from(handle(&self.intake, request).await)
    }

    /// Every message on the queue (they become invisible for the rest of the test).
    pub fn drain_queue(&self) -> Vec<QueuedMessage> {
        self.queue.receive(100)
    }

    pub async fn stored_events(&self, id: DepositId) -> Vec<RecordedEvent> {
        self.store.load(id).await.expect("the memory store answers")
    }

    pub async fn stored_view(&self, id: DepositId) -> Option<DepositView> {
        self.store.view(id).await.expect("the memory store answers")
    }

    pub async fn stored_key(&self, merchant_id: &str, key: &str) -> Option<IdempotencyRecord> {
        let key = IdempotencyKey::parse(Some(key)).expect("a valid key");
        self.store
            .idempotency_record(&merchant(merchant_id), &key)
            .await
            .expect("the memory store answers")
    }

    /// THEN-helper: the request left no trace anywhere.
    pub fn assert_nothing_written(&self) {
        assert_eq!(self.store.stream_count(), 0, "no stream may be written");
        assert_eq!(
            self.store.idempotency_count(),
            0,
            "no idempotency key may be claimed"
        );
        assert!(self.queue.is_empty(), "no message may be sent");
    }

    /// GIVEN-helper: merchant A has created a deposit with `key`; returns the 202 reply.
    pub async fn deposit_created(&self, key: &str) -> Reply {
        let reply = self
            .send(post_deposit(KEY_A, key, &valid_body().to_string()))
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
        reply
    }
}

// ---------------------------------------------------------------- requests

pub fn valid_body() -> Value {
    json!({ "amount": 10099, "currency": "AED", "country": "AE", "customer_id": "cus_42",
            "payment_method": { "type": "card", "token": TOKEN },
            "metadata": { "order": "A-1" } })
}

/// The valid body with one field replaced (or removed, with `None`).
pub fn body_with(field: &str, value: Option<Value>) -> String {
    let mut body = valid_body();
    let object: &mut Map<String, Value> = body.as_object_mut().expect("an object");
    match value {
        Some(value) => object.insert(field.to_owned(), value),
        None => object.remove(field),
    };
    body.to_string()
}

pub fn request(method: Method, path: &str, headers: &[(&str, &str)], body: Body) -> Request {
    let mut builder = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).expect("a well-formed test request")
}

pub fn bearer(api_key: &str) -> String {
    format!("Bearer {api_key}")
}

/// `POST /v1/deposits` as merchant `api_key` with `Idempotency-Key: key`.
pub fn post_deposit(api_key: &str, key: &str, body: &str) -> Request {
    let auth = bearer(api_key);
    request(
        Method::POST,
        "/v1/deposits",
        &[
            ("authorization", &auth),
            ("idempotency-key", key),
            ("content-type", "application/json"),
        ],
        Body::Text(body.to_owned()),
    )
}

pub fn get(api_key: &str, path: &str) -> Request {
    let auth = bearer(api_key);
    request(Method::GET, path, &[("authorization", &auth)], Body::Empty)
}

// ---------------------------------------------------------------- responses

/// A response, with its body read as text.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl From<http::Response<Body>> for Reply {
    fn from(response: http::Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let text = match body {
            Body::Empty => String::new(),
            Body::Text(text) => text,
            Body::Binary(bytes) => String::from_utf8(bytes).expect("a UTF-8 body"),
            _ => panic!("unexpected body kind"),
        };
        Self {
            status: parts.status,
            headers: parts.headers,
            text,
        }
    }
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header"))
    }

    /// The `id` of the deposit in the body.
    pub fn deposit_id(&self) -> DepositId {
        let json = self.json();
        let id = json["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.text));
        DepositId::parse(id).unwrap_or_else(|| panic!("id {id} is not a UUID"))
    }

    pub fn assert_json(&self, status: StatusCode) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.header("content-type"), Some("application/json"));
    }

    /// THEN-helper: the documented error shape `{error:{type,code,message,param?}}`.
    pub fn assert_error(&self, status: StatusCode, kind: &str, code: &str, param: Option<&str>) {
        self.assert_json(status);
        let json = self.json();
        let envelope = json.as_object().expect("an object");
        assert_eq!(envelope.len(), 1, "only `error` at the top: {}", self.text);
        let error = json["error"]
            .as_object()
            .unwrap_or_else(|| panic!("no error object: {}", self.text));
        for field in error.keys() {
            assert!(
                ["type", "code", "message", "param"].contains(&field.as_str()),
                "unexpected field {field} in {}",
                self.text
            );
        }
        assert_eq!(error["type"], kind, "{}", self.text);
        assert_eq!(error["code"], code, "{}", self.text);
        let message = error["message"].as_str().expect("a message string");
        assert!(!message.trim().is_empty(), "the message says something");
        assert_eq!(
            error.get("param").and_then(Value::as_str),
            param,
            "{}",
            self.text
        );
        if let Some(value) = error.get("param") {
            assert!(
                value.is_string(),
                "param is a string when present: {}",
                self.text
            );
        }
    }

    pub fn assert_not_replayed(&self) {
        assert_eq!(self.header("idempotent-replayed"), None);
    }

    pub fn assert_replayed(&self) {
        assert_eq!(self.header("idempotent-replayed"), Some("true"));
    }
}

// ---------------------------------------------------------------- doubles

/// Holds the FIRST send until the test releases it; later sends pass straight through.
pub struct GatedQueue {
    sink: Arc<MemoryQueue>,
    first: AtomicBool,
    entered: Notify,
    release: Notify,
}

impl GatedQueue {
    pub fn new(sink: Arc<MemoryQueue>) -> Self {
        Self {
            sink,
            first: AtomicBool::new(true),
            entered: Notify::new(),
            release: Notify::new(),
        }
    }

    /// Waits until the first send is being held.
    pub async fn wait_until_entered(&self) {
        tokio::time::timeout(PATIENCE, self.entered.notified())
            .await
            .expect("the first request reaches the queue send");
    }

    pub fn release(&self) {
        self.release.notify_one();
    }
}

#[async_trait]
impl QueueSender for GatedQueue {
    async fn send(&self, message: &DepositMessage, delay: Duration) -> Result<(), QueueError> {
        if self.first.swap(false, Ordering::SeqCst) {
            self.entered.notify_one();
            self.release.notified().await;
        }
        self.sink.send(message, delay).await
    }
}

/// An internal detail that must never reach a client.
pub const QUEUE_FAILURE_DETAIL: &str =
    "SendMessage failed: AccessDenied on arn:aws:sqs:eu-west-1:123456789012:paygate-deposits";

/// Fails the first `failures` sends, then delivers.
pub struct FlakyQueue {
    sink: Arc<MemoryQueue>,
    failures_left: AtomicUsize,
    pub attempts: AtomicUsize,
}

impl FlakyQueue {
    pub fn failing(failures: usize, sink: Arc<MemoryQueue>) -> Self {
        Self {
            sink,
            failures_left: AtomicUsize::new(failures),
            attempts: AtomicUsize::new(0),
        }
    }

    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl QueueSender for FlakyQueue {
    async fn send(&self, message: &DepositMessage, delay: Duration) -> Result<(), QueueError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let fail = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if fail {
            return Err(QueueError(QUEUE_FAILURE_DETAIL.to_owned()));
        }
        self.sink.send(message, delay).await
    }
}

/// The memory store, except that the first attempt to RELEASE a lease (move it to an
/// earlier expiry under the same owner) fails, as a throttled DynamoDB write would.
pub struct UnreleasableLeases {
    inner: Arc<MemoryEventStore>,
    failed_once: AtomicBool,
}

impl UnreleasableLeases {
    pub fn wrap(inner: Arc<MemoryEventStore>) -> Arc<dyn EventStore> {
        Arc::new(Self {
            inner,
            failed_once: AtomicBool::new(false),
        })
    }
}

#[async_trait]
impl EventStore for UnreleasableLeases {
    async fn load(&self, deposit: DepositId) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.load(deposit).await
    }

    async fn append(&self, batch: AppendBatch) -> Result<(), AppendError> {
        self.inner.append(batch).await
    }

    async fn view(&self, deposit: DepositId) -> Result<Option<DepositView>, StoreError> {
        self.inner.view(deposit).await
    }

    async fn find_by_external_id(
        &self,
        gateway: &str,
        external_id: &str,
    ) -> Result<Option<paygate_domain::ports::ExternalLookup>, StoreError> {
        self.inner.find_by_external_id(gateway, external_id).await
    }

    async fn idempotency_record(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.inner.idempotency_record(merchant, key).await
    }

    async fn transition_idempotency(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        expected: &IdempotencyState,
        next: &IdempotencyState,
    ) -> Result<bool, StoreError> {
        let is_release = matches!(
            (expected, next),
            (IdempotencyState::InFlight { owner: a, .. }, IdempotencyState::InFlight { owner: b, .. }) if a == b
        );
        if is_release && !self.failed_once.swap(true, Ordering::SeqCst) {
            return Err(StoreError(
                "ProvisionedThroughputExceededException".to_owned(),
            ));
        }
        self.inner
            .transition_idempotency(merchant, key, expected, next)
            .await
    }
}
