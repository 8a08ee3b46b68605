//! What paygate counts and times, through the `metrics` facade: the program decides
//! where it goes (CloudWatch EMF in the functions, Prometheus in the devstack). Labels
//! are bounded sets — gateway names, corridors (country-currency), outcome classes,
//! reason codes — never a string a merchant chose.

use crate::deposit::{Deposit, DepositEvent, RecordedEvent};
use crate::gateways::{BreakerState, Health};
use crate::ports::gateway::PaymentOutcome;
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use std::time::Duration;
use time::OffsetDateTime;

pub const DEPOSITS_REQUESTED: &str = "deposits_requested";
pub const DEPOSITS_SUCCEEDED: &str = "deposits_succeeded";
pub const DEPOSITS_FAILED: &str = "deposits_failed";
pub const AMOUNT_CAPTURED: &str = "amount_captured_minor";
pub const TIME_TO_FINAL: &str = "deposit_time_to_final_seconds";
pub const ATTEMPTS_FAILED: &str = "attempts_failed";
pub const PAYOUTS_REQUESTED: &str = "payouts_requested";
pub const PAYOUTS_PAID: &str = "payouts_paid";
pub const PAYOUTS_FAILED: &str = "payouts_failed";
pub const AMOUNT_PAID_OUT: &str = "amount_paid_out_minor";
pub const REFUNDS_REQUESTED: &str = "refunds_requested";
pub const REFUNDS_SUCCEEDED: &str = "refunds_succeeded";
pub const REFUNDS_FAILED: &str = "refunds_failed";
pub const ANOMALIES: &str = "payment_anomalies";
pub const GATEWAY_CALLS: &str = "gateway_calls";
pub const GATEWAY_CALL_MS: &str = "gateway_call_ms";
pub const STORE_CONFLICTS: &str = "store_conflicts";
pub const IDEMPOTENT_REPLAYS: &str = "idempotent_replays";
pub const WEBHOOKS_REJECTED: &str = "webhooks_rejected";
pub const SWEEPER_ACTIONS: &str = "sweeper_actions";
pub const FALLBACKS: &str = "gateway_fallbacks";
pub const BREAKER_STATE: &str = "gateway_breaker_state";
pub const HEALTH_CHANGES: &str = "gateway_health_changes";
pub const WEBHOOKS_DUPLICATE: &str = "webhooks_duplicate";
pub const IDEMPOTENCY_CONFLICTS: &str = "idempotency_conflicts";

/// Every metric with its unit and meaning (the README's table says the same).
pub const CATALOGUE: &[(&str, Unit, &str)] = &[
    (
        DEPOSITS_REQUESTED,
        Unit::Count,
        "new deposits accepted, by corridor",
    ),
    (
        DEPOSITS_SUCCEEDED,
        Unit::Count,
        "deposits succeeded, by gateway and corridor",
    ),
    (
        DEPOSITS_FAILED,
        Unit::Count,
        "deposits failed, by corridor and reason code",
    ),
    (
        AMOUNT_CAPTURED,
        Unit::Count,
        "minor units captured, by currency",
    ),
    (
        TIME_TO_FINAL,
        Unit::Seconds,
        "from request to succeeded or failed, by outcome",
    ),
    (
        ATTEMPTS_FAILED,
        Unit::Count,
        "gateway attempts that failed (a fallback may follow), by gateway and retryable",
    ),
    (
        PAYOUTS_REQUESTED,
        Unit::Count,
        "payouts accepted (their amount reserved), by corridor",
    ),
    (
        PAYOUTS_PAID,
        Unit::Count,
        "payouts paid, by gateway and corridor",
    ),
    (
        PAYOUTS_FAILED,
        Unit::Count,
        "payouts failed (their amount back in available), by corridor and reason code",
    ),
    (
        AMOUNT_PAID_OUT,
        Unit::Count,
        "minor units paid out, by currency",
    ),
    (
        REFUNDS_REQUESTED,
        Unit::Count,
        "refunds recorded, by kind (merchant, reversal)",
    ),
    (
        REFUNDS_SUCCEEDED,
        Unit::Count,
        "refunds the gateway confirmed, by kind",
    ),
    (
        REFUNDS_FAILED,
        Unit::Count,
        "refunds the gateway refused, by kind",
    ),
    (
        ANOMALIES,
        Unit::Count,
        "payment anomalies recorded, by kind and gateway",
    ),
    (
        GATEWAY_CALLS,
        Unit::Count,
        "payment calls to gateways, by gateway and outcome class",
    ),
    (
        GATEWAY_CALL_MS,
        Unit::Milliseconds,
        "payment call latency, by gateway and outcome class",
    ),
    (
        STORE_CONFLICTS,
        Unit::Count,
        "appends that lost a race and were decided again",
    ),
    (
        IDEMPOTENT_REPLAYS,
        Unit::Count,
        "requests answered from their idempotency record, by endpoint",
    ),
    (
        WEBHOOKS_REJECTED,
        Unit::Count,
        "webhooks refused, by gateway and reason",
    ),
    (
        SWEEPER_ACTIONS,
        Unit::Count,
        "what the sweeper did, by action",
    ),
    (
        FALLBACKS,
        Unit::Count,
        "attempts moved to another gateway after one failed, by from and to",
    ),
    (
        BREAKER_STATE,
        Unit::Count,
        "a gateway's breaker as last recorded: 0 closed, 1 half-open, 2 open, by gateway",
    ),
    (
        HEALTH_CHANGES,
        Unit::Count,
        "health transitions the probe recorded, by gateway and new health",
    ),
    (
        WEBHOOKS_DUPLICATE,
        Unit::Count,
        "verified webhooks that changed nothing (already recorded), by gateway",
    ),
    (
        IDEMPOTENCY_CONFLICTS,
        Unit::Count,
        "requests refused because their key was used for another request",
    ),
];

/// The one metric recorded as a gauge (the others count or time).
fn is_gauge(name: &str) -> bool {
    name == BREAKER_STATE
}

/// Gives every metric its unit and description (call once, after installing a recorder).
pub fn describe() {
    for (name, unit, text) in CATALOGUE {
        match unit {
            Unit::Count if is_gauge(name) => describe_gauge!(*name, *unit, *text),
            Unit::Count => describe_counter!(*name, *unit, *text),
            _ => describe_histogram!(*name, *unit, *text),
        }
    }
}

/// `AE-AED`: bounded (two ISO code sets).
fn corridor(deposit: &Deposit) -> String {
    format!("{}-{}", deposit.request.country, deposit.request.currency)
}

/// A reason code as a label: ours and gateways' codes are short snake case; anything
/// else is `other`, so a gateway cannot grow the label set without bound.
pub fn code_label(code: &str) -> String {
    let bounded = !code.is_empty()
        && code.len() <= 40
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if bounded {
        code.to_owned()
    } else {
        "other".to_owned()
    }
}

/// Counts what `events` (just appended) record; `after` is the deposit once they applied.
/// A payout's own events (requested, paid, failed) have counters of their own and no
/// time to final; the events it shares with deposits (attempts, anomalies) count alike.
pub fn record_appended(after: &Deposit, events: &[RecordedEvent]) {
    let payout = after.is_payout();
    let own = |deposit: &'static str, payout_name: &'static str| {
        if payout { payout_name } else { deposit }
    };
    for recorded in events {
        match &recorded.event {
            DepositEvent::DepositRequested { .. } => {
                let requested = own(DEPOSITS_REQUESTED, PAYOUTS_REQUESTED);
                counter!(requested, "corridor" => corridor(after)).increment(1);
            }
            DepositEvent::DepositSucceeded { .. } => {
                let gateway = after.gateway.clone().unwrap_or_default();
                let succeeded = own(DEPOSITS_SUCCEEDED, PAYOUTS_PAID);
                counter!(succeeded, "gateway" => gateway, "corridor" => corridor(after))
                    .increment(1);
                let amount = own(AMOUNT_CAPTURED, AMOUNT_PAID_OUT);
                counter!(amount, "currency" => after.request.currency.code())
                    .increment(after.request.amount.minor());
                if !payout {
                    time_to_final(after, recorded, "succeeded");
                }
            }
            DepositEvent::DepositFailed { reason } => {
                let reason = code_label(&reason.code);
                let failed = own(DEPOSITS_FAILED, PAYOUTS_FAILED);
                counter!(failed, "corridor" => corridor(after), "reason" => reason).increment(1);
                if !payout {
                    time_to_final(after, recorded, "failed");
                }
            }
            DepositEvent::AttemptFailed {
                attempt, retryable, ..
            } => {
                let gateway = after
                    .attempts
                    .iter()
                    .find(|a| a.number == *attempt)
                    .map(|a| a.gateway.clone())
                    .unwrap_or_default();
                let retryable = if *retryable { "true" } else { "false" };
                counter!(ATTEMPTS_FAILED, "gateway" => gateway, "retryable" => retryable)
                    .increment(1);
            }
            DepositEvent::AttemptStarted {
                attempt, gateway, ..
            } => {
                let previous = after.attempts.iter().find(|a| a.number + 1 == *attempt);
                if let Some(previous) = previous.filter(|p| &p.gateway != gateway) {
                    counter!(FALLBACKS, "from" => previous.gateway.clone(), "to" => gateway.clone())
                        .increment(1);
                }
            }
            DepositEvent::RefundRequested { charge, .. } => {
                counter!(REFUNDS_REQUESTED, "kind" => refund_kind(charge.is_some())).increment(1);
            }
            DepositEvent::RefundSucceeded { refund_id }
            | DepositEvent::RefundFailed { refund_id, .. } => {
                let reversal = after
                    .refunds
                    .iter()
                    .any(|r| r.id == *refund_id && r.charge.is_some());
                let name = if matches!(recorded.event, DepositEvent::RefundSucceeded { .. }) {
                    REFUNDS_SUCCEEDED
                } else {
                    REFUNDS_FAILED
                };
                counter!(name, "kind" => refund_kind(reversal)).increment(1);
            }
            DepositEvent::PaymentAnomalyDetected { anomaly } => {
                counter!(ANOMALIES, "kind" => anomaly.kind.as_str(), "gateway" => anomaly.gateway.clone())
                    .increment(1);
            }
            _ => {}
        }
    }
}

/// One payment call to `gateway`: its outcome class and how long it took.
pub fn record_gateway_call(gateway: &str, answer: &PaymentOutcome, took: Duration) {
    let outcome = match answer {
        PaymentOutcome::Accepted { .. } => "accepted",
        PaymentOutcome::Declined { .. } => "declined",
        PaymentOutcome::Transient { .. } => "transient",
        PaymentOutcome::Ambiguous { .. } => "ambiguous",
    };
    let gateway = gateway.to_owned();
    counter!(GATEWAY_CALLS, "gateway" => gateway.clone(), "outcome" => outcome).increment(1);
    histogram!(GATEWAY_CALL_MS, "gateway" => gateway, "outcome" => outcome)
        .record(took.as_secs_f64() * 1000.0);
}

/// The breaker state a call left `gateway` in.
pub fn record_breaker(gateway: &str, state: &BreakerState, now: OffsetDateTime) {
    let level = match state.name(now) {
        "closed" => 0.0,
        "half_open" => 1.0,
        _ => 2.0,
    };
    gauge!(BREAKER_STATE, "gateway" => gateway.to_owned()).set(level);
}

/// The probe moved `gateway` to `health`.
pub fn record_health_change(gateway: &str, health: Health) {
    counter!(HEALTH_CHANGES, "gateway" => gateway.to_owned(), "health" => health.as_str())
        .increment(1);
}

/// A verified webhook from `gateway` that changed nothing.
pub fn record_duplicate_webhook(gateway: &str) {
    counter!(WEBHOOKS_DUPLICATE, "gateway" => gateway.to_owned()).increment(1);
}

/// A request refused because its idempotency key belongs to another request.
pub fn record_key_reused() {
    counter!(IDEMPOTENCY_CONFLICTS).increment(1);
}

/// A request answered from its idempotency record (`endpoint`: `create_deposit`, ...).
pub fn record_replay(endpoint: &'static str) {
    counter!(IDEMPOTENT_REPLAYS, "endpoint" => endpoint).increment(1);
}

/// What one sweeper run did, by action.
pub fn record_sweep(summary: &crate::service::sweep::SweepSummary) {
    for (action, count) in [
        ("requeued", summary.requeued),
        ("attempt_settled", summary.attempts_settled),
        ("submitted_settled", summary.submitted_settled),
        ("refund_settled", summary.refunds_settled),
        ("published", summary.published),
        ("failed", summary.failures),
    ] {
        if count > 0 {
            counter!(SWEEPER_ACTIONS, "action" => action).increment(count as u64);
        }
    }
}

fn refund_kind(reversal: bool) -> &'static str {
    if reversal { "reversal" } else { "merchant" }
}

fn time_to_final(after: &Deposit, recorded: &RecordedEvent, outcome: &'static str) {
    let waited = (recorded.occurred_at - after.created_at).as_seconds_f64();
    histogram!(TIME_TO_FINAL, "outcome" => outcome).record(waited.max(0.0));
}
