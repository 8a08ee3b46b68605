//! Simulated PSPs: the gateway simulator's deterministic core (the same rules and wire
//! formats as the HTTP simulator), reached by the REAL connectors through an in-process
//! exchange on simulated time. The exchange adds what a network does: connection
//! failures before anything is sent, and a client that stops waiting at its deadline
//! while the PSP goes on with the work.

use crate::executor::Timers;
use crate::rng::Rng;
use crate::trace::Trace;
use crate::world::{GatewayPlan, World};
use async_trait::async_trait;
use gateway_simulator::psp::{Arrival, Behaviour, Dice, Psp, Ticket};
use gateway_simulator::{Format, PaymentRecord, PayoutRecord};
use paygate_domain::gateways::WireFormat;
use paygate_domain::ports::gateway::GatewayConnector;
use paygate_gateways::{ConnectorConfig, HttpExchange, Timeouts, TransportError, connector_over};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

/// The webhook endpoint base the PSPs post to (the webhook handler is called in-process).
const WEBHOOK_BASE: &str = "https://api.paygate.sim";
/// The webhook function's timeout.
const WEBHOOK_TIMEOUT_MS: i64 = 10_000;

struct SeededDice<'a>(&'a mut Rng);

impl Dice for SeededDice<'_> {
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// One simulated gateway.
pub struct SimPsp {
    name: &'static str,
    format: WireFormat,
    inner: Mutex<Inner>,
    timers: Timers,
    trace: Trace,
}

struct Inner {
    psp: Psp,
    rng: Rng,
    /// Behaviour while faults are on, and a calm one after.
    calm: bool,
    network_fail_rate: f64,
    /// Work whose client stopped waiting: finished by the driver when it is due.
    abandoned: BTreeMap<u64, (i64, Ticket)>,
    /// The driver, parked until something is due.
    driver: Option<Waker>,
    counts: BTreeMap<&'static str, u64>,
}

impl SimPsp {
    pub fn new(
        plan: &GatewayPlan,
        webhook_secret: String,
        behaviour: Behaviour,
        network_fail_rate: f64,
        rng: Rng,
        timers: Timers,
        trace: Trace,
    ) -> Arc<Self> {
        let format = match plan.format {
            WireFormat::Json => Format::Json,
            WireFormat::Soap => Format::Soap,
        };
        let mut psp = Psp::new(plan.name, format, &webhook_secret);
        psp.set_behaviour(behaviour);
        psp.set_webhook_base_url(Some(WEBHOOK_BASE.to_owned()));
        Arc::new(Self {
            name: plan.name,
            format: plan.format,
            inner: Mutex::new(Inner {
                psp,
                rng,
                calm: false,
                network_fail_rate,
                abandoned: BTreeMap::new(),
                driver: None,
                counts: BTreeMap::new(),
            }),
            timers,
            trace,
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The real connector for this PSP's format, over the in-process exchange.
    pub fn connector(self: &Arc<Self>) -> Arc<dyn GatewayConnector> {
        connector_over(
            self.format,
            ConnectorConfig {
                base_url: format!("https://{}.psp.sim", self.name),
                timeouts: Timeouts::default(),
            },
            self.clone(),
        )
    }

    /// The PSP's books: what was charged, captured and refunded.
    pub fn payments(&self) -> Vec<PaymentRecord> {
        self.inner().psp.payments()
    }

    /// The PSP's payout books: what it paid out, for whom.
    pub fn payouts(&self) -> Vec<PayoutRecord> {
        self.inner().psp.payouts()
    }

    /// Faults stop: the PSP behaves, the network too.
    pub fn calm_down(&self) {
        let mut inner = self.inner();
        inner.calm = true;
        inner.network_fail_rate = 0.0;
        let webhook_delay_ms = inner.psp.behaviour().webhook_delay_ms;
        inner.psp.set_behaviour(Behaviour {
            webhook_delay_ms,
            ..Behaviour::default()
        });
        if let Some(driver) = inner.driver.take() {
            driver.wake();
        }
    }

    pub fn fault_counts(&self) -> BTreeMap<&'static str, u64> {
        self.inner().counts.clone()
    }

    fn count(inner: &mut Inner, kind: &'static str) {
        *inner.counts.entry(kind).or_default() += 1;
    }

    /// Finishes abandoned work when due and delivers webhooks, for the whole run.
    pub async fn drive(self: Arc<Self>, world: &Rc<World>) {
        loop {
            let now = self.timers.now_ms();
            let (webhooks, next) = {
                let mut inner = self.inner();
                let Inner {
                    psp,
                    rng,
                    abandoned,
                    ..
                } = &mut *inner;
                let due: Vec<u64> = abandoned
                    .iter()
                    .filter(|(_, (at, _))| *at <= now)
                    .map(|(id, _)| *id)
                    .collect();
                for id in due {
                    if let Some((_, ticket)) = abandoned.remove(&id) {
                        psp.finish(ticket, now, &mut SeededDice(rng));
                    }
                }
                let webhooks = psp.due_webhooks(now, &mut SeededDice(rng));
                let next = abandoned
                    .values()
                    .map(|(at, _)| *at)
                    .chain(psp.next_due_ms())
                    .min();
                (webhooks, next)
            };
            for webhook in webhooks {
                self.deliver(world, webhook);
            }
            // Sleep until the next due time, or until new work is abandoned.
            let wake = next.unwrap_or(i64::MAX).min(now + 60_000).max(now + 1);
            let sleep = self.timers.sleep_until(wake);
            let parked = Parked {
                psp: &self,
                registered: false,
            };
            futures::future::select(Box::pin(sleep), Box::pin(parked)).await;
        }
    }

    /// One webhook attempt, through the real webhook handler in its own invocation.
    fn deliver(self: &Arc<Self>, world: &Rc<World>, webhook: gateway_simulator::psp::Webhook) {
        let request = webhook
            .to_request()
            .expect("the simulation's webhook base URL is valid");
        let (parts, body) = request.into_parts();
        let mut request = lambda_http::Request::from_parts(parts, lambda_http::Body::Binary(body));
        *request.uri_mut() = format!("/webhooks/{}", self.name)
            .parse()
            .expect("a valid path");
        request.headers_mut().insert(
            "x-correlation-id",
            format!("sim-webhook-{}", webhook.event_id)
                .parse()
                .expect("a valid header"),
        );
        let webhooks = world.webhooks.clone();
        let psp = self.clone();
        let mortality = crate::executor::Mortality {
            crash_rate: world.function_crash_rate(),
            timeout_ms: Some(WEBHOOK_TIMEOUT_MS),
        };
        let handled = world.exec.spawn_mortal("webhook", mortality, async move {
            webhook_callback::handle(&webhooks, request).await
        });
        let trace = self.trace.clone();
        let timers = self.timers.clone();
        world.exec.spawn("webhook sender", async move {
            let ok = match handled.await {
                Ok(response) => {
                    trace.note(
                        timers.now_ms(),
                        format!(
                            "webhook {} from {} -> {}",
                            webhook.event_id,
                            psp.name,
                            response.status()
                        ),
                    );
                    response.status().is_success()
                }
                Err(death) => {
                    trace.note(
                        timers.now_ms(),
                        format!("webhook {} from {}: {death:?}", webhook.event_id, psp.name),
                    );
                    false
                }
            };
            psp.inner()
                .psp
                .webhook_delivered(&webhook.event_id, ok, timers.now_ms());
            psp.wake_driver();
        });
    }

    fn wake_driver(&self) {
        if let Some(driver) = self.inner().driver.take() {
            driver.wake();
        }
    }
}

/// Resolves when the driver is woken (new abandoned work, a delivery reported).
struct Parked<'a> {
    psp: &'a SimPsp,
    registered: bool,
}

impl std::future::Future for Parked<'_> {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.registered {
            return std::task::Poll::Ready(());
        }
        self.registered = true;
        self.psp.inner().driver = Some(cx.waker().clone());
        std::task::Poll::Pending
    }
}

/// Marks the work of an exchange whose caller died (a crash, a time-out) as abandoned,
/// so the PSP still finishes it.
struct WorkGuard<'a> {
    psp: &'a SimPsp,
    work: Option<(i64, Ticket)>,
}

impl Drop for WorkGuard<'_> {
    fn drop(&mut self) {
        if let Some((ready_at, ticket)) = self.work.take() {
            let mut inner = self.psp.inner();
            inner.abandoned.insert(ticket.id(), (ready_at, ticket));
            if let Some(driver) = inner.driver.take() {
                driver.wake();
            }
        }
    }
}

#[async_trait]
impl HttpExchange for SimPsp {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        deadline: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let started = self.timers.now_ms();
        let give_up_at = started + deadline.as_millis() as i64;
        crate::executor::YieldNow::default().await;
        loop {
            let arrival = {
                let mut inner = self.inner();
                if !inner.calm {
                    let fail = inner.network_fail_rate;
                    if inner.rng.chance(fail) {
                        Self::count(&mut inner, "psp_not_sent");
                        drop(inner);
                        self.trace.note(
                            self.timers.now_ms(),
                            format!("{}: connection refused", self.name),
                        );
                        return Err(TransportError::NotSent(
                            "connection refused (simulated)".into(),
                        ));
                    }
                }
                let Inner { psp, rng, .. } = &mut *inner;
                psp.arrive(&request, self.timers.now_ms(), &mut SeededDice(rng))
            };
            match arrival {
                Arrival::Answered(response) => {
                    self.note_call(&request, &response);
                    return Ok(response);
                }
                Arrival::WaitForKey { key } => {
                    // Another request holds the key: wait a little and come again.
                    let now = self.timers.now_ms();
                    if now >= give_up_at {
                        return Err(TransportError::Unanswered(format!(
                            "timed out waiting for key {key}"
                        )));
                    }
                    self.timers.sleep_until((now + 100).min(give_up_at)).await;
                }
                Arrival::Working {
                    ticket,
                    ready_at_ms,
                } => {
                    let mut guard = WorkGuard {
                        psp: self,
                        work: Some((ready_at_ms, ticket)),
                    };
                    if ready_at_ms > give_up_at {
                        self.timers.sleep_until(give_up_at).await;
                        // Dropping the guard leaves the work to finish when it is due.
                        drop(guard);
                        self.note_timeout();
                        return Err(TransportError::Unanswered("timed out (simulated)".into()));
                    }
                    self.timers.sleep_until(ready_at_ms).await;
                    let (_, ticket) = guard.work.take().expect("the work is ours");
                    let finished = {
                        let mut inner = self.inner();
                        let Inner { psp, rng, .. } = &mut *inner;
                        psp.finish(ticket, self.timers.now_ms(), &mut SeededDice(rng))
                    };
                    self.wake_driver();
                    if finished.lost {
                        Self::count(&mut self.inner(), "psp_lost_reply");
                        self.trace
                            .note(self.timers.now_ms(), format!("{}: reply lost", self.name));
                        self.timers.sleep_until(give_up_at).await;
                        return Err(TransportError::Unanswered("reply lost (simulated)".into()));
                    }
                    self.note_call(&request, &finished.response);
                    return Ok(finished.response);
                }
            }
        }
    }
}

impl SimPsp {
    fn note_call(&self, request: &http::Request<Vec<u8>>, response: &http::Response<Vec<u8>>) {
        if self.trace.is_enabled() {
            let key = request
                .headers()
                .get("idempotency-key")
                .and_then(|k| k.to_str().ok())
                .unwrap_or("");
            let action = request
                .headers()
                .get("soapaction")
                .and_then(|k| k.to_str().ok())
                .unwrap_or("");
            // SOAP carries its key in the body; faults and errors say why in theirs.
            let body_of = |bytes: &[u8]| {
                let text = String::from_utf8_lossy(bytes);
                let start = text
                    .find("<soap:Body>")
                    .map_or(0, |i| i + "<soap:Body>".len());
                text[start..].chars().take(240).collect::<String>()
            };
            let request_body = if action.is_empty() {
                String::new()
            } else {
                body_of(request.body())
            };
            let answer = if response.status().as_u16() >= 400 {
                body_of(response.body())
            } else {
                String::new()
            };
            self.trace.note(
                self.timers.now_ms(),
                format!(
                    "{} {} {}{action} {key}{request_body} -> {} {answer}",
                    self.name,
                    request.method(),
                    request.uri().path(),
                    response.status().as_u16()
                ),
            );
        }
    }

    fn note_timeout(&self) {
        Self::count(&mut self.inner(), "psp_timeout");
        self.trace.note(
            self.timers.now_ms(),
            format!("{}: client timed out, work goes on", self.name),
        );
    }
}
