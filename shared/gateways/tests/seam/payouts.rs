//! Payouts through the real connectors and the simulator's core: each magic destination
//! end to end (create, lookups, the webhook as paygate parses it), idempotency, keys in
//! flight and lookup lag. A lost reply and a forgotten key are scenarios of `seam.rs`
//! that run a payment and a payout alike.

use super::*;
use paygate_domain::ports::gateway::{GatewayNotification, NotifiedOutcome};
use paygate_gateways::parse_notification;

/// A quiet PSP that sends its webhooks (to nowhere real: they are handed to the test),
/// and a connector to it.
fn connected_with_webhooks(
    format: WireFormat,
    seed: u64,
) -> (Arc<SimulatedPsp>, Arc<dyn GatewayConnector>) {
    let (psp, connector) = connected(format, seed, |_| {});
    psp.state()
        .psp
        .set_webhook_base_url(Some("https://paygate.test".into()));
    (psp, connector)
}

/// Lets `ms` pass, then takes the webhooks due, reports each one accepted, and reads them
/// the way paygate's webhook function does.
fn webhooks_after(psp: &SimulatedPsp, format: WireFormat, ms: i64) -> Vec<GatewayNotification> {
    psp.advance(ms);
    let mut state = psp.state();
    let now = state.now;
    let State {
        psp: core, dice, ..
    } = &mut *state;
    let due = core.due_webhooks(now, dice);
    due.iter()
        .map(|hook| {
            assert!(hook.url.ends_with("/webhooks/sim"), "{}", hook.url);
            core.webhook_delivered(&hook.event_id, true, now);
            parse_notification(format, &hook.body)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&hook.body)))
        })
        .collect()
}

/// What paygate expects of a payout's webhook: the payout as the PSP's id, the payout's
/// id as the reference, its amount and currency.
fn notified(
    request: &PaymentRequest,
    external_id: &str,
) -> impl Fn(NotifiedOutcome) -> (String, String, Money, NotifiedOutcome) {
    let expected = (
        external_id.to_owned(),
        request.deposit_id.to_string(),
        Money {
            amount: request.amount,
            currency: request.currency,
        },
    );
    move |outcome| (expected.0.clone(), expected.1.clone(), expected.2, outcome)
}

fn seen(notification: &GatewayNotification) -> (String, String, Money, NotifiedOutcome) {
    (
        notification.external_id.clone(),
        notification.reference.clone(),
        notification.charged,
        notification.outcome.clone(),
    )
}

/// The wire request a connector would send for `request`'s payout (a held, competing call).
fn raw_payout(format: WireFormat, request: &PaymentRequest) -> http::Request<Vec<u8>> {
    let key = &request.idempotency_key;
    let reference = request.deposit_id;
    match format {
        WireFormat::Json => http::Request::post("/v1/payouts")
            .header("Idempotency-Key", key)
            .body(
                format!(
                    r#"{{"amount":10099,"currency":"AED","country":"AE","reference":"{reference}"}}"#
                )
                .into_bytes(),
            )
            .unwrap(),
        WireFormat::Soap => soap(
            "CreatePayout",
            &format!(
                "<p:IdempotencyKey>{key}</p:IdempotencyKey><p:Amount>10099</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country><p:Reference>{reference}</p:Reference>"
            ),
        ),
    }
}

fn found(state: PaymentState, external_id: &str) -> StatusOutcome {
    StatusOutcome::Found {
        external_id: external_id.to_owned(),
        state,
        charged: Some(Money {
            amount: Amount::new(10_099).unwrap(),
            currency: Currency::parse("AED").unwrap(),
        }),
    }
}

/// What the PSP says of a payout asked for by its idempotency key, and by `external_id`.
async fn by_key_and_by_id(
    connector: &dyn GatewayConnector,
    key: &str,
    external_id: &str,
) -> [StatusOutcome; 2] {
    [
        connector.payout_status(key, None).await,
        connector.payout_status("unused", Some(external_id)).await,
    ]
}

for_both_formats!(
    ba_success_is_accepted_then_paid_by_webhook,
    ba_reject_is_declined_at_once_and_sends_no_webhook,
    ba_fail_webhook_is_accepted_then_failed_by_webhook,
    the_same_payout_key_is_one_payout,
    an_unknown_payout_is_not_found_and_no_payment_is_a_payout,
    a_payout_key_in_flight_is_ambiguous_on_409_and_transient_on_429,
    payout_lookups_lag_behind_creation,
);

async fn ba_success_is_accepted_then_paid_by_webhook(format: WireFormat) {
    let (psp, connector) = connected_with_webhooks(format, 11);
    let request = payout("ba_success");

    let external_id = payout_accepted(&*connector, &request).await;
    assert!(external_id.starts_with("po_"), "{external_id}");
    assert_eq!(psp.charges(&request.idempotency_key), 1);
    let pending = found(PaymentState::Pending, &external_id);
    assert_eq!(
        by_key_and_by_id(&*connector, &request.idempotency_key, &external_id).await,
        [pending.clone(), pending]
    );

    let webhooks = webhooks_after(&psp, format, 1_000);
    let expected = notified(&request, &external_id);
    assert_eq!(
        webhooks.iter().map(seen).collect::<Vec<_>>(),
        [expected(NotifiedOutcome::PaymentSucceeded)]
    );
    assert!(webhooks[0].event_id.starts_with("evt_"));
    assert_eq!(
        connector
            .payout_status(&request.idempotency_key, Some(&external_id))
            .await,
        found(PaymentState::Succeeded, &external_id)
    );
    assert_eq!(psp.state().psp.payouts()[0].events[0].attempts, 1);
}

async fn ba_reject_is_declined_at_once_and_sends_no_webhook(format: WireFormat) {
    let (psp, connector) = connected_with_webhooks(format, 12);
    let request = payout("ba_reject");

    let outcome = connector.create_payout(&request).await;
    assert_outcome!(
        &outcome,
        PaymentOutcome::Declined { code, .. } if code == "destination_rejected"
    );
    // Final, and the same again for the same key: nothing was paid out.
    assert_eq!(connector.create_payout(&request).await, outcome);
    assert_eq!(psp.charges(&request.idempotency_key), 0);
    assert_outcome!(
        by_key(&*connector, Direction::Payout, &request).await,
        StatusOutcome::Found {
            state: PaymentState::Declined { code },
            ..
        } if code == "destination_rejected"
    );
    assert!(webhooks_after(&psp, format, 5_000).is_empty());
}

async fn ba_fail_webhook_is_accepted_then_failed_by_webhook(format: WireFormat) {
    let (psp, connector) = connected_with_webhooks(format, 13);
    let request = payout("ba_fail_webhook");

    let external_id = payout_accepted(&*connector, &request).await;
    assert_eq!(psp.charges(&request.idempotency_key), 1);
    let webhooks = webhooks_after(&psp, format, 1_000);
    let expected = notified(&request, &external_id);
    let failed = NotifiedOutcome::PaymentFailed {
        code: "account_closed".into(),
    };
    assert_eq!(
        webhooks.iter().map(seen).collect::<Vec<_>>(),
        [expected(failed)]
    );
    assert_eq!(
        connector.payout_status("unused", Some(&external_id)).await,
        found(
            PaymentState::Failed {
                code: "account_closed".into()
            },
            &external_id
        )
    );
}

async fn the_same_payout_key_is_one_payout(format: WireFormat) {
    let (psp, connector) = connected(format, 14, |_| {});
    let request = payout("ba_success");

    let first = payout_accepted(&*connector, &request).await;
    assert_eq!(payout_accepted(&*connector, &request).await, first);
    assert_eq!(psp.charges(&request.idempotency_key), 1);
    assert_eq!(psp.state().psp.payouts().len(), 1);
    // A payment under the same key is another thing altogether.
    assert_ne!(accepted(&*connector, &request).await, first);
}

async fn an_unknown_payout_is_not_found_and_no_payment_is_a_payout(format: WireFormat) {
    let (_, connector) = connected(format, 15, |_| {});
    let request = payment("tok_success");
    let payment_id = accepted(&*connector, &request).await;

    assert_eq!(
        by_key_and_by_id(&*connector, &request.idempotency_key, &payment_id).await,
        [StatusOutcome::NotFound, StatusOutcome::NotFound]
    );
    let paid_out = payout_accepted(&*connector, &payout("ba_success")).await;
    assert_eq!(
        connector.payment_status("unused", Some(&paid_out)).await,
        StatusOutcome::NotFound
    );
    // Never refundable: the PSP knows no payment by that id.
    assert_outcome!(
        connector.refund(&refund_of(&request, &paid_out, 100)).await,
        RefundOutcome::Rejected { .. }
    );
}

async fn a_payout_key_in_flight_is_ambiguous_on_409_and_transient_on_429(format: WireFormat) {
    for (status, seed) in [(409, 18), (429, 19)] {
        let (psp, connector) = connected(format, seed, in_flight(status));
        let request = payout("ba_success");

        psp.hold(raw_payout(format, &request));
        let outcome = connector.create_payout(&request).await;
        if status == 409 {
            // Never a decline: the first request may well pay out (SOAP: a client fault).
            assert_outcome!(outcome, PaymentOutcome::Ambiguous { .. }, "{status}");
        } else {
            assert_outcome!(outcome, PaymentOutcome::Transient { .. }, "{status}");
        }
        psp.advance(200);
        assert_eq!(psp.charges(&request.idempotency_key), 1, "{status}");
        payout_accepted(&*connector, &request).await;
        assert_eq!(psp.charges(&request.idempotency_key), 1, "{status}");
    }
}

async fn payout_lookups_lag_behind_creation(format: WireFormat) {
    let (psp, connector) = connected(format, 20, |knobs| knobs.lookup_lag_ms = 500);
    let request = payout("ba_success");
    let external_id = payout_accepted(&*connector, &request).await;

    // Right after an accepted payout, the PSP says "no such payout": no proof of anything.
    assert_eq!(
        by_key_and_by_id(&*connector, &request.idempotency_key, &external_id).await,
        [StatusOutcome::NotFound, StatusOutcome::NotFound]
    );
    psp.advance(500);
    assert_eq!(
        connector.payout_status("unused", Some(&external_id)).await,
        found(PaymentState::Pending, &external_id)
    );
}
