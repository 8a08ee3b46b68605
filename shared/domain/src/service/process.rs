//! Processing a deposit message: send requested refunds, then route the deposit to the
//! best gateway, record the attempt BEFORE calling, classify the answer, fall back only
//! when nothing was done, and never charge twice.
//!
//! A message may arrive more than once, at the same time on several workers, or after a
//! crash at any point; each step starts from the stored stream, so re-running is safe:
//! * past `processing` already → nothing to do for the payment;
//! * an attempt is open → only its owner (the delivery that opened or resumed it) calls
//!   its gateway or closes it; any other delivery waits, then — once the owner released
//!   it or its lease ran out — takes it over and sends the same request with the same key
//!   to the same gateway. Never another gateway while an outcome is unknown;
//! * otherwise try candidates in priority order, each attempt with its own idempotency key
//!   `<deposit id>:<attempt>`.

use super::command::{
    Cause, CommandError, CommandPorts, Decision, Executed, RetryPolicy, Start, execute, settlement,
};
use crate::crypto::FieldCipher;
use crate::deposit::{
    Attempt, Deposit, DepositEvent, DepositStatus, Direction, FailureReason, Refund,
};
use crate::gateways::{BreakerPolicy, BreakerState, CallResult, Capability, Gateway, Route, route};
use crate::ids::AttemptOwner;
use crate::ports::gateway::{self, GatewayConnector, PaymentOutcome, PaymentRequest};
use crate::ports::{
    Clock, ConnectorDirectory, DepositMessage, EventStore, GatewayRegistry, IdGenerator, StoreError,
};
use secrecy::SecretString;
use std::sync::Arc;

mod policy;
mod refunds;

pub use policy::{AttemptPolicy, RedeliveryPolicy};
pub use refunds::refund_key;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// The message's work is done (or was already done); delete it.
    Done { status: DepositStatus },
    /// Try again later (no gateway available now, an outcome still unknown, an attempt
    /// another delivery holds, a refund not submitted yet).
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

pub struct ProcessorPorts<'a> {
    pub store: &'a dyn EventStore,
    pub registry: &'a dyn GatewayRegistry,
    pub connectors: &'a dyn ConnectorDirectory,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn IdGenerator,
    pub cipher: &'a FieldCipher,
    pub breaker: BreakerPolicy,
    pub commands: RetryPolicy,
    pub attempts: AttemptPolicy,
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
        owner: AttemptOwner(ports.ids.new_uuid()),
    };
    run.process().await
}

/// One delivery of one message.
struct Run<'p, 'a> {
    ports: &'p ProcessorPorts<'a>,
    message: &'p DepositMessage,
    causation: &'p str,
    /// This delivery, as the owner of the attempts it opens or resumes.
    owner: AttemptOwner,
}

/// Where a payment step leaves the message.
enum Step {
    /// Settled (or nothing left for this delivery to do).
    Done(Deposit),
    /// Routing may go on with this state.
    Continue(Deposit),
    /// The message must come back later, for this reason.
    Wait(Deposit, String),
}

impl Run<'_, '_> {
    fn command_ports(&self) -> CommandPorts<'_> {
        CommandPorts {
            store: self.ports.store,
            clock: self.ports.clock,
            ids: self.ports.ids,
        }
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

    /// Appends what `decide` returns on `deposit` (re-deciding on fresh state on a race).
    async fn record<T, F>(&self, deposit: &Deposit, decide: F) -> Result<Executed<T>, ProcessError>
    where
        F: FnMut(&Deposit) -> Result<Decision<T>, crate::deposit::TransitionError>,
    {
        let cause = Cause {
            correlation: &self.message.correlation_id,
            causation: Some(self.causation),
        };
        Ok(execute(
            &self.command_ports(),
            Start::From(deposit),
            cause,
            self.ports.commands,
            decide,
        )
        .await?)
    }

    async fn process(&self) -> Result<Processed, ProcessError> {
        let deposit = self.load().await?;
        let gateways = self.ports.registry.list().await?;
        let (payment, deposit) = match deposit.status {
            DepositStatus::Pending | DepositStatus::Processing => {
                self.pay(deposit, &gateways).await?
            }
            status => (Processed::Done { status }, deposit),
        };
        // After the payment: a refund of a stray charge it found goes out now too.
        let (_, refunds_waiting) = self.submit_refunds(deposit, &gateways).await?;
        Ok(match (payment, refunds_waiting) {
            (Processed::Done { .. }, Some(reason)) => Processed::RetryLater { reason },
            (payment, _) => payment,
        })
    }

    /// Moves the payment on as far as this delivery can; returns where the message
    /// stands and the state it left.
    async fn pay(
        &self,
        deposit: Deposit,
        gateways: &[Gateway],
    ) -> Result<(Processed, Deposit), ProcessError> {
        let mut deposit = deposit;
        if let Some(open) = deposit.open_attempt().cloned() {
            deposit = match self.settle_open(deposit, &open, gateways).await? {
                Step::Continue(deposit) => deposit,
                Step::Done(deposit) => return Ok((done(&deposit), deposit)),
                Step::Wait(deposit, reason) => {
                    return Ok((Processed::RetryLater { reason }, deposit));
                }
            };
        }
        let now = self.ports.clock.now();
        let capability = match deposit.request.direction {
            Direction::Deposit => Capability::Payments,
            Direction::Payout => Capability::Payouts,
        };
        let candidates = match route(
            gateways,
            deposit.request.country,
            deposit.request.currency,
            capability,
            now,
        ) {
            Route::Candidates(list) => list,
            Route::NoneAvailable => {
                let reason = "no gateway for this country and currency can take a call now";
                return Ok((
                    Processed::RetryLater {
                        reason: reason.into(),
                    },
                    deposit,
                ));
            }
            Route::Unserved => return self.unserved(&deposit).await,
        };
        for gateway in candidates {
            deposit = match self.attempt(deposit, gateway).await? {
                Step::Continue(deposit) => deposit,
                Step::Done(deposit) => return Ok((done(&deposit), deposit)),
                Step::Wait(deposit, reason) => {
                    return Ok((Processed::RetryLater { reason }, deposit));
                }
            };
        }
        let reason = "every available gateway failed transiently";
        Ok((
            Processed::RetryLater {
                reason: reason.into(),
            },
            deposit,
        ))
    }

    /// No enabled gateway serves the deposit's (or payout's) country and currency at
    /// all: it fails (a payout's reservation comes back with it).
    async fn unserved(&self, deposit: &Deposit) -> Result<(Processed, Deposit), ProcessError> {
        let reason = FailureReason::new(
            "no_gateway",
            format!(
                "no enabled gateway {} {} in {}",
                match deposit.request.direction {
                    Direction::Deposit => "takes payments in",
                    Direction::Payout => "pays out",
                },
                deposit.request.currency,
                deposit.request.country
            ),
        );
        let executed = self
            .record(deposit, |d| {
                let routable = d.open_attempt().is_none()
                    && matches!(d.status, DepositStatus::Pending | DepositStatus::Processing);
                Ok(if routable {
                    Decision::record(
                        vec![DepositEvent::DepositFailed {
                            reason: reason.clone(),
                        }],
                        (),
                    )
                } else {
                    Decision::nothing(())
                })
            })
            .await?;
        Ok((done(&executed.deposit), executed.deposit))
    }

    /// An attempt is open: wait for its owner, or take it over and send its request again.
    async fn settle_open(
        &self,
        deposit: Deposit,
        open: &Attempt,
        gateways: &[Gateway],
    ) -> Result<Step, ProcessError> {
        let now = self.ports.clock.now();
        let policy = self.ports.attempts;
        if open.owner.is_some() && now < open.owned_since + policy.lease {
            let reason = format!("attempt {} is held by another delivery", open.number);
            return Ok(Step::Wait(deposit, reason));
        }
        let connector = self.connector(gateways, &open.gateway);
        if now >= open.started_at + policy.resend_within {
            return self.past_horizon(deposit, open, connector.as_deref()).await;
        }
        let Some(connector) = connector else {
            let reason = format!(
                "attempt {} went to gateway {}, which is not registered",
                open.number, open.gateway
            );
            return Ok(Step::Wait(deposit, reason));
        };
        // Take it over: only one delivery can, the append is conditional.
        let number = open.number;
        let owner = self.owner;
        let resumed = self
            .record(&deposit, |d| {
                let free = d.open_attempt().is_some_and(|a| {
                    a.number == number && (a.owner.is_none() || now >= a.owned_since + policy.lease)
                });
                Ok(if d.owned_attempt(number, owner).is_some() {
                    Decision::nothing(true)
                } else if free {
                    Decision::record(
                        vec![DepositEvent::AttemptResumed {
                            attempt: number,
                            owner,
                        }],
                        true,
                    )
                } else {
                    Decision::nothing(false)
                })
            })
            .await?;
        if !resumed.outcome {
            return Ok(match resumed.deposit.status {
                DepositStatus::Pending | DepositStatus::Processing => {
                    let reason = format!("attempt {number} was taken over by another delivery");
                    Step::Wait(resumed.deposit, reason)
                }
                _ => Step::Done(resumed.deposit),
            });
        }
        tracing::info!(gateway = %open.gateway, attempt = number, "resuming an attempt with its own key");
        let listed = gateways
            .iter()
            .find(|g| g.config.name == open.gateway)
            .map(|g| &g.status.breaker);
        self.call(
            resumed.deposit,
            number,
            &open.gateway,
            connector.as_ref(),
            listed,
        )
        .await
    }

    /// An attempt whose key the gateway may have forgotten: re-sending could charge
    /// again. Only a found payment settles it; otherwise a person must (an anomaly).
    async fn past_horizon(
        &self,
        deposit: Deposit,
        open: &Attempt,
        connector: Option<&dyn GatewayConnector>,
    ) -> Result<Step, ProcessError> {
        let answer = status_by_key(connector, deposit.request.direction, open).await;
        let number = open.number;
        let settle = |d: &Deposit, reversal| d.settle_past_horizon(number, &answer, reversal);
        let executed = self
            .record(&deposit, settlement(self.ports.ids, settle))
            .await?;
        // Nothing more a delivery can do: the sweeper keeps asking, a person decides.
        Ok(Step::Done(executed.deposit))
    }

    /// A new attempt at `gateway`, recorded (and owned) before the call.
    async fn attempt(&self, deposit: Deposit, gateway: &Gateway) -> Result<Step, ProcessError> {
        // Decrypt first: an unreadable token must not leave attempts behind.
        self.token(&deposit)?;
        let name = gateway.config.name.clone();
        let owner = self.owner;
        let deposit_id = deposit.id;
        let started = self
            .record(&deposit, |d| {
                if let Some(mine) = d.open_attempt().filter(|a| a.owner == Some(owner)) {
                    // Our own append, whose answer was lost, committed.
                    return Ok(Decision::nothing(Some(mine.number)));
                }
                if d.open_attempt().is_some()
                    || !matches!(d.status, DepositStatus::Pending | DepositStatus::Processing)
                {
                    return Ok(Decision::nothing(None));
                }
                let attempt = d.next_attempt_number();
                Ok(Decision::record(
                    vec![DepositEvent::AttemptStarted {
                        attempt,
                        gateway: name.clone(),
                        idempotency_key: format!("{deposit_id}:{attempt}"),
                        owner: Some(owner),
                    }],
                    Some(attempt),
                ))
            })
            .await?;
        let Some(number) = started.outcome else {
            return Ok(match started.deposit.status {
                DepositStatus::Pending | DepositStatus::Processing => Step::Wait(
                    started.deposit,
                    "another delivery holds an open attempt".into(),
                ),
                _ => Step::Done(started.deposit),
            });
        };
        let connector = self.ports.connectors.connector(&gateway.config);
        let listed = Some(&gateway.status.breaker);
        self.call(started.deposit, number, &name, connector.as_ref(), listed)
            .await
    }

    /// Sends attempt `number`'s request (this delivery owns it) and records the answer.
    async fn call(
        &self,
        deposit: Deposit,
        number: u32,
        gateway: &str,
        connector: &dyn GatewayConnector,
        listed: Option<&BreakerState>,
    ) -> Result<Step, ProcessError> {
        let Some(attempt) = deposit.owned_attempt(number, self.owner).cloned() else {
            let reason = format!("attempt {number} is not ours");
            return Ok(Step::Wait(deposit, reason));
        };
        // Debug only: the attempt's start is on the stream already, and "attempt recorded"
        // below says how it ended (an info line each would double the processor's logs).
        tracing::debug!(%gateway, attempt = number, resumed = attempt.resumed, "calling gateway");
        let request = PaymentRequest {
            idempotency_key: attempt.idempotency_key.clone(),
            deposit_id: deposit.id,
            amount: deposit.request.amount,
            currency: deposit.request.currency,
            country: deposit.request.country,
            token: self.token(&deposit)?,
        };
        let started_at = std::time::Instant::now();
        let answer = gateway::send(connector, deposit.request.direction, &request).await;
        crate::metrics::record_gateway_call(gateway, &answer, started_at.elapsed());
        self.note_call(gateway, &answer, listed).await;
        match &answer {
            PaymentOutcome::Ambiguous { reason } => {
                tracing::warn!(%gateway, attempt = number, %reason, "outcome unknown; the attempt is released to be sent again");
            }
            // The cause (a library's error, a host name) stays here: the merchant's
            // events say only that the gateway could not be reached.
            PaymentOutcome::Transient { reason } => {
                tracing::warn!(%gateway, attempt = number, %reason, "gateway unreachable");
            }
            PaymentOutcome::Accepted { .. } | PaymentOutcome::Declined { .. } => {}
        }
        let owner = self.owner;
        let settle = |d: &Deposit, reversal| d.settle_call(number, owner, &answer, reversal);
        let executed = self
            .record(&deposit, settlement(self.ports.ids, settle))
            .await?;
        let deposit = executed.deposit;
        tracing::info!(%gateway, attempt = number, status = %deposit.status, "attempt recorded");
        Ok(match (&answer, deposit.status) {
            (_, DepositStatus::Pending | DepositStatus::Processing)
                if deposit.open_attempt().is_some() =>
            {
                let reason = format!("attempt {number} at {gateway} has an unknown outcome");
                Step::Wait(deposit, reason)
            }
            (PaymentOutcome::Transient { .. }, DepositStatus::Processing) => {
                Step::Continue(deposit)
            }
            _ => Step::Done(deposit),
        })
    }

    /// The breaker is advice: failing to record on it must not fail the payment. A
    /// success on a breaker this delivery listed closed with no failures changes nothing,
    /// so it writes nothing (and reads nothing): the common case costs no request. Listed
    /// means read at the start of the delivery; a failure another instance recorded since
    /// then is reset by the next success that reads it.
    async fn note_call(
        &self,
        gateway: &str,
        answer: &PaymentOutcome,
        listed: Option<&BreakerState>,
    ) {
        let result = match answer {
            PaymentOutcome::Accepted { .. } | PaymentOutcome::Declined { .. } => {
                CallResult::Success
            }
            PaymentOutcome::Transient { .. } | PaymentOutcome::Ambiguous { .. } => {
                CallResult::Failure
            }
        };
        let now = self.ports.clock.now();
        if result == CallResult::Success
            && let Some(clean) = listed.filter(|b| **b == BreakerState::default())
        {
            crate::metrics::record_breaker(gateway, clean, now);
            return;
        }
        match self
            .ports
            .registry
            .record_call(gateway, result, now, &self.ports.breaker)
            .await
        {
            Ok(state) => crate::metrics::record_breaker(gateway, &state, now),
            Err(error) => {
                tracing::warn!(%gateway, %error, "could not record the call on the breaker");
            }
        }
    }

    fn connector(&self, gateways: &[Gateway], name: &str) -> Option<Arc<dyn GatewayConnector>> {
        gateways
            .iter()
            .find(|g| g.config.name == name)
            .map(|g| self.ports.connectors.connector(&g.config))
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

fn done(deposit: &Deposit) -> Processed {
    Processed::Done {
        status: deposit.status,
    }
}

/// A refund requested but not yet taken by the gateway.
fn awaits_submission(refund: &Refund) -> bool {
    refund.awaits_submission()
}

/// What `open`'s gateway says about the payment made under its key (never sending it
/// again); unknown when that gateway left the registry (nobody can ask, a person must).
pub(super) async fn status_by_key(
    connector: Option<&dyn GatewayConnector>,
    direction: Direction,
    open: &Attempt,
) -> crate::ports::gateway::StatusOutcome {
    match connector {
        Some(connector) => {
            gateway::look_up(connector, direction, &open.idempotency_key, None).await
        }
        None => crate::ports::gateway::StatusOutcome::Unknown {
            reason: format!("gateway {} is not registered", open.gateway),
        },
    }
}
