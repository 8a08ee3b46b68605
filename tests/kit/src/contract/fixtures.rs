//! Small builders for valid domain values, so cases read as GIVEN / WHEN / THEN.

use crate::streams::new_deposit;
use paygate_domain::deposit::SCHEMA_VERSION;
use paygate_domain::gateways::GatewayConfig;
use paygate_domain::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyRecord, IdempotencyState,
};
use paygate_domain::ids::EventId;
use paygate_domain::ports::{AppendBatch, ExternalLookup};
use paygate_domain::{
    CorrelationId, Country, Currency, Deposit, DepositEvent, DepositId, MerchantId, RecordedEvent,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub fn merchant() -> MerchantId {
    MerchantId(format!("mer_{}", Uuid::new_v4().simple()))
}

pub fn now() -> OffsetDateTime {
    // Whole milliseconds: the stores keep RFC 3339 timestamps.
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap()
}

pub fn recorded(deposit_id: DepositId, version: u64, event: DepositEvent) -> RecordedEvent {
    RecordedEvent {
        deposit_id,
        version,
        event_id: EventId(Uuid::new_v4()),
        schema_version: SCHEMA_VERSION,
        occurred_at: now(),
        correlation_id: CorrelationId("contract-test".into()),
        causation_id: None,
        event,
    }
}

pub fn requested(deposit_id: DepositId, merchant: &MerchantId) -> RecordedEvent {
    recorded(
        deposit_id,
        1,
        DepositEvent::DepositRequested {
            deposit_id,
            merchant_id: merchant.clone(),
            request: new_deposit(10_099),
        },
    )
}

/// An attempt that started and failed: two events any processing deposit accepts.
pub fn failed_attempt(
    deposit_id: DepositId,
    first_version: u64,
    attempt: u32,
) -> Vec<RecordedEvent> {
    vec![
        recorded(
            deposit_id,
            first_version,
            DepositEvent::AttemptStarted {
                attempt,
                gateway: "psp_a".into(),
                idempotency_key: format!("{deposit_id}:{attempt}"),
                owner: None,
            },
        ),
        recorded(
            deposit_id,
            first_version + 1,
            DepositEvent::AttemptFailed {
                attempt,
                reason: paygate_domain::deposit::FailureReason::new(
                    "gateway_unavailable",
                    "timed out",
                ),
                retryable: true,
            },
        ),
    ]
}

/// A first attempt that the gateway took and that succeeded: three events a pending
/// deposit accepts, the last of which credits the merchant's balance.
pub fn succeeded_attempt(deposit_id: DepositId, first_version: u64) -> Vec<RecordedEvent> {
    let external_id = external_id();
    let events = [
        DepositEvent::AttemptStarted {
            attempt: 1,
            gateway: "psp_a".into(),
            idempotency_key: format!("{deposit_id}:1"),
            owner: None,
        },
        DepositEvent::DepositSubmitted {
            attempt: 1,
            gateway: "psp_a".into(),
            external_id: external_id.clone(),
        },
        DepositEvent::DepositSucceeded { external_id },
    ];
    (first_version..)
        .zip(events)
        .map(|(version, event)| recorded(deposit_id, version, event))
        .collect()
}

pub fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(Some(text)).unwrap()
}

pub fn in_flight() -> IdempotencyState {
    IdempotencyState::InFlight {
        owner: Uuid::new_v4(),
        lease_until: now() + Duration::seconds(30),
    }
}

/// The batch the intake writes for a new deposit: first event, view, idempotency claim.
pub fn new_deposit_batch(merchant: &MerchantId, key_text: Option<&str>) -> AppendBatch {
    let deposit_id = DepositId(Uuid::now_v7());
    let first = requested(deposit_id, merchant);
    let view = Deposit::start(&first).unwrap().view();
    let idempotency = key_text.map(|k| IdempotencyRecord {
        merchant_id: merchant.clone(),
        key: key(k),
        fingerprint: Fingerprint::of("create_deposit", b"{}"),
        deposit_id,
        state: in_flight(),
        response: view.clone(),
        refund: None,
        created_at: now(),
        expires_at: now() + Duration::hours(48),
    });
    AppendBatch {
        deposit_id,
        expected_version: 0,
        events: vec![first],
        view,
        idempotency,
        lookups: Vec::new(),
        ledger: Vec::new(),
        outbox: None,
    }
}

/// A new payout of `amount` by `merchant` (to `ba_success`), with the reservation it
/// posts.
pub fn new_payout_batch(merchant: &MerchantId, amount: u64) -> AppendBatch {
    let deposit_id = DepositId(Uuid::now_v7());
    let mut request = new_deposit(amount);
    request.direction = paygate_domain::deposit::Direction::Payout;
    request.customer_id = String::new();
    let first = recorded(
        deposit_id,
        1,
        DepositEvent::DepositRequested {
            deposit_id,
            merchant_id: merchant.clone(),
            request,
        },
    );
    let view = Deposit::start(&first).unwrap().view();
    let ledger = paygate_domain::ledger::movements(None, std::slice::from_ref(&first)).unwrap();
    AppendBatch {
        deposit_id,
        expected_version: 0,
        events: vec![first],
        view,
        idempotency: None,
        lookups: Vec::new(),
        ledger,
        outbox: None,
    }
}

/// The batch that appends `events` after `expected_version`, with the view they lead to.
pub fn follow_up_batch(stream: &[RecordedEvent], events: Vec<RecordedEvent>) -> AppendBatch {
    let mut deposit = Deposit::replay(stream).unwrap();
    let ledger = paygate_domain::ledger::movements(Some(&deposit), &events).unwrap();
    for event in &events {
        deposit.apply(event).unwrap();
    }
    AppendBatch {
        deposit_id: deposit.id,
        expected_version: stream.len() as u64,
        outbox: paygate_domain::service::publish::outbox(&deposit, &events),
        events,
        view: deposit.view(),
        idempotency: None,
        lookups: Vec::new(),
        ledger,
    }
}

/// An external id no other case uses (the stores' tables are shared by parallel tests).
pub fn external_id() -> String {
    format!("pay_{}", Uuid::new_v4().simple())
}

/// The lookup that maps `external_id` at `gateway` to the batch's deposit.
pub fn lookup(batch: &AppendBatch, gateway: &str, external_id: &str) -> ExternalLookup {
    ExternalLookup {
        gateway: gateway.into(),
        external_id: external_id.into(),
        deposit_id: batch.deposit_id,
        merchant_id: batch.view.merchant_id.clone(),
    }
}

/// A gateway name no other case uses (the registry's table is shared by parallel tests).
pub fn gateway_name() -> String {
    format!("gw_{}", Uuid::new_v4().simple())
}

/// An enabled JSON gateway serving AE/AED.
pub fn gateway_config(name: &str) -> GatewayConfig {
    GatewayConfig {
        name: name.into(),
        format: paygate_domain::gateways::WireFormat::Json,
        base_url: "http://127.0.0.1:9001".into(),
        countries: vec![Country::parse("AE").unwrap()],
        currencies: vec![Currency::parse("AED").unwrap()],
        priority: 1,
        enabled: true,
        capabilities: paygate_domain::gateways::default_capabilities(),
    }
}
