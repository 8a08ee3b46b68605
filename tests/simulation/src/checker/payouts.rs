//! Payouts on the PSPs' books: paid out at most once across gateways, paid iff paygate
//! says `paid`, for the amount asked; anything else the PSPs paid out is an announced
//! anomaly (a person recovers it: a payout is never reversed automatically).

use gateway_simulator::{PayoutRecord, PayoutStatus};
use paygate_domain::{Deposit, DepositId, DepositStatus};

/// A PSP payout and the gateway that made it.
pub(super) struct PaidOut<'a> {
    pub gateway: &'a str,
    pub payout: &'a PayoutRecord,
}

impl PaidOut<'_> {
    pub fn paid(&self) -> bool {
        self.payout.status == PayoutStatus::Paid
    }
}

pub(super) fn check(
    id: DepositId,
    payout: &Deposit,
    at_psps: &[PaidOut<'_>],
    left_for_a_person: bool,
    violations: &mut Vec<String>,
) {
    // Rule 1 on the PSPs' books: they pay out only when asked, so two payouts (even one
    // still pending) mean paygate asked twice.
    let taken: Vec<&str> = at_psps
        .iter()
        .filter(|p| matches!(p.payout.status, PayoutStatus::Paid | PayoutStatus::Pending))
        .map(|p| p.payout.id.as_str())
        .collect();
    if taken.len() > 1 {
        violations.push(format!("{id}: paid out {} times: {taken:?}", taken.len()));
    }
    let own = (payout.status == DepositStatus::Succeeded)
        .then(|| payout.own_charge())
        .flatten();
    let mut live = 0;
    for paid in at_psps.iter().filter(|p| p.paid()) {
        let is_own = own
            .as_ref()
            .is_some_and(|c| c.gateway == paid.gateway && c.external_id == paid.payout.id);
        if is_own {
            live += 1;
            let asked = payout.request.amount.minor() as i64;
            if paid.payout.amount != asked || paid.payout.currency != payout.request.currency.code()
            {
                violations.push(format!(
                    "{id}: paid, and {} paid out {} {}, asked {asked} {}",
                    paid.gateway, paid.payout.amount, paid.payout.currency, payout.request.currency
                ));
            }
            continue;
        }
        let announced = payout.anomalies.iter().any(|a| {
            a.gateway == paid.gateway && a.external_id.as_deref() == Some(paid.payout.id.as_str())
        });
        if !announced {
            violations.push(format!(
                "{id}: {} paid out {} ({}), which is not the payout's own and no anomaly names",
                paid.gateway, paid.payout.id, paid.payout.amount
            ));
        }
    }
    if payout.status == DepositStatus::Succeeded && live == 0 && !left_for_a_person {
        violations.push(format!("{id}: paid, but no gateway paid it out"));
    }
}
