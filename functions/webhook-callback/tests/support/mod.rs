//! The world the webhook handler tests run in: the REAL handler on an in-memory event
//! store, three configured gateways (one JSON, one SOAP, one JSON rotating its secret), a
//! clock the test moves by hand, deposits brought to `submitted` through the domain's own
//! commands, signed request builders and response assertions.

#![allow(dead_code)] // not every helper is used by every test binary

use async_trait::async_trait;
use http::{HeaderMap, Method, StatusCode};
use lambda_http::{Body, Request};
use paygate_domain::deposit::{DepositStatus, NewDeposit, SCHEMA_VERSION};
use paygate_domain::idempotency::{IdempotencyKey, IdempotencyRecord, IdempotencyState};
use paygate_domain::ids::EventId;
use paygate_domain::ports::{
    AppendBatch, AppendError, EventStore, ExternalLookup, IdGenerator, RandomIds, StoreError,
};
use paygate_domain::service::{Cause, CommandPorts, Decision, RetryPolicy, Start, execute};
use paygate_domain::{
    Amount, CorrelationId, Country, Currency, Deposit, DepositEvent, DepositId, DepositView,
    MerchantId, RecordedEvent,
};
use paygate_gateways::WireFormat;
use paygate_memory::{ManualClock, MemoryEventStore};
use secrecy::SecretString;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::OffsetDateTime;
use webhook_callback::{WebhookGateway, WebhookGateways, Webhooks, handle};

/// A JSON (REST) gateway.
pub const ACME: &str = "acme";
pub const ACME_SECRET: &str = "whsec_acme_4f9c2e7d1b";
/// A SOAP/XML gateway.
pub const BRAVO: &str = "bravo";
pub const BRAVO_SECRET: &str = "whsec_bravo_81d07a3c55";
/// A JSON gateway in the middle of a secret rotation: both secrets are accepted.
pub const ROTATING: &str = "rotating";
pub const OLD_SECRET: &str = "whsec_rotating_old_0a1b2c";
pub const NEW_SECRET: &str = "whsec_rotating_new_9z8y7x";
/// A secret no gateway is configured with.
pub const FOREIGN_SECRET: &str = "whsec_nobody_s_secret_000";

/// Every configured secret: none may ever appear in a response.
pub const ALL_SECRETS: [&str; 4] = [ACME_SECRET, BRAVO_SECRET, OLD_SECRET, NEW_SECRET];

pub const MERCHANT: &str = "merchant_a";

pub fn start_time() -> OffsetDateTime {
    time::macros::datetime!(2026-11-23 10:00:00 UTC)
}

pub fn secret_of(gateway: &str) -> &'static str {
    match gateway {
        ACME => ACME_SECRET,
        BRAVO => BRAVO_SECRET,
        ROTATING => NEW_SECRET,
        other => panic!("no test secret for {other}"),
    }
}

pub fn format_of(gateway: &str) -> WireFormat {
    match gateway {
        BRAVO => WireFormat::Soap,
        _ => WireFormat::Json,
    }
}

/// The handler wired to in-memory ports; `appends` counts every append the handler tried.
pub struct World {
    pub webhooks: Webhooks,
    pub store: Arc<MemoryEventStore>,
    pub counted: Arc<CountingStore>,
    pub clock: Arc<ManualClock>,
}

impl World {
    pub fn new() -> Self {
        let store = Arc::new(MemoryEventStore::new());
        let counted = Arc::new(CountingStore::wrap(store.clone()));
        Self::with_store(store, counted.clone(), counted)
    }

    /// A world where every read the handler makes answers only after `delay`, so
    /// concurrent deliveries all decide on the same (soon stale) version and race to append.
    pub fn racing(delay: std::time::Duration) -> Self {
        let store = Arc::new(MemoryEventStore::new());
        let counted = Arc::new(CountingStore::wrap(store.clone()).with_read_delay(delay));
        Self::with_store(store, counted.clone(), counted)
    }

    /// A world whose handler sees `port` in front of the memory store (which the test's
    /// GIVEN steps and assertions use directly).
    pub fn with_store_port(
        make: impl FnOnce(Arc<MemoryEventStore>) -> Arc<dyn EventStore>,
    ) -> Self {
        let store = Arc::new(MemoryEventStore::new());
        let counted = Arc::new(CountingStore::wrap(store.clone()));
        let port = make(store.clone());
        Self::with_store(store, counted, port)
    }

    fn with_store(
        store: Arc<MemoryEventStore>,
        counted: Arc<CountingStore>,
        port: Arc<dyn EventStore>,
    ) -> Self {
        let clock = Arc::new(ManualClock::new(start_time()));
        let mut gateways = WebhookGateways::default();
        gateways.insert(
            ACME,
            WebhookGateway {
                format: WireFormat::Json,
                secrets: vec![SecretString::from(ACME_SECRET)],
            },
        );
        gateways.insert(
            BRAVO,
            WebhookGateway {
                format: WireFormat::Soap,
                secrets: vec![SecretString::from(BRAVO_SECRET)],
            },
        );
        gateways.insert(
            ROTATING,
            WebhookGateway {
                format: WireFormat::Json,
                secrets: vec![
                    SecretString::from(OLD_SECRET),
                    SecretString::from(NEW_SECRET),
                ],
            },
        );
        let webhooks = Webhooks {
            store: port,
            queue: Arc::new(paygate_memory::MemoryQueue::default()),
            clock: clock.clone(),
            ids: Arc::new(RandomIds),
            gateways: Arc::new(gateways),
        };
        Self {
            webhooks,
            store,
            counted,
            clock,
        }
    }

    pub fn now(&self) -> i64 {
        use paygate_domain::ports::Clock;
        self.clock.now().unix_timestamp()
    }

    pub async fn send(&self, request: Request) -> Reply {
        Reply::from(handle(&self.webhooks, request).await)
    }

    /// POSTs `body` to `/webhooks/{gateway}`, signed now with the gateway's secret.
    pub async fn deliver(&self, gateway: &str, body: &str) -> Reply {
        let header =
            paygate_signature::sign(secret_of(gateway).as_bytes(), self.now(), body.as_bytes());
        self.send(webhook(gateway, Some(&header), body)).await
    }

    /// GIVEN-helper: a deposit of merchant A that `gateway` accepted as `external_id`,
    /// recorded exactly as the processor records it (so the external-id lookup exists).
    pub async fn submitted_deposit(&self, gateway: &str, external_id: &str) -> DepositId {
        let id = self.requested_deposit().await;
        let ports = CommandPorts {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            ids: &RandomIds,
        };
        let correlation = CorrelationId("corr-processor".into());
        let key = format!("{id}:1");
        let started = execute(
            &ports,
            Start::Load(id),
            Cause {
                correlation: &correlation,
                causation: Some("msg-1"),
            },
            RetryPolicy::default(),
            |_| {
                Ok(Decision::record(
                    vec![DepositEvent::AttemptStarted {
                        attempt: 1,
                        gateway: gateway.to_owned(),
                        idempotency_key: key.clone(),
                        owner: None,
                    }],
                    (),
                ))
            },
        )
        .await
        .map(|executed| executed.deposit)
        .expect("the attempt is recorded");
        assert_eq!(started.status, DepositStatus::Processing);
        let submitted = execute(
            &ports,
            Start::Load(id),
            Cause {
                correlation: &correlation,
                causation: Some("msg-1"),
            },
            RetryPolicy::default(),
            |_| {
                Ok(Decision::record(
                    vec![DepositEvent::DepositSubmitted {
                        attempt: 1,
                        gateway: gateway.to_owned(),
                        external_id: external_id.to_owned(),
                    }],
                    (),
                ))
            },
        )
        .await
        .map(|executed| executed.deposit)
        .expect("the submission is recorded");
        assert_eq!(submitted.status, DepositStatus::Submitted);
        let lookup = self
            .store
            .find_by_external_id(gateway, external_id)
            .await
            .expect("the memory store answers");
        assert_eq!(
            lookup.map(|l| l.deposit_id),
            Some(id),
            "the submission wrote the lookup"
        );
        id
    }

    /// GIVEN-helper: a fresh `pending` deposit of merchant A (the intake's first append).
    pub async fn requested_deposit(&self) -> DepositId {
        use paygate_domain::ports::Clock;
        let id = DepositId(RandomIds.new_uuid());
        let first = RecordedEvent {
            deposit_id: id,
            version: 1,
            event_id: EventId(RandomIds.new_uuid()),
            schema_version: SCHEMA_VERSION,
            occurred_at: self.clock.now(),
            correlation_id: CorrelationId("corr-intake".into()),
            causation_id: None,
            event: DepositEvent::DepositRequested {
                deposit_id: id,
                merchant_id: MerchantId(MERCHANT.into()),
                request: NewDeposit {
                    amount: Amount::new(10_099).unwrap(),
                    currency: Currency::parse("AED").unwrap(),
                    country: Country::parse("AE").unwrap(),
                    customer_id: "cus_42".into(),
                    payment_method: None,
                    metadata: BTreeMap::new(),
                },
            },
        };
        let view = Deposit::start(&first).expect("a valid first event").view();
        self.store
            .append(AppendBatch {
                deposit_id: id,
                expected_version: 0,
                events: vec![first],
                view,
                idempotency: None,
                lookups: Vec::new(),
            })
            .await
            .expect("the deposit is recorded");
        id
    }

    pub async fn events(&self, id: DepositId) -> Vec<RecordedEvent> {
        self.store.load(id).await.expect("the memory store answers")
    }

    pub async fn kinds(&self, id: DepositId) -> Vec<&'static str> {
        self.events(id)
            .await
            .iter()
            .map(|e| e.event.kind())
            .collect()
    }

    pub async fn view(&self, id: DepositId) -> DepositView {
        self.store
            .view(id)
            .await
            .expect("the memory store answers")
            .expect("the deposit has a view")
    }

    pub async fn count(&self, id: DepositId, kind: &str) -> usize {
        self.kinds(id).await.iter().filter(|k| **k == kind).count()
    }

    /// Everything the store holds about `ids`, to prove later that nothing changed.
    pub async fn snapshot(&self, ids: &[DepositId]) -> Snapshot {
        let mut deposits = Vec::new();
        for id in ids {
            deposits.push((self.events(*id).await, self.store.view(*id).await.unwrap()));
        }
        Snapshot {
            deposits,
            streams: self.store.stream_count(),
            appends: self.counted.appends(),
        }
    }

    /// THEN-helper: nothing was appended, no stream changed, no view changed.
    pub async fn assert_unchanged(&self, before: &Snapshot, ids: &[DepositId]) {
        let after = self.snapshot(ids).await;
        assert_eq!(
            after.appends, before.appends,
            "the handler appended something"
        );
        assert_eq!(after.streams, before.streams, "a stream was created");
        assert_eq!(
            after.deposits, before.deposits,
            "a stream or a view changed"
        );
    }
}

#[derive(Debug)]
pub struct Snapshot {
    deposits: Vec<(Vec<RecordedEvent>, Option<DepositView>)>,
    streams: usize,
    appends: usize,
}

// ---------------------------------------------------------------- bodies

/// A `json` gateway's webhook body (WIRE.md).
pub fn json_event(
    event_id: &str,
    kind: &str,
    payment_id: &str,
    failure_code: Option<&str>,
) -> String {
    serde_json::json!({
        "id": event_id, "type": kind, "payment_id": payment_id, "refund_id": null,
        "reference": "dep", "amount": 10099, "currency": "AED", "failure_code": failure_code, "created": 1_795_000_000,
    })
    .to_string()
}

/// A `soap` gateway's webhook body (WIRE.md).
pub fn soap_event(event_id: &str, kind: &str, transaction_id: &str, reason: &str) -> String {
    let reason = if reason.is_empty() {
        "<p:ReasonCode/>".to_owned()
    } else {
        format!("<p:ReasonCode>{reason}</p:ReasonCode>")
    };
    format!(
        r#"<p:Notification xmlns:p="urn:paygate:sim:psp"><p:EventId>{event_id}</p:EventId><p:Type>{kind}</p:Type><p:TransactionId>{transaction_id}</p:TransactionId><p:RefundId/><p:Reference>dep</p:Reference><p:Amount>10099</p:Amount><p:Currency>AED</p:Currency>{reason}</p:Notification>"#
    )
}

/// "payment succeeded" in the gateway's own format.
pub fn succeeded(gateway: &str, event_id: &str, payment_id: &str) -> String {
    match format_of(gateway) {
        WireFormat::Json => json_event(event_id, "payment.succeeded", payment_id, None),
        WireFormat::Soap => soap_event(event_id, "PAYMENT_SUCCEEDED", payment_id, ""),
    }
}

/// "payment failed (insufficient_funds)" in the gateway's own format.
pub fn failed(gateway: &str, event_id: &str, payment_id: &str) -> String {
    match format_of(gateway) {
        WireFormat::Json => json_event(
            event_id,
            "payment.failed",
            payment_id,
            Some("insufficient_funds"),
        ),
        WireFormat::Soap => {
            soap_event(event_id, "PAYMENT_FAILED", payment_id, "insufficient_funds")
        }
    }
}

// ---------------------------------------------------------------- requests

pub fn request(method: Method, path: &str, headers: &[(&str, &str)], body: Body) -> Request {
    let mut builder = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).expect("a well-formed test request")
}

/// `POST /webhooks/{gateway}` with `Paygate-Signature: signature` when given.
pub fn webhook(gateway: &str, signature: Option<&str>, body: &str) -> Request {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(signature) = signature {
        headers.push(("paygate-signature", signature));
    }
    request(
        Method::POST,
        &format!("/webhooks/{gateway}"),
        &headers,
        Body::Text(body.to_owned()),
    )
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

    /// THEN-helper: 200 `{"received":true,"result":result,"status":status}`.
    pub fn assert_applied(&self, result: &str, status: &str) {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.text);
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(
            self.json(),
            serde_json::json!({ "received": true, "result": result, "status": status }),
        );
    }

    /// THEN-helper: the documented error shape `{error:{type,code,message}}`.
    pub fn assert_error(&self, status: StatusCode, kind: &str, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.header("content-type"), Some("application/json"));
        let json = self.json();
        assert_eq!(
            json.as_object().map(|o| o.len()),
            Some(1),
            "only `error` at the top: {}",
            self.text
        );
        let error = json["error"]
            .as_object()
            .unwrap_or_else(|| panic!("no error object: {}", self.text));
        for field in error.keys() {
            assert!(
                ["type", "code", "message"].contains(&field.as_str()),
                "unexpected field {field} in {}",
                self.text
            );
        }
        assert_eq!(error["type"], kind, "{}", self.text);
        assert_eq!(error["code"], code, "{}", self.text);
        let message = error["message"].as_str().expect("a message string");
        assert!(!message.trim().is_empty(), "the message says something");
    }

    /// THEN-helper: 401 `authentication_error` / `webhook_signature_invalid`.
    pub fn assert_unauthenticated(&self) {
        self.assert_error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "webhook_signature_invalid",
        );
    }

    /// THEN-helper: no configured secret (nor its hex) appears anywhere in the response.
    pub fn assert_no_secret(&self) {
        let mut everything = self.text.clone();
        for (name, value) in &self.headers {
            everything.push_str(name.as_str());
            everything.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        for secret in ALL_SECRETS.iter().chain([&FOREIGN_SECRET]) {
            assert!(
                !everything.contains(secret),
                "a secret leaked ({}): {everything}",
                self.status
            );
            assert!(
                !everything.contains(&hex(secret.as_bytes())),
                "a secret leaked hex-encoded ({}): {everything}",
                self.status
            );
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------- doubles

/// The memory store, counting the appends the handler attempts and those that lost a
/// race; optionally slow to answer reads.
pub struct CountingStore {
    inner: Arc<MemoryEventStore>,
    appends: AtomicUsize,
    conflicts: AtomicUsize,
    read_delay: std::time::Duration,
}

impl CountingStore {
    pub fn wrap(inner: Arc<MemoryEventStore>) -> Self {
        Self {
            inner,
            appends: AtomicUsize::new(0),
            conflicts: AtomicUsize::new(0),
            read_delay: std::time::Duration::ZERO,
        }
    }

    /// Stream reads are taken at once but answered after `delay`.
    pub fn with_read_delay(mut self, delay: std::time::Duration) -> Self {
        self.read_delay = delay;
        self
    }

    pub fn appends(&self) -> usize {
        self.appends.load(Ordering::SeqCst)
    }

    /// Appends refused because another writer appended first.
    pub fn conflicts(&self) -> usize {
        self.conflicts.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl EventStore for CountingStore {
    async fn load(&self, deposit: DepositId) -> Result<Vec<RecordedEvent>, StoreError> {
        let stream = self.inner.load(deposit).await;
        if !self.read_delay.is_zero() {
            tokio::time::sleep(self.read_delay).await;
        }
        stream
    }

    async fn append(&self, batch: AppendBatch) -> Result<(), AppendError> {
        self.appends.fetch_add(1, Ordering::SeqCst);
        let result = self.inner.append(batch).await;
        if matches!(result, Err(AppendError::VersionConflict)) {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
        }
        result
    }

    async fn view(&self, deposit: DepositId) -> Result<Option<DepositView>, StoreError> {
        self.inner.view(deposit).await
    }

    async fn find_by_external_id(
        &self,
        gateway: &str,
        external_id: &str,
    ) -> Result<Option<ExternalLookup>, StoreError> {
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
        self.inner
            .transition_idempotency(merchant, key, expected, next)
            .await
    }
}

/// An internal detail that must never reach a gateway.
pub const STORE_FAILURE_DETAIL: &str = "GetItem failed: AccessDeniedException on arn:aws:dynamodb:eu-west-1:123456789012:table/paygate-lookups";

/// A store that is down: every read and write fails.
pub struct DownStore;

#[async_trait]
impl EventStore for DownStore {
    async fn load(&self, _: DepositId) -> Result<Vec<RecordedEvent>, StoreError> {
        Err(StoreError(STORE_FAILURE_DETAIL.into()))
    }

    async fn append(&self, _: AppendBatch) -> Result<(), AppendError> {
        Err(StoreError(STORE_FAILURE_DETAIL.into()).into())
    }

    async fn view(&self, _: DepositId) -> Result<Option<DepositView>, StoreError> {
        Err(StoreError(STORE_FAILURE_DETAIL.into()))
    }

    async fn find_by_external_id(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<ExternalLookup>, StoreError> {
        Err(StoreError(STORE_FAILURE_DETAIL.into()))
    }

    async fn idempotency_record(
        &self,
        _: &MerchantId,
        _: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        Err(StoreError(STORE_FAILURE_DETAIL.into()))
    }

    async fn transition_idempotency(
        &self,
        _: &MerchantId,
        _: &IdempotencyKey,
        _: &IdempotencyState,
        _: &IdempotencyState,
    ) -> Result<bool, StoreError> {
        Err(StoreError(STORE_FAILURE_DETAIL.into()))
    }
}
