//! The world the intake's tests run in: `deposit_intake` on in-memory ports behind one
//! fault switchboard, two merchants and a clock the test moves by hand, with the
//! requests, replies, fixtures and faults its suites use, and deposits brought to any
//! stage the way the processor and the gateway's webhooks bring them there.

pub use crate::faults::{Answer, Port, Rule, Switchboard, Target};
pub use crate::fixtures::{
    START, SUCCEEDED_KINDS, TOKEN, body_with, merchant, start_time, valid_body,
};
pub use crate::http::{Body, Method, Reply, bearer, get, post_deposit, post_refund, request};

pub use crate::gateway_reports::{gateway_refund_id, payment_id};

use crate::gateway_reports::apply;
use deposit_intake::{Intake, IntakeConfig, handle};
use http::StatusCode;
use lambda_http::Request;
use paygate_domain::crypto::FieldCipher;
use paygate_domain::deposit::FailureReason;
use paygate_domain::idempotency::{Fingerprint, IdempotencyKey, IdempotencyRecord};
use paygate_domain::ports::gateway::NotifiedOutcome;
use paygate_domain::ports::{ApiKey, Clock, EventStore, QueueSender, RandomIds};
use paygate_domain::service::intake::{
    CREATE_DEPOSIT, Created, IntakePorts, IntakeRequest, KeyContext, request_deposit,
};
use paygate_domain::service::outcome::Applied;
use paygate_domain::validation::parse_deposit_request;
use paygate_domain::{
    CorrelationId, DepositEvent, DepositId, DepositView, RecordedEvent, RefundId,
};
use paygate_memory::{
    ManualClock, MemoryEventStore, MemoryGatewayRegistry, MemoryMerchantDirectory, MemoryQueue,
    QueuedMessage,
};
use serde_json::{Value, json};
use std::fmt::Display;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Barrier;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub const KEY_A: &str = "sk_test_merchant_a_4f9c2e";
pub const KEY_B: &str = "sk_test_merchant_b_81d07a";
pub const MERCHANT_A: &str = "merchant_a";
pub const MERCHANT_B: &str = "merchant_b";

/// `POST /v1/deposits` as merchant A, with `headers` (after `Authorization`) and `body` as
/// given: nothing else, not even a content type.
pub fn deposit_request(headers: &[(&str, &str)], body: Body) -> Request {
    let auth = bearer(KEY_A);
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    request(Method::POST, "/v1/deposits", &all, body)
}

/// The destination token of [`payout_body`]: the simulated gateways pay it out.
pub const BANK_ACCOUNT: &str = "ba_success";

/// A valid `POST /v1/payouts` body: `amount` AED in AE to the bank account
/// [`BANK_ACCOUNT`].
pub fn payout_body(amount: u64) -> Value {
    json!({ "amount": amount, "currency": "AED", "country": "AE",
            "destination": { "type": "bank_account", "token": BANK_ACCOUNT },
            "metadata": { "reference": "PO-1" } })
}

/// `POST /v1/payouts` as merchant `api_key` with `Idempotency-Key: key`.
pub fn post_payout(api_key: &str, key: &str, body: &str) -> Request {
    crate::http::post(api_key, "/v1/payouts", Some(key), body)
}

/// An internal detail that must never reach a client.
pub const QUEUE_FAILURE_DETAIL: &str =
    "SendMessage failed: AccessDenied on arn:aws:sqs:eu-west-1:123456789012:paygate-deposits";

/// The gateway the deposits of [`World::deposit_at`] are paid through.
pub const PAYING_GATEWAY: &str = "alpha";

/// How far a deposit got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Pending,
    Processing,
    Submitted,
    Succeeded,
    Failed,
}

/// The processor's events that bring a fresh deposit to `stage` at [`PAYING_GATEWAY`].
pub fn events_to(id: DepositId, stage: Stage) -> Vec<DepositEvent> {
    let started = DepositEvent::AttemptStarted {
        attempt: 1,
        gateway: PAYING_GATEWAY.into(),
        idempotency_key: format!("{id}:1"),
        owner: None,
    };
    let submitted = DepositEvent::DepositSubmitted {
        attempt: 1,
        gateway: PAYING_GATEWAY.into(),
        external_id: payment_id(id),
    };
    let declined = FailureReason::new("card_declined", "the gateway refused the payment");
    match stage {
        Stage::Pending => vec![],
        Stage::Processing => vec![started],
        Stage::Submitted => vec![started, submitted],
        Stage::Succeeded => vec![
            started,
            submitted,
            DepositEvent::DepositSucceeded {
                external_id: payment_id(id),
            },
        ],
        Stage::Failed => vec![
            started,
            DepositEvent::AttemptFailed {
                attempt: 1,
                reason: declined.clone(),
                retryable: false,
            },
            DepositEvent::DepositFailed { reason: declined },
        ],
    }
}

/// The intake wired to in-memory ports, with merchants A and B registered.
pub struct World {
    pub intake: Intake,
    pub store: Arc<MemoryEventStore>,
    pub queue: Arc<MemoryQueue>,
    pub registry: Arc<MemoryGatewayRegistry>,
    pub clock: Arc<ManualClock>,
    pub merchants: Arc<MemoryMerchantDirectory>,
    /// Every port above asks it before each call.
    pub faults: Arc<Switchboard>,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> Self {
        Self::with_registry(MemoryGatewayRegistry::new())
    }

    /// A world whose registry is `registry` (behind the world's switchboard).
    pub fn with_registry(registry: MemoryGatewayRegistry) -> Self {
        let faults = Switchboard::new();
        let store = Arc::new(MemoryEventStore::with_faults(faults.clone()));
        let queue = Arc::new(MemoryQueue::default().with_faults(faults.clone()));
        let registry = Arc::new(registry.with_faults(faults.clone()));
        let clock = Arc::new(ManualClock::new(start_time()));
        let merchants = Arc::new(MemoryMerchantDirectory::new());
        merchants.register(ApiKey::new(KEY_A).hash(), merchant(MERCHANT_A));
        merchants.register(ApiKey::new(KEY_B).hash(), merchant(MERCHANT_B));
        let intake = Intake {
            store: store.clone(),
            queue: queue.clone(),
            merchants: merchants.clone(),
            ledger: store.clone(),
            deposits: store.clone(),
            registry: registry.clone(),
            clock: clock.clone(),
            ids: Arc::new(RandomIds),
            cipher: Arc::new(FieldCipher::ephemeral()),
            config: IntakeConfig::default(),
        };
        Self {
            intake,
            store,
            queue,
            registry,
            clock,
            merchants,
            faults,
        }
    }

    /// GIVEN-helper: the next queue send waits inside the queue until released.
    pub fn hold_next_send(&self) -> Rule {
        self.faults
            .when(Target::op(Port::Queue, "send"))
            .once()
            .hold()
    }

    /// GIVEN-helper: the next `failures` queue sends fail (with an internal detail);
    /// the rule counts every send attempted.
    pub fn fail_next_sends(&self, failures: usize) -> Rule {
        self.faults
            .when(Target::op(Port::Queue, "send"))
            .times(failures)
            .fail(QUEUE_FAILURE_DETAIL)
    }

    /// GIVEN-helper: one more merchant, known by `api_key`.
    pub fn register(&self, api_key: &str, merchant_id: &str) {
        self.merchants
            .register(ApiKey::new(api_key).hash(), merchant(merchant_id));
    }

    /// Appends `events` to the deposit's stream, as the processor would.
    pub async fn record(&self, id: DepositId, events: Vec<DepositEvent>) {
        if events.is_empty() {
            return;
        }
        let (store, clock) = (self.store.as_ref(), self.clock.as_ref());
        crate::fixtures::record(store, clock, id, "test-processor", None, events).await;
    }

    /// GIVEN-helper: a deposit of merchant A for `amount` (AED) that reached `stage`,
    /// created now. It is created by the intake use case (before any queue rule a test
    /// adds, which so sees only later requests), and the queue is drained.
    pub async fn deposit_at(&self, amount: u64, stage: Stage) -> DepositId {
        self.deposit_of(MERCHANT_A, amount, stage).await
    }

    /// GIVEN-helper: [`Self::deposit_at`] for merchant `merchant_id`.
    pub async fn deposit_of(&self, merchant_id: &str, amount: u64, stage: Stage) -> DepositId {
        let body = json!({ "amount": amount, "currency": "AED", "country": "AE",
                           "customer_id": "cus_42", "payment_method": { "type": "card", "token": TOKEN } });
        let key = IdempotencyKey::parse(Some(&format!("order-{}", Uuid::new_v4()))).unwrap();
        let ports = IntakePorts {
            store: self.store.as_ref(),
            queue: self.queue.as_ref() as &dyn QueueSender,
            clock: self.clock.as_ref(),
            ids: &RandomIds,
            cipher: &self.intake.cipher,
            policy: self.intake.config.idempotency,
        };
        let created = request_deposit(
            &ports,
            IntakeRequest {
                keyed: KeyContext {
                    merchant: &merchant(merchant_id),
                    key: &key,
                    fingerprint: &Fingerprint::of(CREATE_DEPOSIT, body.to_string().as_bytes()),
                    correlation: &CorrelationId("test-intake".into()),
                },
                request: parse_deposit_request(&body).expect("a valid deposit"),
            },
        )
        .await
        .expect("the deposit is accepted");
        let Created::New(view) = created else {
            panic!("a fresh key creates a deposit");
        };
        self.record(view.id, events_to(view.id, stage)).await;
        self.drain_queue();
        view.id
    }

    /// GIVEN-helper: the gateway took the refund (the processor recorded
    /// `RefundSubmitted`), then its webhook reported the outcome; both as the real use
    /// cases record them.
    pub async fn gateway_reports(&self, id: DepositId, refund: RefundId, succeeded: bool) {
        self.record(
            id,
            vec![DepositEvent::RefundSubmitted {
                refund_id: refund,
                refund_external_id: gateway_refund_id(refund),
            }],
        )
        .await;
        let outcome = if succeeded {
            NotifiedOutcome::RefundSucceeded {
                refund_external_id: gateway_refund_id(refund),
            }
        } else {
            NotifiedOutcome::RefundFailed {
                refund_external_id: gateway_refund_id(refund),
                code: "refund_declined".into(),
            }
        };
        let (store, clock) = (self.store.as_ref(), self.clock.as_ref());
        let external_id = payment_id(id);
        let applied = apply(
            store,
            clock,
            self.queue.as_ref(),
            PAYING_GATEWAY,
            &external_id,
            outcome,
            "test-webhook",
        )
        .await;
        assert!(
            matches!(applied, Applied::Recorded { .. }),
            "the webhook changed the deposit: {applied:?}"
        );
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

    /// THEN-helper: the store holds `streams` deposits and `keys` idempotency keys.
    pub fn assert_stored(&self, streams: usize, keys: usize) {
        assert_eq!(self.store.stream_count(), streams, "deposits stored");
        assert_eq!(
            self.store.idempotency_count(),
            keys,
            "idempotency keys stored"
        );
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

    /// WHEN-helper: the merchant of `api_key` posts the [`valid_body`] deposit with
    /// `Idempotency-Key: key`.
    pub async fn post_valid_deposit(&self, api_key: &str, key: &str) -> Reply {
        let body = valid_body().to_string();
        self.send(post_deposit(api_key, key, &body)).await
    }

    /// WHEN-helper: merchant A posts the valid body with `field` replaced (or removed, with
    /// `None`; see [`body_with`]) under `Idempotency-Key: key`.
    pub async fn post_body_with(&self, key: &str, field: &str, value: Option<Value>) -> Reply {
        let body = body_with(field, value);
        self.send(post_deposit(KEY_A, key, &body)).await
    }

    /// GIVEN-helper: merchant A's valid deposit under `key`, held in its queue send (see
    /// [`Self::hold_in_send`]).
    pub async fn held_in_send(&self, key: &str) -> (Rule, JoinHandle<Reply>) {
        let request = post_deposit(KEY_A, key, &valid_body().to_string());
        self.hold_in_send(request).await
    }

    /// GIVEN-helper: `request`, sent in the background and held inside its queue send
    /// until the returned rule releases it; the task answers the request's reply.
    pub async fn hold_in_send(&self, request: Request) -> (Rule, JoinHandle<Reply>) {
        let gate = self.hold_next_send();
        let intake = self.intake.clone();
        let first = tokio::spawn(async move { Reply::from(handle(&intake, request).await) });
        gate.entered().await;
        (gate, first)
    }

    /// WHEN-helper: `requests` arrive at once: each on its own task, all starting together.
    /// Returns their replies, in the order of `requests`.
    pub async fn send_at_once(&self, requests: Vec<Request>) -> Vec<Reply> {
        let start = Arc::new(Barrier::new(requests.len()));
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let (intake, start) = (self.intake.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    Reply::from(handle(&intake, request).await)
                })
            })
            .collect();
        let mut replies = Vec::new();
        for task in tasks {
            replies.push(task.await.expect("the request task finishes"));
        }
        replies
    }

    /// GIVEN-helper: merchant A posted the valid deposit under `key` while the queue failed
    /// its send; returns the rule counting the sends and the reply.
    pub async fn posted_while_the_send_failed(&self, key: &str) -> (Rule, Reply) {
        let sends = self.fail_next_sends(1);
        (sends, self.post_valid_deposit(KEY_A, key).await)
    }

    /// GIVEN-helper: merchant A has created a deposit with `key`; returns the 202 reply.
    pub async fn deposit_created(&self, key: &str) -> Reply {
        let reply = self.post_valid_deposit(KEY_A, key).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
        reply
    }

    /// WHEN-helper: the merchant of `api_key` reads `GET /v1/deposits/{deposit}`.
    pub async fn read_deposit(&self, api_key: &str, deposit: impl Display) -> Reply {
        self.send(get(api_key, &format!("/v1/deposits/{deposit}")))
            .await
    }

    /// WHEN-helper: the merchant of `api_key` reads `GET /v1/deposits/{deposit}/events`.
    pub async fn read_events(&self, api_key: &str, deposit: impl Display) -> Reply {
        self.send(get(api_key, &format!("/v1/deposits/{deposit}/events")))
            .await
    }

    /// THEN-helper: `GET /v1/balance` of `api_key` answers exactly `data`.
    pub async fn assert_balance(&self, api_key: &str, data: Value) {
        let reply = self.send(get(api_key, "/v1/balance")).await;
        reply.assert_json(StatusCode::OK);
        assert_eq!(reply.json(), json!({ "object": "balance", "data": data }));
    }

    /// THEN-helper: merchant A's balance is `available` and `reserved` AED, nothing else.
    pub async fn assert_aed_balance(&self, available: i64, reserved: i64) {
        let aed = json!([{ "currency": "AED", "available": available, "reserved": reserved }]);
        self.assert_balance(KEY_A, aed).await;
    }

    /// A balance transaction of an AED deposit (or payout) as the API shows it: `id`,
    /// `kind` and `source`, its `amount` and `available_after`, made now.
    pub fn transaction(
        &self,
        deposit: DepositId,
        (id, kind, source): (&str, &str, String),
        (amount, available_after): (i64, i64),
    ) -> Value {
        let now = self.clock.now().format(&Rfc3339).expect("an RFC 3339 time");
        json!({ "id": id, "object": "balance_transaction", "type": kind, "source": source,
                "deposit_id": deposit.to_string(), "amount": amount, "currency": "AED",
                "available_after": available_after, "created_at": now })
    }

    /// The balance transactions of `api_key`, newest first, all on one page.
    pub async fn transactions(&self, api_key: &str) -> Vec<Value> {
        let path = "/v1/balance/transactions?limit=100";
        let (items, has_more) = self.send(get(api_key, path)).await.assert_list();
        assert!(!has_more);
        items
    }
}
