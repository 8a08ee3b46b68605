//! The recovery sweeper (run by the scheduled probe): every deposit and every refund
//! reaches a final state once faults stop, nothing waits forever. It finds deposits
//! through the sweep index (never a scan) and drives each one:
//!
//! * `pending` for too long: the intake's message was lost → sent again;
//! * `processing` for too long (no open attempt: its message died in the DLQ; an open
//!   attempt: its owner crashed) → the message is sent again, and the processor takes
//!   the attempt over with its own key; an attempt past the gateway's key horizon is
//!   looked up instead, and if the gateway cannot find it, an anomaly for a person;
//! * `submitted` for too long (the webhook never came) → the gateway is asked for the
//!   payment (by its id) and a final answer recorded;
//! * refunds: one not yet taken by its gateway → the message is sent again; one taken
//!   but never reported → the gateway is asked for the refund and its outcome recorded;
//! * events not yet on the bus → published.
//!
//! Each run is bounded in work (`limit` per kind) and time (`deadline`), and safe to run
//! twice at once: every write is a conditional append decided on fresh state.

use super::command::{
    Cause, CommandError, CommandPorts, Decision, RetryPolicy, Start, execute, settlement,
};
use super::process::AttemptPolicy;
use super::publish::{PublishPorts, flush};
use crate::deposit::{Deposit, DepositStatus, DepositView, SweepKind};
use crate::gateways::Gateway;
use crate::ids::{CorrelationId, RefundId};
use crate::ports::gateway::GatewayConnector;
use crate::ports::{
    Clock, ConnectorDirectory, DepositMessage, EventPublisher, EventStore, GatewayRegistry,
    IdGenerator, QueueSender, StoreError, SweepIndex,
};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

mod settings;

pub use settings::{SettingError, SweepSetting};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepPolicy {
    /// A deposit `pending` this long lost its message. Default 15 min: longer than a
    /// message's whole retry schedule, so a deposit whose message is merely backing off
    /// (no gateway available yet) is not sent twice.
    pub pending_after: time::Duration,
    /// A deposit `processing` this long lost its message or its attempt's owner.
    /// Default 5 min.
    pub attempt_after: time::Duration,
    /// A deposit `submitted` this long without a webhook is reconciled. Default 10 min.
    pub submitted_after: time::Duration,
    /// A final deposit with a refund in flight this long is reconciled. Default 10 min.
    pub refund_after: time::Duration,
    /// Events unpublished this long are published by the sweeper. Default 30 s.
    pub unpublished_after: time::Duration,
    /// At most this many deposits of each kind per run. Default 100.
    pub limit: usize,
}

impl Default for SweepPolicy {
    fn default() -> Self {
        Self {
            pending_after: time::Duration::minutes(15),
            attempt_after: time::Duration::minutes(5),
            submitted_after: time::Duration::minutes(10),
            refund_after: time::Duration::minutes(10),
            unpublished_after: time::Duration::seconds(30),
            limit: 100,
        }
    }
}

impl SweepPolicy {
    /// How long a deposit of `kind` waits before the sweeper looks at it.
    pub fn after(&self, kind: SweepKind) -> time::Duration {
        match kind {
            SweepKind::Pending => self.pending_after,
            SweepKind::Processing => self.attempt_after,
            SweepKind::Submitted => self.submitted_after,
            SweepKind::Refunding => self.refund_after,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepSummary {
    /// Messages sent again (lost, dead-lettered, or an attempt's owner gone).
    pub requeued: usize,
    /// Open attempts settled by a status lookup (past the key horizon).
    pub attempts_settled: usize,
    /// Submitted deposits given their final outcome.
    pub submitted_settled: usize,
    /// Refunds given their final outcome.
    pub refunds_settled: usize,
    pub published: usize,
    pub failures: usize,
    /// The deadline came before all work was looked at.
    pub stopped_early: bool,
}

pub struct SweepPorts<'a> {
    pub store: &'a dyn EventStore,
    pub index: &'a dyn SweepIndex,
    pub registry: &'a dyn GatewayRegistry,
    pub connectors: &'a dyn ConnectorDirectory,
    pub queue: &'a dyn QueueSender,
    pub publisher: &'a dyn EventPublisher,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn IdGenerator,
    pub attempts: AttemptPolicy,
}

pub async fn sweep(
    ports: &SweepPorts<'_>,
    policy: &SweepPolicy,
    deadline: OffsetDateTime,
) -> Result<SweepSummary, StoreError> {
    let swept = sweep_until(ports, policy, deadline).await;
    if let Ok(summary) = &swept {
        crate::metrics::record_sweep(summary);
    }
    swept
}

async fn sweep_until(
    ports: &SweepPorts<'_>,
    policy: &SweepPolicy,
    deadline: OffsetDateTime,
) -> Result<SweepSummary, StoreError> {
    let mut summary = SweepSummary::default();
    let now = ports.clock.now();
    let correlation = CorrelationId(format!("sweep-{}", ports.ids.new_uuid()));
    let gateways = ports.registry.list().await?;
    let sweeper = Sweeper {
        ports,
        gateways: &gateways,
        correlation: &correlation,
    };
    for kind in SweepKind::ALL {
        for view in ports
            .index
            .stale(kind, now - policy.after(kind), policy.limit)
            .await?
        {
            if ports.clock.now() >= deadline {
                summary.stopped_early = true;
                return Ok(summary);
            }
            match sweeper.drive(&view).await {
                Ok(driven) => {
                    summary.requeued += usize::from(driven.requeued);
                    summary.attempts_settled += usize::from(driven.attempt_settled);
                    summary.submitted_settled += usize::from(driven.submitted_settled);
                    summary.refunds_settled += driven.refunds_settled;
                    if !driven.changed() {
                        // Left as it was: behind the deposits not looked at yet, so one
                        // that cannot be settled (yet) never hides the others.
                        defer(ports, &view, now).await;
                    }
                }
                Err(error) => {
                    tracing::warn!(deposit_id = %view.id, %error, "could not drive");
                    summary.failures += 1;
                    defer(ports, &view, now).await;
                }
            }
        }
    }

    let publish = PublishPorts {
        store: ports.store,
        index: ports.index,
        publisher: ports.publisher,
    };
    for pending in ports
        .index
        .unpublished(now - policy.unpublished_after, policy.limit)
        .await?
    {
        if ports.clock.now() >= deadline {
            summary.stopped_early = true;
            return Ok(summary);
        }
        match flush(&publish, pending.deposit_id).await {
            Ok(count) => summary.published += count,
            Err(error) => {
                tracing::warn!(deposit_id = %pending.deposit_id, %error, "could not publish");
                summary.failures += 1;
            }
        }
    }
    Ok(summary)
}

/// Marks `view` as looked at and left at `now` (see [`SweepIndex::defer`]). A failure
/// only costs the deposit its place in the queue, so it is logged, not counted.
async fn defer(ports: &SweepPorts<'_>, view: &DepositView, now: OffsetDateTime) {
    if let Err(error) = ports.index.defer(view.id, view.version, now).await {
        tracing::warn!(deposit_id = %view.id, %error, "could not defer");
    }
}

/// What driving one deposit did.
#[derive(Debug, Default)]
struct Driven {
    requeued: bool,
    attempt_settled: bool,
    submitted_settled: bool,
    refunds_settled: usize,
}

impl Driven {
    /// Whether the deposit changed (so its wait restarts by itself).
    fn changed(&self) -> bool {
        self.attempt_settled || self.submitted_settled || self.refunds_settled > 0
    }
}

struct Sweeper<'s, 'a> {
    ports: &'s SweepPorts<'a>,
    gateways: &'s [Gateway],
    correlation: &'s CorrelationId,
}

impl Sweeper<'_, '_> {
    async fn drive(&self, view: &DepositView) -> Result<Driven, CommandError> {
        let stream = self.ports.store.load(view.id).await?;
        let mut deposit =
            Deposit::replay(&stream).map_err(|e| CommandError::Corrupt(e.to_string()))?;
        let mut driven = Driven::default();
        let mut needs_message = false;
        for refund in deposit.refunds.clone() {
            if refund.state != crate::deposit::RefundState::Pending {
                continue;
            }
            let past_horizon = refund.awaits_submission()
                && self.ports.clock.now()
                    >= refund.requested_at + self.ports.attempts.resend_within;
            if refund.awaits_submission() && !past_horizon {
                needs_message = true;
                continue;
            }
            let settled;
            (deposit, settled) = self.settle_refund(deposit, refund.id).await?;
            driven.refunds_settled += usize::from(settled);
        }
        match deposit.status {
            DepositStatus::Pending => needs_message = true,
            DepositStatus::Processing => match deposit.open_attempt().cloned() {
                Some(open)
                    if self.ports.clock.now()
                        >= open.started_at + self.ports.attempts.resend_within =>
                {
                    let number = open.number;
                    let connector = self.connector(&open.gateway);
                    let answer = super::process::status_by_key(
                        connector.as_deref(),
                        deposit.request.direction,
                        &open,
                    )
                    .await;
                    let settle =
                        |d: &Deposit, reversal| d.settle_past_horizon(number, &answer, reversal);
                    let executed = self
                        .record(&deposit, settlement(self.ports.ids, settle))
                        .await?;
                    // Only the run whose decision appended the answer counts it.
                    driven.attempt_settled =
                        executed.appended && executed.deposit.open_attempt().is_none();
                    deposit = executed.deposit;
                }
                // The processor takes the attempt over (its owner is gone), or routes it.
                _ => needs_message = true,
            },
            DepositStatus::Submitted => {
                (deposit, driven.submitted_settled) = self.settle_submitted(deposit).await?;
            }
            _ => {}
        }
        // A refund recorded just now (a stray charge found) goes out through the processor.
        if needs_message || deposit.refunds.iter().any(|r| r.awaits_submission()) {
            driven.requeued = self.send(&deposit).await;
        }
        Ok(driven)
    }

    /// Asks the gateway for the submitted payment (by its id) and records a final answer;
    /// the deposit as it left it, and whether this run recorded the answer.
    async fn settle_submitted(&self, deposit: Deposit) -> Result<(Deposit, bool), CommandError> {
        let (Some(attempt), Some(external_id)) = (
            deposit.submitted_attempt().cloned(),
            deposit.external_id.clone(),
        ) else {
            return Ok((deposit, false));
        };
        let Some(connector) = self.connector(&attempt.gateway) else {
            return Ok((deposit, false));
        };
        let answer = crate::ports::gateway::look_up(
            connector.as_ref(),
            deposit.request.direction,
            &attempt.idempotency_key,
            Some(&external_id),
        )
        .await;
        let number = attempt.number;
        let settle = |d: &Deposit, reversal| d.settle_lookup(number, &answer, reversal);
        let executed = self
            .record(&deposit, settlement(self.ports.ids, settle))
            .await?;
        Ok((executed.deposit, executed.appended))
    }

    /// Asks the gateway for a refund (one it took, or one past the key horizon) and
    /// records what it found.
    async fn settle_refund(
        &self,
        deposit: Deposit,
        refund_id: RefundId,
    ) -> Result<(Deposit, bool), CommandError> {
        let Some(refund) = deposit.refunds.iter().find(|r| r.id == refund_id).cloned() else {
            return Ok((deposit, false));
        };
        let Some(target) = refund.charge.clone().or_else(|| deposit.own_charge()) else {
            return Ok((deposit, false));
        };
        let Some(connector) = self.connector(&target.gateway) else {
            return Ok((deposit, false));
        };
        let key = super::process::refund_key(&deposit, refund_id);
        let answer = connector
            .refund_status(&key, refund.external_id.as_deref())
            .await;
        let executed = self
            .record(&deposit, |d| {
                // Past the key horizon, a refund never taken is an anomaly unless found.
                let events = if d
                    .refunds
                    .iter()
                    .any(|r| r.id == refund_id && r.awaits_submission())
                {
                    d.settle_refund_past_horizon(refund_id, &answer)
                } else {
                    d.settle_refund_lookup(refund_id, &answer)
                };
                Ok(Decision::record(events, ()))
            })
            .await?;
        let settled = executed
            .deposit
            .refunds
            .iter()
            .any(|r| r.id == refund_id && r.state != crate::deposit::RefundState::Pending);
        Ok((executed.deposit, settled))
    }

    /// Sends the deposit's message again (processing is idempotent); whether it left.
    async fn send(&self, deposit: &Deposit) -> bool {
        let message = DepositMessage {
            deposit_id: deposit.id,
            merchant_id: deposit.merchant_id.clone(),
            correlation_id: self.correlation.clone(),
        };
        match self.ports.queue.send(&message, Duration::ZERO).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(deposit_id = %deposit.id, %error, "could not re-enqueue");
                false
            }
        }
    }

    fn connector(&self, gateway: &str) -> Option<Arc<dyn GatewayConnector>> {
        self.gateways
            .iter()
            .find(|g| g.config.name == gateway)
            .map(|g| self.ports.connectors.connector(&g.config))
    }

    async fn record<T, F>(
        &self,
        deposit: &Deposit,
        decide: F,
    ) -> Result<super::command::Executed<T>, CommandError>
    where
        F: FnMut(&Deposit) -> Result<Decision<T>, crate::deposit::TransitionError>,
    {
        let command = CommandPorts {
            store: self.ports.store,
            clock: self.ports.clock,
            ids: self.ports.ids,
        };
        execute(
            &command,
            Start::From(deposit),
            Cause {
                correlation: self.correlation,
                causation: Some("sweeper"),
            },
            RetryPolicy::default(),
            decide,
        )
        .await
    }
}
