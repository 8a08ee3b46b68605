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

#[test]
fn every_kind_of_event_as_the_api_shows_it_matches_the_spec() {
    let spec = Spec::load();
    let mut shown = BTreeSet::new();
    for (version, event) in samples().into_iter().enumerate() {
        let recorded = recorded(DEPOSIT, version as u64 + 1, event);
        let response = serde_json::to_value(EventResponse::from(&recorded)).unwrap();
        if let Err(errors) = spec.validate("/components/schemas/Event", &response) {
            panic!("{response:#}\n{errors:#?}");
        }
        assert!(
            response["data"].get("owner").is_none(),
            "internal ids stay inside: {response}"
        );
        shown.insert(recorded.event.kind().to_owned());
    }
    let documented = spec.event_types("Event");
    assert_eq!(shown, documented);
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
    let spec = Spec::load();
    let mut shown = BTreeSet::new();
    for (version, event) in payout_samples().into_iter().enumerate() {
        let recorded = recorded(DEPOSIT, version as u64 + 1, event);
        let response = EventResponse::new(&recorded, Direction::Payout);
        let response = serde_json::to_value(response).unwrap();
        if let Err(errors) = spec.validate("/components/schemas/PayoutEvent", &response) {
            panic!("{response:#}\n{errors:#?}");
        }
        assert!(
            response["data"].get("owner").is_none(),
            "internal ids stay inside: {response}"
        );
        shown.insert(recorded.event.name(Direction::Payout).to_owned());
    }
    assert!(shown.contains("PayoutPaid"), "in payout words: {shown:?}");
    let documented = spec.event_types("PayoutEvent");
    assert_eq!(shown, documented);
}
