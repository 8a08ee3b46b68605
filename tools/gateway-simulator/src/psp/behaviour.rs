//! How a simulated gateway misbehaves right now: the run-time switchboard, every knob off
//! by default (WIRE.md, "Simulator administration").

use serde::{Deserialize, Serialize};

/// How a simulated gateway misbehaves right now.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Behaviour {
    /// How long every non-admin call's work takes (health included) before it answers.
    pub latency_ms: u64,
    /// Share (0.0–1.0) of payment/refund/payout/status calls answered 503 before doing
    /// anything.
    pub error_rate: f64,
    /// 503 to everything but `/admin`.
    pub outage: bool,
    /// 503 on `/health` only.
    pub health_down: bool,
    /// How long after creation a payment, refund or payout settles and its webhook is due.
    pub webhook_delay_ms: u64,
    /// Share (0.0–1.0) of create-payment, refund and create-payout calls whose work is
    /// done (the charge, refund or payout is made) but whose reply never comes: the
    /// connection closes unanswered.
    pub lost_reply_rate: f64,
    /// What a create/refund/payout gets while an earlier request with its idempotency key is
    /// still being worked on: `0` waits for that request and answers the same; any other
    /// value (400–599, e.g. 409 or 429) is answered at once with the format's error.
    pub in_flight_key_status: u16,
    /// Status lookups (payments, refunds and payouts, by id or key) do not see one until
    /// this long after it was created (an eventually consistent index).
    pub lookup_lag_ms: u64,
    /// The PSP forgets an idempotency key this long after its first use; a later call
    /// with it creates a new payment, refund or payout. `0`: never forgets.
    pub key_horizon_ms: u64,
    /// Share (0.0–1.0) of payments captured for half the requested amount (at least 1
    /// minor unit); status, webhook and `/admin/payments` show the captured amount.
    /// Payments only: a payout always pays out what was asked.
    pub capture_mismatch_rate: f64,
    /// Share (0.0–1.0) of refunds of a captured payment that fail when they settle
    /// (`refund_declined`): the money stays with the payment. Payouts are not affected.
    pub refund_failure_rate: f64,
    /// Share (0.0–1.0) of webhook delivery attempts sent twice.
    pub webhook_duplicate_rate: f64,
    /// Share (0.0–1.0) of webhook delivery attempts lost on the way: they count as failed
    /// attempts and the retry schedule goes on (1.0: no webhook ever arrives).
    pub webhook_drop_rate: f64,
    /// Due webhooks go out shuffled, each first delivery held back a random 0–1 s, so a
    /// later event can overtake an earlier one.
    pub webhook_reorder: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_rate: 0.0,
            outage: false,
            health_down: false,
            webhook_delay_ms: 200,
            lost_reply_rate: 0.0,
            in_flight_key_status: 0,
            lookup_lag_ms: 0,
            key_horizon_ms: 0,
            capture_mismatch_rate: 0.0,
            refund_failure_rate: 0.0,
            webhook_duplicate_rate: 0.0,
            webhook_drop_rate: 0.0,
            webhook_reorder: false,
        }
    }
}

fn rate(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

fn valid_status(status: u16) -> bool {
    status == 0 || (400..=599).contains(&status)
}

impl Behaviour {
    /// Keeps every rate within 0.0–1.0 (NaN counts as 0.0) and an unusable
    /// `in_flight_key_status` at 0.
    pub(crate) fn sanitized(mut self) -> Self {
        self.error_rate = rate(self.error_rate);
        self.lost_reply_rate = rate(self.lost_reply_rate);
        self.capture_mismatch_rate = rate(self.capture_mismatch_rate);
        self.refund_failure_rate = rate(self.refund_failure_rate);
        self.webhook_duplicate_rate = rate(self.webhook_duplicate_rate);
        self.webhook_drop_rate = rate(self.webhook_drop_rate);
        if !valid_status(self.in_flight_key_status) {
            self.in_flight_key_status = 0;
        }
        self
    }
}

/// `PUT /admin/behaviour`: every field optional, absent fields keep their value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviourPatch {
    pub latency_ms: Option<u64>,
    pub error_rate: Option<f64>,
    pub outage: Option<bool>,
    pub health_down: Option<bool>,
    pub webhook_delay_ms: Option<u64>,
    pub lost_reply_rate: Option<f64>,
    pub in_flight_key_status: Option<u16>,
    pub lookup_lag_ms: Option<u64>,
    pub key_horizon_ms: Option<u64>,
    pub capture_mismatch_rate: Option<f64>,
    pub refund_failure_rate: Option<f64>,
    pub webhook_duplicate_rate: Option<f64>,
    pub webhook_drop_rate: Option<f64>,
    pub webhook_reorder: Option<bool>,
}

impl BehaviourPatch {
    pub fn apply(self, mut to: Behaviour) -> Behaviour {
        fn set<T>(field: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *field = value;
            }
        }
        set(&mut to.latency_ms, self.latency_ms);
        set(&mut to.error_rate, self.error_rate);
        set(&mut to.outage, self.outage);
        set(&mut to.health_down, self.health_down);
        set(&mut to.webhook_delay_ms, self.webhook_delay_ms);
        set(&mut to.lost_reply_rate, self.lost_reply_rate);
        set(&mut to.in_flight_key_status, self.in_flight_key_status);
        set(&mut to.lookup_lag_ms, self.lookup_lag_ms);
        set(&mut to.key_horizon_ms, self.key_horizon_ms);
        set(&mut to.capture_mismatch_rate, self.capture_mismatch_rate);
        set(&mut to.refund_failure_rate, self.refund_failure_rate);
        set(&mut to.webhook_duplicate_rate, self.webhook_duplicate_rate);
        set(&mut to.webhook_drop_rate, self.webhook_drop_rate);
        set(&mut to.webhook_reorder, self.webhook_reorder);
        to
    }

    /// Why the patch cannot be applied, if it cannot (a 400 from `/admin/behaviour`).
    pub fn problem(&self) -> Option<String> {
        let rates = [
            ("error_rate", self.error_rate),
            ("lost_reply_rate", self.lost_reply_rate),
            ("capture_mismatch_rate", self.capture_mismatch_rate),
            ("refund_failure_rate", self.refund_failure_rate),
            ("webhook_duplicate_rate", self.webhook_duplicate_rate),
            ("webhook_drop_rate", self.webhook_drop_rate),
        ];
        for (name, value) in rates {
            if let Some(value) = value
                && !(0.0..=1.0).contains(&value)
            {
                return Some(format!("{name} must be between 0.0 and 1.0"));
            }
        }
        match self.in_flight_key_status {
            Some(status) if !valid_status(status) => {
                Some("in_flight_key_status must be 0 or an HTTP status from 400 to 599".into())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_matches_the_documented_values() {
        let b = Behaviour::default();
        assert_eq!(
            (
                b.latency_ms,
                b.error_rate,
                b.outage,
                b.health_down,
                b.webhook_delay_ms
            ),
            (0, 0.0, false, false, 200)
        );
        assert_eq!(
            serde_json::to_value(b).unwrap(),
            serde_json::json!({
                "latency_ms": 0, "error_rate": 0.0, "outage": false, "health_down": false,
                "webhook_delay_ms": 200, "lost_reply_rate": 0.0, "in_flight_key_status": 0,
                "lookup_lag_ms": 0, "key_horizon_ms": 0, "capture_mismatch_rate": 0.0,
                "refund_failure_rate": 0.0, "webhook_duplicate_rate": 0.0, "webhook_drop_rate": 0.0, "webhook_reorder": false
            })
        );
    }

    #[test]
    fn patch_changes_only_given_fields() {
        let patch: BehaviourPatch =
            serde_json::from_str(r#"{"outage":true,"key_horizon_ms":5}"#).unwrap();
        let b = patch.apply(Behaviour::default());
        assert!(b.outage);
        assert_eq!(b.key_horizon_ms, 5);
        assert_eq!(b.webhook_delay_ms, 200);
    }

    #[test]
    fn rates_are_clamped_and_bad_statuses_dropped() {
        let b = Behaviour {
            error_rate: 7.0,
            lost_reply_rate: f64::NAN,
            webhook_drop_rate: -1.0,
            in_flight_key_status: 200,
            ..Behaviour::default()
        }
        .sanitized();
        assert_eq!(
            (b.error_rate, b.lost_reply_rate, b.webhook_drop_rate),
            (1.0, 0.0, 0.0)
        );
        assert_eq!(b.in_flight_key_status, 0);
    }

    #[test]
    fn patch_problems_are_named() {
        let bad: BehaviourPatch = serde_json::from_str(r#"{"webhook_drop_rate":1.5}"#).unwrap();
        assert!(bad.problem().unwrap().contains("webhook_drop_rate"));
        let bad: BehaviourPatch = serde_json::from_str(r#"{"in_flight_key_status":302}"#).unwrap();
        assert!(bad.problem().unwrap().contains("in_flight_key_status"));
        let good: BehaviourPatch =
            serde_json::from_str(r#"{"in_flight_key_status":429,"error_rate":1.0}"#).unwrap();
        assert_eq!(good.problem(), None);
    }
}
