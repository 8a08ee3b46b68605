//! Which deposit events move money in the merchant's ledger, and how.

use super::{Account, EntryType, Movement, Posting};
use crate::deposit::{Deposit, DepositEvent, RecordedEvent, Refund};

/// The movement `recorded` causes, given the deposit as it is once `recorded` applied
/// (`None` for events that move no money).
pub fn movement(after: &Deposit, recorded: &RecordedEvent) -> Option<Movement> {
    if after.is_payout() {
        return payout_movement(after, recorded);
    }
    let (entry_type, currency, source, postings) = match &recorded.event {
        DepositEvent::DepositSucceeded { .. } => {
            let gateway = after.gateway.clone()?;
            let amount = signed(after.request.amount.minor());
            (
                EntryType::Deposit,
                after.request.currency,
                after.id.to_string(),
                transfer(Account::Gateway(gateway), Account::Available, amount),
            )
        }
        DepositEvent::PaymentAnomalyDetected { anomaly } => {
            let charge = anomaly.held_charge()?;
            let charged = anomaly.charged?;
            // A charge is held once, however many surprises name it.
            let earlier = &after.anomalies[..after.anomalies.len().saturating_sub(1)];
            if earlier
                .iter()
                .any(|a| a.held_charge().as_ref() == Some(&charge))
            {
                return None;
            }
            (
                EntryType::ChargeHeld,
                charged.currency,
                after.id.to_string(),
                transfer(
                    Account::Gateway(charge.gateway),
                    Account::Suspense,
                    signed(charged.amount.minor()),
                ),
            )
        }
        DepositEvent::RefundRequested { .. }
        | DepositEvent::RefundSucceeded { .. }
        | DepositEvent::RefundFailed { .. } => {
            let refund = refund(after, recorded)?;
            let (entry_type, from, to) = refund_step(after, refund, &recorded.event)?;
            (
                entry_type,
                after.refund_currency(refund),
                refund.id.to_string(),
                transfer(from, to, signed(refund.amount.minor())),
            )
        }
        _ => return None,
    };
    Some(Movement {
        entry_type,
        currency,
        source,
        deposit_id: after.id,
        event_id: recorded.event_id,
        postings,
        occurred_at: recorded.occurred_at,
    })
}

/// Where a refund's amount goes at `event`: it is held in `reserved` from its request
/// until it leaves through the gateway, or goes back where it came from when it fails
/// (the merchant's balance, or the suspense account that holds a stray charge).
fn refund_step(
    after: &Deposit,
    refund: &Refund,
    event: &DepositEvent,
) -> Option<(EntryType, Account, Account)> {
    let (origin, requested, reversed) = match refund.charge {
        None => (
            Account::Available,
            EntryType::Refund,
            EntryType::RefundReversal,
        ),
        Some(_) => (
            Account::Suspense,
            EntryType::ChargeRefund,
            EntryType::ChargeRefundReversal,
        ),
    };
    Some(match event {
        DepositEvent::RefundRequested { .. } => (requested, origin, Account::Reserved),
        DepositEvent::RefundSucceeded { .. } => {
            let gateway = match &refund.charge {
                Some(charge) => charge.gateway.clone(),
                None => after.gateway.clone()?,
            };
            (
                EntryType::RefundSettled,
                Account::Reserved,
                Account::Gateway(gateway),
            )
        }
        DepositEvent::RefundFailed { .. } => (reversed, Account::Reserved, origin),
        _ => return None,
    })
}

/// A payout reserves its amount when requested (refused if `available` cannot cover
/// it), and the reservation leaves through the gateway when paid or comes back when the
/// payout fails: each exactly once, since each event happens once per stream. Its
/// surprises move nothing: money paid out is never reversed automatically.
fn payout_movement(after: &Deposit, recorded: &RecordedEvent) -> Option<Movement> {
    let amount = signed(after.request.amount.minor());
    let (entry_type, postings) = match &recorded.event {
        DepositEvent::DepositRequested { .. } => (
            EntryType::Payout,
            transfer(Account::Available, Account::Reserved, amount),
        ),
        DepositEvent::DepositSucceeded { .. } => (
            EntryType::PayoutSettled,
            transfer(
                Account::Reserved,
                Account::Gateway(after.gateway.clone()?),
                amount,
            ),
        ),
        DepositEvent::DepositFailed { .. } => (
            EntryType::PayoutReversal,
            transfer(Account::Reserved, Account::Available, amount),
        ),
        _ => return None,
    };
    Some(Movement {
        entry_type,
        currency: after.request.currency,
        source: after.id.to_string(),
        deposit_id: after.id,
        event_id: recorded.event_id,
        postings,
        occurred_at: recorded.occurred_at,
    })
}

/// The movements `events` cause when they follow `before` (`None`: they start the
/// stream), for code that writes events without a command (seeding, tests).
pub fn movements(
    before: Option<&Deposit>,
    events: &[RecordedEvent],
) -> Result<Vec<Movement>, crate::deposit::TransitionError> {
    let mut state = before.cloned();
    let mut moved = Vec::new();
    for event in events {
        let after = match state.as_mut() {
            Some(deposit) => {
                deposit.apply(event)?;
                deposit
            }
            None => state.insert(Deposit::start(event)?),
        };
        moved.extend(movement(after, event));
    }
    Ok(moved)
}

/// `amount` from `from` to `to`: the two postings of a simple movement.
pub fn transfer(from: Account, to: Account, amount: i64) -> Vec<Posting> {
    vec![
        Posting {
            account: from,
            amount: -amount,
        },
        Posting {
            account: to,
            amount,
        },
    ]
}

/// Amounts are at most 2^53 - 1 (see [`crate::money::Amount`]), so they fit.
fn signed(minor: u64) -> i64 {
    i64::try_from(minor).expect("amounts are bounded well below i64::MAX")
}

/// The refund a refund event is about.
fn refund<'d>(after: &'d Deposit, recorded: &RecordedEvent) -> Option<&'d Refund> {
    let id = match &recorded.event {
        DepositEvent::RefundRequested { refund_id, .. }
        | DepositEvent::RefundSucceeded { refund_id }
        | DepositEvent::RefundFailed { refund_id, .. } => *refund_id,
        _ => return None,
    };
    after.refunds.iter().find(|r| r.id == id)
}
