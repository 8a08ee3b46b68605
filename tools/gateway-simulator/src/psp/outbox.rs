//! Webhooks: their bodies in both formats, and the outbox that decides which delivery
//! attempts are due, lost, duplicated or reordered, and when a failed one is retried.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::Behaviour;
use super::dice::{Dice, chance, shuffle, up_to};
use super::ledger::Notification;
use super::soap::NAMESPACE;
use crate::Format;

/// The longest random hold-back of a first delivery under `webhook_reorder`.
pub(crate) const REORDER_MAX_DELAY_MS: u64 = 1_000;

/// How webhooks are retried (defaults from WIRE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookRetry {
    /// Wait after the first failed attempt; doubled after each further failure.
    pub first_delay: Duration,
    /// Longest wait between two attempts.
    pub max_delay: Duration,
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// How long one attempt may take before it counts as failed (the shell's business).
    pub timeout: Duration,
}

impl Default for WebhookRetry {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_attempts: 10,
            timeout: Duration::from_secs(5),
        }
    }
}

impl WebhookRetry {
    /// The wait after `failed` failed attempts (1 or more).
    fn backoff_ms(&self, failed: u32) -> i64 {
        let first = self.first_delay.as_millis();
        let doubled = first.saturating_mul(1u128 << failed.saturating_sub(1).min(64));
        doubled
            .min(self.max_delay.as_millis())
            .min(i64::MAX as u128) as i64
    }
}

/// One delivery attempt to make: POST `body` to `url` with these headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The event's id; stable across retries and duplicates.
    pub event_id: String,
    /// `<webhook base URL>/webhooks/<gateway name>`.
    pub url: String,
    pub content_type: &'static str,
    /// The `Paygate-Signature` header, signed at the moment the attempt fell due.
    pub signature: String,
    pub body: Vec<u8>,
}

impl Webhook {
    /// The attempt as an HTTP request (`Err` if the base URL is not a valid URI).
    pub fn to_request(&self) -> Result<http::Request<Vec<u8>>, http::Error> {
        http::Request::post(&self.url)
            .header(http::header::CONTENT_TYPE, self.content_type)
            .header(paygate_signature::HEADER, &self.signature)
            .body(self.body.clone())
    }
}

/// A JSON event: a payment's or refund's names its payment and refund (`null` on a
/// payment's own), a payout's only its payout.
#[derive(Serialize)]
struct JsonEvent<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_id: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payout_id: Option<&'a str>,
    reference: &'a str,
    amount: i64,
    currency: &'a str,
    failure_code: Option<&'a str>,
    created: i64,
}

/// A SOAP notification: `TransactionId` and `RefundId` (empty on a payment's own) for a
/// payment or refund, `PayoutId` for a payout.
#[derive(Serialize)]
#[serde(rename = "p:Notification")]
struct SoapNotification<'a> {
    #[serde(rename = "@xmlns:p")]
    xmlns: &'a str,
    #[serde(rename = "p:EventId")]
    event_id: &'a str,
    #[serde(rename = "p:Type")]
    kind: &'a str,
    #[serde(rename = "p:TransactionId", skip_serializing_if = "Option::is_none")]
    transaction_id: Option<&'a str>,
    #[serde(rename = "p:RefundId", skip_serializing_if = "Option::is_none")]
    refund_id: Option<&'a str>,
    #[serde(rename = "p:PayoutId", skip_serializing_if = "Option::is_none")]
    payout_id: Option<&'a str>,
    #[serde(rename = "p:Reference")]
    reference: &'a str,
    #[serde(rename = "p:Amount")]
    amount: i64,
    #[serde(rename = "p:Currency")]
    currency: &'a str,
    #[serde(rename = "p:ReasonCode")]
    reason_code: &'a str,
}

pub(crate) fn content_type(format: Format) -> &'static str {
    match format {
        Format::Json => "application/json",
        Format::Soap => "text/xml; charset=utf-8",
    }
}

/// The raw webhook body, exactly the bytes that are signed and sent.
pub(crate) fn render(format: Format, n: &Notification) -> String {
    let payout = n.kind.is_payout();
    let (payment_id, payout_id) = if payout {
        (None, Some(n.subject_id.as_str()))
    } else {
        (Some(n.subject_id.as_str()), None)
    };
    match format {
        Format::Json => serde_json::to_string(&JsonEvent {
            id: &n.event_id,
            kind: n.kind.json_name(),
            payment_id,
            refund_id: (!payout).then_some(n.refund_id.as_deref()),
            payout_id,
            reference: &n.reference,
            amount: n.amount,
            currency: &n.currency,
            failure_code: n.failure_code.as_deref(),
            created: n.created,
        })
        .expect("a JSON event always serializes"),
        Format::Soap => quick_xml::se::to_string(&SoapNotification {
            xmlns: NAMESPACE,
            event_id: &n.event_id,
            kind: n.kind.soap_name(),
            transaction_id: payment_id,
            refund_id: (!payout).then(|| n.refund_id.as_deref().unwrap_or("")),
            payout_id,
            reference: &n.reference,
            amount: n.amount,
            currency: &n.currency,
            reason_code: n.failure_code.as_deref().unwrap_or(""),
        })
        .expect("a SOAP notification always serializes"),
    }
}

#[derive(Debug)]
struct Entry {
    event_id: String,
    body: Vec<u8>,
    /// When the next attempt is due (meaningless while `in_flight > 0`).
    due_ms: i64,
    /// Attempt rounds made (a round is one attempt, or two under duplication).
    rounds: u32,
    /// Copies handed out and not yet reported.
    in_flight: u32,
    delivered: bool,
}

/// What the outbox needs to know about the gateway at the moment attempts fall due.
pub(crate) struct Sender<'a> {
    pub name: &'a str,
    pub format: Format,
    pub url: Option<String>,
    pub secret: &'a str,
    pub behaviour: Behaviour,
    pub retry: WebhookRetry,
}

/// Events waiting for a (first or next) delivery attempt, in due order.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    entries: BTreeMap<u64, Entry>,
    by_event: BTreeMap<String, u64>,
    next_seq: u64,
}

impl Outbox {
    /// Queues a settled event; under `webhook_reorder` its first delivery is held back
    /// a random while.
    pub fn push(
        &mut self,
        format: Format,
        notification: &Notification,
        due_ms: i64,
        behaviour: &Behaviour,
        dice: &mut dyn Dice,
    ) {
        let hold_back = if behaviour.webhook_reorder {
            up_to(dice, REORDER_MAX_DELAY_MS) as i64
        } else {
            0
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_event.insert(notification.event_id.clone(), seq);
        self.entries.insert(
            seq,
            Entry {
                event_id: notification.event_id.clone(),
                body: render(format, notification).into_bytes(),
                due_ms: due_ms + hold_back,
                rounds: 0,
                in_flight: 0,
                delivered: false,
            },
        );
    }

    /// The earliest attempt not yet handed out.
    pub fn next_due_ms(&self) -> Option<i64> {
        self.entries
            .values()
            .filter(|e| e.in_flight == 0)
            .map(|e| e.due_ms)
            .min()
    }

    /// Hands out the attempts due at `now_ms`. `record` counts an attempt on the event
    /// (for the ledger's `/admin/payments` view): dropped attempts are counted here,
    /// handed-out ones when [`Self::delivered`] reports them.
    pub fn due(
        &mut self,
        now_ms: i64,
        sender: &Sender<'_>,
        dice: &mut dyn Dice,
        record: &mut dyn FnMut(&str, bool),
    ) -> Vec<Webhook> {
        let mut due: Vec<(i64, u64)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.in_flight == 0 && e.due_ms <= now_ms)
            .map(|(&seq, e)| (e.due_ms, seq))
            .collect();
        due.sort_unstable();
        let Some(base) = &sender.url else {
            // Nowhere to send: the event is given up, as a PSP without an endpoint would.
            for (_, seq) in due {
                self.remove(seq);
            }
            return Vec::new();
        };
        let url = format!("{}/webhooks/{}", base.trim_end_matches('/'), sender.name);
        let signed_at = now_ms.div_euclid(1000);
        let mut out = Vec::new();
        for (_, seq) in due {
            let entry = self.entries.get_mut(&seq).expect("a due entry exists");
            entry.rounds += 1;
            if chance(dice, sender.behaviour.webhook_drop_rate) {
                record(&entry.event_id, false);
                self.retry_or_give_up(seq, now_ms, &sender.retry);
                continue;
            }
            let copies = if chance(dice, sender.behaviour.webhook_duplicate_rate) {
                2
            } else {
                1
            };
            entry.in_flight = copies;
            let webhook = Webhook {
                event_id: entry.event_id.clone(),
                url: url.clone(),
                content_type: content_type(sender.format),
                signature: paygate_signature::sign(
                    sender.secret.as_bytes(),
                    signed_at,
                    &entry.body,
                ),
                body: entry.body.clone(),
            };
            for _ in 0..copies {
                out.push(webhook.clone());
            }
        }
        if sender.behaviour.webhook_reorder {
            shuffle(dice, &mut out);
        }
        out
    }

    /// One handed-out copy came back: accepted (`ok`) or not. When every copy of a round
    /// is back and none was accepted, the next attempt is scheduled (or the event given
    /// up after `max_attempts`). Unknown events (after a reset) are ignored.
    pub fn delivered(
        &mut self,
        event_id: &str,
        ok: bool,
        now_ms: i64,
        retry: &WebhookRetry,
    ) -> bool {
        let Some(&seq) = self.by_event.get(event_id) else {
            return false;
        };
        let entry = self.entries.get_mut(&seq).expect("indexed entries exist");
        if entry.in_flight == 0 {
            return false;
        }
        entry.in_flight -= 1;
        entry.delivered |= ok;
        if entry.in_flight == 0 {
            if entry.delivered {
                self.remove(seq);
            } else {
                self.retry_or_give_up(seq, now_ms, retry);
            }
        }
        true
    }

    fn retry_or_give_up(&mut self, seq: u64, now_ms: i64, retry: &WebhookRetry) {
        let entry = self.entries.get_mut(&seq).expect("entry exists");
        if entry.rounds >= retry.max_attempts {
            self.remove(seq);
        } else {
            entry.due_ms = now_ms.saturating_add(retry.backoff_ms(entry.rounds));
        }
    }

    fn remove(&mut self, seq: u64) {
        if let Some(entry) = self.entries.remove(&seq) {
            self.by_event.remove(&entry.event_id);
        }
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
