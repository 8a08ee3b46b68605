//! One simulated gateway's shared state, its router, and its settlement tasks.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use tokio::sync::watch;

use crate::ledger::{Ledger, Notification, PaymentRecord};
use crate::webhook::{self, WebhookClient, WebhookRetry};
use crate::{Behaviour, Format, GatewaySpec, admin, behaviour, json_api, soap_api};

pub(crate) struct Gateway {
    pub name: String,
    pub format: Format,
    secret: String,
    behaviour: Mutex<Behaviour>,
    webhook_base_url: Mutex<Option<String>>,
    retry: Mutex<WebhookRetry>,
    ledger: Mutex<Ledger>,
    client: WebhookClient,
    /// Changes (or closes) when the owning `RunningGateway` is dropped.
    stopped: watch::Receiver<()>,
}

/// Locks a mutex, ignoring poisoning: every critical section leaves the data consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Gateway {
    pub fn new(spec: GatewaySpec, stopped: watch::Receiver<()>) -> Self {
        Self {
            ledger: Mutex::new(Ledger::new(spec.format)),
            name: spec.name,
            format: spec.format,
            secret: spec.secret,
            behaviour: Mutex::new(Behaviour::default()),
            webhook_base_url: Mutex::new(spec.webhook_base_url),
            retry: Mutex::new(WebhookRetry::default()),
            client: webhook::client(),
            stopped,
        }
    }

    pub fn behaviour(&self) -> Behaviour {
        *lock(&self.behaviour)
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *lock(&self.behaviour) = behaviour.sanitized();
    }

    pub fn webhook_base_url(&self) -> Option<String> {
        lock(&self.webhook_base_url).clone()
    }

    pub fn set_webhook_base_url(&self, url: Option<String>) {
        *lock(&self.webhook_base_url) = url;
    }

    pub fn set_webhook_retry(&self, retry: WebhookRetry) {
        *lock(&self.retry) = retry;
    }

    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.ledger)
    }

    pub fn charges(&self, key: &str) -> u32 {
        self.ledger().charges(key)
    }

    pub fn payments(&self) -> Vec<PaymentRecord> {
        self.ledger().payments().to_vec()
    }

    pub fn reset(&self) {
        *self.ledger() = Ledger::new(self.format);
    }

    /// After the webhook delay, settles the payment and reports it. Never blocks the caller.
    pub fn schedule_payment_settlement(self: &Arc<Self>, payment_id: String) {
        self.schedule(move |ledger| ledger.settle_payment(&payment_id, unix_now()));
    }

    /// After the webhook delay, settles the refund and reports it. Never blocks the caller.
    pub fn schedule_refund_settlement(self: &Arc<Self>, refund_id: String) {
        self.schedule(move |ledger| ledger.settle_refund(&refund_id, unix_now()));
    }

    fn schedule(
        self: &Arc<Self>,
        settle: impl FnOnce(&mut Ledger) -> Option<Notification> + Send + 'static,
    ) {
        let delay = Duration::from_millis(self.behaviour().webhook_delay_ms);
        let gateway = Arc::clone(self);
        let mut stopped = self.stopped.clone();
        tokio::spawn(async move {
            let work = async {
                tokio::time::sleep(delay).await;
                let notification = settle(&mut gateway.ledger());
                if let Some(notification) = notification {
                    gateway.notify(notification).await;
                }
            };
            tokio::select! {
                _ = stopped.changed() => {}
                () = work => {}
            }
        });
    }

    /// Delivers one event, retrying non-2xx answers and connection errors with backoff.
    async fn notify(&self, notification: Notification) {
        let body = webhook::render(self.format, &notification);
        let retry = *lock(&self.retry);
        let mut backoff = retry.first_delay;
        for attempt in 1..=retry.max_attempts {
            let Some(base) = self.webhook_base_url() else {
                tracing::debug!(gateway = %self.name, event = %notification.event_id, "no webhook URL; not sent");
                return;
            };
            let url = format!("{}/webhooks/{}", base.trim_end_matches('/'), self.name);
            let signature =
                paygate_signature::sign(self.secret.as_bytes(), unix_now(), body.as_bytes());
            let outcome = webhook::send(
                &self.client,
                self.format,
                &url,
                &signature,
                body.clone(),
                retry.timeout,
            )
            .await;
            let delivered = outcome.is_ok();
            self.ledger()
                .record_attempt(&notification.event_id, delivered);
            match outcome {
                Ok(()) => {
                    tracing::debug!(gateway = %self.name, event = %notification.event_id, attempt, "webhook delivered");
                    return;
                }
                Err(error) => {
                    tracing::warn!(gateway = %self.name, event = %notification.event_id, attempt, %error, "webhook not accepted");
                }
            }
            if attempt < retry.max_attempts {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(retry.max_delay);
            }
        }
        tracing::error!(gateway = %self.name, event = %notification.event_id, "webhook given up");
    }
}

/// `/admin/*` unaffected by the behaviour; everything else goes through the gate.
pub(crate) fn router(gateway: Arc<Gateway>) -> Router {
    let api = match gateway.format {
        Format::Json => json_api::routes(),
        Format::Soap => soap_api::routes(),
    }
    .layer(axum::middleware::from_fn_with_state(
        gateway.clone(),
        behaviour::gate,
    ));
    Router::new()
        .nest("/admin", admin::routes())
        .merge(api)
        .with_state(gateway)
}
