//! The domain's behaviour tests' fixtures: a deposit stream that is built one event at a
//! time, and short constructors for every event.

use paygate_domain::deposit::{
    Deposit, DepositEvent, FailureReason, NewDeposit, RecordedEvent, SCHEMA_VERSION,
    TransitionError,
};
use paygate_domain::ids::{CorrelationId, DepositId, EventId, MerchantId, RefundId};
use paygate_domain::money::{Amount, Country, Currency};
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime, macros::datetime};
use uuid::Uuid;

pub const DEPOSIT: DepositId = DepositId(Uuid::from_u128(0xD0));
pub const OTHER_DEPOSIT: DepositId = DepositId(Uuid::from_u128(0xD1));

pub fn merchant() -> MerchantId {
    MerchantId("m_acme".into())
}

pub fn correlation() -> CorrelationId {
    CorrelationId("corr-1".into())
}

/// When the event at `version` happened: one second after the one before.
pub fn at(version: u64) -> OffsetDateTime {
    datetime!(2026-11-23 10:00 UTC) + Duration::seconds(version as i64)
}

pub fn new_deposit(amount: u64) -> NewDeposit {
    NewDeposit {
        direction: Default::default(),
        amount: Amount::new(amount).expect("fixture amounts are valid"),
        currency: Currency::parse("AED").unwrap(),
        country: Country::parse("AE").unwrap(),
        customer_id: "cus_42".into(),
        payment_method: None,
        metadata: BTreeMap::from([("order".to_owned(), "A-1".to_owned())]),
    }
}

pub fn requested_event(id: DepositId, amount: u64) -> DepositEvent {
    DepositEvent::DepositRequested {
        deposit_id: id,
        merchant_id: merchant(),
        request: new_deposit(amount),
    }
}

/// `event` as the stream stores it at `version`.
pub fn recorded(id: DepositId, version: u64, event: DepositEvent) -> RecordedEvent {
    RecordedEvent {
        deposit_id: id,
        version,
        event_id: EventId(Uuid::from_u128(0xE000 + u128::from(version))),
        schema_version: SCHEMA_VERSION,
        occurred_at: at(version),
        correlation_id: correlation(),
        causation_id: None,
        event,
    }
}

pub fn refund_id(k: u8) -> RefundId {
    RefundId(Uuid::from_u128(0xF000 + u128::from(k)))
}

pub fn reason(code: &str) -> FailureReason {
    FailureReason::new(code, format!("{code} happened"))
}

pub fn attempt_started(attempt: u32) -> DepositEvent {
    attempt_started_at(attempt, "psp_a")
}

pub fn attempt_started_at(attempt: u32, gateway: &str) -> DepositEvent {
    DepositEvent::AttemptStarted {
        attempt,
        gateway: gateway.into(),
        idempotency_key: format!("{DEPOSIT}:{attempt}"),
        owner: None,
    }
}

pub fn attempt_failed(attempt: u32, retryable: bool) -> DepositEvent {
    DepositEvent::AttemptFailed {
        attempt,
        reason: reason(if retryable {
            "gateway_timeout"
        } else {
            "declined"
        }),
        retryable,
    }
}

pub fn submitted(attempt: u32, external_id: &str) -> DepositEvent {
    submitted_at(attempt, "psp_a", external_id)
}

pub fn submitted_at(attempt: u32, gateway: &str, external_id: &str) -> DepositEvent {
    DepositEvent::DepositSubmitted {
        attempt,
        gateway: gateway.into(),
        external_id: external_id.into(),
    }
}

pub fn succeeded(external_id: &str) -> DepositEvent {
    DepositEvent::DepositSucceeded {
        external_id: external_id.into(),
    }
}

pub fn deposit_failed(code: &str) -> DepositEvent {
    DepositEvent::DepositFailed {
        reason: reason(code),
    }
}

pub fn refund_requested(k: u8, amount: u64) -> DepositEvent {
    DepositEvent::RefundRequested {
        refund_id: refund_id(k),
        amount: Amount::new(amount).expect("fixture amounts are valid"),
        charge: None,
    }
}

pub fn refund_succeeded(k: u8) -> DepositEvent {
    DepositEvent::RefundSucceeded {
        refund_id: refund_id(k),
    }
}

pub fn refund_failed(k: u8) -> DepositEvent {
    DepositEvent::RefundFailed {
        refund_id: refund_id(k),
        reason: reason("refund_refused"),
    }
}

/// Refunds still waiting for their outcome. `RefundState` is not re-exported by the
/// crate, so its state is read through `Debug`.
pub fn pending_refunds(deposit: &Deposit) -> u64 {
    deposit
        .refunds
        .iter()
        .filter(|r| format!("{:?}", r.state) == "Pending")
        .map(|r| r.amount.minor())
        .sum()
}

/// A deposit's stream and the state built from it one event at a time.
#[derive(Debug, Clone)]
pub struct Stream {
    pub events: Vec<RecordedEvent>,
    pub deposit: Deposit,
}

impl Stream {
    /// A stream holding only `DepositRequested` for `amount`.
    pub fn requested(amount: u64) -> Self {
        let first = recorded(DEPOSIT, 1, requested_event(DEPOSIT, amount));
        let deposit = Deposit::start(&first).expect("a valid first event starts a deposit");
        Self {
            events: vec![first],
            deposit,
        }
    }

    /// A stream holding only the request of a payout of `amount` (to a bank account).
    pub fn payout_requested(amount: u64) -> Self {
        let mut request = new_deposit(amount);
        request.direction = paygate_domain::deposit::Direction::Payout;
        request.customer_id = String::new();
        let event = DepositEvent::DepositRequested {
            deposit_id: DEPOSIT,
            merchant_id: merchant(),
            request,
        };
        let first = recorded(DEPOSIT, 1, event);
        let deposit = Deposit::start(&first).expect("a valid first event starts a payout");
        Self {
            events: vec![first],
            deposit,
        }
    }

    /// A stream that went through a successful attempt 1 (external id `ext_1`).
    pub fn succeeded(amount: u64) -> Self {
        Self::requested(amount)
            .then(attempt_started(1))
            .then(submitted(1, "ext_1"))
            .then(succeeded("ext_1"))
    }

    /// GIVEN: `event` happened (it must be accepted).
    pub fn then(mut self, event: DepositEvent) -> Self {
        let kind = event.kind();
        if let Err(error) = self.record(event) {
            panic!("given {kind} should have been accepted: {error}");
        }
        self
    }

    /// The next event of this stream, as it would be stored.
    pub fn next(&self, event: DepositEvent) -> RecordedEvent {
        recorded(self.deposit.id, self.deposit.version + 1, event)
    }

    /// WHEN: `event` is recorded. A refused event must leave the state as it was.
    pub fn record(&mut self, event: DepositEvent) -> Result<(), TransitionError> {
        let next = self.next(event);
        self.apply(next)
    }

    /// Applies an already wrapped event. A refused event must leave the state as it was.
    pub fn apply(&mut self, next: RecordedEvent) -> Result<(), TransitionError> {
        let before = self.deposit.clone();
        match self.deposit.apply(&next) {
            Ok(()) => {
                self.events.push(next);
                Ok(())
            }
            Err(error) => {
                assert_eq!(self.deposit, before, "a refused event changed the state");
                Err(error)
            }
        }
    }
}
