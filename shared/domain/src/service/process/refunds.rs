//! Sending requested refunds to their gateway: the merchant's to the gateway that
//! captured the deposit, paygate's own reversals to the gateway that holds the stray
//! charge. Each refund's idempotency key (`<deposit id>:refund:<refund id>`) makes a
//! repeat safe, so an unclear answer is simply retried later; only a definite answer
//! (accepted, rejected) is recorded.

use super::super::command::Decision;
use super::{ProcessError, Run, awaits_submission};
use crate::deposit::{ChargeRef, Deposit, DepositEvent, FailureReason};
use crate::gateways::Gateway;
use crate::ports::gateway::{RefundOutcome, RefundRequest};

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
            let request = RefundRequest {
                idempotency_key: refund_key(&deposit, refund.id),
                external_id: target.external_id.clone(),
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
                    unsettled = Some(format!(
                        "refund {refund_id} could not be submitted yet: {reason}"
                    ));
                    continue;
                }
            };
            log_target(&target, &event);
            deposit = self
                .record(&deposit, |d| {
                    let still_waiting = d
                        .refunds
                        .iter()
                        .any(|r| r.id == refund_id && awaits_submission(r));
                    Ok(if still_waiting {
                        Decision::record(vec![event.clone()], ())
                    } else {
                        Decision::nothing(())
                    })
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

fn log_target(target: &ChargeRef, event: &DepositEvent) {
    match event {
        DepositEvent::RefundSubmitted { refund_id, .. } => {
            tracing::info!(gateway = %target.gateway, %refund_id, "refund submitted");
        }
        DepositEvent::RefundFailed { refund_id, reason } => {
            tracing::warn!(gateway = %target.gateway, %refund_id, code = %reason.code, "refund rejected");
        }
        _ => {}
    }
}
