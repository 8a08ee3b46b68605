//! A merchant's ledger head: its balances and how many entries it has. Stores keep one
//! per merchant and change it only together with the entries it counts, on the condition
//! that it is still the one they read (so entries are gapless and balances exact).

use super::{Account, LedgerEntry, Movement};
use crate::ids::MerchantId;
use crate::money::Currency;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One currency's accounts of a merchant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balances {
    pub available: i64,
    pub reserved: i64,
    pub suspense: i64,
    /// By gateway name.
    pub gateways: BTreeMap<String, i64>,
}

impl Balances {
    pub(super) fn account(&mut self, account: &Account) -> &mut i64 {
        match account {
            Account::Available => &mut self.available,
            Account::Reserved => &mut self.reserved,
            Account::Suspense => &mut self.suspense,
            Account::Gateway(name) => self.gateways.entry(name.clone()).or_default(),
        }
    }

    /// The sum of every account: zero in a ledger of balanced movements.
    pub fn total(&self) -> i128 {
        [self.available, self.reserved, self.suspense]
            .into_iter()
            .chain(self.gateways.values().copied())
            .map(i128::from)
            .sum()
    }

    /// The merchant's own accounts that may never go negative, first one that is.
    pub(super) fn overdrawn(&self) -> Option<(Account, i64)> {
        [
            (Account::Available, self.available),
            (Account::Reserved, self.reserved),
            (Account::Suspense, self.suspense),
        ]
        .into_iter()
        .find(|(_, balance)| *balance < 0)
    }
}

/// A batch of movements would leave one of the merchant's accounts negative; nothing of
/// it may be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{account} in {currency} would be {balance}")]
pub struct BalanceInsufficient {
    pub currency: Currency,
    pub account: Account,
    pub balance: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerHead {
    pub merchant_id: MerchantId,
    /// Entries posted so far (the last one's sequence number).
    pub sequence: u64,
    pub balances: BTreeMap<Currency, Balances>,
}

impl LedgerHead {
    /// A merchant with nothing posted yet.
    pub fn empty(merchant_id: MerchantId) -> Self {
        Self {
            merchant_id,
            sequence: 0,
            balances: BTreeMap::new(),
        }
    }

    /// The head after `movements`, in order, and their entries; refused as a whole if any
    /// of them would leave `available`, `reserved` or `suspense` negative.
    pub fn post(
        &self,
        movements: &[Movement],
    ) -> Result<(LedgerHead, Vec<LedgerEntry>), BalanceInsufficient> {
        let mut next = self.clone();
        let mut entries = Vec::with_capacity(movements.len());
        for movement in movements {
            debug_assert!(movement.is_balanced(), "unbalanced movement {movement:?}");
            let balances = next.balances.entry(movement.currency).or_default();
            for posting in &movement.postings {
                *balances.account(&posting.account) += posting.amount;
            }
            if let Some((account, balance)) = balances.overdrawn() {
                return Err(BalanceInsufficient {
                    currency: movement.currency,
                    account,
                    balance,
                });
            }
            next.sequence += 1;
            entries.push(LedgerEntry {
                merchant_id: next.merchant_id.clone(),
                sequence: next.sequence,
                movement: movement.clone(),
                available_after: balances.available,
            });
        }
        Ok((next, entries))
    }

    /// The balances once `deferred` movements (accepted, not yet numbered: each
    /// [`Movement::never_overdraws`]) are counted too: what the merchant holds.
    pub fn balances_with(&self, deferred: &[Movement]) -> BTreeMap<Currency, Balances> {
        let mut balances = self.balances.clone();
        for movement in deferred {
            let currency = balances.entry(movement.currency).or_default();
            for posting in &movement.postings {
                *currency.account(&posting.account) += posting.amount;
            }
        }
        balances
    }

    /// The head the entries add up to (from an empty ledger), for checking a stored one.
    /// `None` if they are not the gapless run `1..` or one is unbalanced.
    pub fn fold(merchant_id: MerchantId, entries: &[LedgerEntry]) -> Option<LedgerHead> {
        let mut head = LedgerHead::empty(merchant_id);
        for entry in entries {
            if entry.sequence != head.sequence + 1 || !entry.movement.is_balanced() {
                return None;
            }
            head.add(entry);
        }
        Some(head)
    }

    /// Adds `entry`'s postings and takes its number, unchecked (an audit goes on past a
    /// gap to show what is there); its currency's balances after it.
    pub(super) fn add(&mut self, entry: &LedgerEntry) -> &Balances {
        let balances = self.balances.entry(entry.movement.currency).or_default();
        for posting in &entry.movement.postings {
            *balances.account(&posting.account) += posting.amount;
        }
        self.sequence = entry.sequence;
        balances
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::fixtures::{deposit, eur, refund};

    #[test]
    fn entries_are_numbered_and_carry_the_available_balance_after_them() {
        let head = LedgerHead::empty(MerchantId("m".into()));
        let (head, entries) = head.post(&[deposit(1000), refund(300)]).unwrap();
        assert_eq!(head.sequence, 2);
        let sequences: Vec<_> = entries.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, [1, 2]);
        let after: Vec<_> = entries.iter().map(|e| e.available_after).collect();
        assert_eq!(after, [1000, 700]);
        assert_eq!(entries[1].amount(), -300);
        let eur = &head.balances[&eur()];
        assert_eq!((eur.available, eur.reserved, eur.total()), (700, 300, 0));
        assert_eq!(
            LedgerHead::fold(MerchantId("m".into()), &entries),
            Some(head)
        );
    }

    #[test]
    fn a_batch_that_would_overdraw_is_refused_whole() {
        let head = LedgerHead::empty(MerchantId("m".into()));
        let (head, _) = head.post(&[deposit(500)]).unwrap();
        // The deposit in the same batch does not make room for the refund before it.
        let refused = head.post(&[refund(600), deposit(1000)]).unwrap_err();
        assert_eq!(refused.account, Account::Available);
        assert_eq!(refused.balance, -100);
        assert!(head.post(&[refund(500)]).is_ok());
    }

    #[test]
    fn deferred_movements_count_in_the_balances_but_not_in_the_numbering() {
        let head = LedgerHead::empty(MerchantId("m".into()));
        let (head, _) = head.post(&[deposit(500)]).unwrap();
        let balances = head.balances_with(&[deposit(1000), deposit(1)]);
        assert_eq!(balances[&eur()].available, 1501);
        assert_eq!(balances[&eur()].total(), 0);
        assert_eq!(head.balances[&eur()].available, 500);
    }

    #[test]
    fn a_fold_refuses_gaps() {
        let head = LedgerHead::empty(MerchantId("m".into()));
        let (_, mut entries) = head.post(&[deposit(1), deposit(2)]).unwrap();
        entries.remove(0);
        assert_eq!(LedgerHead::fold(MerchantId("m".into()), &entries), None);
    }
}
