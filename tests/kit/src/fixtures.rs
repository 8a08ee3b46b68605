//! The data the suites share: their start time, merchants, deposit bodies, deposits taken
//! by the real intake use case, and readings of a stored stream.

use paygate_domain::crypto::FieldCipher;
use paygate_domain::idempotency::{Fingerprint, IdempotencyKey, IdempotencyPolicy};
use paygate_domain::ports::{
    Clock, DepositMessage, EventStore, IdGenerator, QueueSender, RandomIds,
};
use paygate_domain::service::intake::{
    CREATE_DEPOSIT, Created, IntakePorts, IntakeRequest, KeyContext, request_deposit,
};
use paygate_domain::service::{Cause, CommandPorts, Decision, RetryPolicy, Start, execute};
use paygate_domain::validation::parse_deposit_request;
use paygate_domain::{
    CorrelationId, Country, Currency, Deposit, DepositEvent, DepositId, DepositView, MerchantId,
    RecordedEvent,
};
use serde_json::{Map, Value, json};
use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use time::OffsetDateTime;
use uuid::Uuid;

/// When every suite's clock starts: 2026-11-23T10:00:00Z.
pub const START: &str = "2026-11-23T10:00:00Z";

/// The card token of [`valid_body`].
pub const TOKEN: &str = "tok_visa";

/// A deposit's stream, as event kinds, once its first attempt succeeded.
pub const SUCCEEDED_KINDS: [&str; 4] = [
    "DepositRequested",
    "AttemptStarted",
    "DepositSubmitted",
    "DepositSucceeded",
];

pub fn start_time() -> OffsetDateTime {
    time::macros::datetime!(2026-11-23 10:00:00 UTC)
}

pub fn merchant(id: &str) -> MerchantId {
    MerchantId(id.to_owned())
}

pub fn country(code: &str) -> Country {
    Country::parse(code).expect("an ISO 3166 country")
}

pub fn currency(code: &str) -> Currency {
    Currency::parse(code).expect("an ISO 4217 currency")
}

/// A valid `POST /v1/deposits` body: 100.99 AED in AE, paid with [`TOKEN`].
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

/// The ports a deposit is taken with.
pub struct Intake<'a> {
    pub store: &'a dyn EventStore,
    pub queue: &'a dyn QueueSender,
    pub clock: &'a dyn Clock,
    pub cipher: &'a FieldCipher,
}

impl Intake<'_> {
    /// A deposit of 100.99 in `country`/`currency` for `merchant_id`, paid with `token`,
    /// taken by the real intake use case under a fresh idempotency key (its token
    /// encrypted at rest); returns the message it sent.
    pub async fn deposit(
        &self,
        merchant_id: &str,
        country: &str,
        currency: &str,
        token: &str,
    ) -> DepositMessage {
        let body = json!({
            "amount": 10099, "currency": currency, "country": country, "customer_id": "cus_42",
            "payment_method": { "type": "card", "token": token },
        });
        let request = parse_deposit_request(&body).expect("a valid deposit request");
        let key = IdempotencyKey::parse(Some(&format!("order-{}", Uuid::new_v4())))
            .expect("a valid idempotency key");
        let fingerprint = Fingerprint::of(CREATE_DEPOSIT, body.to_string().as_bytes());
        let correlation = CorrelationId(format!("corr-{}", Uuid::new_v4().simple()));
        let merchant_id = merchant(merchant_id);
        let ports = IntakePorts {
            store: self.store,
            queue: self.queue,
            clock: self.clock,
            ids: &RandomIds,
            cipher: self.cipher,
            policy: IdempotencyPolicy::default(),
        };
        let created = request_deposit(
            &ports,
            IntakeRequest {
                keyed: KeyContext {
                    merchant: &merchant_id,
                    key: &key,
                    fingerprint: &fingerprint,
                    correlation: &correlation,
                },
                request,
            },
        )
        .await
        .expect("the intake accepts the deposit");
        let Created::New(view) = created else {
            panic!("a fresh key creates a new deposit");
        };
        DepositMessage {
            deposit_id: view.id,
            merchant_id,
            correlation_id: correlation,
        }
    }
}

/// The stream as event kinds.
pub fn kinds(events: &[RecordedEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.event.kind()).collect()
}

/// How many events of `kind` the stream holds.
pub fn count(events: &[RecordedEvent], kind: &str) -> usize {
    events.iter().filter(|e| e.event.kind() == kind).count()
}

/// The external id of the stream's `DepositSubmitted`, if any.
pub fn submitted_external_id(events: &[RecordedEvent]) -> Option<String> {
    events.iter().find_map(|e| match &e.event {
        DepositEvent::DepositSubmitted { external_id, .. } => Some(external_id.clone()),
        _ => None,
    })
}

/// No event id twice, and versions 1..=n without a gap.
pub fn assert_consistent(events: &[RecordedEvent]) {
    let ids: HashSet<_> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), events.len(), "an event id twice: {events:?}");
    let versions: Vec<u64> = events.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=events.len() as u64).collect::<Vec<_>>());
}

/// The idempotency key of attempt `n` of a deposit (DESIGN §6).
pub fn attempt_key(id: DepositId, n: u32) -> String {
    format!("{id}:{n}")
}

/// Gives out `first` in order, then random ids.
pub struct FixedIds {
    first: Mutex<VecDeque<Uuid>>,
}

impl FixedIds {
    pub fn starting_with(ids: impl IntoIterator<Item = Uuid>) -> Self {
        Self {
            first: Mutex::new(ids.into_iter().collect()),
        }
    }
}

impl IdGenerator for FixedIds {
    fn new_uuid(&self) -> Uuid {
        let next = self
            .first
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        next.unwrap_or_else(|| RandomIds.new_uuid())
    }
}

/// The stored stream of `id`.
pub async fn events_of(store: &dyn EventStore, id: DepositId) -> Vec<RecordedEvent> {
    store.load(id).await.expect("the store answers")
}

/// The stored read model of `id`, which must exist.
pub async fn view_of(store: &dyn EventStore, id: DepositId) -> DepositView {
    store
        .view(id)
        .await
        .expect("the store answers")
        .expect("the deposit has a read model")
}

/// Appends `events` to the stream of `id` the way the processor does (`execute`, with
/// `correlation` and `causation`); returns the deposit they leave.
pub async fn record(
    store: &dyn EventStore,
    clock: &dyn Clock,
    id: DepositId,
    correlation: &str,
    causation: Option<&str>,
    events: Vec<DepositEvent>,
) -> Deposit {
    let ports = CommandPorts {
        store,
        clock,
        ids: &RandomIds,
    };
    let correlation = CorrelationId(correlation.to_owned());
    let cause = Cause {
        correlation: &correlation,
        causation,
    };
    execute(
        &ports,
        Start::Load(id),
        cause,
        RetryPolicy::default(),
        |_| Ok(Decision::record(events.clone(), ())),
    )
    .await
    .map(|executed| executed.deposit)
    .expect("the events follow the status graph")
}

/// Attempt 1 of `id` at `gateway`, accepted as `external_id`: what the processor records
/// for a payment the gateway took.
pub fn submission(id: DepositId, gateway: &str, external_id: &str) -> Vec<DepositEvent> {
    vec![
        DepositEvent::AttemptStarted {
            attempt: 1,
            gateway: gateway.to_owned(),
            idempotency_key: attempt_key(id, 1),
            owner: None,
        },
        DepositEvent::DepositSubmitted {
            attempt: 1,
            gateway: gateway.to_owned(),
            external_id: external_id.to_owned(),
        },
    ]
}
