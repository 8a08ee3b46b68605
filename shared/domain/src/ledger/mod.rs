//! The merchants' double-entry ledger: every movement of money is a balanced set of
//! postings (they sum to zero), numbered per merchant, and every balance is the fold of
//! those postings.
//!
//! Movements come from the deposit events that cause them ([`movement`]) and are posted
//! in the same atomic write as those events; the store numbers them through the
//! merchant's [`LedgerHead`], whose [`post`](LedgerHead::post) refuses any batch that
//! would leave an account negative. The accounts, per merchant and currency:
//!
//! | account | holds |
//! |---|---|
//! | `available` | the merchant's money, free to refund or pay out |
//! | `reserved` | refunds and payouts on their way out |
//! | `suspense` | money a gateway took that is not the merchant's (a stray charge), until it is refunded |
//! | `gateway:<name>` | the outside world at that gateway (negative: it took money in for us) |

mod audit;
#[cfg(test)]
mod fixtures;
mod head;
mod movement;

pub use audit::{Audit, Auditor, MAX_PROBLEMS, Problem, audit};
pub use head::{BalanceInsufficient, Balances, LedgerHead};
pub use movement::{movement, movements, transfer};

use crate::ids::{DepositId, EventId, MerchantId};
use crate::money::Currency;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// An account of one merchant in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    Available,
    Reserved,
    Suspense,
    Gateway(String),
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Available => f.write_str("available"),
            Self::Reserved => f.write_str("reserved"),
            Self::Suspense => f.write_str("suspense"),
            Self::Gateway(name) => write!(f, "gateway:{name}"),
        }
    }
}

/// One side of a movement: `amount` (minor units) added to `account`'s balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: Account,
    pub amount: i64,
}

/// What a movement is, as the merchant's balance transactions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryType {
    /// A deposit succeeded: the gateway's capture becomes available.
    Deposit,
    /// A refund was requested: its amount leaves `available` for `reserved`.
    Refund,
    /// A refund failed: its amount comes back to `available`.
    RefundReversal,
    /// A refund (the merchant's or paygate's own) left for the customer.
    RefundSettled,
    /// A gateway took money that is not the merchant's: held in suspense.
    ChargeHeld,
    /// paygate asked for a held charge to be refunded.
    ChargeRefund,
    /// That refund failed: the charge is held again.
    ChargeRefundReversal,
    /// A payout was requested: its amount leaves `available` for `reserved`.
    Payout,
    /// A payout failed: its amount comes back to `available`.
    PayoutReversal,
    /// A payout was paid: its amount left through the gateway.
    PayoutSettled,
}

impl EntryType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deposit => "deposit",
            Self::Refund => "refund",
            Self::RefundReversal => "refund_reversal",
            Self::RefundSettled => "refund_settled",
            Self::ChargeHeld => "charge_held",
            Self::ChargeRefund => "charge_refund",
            Self::ChargeRefundReversal => "charge_refund_reversal",
            Self::Payout => "payout",
            Self::PayoutReversal => "payout_reversal",
            Self::PayoutSettled => "payout_settled",
        }
    }
}

/// A balanced set of postings one event causes, before the ledger numbers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    pub entry_type: EntryType,
    pub currency: Currency,
    /// The object it is about: the deposit, the refund or the payout.
    pub source: String,
    pub deposit_id: DepositId,
    /// The event that caused it (at most one movement per event).
    pub event_id: EventId,
    pub postings: Vec<Posting>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
}

impl Movement {
    /// What it changes in `account` (zero if it does not touch it).
    pub fn delta(&self, account: &Account) -> i64 {
        self.postings
            .iter()
            .filter(|p| &p.account == account)
            .map(|p| p.amount)
            .sum()
    }

    /// Whether it only adds to the merchant's accounts (`available`, `reserved`,
    /// `suspense`): such a movement can never overdraw, so a store may accept it at once
    /// and number it later, when the merchant's head is free (a capture under load).
    pub fn never_overdraws(&self) -> bool {
        self.postings
            .iter()
            .all(|p| matches!(p.account, Account::Gateway(_)) || p.amount >= 0)
    }

    /// Whether its postings sum to zero.
    pub fn is_balanced(&self) -> bool {
        self.postings
            .iter()
            .map(|p| i128::from(p.amount))
            .sum::<i128>()
            == 0
    }
}

/// A posted movement: numbered in its merchant's ledger, with what `available` was after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub merchant_id: MerchantId,
    /// 1-based, gapless, per merchant (all currencies).
    pub sequence: u64,
    #[serde(flatten)]
    pub movement: Movement,
    /// `available` in the movement's currency once it was posted.
    pub available_after: i64,
}

impl LedgerEntry {
    /// The id the API shows and takes as a cursor (unique per merchant).
    pub fn id(&self) -> String {
        entry_id(self.sequence)
    }

    /// What it changed in `available` (the amount of a balance transaction).
    pub fn amount(&self) -> i64 {
        self.movement.delta(&Account::Available)
    }
}

const ENTRY_ID_PREFIX: &str = "txn_";

/// The id of the merchant's entry number `sequence`.
pub fn entry_id(sequence: u64) -> String {
    format!("{ENTRY_ID_PREFIX}{sequence}")
}

/// The sequence number an entry id names, if it is one.
pub fn parse_entry_id(id: &str) -> Option<u64> {
    let digits = id.strip_prefix(ENTRY_ID_PREFIX)?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_movements_that_take_nothing_from_the_merchant_can_wait() {
        use crate::ledger::fixtures::{deposit, refund};
        assert!(deposit(1000).never_overdraws());
        assert!(!refund(300).never_overdraws());
    }

    #[test]
    fn entry_ids_round_trip_and_nothing_else_parses() {
        assert_eq!(parse_entry_id(&entry_id(42)), Some(42));
        for bad in [
            "txn_",
            "txn_0",
            "txn_042",
            "txn_-1",
            "42",
            "txn_4x",
            "txn_99999999999999999999",
        ] {
            assert_eq!(parse_entry_id(bad), None, "{bad}");
        }
    }
}
