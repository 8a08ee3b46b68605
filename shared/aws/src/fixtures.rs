//! Domain values for the unit tests.

use paygate_domain::DepositView;
use paygate_domain::deposit::{Deposit, DepositEvent, RecordedEvent};
use paygate_domain::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyRecord, IdempotencyState,
};
use paygate_domain::ids::{CorrelationId, DepositId, EventId, MerchantId};
use paygate_kit::streams::new_deposit;
use time::macros::datetime;
use uuid::Uuid;

pub(crate) fn deposit_id() -> DepositId {
    DepositId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001))
}

/// The first `len` (1 or 2) events of a deposit's stream.
pub(crate) fn stream(len: usize) -> Vec<RecordedEvent> {
    let id = deposit_id();
    let requested = RecordedEvent {
        deposit_id: id,
        version: 1,
        event_id: EventId(Uuid::from_u128(1)),
        schema_version: 1,
        occurred_at: datetime!(2026-11-23 10:00 UTC),
        correlation_id: CorrelationId("corr-1".into()),
        causation_id: None,
        event: DepositEvent::DepositRequested {
            deposit_id: id,
            merchant_id: MerchantId("m-1".into()),
            request: new_deposit(10099),
        },
    };
    let started = RecordedEvent {
        version: 2,
        event_id: EventId(Uuid::from_u128(2)),
        occurred_at: datetime!(2026-11-23 10:00:01.5 UTC),
        causation_id: Some("msg-1".into()),
        event: DepositEvent::AttemptStarted {
            attempt: 1,
            gateway: "psp-a".into(),
            idempotency_key: format!("{}:1", id.0),
            owner: None,
        },
        ..requested.clone()
    };
    [requested, started].into_iter().take(len).collect()
}

pub(crate) fn view(len: usize) -> DepositView {
    Deposit::replay(&stream(len)).unwrap().view()
}

pub(crate) fn idempotency_record() -> IdempotencyRecord {
    IdempotencyRecord {
        merchant_id: MerchantId("m-1".into()),
        key: IdempotencyKey::parse(Some("order-A-1")).unwrap(),
        fingerprint: Fingerprint::of("create_deposit", b"{}"),
        deposit_id: deposit_id(),
        state: IdempotencyState::InFlight {
            owner: Uuid::from_u128(9),
            lease_until: datetime!(2026-11-23 10:00:30 UTC),
        },
        response: view(1),
        refund: None,
        created_at: datetime!(2026-11-23 10:00 UTC),
        expires_at: datetime!(2026-11-25 10:00 UTC),
    }
}
