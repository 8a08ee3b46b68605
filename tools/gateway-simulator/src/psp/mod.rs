//! The simulated PSP as a pure, deterministic core: every rule of WIRE.md (idempotency,
//! magic tokens, settlement, refund limits, payouts, both wire formats, the admin
//! switchboard, the webhook schedule) and every misbehaviour knob, with no sockets, no
//! tokio, no clock and no randomness of its own. The HTTP shell ([`crate::spawn`]) and a
//! deterministic lifecycle simulation drive the same [`Psp`].
//!
//! # Driving it
//!
//! Time is unix milliseconds passed in; randomness comes from the caller's [`Dice`]
//! (the shell rolls the OS's, a simulation a seeded [`SplitMix64`]). The same calls in
//! the same order with the same dice give the same answers, ids and webhooks. A knob
//! left at 0 rolls nothing, so turning one on does not shift unrelated rolls.
//!
//! 1. A request arrives: [`Psp::arrive`]`(request, now, dice)` returns
//!    - [`Arrival::Answered`]: answered at once (admin, outage, a bad request, an injected
//!      503, a key in flight under `in_flight_key_status`);
//!    - [`Arrival::Working`]: the work takes `latency_ms`; call [`Psp::finish`] with the
//!      ticket at `ready_at_ms` (or later). The work is done then whether or not the
//!      client is still waiting: a client that gave up leaves a payment behind;
//!    - [`Arrival::WaitForKey`]: an earlier request with the same idempotency key is still
//!      being worked on (`in_flight_key_status == 0`): call `arrive` again with the same
//!      request once [`Psp::key_in_flight`] is false (after that request's `finish`); it
//!      then replays the first answer.
//! 2. [`Psp::finish`] changes the books and renders the reply. [`Finished::lost`] means
//!    the reply must never reach the client (the work is done; the connection dies).
//! 3. Webhooks: at [`Psp::next_due_ms`] call [`Psp::due_webhooks`]; it settles what is due
//!    and hands out delivery attempts (after drops, duplicates and reordering); report
//!    each one with [`Psp::webhook_delivered`], which schedules the retries. Nothing is
//!    handed out while no webhook base URL is set ([`Psp::set_webhook_base_url`]): due
//!    events are then given up, as today's simulator does.
//! 4. [`Psp::payments`] and [`Psp::payouts`] are the ground truth: what was charged,
//!    captured and refunded, and what was paid out.
//!
//! Request URIs may be absolute or origin-form; only the path and query are read (a
//! base-URL path prefix is not stripped). Unknown tickets (after [`Psp::reset`]) finish
//! with a bare 500.

mod admin;
mod behaviour;
mod call;
mod dice;
mod json;
mod ledger;
mod outbox;
#[cfg(test)]
mod seeded;
mod soap;
mod wire;

use std::collections::{BTreeMap, BTreeSet};

pub use behaviour::{Behaviour, BehaviourPatch};
pub use dice::{Dice, SplitMix64};
pub use ledger::{
    EventRecord, PaymentRecord, PaymentStatus, PayoutRecord, PayoutStatus, RefundRecord,
    RefundStatus,
};
pub use outbox::{Webhook, WebhookRetry};

use crate::Format;
use call::{Answer, Call};
use dice::chance;
use ledger::{Ledger, Lookup, NewPayment, NewPayout, NewRefund, RefundAt, Subject, View};
use outbox::{Outbox, Sender};
use wire::render;

/// An HTTP response as the core renders it.
pub type Response = http::Response<Vec<u8>>;

/// Work in progress, redeemed once with [`Psp::finish`].
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(u64);

impl Ticket {
    /// A number unique within this PSP (for a simulation's own bookkeeping).
    pub fn id(&self) -> u64 {
        self.0
    }
}

/// What happens to a request that just arrived.
#[derive(Debug)]
pub enum Arrival {
    /// Answered at once.
    Answered(Response),
    /// The work is under way; finish it at `ready_at_ms`.
    Working { ticket: Ticket, ready_at_ms: i64 },
    /// Another request holds this idempotency key; arrive again when it is free.
    WaitForKey { key: String },
}

/// A finished piece of work.
#[derive(Debug)]
pub struct Finished {
    pub response: Response,
    /// The work was done but the reply is lost: never deliver `response`.
    pub lost: bool,
}

#[derive(Debug)]
enum Work {
    CreatePayment(NewPayment),
    ReplayPayment(usize),
    Refund(NewRefund),
    ReplayRefund(RefundAt),
    PaymentStatus(Lookup),
    RefundStatus(Lookup),
    CreatePayout(NewPayout),
    ReplayPayout(usize),
    PayoutStatus(Lookup),
    Health,
}

#[derive(Debug, Clone, Copy)]
enum Settle {
    Payment(usize),
    Refund(RefundAt),
    Payout(usize),
}

/// One simulated gateway: its books, behaviour, work in flight and webhook outbox.
#[derive(Debug)]
pub struct Psp {
    name: String,
    format: Format,
    secret: String,
    behaviour: Behaviour,
    retry: WebhookRetry,
    webhook_base_url: Option<String>,
    ledger: Ledger,
    tickets: BTreeMap<u64, Work>,
    next_ticket: u64,
    /// Idempotency keys whose payment, refund or payout is being created right now. One
    /// set serves all three: a key in flight holds back every create under it.
    creating: BTreeSet<String>,
    /// Settlements due, in (time, sequence) order.
    settlements: BTreeMap<(i64, u64), Settle>,
    next_settlement: u64,
    outbox: Outbox,
}

impl Psp {
    /// A gateway with the default behaviour, no webhook URL and the default retry schedule.
    pub fn new(name: &str, format: Format, webhook_secret: &str) -> Self {
        Self {
            name: name.to_owned(),
            format,
            secret: webhook_secret.to_owned(),
            behaviour: Behaviour::default(),
            retry: WebhookRetry::default(),
            webhook_base_url: None,
            ledger: Ledger::new(format),
            tickets: BTreeMap::new(),
            next_ticket: 0,
            creating: BTreeSet::new(),
            settlements: BTreeMap::new(),
            next_settlement: 0,
            outbox: Outbox::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn behaviour(&self) -> Behaviour {
        self.behaviour
    }

    /// Rates are clamped to 0.0–1.0; an `in_flight_key_status` outside 400–599 means 0.
    pub fn set_behaviour(&mut self, behaviour: Behaviour) {
        self.behaviour = behaviour.sanitized();
    }

    pub fn webhook_base_url(&self) -> Option<&str> {
        self.webhook_base_url.as_deref()
    }

    /// Where webhooks go from now on (`<url>/webhooks/<name>`), read when attempts fall due.
    pub fn set_webhook_base_url(&mut self, url: Option<String>) {
        self.webhook_base_url = url;
    }

    pub fn webhook_retry(&self) -> WebhookRetry {
        self.retry
    }

    pub fn set_webhook_retry(&mut self, retry: WebhookRetry) {
        self.retry = retry;
    }

    /// Whether a payment, refund or payout with this key is being created right now.
    pub fn key_in_flight(&self, key: &str) -> bool {
        self.creating.contains(key)
    }

    /// How many times this idempotency key actually moved money (a payment, refund or
    /// payout accepted): 0 or 1 unless the key was forgotten (`key_horizon_ms`) and used
    /// again.
    pub fn charges(&self, idempotency_key: &str) -> u32 {
        self.ledger.charges(idempotency_key)
    }

    /// Every payment, in creation order, with its refunds and webhook events.
    pub fn payments(&self) -> Vec<PaymentRecord> {
        self.ledger.payments().to_vec()
    }

    /// Every payout, in creation order, with its webhook events (rejected ones included:
    /// they paid nothing out).
    pub fn payouts(&self) -> Vec<PayoutRecord> {
        self.ledger.payouts().to_vec()
    }

    /// Forgets every payment, refund, payout, charge count, pending settlement, webhook
    /// and work in flight; keeps the behaviour, webhook URL and retry schedule.
    pub fn reset(&mut self) {
        self.ledger = Ledger::new(self.format);
        self.tickets.clear();
        self.creating.clear();
        self.settlements.clear();
        self.outbox = Outbox::default();
    }

    /// The next moment a settlement or webhook attempt is due, if any.
    pub fn next_due_ms(&self) -> Option<i64> {
        let settlement = self.settlements.keys().next().map(|&(at, _)| at);
        match (settlement, self.outbox.next_due_ms()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn view(&self, now_ms: i64) -> View {
        View {
            now_ms,
            lag_ms: self.behaviour.lookup_lag_ms,
            horizon_ms: self.behaviour.key_horizon_ms,
        }
    }

    /// A request arrives at `now_ms`.
    pub fn arrive(
        &mut self,
        request: &http::Request<Vec<u8>>,
        now_ms: i64,
        dice: &mut dyn Dice,
    ) -> Arrival {
        self.advance(now_ms, dice);
        let path = request.uri().path();
        if path == "/admin" || path.starts_with("/admin/") {
            return Arrival::Answered(self.admin(request));
        }
        if self.behaviour.outage {
            let answer = if path == "/health" {
                Answer::Health(false)
            } else {
                Answer::Unavailable
            };
            return Arrival::Answered(render(self.format, answer));
        }
        let call = match wire::parse(self.format, request) {
            Ok(call) => call,
            Err(refusal) => return Arrival::Answered(wire::refuse(self.format, refusal)),
        };
        if call != Call::Health && chance(dice, self.behaviour.error_rate) {
            return Arrival::Answered(render(self.format, Answer::Unavailable));
        }
        let view = self.view(now_ms);
        let key = call.key().map(str::to_owned);
        if let Some(key) = key.as_deref()
            && self.key_in_flight(key)
        {
            return match self.behaviour.in_flight_key_status {
                0 => Arrival::WaitForKey {
                    key: key.to_owned(),
                },
                status => Arrival::Answered(render(self.format, Answer::KeyInFlight(status))),
            };
        }
        let ledger = &self.ledger;
        let work = match call {
            Call::CreatePayment(new) => ledger
                .live_payment_key(&new.order.idempotency_key, view)
                .map_or(Work::CreatePayment(new), Work::ReplayPayment),
            Call::Refund(new) => ledger
                .live_refund_key(&new.idempotency_key, view)
                .map_or(Work::Refund(new), Work::ReplayRefund),
            Call::CreatePayout(new) => ledger
                .live_payout_key(&new.order.idempotency_key, view)
                .map_or(Work::CreatePayout(new), Work::ReplayPayout),
            Call::PaymentStatus(lookup) => Work::PaymentStatus(lookup),
            Call::RefundStatus(lookup) => Work::RefundStatus(lookup),
            Call::PayoutStatus(lookup) => Work::PayoutStatus(lookup),
            Call::Health => Work::Health,
        };
        let creates = matches!(
            work,
            Work::CreatePayment(_) | Work::Refund(_) | Work::CreatePayout(_)
        );
        if creates {
            self.creating.extend(key);
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.tickets.insert(ticket, work);
        let latency = i64::try_from(self.behaviour.latency_ms).unwrap_or(i64::MAX);
        Arrival::Working {
            ticket: Ticket(ticket),
            ready_at_ms: now_ms.saturating_add(latency),
        }
    }

    /// The work of `ticket` completes at `now_ms`.
    pub fn finish(&mut self, ticket: Ticket, now_ms: i64, dice: &mut dyn Dice) -> Finished {
        self.advance(now_ms, dice);
        let Some(work) = self.tickets.remove(&ticket.0) else {
            return Finished {
                response: call::response(500, "text/plain", b"work forgotten by a reset".to_vec()),
                lost: false,
            };
        };
        let view = self.view(now_ms);
        let format = self.format;
        let mutating = matches!(
            work,
            Work::CreatePayment(_)
                | Work::ReplayPayment(_)
                | Work::Refund(_)
                | Work::ReplayRefund(_)
                | Work::CreatePayout(_)
                | Work::ReplayPayout(_)
        );
        let response = match work {
            Work::CreatePayment(new) => {
                self.creating.remove(&new.order.idempotency_key);
                let captured = if chance(dice, self.behaviour.capture_mismatch_rate) {
                    (new.order.amount / 2).max(1)
                } else {
                    new.order.amount
                };
                let index = self.ledger.create_payment(new, captured, now_ms, dice);
                if self.ledger.payment(index).status == PaymentStatus::Pending {
                    self.schedule(now_ms, Settle::Payment(index));
                }
                render(format, Answer::Created(self.ledger.payment(index)))
            }
            Work::ReplayPayment(index) => {
                render(format, Answer::Created(self.ledger.payment(index)))
            }
            Work::Refund(new) => {
                self.creating.remove(&new.idempotency_key);
                match self.ledger.create_refund(new, now_ms, dice) {
                    Ok(at) => {
                        self.schedule(now_ms, Settle::Refund(at));
                        render(format, Answer::RefundCreated(self.ledger.refund(at)))
                    }
                    Err(refused) => render(format, Answer::RefundRefused(refused)),
                }
            }
            Work::ReplayRefund(at) => render(format, Answer::RefundCreated(self.ledger.refund(at))),
            Work::PaymentStatus(lookup) => match self.ledger.find_payment(&lookup, view) {
                Some(payment) => render(format, Answer::Payment(payment)),
                None => render(format, Answer::PaymentNotFound),
            },
            Work::RefundStatus(lookup) => match self.ledger.find_refund(&lookup, view) {
                Some(refund) => render(format, Answer::Refund(refund)),
                None => render(format, Answer::RefundNotFound),
            },
            Work::CreatePayout(new) => {
                self.creating.remove(&new.order.idempotency_key);
                let index = self.ledger.create_payout(new, now_ms, dice);
                if self.ledger.payout(index).status == PayoutStatus::Pending {
                    self.schedule(now_ms, Settle::Payout(index));
                }
                render(format, Answer::PayoutCreated(self.ledger.payout(index)))
            }
            Work::ReplayPayout(index) => {
                render(format, Answer::PayoutCreated(self.ledger.payout(index)))
            }
            Work::PayoutStatus(lookup) => match self.ledger.find_payout(&lookup, view) {
                Some(payout) => render(format, Answer::Payout(payout)),
                None => render(format, Answer::PayoutNotFound),
            },
            Work::Health => render(format, Answer::Health(!self.behaviour.health_down)),
        };
        let lost = mutating && chance(dice, self.behaviour.lost_reply_rate);
        Finished { response, lost }
    }

    /// Webhook delivery attempts due at `now_ms` (settling whatever is due first).
    pub fn due_webhooks(&mut self, now_ms: i64, dice: &mut dyn Dice) -> Vec<Webhook> {
        self.advance(now_ms, dice);
        let sender = Sender {
            name: &self.name,
            format: self.format,
            url: self.webhook_base_url.clone(),
            secret: &self.secret,
            behaviour: self.behaviour,
            retry: self.retry,
        };
        let ledger = &mut self.ledger;
        self.outbox.due(now_ms, &sender, dice, &mut |event_id, ok| {
            ledger.record_attempt(event_id, ok)
        })
    }

    /// One handed-out attempt of `event_id` was accepted (`ok`, a 2xx) or not (any other
    /// answer, an error, a timeout). Unknown events are ignored.
    pub fn webhook_delivered(&mut self, event_id: &str, ok: bool, now_ms: i64) {
        if self.outbox.delivered(event_id, ok, now_ms, &self.retry) {
            self.ledger.record_attempt(event_id, ok);
        }
    }

    fn schedule(&mut self, created_ms: i64, settle: Settle) {
        let delay = i64::try_from(self.behaviour.webhook_delay_ms).unwrap_or(i64::MAX);
        let seq = self.next_settlement;
        self.next_settlement += 1;
        self.settlements
            .insert((created_ms.saturating_add(delay), seq), settle);
    }

    /// Settles everything due by `now_ms`, each at its own time, and queues its webhook.
    fn advance(&mut self, now_ms: i64, dice: &mut dyn Dice) {
        while let Some(entry) = self.settlements.first_entry() {
            let (at, _) = *entry.key();
            if at > now_ms {
                break;
            }
            let settle = entry.remove();
            let notification = match settle {
                Settle::Payment(index) => self.ledger.settle(Subject::Payment(index), at, dice),
                Settle::Refund(refund) => {
                    let decline_rate = self.behaviour.refund_failure_rate;
                    self.ledger.settle_refund(refund, at, decline_rate, dice)
                }
                Settle::Payout(index) => self.ledger.settle(Subject::Payout(index), at, dice),
            };
            if let Some(notification) = notification {
                self.outbox
                    .push(self.format, &notification, at, &self.behaviour, dice);
            }
        }
    }
}

#[cfg(test)]
mod tests;
