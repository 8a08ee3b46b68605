//! The core driven step by step, as a lifecycle simulation would: simulated time, seeded
//! dice, no sockets.

use super::seeded::Seeded;
use super::*;

mod orders;
mod payments;
mod payouts;
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

/// A PSP under test with the seeded dice it rolls.
type TestPsp = Seeded<Psp>;

impl TestPsp {
    /// A PSP whose knobs are the defaults but for what `knobs` turns.
    fn new(seed: u64, format: Format, knobs: impl FnOnce(&mut Behaviour)) -> Self {
        let mut behaviour = Behaviour::default();
        knobs(&mut behaviour);
        let mut psp = Psp::new("acme", format, "whsec_test");
        psp.set_behaviour(behaviour);
        Self {
            inner: psp,
            dice: SplitMix64::new(seed),
        }
    }

    /// As [`TestPsp::new`], sending its webhooks to `http://paygate.test` (they are handed
    /// to the test).
    fn hooked(seed: u64, format: Format, knobs: impl FnOnce(&mut Behaviour)) -> Self {
        let mut psp = Self::new(seed, format, knobs);
        psp.set_webhook_base_url(Some("http://paygate.test".into()));
        psp
    }

    fn arrive(&mut self, request: &http::Request<Vec<u8>>, now: i64) -> Arrival {
        self.inner.arrive(request, now, &mut self.dice)
    }

    fn finish(&mut self, ticket: Ticket, now: i64) -> Finished {
        self.inner.finish(ticket, now, &mut self.dice)
    }

    fn due_webhooks(&mut self, now: i64) -> Vec<Webhook> {
        self.inner.due_webhooks(now, &mut self.dice)
    }

    /// Arrives and finishes at once (no latency configured), returning status and body.
    fn call(&mut self, request: &http::Request<Vec<u8>>, now: i64) -> (u16, String) {
        let response = match self.arrive(request, now) {
            Arrival::Answered(response) => response,
            Arrival::Working {
                ticket,
                ready_at_ms,
            } => {
                let finished = self.finish(ticket, ready_at_ms);
                assert!(!finished.lost, "reply lost");
                finished.response
            }
            Arrival::WaitForKey { key } => panic!("waits for {key}"),
        };
        (
            response.status().as_u16(),
            String::from_utf8(response.into_body()).unwrap(),
        )
    }
}

fn create(key: &str, token: &str, amount: i64) -> http::Request<Vec<u8>> {
    let body = json!({"amount": amount, "currency": "AED", "country": "AE", "reference": "dep_1", "token": token});
    http::Request::post("http://psp.test/v1/payments")
        .header("Idempotency-Key", key)
        .header("Content-Type", "application/json")
        .body(body.to_string().into_bytes())
        .unwrap()
}

fn refund(key: &str, payment_id: &str, amount: i64) -> http::Request<Vec<u8>> {
    let body = json!({"payment_id": payment_id, "amount": amount});
    http::Request::post("/v1/refunds")
        .header("Idempotency-Key", key)
        .body(body.to_string().into_bytes())
        .unwrap()
}

fn payout(key: &str, destination: &str, amount: i64) -> http::Request<Vec<u8>> {
    let body = json!({"amount": amount, "currency": "EUR", "country": "DE", "reference": "po_1", "destination": destination});
    http::Request::post("/v1/payouts")
        .header("Idempotency-Key", key)
        .body(body.to_string().into_bytes())
        .unwrap()
}

fn get(uri: &str) -> http::Request<Vec<u8>> {
    http::Request::get(uri).body(Vec::new()).unwrap()
}

fn soap(operation: &str, fields: &str) -> http::Request<Vec<u8>> {
    let xml = format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp"><soap:Body><p:{operation}>{fields}</p:{operation}></soap:Body></soap:Envelope>"#
    );
    http::Request::post("/soap")
        .header("SOAPAction", format!("\"{operation}\""))
        .body(xml.into_bytes())
        .unwrap()
}

/// A SOAP status lookup by the caller's idempotency key.
fn soap_by_key(operation: &str, key: &str) -> http::Request<Vec<u8>> {
    soap(
        operation,
        &format!("<p:IdempotencyKey>{key}</p:IdempotencyKey>"),
    )
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

fn working(arrival: Arrival) -> (Ticket, i64) {
    match arrival {
        Arrival::Working {
            ticket,
            ready_at_ms,
        } => (ticket, ready_at_ms),
        other => panic!("expected work, got {other:?}"),
    }
}
