//! The real connectors over the `HttpExchange` seam, against the simulator's deterministic
//! PSP core in-process: simulated time, seeded dice, no sockets. Every scenario runs once
//! per wire format. Payouts are in `seam/payouts.rs`.

mod common;

use async_trait::async_trait;
use common::{
    accepted, assert_outcome, by_key, charged, for_both_formats, payment, payout, payout_accepted,
    refund_of, simulated,
};
use gateway_simulator::{Arrival, Behaviour, Finished, Psp, SplitMix64, Ticket};
use paygate_domain::deposit::Direction;
use paygate_domain::ports::gateway::{
    GatewayConnector, HealthOutcome, PaymentOutcome, PaymentRequest, PaymentState, RefundOutcome,
    RefundRequest, RefundSettlement, RefundStatusOutcome, StatusOutcome,
};
use paygate_domain::{Amount, Currency, Money};
use paygate_gateways::{ConnectorConfig, HttpExchange, TransportError, WireFormat, connector_over};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[path = "seam/payouts.rs"]
mod payouts;

const T0: i64 = 1_700_000_000_000;

/// A PSP reached through the seam. A call finishes at once when the PSP's latency fits
/// the connector's deadline; otherwise the connector gives up at its deadline and the
/// work finishes later (on `advance`), exactly like a PSP that outlives a client timeout.
struct SimulatedPsp {
    state: Mutex<State>,
}

struct State {
    psp: Psp,
    dice: SplitMix64,
    now: i64,
    /// Work still going on: another client's request, or one a connector gave up on.
    pending: Vec<(Ticket, i64)>,
}

impl State {
    /// The request arrives now.
    fn arrive(&mut self, request: &http::Request<Vec<u8>>) -> Arrival {
        self.psp.arrive(request, self.now, &mut self.dice)
    }

    /// Finishes the work started for `ticket`, ready at `ready` (no earlier than now).
    fn finish(&mut self, ticket: Ticket, ready: i64) -> Finished {
        self.now = self.now.max(ready);
        self.psp.finish(ticket, self.now, &mut self.dice)
    }

    /// Finishes pending work ready by `until`, in time order.
    fn finish_until(&mut self, until: i64) {
        self.pending.sort_by_key(|&(_, ready)| ready);
        while self
            .pending
            .first()
            .is_some_and(|&(_, ready)| ready <= until)
        {
            let (ticket, ready) = self.pending.remove(0);
            self.finish(ticket, ready);
        }
    }
}

impl SimulatedPsp {
    fn new(format: WireFormat, behaviour: Behaviour, seed: u64) -> Arc<Self> {
        let mut psp = Psp::new("sim", simulated(format), "whsec_test");
        psp.set_behaviour(behaviour);
        Arc::new(Self {
            state: Mutex::new(State {
                psp,
                dice: SplitMix64::new(seed),
                now: T0,
                pending: Vec::new(),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn advance(&self, ms: i64) {
        let mut state = self.state();
        let until = state.now + ms;
        state.finish_until(until);
        state.now = until;
    }

    /// Another paygate instance's request for the same key, still being worked on.
    fn hold(&self, request: http::Request<Vec<u8>>) {
        let mut state = self.state();
        match state.arrive(&request) {
            Arrival::Working {
                ticket,
                ready_at_ms,
            } => state.pending.push((ticket, ready_at_ms)),
            other => panic!("the held request did not start: {other:?}"),
        }
    }

    fn set_behaviour(&self, behaviour: Behaviour) {
        self.state().psp.set_behaviour(behaviour);
    }

    fn charges(&self, key: &str) -> u32 {
        self.state().psp.charges(key)
    }
}

#[async_trait]
impl HttpExchange for SimulatedPsp {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        deadline: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let mut state = self.state();
        let give_up = state.now + deadline.as_millis() as i64;
        loop {
            match state.arrive(&request) {
                Arrival::Answered(response) => return Ok(response),
                Arrival::Working {
                    ticket,
                    ready_at_ms,
                } if ready_at_ms > give_up => {
                    state.pending.push((ticket, ready_at_ms));
                    state.now = give_up;
                    return Err(TransportError::Unanswered("timed out".into()));
                }
                Arrival::Working {
                    ticket,
                    ready_at_ms,
                } => {
                    let finished = state.finish(ticket, ready_at_ms);
                    if finished.lost {
                        return Err(TransportError::Unanswered("connection closed".into()));
                    }
                    return Ok(finished.response);
                }
                // Wait for the holder within our deadline, then ask again.
                Arrival::WaitForKey { .. } => {
                    let before = state.pending.len();
                    state.finish_until(give_up);
                    if state.pending.len() == before {
                        state.now = give_up;
                        return Err(TransportError::Unanswered("timed out".into()));
                    }
                }
            }
        }
    }
}

fn connector(format: WireFormat, psp: &Arc<SimulatedPsp>) -> Arc<dyn GatewayConnector> {
    connector_over(format, ConnectorConfig::new("https://psp.sim"), psp.clone())
}

/// The wire request a connector would send for `payment` (for a held, competing call).
fn raw_create(format: WireFormat, payment: &PaymentRequest) -> http::Request<Vec<u8>> {
    let key = &payment.idempotency_key;
    match format {
        WireFormat::Json => http::Request::post("/v1/payments")
            .header("Idempotency-Key", key)
            .body(
                format!(
                    r#"{{"amount":10099,"currency":"AED","country":"AE","reference":"{}"}}"#,
                    payment.deposit_id
                )
                .into_bytes(),
            )
            .unwrap(),
        WireFormat::Soap => soap(
            "CreatePayment",
            &format!(
                "<p:IdempotencyKey>{key}</p:IdempotencyKey><p:Amount>10099</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country><p:Reference>{}</p:Reference>",
                payment.deposit_id
            ),
        ),
    }
}

fn raw_refund(format: WireFormat, refund: &RefundRequest) -> http::Request<Vec<u8>> {
    let (key, id, amount) = (
        &refund.idempotency_key,
        &refund.external_id,
        refund.amount.minor(),
    );
    match format {
        WireFormat::Json => http::Request::post("/v1/refunds")
            .header("Idempotency-Key", key)
            .body(format!(r#"{{"payment_id":"{id}","amount":{amount}}}"#).into_bytes())
            .unwrap(),
        WireFormat::Soap => soap(
            "Refund",
            &format!(
                "<p:IdempotencyKey>{key}</p:IdempotencyKey><p:TransactionId>{id}</p:TransactionId><p:Amount>{amount}</p:Amount>"
            ),
        ),
    }
}

fn soap(operation: &str, fields: &str) -> http::Request<Vec<u8>> {
    let xml = format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp"><soap:Body><p:{operation}>{fields}</p:{operation}></soap:Body></soap:Envelope>"#
    );
    http::Request::post("/soap").body(xml.into_bytes()).unwrap()
}

fn quiet() -> Behaviour {
    Behaviour {
        webhook_delay_ms: 1_000,
        ..Behaviour::default()
    }
}

/// A PSP as [`quiet`] as can be but for what `knobs` turns, and a connector to it.
fn connected(
    format: WireFormat,
    seed: u64,
    knobs: impl FnOnce(&mut Behaviour),
) -> (Arc<SimulatedPsp>, Arc<dyn GatewayConnector>) {
    let mut behaviour = quiet();
    knobs(&mut behaviour);
    let psp = SimulatedPsp::new(format, behaviour, seed);
    let connector = connector(format, &psp);
    (psp, connector)
}

for_both_formats!(
    create_status_refund_and_refund_status,
    a_lost_reply_is_ambiguous_and_what_it_made_is_found_later,
    a_key_in_flight_answered_409_is_ambiguous,
    a_key_in_flight_answered_429_is_transient,
    a_key_in_flight_waited_for_gets_the_same_answer,
    lookup_lag_reports_not_found_for_a_while,
    a_forgotten_key_moves_money_a_second_time,
    a_mismatched_capture_is_reported_by_status,
    a_slow_psp_times_out_ambiguously_and_finishes_anyway,
);

async fn create_status_refund_and_refund_status(format: WireFormat) {
    let (psp, connector) = connected(format, 1, |_| {});
    let request = payment("tok_success");

    let external_id = accepted(&*connector, &request).await;
    let status = by_key(&*connector, Direction::Deposit, &request).await;
    assert_outcome!(
        status,
        StatusOutcome::Found { external_id: id, state: PaymentState::Pending, .. } if *id == external_id
    );

    let refund = refund_of(&request, &external_id, 500);
    let RefundOutcome::Accepted { refund_external_id } = connector.refund(&refund).await else {
        panic!("refund refused");
    };
    let pending = RefundStatusOutcome::Found {
        refund_external_id: refund_external_id.clone(),
        state: RefundSettlement::Pending,
    };
    assert_eq!(
        connector.refund_status(&refund.idempotency_key, None).await,
        pending
    );
    assert_eq!(
        connector
            .refund_status("unused", Some(&refund_external_id))
            .await,
        pending
    );
    assert_eq!(
        connector.refund_status("never:refund:x", None).await,
        RefundStatusOutcome::NotFound
    );

    psp.advance(1_000);
    assert_eq!(
        connector
            .refund_status(&refund.idempotency_key, Some(&refund_external_id))
            .await,
        RefundStatusOutcome::Found {
            refund_external_id,
            state: RefundSettlement::Succeeded
        }
    );
    assert_outcome!(
        connector.payment_status("x", Some(&external_id)).await,
        StatusOutcome::Found {
            state: PaymentState::Succeeded,
            ..
        }
    );
    assert_outcome!(connector.health().await, HealthOutcome::Healthy { .. });
}

/// A payment and a payout alike: the reply is lost, but the money moved and asking (never
/// charging or paying out elsewhere) finds it.
async fn a_lost_reply_is_ambiguous_and_what_it_made_is_found_later(format: WireFormat) {
    let (psp, connector) = connected(format, 2, |knobs| knobs.lost_reply_rate = 1.0);
    let (request, payout) = (payment("tok_success"), payout("ba_success"));

    let created = [
        ("payment", connector.create_payment(&request).await),
        ("payout", connector.create_payout(&payout).await),
    ];
    for (what, outcome) in created {
        assert_outcome!(outcome, PaymentOutcome::Ambiguous { .. }, "{what}");
    }
    let charges = [&request, &payout].map(|made| psp.charges(&made.idempotency_key));
    assert_eq!(charges, [1, 1]);
    assert_outcome!(
        by_key(&*connector, Direction::Payout, &payout).await,
        StatusOutcome::Found {
            state: PaymentState::Pending,
            ..
        }
    );
    let status = by_key(&*connector, Direction::Deposit, &request).await;
    let StatusOutcome::Found { external_id, .. } = status else {
        panic!("the charge is not found: {status:?}");
    };

    let refund = refund_of(&request, &external_id, 100);
    assert_outcome!(
        connector.refund(&refund).await,
        RefundOutcome::Ambiguous { .. }
    );
    assert_outcome!(
        connector.refund_status(&refund.idempotency_key, None).await,
        RefundStatusOutcome::Found {
            state: RefundSettlement::Pending,
            ..
        }
    );
}

/// Slow enough for a second call with the same key to arrive while the first is worked
/// on; the PSP answers it `status` (0: it waits for the first).
fn in_flight(status: u16) -> impl FnOnce(&mut Behaviour) {
    move |knobs| {
        knobs.latency_ms = 200;
        knobs.in_flight_key_status = status;
    }
}

/// A create, and then a refund of it, each sent while another instance's request with
/// the same key is still being worked on (the PSP answers `status` to the second one).
struct InFlight {
    psp: Arc<SimulatedPsp>,
    request: PaymentRequest,
    refund: RefundRequest,
    created: PaymentOutcome,
    refunded: RefundOutcome,
}

async fn while_in_flight(format: WireFormat, status: u16, seed: u64) -> InFlight {
    let (psp, connector) = connected(format, seed, in_flight(status));
    let request = payment("tok_success");

    psp.hold(raw_create(format, &request));
    let created = connector.create_payment(&request).await;
    psp.advance(200);
    let external_id = accepted(&*connector, &request).await;
    let refund = refund_of(&request, &external_id, 100);
    psp.hold(raw_refund(format, &refund));
    let refunded = connector.refund(&refund).await;
    InFlight {
        psp,
        request,
        refund,
        created,
        refunded,
    }
}

async fn a_key_in_flight_answered_409_is_ambiguous(format: WireFormat) {
    let run = while_in_flight(format, 409, 3).await;
    // Never a decline: the first request may well charge (SOAP: a client fault on 409).
    assert_outcome!(run.created, PaymentOutcome::Ambiguous { .. });
    assert_outcome!(run.refunded, RefundOutcome::Ambiguous { .. });
    run.psp.advance(200);
    assert_eq!(run.psp.charges(&run.request.idempotency_key), 1);
    assert_eq!(run.psp.charges(&run.refund.idempotency_key), 1);
}

async fn a_key_in_flight_answered_429_is_transient(format: WireFormat) {
    let run = while_in_flight(format, 429, 4).await;
    assert_outcome!(run.created, PaymentOutcome::Transient { .. });
    assert_outcome!(run.refunded, RefundOutcome::Transient { .. });
}

async fn a_key_in_flight_waited_for_gets_the_same_answer(format: WireFormat) {
    let (psp, connector) = connected(format, 5, in_flight(0));
    let request = payment("tok_success");

    psp.hold(raw_create(format, &request));
    let external_id = accepted(&*connector, &request).await;
    assert_eq!(psp.charges(&request.idempotency_key), 1);
    assert_eq!(accepted(&*connector, &request).await, external_id);
}

async fn lookup_lag_reports_not_found_for_a_while(format: WireFormat) {
    let (psp, connector) = connected(format, 6, |knobs| knobs.lookup_lag_ms = 500);
    let request = payment("tok_success");
    let external_id = accepted(&*connector, &request).await;

    // Right after an accepted create, the PSP says "no such payment": NotFound is no proof.
    assert_eq!(
        by_key(&*connector, Direction::Deposit, &request).await,
        StatusOutcome::NotFound
    );
    assert_eq!(
        connector.payment_status("x", Some(&external_id)).await,
        StatusOutcome::NotFound
    );
    let refund = refund_of(&request, &external_id, 100);
    assert_outcome!(
        connector.refund(&refund).await,
        RefundOutcome::Accepted { .. }
    );
    assert_eq!(
        connector.refund_status(&refund.idempotency_key, None).await,
        RefundStatusOutcome::NotFound
    );

    psp.advance(500);
    assert_outcome!(
        by_key(&*connector, Direction::Deposit, &request).await,
        StatusOutcome::Found { .. }
    );
    assert_outcome!(
        connector.refund_status(&refund.idempotency_key, None).await,
        RefundStatusOutcome::Found { .. }
    );
}

/// A payment and a payout alike: a key past its horizon is forgotten (its id is not), so
/// using it again moves the money again.
async fn a_forgotten_key_moves_money_a_second_time(format: WireFormat) {
    let (psp, connector) = connected(format, 7, |knobs| knobs.key_horizon_ms = 60_000);
    let connector = &*connector;
    let (payment, payout) = (payment("tok_success"), payout("ba_success"));
    let paid = accepted(connector, &payment).await;
    let paid_out = payout_accepted(connector, &payout).await;
    assert_eq!(accepted(connector, &payment).await, paid);
    assert_eq!(payout_accepted(connector, &payout).await, paid_out);

    psp.advance(60_000);
    let forgotten = [
        by_key(connector, Direction::Deposit, &payment).await,
        by_key(connector, Direction::Payout, &payout).await,
    ];
    let not_found = StatusOutcome::NotFound;
    assert_eq!(
        forgotten,
        [not_found.clone(), not_found],
        "the key is forgotten"
    );
    assert!(
        matches!(
            connector.payment_status("x", Some(&paid)).await,
            StatusOutcome::Found { .. }
        ),
        "the id is not"
    );
    assert_outcome!(
        connector.payout_status("unused", Some(&paid_out)).await,
        StatusOutcome::Found {
            state: PaymentState::Succeeded,
            ..
        },
        "the id is not"
    );
    let paid_again = accepted(connector, &payment).await;
    assert_ne!(paid_again, paid);
    assert_eq!(psp.charges(&payment.idempotency_key), 2);
    let paid_out_again = payout_accepted(connector, &payout).await;
    assert_ne!(paid_out_again, paid_out);
    assert_eq!(psp.charges(&payout.idempotency_key), 2);
    assert_outcome!(
        by_key(connector, Direction::Payout, &payout).await,
        StatusOutcome::Found { external_id, .. } if *external_id == paid_out_again
    );
}

async fn a_mismatched_capture_is_reported_by_status(format: WireFormat) {
    let (_, connector) = connected(format, 8, |knobs| knobs.capture_mismatch_rate = 1.0);
    let request = payment("tok_success");
    accepted(&*connector, &request).await;

    assert_eq!(
        charged(&*connector, &request).await,
        Some(Money {
            amount: Amount::new(5_049).unwrap(),
            currency: Currency::parse("AED").unwrap(),
        })
    );
}

async fn a_slow_psp_times_out_ambiguously_and_finishes_anyway(format: WireFormat) {
    let (psp, connector) = connected(format, 9, |_| {});
    let request = payment("tok_success");
    psp.set_behaviour(Behaviour {
        latency_ms: 6_000,
        ..quiet()
    });

    assert_outcome!(
        connector.create_payment(&request).await,
        PaymentOutcome::Ambiguous { .. }
    );
    assert_eq!(psp.charges(&request.idempotency_key), 0, "not yet");
    psp.set_behaviour(quiet());
    psp.advance(1_000);
    assert_eq!(psp.charges(&request.idempotency_key), 1);
    assert_outcome!(
        by_key(&*connector, Direction::Deposit, &request).await,
        StatusOutcome::Found { .. }
    );
}
