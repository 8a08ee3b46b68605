//! Checking a stored ledger against itself: its entries, read oldest first, must be the
//! gapless run `1..` of the merchant's own balanced movements that never overdraw, each
//! with the `available` it left, and its head must be what they add up to
//! ([`LedgerHead::fold`]). [`Auditor`] takes the entries one at a time, so a long ledger
//! is checked page by page in constant memory.

use super::{Account, Balances, LedgerEntry, LedgerHead, entry_id};
use crate::ids::MerchantId;
use crate::money::Currency;
use std::collections::BTreeSet;
use std::fmt;

/// Problems kept in full; past this only counted (a systematic fault in a long ledger
/// would otherwise fill the report with one story).
pub const MAX_PROBLEMS: usize = 100;

/// One way a stored ledger disagrees with itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// An entry numbered other than the next one: entries are missing before it, or it
    /// repeats a number.
    OutOfSequence { expected: u64, found: u64 },
    /// An entry of another merchant.
    Foreign {
        sequence: u64,
        merchant_id: MerchantId,
    },
    /// An entry whose postings do not sum to zero.
    Unbalanced { sequence: u64, sum: i128 },
    /// After this entry one of the merchant's accounts was negative.
    Overdrawn {
        sequence: u64,
        currency: Currency,
        account: Account,
        balance: i64,
    },
    /// The entry says `available` was `recorded` after it; the entries before say otherwise.
    AvailableAfter {
        sequence: u64,
        currency: Currency,
        recorded: i64,
        recomputed: i64,
    },
    /// The head counts `head` entries; the last one there is number `last`.
    Count { head: u64, last: u64 },
    /// A balance the head keeps that is not what the entries add up to.
    HeadBalance {
        currency: Currency,
        account: Account,
        head: i64,
        entries: i64,
    },
    /// The head's accounts in a currency do not sum to zero.
    HeadUnbalanced { currency: Currency, total: i128 },
}

impl Problem {
    /// Whether it is about the numbering of the entries.
    fn is_gap(&self) -> bool {
        match self {
            Self::OutOfSequence { .. } => true,
            Self::Count { head, last } => head > last,
            _ => false,
        }
    }

    fn is_head(&self) -> bool {
        matches!(
            self,
            Self::Count { .. } | Self::HeadBalance { .. } | Self::HeadUnbalanced { .. }
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfSequence { expected, found } if found > expected => write!(
                f,
                "{} follows {}: {} missing",
                entry_id(*found),
                entry_id(expected - 1),
                found - expected
            ),
            Self::OutOfSequence { expected, found } => write!(
                f,
                "{} comes again where {} was due",
                entry_id(*found),
                entry_id(*expected)
            ),
            Self::Foreign {
                sequence,
                merchant_id,
            } => write!(f, "{} belongs to {merchant_id}", entry_id(*sequence)),
            Self::Unbalanced { sequence, sum } => {
                write!(f, "{} is unbalanced: it sums to {sum}", entry_id(*sequence))
            }
            Self::Overdrawn {
                sequence,
                currency,
                account,
                balance,
            } => write!(
                f,
                "after {} {account} in {currency} is {balance}",
                entry_id(*sequence)
            ),
            Self::AvailableAfter {
                sequence,
                currency,
                recorded,
                recomputed,
            } => write!(
                f,
                "{} says available in {currency} was {recorded} after it; the entries say {recomputed}",
                entry_id(*sequence)
            ),
            Self::Count { head, last: 0 } => {
                write!(f, "the head counts {head} entries; there are none")
            }
            Self::Count { head, last } => write!(
                f,
                "the head counts {head} entries; the last one is {}",
                entry_id(*last)
            ),
            Self::HeadBalance {
                currency,
                account,
                head,
                entries,
            } => write!(
                f,
                "the head has {account} in {currency} at {head}; the entries add up to {entries}"
            ),
            Self::HeadUnbalanced { currency, total } => {
                write!(f, "the head's {currency} accounts sum to {total}, not 0")
            }
        }
    }
}

/// What an audit found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// What the entries add up to: [`LedgerHead::fold`] of them, summed on past any gap so
    /// there is always something to show.
    pub folded: LedgerHead,
    /// Entries read.
    pub entries: u64,
    /// The first [`MAX_PROBLEMS`] problems, in the order found.
    pub problems: Vec<Problem>,
    /// Problems found beyond those.
    pub more_problems: usize,
}

impl Audit {
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }

    /// Whether the entries are numbered `1..=n` with nothing missing.
    pub fn is_gapless(&self) -> bool {
        !self.problems.iter().any(Problem::is_gap)
    }

    /// Whether every entry's postings sum to zero.
    pub fn is_balanced(&self) -> bool {
        !self
            .problems
            .iter()
            .any(|p| matches!(p, Problem::Unbalanced { .. }))
    }

    /// Whether the head is the fold of the entries.
    pub fn head_matches(&self) -> bool {
        !self.problems.iter().any(Problem::is_head)
    }

    /// Every problem found, counting those not kept.
    pub fn problem_count(&self) -> usize {
        self.problems.len() + self.more_problems
    }
}

/// Audits one merchant's ledger, its entries fed oldest first.
#[derive(Debug, Clone)]
pub struct Auditor {
    folded: LedgerHead,
    entries: u64,
    problems: Vec<Problem>,
    more_problems: usize,
}

impl Auditor {
    pub fn new(merchant_id: MerchantId) -> Self {
        Self {
            folded: LedgerHead::empty(merchant_id),
            entries: 0,
            problems: Vec::new(),
            more_problems: 0,
        }
    }

    /// Entries read so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// The next entry (by sequence number).
    pub fn push(&mut self, entry: &LedgerEntry) {
        let sequence = entry.sequence;
        let expected = self.folded.sequence + 1;
        if sequence != expected {
            self.found(Problem::OutOfSequence {
                expected,
                found: sequence,
            });
        }
        if entry.merchant_id != self.folded.merchant_id {
            self.found(Problem::Foreign {
                sequence,
                merchant_id: entry.merchant_id.clone(),
            });
        }
        if !entry.movement.is_balanced() {
            let sum = entry
                .movement
                .postings
                .iter()
                .map(|p| i128::from(p.amount))
                .sum();
            self.found(Problem::Unbalanced { sequence, sum });
        }
        let currency = entry.movement.currency;
        let after = self.folded.add(entry);
        let overdrawn = after.overdrawn();
        let available = after.available;
        if let Some((account, balance)) = overdrawn {
            self.found(Problem::Overdrawn {
                sequence,
                currency,
                account,
                balance,
            });
        }
        if entry.available_after != available {
            self.found(Problem::AvailableAfter {
                sequence,
                currency,
                recorded: entry.available_after,
                recomputed: available,
            });
        }
        self.entries += 1;
    }

    /// The audit, against the head the store keeps for the merchant.
    pub fn finish(mut self, head: &LedgerHead) -> Audit {
        if head.sequence != self.folded.sequence {
            self.found(Problem::Count {
                head: head.sequence,
                last: self.folded.sequence,
            });
        }
        for problem in head_differences(head, &self.folded) {
            self.found(problem);
        }
        Audit {
            folded: self.folded,
            entries: self.entries,
            problems: self.problems,
            more_problems: self.more_problems,
        }
    }

    fn found(&mut self, problem: Problem) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        } else {
            self.more_problems += 1;
        }
    }
}

/// Audits a ledger whose entries are all at hand, oldest first.
pub fn audit(head: &LedgerHead, entries: &[LedgerEntry]) -> Audit {
    let mut auditor = Auditor::new(head.merchant_id.clone());
    for entry in entries {
        auditor.push(entry);
    }
    auditor.finish(head)
}

/// Where `head` is not `folded`, and its currencies whose accounts do not sum to zero.
fn head_differences(head: &LedgerHead, folded: &LedgerHead) -> Vec<Problem> {
    let currencies: BTreeSet<Currency> = head
        .balances
        .keys()
        .chain(folded.balances.keys())
        .copied()
        .collect();
    let none = Balances::default();
    let mut problems = Vec::new();
    for currency in currencies {
        let stored = head.balances.get(&currency).unwrap_or(&none);
        let summed = folded.balances.get(&currency).unwrap_or(&none);
        for account in accounts(stored, summed) {
            let (head, entries) = (balance(stored, &account), balance(summed, &account));
            if head != entries {
                problems.push(Problem::HeadBalance {
                    currency,
                    account,
                    head,
                    entries,
                });
            }
        }
        let total = stored.total();
        if total != 0 {
            problems.push(Problem::HeadUnbalanced { currency, total });
        }
    }
    problems
}

/// Every account either side has, in one order.
fn accounts(a: &Balances, b: &Balances) -> BTreeSet<Account> {
    [Account::Available, Account::Reserved, Account::Suspense]
        .into_iter()
        .chain(
            a.gateways
                .keys()
                .chain(b.gateways.keys())
                .map(|name| Account::Gateway(name.clone())),
        )
        .collect()
}

fn balance(balances: &Balances, account: &Account) -> i64 {
    match account {
        Account::Available => balances.available,
        Account::Reserved => balances.reserved,
        Account::Suspense => balances.suspense,
        Account::Gateway(name) => balances.gateways.get(name).copied().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::fixtures::{deposit, eur, refund, settled};

    fn merchant() -> MerchantId {
        MerchantId("mer_a".into())
    }

    /// A deposit of 1000 at psp_a, a refund of 300 requested and settled.
    fn posted() -> (LedgerHead, Vec<LedgerEntry>) {
        LedgerHead::empty(merchant())
            .post(&[deposit(1000), refund(300), settled(300)])
            .unwrap()
    }

    #[test]
    fn a_posted_ledger_is_consistent_and_its_fold_is_the_head() {
        let (head, entries) = posted();
        let audit = audit(&head, &entries);
        assert_eq!(audit.problems, []);
        assert!(audit.is_gapless() && audit.is_balanced() && audit.head_matches());
        assert_eq!(audit.entries, 3);
        assert_eq!(
            Some(&audit.folded),
            LedgerHead::fold(merchant(), &entries).as_ref()
        );
        assert_eq!(audit.folded, head);
        // Nothing posted is consistent too.
        assert!(super::audit(&LedgerHead::empty(merchant()), &[]).is_consistent());
    }

    #[test]
    fn a_missing_or_repeated_entry_is_a_gap_and_the_head_no_longer_matches() {
        let (head, mut entries) = posted();
        let second = entries.remove(1);
        let audit = audit(&head, &entries);
        assert!(!audit.is_gapless());
        assert!(audit.is_balanced());
        assert_eq!(
            audit.problems[0],
            Problem::OutOfSequence {
                expected: 2,
                found: 3
            }
        );
        assert_eq!(
            audit.problems[0].to_string(),
            "txn_3 follows txn_1: 1 missing"
        );
        // Without the refund request, reserved went negative when it settled.
        assert!(audit.problems.contains(&Problem::Overdrawn {
            sequence: 3,
            currency: eur(),
            account: Account::Reserved,
            balance: -300,
        }));
        assert!(!audit.head_matches());

        let (head, mut entries) = posted();
        entries.insert(2, second);
        let audit = super::audit(&head, &entries);
        assert_eq!(
            audit.problems[0].to_string(),
            "txn_2 comes again where txn_3 was due"
        );
        assert!(!audit.is_gapless());
        // A head that counts more than there is: the last entries are missing.
        let (mut head, entries) = posted();
        head.sequence = 4;
        let audit = super::audit(&head, &entries);
        assert_eq!(audit.problems, [Problem::Count { head: 4, last: 3 }]);
        assert_eq!(
            audit.problems[0].to_string(),
            "the head counts 4 entries; the last one is txn_3"
        );
        assert!(!audit.is_gapless() && !audit.head_matches());
    }

    #[test]
    fn an_unbalanced_or_foreign_entry_and_a_wrong_available_after_are_found() {
        let (head, mut entries) = posted();
        entries[0].movement.postings[1].amount = 1001;
        entries[1].merchant_id = MerchantId("mer_b".into());
        entries[2].available_after = 1000;
        let audit = audit(&head, &entries);
        assert!(!audit.is_balanced());
        assert!(audit.is_gapless());
        let found: Vec<String> = audit.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "txn_1 is unbalanced: it sums to 1",
                "txn_1 says available in EUR was 1000 after it; the entries say 1001",
                "txn_2 belongs to mer_b",
                "txn_2 says available in EUR was 700 after it; the entries say 701",
                "txn_3 says available in EUR was 1000 after it; the entries say 701",
                "the head has available in EUR at 700; the entries add up to 701",
            ]
        );
    }

    #[test]
    fn a_head_that_is_not_the_fold_is_found_account_by_account() {
        let (mut head, entries) = posted();
        let eur = head.balances.get_mut(&eur()).unwrap();
        eur.available += 5;
        eur.gateways.insert("psp_b".into(), -5);
        let audit = audit(&head, &entries);
        assert_eq!(
            audit.problems,
            [
                Problem::HeadBalance {
                    currency: self::eur(),
                    account: Account::Available,
                    head: 705,
                    entries: 700
                },
                Problem::HeadBalance {
                    currency: self::eur(),
                    account: Account::Gateway("psp_b".into()),
                    head: -5,
                    entries: 0
                },
            ]
        );
        assert!(audit.is_gapless() && audit.is_balanced() && !audit.head_matches());
        // A head whose accounts do not sum to zero says so.
        let (mut head, entries) = posted();
        head.balances.get_mut(&self::eur()).unwrap().suspense = 7;
        let found: Vec<String> = super::audit(&head, &entries)
            .problems
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "the head has suspense in EUR at 7; the entries add up to 0",
                "the head's EUR accounts sum to 7, not 0",
            ]
        );
    }

    #[test]
    fn past_the_cap_problems_are_counted_not_kept() {
        let (head, entries) = posted();
        let mut auditor = Auditor::new(merchant());
        for _ in 0..MAX_PROBLEMS + 10 {
            auditor.push(&entries[0]);
        }
        let audit = auditor.finish(&head);
        assert_eq!(audit.problems.len(), MAX_PROBLEMS);
        assert!(audit.more_problems > 10);
        assert_eq!(
            audit.problem_count(),
            audit.problems.len() + audit.more_problems
        );
    }
}
