//! The world the webhook handler's tests run in: the REAL handler on an in-memory event
//! store behind one fault switchboard, three configured gateways (one JSON, one SOAP, one
//! JSON rotating its secret), a clock the test moves by hand, deposits brought to
//! `submitted` through the domain's own commands, and signed webhook bodies.

pub use super::Stored;
pub use crate::faults::{Answer, Port, Rule, Switchboard, Target};
pub use crate::fixtures::{SUCCEEDED_KINDS, start_time};
pub use crate::http::{Body, Method, Reply, request, webhook};

use crate::fixtures::record;
use lambda_http::Request;
use paygate_domain::deposit::{DepositStatus, NewDeposit, SCHEMA_VERSION};
use paygate_domain::ids::EventId;
use paygate_domain::ports::{AppendBatch, EventStore, IdGenerator, RandomIds};
use paygate_domain::{
    CorrelationId, Deposit, DepositEvent, DepositId, DepositView, MerchantId, RecordedEvent,
};
use paygate_gateways::WireFormat;
use paygate_memory::{ManualClock, MemoryEventStore, MemoryQueue};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::sync::Arc;
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

/// The handler wired to in-memory ports; `appends` counts every append tried and how
/// each ended.
pub struct World {
    pub webhooks: Webhooks,
    pub store: Arc<MemoryEventStore>,
    /// Where the handler announces refunds that await submission to their gateway.
    pub queue: Arc<MemoryQueue>,
    pub appends: Rule,
    pub clock: Arc<ManualClock>,
    /// The store asks it before each call.
    pub faults: Arc<Switchboard>,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> Self {
        let faults = Switchboard::new();
        let store = Arc::new(MemoryEventStore::with_faults(faults.clone()));
        let appends = faults.watch(Target::append());
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
        let queue = Arc::new(MemoryQueue::default());
        let webhooks = Webhooks {
            store: store.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            ids: Arc::new(RandomIds),
            gateways: Arc::new(gateways),
        };
        Self {
            webhooks,
            store,
            queue,
            appends,
            clock,
            faults,
        }
    }

    /// A world where every stream read answers only `delay` after it was taken, so
    /// concurrent deliveries all decide on the same (soon stale) version and race to
    /// append.
    pub fn racing(delay: std::time::Duration) -> Self {
        let world = Self::new();
        world
            .faults
            .when(Target::op(Port::Store, "load"))
            .delay_answer(delay);
        world
    }

    /// GIVEN-helper: from now on the store is down: every read and write fails with an
    /// internal detail ([`STORE_FAILURE_DETAIL`]).
    pub fn store_down(&self) -> Rule {
        self.faults
            .when(Target::port(Port::Store))
            .fail(STORE_FAILURE_DETAIL)
    }

    pub fn now(&self) -> i64 {
        use paygate_domain::ports::Clock;
        self.clock.now().unix_timestamp()
    }

    pub async fn send(&self, request: Request) -> Reply {
        Reply::from(handle(&self.webhooks, request).await)
    }

    /// THEN-helper: `request` is answered 401, as every webhook that fails to authenticate.
    pub async fn assert_unauthenticated(&self, request: Request) {
        self.send(request).await.assert_unauthenticated();
    }

    /// POSTs `body` to `/webhooks/{gateway}`, signed now with the gateway's secret.
    pub async fn deliver(&self, gateway: &str, body: &str) -> Reply {
        let header = signature(secret_of(gateway), self.now(), body);
        self.send(webhook(gateway, Some(&header), body)).await
    }

    /// `POST /webhooks/{gateway}` with exactly `headers` and a `Paygate-Signature` made now
    /// with the gateway's secret over `body` (text or bytes).
    pub fn signed_post(&self, gateway: &str, headers: &[(&str, &str)], body: Body) -> Request {
        let bytes: &[u8] = match &body {
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            _ => &[],
        };
        let header = paygate_signature::sign(secret_of(gateway).as_bytes(), self.now(), bytes);
        let mut headers = headers.to_vec();
        headers.push(("paygate-signature", &header));
        request(
            Method::POST,
            &format!("/webhooks/{gateway}"),
            &headers,
            body,
        )
    }

    /// WHEN-helper: `gateway` reports (as `event_id`) the `outcome` of its payment
    /// `payment_id`, signed now with its secret.
    pub async fn report(
        &self,
        outcome: Outcome,
        gateway: &str,
        event_id: &str,
        payment_id: &str,
    ) -> Reply {
        let body = outcome.body(gateway, event_id, payment_id);
        self.deliver(gateway, &body).await
    }

    /// GIVEN-helper: a submitted deposit (see [`Self::submitted_deposit`]) whose `outcome`
    /// `gateway` reported as `event_id`, and the handler recorded.
    pub async fn recorded(
        &self,
        outcome: Outcome,
        gateway: &str,
        payment_id: &str,
        event_id: &str,
    ) -> DepositId {
        let id = self.submitted_deposit(gateway, payment_id).await;
        let reply = self.report(outcome, gateway, event_id, payment_id).await;
        reply.assert_applied("recorded", outcome.status());
        id
    }

    /// GIVEN-helper: a deposit acme accepted as `pay_1`, what the store holds about it,
    /// and acme's report of its success (`evt_1`), signed now, that no one sent yet.
    pub async fn unsent_report(&self) -> UnsentReport {
        let (id, before) = self.watched_deposit(ACME, "pay_1").await;
        let body = succeeded(ACME, "evt_1", "pay_1");
        let header = signature(ACME_SECRET, self.now(), &body);
        UnsentReport {
            id,
            before,
            body,
            header,
        }
    }

    /// THEN-helper: [`Self::assert_unchanged`] for the deposit of `report`.
    pub async fn assert_untouched(&self, report: &UnsentReport) {
        self.assert_unchanged(&report.before, &[report.id]).await;
    }

    /// GIVEN-helper: a submitted deposit (see [`Self::submitted_deposit`]) and what the
    /// store holds about it, for [`Self::assert_unchanged`].
    pub async fn watched_deposit(&self, gateway: &str, payment_id: &str) -> (DepositId, Snapshot) {
        let id = self.submitted_deposit(gateway, payment_id).await;
        (id, self.snapshot(&[id]).await)
    }

    /// GIVEN-helper: a deposit of merchant A that `gateway` accepted as `external_id`,
    /// recorded exactly as the processor records it (so the external-id lookup exists).
    pub async fn submitted_deposit(&self, gateway: &str, external_id: &str) -> DepositId {
        let id = self.requested_deposit().await;
        let (store, clock) = (self.store.as_ref(), self.clock.as_ref());
        let mut submission = crate::fixtures::submission(id, gateway, external_id).into_iter();
        for expected in [DepositStatus::Processing, DepositStatus::Submitted] {
            let event = submission.next().expect("started, then submitted");
            let deposit = record(
                store,
                clock,
                id,
                "corr-processor",
                Some("msg-1"),
                vec![event],
            );
            assert_eq!(deposit.await.status, expected);
        }
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
                    metadata: BTreeMap::new(),
                    ..crate::streams::new_deposit(10_099)
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
                ledger: Vec::new(),
                outbox: None,
            })
            .await
            .expect("the deposit is recorded");
        id
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
            appends: self.appends.calls(),
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

/// See [`World::unsent_report`].
pub struct UnsentReport {
    pub id: DepositId,
    pub before: Snapshot,
    /// The notification, as acme sends it.
    pub body: String,
    /// Its `Paygate-Signature`.
    pub header: String,
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

/// A `Paygate-Signature` header for `body`, signed with `secret` at unix time `at`.
pub fn signature(secret: &str, at: i64, body: &str) -> String {
    paygate_signature::sign(secret.as_bytes(), at, body.as_bytes())
}

/// What a gateway reports of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
}

pub use Outcome::{Failed, Succeeded};

impl Outcome {
    /// The notification, in the gateway's own format ([`succeeded`] or [`failed`]).
    pub fn body(self, gateway: &str, event_id: &str, payment_id: &str) -> String {
        match self {
            Succeeded => succeeded(gateway, event_id, payment_id),
            Failed => failed(gateway, event_id, payment_id),
        }
    }

    /// The deposit's status once the outcome is recorded.
    pub fn status(self) -> &'static str {
        match self {
            Succeeded => "succeeded",
            Failed => "failed",
        }
    }
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

impl Reply {
    /// THEN-helper: no configured secret, nor a foreign one (nor their hex), appears
    /// anywhere in the response.
    pub fn assert_no_secret(&self) {
        let mut secrets = ALL_SECRETS.to_vec();
        secrets.push(FOREIGN_SECRET);
        self.assert_hides(&secrets);
    }
}

/// An internal detail that must never reach a gateway.
pub const STORE_FAILURE_DETAIL: &str = "GetItem failed: AccessDeniedException on arn:aws:dynamodb:eu-west-1:123456789012:table/paygate-lookups";

impl Stored for World {
    fn event_store(&self) -> &MemoryEventStore {
        &self.store
    }
}
