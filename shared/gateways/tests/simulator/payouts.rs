//! Payouts through both connectors against the real simulator over HTTP: each magic
//! destination, idempotency, lookups (the answers that leave a payout's fate unknown are
//! run both ways in `simulator.rs`).

use super::*;
use common::{by_key, payout, payout_accepted};

for_both_formats!(
    each_destination_settles_as_the_wire_says,
    ba_reject_is_declined_at_once_and_pays_nothing_out,
    the_same_key_twice_is_one_payout,
    a_payout_is_found_by_key_and_id_with_its_amount,
    an_unknown_payout_key_is_not_found,
    injected_errors_pay_nothing_out_until_they_stop,
    a_payout_is_never_refundable,
);

async fn each_destination_settles_as_the_wire_says(format: WireFormat) {
    let psp = psp(format).await;
    psp.sim.set_behaviour(Behaviour {
        webhook_delay_ms: 50,
        ..Behaviour::default()
    });
    let paid = payout("ba_success");
    let fails = payout("ba_fail_webhook");
    let unnamed = payout("ba_anything");
    for request in [&paid, &fails, &unnamed] {
        payout_accepted(&*psp.connector, request).await;
        assert_eq!(psp.sim.charges(&request.idempotency_key), 1);
    }

    let settled = |request: &PaymentRequest| {
        let key = request.idempotency_key.clone();
        let psp = &psp;
        async move { settled_state(psp, Direction::Payout, &key).await }
    };
    assert_eq!(settled(&paid).await, PaymentState::Succeeded);
    assert_eq!(settled(&unnamed).await, PaymentState::Succeeded);
    assert_eq!(
        settled(&fails).await,
        PaymentState::Failed {
            code: "account_closed".into()
        }
    );
}

async fn ba_reject_is_declined_at_once_and_pays_nothing_out(format: WireFormat) {
    let psp = psp(format).await;
    let request = payout("ba_reject");

    assert_outcome!(
        psp.connector.create_payout(&request).await,
        PaymentOutcome::Declined { code, .. } if code == "destination_rejected"
    );
    assert_eq!(psp.sim.charges(&request.idempotency_key), 0);
    assert_outcome!(
        by_key(&*psp.connector, Direction::Payout, &request).await,
        StatusOutcome::Found {
            state: PaymentState::Declined { code },
            ..
        } if code == "destination_rejected"
    );
}

async fn the_same_key_twice_is_one_payout(format: WireFormat) {
    let psp = psp(format).await;
    let request = payout("ba_success");

    let first = payout_accepted(&*psp.connector, &request).await;
    let second = payout_accepted(&*psp.connector, &request).await;

    assert_eq!(first, second);
    assert_eq!(psp.sim.charges(&request.idempotency_key), 1);
    assert_eq!(psp.sim.payouts().len(), 1);
}

async fn a_payout_is_found_by_key_and_id_with_its_amount(format: WireFormat) {
    let psp = psp(format).await;
    let request = payout("ba_success");
    let external_id = payout_accepted(&*psp.connector, &request).await;

    let expected = StatusOutcome::Found {
        external_id: external_id.clone(),
        state: PaymentState::Pending,
        charged: Some(Money {
            amount: request.amount,
            currency: request.currency,
        }),
    };
    assert_eq!(
        by_key(&*psp.connector, Direction::Payout, &request).await,
        expected
    );
    assert_eq!(
        psp.connector
            .payout_status("unused", Some(&external_id))
            .await,
        expected
    );
    let truth = &psp.sim.payouts()[0];
    assert_eq!(
        (truth.id.as_str(), truth.reference.clone()),
        (external_id.as_str(), request.deposit_id.to_string())
    );
}

async fn an_unknown_payout_key_is_not_found(format: WireFormat) {
    let psp = psp(format).await;

    assert_eq!(
        psp.connector
            .payout_status(&format!("{}:1", Uuid::now_v7()), None)
            .await,
        StatusOutcome::NotFound
    );
    let unknown_id = format!("po_{}", "0".repeat(32));
    assert_eq!(
        psp.connector
            .payout_status("unused", Some(&unknown_id))
            .await,
        StatusOutcome::NotFound
    );
}

async fn injected_errors_pay_nothing_out_until_they_stop(format: WireFormat) {
    let psp = psp(format).await;
    let request = payout("ba_success");
    psp.sim.set_behaviour(Behaviour {
        error_rate: 1.0,
        ..calm()
    });
    assert_outcome!(
        psp.connector.create_payout(&request).await,
        PaymentOutcome::Transient { .. }
    );
    assert_eq!(psp.sim.charges(&request.idempotency_key), 0);

    psp.sim.set_behaviour(calm());
    payout_accepted(&*psp.connector, &request).await;
    assert_eq!(psp.sim.charges(&request.idempotency_key), 1);
}

async fn a_payout_is_never_refundable(format: WireFormat) {
    let psp = psp(format).await;
    let request = payout("ba_success");
    let external_id = payout_accepted(&*psp.connector, &request).await;

    // The PSP's own "no such payment".
    let not_found = match format {
        WireFormat::Json => "not_found",
        WireFormat::Soap => "NotFound",
    };
    let refund = refund_of(&request, &external_id, 100);
    assert_outcome!(
        psp.connector.refund(&refund).await,
        RefundOutcome::Rejected { code, .. } if code == not_found
    );
    assert_eq!(psp.sim.charges(&refund.idempotency_key), 0);
}
