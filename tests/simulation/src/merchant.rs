//! Merchants: they create deposits over the real API, retry the way merchants do (the
//! same key mostly, a new key sometimes, or give up), send the same request twice at
//! once, refund what succeeded, sometimes twice at once, and pay out part of it
//! (sometimes more than their balance holds). Every answer is logged, so
//! the invariants can hold the API to what it said.

use crate::executor::{Death, Mortality};
use crate::world::{MERCHANTS, World};
use lambda_http::{Body, Request};
use paygate_domain::DepositId;
use std::cell::RefCell;
use std::rc::Rc;

/// What kind of request an answer was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    Deposit,
    Refund,
    Payout,
}

/// One answer a merchant got (or did not get).
#[derive(Debug, Clone)]
pub struct Answer {
    pub merchant: &'static str,
    /// The merchant's order this request is for (one order may use several keys).
    pub order: u32,
    pub ask: Ask,
    pub key: String,
    /// `None`: the connection died (the function crashed or timed out).
    pub status: Option<u16>,
    /// The deposit (or payout) named by a 2xx answer (a refund names its deposit too).
    pub deposit: Option<DepositId>,
    /// The refund id named by a 2xx refund answer.
    pub refund: Option<String>,
    /// The request's `X-Correlation-Id`: the events it wrote carry it.
    pub correlation: String,
    pub at_ms: i64,
}

/// Everything every merchant was told.
#[derive(Clone, Default)]
pub struct MerchantLog {
    answers: Rc<RefCell<Vec<Answer>>>,
    sent: Rc<std::cell::Cell<u64>>,
}

impl MerchantLog {
    /// A correlation id no other request of the run has.
    fn next_correlation(&self, merchant: usize) -> String {
        let n = self.sent.get() + 1;
        self.sent.set(n);
        format!("sim-{merchant}-{n}")
    }

    fn push(&self, answer: Answer) {
        self.answers.borrow_mut().push(answer);
    }

    pub fn answers(&self) -> Vec<Answer> {
        self.answers.borrow().clone()
    }
}

/// The amounts, pairs and tokens deposits are made of.
const PAIRS: [(&str, &str); 3] = [("AE", "AED"), ("US", "USD"), ("JP", "JPY")];
const TOKENS: [&str; 4] = [
    "tok_success",
    "tok_success",
    "tok_decline",
    "tok_fail_webhook",
];
/// The payout destinations: paid, refused at once, failed later by webhook.
const DESTINATIONS: [&str; 4] = ["ba_success", "ba_success", "ba_reject", "ba_fail_webhook"];

/// Starts every merchant order of the run at a random time within the fault window.
pub fn start(world: &Rc<World>) {
    let habits = world.config.merchants;
    for order in 0..habits.deposits as u32 {
        let at = world.now_ms() + world.between(0, world.config.faults_for_ms * 3 / 4);
        let merchant = order as usize % MERCHANTS.len();
        let world_for_task = world.clone();
        world.exec.spawn(&format!("order {order}"), async move {
            world_for_task.timers.sleep_until(at).await;
            place_order(&world_for_task, merchant, order).await;
        });
    }
}

async fn place_order(world: &Rc<World>, merchant: usize, order: u32) {
    let (country, currency) = PAIRS[world.between(0, PAIRS.len() as i64 - 1) as usize];
    let token = TOKENS[world.between(0, TOKENS.len() as i64 - 1) as usize];
    let amount = world.between(100, 50_000);
    let body = format!(
        r#"{{"amount":{amount},"currency":"{currency}","country":"{country}","customer_id":"cus_{order}","payment_method":{{"type":"card","token":"{token}"}},"metadata":{{"order":"{order}"}}}}"#
    );
    let mut key = format!("order-{order}");
    let mut keys_used = 1;
    let deposit = loop {
        let double = world.chance(world.config.merchants.double_submit);
        let create = |key: &str| {
            let key = key.to_owned();
            let body = body.clone();
            async move {
                send(
                    world,
                    merchant,
                    order,
                    Ask::Deposit,
                    &key,
                    "/v1/deposits",
                    body,
                )
                .await
            }
        };
        let sent = if double {
            // The same request twice at once, as a merchant's retry loop racing itself.
            let (a, b) = futures::join!(create(&key), create(&key));
            if a.deposit.is_some() { a } else { b }
        } else {
            create(&key).await
        };
        match sent.status {
            Some(202) => break sent.deposit,
            Some(409) => world.sleep(2_000).await,
            Some(status) if status < 500 => return,
            // A 5xx or a lost connection: what happened is unknown to the merchant.
            _ => {
                let habits = world.config.merchants;
                let roll = world.rng.borrow_mut().unit();
                if roll < habits.same_key_retry {
                    world.sleep(world.between(500, 30_000)).await;
                } else if roll < habits.same_key_retry + habits.new_key_retry && keys_used < 3 {
                    keys_used += 1;
                    key = format!("order-{order}-retry-{keys_used}");
                    world.note(format!("order {order}: retried with a new key {key}"));
                } else {
                    world.note(format!("order {order}: merchant gave up"));
                    return;
                }
            }
        }
    };
    let Some(deposit) = deposit else { return };
    let habits = world.config.merchants;
    let refunds = world.chance(habits.refund_rate);
    let payout = world.chance(habits.payout_rate);
    if !(refunds || payout) || !captured(world, merchant, deposit).await {
        return;
    }
    let payout = async {
        if payout {
            pay_out(world, merchant, order, (country, currency), amount).await;
        }
    };
    let refund = async {
        if refunds {
            refund(world, merchant, order, deposit).await;
        }
    };
    // Both at once, as a merchant's refund and its treasury's payout may race.
    futures::join!(payout, refund);
}

/// Waits (reading the deposit like a merchant would) until it is captured (`true`) or
/// failed, or until long after faults stopped.
async fn captured(world: &Rc<World>, merchant: usize, deposit: DepositId) -> bool {
    let deadline = world.now_ms() + world.config.faults_for_ms + 3_600_000;
    loop {
        if world.now_ms() > deadline {
            return false;
        }
        world.sleep(world.between(5_000, 60_000)).await;
        let status = read_status(world, merchant, deposit).await;
        match status.as_deref() {
            Some("succeeded") => return true,
            Some("failed") => return false,
            _ => {}
        }
    }
}

/// Pays out part of what the deposit took in its currency (one in five asks for far more
/// than any balance holds: refused, nothing written), retrying like a merchant.
async fn pay_out(
    world: &Rc<World>,
    merchant: usize,
    order: u32,
    (country, currency): (&str, &str),
    captured: i64,
) {
    let amount = if world.chance(0.2) {
        captured * 1_000
    } else {
        world.between(1, captured)
    };
    let destination = DESTINATIONS[world.between(0, DESTINATIONS.len() as i64 - 1) as usize];
    let body = format!(
        r#"{{"amount":{amount},"currency":"{currency}","country":"{country}","destination":{{"type":"bank_account","token":"{destination}"}},"metadata":{{"order":"{order}"}}}}"#
    );
    let key = format!("payout-{order}");
    let ask = async || {
        send(
            world,
            merchant,
            order,
            Ask::Payout,
            &key,
            "/v1/payouts",
            body.clone(),
        )
        .await
    };
    until_answered(world, ask).await;
}

/// Asks for one refund of the captured deposit, or two at once, or everything.
async fn refund(world: &Rc<World>, merchant: usize, order: u32, deposit: DepositId) {
    let path = format!("/v1/deposits/{deposit}/refunds");
    let shape = world.between(0, 2);
    let bodies: Vec<String> = match shape {
        0 => vec![format!(r#"{{"amount":{}}}"#, world.between(1, 100))],
        1 => vec![
            format!(r#"{{"amount":{}}}"#, world.between(1, 60)),
            format!(r#"{{"amount":{}}}"#, world.between(1, 60)),
        ],
        _ => vec!["{}".to_owned()],
    };
    let sends = bodies.into_iter().enumerate().map(|(n, body)| {
        let key = format!("refund-{order}-{n}");
        let path = path.clone();
        let ask = async move || {
            send(
                world,
                merchant,
                order,
                Ask::Refund,
                &key,
                &path,
                body.clone(),
            )
            .await
        };
        until_answered(world, ask)
    });
    futures::future::join_all(sends).await;
}

/// `GET /v1/deposits/{id}`'s status, if the API answered.
async fn read_status(world: &Rc<World>, merchant: usize, deposit: DepositId) -> Option<String> {
    let correlation = world.log.next_correlation(merchant);
    let request = request(
        merchant,
        "GET",
        &format!("/v1/deposits/{deposit}"),
        None,
        Body::Empty,
        &correlation,
    );
    let intake = world.intake.clone();
    let response = world
        .exec
        .spawn_mortal(
            "intake get",
            Mortality {
                crash_rate: 0.0,
                timeout_ms: Some(10_000),
            },
            async move { deposit_intake::handle(&intake, request).await },
        )
        .await
        .ok()?;
    let body = match response.body() {
        Body::Text(text) => text.clone(),
        _ => return None,
    };
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    json["status"].as_str().map(str::to_owned)
}

struct Sent {
    status: Option<u16>,
    deposit: Option<DepositId>,
}

/// Asks up to five times, waiting 1 to 20 s after each answer that leaves the outcome open
/// (a 5xx, a 409 or a lost connection), as a merchant retries.
async fn until_answered(world: &Rc<World>, ask: impl AsyncFn() -> Sent) {
    for _ in 0..5 {
        match ask().await.status {
            Some(status) if status < 500 && status != 409 => return,
            _ => world.sleep(world.between(1_000, 20_000)).await,
        }
    }
}

/// One API call in its own invocation (it may crash or time out like a Lambda).
async fn send(
    world: &Rc<World>,
    merchant: usize,
    order: u32,
    ask: Ask,
    key: &str,
    path: &str,
    body: String,
) -> Sent {
    let correlation = world.log.next_correlation(merchant);
    let request = request(
        merchant,
        "POST",
        path,
        Some(key),
        Body::Text(body),
        &correlation,
    );
    let intake = world.intake.clone();
    let mortality = Mortality {
        crash_rate: world.function_crash_rate(),
        timeout_ms: Some(10_000),
    };
    let outcome = world
        .exec
        .spawn_mortal("intake", mortality, async move {
            deposit_intake::handle(&intake, request).await
        })
        .await;
    let (status, json) = match outcome {
        Ok(response) => {
            let json = match response.body() {
                Body::Text(text) => serde_json::from_str::<serde_json::Value>(text).ok(),
                _ => None,
            };
            (Some(response.status().as_u16()), json)
        }
        Err(Death::Crashed | Death::TimedOut | Death::Stopped) => (None, None),
    };
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    let deposit = ok
        .then_some(json.as_ref())
        .flatten()
        .and_then(|j| match ask {
            Ask::Deposit | Ask::Payout => j["id"].as_str(),
            Ask::Refund => j["deposit_id"].as_str(),
        })
        .and_then(DepositId::parse);
    let refund = (ok && ask == Ask::Refund)
        .then_some(json.as_ref())
        .flatten()
        .and_then(|j| j["id"].as_str().map(str::to_owned));
    world.note(format!(
        "{} {path} key={key} -> {}",
        MERCHANTS[merchant].0,
        status.map_or("connection lost".to_owned(), |s| s.to_string())
    ));
    world.log.push(Answer {
        merchant: MERCHANTS[merchant].0,
        order,
        ask,
        key: key.to_owned(),
        status,
        deposit,
        refund,
        correlation,
        at_ms: world.now_ms(),
    });
    Sent { status, deposit }
}

fn request(
    merchant: usize,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Body,
    correlation: &str,
) -> Request {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", MERCHANTS[merchant].1))
        .header("content-type", "application/json")
        // Our own correlation id keeps the run's ids seeded and ties events to requests.
        .header("x-correlation-id", correlation);
    if let Some(key) = key {
        builder = builder.header("idempotency-key", key);
    }
    builder.body(body).expect("a valid request")
}
