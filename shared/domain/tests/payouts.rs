//! Payouts: the deposit's lifecycle the other way round. GIVEN a payout's stream, WHEN
//! it moves on, THEN its money moves once each way, it is never refunded, and a gateway's
//! surprise about it is for a person, never reversed automatically.

use paygate_domain::deposit::{AnomalyKind, DepositEvent, DepositStatus, Sighting};
use paygate_domain::ids::{AttemptOwner, RefundId};
use paygate_domain::ledger::{Account, EntryType, movement};
use paygate_domain::ports::gateway::PaymentOutcome;
use paygate_domain::service::publish::bus_event;
use paygate_domain::{Amount, Currency, Money};
use paygate_kit::streams::*;
use uuid::Uuid;

const AMOUNT: u64 = 5_000;

/// What the stream's last event moved in the ledger: its type and postings per account.
fn last_movement(stream: &Stream) -> Option<(EntryType, Vec<(Account, i64)>)> {
    let last = stream.events.last().unwrap();
    movement(&stream.deposit, last).map(|m| {
        let postings = m.postings.iter().map(|p| (p.account.clone(), p.amount));
        (m.entry_type, postings.collect())
    })
}

fn paid() -> Stream {
    Stream::payout_requested(AMOUNT)
        .then(attempt_started_at(1, "psp_a"))
        .then(submitted_at(1, "psp_a", "po_1"))
}

#[test]
fn a_payout_reserves_when_requested_and_leaves_through_its_gateway_when_paid() {
    let amount = AMOUNT as i64;
    let stream = Stream::payout_requested(AMOUNT);
    assert_eq!(
        last_movement(&stream),
        Some((
            EntryType::Payout,
            vec![(Account::Available, -amount), (Account::Reserved, amount)]
        ))
    );
    let stream = paid();
    assert_eq!(last_movement(&stream), None, "submitting moves nothing");
    let stream = stream.then(succeeded("po_1"));
    assert_eq!(stream.deposit.status, DepositStatus::Succeeded);
    assert_eq!(
        stream.deposit.status.name(stream.deposit.request.direction),
        "paid"
    );
    assert_eq!(
        last_movement(&stream),
        Some((
            EntryType::PayoutSettled,
            vec![
                (Account::Reserved, -amount),
                (Account::Gateway("psp_a".into()), amount)
            ]
        ))
    );
}

#[test]
fn a_payout_that_fails_gives_its_reservation_back() {
    let amount = AMOUNT as i64;
    for stream in [
        // refused at once by the gateway
        Stream::payout_requested(AMOUNT)
            .then(attempt_started_at(1, "psp_a"))
            .then(attempt_failed(1, false))
            .then(deposit_failed("destination_rejected")),
        // taken, then failed by webhook
        paid().then(deposit_failed("account_closed")),
        // no gateway pays out there
        Stream::payout_requested(AMOUNT).then(deposit_failed("no_gateway")),
    ] {
        assert_eq!(stream.deposit.status, DepositStatus::Failed);
        assert_eq!(
            last_movement(&stream),
            Some((
                EntryType::PayoutReversal,
                vec![(Account::Reserved, -amount), (Account::Available, amount)]
            ))
        );
    }
}

#[test]
fn a_payout_is_never_refunded() {
    let mut stream = paid().then(succeeded("po_1"));
    let refused = stream.record(refund_requested(1, 100));
    assert!(refused.is_err(), "{refused:?}");
    let reversal = DepositEvent::RefundRequested {
        refund_id: refund_id(2),
        amount: Amount::new(AMOUNT).unwrap(),
        charge: stream.deposit.own_charge(),
    };
    assert!(stream.record(reversal).is_err());
}

#[test]
fn a_payout_the_gateway_made_for_a_closed_attempt_is_for_a_person_not_reversed() {
    // GIVEN a payout whose attempt 1 was refused, now at attempt 2
    let stream = Stream::payout_requested(AMOUNT)
        .then(attempt_started_at(1, "psp_a"))
        .then(attempt_failed(1, true))
        .then(attempt_started_at(2, "psp_b"));
    // WHEN attempt 1's call answers late that the gateway took it after all
    let answer = PaymentOutcome::Accepted {
        external_id: "po_stray".into(),
    };
    let owner = AttemptOwner(Uuid::nil());
    let events = stream
        .deposit
        .settle_call(1, owner, &answer, RefundId(Uuid::nil()));
    // THEN an anomaly is recorded, and nothing is refunded
    let [DepositEvent::PaymentAnomalyDetected { anomaly }] = events.as_slice() else {
        panic!("one anomaly, nothing else: {events:?}");
    };
    assert_eq!(anomaly.kind, AnomalyKind::UnexpectedCharge);
    assert!(
        anomaly
            .kind
            .needs_a_person_for(stream.deposit.request.direction)
    );
    assert!(anomaly.detail.contains("money may have left twice"));
    // ... and the ledger does not pretend to hold it
    let stream = stream.then(events[0].clone());
    assert_eq!(last_movement(&stream), None);
}

#[test]
fn a_payout_paid_for_another_amount_is_paid_and_flagged_for_a_person() {
    let stream = paid();
    let charged = Money {
        amount: Amount::new(AMOUNT / 2).unwrap(),
        currency: Currency::parse("AED").unwrap(),
    };
    let seen = Sighting {
        gateway: "psp_a",
        external_id: "po_1",
        charged: Some(charged),
        attempt: Some(1),
        gateway_event_id: Some("evt_1"),
    };
    let events = stream.deposit.confirm_charge(&seen, RefundId(Uuid::nil()));
    let kinds: Vec<_> = events.iter().map(DepositEvent::kind).collect();
    assert_eq!(kinds, ["PaymentAnomalyDetected", "DepositSucceeded"]);
    let DepositEvent::PaymentAnomalyDetected { anomaly } = &events[0] else {
        unreachable!()
    };
    assert_eq!(
        (anomaly.kind, anomaly.charged),
        (AnomalyKind::AmountMismatch, Some(charged))
    );
}

#[test]
fn a_payouts_outcome_goes_on_the_bus_in_payout_words() {
    let stream = paid().then(succeeded("po_1"));
    let last = stream.events.last().unwrap();
    let event = bus_event(&stream.deposit, last).expect("a paid payout is published");
    assert_eq!(event.detail_type, "PayoutPaid");
    assert_eq!(event.detail["payout_id"], DEPOSIT.to_string());
    assert!(event.detail.get("deposit_id").is_none());
    assert_eq!(event.detail["amount"], AMOUNT);

    let stream = paid().then(deposit_failed("account_closed"));
    let last = stream.events.last().unwrap();
    let event = bus_event(&stream.deposit, last).expect("a failed payout is published");
    assert_eq!(event.detail_type, "PayoutFailed");
    assert_eq!(event.detail["reason"]["code"], "account_closed");
    // ... while its trail keeps one set of stored event types
    let names: Vec<_> = stream
        .events
        .iter()
        .map(|e| e.event.name(stream.deposit.request.direction))
        .collect();
    assert_eq!(
        names,
        [
            "PayoutRequested",
            "AttemptStarted",
            "PayoutSubmitted",
            "PayoutFailed"
        ]
    );
}
