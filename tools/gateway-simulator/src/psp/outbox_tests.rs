//! Webhook bodies, and the outbox's schedule: retries, drops, duplicates, reordering.

use super::*;
use crate::psp::dice::SplitMix64;
use crate::psp::ledger::EventKind;

fn notification(kind: EventKind, refund: Option<&str>, code: Option<&str>) -> Notification {
    Notification {
        event_id: "evt_1".into(),
        kind,
        subject_id: "pay_1".into(),
        refund_id: refund.map(Into::into),
        reference: "dep_1".into(),
        amount: 10_099,
        currency: "AED".into(),
        failure_code: code.map(Into::into),
        created: 1_700_000_000,
    }
}

fn event(id: &str) -> Notification {
    Notification {
        event_id: id.into(),
        ..notification(EventKind::PaymentSucceeded, None, None)
    }
}

/// Fresh dice, an outbox holding one event `id` due at `at_ms`, and a sender that
/// misbehaves as the event was queued to.
fn queued(
    seed: u64,
    format: Format,
    id: &str,
    at_ms: i64,
    behaviour: Behaviour,
) -> (SplitMix64, Outbox, Sender<'static>) {
    let mut dice = SplitMix64::new(seed);
    let mut outbox = Outbox::default();
    outbox.push(format, &event(id), at_ms, &behaviour, &mut dice);
    (dice, outbox, sender(behaviour))
}

fn sender(behaviour: Behaviour) -> Sender<'static> {
    Sender {
        name: "acme",
        format: Format::Json,
        url: Some("http://hooks.test/".into()),
        secret: "whsec_test",
        behaviour,
        retry: WebhookRetry::default(),
    }
}

#[test]
fn json_event_has_the_wire_shape() {
    let body = render(
        Format::Json,
        &notification(EventKind::PaymentSucceeded, None, None),
    );
    assert_eq!(
        body,
        r#"{"id":"evt_1","type":"payment.succeeded","payment_id":"pay_1","refund_id":null,"reference":"dep_1","amount":10099,"currency":"AED","failure_code":null,"created":1700000000}"#
    );
}

#[test]
fn soap_notification_has_the_wire_shape() {
    let body = render(
        Format::Soap,
        &notification(EventKind::PaymentFailed, None, Some("insufficient_funds")),
    );
    assert_eq!(
        body,
        r#"<p:Notification xmlns:p="urn:paygate:sim:psp"><p:EventId>evt_1</p:EventId><p:Type>PAYMENT_FAILED</p:Type><p:TransactionId>pay_1</p:TransactionId><p:RefundId/><p:Reference>dep_1</p:Reference><p:Amount>10099</p:Amount><p:Currency>AED</p:Currency><p:ReasonCode>insufficient_funds</p:ReasonCode></p:Notification>"#
    );
    let refund = render(
        Format::Soap,
        &notification(EventKind::RefundSucceeded, Some("rf_1"), None),
    );
    assert!(refund.contains("<p:RefundId>rf_1</p:RefundId>"));
    assert!(refund.contains("<p:ReasonCode/>"));
}

#[test]
fn a_due_event_is_signed_and_retried_with_backoff_until_accepted() {
    let (mut dice, mut outbox, to) = queued(1, Format::Json, "evt_a", 1_000, Behaviour::default());
    let mut attempts = Vec::new();
    let mut record = |id: &str, ok: bool| attempts.push((id.to_owned(), ok));
    assert!(outbox.due(999, &to, &mut dice, &mut record).is_empty());
    let first = outbox.due(1_000, &to, &mut dice, &mut record);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].url, "http://hooks.test/webhooks/acme");
    let request = first[0].to_request().unwrap();
    let signature = request.headers()[paygate_signature::HEADER]
        .to_str()
        .unwrap();
    paygate_signature::verify(signature, &[b"whsec_test"], &first[0].body, 1, 300).unwrap();
    // In flight: not due again until reported.
    assert_eq!(outbox.next_due_ms(), None);
    // Each refusal waits longer: 0.2 s, then 0.4 s.
    for (refused_at, retry_at) in [(1_050, 1_250), (1_300, 1_700)] {
        assert!(outbox.delivered("evt_a", false, refused_at, &WebhookRetry::default()));
        assert_eq!(
            outbox.next_due_ms(),
            Some(retry_at),
            "refused at {refused_at}"
        );
        let again = outbox.due(retry_at, &to, &mut dice, &mut record);
        assert_eq!(again.len(), 1, "retried at {retry_at}");
    }
    outbox.delivered("evt_a", true, 1_710, &WebhookRetry::default());
    assert_eq!(outbox.next_due_ms(), None);
    assert!(!outbox.delivered("evt_a", true, 1_720, &WebhookRetry::default()));
}

#[test]
fn backoff_doubles_up_to_the_cap_and_gives_up() {
    let retry = WebhookRetry::default();
    let waits: Vec<i64> = (1..=7).map(|n| retry.backoff_ms(n)).collect();
    assert_eq!(waits, [200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
    assert_eq!(retry.backoff_ms(200), 5_000);
}

#[test]
fn dropped_attempts_count_and_the_schedule_runs_to_its_end() {
    let lossy = Behaviour {
        webhook_drop_rate: 1.0,
        ..Behaviour::default()
    };
    let (mut dice, mut outbox, to) = queued(2, Format::Json, "evt_b", 0, lossy);
    let mut failed = 0;
    let mut now = 0;
    while let Some(due) = outbox.next_due_ms() {
        now = due;
        let sent = outbox.due(now, &to, &mut dice, &mut |_, ok| {
            assert!(!ok);
            failed += 1;
        });
        assert!(sent.is_empty(), "a dropped attempt never arrives");
    }
    assert_eq!(failed, 10, "every attempt of the schedule was made");
    assert_eq!(now, 200 + 400 + 800 + 1_600 + 3_200 + 4 * 5_000);
}

#[test]
fn duplicated_attempts_go_out_twice_and_both_must_come_back() {
    let doubled = Behaviour {
        webhook_duplicate_rate: 1.0,
        ..Behaviour::default()
    };
    let (mut dice, mut outbox, to) = queued(3, Format::Json, "evt_c", 0, doubled);
    let sent = outbox.due(0, &to, &mut dice, &mut |_, _| {});
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1]);
    outbox.delivered("evt_c", true, 5, &WebhookRetry::default());
    assert_eq!(outbox.next_due_ms(), None, "one copy still out");
    outbox.delivered("evt_c", false, 6, &WebhookRetry::default());
    assert_eq!(outbox.next_due_ms(), None, "accepted once is delivered");
}

#[test]
fn reordering_holds_back_and_shuffles() {
    let mut dice = SplitMix64::new(4);
    let mut outbox = Outbox::default();
    let reorder = Behaviour {
        webhook_reorder: true,
        ..Behaviour::default()
    };
    for i in 0..10 {
        outbox.push(
            Format::Json,
            &event(&format!("evt_{i}")),
            0,
            &reorder,
            &mut dice,
        );
    }
    let late = REORDER_MAX_DELAY_MS as i64;
    let sent = outbox.due(late, &sender(reorder), &mut dice, &mut |_, _| {});
    let order: Vec<&str> = sent.iter().map(|w| w.event_id.as_str()).collect();
    assert_eq!(order.len(), 10);
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_ne!(order, sorted, "{order:?}");
}

#[test]
fn without_a_url_due_events_are_given_up() {
    let (mut dice, mut outbox, to) = queued(5, Format::Soap, "evt_d", 0, Behaviour::default());
    let nowhere = Sender { url: None, ..to };
    assert!(
        outbox
            .due(0, &nowhere, &mut dice, &mut |_, _| panic!())
            .is_empty()
    );
    assert_eq!(outbox.next_due_ms(), None);
}

#[test]
fn payout_events_name_the_payout_and_no_payment() {
    let paid = Notification {
        subject_id: "po_1".into(),
        currency: "EUR".into(),
        amount: 5_000,
        ..notification(EventKind::PayoutPaid, None, None)
    };
    assert_eq!(
        render(Format::Json, &paid),
        r#"{"id":"evt_1","type":"payout.paid","payout_id":"po_1","reference":"dep_1","amount":5000,"currency":"EUR","failure_code":null,"created":1700000000}"#
    );
    let failed = Notification {
        failure_code: Some("account_closed".into()),
        kind: EventKind::PayoutFailed,
        ..paid
    };
    assert_eq!(
        render(Format::Soap, &failed),
        r#"<p:Notification xmlns:p="urn:paygate:sim:psp"><p:EventId>evt_1</p:EventId><p:Type>PAYOUT_FAILED</p:Type><p:PayoutId>po_1</p:PayoutId><p:Reference>dep_1</p:Reference><p:Amount>5000</p:Amount><p:Currency>EUR</p:Currency><p:ReasonCode>account_closed</p:ReasonCode></p:Notification>"#
    );
    assert!(render(Format::Json, &failed).contains(r#""type":"payout.failed""#));
}
