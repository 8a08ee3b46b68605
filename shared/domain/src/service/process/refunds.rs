//! Sending requested refunds to their gateway: the merchant's to the gateway that
//! captured the deposit, paygate's own reversals to the gateway that holds the stray
//! charge. Each refund's idempotency key (`<deposit id>:refund:<refund id>`) makes a
//! repeat safe, so an unclear answer is simply retried later; only a definite answer
//! (accepted, rejected) is recorded. Past the gateway's key horizon a refund is only
//! looked up, never sent again (see `Deposit::settle_refund_past_horizon`).

use super::super::command::Decision;
use super::{ProcessError, Run, awaits_submission};
use crate::deposit::{ChargeRef, Deposit};
use crate::gateways::Gateway;
use crate::ports::gateway::{RefundOutcome, RefundRequest, RefundStatusOutcome};

/// What the gateway said about a refund: to its call, or to a lookup.
enum Answer {
    Call(RefundOutcome),
    Lookup(RefundStatusOutcome),
}

impl Run<'_, '_> {
    /// Submits every refund awaiting submission; returns the state after, and why the
    /// message must come back if some could not be submitted yet.
    pub(super) async fn submit_refunds(
        &self,
        mut deposit: Deposit,
        gateways: &[Gateway],
    ) -> Result<(Deposit, Option<String>), ProcessError> {
        let waiting: Vec<_> = deposit
            .refunds
            .iter()
            .filter(|r| awaits_submission(r))
            .cloned()
            .collect();
        let mut unsettled = None;
        for refund in waiting {
            let Some(target) = refund.charge.clone().or_else(|| deposit.own_charge()) else {
                return Err(ProcessError::Poison(
                    "a refund of a deposit without its gateway payment".into(),
                ));
            };
            let Some(connector) = self.connector(gateways, &target.gateway) else {
                unsettled = Some(format!(
                    "refunds go to {}, which is not registered",
                    target.gateway
                ));
                continue;
            };
            let refund_id = refund.id;
            let key = refund_key(&deposit, refund_id);
            let past_horizon =
                self.ports.clock.now() >= refund.requested_at + self.ports.attempts.resend_within;
            let answer = if past_horizon {
                // The gateway may have forgotten the key: ask, never send again.
                Answer::Lookup(connector.refund_status(&key, None).await)
            } else {
                let request = RefundRequest {
                    idempotency_key: key,
                    external_id: target.external_id.clone(),
                    amount: refund.amount,
                };
                let answer = connector.refund(&request).await;
                log_target(&target, &answer);
                if let RefundOutcome::Transient { reason } | RefundOutcome::Ambiguous { reason } =
                    &answer
                {
                    unsettled = Some(format!(
                        "refund {refund_id} could not be submitted yet: {reason}"
                    ));
                }
                Answer::Call(answer)
            };
            deposit = self
                .record(&deposit, |d| {
                    let events = match &answer {
                        Answer::Call(answer) => d.settle_refund_call(refund_id, answer),
                        Answer::Lookup(answer) => d.settle_refund_past_horizon(refund_id, answer),
                    };
                    Ok(Decision::record(events, ()))
                })
                .await?
                .deposit;
        }
        Ok((deposit, unsettled))
    }
}

/// A refund's idempotency key at its gateway.
pub fn refund_key(deposit: &Deposit, refund: crate::ids::RefundId) -> String {
    format!("{}:refund:{refund}", deposit.id)
}

fn log_target(target: &ChargeRef, answer: &RefundOutcome) {
    match answer {
        RefundOutcome::Accepted { .. } => {
            tracing::info!(gateway = %target.gateway, "refund submitted");
        }
        RefundOutcome::Rejected { code, .. } => {
            tracing::warn!(gateway = %target.gateway, %code, "refund rejected");
        }
        RefundOutcome::Transient { .. } | RefundOutcome::Ambiguous { .. } => {}
    }
}
