//! Processing a deposit message: route it to the best gateway, record the attempt BEFORE
//! calling, classify the answer, fall back on transient failures, and never pay twice.
//!
//! A message may arrive more than once, or after a crash at any point; each step below
//! starts from the stored stream, so re-running is always safe:
//! * past `processing` already → nothing to do;
//! * an attempt left open (crash after the call, or an ambiguous answer) → ask that
//!   gateway what happened to it before anything else;
//! * otherwise try candidates in priority order, each attempt with its own idempotency key
//!   `<deposit id>:<attempt>`.

use super::command::{CommandError, CommandPorts, RetryPolicy, execute};
use crate::crypto::FieldCipher;
use crate::deposit::{
    Attempt, Deposit, DepositEvent, DepositStatus, FailureReason, Refund, RefundState,
};
use crate::gateways::{BreakerPolicy, CallResult, Gateway, Route, route};
use crate::ids::CorrelationId;
use crate::ports::gateway::{
    GatewayConnector, PaymentOutcome, PaymentRequest, PaymentState, RefundOutcome, RefundRequest,
    StatusOutcome,
};
use crate::ports::{
    Clock, ConnectorDirectory, DepositMessage, EventStore, GatewayRegistry, IdGenerator, StoreError,
};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// The message's work is done (or was already done); delete it.
    Done { status: DepositStatus },
    /// Try again later (no gateway available now, or an outcome still unknown).
    RetryLater { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The message cannot be processed as it is (unknown deposit, wrong merchant): it
    /// will fail every time and end in the DLQ for a human.
    #[error("poison message: {0}")]
    Poison(String),
}

/// When a message comes back after `RetryLater` or a failure: exponential backoff with
/// full jitter on the receive count, applied through the message's visibility timeout.
#[derive(Debug, Clone, Copy)]
pub struct RedeliveryPolicy {
    /// Default 10 s.
    pub base: Duration,
    /// Default 15 min.
    pub max: Duration,
}

impl Default for RedeliveryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(10),
            max: Duration::from_secs(15 * 60),
        }
    }
}

impl RedeliveryPolicy {
    /// The wait before delivery number `receive_count + 1`; `random` picks the jitter.
    pub fn delay(&self, receive_count: u32, random: u64) -> Duration {
        let exponent = receive_count.saturating_sub(1).min(20);
        let cap = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let half = cap.as_millis() as u64 / 2;
        // Half fixed, half jitter: grows for sure, yet spreads retries of a burst apart.
        Duration::from_millis(half + random % (half.max(1)))
    }
}

pub struct ProcessorPorts<'a> {
    pub store: &'a dyn EventStore,
    pub registry: &'a dyn GatewayRegistry,
    pub connectors: &'a dyn ConnectorDirectory,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn IdGenerator,
    pub cipher: &'a FieldCipher,
    pub breaker: BreakerPolicy,
    pub commands: RetryPolicy,
    /// How long after an attempt was recorded its call may still be running somewhere
    /// (another delivery of the same message). Until then "the gateway has no such
    /// payment" may just mean "not yet", so the attempt is not closed. Must exceed the
    /// processor's own timeout; see [`IN_FLIGHT_GRACE`].
    pub in_flight_grace: time::Duration,
}

/// Default [`ProcessorPorts::in_flight_grace`]: twice the processor Lambda's 30 s timeout,
/// well below the queue's 180 s visibility timeout after which a crashed attempt is retried.
pub const IN_FLIGHT_GRACE: time::Duration = time::Duration::seconds(60);

struct Run<'p, 'a> {
    ports: &'p ProcessorPorts<'a>,
    message: &'p DepositMessage,
    causation: &'p str,
}

pub async fn process_deposit(
    ports: &ProcessorPorts<'_>,
    message: &DepositMessage,
    causation: &str,
) -> Result<Processed, ProcessError> {
    let run = Run {
        ports,
        message,
        causation,
    };
    run.process().await
}

impl Run<'_, '_> {
    fn command_ports(&self) -> CommandPorts<'_> {
        CommandPorts {
            store: self.ports.store,
            clock: self.ports.clock,
            ids: self.ports.ids,
        }
    }

    fn correlation(&self) -> &CorrelationId {
        &self.message.correlation_id
    }

    async fn load(&self) -> Result<Deposit, ProcessError> {
        let stream = self.ports.store.load(self.message.deposit_id).await?;
        if stream.is_empty() {
            return Err(ProcessError::Poison(format!(
                "deposit {} does not exist",
                self.message.deposit_id
            )));
        }
        let deposit = Deposit::replay(&stream).map_err(|e| ProcessError::Poison(e.to_string()))?;
        if deposit.merchant_id != self.message.merchant_id {
            return Err(ProcessError::Poison(
                "message names another merchant".into(),
            ));
        }
        Ok(deposit)
    }

    /// Appends what `decide` returns on the current state (re-deciding on conflicts).
    async fn record<F>(&self, decide: F) -> Result<Deposit, ProcessError>
    where
        F: Fn(&Deposit) -> Result<Vec<DepositEvent>, crate::deposit::TransitionError>,
    {
        Ok(execute(
            &self.command_ports(),
            self.message.deposit_id,
            self.correlation(),
            Some(self.causation),
            self.ports.commands,
            decide,
        )
        .await?)
    }

    async fn process(&self) -> Result<Processed, ProcessError> {
        let mut deposit = self.load().await?;
        if deposit.status.is_refundable() && deposit.refunds.iter().any(awaits_submission) {
            let gateways = self.ports.registry.list().await?;
            return self.submit_refunds(&deposit, &gateways).await;
        }
        if !matches!(
            deposit.status,
            DepositStatus::Pending | DepositStatus::Processing
        ) {
            return Ok(Processed::Done {
                status: deposit.status,
            });
        }
        let gateways = self.ports.registry.list().await?;
        if let Some(open) = deposit.open_attempt().cloned() {
            match self.reconcile(&open, &gateways).await? {
                Some(done) => return Ok(done),
                None => deposit = self.load().await?,
            }
        }
        let now = self.ports.clock.now();
        let candidates = match route(
            &gateways,
            deposit.request.country,
            deposit.request.currency,
            now,
        ) {
            Route::Candidates(list) => list,
            Route::NoneAvailable => {
                return Ok(Processed::RetryLater {
                    reason: "no gateway for this country and currency can take a call now".into(),
                });
            }
            Route::Unserved => {
                let reason = FailureReason::new(
                    "no_gateway",
                    format!(
                        "no enabled gateway serves {} in {}",
                        deposit.request.currency, deposit.request.country
                    ),
                );
                let deposit = self
                    .record(move |d| {
                        Ok(
                            if d.open_attempt().is_none()
                                && matches!(
                                    d.status,
                                    DepositStatus::Pending | DepositStatus::Processing
                                )
                            {
                                vec![DepositEvent::DepositFailed {
                                    reason: reason.clone(),
                                }]
                            } else {
                                vec![]
                            },
                        )
                    })
                    .await?;
                return Ok(Processed::Done {
                    status: deposit.status,
                });
            }
        };
        for gateway in candidates {
            if let Some(done) = self.attempt(gateway).await? {
                return Ok(done);
            }
        }
        Ok(Processed::RetryLater {
            reason: "every available gateway failed transiently".into(),
        })
    }

    /// Settles an attempt whose outcome is unknown by asking its gateway. `Some` when
    /// that settles the message, `None` when routing may continue.
    async fn reconcile(
        &self,
        open: &Attempt,
        gateways: &[Gateway],
    ) -> Result<Option<Processed>, ProcessError> {
        let Some(connector) = self.connector(gateways, &open.gateway) else {
            return Ok(Some(Processed::RetryLater {
                reason: format!(
                    "attempt {} went to unknown gateway {}",
                    open.number, open.gateway
                ),
            }));
        };
        let number = open.number;
        let gateway = open.gateway.clone();
        match connector.payment_status(&open.idempotency_key, None).await {
            StatusOutcome::Found {
                external_id, state, ..
            } => {
                let events = match state {
                    PaymentState::Pending => vec![DepositEvent::DepositSubmitted {
                        attempt: number,
                        gateway,
                        external_id,
                    }],
                    // Its webhook may have come and gone while the submission was not
                    // recorded: what the gateway says now is the outcome.
                    PaymentState::Succeeded => vec![
                        DepositEvent::DepositSubmitted {
                            attempt: number,
                            gateway,
                            external_id: external_id.clone(),
                        },
                        DepositEvent::DepositSucceeded { external_id },
                    ],
                    PaymentState::Failed { code } | PaymentState::Declined { code } => vec![
                        DepositEvent::AttemptFailed {
                            attempt: number,
                            reason: FailureReason::new(
                                code.clone(),
                                "the gateway refused the payment",
                            ),
                            retryable: false,
                        },
                        DepositEvent::DepositFailed {
                            reason: FailureReason::new(code, "the gateway refused the payment"),
                        },
                    ],
                };
                let deposit = self
                    .record(move |d| {
                        Ok(if open_is(d, number) {
                            events.clone()
                        } else {
                            vec![]
                        })
                    })
                    .await?;
                Ok(Some(Processed::Done {
                    status: deposit.status,
                }))
            }
            StatusOutcome::NotFound
                if self.ports.clock.now() - open.started_at < self.ports.in_flight_grace =>
            {
                // Another delivery may still be waiting for this very call: closing the
                // attempt now and paying under a new key could charge twice.
                Ok(Some(Processed::RetryLater {
                    reason: format!(
                        "attempt {number} at {} may still be in flight",
                        open.gateway
                    ),
                }))
            }
            StatusOutcome::NotFound => {
                // The call never reached the gateway: close the attempt, route again.
                let reason = FailureReason::new(
                    "not_received",
                    "the gateway has no payment for this attempt",
                );
                self.record(move |d| {
                    Ok(if open_is(d, number) {
                        vec![DepositEvent::AttemptFailed {
                            attempt: number,
                            reason: reason.clone(),
                            retryable: true,
                        }]
                    } else {
                        vec![]
                    })
                })
                .await?;
                Ok(None)
            }
            StatusOutcome::Unknown { reason } => Ok(Some(Processed::RetryLater {
                reason: format!(
                    "attempt {number} at {} is still unresolved: {reason}",
                    open.gateway
                ),
            })),
        }
    }

    /// One attempt at one gateway. `Some` when the deposit is settled for this message.
    async fn attempt(&self, gateway: &Gateway) -> Result<Option<Processed>, ProcessError> {
        let connector = self.ports.connectors.connector(&gateway.config);
        let name = gateway.config.name.clone();
        let deposit_id = self.message.deposit_id;
        // Decrypt before recording: an unreadable token must not leave attempts behind.
        let token = self.token(&self.load().await?)?;
        // Record the attempt first: a crash after the call leaves it open, to reconcile.
        let started = {
            let name = name.clone();
            self.record(move |d| {
                if d.open_attempt().is_some()
                    || !matches!(d.status, DepositStatus::Pending | DepositStatus::Processing)
                {
                    return Ok(vec![]);
                }
                let attempt = d.next_attempt_number();
                Ok(vec![DepositEvent::AttemptStarted {
                    attempt,
                    gateway: name.clone(),
                    idempotency_key: format!("{deposit_id}:{attempt}"),
                    owner: None,
                }])
            })
            .await?
        };
        let Some(open) = started
            .open_attempt()
            .filter(|a| a.gateway == name)
            .cloned()
        else {
            // Another delivery of this message is working on it, or it is settled.
            return Ok(Some(match started.status {
                DepositStatus::Pending | DepositStatus::Processing => Processed::RetryLater {
                    reason: "another worker holds an open attempt".into(),
                },
                status => Processed::Done { status },
            }));
        };
        tracing::info!(gateway = %name, attempt = open.number, "calling gateway");
        let request = PaymentRequest {
            idempotency_key: open.idempotency_key.clone(),
            deposit_id,
            amount: started.request.amount,
            currency: started.request.currency,
            country: started.request.country,
            token,
        };
        let outcome = connector.create_payment(&request).await;
        let number = open.number;
        let (events, call, settled) = match outcome {
            PaymentOutcome::Accepted { external_id } => (
                vec![DepositEvent::DepositSubmitted {
                    attempt: number,
                    gateway: name.clone(),
                    external_id,
                }],
                CallResult::Success,
                true,
            ),
            PaymentOutcome::Declined { code, message } => (
                vec![
                    DepositEvent::AttemptFailed {
                        attempt: number,
                        reason: FailureReason::new(code.clone(), message.clone()),
                        retryable: false,
                    },
                    DepositEvent::DepositFailed {
                        reason: FailureReason::new(code, message),
                    },
                ],
                CallResult::Success,
                true,
            ),
            PaymentOutcome::Transient { reason } => (
                vec![DepositEvent::AttemptFailed {
                    attempt: number,
                    reason: FailureReason::new("gateway_unavailable", reason),
                    retryable: true,
                }],
                CallResult::Failure,
                false,
            ),
            PaymentOutcome::Ambiguous { reason } => {
                self.note_call(&name, CallResult::Failure).await;
                tracing::warn!(gateway = %name, attempt = number, %reason, "outcome unknown; will reconcile");
                return Ok(Some(Processed::RetryLater {
                    reason: format!("attempt {number} at {name} has an unknown outcome: {reason}"),
                }));
            }
        };
        self.note_call(&name, call).await;
        let deposit = self
            .record(move |d| {
                Ok(if open_is(d, number) {
                    events.clone()
                } else {
                    vec![]
                })
            })
            .await?;
        tracing::info!(gateway = %name, attempt = number, status = %deposit.status, "attempt recorded");
        Ok(settled.then_some(Processed::Done {
            status: deposit.status,
        }))
    }

    /// Sends each requested refund to the gateway that captured the deposit. The refund's
    /// idempotency key (`<deposit id>:refund:<refund id>`) makes a repeat safe, so unclear
    /// answers are simply retried later.
    async fn submit_refunds(
        &self,
        deposit: &Deposit,
        gateways: &[Gateway],
    ) -> Result<Processed, ProcessError> {
        let (Some(gateway), Some(external_id)) = (&deposit.gateway, &deposit.external_id) else {
            return Err(ProcessError::Poison(
                "a captured deposit without its gateway payment".into(),
            ));
        };
        let Some(connector) = self.connector(gateways, gateway) else {
            return Ok(Processed::RetryLater {
                reason: format!("no connector for gateway {gateway}"),
            });
        };
        let mut unsettled = None;
        for refund in deposit.refunds.iter().filter(|r| awaits_submission(r)) {
            let request = RefundRequest {
                idempotency_key: format!("{}:refund:{}", deposit.id, refund.id),
                external_id: external_id.clone(),
                amount: refund.amount,
            };
            let refund_id = refund.id;
            let event = match connector.refund(&request).await {
                RefundOutcome::Accepted { refund_external_id } => DepositEvent::RefundSubmitted {
                    refund_id,
                    refund_external_id,
                },
                RefundOutcome::Rejected { code, message } => DepositEvent::RefundFailed {
                    refund_id,
                    reason: FailureReason::new(code, message),
                },
                RefundOutcome::Transient { reason } | RefundOutcome::Ambiguous { reason } => {
                    unsettled = Some(reason);
                    continue;
                }
            };
            self.record(move |d| {
                let still_waiting = d
                    .refunds
                    .iter()
                    .any(|r| r.id == refund_id && awaits_submission(r));
                Ok(if still_waiting {
                    vec![event.clone()]
                } else {
                    vec![]
                })
            })
            .await?;
        }
        Ok(match unsettled {
            Some(reason) => Processed::RetryLater {
                reason: format!("a refund could not be submitted yet: {reason}"),
            },
            None => Processed::Done {
                status: self.load().await?.status,
            },
        })
    }

    fn connector(&self, gateways: &[Gateway], name: &str) -> Option<Arc<dyn GatewayConnector>> {
        gateways
            .iter()
            .find(|g| g.config.name == name)
            .map(|g| self.ports.connectors.connector(&g.config))
    }

    /// The breaker is advice: failing to record on it must not fail the payment.
    async fn note_call(&self, gateway: &str, result: CallResult) {
        let now = self.ports.clock.now();
        if let Err(error) = self
            .ports
            .registry
            .record_call(gateway, result, now, &self.ports.breaker)
            .await
        {
            tracing::warn!(%gateway, %error, "could not record the call on the breaker");
        }
    }

    fn token(&self, deposit: &Deposit) -> Result<Option<SecretString>, ProcessError> {
        let Some(method) = &deposit.request.payment_method else {
            return Ok(None);
        };
        let clear = self
            .ports
            .cipher
            .decrypt(&method.details, deposit.id.0.as_bytes())
            .map_err(|e| ProcessError::Poison(format!("payment method: {e}")))?;
        let token = String::from_utf8(clear)
            .map_err(|_| ProcessError::Poison("payment method is not text".into()))?;
        Ok(Some(SecretString::from(token)))
    }
}

/// A refund requested but not yet taken by the gateway.
fn awaits_submission(refund: &Refund) -> bool {
    refund.state == RefundState::Pending && refund.external_id.is_none()
}

fn open_is(deposit: &Deposit, number: u32) -> bool {
    deposit.open_attempt().is_some_and(|a| a.number == number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redelivery_delays_grow_and_stay_capped() {
        let policy = RedeliveryPolicy::default();
        let first = policy.delay(1, 0);
        let third = policy.delay(3, 0);
        assert!(first >= Duration::from_secs(5) && first <= Duration::from_secs(10));
        assert!(third >= Duration::from_secs(20));
        assert!(policy.delay(40, u64::MAX) <= policy.max);
    }
}
