//! Both connectors against the real gateway simulator (real HTTP servers on loopback
//! speaking WIRE.md). Every scenario runs once per wire format. Payouts are in
//! `simulator/payouts.rs`, but for the answers that leave a payment's or a payout's fate
//! unknown, which are one scenario run both ways.

mod common;

use common::{
    accepted, assert_outcome, by_key, charged, for_both_formats, payment, refund_of, simulated,
};
use gateway_simulator::{Behaviour, GatewaySpec, RunningGateway};
use paygate_domain::deposit::Direction;
use paygate_domain::ports::gateway::{
    GatewayConnector, HealthOutcome, PaymentOutcome, PaymentRequest, PaymentState, RefundOutcome,
    RefundSettlement, RefundStatusOutcome, StatusOutcome,
};
use paygate_domain::ports::gateway::{look_up, send};
use paygate_domain::{Amount, Currency, Money};
use paygate_gateways::{ConnectorConfig, Timeouts, WireFormat, connector_for};
use paygate_kit::gateways::calm;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

#[path = "simulator/payouts.rs"]
mod payouts;

/// Settlement far in the future, so a payment stays `pending` while a test looks at it.
struct Psp {
    sim: RunningGateway,
    connector: Arc<dyn GatewayConnector>,
}

async fn psp(format: WireFormat) -> Psp {
    psp_with(format, Timeouts::default()).await
}

async fn psp_with(format: WireFormat, timeouts: Timeouts) -> Psp {
    let sim = gateway_simulator::spawn(GatewaySpec {
        name: format!("sim-{format}"),
        format: simulated(format),
        secret: "whsec_test".into(),
        bind: "127.0.0.1:0".parse().unwrap(),
        webhook_base_url: None,
    })
    .await
    .expect("simulator starts");
    sim.set_behaviour(calm());
    let connector = connector_for(
        format,
        ConnectorConfig {
            base_url: sim.base_url(),
            timeouts,
        },
    );
    Psp { sim, connector }
}

/// Polls the status of the payment (or payout) until it leaves `pending` (bounded: 5 s).
async fn settled_state(psp: &Psp, direction: Direction, key: &str) -> PaymentState {
    for _ in 0..100 {
        match look_up(&*psp.connector, direction, key, None).await {
            StatusOutcome::Found {
                state: PaymentState::Pending,
                ..
            } => tokio::time::sleep(Duration::from_millis(50)).await,
            StatusOutcome::Found { state, .. } => return state,
            other => panic!("expected Found, got {other:?}"),
        }
    }
    panic!("{} still pending after 5 s", direction.as_str());
}

for_both_formats!(
    tok_success_is_accepted_and_charged_once,
    tok_decline_is_declined_with_the_psp_code_and_not_charged,
    same_key_twice_returns_the_same_payment_and_charges_once,
    status_by_key_after_create_is_found_pending,
    status_follows_settlement_to_succeeded_or_failed,
    unknown_key_is_not_found,
    refund_is_accepted_and_an_excessive_one_rejected,
    outage_is_transient_and_nothing_is_charged,
    timeout_after_sending_is_ambiguous,
    ambiguous_payment_is_found_by_a_later_status_query,
    closed_port_is_transient_and_unhealthy,
    health_follows_the_gateway,
    refund_status_follows_the_refund,
    lost_reply_is_ambiguous_and_found_later,
    key_in_flight_409_is_ambiguous_and_429_transient,
    status_reports_the_captured_amount,
);

async fn tok_success_is_accepted_and_charged_once(format: WireFormat) {
    let psp = psp(format).await;
    let request = payment("tok_success");

    let external_id = accepted(&*psp.connector, &request).await;

    assert!(!external_id.is_empty());
    assert_eq!(psp.sim.charges(&request.idempotency_key), 1);
}

async fn tok_decline_is_declined_with_the_psp_code_and_not_charged(format: WireFormat) {
    let psp = psp(format).await;
    let request = payment("tok_decline");

    assert_outcome!(
        psp.connector.create_payment(&request).await,
        PaymentOutcome::Declined { code, .. } if code == "card_declined"
    );
    assert_eq!(psp.sim.charges(&request.idempotency_key), 0);
}

async fn same_key_twice_returns_the_same_payment_and_charges_once(format: WireFormat) {
    let psp = psp(format).await;
    let request = payment("tok_success");

    let first = accepted(&*psp.connector, &request).await;
    let second = accepted(&*psp.connector, &request).await;

    assert_eq!(first, second);
    assert_eq!(psp.sim.charges(&request.idempotency_key), 1);
}

async fn status_by_key_after_create_is_found_pending(format: WireFormat) {
    let psp = psp(format).await;
    let request = payment("tok_success");
    let external_id = accepted(&*psp.connector, &request).await;

    assert_outcome!(
        by_key(&*psp.connector, Direction::Deposit, &request).await,
        StatusOutcome::Found { external_id: found, state: PaymentState::Pending, .. }
            if *found == external_id
    );
}

async fn status_follows_settlement_to_succeeded_or_failed(format: WireFormat) {
    let psp = psp(format).await;
    psp.sim.set_behaviour(Behaviour {
        webhook_delay_ms: 50,
        ..Behaviour::default()
    });
    let succeeds = payment("tok_success");
    let fails = payment("tok_fail_webhook");
    accepted(&*psp.connector, &succeeds).await;
    accepted(&*psp.connector, &fails).await;

    assert_eq!(
        settled_state(&psp, Direction::Deposit, &succeeds.idempotency_key).await,
        PaymentState::Succeeded
    );
    assert_eq!(
        settled_state(&psp, Direction::Deposit, &fails.idempotency_key).await,
        PaymentState::Failed {
            code: "insufficient_funds".into()
        }
    );
}

async fn unknown_key_is_not_found(format: WireFormat) {
    let psp = psp(format).await;

    let status = psp
        .connector
        .payment_status(&format!("{}:1", Uuid::now_v7()), None)
        .await;

    assert_eq!(status, StatusOutcome::NotFound);
}

async fn refund_is_accepted_and_an_excessive_one_rejected(format: WireFormat) {
    let psp = psp(format).await;
    let request = payment("tok_success");
    let external_id = accepted(&*psp.connector, &request).await;

    let partial = refund_of(&request, &external_id, 500);
    let outcome = psp.connector.refund(&partial).await;
    let RefundOutcome::Accepted { refund_external_id } = outcome else {
        panic!("expected Accepted, got {outcome:?}");
    };
    assert!(!refund_external_id.is_empty());
    // The same refund key again is the same refund.
    assert_eq!(
        psp.connector.refund(&partial).await,
        RefundOutcome::Accepted { refund_external_id }
    );

    let too_much = refund_of(&request, &external_id, 10_000);
    assert_outcome!(
        psp.connector.refund(&too_much).await,
        RefundOutcome::Rejected { .. }
    );

    let unknown = refund_of(&request, "pay_does_not_exist", 100);
    assert_outcome!(
        psp.connector.refund(&unknown).await,
        RefundOutcome::Rejected { .. }
    );
}

async fn outage_is_transient_and_nothing_is_charged(format: WireFormat) {
    let psp = psp(format).await;
    let request = payment("tok_success");
    psp.sim.set_behaviour(Behaviour {
        outage: true,
        ..calm()
    });

    nothing_gets_through(&*psp.connector, &request).await;
    assert_eq!(psp.sim.charges(&request.idempotency_key), 0);

    // Back up: the same key now charges, once.
    psp.sim.set_behaviour(calm());
    accepted(&*psp.connector, &request).await;
    assert_eq!(psp.sim.charges(&request.idempotency_key), 1);
}

/// A connector that gives up after 300 ms, on a simulator that answers after 1 s.
async fn slow_psp(format: WireFormat) -> Psp {
    let timeouts = Timeouts {
        request: Duration::from_millis(300),
        ..Timeouts::default()
    };
    let psp = psp_with(format, timeouts).await;
    psp.sim.set_behaviour(Behaviour {
        latency_ms: 1_000,
        ..calm()
    });
    psp
}

async fn timeout_after_sending_is_ambiguous(format: WireFormat) {
    let psp = slow_psp(format).await;

    assert_outcome!(
        psp.connector.create_payment(&payment("tok_success")).await,
        PaymentOutcome::Ambiguous { .. }
    );

    assert_outcome!(
        psp.connector.payment_status("any:1", None).await,
        StatusOutcome::Unknown { .. }
    );
}

/// A payment and a payout that each went through with answers that leave them unknown;
/// the request the same way again (tok_success, ba_success).
const BOTH_WAYS: [(Direction, &str); 2] = [
    (Direction::Deposit, "tok_success"),
    (Direction::Payout, "ba_success"),
];

/// Sends `request` the `direction` way; the answer must leave it unknown.
async fn send_ambiguously(
    connector: &dyn GatewayConnector,
    direction: Direction,
    request: &PaymentRequest,
) {
    assert_outcome!(
        send(connector, direction, request).await,
        PaymentOutcome::Ambiguous { .. },
        "{direction:?}"
    );
}

async fn ambiguous_payment_is_found_by_a_later_status_query(format: WireFormat) {
    for (direction, token) in BOTH_WAYS {
        let psp = slow_psp(format).await;
        let request = payment(token);
        let key = &request.idempotency_key;

        send_ambiguously(&*psp.connector, direction, &request).await;
        assert_outcome!(
            look_up(&*psp.connector, direction, key, None).await,
            StatusOutcome::Unknown { .. },
            "{direction:?}"
        );

        // The PSP goes on with the request after we stopped waiting: asking (never paying
        // again elsewhere) is the only safe next step, and it finds the payment or payout.
        psp.sim.set_behaviour(calm());
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        assert_outcome!(
            look_up(&*psp.connector, direction, key, None).await,
            StatusOutcome::Found {
                state: PaymentState::Pending,
                ..
            },
            "{direction:?}"
        );
        assert_eq!(psp.sim.charges(key), 1, "{direction:?}");
    }
}

async fn closed_port_is_transient_and_unhealthy(format: WireFormat) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let connector = connector_for(format, ConnectorConfig::new(format!("http://{addr}")));
    let request = payment("tok_success");

    nothing_gets_through(&*connector, &request).await;
}

/// Asserts that nothing reaches the PSP: creating, paying out and refunding are transient
/// (nothing was done), the statuses are unknown and the PSP unhealthy.
async fn nothing_gets_through(connector: &dyn GatewayConnector, request: &PaymentRequest) {
    for direction in [Direction::Deposit, Direction::Payout] {
        assert_outcome!(
            send(connector, direction, request).await,
            PaymentOutcome::Transient { .. },
            "{direction:?}"
        );
        assert_outcome!(
            look_up(connector, direction, &request.idempotency_key, None).await,
            StatusOutcome::Unknown { .. },
            "{direction:?}"
        );
    }
    let refund = refund_of(request, "pay_any", 100);
    assert_outcome!(
        connector.refund(&refund).await,
        RefundOutcome::Transient { .. }
    );
    assert_outcome!(connector.health().await, HealthOutcome::Unhealthy { .. });
}

async fn health_follows_the_gateway(format: WireFormat) {
    let psp = psp(format).await;

    let HealthOutcome::Healthy { latency } = psp.connector.health().await else {
        panic!("expected Healthy");
    };
    assert!(latency < Duration::from_secs(1));

    psp.sim.set_behaviour(Behaviour {
        health_down: true,
        ..calm()
    });
    assert_outcome!(
        psp.connector.health().await,
        HealthOutcome::Unhealthy { reason, .. } if reason == "http 503"
    );

    // Slower than the health deadline (1 s) is unhealthy too.
    psp.sim.set_behaviour(Behaviour {
        latency_ms: 1_500,
        ..calm()
    });
    assert_outcome!(
        psp.connector.health().await,
        HealthOutcome::Unhealthy { latency, .. } if *latency < Duration::from_millis(1_400)
    );
}

async fn refund_status_follows_the_refund(format: WireFormat) {
    let psp = psp(format).await;
    let request = payment("tok_success");
    let external_id = accepted(&*psp.connector, &request).await;
    let refund = refund_of(&request, &external_id, 500);
    let RefundOutcome::Accepted { refund_external_id } = psp.connector.refund(&refund).await else {
        panic!("refund refused");
    };

    let pending = RefundStatusOutcome::Found {
        refund_external_id: refund_external_id.clone(),
        state: RefundSettlement::Pending,
    };
    assert_eq!(
        psp.connector
            .refund_status(&refund.idempotency_key, None)
            .await,
        pending
    );
    assert_eq!(
        psp.connector
            .refund_status("unused", Some(&refund_external_id))
            .await,
        pending
    );
    assert_eq!(
        psp.connector
            .refund_status(&format!("{}:refund:none", request.deposit_id), None)
            .await,
        RefundStatusOutcome::NotFound
    );
}

async fn lost_reply_is_ambiguous_and_found_later(format: WireFormat) {
    for (direction, token) in BOTH_WAYS {
        let psp = psp(format).await;
        psp.sim.set_behaviour(Behaviour {
            lost_reply_rate: 1.0,
            ..calm()
        });
        let request = payment(token);
        let key = &request.idempotency_key;

        send_ambiguously(&*psp.connector, direction, &request).await;
        assert_eq!(psp.sim.charges(key), 1, "{direction:?}");
        let found = look_up(&*psp.connector, direction, key, None).await;
        let StatusOutcome::Found { external_id, .. } = found else {
            panic!("the {direction:?} is not found: {found:?}");
        };
        let made = match direction {
            Direction::Deposit => psp.sim.payments()[0].id.clone(),
            Direction::Payout => psp.sim.payouts()[0].id.clone(),
        };
        assert_eq!(made, external_id);
    }
}

async fn key_in_flight_409_is_ambiguous_and_429_transient(format: WireFormat) {
    let psp = psp(format).await;
    for (direction, token) in BOTH_WAYS {
        for (status, transient) in [(409, false), (429, true)] {
            psp.sim.set_behaviour(Behaviour {
                latency_ms: 400,
                in_flight_key_status: status,
                ..calm()
            });
            let request = payment(token);
            let (first, second) = tokio::join!(send(&*psp.connector, direction, &request), async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                send(&*psp.connector, direction, &request).await
            });
            assert_outcome!(
                first,
                PaymentOutcome::Accepted { .. },
                "{direction:?} {status}"
            );
            if transient {
                assert_outcome!(
                    second,
                    PaymentOutcome::Transient { .. },
                    "{direction:?} {status}"
                );
            } else {
                assert_outcome!(
                    second,
                    PaymentOutcome::Ambiguous { .. },
                    "{direction:?} {status}"
                );
            }
            assert_eq!(psp.sim.charges(&request.idempotency_key), 1);
        }
    }
}

async fn status_reports_the_captured_amount(format: WireFormat) {
    let psp = psp(format).await;
    psp.sim.set_behaviour(Behaviour {
        capture_mismatch_rate: 1.0,
        ..calm()
    });
    let request = payment("tok_success");
    accepted(&*psp.connector, &request).await;

    assert_eq!(
        charged(&*psp.connector, &request).await,
        Some(Money {
            amount: Amount::new(5_049).unwrap(),
            currency: Currency::parse("AED").unwrap(),
        })
    );
}
