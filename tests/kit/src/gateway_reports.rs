//! What a well-behaved gateway reports by webhook about a deposit it holds, for suites
//! that apply notifications through the use case directly.

use paygate_domain::ports::gateway::{GatewayNotification, NotifiedOutcome};
use paygate_domain::ports::{Clock, EventStore, QueueSender, RandomIds};
use paygate_domain::service::outcome::{Applied, OutcomePorts, apply_notification};
use paygate_domain::{CorrelationId, Deposit, DepositId, Money, RefundId};
use uuid::Uuid;

/// The gateway's payment id of a deposit (or a payout): what its webhooks name.
pub fn payment_id(id: DepositId) -> String {
    format!("pay_{}", id.0.simple())
}

/// The gateway's id of a refund, once the gateway took it.
pub fn gateway_refund_id(refund: RefundId) -> String {
    format!("ref_{}", refund.0.simple())
}

/// A notification of `outcome` for the payment `external_id` at `gateway` (whose
/// submission the store recorded), with a fresh event id, the deposit as reference, and
/// the amount that moved: the refund's for refund outcomes (found by its gateway id),
/// else the deposit's.
pub async fn notification(
    store: &dyn EventStore,
    gateway: &str,
    external_id: &str,
    outcome: NotifiedOutcome,
) -> GatewayNotification {
    let lookup = store
        .find_by_external_id(gateway, external_id)
        .await
        .expect("the lookup reads")
        .expect("the payment's submission is recorded");
    let stream = store
        .load(lookup.deposit_id)
        .await
        .expect("the stream loads");
    let deposit = Deposit::replay(&stream).expect("a valid stream");
    let refund_amount = match &outcome {
        NotifiedOutcome::RefundSucceeded { refund_external_id }
        | NotifiedOutcome::RefundFailed {
            refund_external_id, ..
        } => deposit
            .refunds
            .iter()
            .find(|r| r.external_id.as_deref() == Some(refund_external_id))
            .map(|r| r.amount),
        _ => None,
    };
    GatewayNotification {
        event_id: format!("evt_{}", Uuid::new_v4().simple()),
        external_id: external_id.to_owned(),
        reference: deposit.id.to_string(),
        charged: Money {
            amount: refund_amount.unwrap_or(deposit.request.amount),
            currency: deposit.request.currency,
        },
        outcome,
    }
}

/// The [`notification`] of `outcome`, applied by the webhook function's use case (with
/// `correlation`) as if `gateway` had sent it; refunds it leaves awaiting submission are
/// announced on `queue`.
pub async fn apply(
    store: &dyn EventStore,
    clock: &dyn Clock,
    queue: &dyn QueueSender,
    gateway: &str,
    external_id: &str,
    outcome: NotifiedOutcome,
    correlation: &str,
) -> Applied {
    let ports = OutcomePorts {
        store,
        clock,
        ids: &RandomIds,
        queue,
    };
    let notification = notification(store, gateway, external_id, outcome).await;
    let correlation = CorrelationId(correlation.to_owned());
    apply_notification(&ports, gateway, &notification, &correlation)
        .await
        .expect("the webhook applies")
}
