//! Merchants' traffic: deposits across the pairs the devstack's gateways serve, each
//! retried with its own key on a 5xx or a lost connection, and refunds of those that
//! succeed (in full, in parts, twice at once).

use rand::Rng;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How many times a request is retried with the same key before the merchant gives up.
const RETRIES: usize = 8;
/// How long a merchant waits for a deposit to succeed before deciding not to refund it.
const REFUND_PATIENCE: Duration = Duration::from_secs(60);

pub struct Merchant {
    pub client: reqwest::Client,
    pub base_url: String,
    pub api_key: String,
    pub counts: Counts,
}

/// What the traffic did, for progress lines and the summary.
#[derive(Default)]
pub struct Counts {
    pub deposits: AtomicUsize,
    pub refunds: AtomicUsize,
    pub retries: AtomicUsize,
    /// Answers no request of this traffic should get (a 4xx for a valid deposit, …).
    pub unexpected: AtomicUsize,
}

/// One answer: status and JSON body (`Null` when none), or a transport error.
type Answer = Result<(u16, Value), String>;

impl Merchant {
    /// Creates one deposit (retrying with the same key) and refunds it if it succeeds in
    /// time; the deposit's id, or why none was created.
    pub async fn deposit_and_maybe_refund(&self, pair: (&str, &str)) -> Result<String, String> {
        let (token, amount, refund) = {
            let mut rng = rand::rng();
            let token = match rng.random_range(0..10) {
                0 => "tok_decline",
                1 => "tok_fail_webhook",
                _ => "tok_success",
            };
            (
                token,
                rng.random_range(100..100_000_u64),
                rng.random_range(0..10),
            )
        };
        let body = json!({
            "amount": amount, "currency": pair.1, "country": pair.0, "customer_id": "cus_chaos",
            "payment_method": { "type": "card", "token": token },
        });
        let (status, created) = self.post("/v1/deposits", &body).await?;
        if status != 202 {
            self.counts.unexpected.fetch_add(1, Ordering::Relaxed);
            return Err(format!("deposit answered {status}: {created}"));
        }
        self.counts.deposits.fetch_add(1, Ordering::Relaxed);
        let id = created["id"].as_str().unwrap_or_default().to_owned();
        if refund < 6 && self.succeeds(&id).await {
            self.refund(&id, amount, refund).await;
        }
        Ok(id)
    }

    /// Waits (a while) for the deposit to succeed.
    async fn succeeds(&self, id: &str) -> bool {
        let deadline = Instant::now() + REFUND_PATIENCE;
        while Instant::now() < deadline {
            if let Ok((200, deposit)) = self.get(&format!("/v1/deposits/{id}")).await {
                match deposit["status"].as_str() {
                    Some("succeeded") => return true,
                    Some("failed") => return false,
                    _ => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        false
    }

    /// Refunds in full (`plan` 0–1), in two parts at once (2–3), or the same refund sent
    /// twice at once under one key plus a second key (4–5).
    async fn refund(&self, id: &str, amount: u64, plan: u32) {
        let path = format!("/v1/deposits/{id}/refunds");
        let asks = match plan {
            0 | 1 => vec![(Uuid::new_v4(), json!({}))],
            2 | 3 => vec![
                (Uuid::new_v4(), json!({ "amount": amount / 3 })),
                (Uuid::new_v4(), json!({ "amount": amount / 2 })),
            ],
            _ => {
                let key = Uuid::new_v4();
                vec![
                    (key, json!({ "amount": amount / 4 })),
                    (key, json!({ "amount": amount / 4 })),
                    (Uuid::new_v4(), json!({})),
                ]
            }
        };
        let answers = futures::future::join_all(
            asks.iter()
                .map(|(key, body)| self.post_with_key(&path, *key, body)),
        )
        .await;
        for answer in answers {
            match answer {
                Ok((202, _)) => {
                    self.counts.refunds.fetch_add(1, Ordering::Relaxed);
                }
                // Asking more than is left, or while the same key is in flight, is refused.
                Ok((422 | 409, _)) => {}
                Ok((status, body)) => {
                    self.counts.unexpected.fetch_add(1, Ordering::Relaxed);
                    eprintln!("refund of {id} answered {status}: {body}");
                }
                Err(error) => eprintln!("refund of {id} gave up: {error}"),
            }
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Answer {
        self.post_with_key(path, Uuid::new_v4(), body).await
    }

    /// POSTs with `key`, again with the same key after a 5xx, a 409 (in flight) or a
    /// lost connection.
    async fn post_with_key(&self, path: &str, key: Uuid, body: &Value) -> Answer {
        let mut last = Err("never sent".to_owned());
        for attempt in 0..RETRIES {
            if attempt > 0 {
                self.counts.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200 * attempt as u64)).await;
            }
            let sent = self
                .client
                .post(format!("{}{path}", self.base_url))
                .bearer_auth(&self.api_key)
                .header("idempotency-key", key.to_string())
                .json(body)
                .send()
                .await;
            last = read(sent).await;
            match &last {
                Ok((status, _)) if *status >= 500 || *status == 409 => continue,
                Ok(_) => return last,
                Err(_) => continue,
            }
        }
        last
    }

    pub async fn get(&self, path: &str) -> Answer {
        let sent = self
            .client
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(&self.api_key)
            .send()
            .await;
        read(sent).await
    }
}

async fn read(sent: reqwest::Result<reqwest::Response>) -> Answer {
    let reply = sent.map_err(|e| e.to_string())?;
    let status = reply.status().as_u16();
    let text = reply.text().await.map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}
