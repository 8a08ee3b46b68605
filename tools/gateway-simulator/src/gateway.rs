//! The HTTP shell around one [`Psp`]: a hyper server that hands every request to the core,
//! sleeps the core's latency with tokio, drops the connection for a lost reply, and a
//! driver task that delivers the core's webhooks over HTTP. No PSP rule lives here.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::psp::{Arrival, Dice, Psp, Webhook};
use crate::{Format, webhook};

/// Requests are small; a larger body is refused before the core sees it.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// The OS's randomness, for the one gateway that runs over real HTTP.
struct OsDice;

impl Dice for OsDice {
    fn next_u64(&mut self) -> u64 {
        rand::random()
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn sleep_until_ms(at_ms: i64) {
    let wait = at_ms.saturating_sub(now_ms());
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

/// The reply was lost by design (`lost_reply_rate`): hyper closes the connection
/// without writing anything, so the client sees a request sent and never answered.
#[derive(Debug, thiserror::Error)]
#[error("reply lost on purpose")]
struct LostReply;

pub(crate) struct Gateway {
    pub name: String,
    pub format: Format,
    psp: Mutex<Psp>,
    client: webhook::WebhookClient,
    /// Wakes the webhook driver: something may have become due earlier.
    wake: Notify,
    /// Wakes requests waiting for an idempotency key held by another request.
    finished: Notify,
    /// Changes (or closes) when the owning `RunningGateway` is dropped.
    stopped: watch::Receiver<()>,
}

impl Gateway {
    pub fn new(psp: Psp, stopped: watch::Receiver<()>) -> Self {
        Self {
            name: psp.name().to_owned(),
            format: psp.format(),
            psp: Mutex::new(psp),
            client: webhook::client(),
            wake: Notify::new(),
            finished: Notify::new(),
            stopped,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Psp> {
        // Every core call leaves the PSP consistent, even one that panicked mid-way.
        self.psp
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the core, then wakes the driver (a settlement or retry may be due sooner).
    pub fn with_psp<T>(&self, f: impl FnOnce(&mut Psp, &mut dyn Dice) -> T) -> T {
        let result = f(&mut self.lock(), &mut OsDice);
        self.wake.notify_one();
        result
    }

    pub fn reset(&self) {
        self.with_psp(|psp, _| psp.reset());
        self.finished.notify_waiters();
    }

    /// Accepts connections until the gateway is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        let mut stopped = self.stopped.clone();
        tokio::spawn(self.clone().drive_webhooks());
        loop {
            let accepted = tokio::select! {
                _ = stopped.changed() => return,
                accepted = listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(gateway = %self.name, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let gateway = self.clone();
            let mut stopped = self.stopped.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| gateway.clone().answer(request));
                let connection =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = stopped.changed() => {}
                    // An error here is usually a lost reply or a client that went away.
                    _ = connection => {}
                }
            });
        }
    }

    async fn answer(
        self: Arc<Self>,
        request: http::Request<Incoming>,
    ) -> Result<http::Response<Full<Bytes>>, LostReply> {
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
            Ok(collected) => collected.to_bytes().to_vec(),
            Err(_) => return Ok(plain(413, "request body too large or unreadable")),
        };
        let request = http::Request::from_parts(parts, body);
        // Its own task: the PSP finishes what it was asked even when the client stops
        // waiting (a timeout during the latency leaves a payment behind: "ambiguous").
        match tokio::spawn(self.handle(request)).await {
            Ok(Some(response)) => Ok(response.map(|body| Full::new(Bytes::from(body)))),
            Ok(None) => Err(LostReply),
            Err(error) => {
                tracing::error!(%error, "request handler failed");
                Ok(plain(500, "internal error"))
            }
        }
    }

    /// The core's answer, after its latency; `None` for a lost reply.
    async fn handle(
        self: Arc<Self>,
        request: http::Request<Vec<u8>>,
    ) -> Option<http::Response<Vec<u8>>> {
        loop {
            // Registered before asking, so a key released in between is never missed.
            let released = self.finished.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let arrival = self.with_psp(|psp, dice| psp.arrive(&request, now_ms(), dice));
            match arrival {
                Arrival::Answered(response) => return Some(response),
                Arrival::Working {
                    ticket,
                    ready_at_ms,
                } => {
                    sleep_until_ms(ready_at_ms).await;
                    let finished = self.with_psp(|psp, dice| psp.finish(ticket, now_ms(), dice));
                    self.finished.notify_waiters();
                    return (!finished.lost).then_some(finished.response);
                }
                Arrival::WaitForKey { .. } => released.await,
            }
        }
    }

    /// Hands every due webhook to its own delivery task; sleeps until the next is due.
    async fn drive_webhooks(self: Arc<Self>) {
        let mut stopped = self.stopped.clone();
        loop {
            let (due, next) = {
                let mut psp = self.lock();
                let due = psp.due_webhooks(now_ms(), &mut OsDice);
                (due, psp.next_due_ms())
            };
            for webhook in due {
                tokio::spawn(self.clone().deliver(webhook));
            }
            let wait = next.map_or(Duration::from_secs(3600), |at| {
                Duration::from_millis(at.saturating_sub(now_ms()).max(0) as u64)
            });
            tokio::select! {
                _ = stopped.changed() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn deliver(self: Arc<Self>, hook: Webhook) {
        let mut stopped = self.stopped.clone();
        let timeout = self.lock().webhook_retry().timeout;
        let outcome = tokio::select! {
            _ = stopped.changed() => return,
            outcome = webhook::send(&self.client, &hook, timeout) => outcome,
        };
        match &outcome {
            Ok(()) => {
                tracing::debug!(gateway = %self.name, event = %hook.event_id, "webhook delivered")
            }
            Err(error) => {
                tracing::warn!(gateway = %self.name, event = %hook.event_id, %error, "webhook not accepted");
            }
        }
        self.with_psp(|psp, _| psp.webhook_delivered(&hook.event_id, outcome.is_ok(), now_ms()));
    }
}

fn plain(status: u16, text: &'static str) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/plain")
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .expect("a valid response")
}
