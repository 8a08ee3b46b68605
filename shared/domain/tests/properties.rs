//! Properties of the deposit aggregate over arbitrary event sequences.
//!
//! Each case starts a stream with a valid `DepositRequested` and offers it a sequence of
//! candidate events. Attempt numbers and refund amounts are drawn either relative to the
//! current state (so deep states such as `partially_refunded` are reached often) or raw
//! (small numbers, amounts up to and beyond `MAX_AMOUNT_MINOR`), so both the legal and the
//! illegal paths are exercised.

use paygate_domain::crypto::EncryptedField;
use paygate_domain::deposit::{
    Anomaly, AnomalyKind, AttemptState, ChargeRef, Deposit, DepositEvent, DepositStatus,
    FailureReason, NewDeposit, PaymentMethod, RecordedEvent, TransitionError,
};
use paygate_domain::ids::{AttemptOwner, CorrelationId, DepositId, EventId, MerchantId, RefundId};
use paygate_domain::money::{Amount, AmountError, Country, Currency, MAX_AMOUNT_MINOR, Money};
use paygate_kit::streams::*;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use std::collections::HashSet;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

const REFUND_POOL: u8 = 4;
const GATEWAYS: [&str; 2] = ["psp_a", "psp_b"];

// ---------------------------------------------------------------- candidate events

/// Which attempt an event names.
#[derive(Debug, Clone)]
enum AttemptRef {
    /// The number the aggregate expects next.
    Next,
    /// The most recently started attempt (0 when there is none).
    Latest,
    /// Any small number.
    Raw(u32),
}

/// How much a refund asks for.
#[derive(Debug, Clone)]
enum AmountRef {
    /// Everything that is left (at least 1).
    Remaining,
    /// This percentage of what is left (at least 1).
    Share(u8),
    /// Any number, including 0 and more than `MAX_AMOUNT_MINOR`.
    Raw(u64),
}

#[derive(Debug, Clone)]
enum Candidate {
    AttemptStarted(AttemptRef, usize),
    AttemptFailed(AttemptRef, bool),
    DepositSubmitted(AttemptRef, usize, u8),
    DepositSucceeded(u8),
    DepositFailed,
    RefundRequested(u8, AmountRef),
    RefundSucceeded(u8),
    RefundFailed(u8),
    /// A second start in the middle of the stream.
    DepositRequested,
}

fn attempt_ref() -> impl Strategy<Value = AttemptRef> {
    prop_oneof![
        4 => Just(AttemptRef::Next),
        5 => Just(AttemptRef::Latest),
        2 => (0u32..6).prop_map(AttemptRef::Raw),
    ]
}

/// Amounts in minor units, valid or not, with weight on the edges.
fn raw_amount() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        1..=1_000u64,
        (MAX_AMOUNT_MINOR - 1_000)..=(MAX_AMOUNT_MINOR + 1_000),
        any::<u64>(),
    ]
}

fn amount_ref() -> impl Strategy<Value = AmountRef> {
    prop_oneof![
        2 => Just(AmountRef::Remaining),
        3 => (1u8..=100).prop_map(AmountRef::Share),
        2 => raw_amount().prop_map(AmountRef::Raw),
    ]
}

fn refund_key() -> impl Strategy<Value = u8> {
    0..REFUND_POOL
}

fn candidate() -> impl Strategy<Value = Candidate> {
    prop_oneof![
        3 => (attempt_ref(), 0..GATEWAYS.len()).prop_map(|(a, g)| Candidate::AttemptStarted(a, g)),
        2 => (attempt_ref(), any::<bool>()).prop_map(|(a, r)| Candidate::AttemptFailed(a, r)),
        3 => (attempt_ref(), 0..GATEWAYS.len(), 0u8..3)
            .prop_map(|(a, g, x)| Candidate::DepositSubmitted(a, g, x)),
        3 => (0u8..3).prop_map(Candidate::DepositSucceeded),
        1 => Just(Candidate::DepositFailed),
        6 => (refund_key(), amount_ref()).prop_map(|(k, a)| Candidate::RefundRequested(k, a)),
        5 => refund_key().prop_map(Candidate::RefundSucceeded),
        2 => refund_key().prop_map(Candidate::RefundFailed),
        1 => Just(Candidate::DepositRequested),
    ]
}

/// Arbitrary candidates, three times in four after a path that takes the deposit to
/// `processing`, `submitted` or `succeeded` first, so every status is reached often.
fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
    let prefix = prop_oneof![
        Just(0),
        Just(1), // processing
        Just(2), // submitted
        Just(3), // succeeded
    ]
    .prop_map(|steps| to_succeeded().into_iter().take(steps).collect::<Vec<_>>());
    (prefix, vec(candidate(), 0..40)).prop_map(|(mut prefix, rest)| {
        prefix.extend(rest);
        prefix
    })
}

/// Refund-only candidates, for the overflow property.
fn refund_candidate() -> impl Strategy<Value = Candidate> {
    prop_oneof![
        4 => (refund_key(), amount_ref()).prop_map(|(k, a)| Candidate::RefundRequested(k, a)),
        3 => refund_key().prop_map(Candidate::RefundSucceeded),
        1 => refund_key().prop_map(Candidate::RefundFailed),
    ]
}

/// Deposit amounts: small, at the maximum, and anywhere in between.
fn deposit_amount() -> impl Strategy<Value = u64> {
    prop_oneof![
        1..=100_000u64,
        (MAX_AMOUNT_MINOR - 100)..=MAX_AMOUNT_MINOR,
        1..=MAX_AMOUNT_MINOR,
    ]
}

fn attempt_number(reference: &AttemptRef, deposit: &Deposit) -> u32 {
    match reference {
        AttemptRef::Next => deposit.next_attempt_number(),
        AttemptRef::Latest => deposit.attempts.last().map_or(0, |a| a.number),
        AttemptRef::Raw(n) => *n,
    }
}

fn refund_minor(reference: &AmountRef, deposit: &Deposit) -> u64 {
    let remaining = deposit.refundable_remaining();
    match reference {
        AmountRef::Remaining => remaining.max(1),
        AmountRef::Share(percent) => {
            let share = u128::from(remaining) * u128::from(*percent) / 100;
            u64::try_from(share).unwrap().max(1)
        }
        AmountRef::Raw(minor) => *minor,
    }
}

/// The concrete event a candidate stands for in `deposit`'s current state, or `None`
/// when it cannot even be built (a refund amount that `Amount` refuses).
fn resolve(candidate: &Candidate, deposit: &Deposit) -> Option<DepositEvent> {
    let event = match candidate {
        Candidate::AttemptStarted(a, g) => {
            let attempt = attempt_number(a, deposit);
            DepositEvent::AttemptStarted {
                attempt,
                gateway: GATEWAYS[*g].into(),
                idempotency_key: format!("{}:{attempt}", deposit.id),
                owner: None,
            }
        }
        Candidate::AttemptFailed(a, retryable) => {
            attempt_failed(attempt_number(a, deposit), *retryable)
        }
        Candidate::DepositSubmitted(a, g, x) => submitted_at(
            attempt_number(a, deposit),
            GATEWAYS[*g],
            &format!("ext_{x}"),
        ),
        Candidate::DepositSucceeded(x) => succeeded(&format!("ext_{x}")),
        Candidate::DepositFailed => deposit_failed("declined"),
        Candidate::RefundRequested(k, a) => {
            let minor = refund_minor(a, deposit);
            match Amount::new(minor) {
                Ok(amount) => DepositEvent::RefundRequested {
                    refund_id: refund_id(*k),
                    amount,
                    charge: None,
                },
                Err(_) => {
                    assert!(
                        minor == 0 || minor > MAX_AMOUNT_MINOR,
                        "{minor} was refused"
                    );
                    return None;
                }
            }
        }
        Candidate::RefundSucceeded(k) => refund_succeeded(*k),
        Candidate::RefundFailed(k) => refund_failed(*k),
        Candidate::DepositRequested => requested_event(deposit.id, deposit.request.amount.minor()),
    };
    Some(event)
}

// ---------------------------------------------------------------- running a sequence

/// One offered event: the state before, what `check` said, and the state after `apply`.
struct Step {
    before: Deposit,
    event: DepositEvent,
    checked: Result<DepositStatus, TransitionError>,
    after: Deposit,
}

struct Run {
    stream: Vec<RecordedEvent>,
    deposit: Deposit,
    steps: Vec<Step>,
}

/// Offers every candidate to the deposit: `check`, then `apply` at the next version; keeps
/// the accepted ones in the stream. `check` and `apply` must agree.
fn run(amount: u64, prefix: &[Candidate], candidates: &[Candidate]) -> Result<Run, TestCaseError> {
    let first = recorded(DEPOSIT, 1, requested_event(DEPOSIT, amount));
    let mut deposit = Deposit::start(&first).expect("a valid DepositRequested starts a stream");
    let mut stream = vec![first];
    let mut steps = Vec::new();
    for candidate in prefix.iter().chain(candidates) {
        let Some(event) = resolve(candidate, &deposit) else {
            continue;
        };
        let before = deposit.clone();
        let checked = deposit.check(&event);
        prop_assert_eq!(&deposit, &before, "check changed the state");
        let next = recorded(DEPOSIT, deposit.version + 1, event.clone());
        let applied = deposit.apply(&next);
        match (&checked, &applied) {
            (Ok(status), Ok(())) => {
                prop_assert_eq!(
                    deposit.status,
                    *status,
                    "apply ended elsewhere than check said"
                );
                stream.push(next);
            }
            (Err(refused), Err(also_refused)) => {
                prop_assert_eq!(
                    refused,
                    also_refused,
                    "check and apply refuse for different reasons"
                );
            }
            _ => prop_assert!(
                false,
                "check said {:?} but apply said {:?} for {:?}",
                checked,
                applied,
                event
            ),
        }
        steps.push(Step {
            before,
            event,
            checked,
            after: deposit.clone(),
        });
    }
    Ok(Run {
        stream,
        deposit,
        steps,
    })
}

/// The path to a captured deposit, as candidates.
fn to_succeeded() -> Vec<Candidate> {
    vec![
        Candidate::AttemptStarted(AttemptRef::Next, 0),
        Candidate::DepositSubmitted(AttemptRef::Latest, 0, 0),
        Candidate::DepositSucceeded(0),
    ]
}

/// Events that may leave the status where it was.
fn may_stay(event: &DepositEvent, status: DepositStatus) -> bool {
    match event {
        DepositEvent::RefundRequested { .. }
        | DepositEvent::RefundFailed { .. }
        | DepositEvent::ContradictingOutcomeIgnored { .. } => true,
        DepositEvent::AttemptStarted { .. } | DepositEvent::AttemptFailed { .. } => {
            status == DepositStatus::Processing
        }
        DepositEvent::RefundSucceeded { .. } => status == DepositStatus::PartiallyRefunded,
        _ => false,
    }
}

/// What must hold in every state a deposit can reach.
fn check_invariants(deposit: &Deposit) -> Result<(), TestCaseError> {
    use DepositStatus::*;
    let amount = deposit.request.amount.minor();
    let status = deposit.status;

    // attempts: numbered 1.., at most one open, and an open one only while processing
    for (index, attempt) in deposit.attempts.iter().enumerate() {
        prop_assert_eq!(attempt.number as usize, index + 1);
    }
    let in_state = |state| deposit.attempts.iter().filter(|a| a.state == state).count();
    let open = in_state(AttemptState::Open);
    prop_assert!(open <= 1, "{} attempts open", open);
    if open == 1 {
        prop_assert_eq!(status, Processing);
    }
    let submissions = in_state(AttemptState::Submitted);
    prop_assert!(submissions <= 1, "{} attempts submitted", submissions);

    // once submitted, the deposit knows where and under which id
    if matches!(status, Submitted | Succeeded | PartiallyRefunded | Refunded) {
        prop_assert!(deposit.gateway.is_some(), "{} without a gateway", status);
        prop_assert!(
            deposit.external_id.is_some(),
            "{} without an external id",
            status
        );
        prop_assert_eq!(submissions, 1);
    }
    if matches!(status, Pending) {
        prop_assert!(deposit.attempts.is_empty());
    }

    // refunds: never more than captured, and the status says how much came back
    let refunded = deposit.refunded_amount();
    let pending = pending_refunds(deposit);
    prop_assert!(
        u128::from(refunded) + u128::from(pending) <= u128::from(amount),
        "refunded {} + pending {} > amount {}",
        refunded,
        pending,
        amount
    );
    prop_assert_eq!(status == Refunded, refunded == amount);
    if status == PartiallyRefunded {
        prop_assert!(0 < refunded && refunded < amount);
    }
    if refunded > 0 {
        prop_assert!(matches!(status, PartiallyRefunded | Refunded));
    }
    if !deposit.refunds.is_empty() {
        prop_assert!(matches!(status, Succeeded | PartiallyRefunded | Refunded));
    }
    let ids: HashSet<RefundId> = deposit.refunds.iter().map(|r| r.id).collect();
    prop_assert_eq!(
        ids.len(),
        deposit.refunds.len(),
        "a refund id is used twice"
    );
    let expected_remaining = match status {
        Succeeded | PartiallyRefunded => amount - refunded - pending,
        _ => 0,
    };
    prop_assert_eq!(deposit.refundable_remaining(), expected_remaining);
    prop_assert!(deposit.refundable_remaining() <= amount);

    // the read model agrees with the state
    let view = deposit.view();
    prop_assert_eq!(view.status, status);
    prop_assert_eq!(view.version, deposit.version);
    prop_assert_eq!(view.refunded_amount, refunded);
    prop_assert_eq!(view.amount, deposit.request.amount);
    Ok(())
}

// ---------------------------------------------------------------- properties

proptest! {
    #[test]
    fn replay_rebuilds_exactly_the_incremental_state(
        amount in deposit_amount(),
        candidates in candidates(),
    ) {
        let run = run(amount, &[], &candidates)?;

        let replayed = Deposit::replay(&run.stream).expect("an accepted stream replays");
        prop_assert_eq!(&replayed, &run.deposit);
        let again = Deposit::replay(&run.stream).expect("an accepted stream replays");
        prop_assert_eq!(&again, &replayed);
        prop_assert_eq!(run.deposit.version, run.stream.len() as u64);
        let versions: Vec<u64> = run.stream.iter().map(|e| e.version).collect();
        prop_assert_eq!(versions, (1..=run.stream.len() as u64).collect::<Vec<_>>());
    }

    #[test]
    fn no_sequence_leaves_the_status_graph(
        amount in deposit_amount(),
        candidates in candidates(),
    ) {
        let run = run(amount, &[], &candidates)?;

        check_invariants(&run.deposit)?;
        for step in run.steps.iter().filter(|s| s.checked.is_ok()) {
            let (prev, next) = (step.before.status, step.after.status);
            if prev == next {
                prop_assert!(
                    may_stay(&step.event, prev),
                    "{} left the status at {}", step.event.kind(), prev
                );
            } else {
                prop_assert!(prev.can_become(next), "{} moved {} -> {}", step.event.kind(), prev, next);
            }
            prop_assert_eq!(step.after.version, step.before.version + 1);
            prop_assert_eq!(step.after.updated_at, at(step.after.version));
            prop_assert_eq!(step.after.created_at, step.before.created_at);
            check_invariants(&step.after)?;
        }
    }

    #[test]
    fn a_refused_event_changes_nothing(
        amount in deposit_amount(),
        candidates in candidates(),
    ) {
        let run = run(amount, &[], &candidates)?;

        for step in run.steps.iter().filter(|s| s.checked.is_err()) {
            // `run` already saw apply refuse it too; the state is exactly as before
            prop_assert_eq!(&step.after, &step.before);
        }
        // whatever the state, a misfiled or out-of-place copy of any event is refused
        let state = &run.deposit;
        for step in &run.steps {
            let mut copy = state.clone();
            let gap = recorded(DEPOSIT, state.version + 2, step.event.clone());
            prop_assert_eq!(
                copy.apply(&gap),
                Err(TransitionError::VersionGap { current: state.version, got: state.version + 2 })
            );
            let stale = recorded(DEPOSIT, state.version, step.event.clone());
            prop_assert_eq!(
                copy.apply(&stale),
                Err(TransitionError::VersionGap { current: state.version, got: state.version })
            );
            let foreign = recorded(OTHER_DEPOSIT, state.version + 1, step.event.clone());
            prop_assert_eq!(
                copy.apply(&foreign),
                Err(TransitionError::WrongStream { expected: DEPOSIT, got: OTHER_DEPOSIT })
            );
            prop_assert_eq!(&copy, state);
        }
    }

    #[test]
    fn refunds_near_the_maximum_never_overflow(
        amount in (MAX_AMOUNT_MINOR - 1_000)..=MAX_AMOUNT_MINOR,
        candidates in vec(refund_candidate(), 0..60),
    ) {
        let run = run(amount, &to_succeeded(), &candidates)?;

        prop_assert!(run.steps.iter().take(3).all(|s| s.checked.is_ok()), "the deposit was captured");
        for step in &run.steps {
            let deposit = &step.after;
            prop_assert!(deposit.refundable_remaining() <= amount);
            prop_assert!(deposit.refunded_amount() <= amount);
            prop_assert!(deposit.refunded_amount() + pending_refunds(deposit) <= amount);
            if let (DepositEvent::RefundRequested { refund_id, amount: asked, .. }, Err(error)) = (&step.event, &step.checked) {
                let remaining = step.before.refundable_remaining();
                let refundable = matches!(
                    step.before.status,
                    DepositStatus::Succeeded | DepositStatus::PartiallyRefunded
                );
                let new_id = step.before.refunds.iter().all(|r| r.id != *refund_id);
                if refundable && new_id && asked.minor() > remaining {
                    prop_assert_eq!(
                        error,
                        &TransitionError::RefundExceedsRemaining { requested: asked.minor(), remaining }
                    );
                }
            }
        }
        check_invariants(&run.deposit)?;
    }

    #[test]
    fn amounts_are_exactly_1_to_the_maximum(minor in raw_amount()) {
        let valid = (1..=MAX_AMOUNT_MINOR).contains(&minor);
        match Amount::new(minor) {
            Ok(amount) => {
                prop_assert!(valid);
                prop_assert_eq!(amount.minor(), minor);
            }
            Err(AmountError::NotPositive) => prop_assert_eq!(minor, 0),
            Err(AmountError::TooLarge) => prop_assert!(minor > MAX_AMOUNT_MINOR),
        }
        // storage applies the same rule: an out-of-range refund cannot be read back
        let stored = serde_json::json!({
            "type": "RefundRequested",
            "refund_id": refund_id(0),
            "amount": minor,
        });
        prop_assert_eq!(serde_json::from_value::<DepositEvent>(stored).is_ok(), valid);
    }

    #[test]
    fn a_recorded_event_round_trips_through_json(event in any_recorded_event()) {
        let json = serde_json::to_string(&event).expect("every event serializes");
        let back: RecordedEvent = serde_json::from_str(&json).expect("and reads back");
        prop_assert_eq!(&back, &event);
        prop_assert_eq!(back.occurred_at.offset(), event.occurred_at.offset());

        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(value["event"]["type"].as_str(), Some(event.event.kind()));
    }
}

// ---------------------------------------------------------------- arbitrary stored events

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z_0-9]{0,12}"]
}

fn any_amount() -> impl Strategy<Value = Amount> {
    prop_oneof![1..=100_000u64, 1..=MAX_AMOUNT_MINOR, Just(MAX_AMOUNT_MINOR)]
        .prop_map(|minor| Amount::new(minor).unwrap())
}

fn any_currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(vec!["AED", "USD", "JPY", "KWD"]).prop_map(|c| Currency::parse(c).unwrap())
}

fn any_reason() -> impl Strategy<Value = FailureReason> {
    (any_text(), any_text()).prop_map(|(code, message)| FailureReason { code, message })
}

fn any_uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn any_new_deposit() -> impl Strategy<Value = NewDeposit> {
    const CURRENCIES: [&str; 7] = ["AED", "USD", "JPY", "KWD", "BHD", "EUR", "GBP"];
    const COUNTRIES: [&str; 7] = ["AE", "US", "JP", "KW", "BH", "DE", "GB"];
    let payment_method = (any_text(), any_text(), any_text(), any_text()).prop_map(
        |(kind, key_id, nonce, ciphertext)| PaymentMethod {
            kind,
            details: EncryptedField {
                key_id,
                nonce,
                ciphertext,
            },
        },
    );
    (
        any_amount(),
        0..CURRENCIES.len(),
        0..COUNTRIES.len(),
        any_text(),
        proptest::option::of(payment_method),
        btree_map(any_text(), any_text(), 0..4),
    )
        .prop_map(
            |(amount, currency, country, customer_id, payment_method, metadata)| NewDeposit {
                direction: Default::default(),
                amount,
                currency: Currency::parse(CURRENCIES[currency]).unwrap(),
                country: Country::parse(COUNTRIES[country]).unwrap(),
                customer_id,
                payment_method,
                metadata,
            },
        )
}

fn any_event() -> impl Strategy<Value = DepositEvent> {
    prop_oneof![
        (any_uuid(), any_text(), any_new_deposit()).prop_map(|(id, merchant, request)| {
            DepositEvent::DepositRequested {
                deposit_id: DepositId(id),
                merchant_id: MerchantId(merchant),
                request,
            }
        }),
        (
            any::<u32>(),
            any_text(),
            any_text(),
            proptest::option::of(any_uuid())
        )
            .prop_map(|(attempt, gateway, idempotency_key, owner)| {
                DepositEvent::AttemptStarted {
                    attempt,
                    gateway,
                    idempotency_key,
                    owner: owner.map(AttemptOwner),
                }
            }),
        any::<u32>().prop_map(|attempt| DepositEvent::AttemptReleased { attempt }),
        (any::<u32>(), any_uuid()).prop_map(|(attempt, owner)| DepositEvent::AttemptResumed {
            attempt,
            owner: AttemptOwner(owner),
        }),
        any_anomaly().prop_map(|anomaly| DepositEvent::PaymentAnomalyDetected { anomaly }),
        (any::<u32>(), any_reason(), any::<bool>()).prop_map(|(attempt, reason, retryable)| {
            DepositEvent::AttemptFailed {
                attempt,
                reason,
                retryable,
            }
        }),
        (any::<u32>(), any_text(), any_text()).prop_map(|(attempt, gateway, external_id)| {
            DepositEvent::DepositSubmitted {
                attempt,
                gateway,
                external_id,
            }
        }),
        any_text().prop_map(|external_id| DepositEvent::DepositSucceeded { external_id }),
        any_reason().prop_map(|reason| DepositEvent::DepositFailed { reason }),
        (any_uuid(), any_amount(), proptest::option::of(any_charge())).prop_map(
            |(id, amount, charge)| DepositEvent::RefundRequested {
                refund_id: RefundId(id),
                amount,
                charge,
            }
        ),
        any_uuid().prop_map(|id| DepositEvent::RefundSucceeded {
            refund_id: RefundId(id)
        }),
        (any_uuid(), any_reason()).prop_map(|(id, reason)| DepositEvent::RefundFailed {
            refund_id: RefundId(id),
            reason,
        }),
    ]
}

fn any_charge() -> impl Strategy<Value = ChargeRef> {
    (any_text(), any_text()).prop_map(|(gateway, external_id)| ChargeRef {
        gateway,
        external_id,
    })
}

fn any_anomaly() -> impl Strategy<Value = Anomaly> {
    (
        prop_oneof![
            Just(AnomalyKind::UnexpectedCharge),
            Just(AnomalyKind::SuccessAfterFailure),
            Just(AnomalyKind::AmountMismatch),
            Just(AnomalyKind::OutcomeContradiction),
            Just(AnomalyKind::AttemptUnresolved),
            Just(AnomalyKind::RefundUnresolved),
        ],
        any_text(),
        proptest::option::of(any_text()),
        proptest::option::of((any_amount(), any_currency())),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any_uuid()),
        proptest::option::of(any_text()),
        any_text(),
    )
        .prop_map(
            |(kind, gateway, external_id, charged, attempt, refund, gateway_event_id, detail)| {
                Anomaly {
                    kind,
                    gateway,
                    external_id,
                    charged: charged.map(|(amount, currency)| Money { amount, currency }),
                    attempt,
                    refund: refund.map(RefundId),
                    gateway_event_id,
                    detail,
                }
            },
        )
}

/// Instants from 1970 to 2100 with nanoseconds, at whole-minute offsets (what RFC 3339 can
/// carry).
fn any_instant() -> impl Strategy<Value = OffsetDateTime> {
    (
        0i64..=4_102_444_800,
        0u32..1_000_000_000,
        -(23 * 60 + 59)..=(23 * 60 + 59i32),
    )
        .prop_map(|(seconds, nanos, offset_minutes)| {
            let offset = UtcOffset::from_whole_seconds(offset_minutes * 60).unwrap();
            (OffsetDateTime::from_unix_timestamp(seconds).unwrap()
                + time::Duration::nanoseconds(i64::from(nanos)))
            .to_offset(offset)
        })
}

fn any_recorded_event() -> impl Strategy<Value = RecordedEvent> {
    (
        any_uuid(),
        any::<u64>(),
        any_uuid(),
        any::<u16>(),
        any_instant(),
        any_text(),
        proptest::option::of(any_text()),
        any_event(),
    )
        .prop_map(
            |(
                deposit,
                version,
                event_id,
                schema_version,
                occurred_at,
                correlation,
                causation_id,
                event,
            )| {
                RecordedEvent {
                    deposit_id: DepositId(deposit),
                    version,
                    event_id: EventId(event_id),
                    schema_version,
                    occurred_at,
                    correlation_id: CorrelationId(correlation),
                    causation_id,
                    event,
                }
            },
        )
}
