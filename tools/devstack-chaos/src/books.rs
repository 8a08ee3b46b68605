//! The end state, judged: what paygate says about each deposit (its API) against what
//! the gateways hold (their `/admin/payments`, the ground truth of money moved).

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A payment as a simulated gateway lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Payment {
    pub id: String,
    /// The deposit it was made for.
    pub reference: String,
    pub amount: i64,
    pub status: String,
    pub refunds: Vec<Refund>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub amount: i64,
    pub status: String,
}

impl Payment {
    /// Charged, or may still be.
    fn holds_money(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "pending")
    }

    fn refunded(&self) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.status == "succeeded")
            .map(|r| r.amount)
            .sum()
    }
}

/// A deposit as paygate's API shows it.
#[derive(Debug, Clone)]
pub struct Deposit {
    pub id: String,
    pub status: String,
    pub amount: i64,
    pub external_id: Option<String>,
    pub refunded_amount: i64,
    /// Refunds requested and not yet succeeded or failed.
    pub open_refunds: usize,
    /// The kinds of its `PaymentAnomalyDetected` events.
    pub anomalies: Vec<String>,
}

impl Deposit {
    /// From `GET /v1/deposits/{id}` and `GET /v1/deposits/{id}/events`.
    pub fn from_api(view: &Value, events: &Value) -> Self {
        let mut open_refunds = 0_i64;
        let mut anomalies = Vec::new();
        for event in events["data"].as_array().into_iter().flatten() {
            match event["type"].as_str() {
                Some("RefundRequested") => open_refunds += 1,
                Some("RefundSucceeded" | "RefundFailed") => open_refunds -= 1,
                Some("PaymentAnomalyDetected") => anomalies.push(
                    event["data"]["anomaly"]["kind"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ),
                _ => {}
            }
        }
        Self {
            id: view["id"].as_str().unwrap_or_default().to_owned(),
            status: view["status"].as_str().unwrap_or_default().to_owned(),
            amount: view["amount"].as_i64().unwrap_or_default(),
            external_id: view["external_id"].as_str().map(str::to_owned),
            refunded_amount: view["refunded_amount"].as_i64().unwrap_or_default(),
            open_refunds: open_refunds.max(0) as usize,
            anomalies,
        }
    }

    /// An anomaly only a person can settle (the gateway may have forgotten the key).
    pub fn needs_a_person(&self) -> bool {
        self.anomalies
            .iter()
            .any(|kind| kind == "attempt_unresolved" || kind == "refund_unresolved")
    }

    pub fn is_final(&self) -> bool {
        let settled = matches!(
            self.status.as_str(),
            "succeeded" | "failed" | "partially_refunded" | "refunded"
        );
        settled && self.open_refunds == 0
    }

    fn captured(&self) -> bool {
        matches!(
            self.status.as_str(),
            "succeeded" | "partially_refunded" | "refunded"
        )
    }
}

/// What the books say, one line per problem.
#[derive(Debug, Default)]
pub struct Findings {
    pub double_charges: Vec<String>,
    pub not_final: Vec<String>,
    pub disagreements: Vec<String>,
    pub anomalies: usize,
    pub needs_a_person: usize,
}

impl Findings {
    pub fn problems(&self) -> usize {
        self.double_charges.len() + self.not_final.len() + self.disagreements.len()
    }
}

/// Judges every deposit against the gateways' payments made for it.
pub fn judge(deposits: &[Deposit], payments: &[Payment]) -> Findings {
    let mut by_deposit: BTreeMap<&str, Vec<&Payment>> = BTreeMap::new();
    for payment in payments {
        by_deposit
            .entry(payment.reference.as_str())
            .or_default()
            .push(payment);
    }
    let mut findings = Findings::default();
    for deposit in deposits {
        let id = deposit.id.as_str();
        let held = by_deposit.get(id).cloned().unwrap_or_default();
        findings.anomalies += deposit.anomalies.len();
        if deposit.needs_a_person() {
            findings.needs_a_person += 1;
            continue;
        }
        let charged: Vec<&&Payment> = held.iter().filter(|p| p.holds_money()).collect();
        if charged.len() > 1 {
            let ids: Vec<&str> = charged.iter().map(|p| p.id.as_str()).collect();
            findings
                .double_charges
                .push(format!("{id}: charged {} times: {ids:?}", ids.len()));
        }
        if !deposit.is_final() {
            findings.not_final.push(format!(
                "{id}: {} with {} open refund(s)",
                deposit.status, deposit.open_refunds
            ));
            continue;
        }
        let succeeded: Vec<&&Payment> = held.iter().filter(|p| p.status == "succeeded").collect();
        if deposit.captured() {
            match succeeded.as_slice() {
                [own]
                    if Some(&own.id) == deposit.external_id.as_ref()
                        && own.amount == deposit.amount
                        && own.refunded() == deposit.refunded_amount => {}
                _ => findings.disagreements.push(format!(
                    "{id}: {} for {} refunded {}, the gateways hold {:?}",
                    deposit.status, deposit.amount, deposit.refunded_amount, succeeded
                )),
            }
        } else {
            for payment in succeeded {
                if payment.refunded() != payment.amount {
                    findings.disagreements.push(format!(
                        "{id}: failed, yet {} holds {} of which {} refunded",
                        payment.id,
                        payment.amount,
                        payment.refunded()
                    ));
                }
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deposit(id: &str, status: &str, external_id: Option<&str>, refunded: i64) -> Deposit {
        Deposit {
            id: id.into(),
            status: status.into(),
            amount: 1_000,
            external_id: external_id.map(str::to_owned),
            refunded_amount: refunded,
            open_refunds: 0,
            anomalies: Vec::new(),
        }
    }

    fn payment(id: &str, reference: &str, amount: i64, status: &str, refunds: &[i64]) -> Payment {
        Payment {
            id: id.into(),
            reference: reference.into(),
            amount,
            status: status.into(),
            refunds: refunds
                .iter()
                .map(|&amount| Refund {
                    amount,
                    status: "succeeded".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn books_that_agree_have_no_problems() {
        let deposits = [
            deposit("d1", "partially_refunded", Some("p1"), 300),
            deposit("d2", "failed", None, 0),
        ];
        let payments = [
            payment("p1", "d1", 1_000, "succeeded", &[300]),
            payment("p2", "d2", 1_000, "declined", &[]),
            // another amount captured: the deposit failed and the charge was refunded
            payment("p3", "d2", 990, "succeeded", &[990]),
        ];
        let findings = judge(&deposits, &payments);
        assert_eq!(findings.problems(), 0, "{findings:?}");
    }

    #[test]
    fn a_second_charge_is_a_double_charge_even_once_refunded() {
        let deposits = [deposit("d1", "succeeded", Some("p1"), 0)];
        let payments = [
            payment("p1", "d1", 1_000, "succeeded", &[]),
            payment("p2", "d1", 1_000, "succeeded", &[1_000]),
        ];
        let findings = judge(&deposits, &payments);
        assert_eq!(findings.double_charges.len(), 1, "{findings:?}");
    }

    #[test]
    fn disagreements_and_waiting_deposits_are_problems() {
        let mut waiting = deposit("d3", "succeeded", Some("p3"), 0);
        waiting.open_refunds = 1;
        let deposits = [
            deposit("d1", "succeeded", Some("p1"), 0),
            deposit("d2", "failed", None, 0),
            waiting,
            deposit("d4", "processing", None, 0),
        ];
        let payments = [
            payment("p1", "d1", 900, "succeeded", &[]),
            payment("p2", "d2", 1_000, "succeeded", &[500]),
        ];
        let findings = judge(&deposits, &payments);
        assert_eq!(findings.disagreements.len(), 2, "{findings:?}");
        assert_eq!(findings.not_final.len(), 2, "{findings:?}");
    }

    #[test]
    fn a_deposit_left_for_a_person_is_counted_not_judged() {
        let mut unresolved = deposit("d1", "processing", None, 0);
        unresolved.anomalies = vec!["attempt_unresolved".into()];
        let findings = judge(&[unresolved], &[]);
        assert_eq!((findings.problems(), findings.needs_a_person), (0, 1));
    }
}
