//! Every kind of event, as `GET /v1/deposits/{id}/events` shows it, matches the `Event`
//! schema: also those the end-to-end run cannot provoke (an attempt released after a
//! time-out and resumed, the legacy contradiction record) and every optional field. So
//! for a payout's trail, as `GET /v1/payouts/{id}/events` shows it, and `PayoutEvent`.

use crate::spec::Spec;
use paygate_api::models::EventResponse;
use paygate_domain::crypto::EncryptedField;
use paygate_domain::deposit::{
    Anomaly, AnomalyKind, ChargeRef, DepositEvent, Direction, PaymentMethod,
};
use paygate_domain::ids::AttemptOwner;
use paygate_domain::money::{Amount, Currency, Money};
use paygate_kit::streams::*;
use std::collections::BTreeSet;
use uuid::Uuid;

/// One of each kind, optional fields set. The match makes a new kind a compile error here
/// until it has a sample (and so a schema).
fn samples() -> Vec<DepositEvent> {
    let owner = AttemptOwner(Uuid::from_u128(0x0A));
    let aed = Currency::parse("AED").unwrap();
    let charged = Money {
        amount: Amount::new(10_099).unwrap(),
        currency: aed,
    };
    let anomaly = Anomaly {
        kind: AnomalyKind::UnexpectedCharge,
        gateway: "acme".into(),
        external_id: Some("pay_2".into()),
        charged: Some(charged),
        attempt: Some(2),
        refund: Some(refund_id(1)),
        gateway_event_id: Some("evt_9".into()),
        detail: "a charge of a closed attempt".into(),
    };
    let samples = vec![
        requested_event(DEPOSIT, 10_099),
        DepositEvent::AttemptStarted {
            attempt: 1,
            gateway: "acme".into(),
            idempotency_key: format!("{DEPOSIT}:1"),
            owner: Some(owner),
        },
        DepositEvent::AttemptReleased { attempt: 1 },
        DepositEvent::AttemptResumed { attempt: 1, owner },
        attempt_failed(1, true),
        submitted(1, "pay_1"),
        succeeded("pay_1"),
        deposit_failed("amount_mismatch"),
        DepositEvent::RefundRequested {
            refund_id: refund_id(1),
            amount: Amount::new(10_099).unwrap(),
            charge: Some(ChargeRef {
                gateway: "acme".into(),
                external_id: "pay_2".into(),
            }),
        },
        DepositEvent::RefundSubmitted {
            refund_id: refund_id(1),
            refund_external_id: "re_1".into(),
        },
        refund_succeeded(1),
        refund_failed(1),
        DepositEvent::PaymentAnomalyDetected { anomaly },
        DepositEvent::ContradictingOutcomeIgnored {
            gateway_event_id: "evt_8".into(),
            reported: "payment_failed".into(),
        },
    ];
    for event in &samples {
        match event {
            DepositEvent::DepositRequested { .. }
            | DepositEvent::AttemptStarted { .. }
            | DepositEvent::AttemptReleased { .. }
            | DepositEvent::AttemptResumed { .. }
            | DepositEvent::AttemptFailed { .. }
            | DepositEvent::DepositSubmitted { .. }
            | DepositEvent::DepositSucceeded { .. }
            | DepositEvent::DepositFailed { .. }
            | DepositEvent::RefundRequested { .. }
            | DepositEvent::RefundSubmitted { .. }
            | DepositEvent::RefundSucceeded { .. }
            | DepositEvent::RefundFailed { .. }
            | DepositEvent::PaymentAnomalyDetected { .. }
            | DepositEvent::ContradictingOutcomeIgnored { .. } => {}
        }
    }
    samples
}

/// Each of `samples`, recorded in turn and shown as the API shows a `direction`'s trail,
/// is valid against the spec's schema `schema` and keeps internal ids inside; together
/// they show every type `schema` documents. Returns the types shown.
fn assert_every_type_shown(
    samples: Vec<DepositEvent>,
    direction: Direction,
    schema: &str,
) -> BTreeSet<String> {
    let spec = Spec::load();
    let mut shown = BTreeSet::new();
    for (version, event) in samples.into_iter().enumerate() {
        let recorded = recorded(DEPOSIT, version as u64 + 1, event);
        let response = EventResponse::new(&recorded, direction);
        let response = serde_json::to_value(response).unwrap();
        let pointer = format!("/components/schemas/{schema}");
        if let Err(errors) = spec.validate(&pointer, &response) {
            panic!("{response:#}\n{errors:#?}");
        }
        assert!(
            response["data"].get("owner").is_none(),
            "internal ids stay inside: {response}"
        );
        shown.insert(recorded.event.name(direction).to_owned());
    }
    let documented = spec.event_types(schema);
    assert_eq!(shown, documented);
    shown
}

#[test]
fn every_kind_of_event_as_the_api_shows_it_matches_the_spec() {
    assert_every_type_shown(samples(), Direction::Deposit, "Event");
}

/// One of each kind a payout's stream can hold (never a refund: a payout is not
/// refunded, and its surprises are a person's to settle), optional fields set.
fn payout_samples() -> Vec<DepositEvent> {
    let mut requested = requested_event(DEPOSIT, 5_000);
    if let DepositEvent::DepositRequested { request, .. } = &mut requested {
        request.direction = Direction::Payout;
        request.customer_id = String::new();
        request.payment_method = Some(PaymentMethod {
            kind: "bank_account".into(),
            details: EncryptedField {
                key_id: "k1".into(),
                nonce: "bm9uY2U=".into(),
                ciphertext: "c2VjcmV0".into(),
            },
        });
    }
    let anomaly = Anomaly {
        kind: AnomalyKind::AmountMismatch,
        gateway: "acme".into(),
        external_id: Some("po_1".into()),
        charged: Some(Money {
            amount: Amount::new(4_999).unwrap(),
            currency: Currency::parse("AED").unwrap(),
        }),
        attempt: Some(1),
        refund: None,
        gateway_event_id: Some("evt_9".into()),
        detail: "the gateway paid out another amount".into(),
    };
    vec![
        requested,
        DepositEvent::AttemptStarted {
            attempt: 1,
            gateway: "acme".into(),
            idempotency_key: format!("{DEPOSIT}:1"),
            owner: Some(AttemptOwner(Uuid::from_u128(0x0A))),
        },
        DepositEvent::AttemptReleased { attempt: 1 },
        DepositEvent::AttemptResumed {
            attempt: 1,
            owner: AttemptOwner(Uuid::from_u128(0x0B)),
        },
        attempt_failed(1, true),
        submitted(1, "po_1"),
        succeeded("po_1"),
        deposit_failed("no_gateway"),
        DepositEvent::PaymentAnomalyDetected { anomaly },
    ]
}

#[test]
fn every_kind_of_payout_event_as_the_api_shows_it_matches_the_spec() {
    let shown = assert_every_type_shown(payout_samples(), Direction::Payout, "PayoutEvent");
    assert!(shown.contains("PayoutPaid"), "in payout words: {shown:?}");
}
