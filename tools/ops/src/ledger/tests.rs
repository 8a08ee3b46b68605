//! `ledger check` on the memory store (ledgers posted by real appends) and on a stored
//! ledger that was tampered with (a fixed list of entries and a head, paged as the
//! stores page).

use super::*;
use async_trait::async_trait;
use paygate_domain::ledger::{LedgerEntry, LedgerHead, Movement};
use paygate_domain::page::{Page, PageRequest, paginate};
use paygate_domain::ports::{EntryFilter, StoreError};
use paygate_kit::contract::fixtures::merchant;
use paygate_kit::contract::ledger::{CAPTURED, every_entry, refunded_ledger};
use paygate_memory::MemoryEventStore;
use std::sync::Mutex;

/// `deposits` succeeded deposits of `merchant`, the first refunded 4000: `deposits + 2`
/// entries.
async fn posted(store: &MemoryEventStore, merchant: &MerchantId, deposits: usize) {
    refunded_ledger(store, merchant, deposits, 4_000).await;
}

fn ops(ledger: Arc<dyn Ledger>) -> LedgerOps {
    LedgerOps {
        ledger,
        table: "paygate-ledger".into(),
    }
}

/// `ledger check` of `merchant`: its result, stdout and stderr.
async fn check(
    ops: &LedgerOps,
    merchant: &MerchantId,
    progress: bool,
) -> (Result<(), OpsError>, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let command = LedgerCommand::Check {
        merchant: merchant.clone(),
    };
    let result = ops.run(&command, progress, &mut out, &mut err).await;
    (
        result,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[tokio::test]
async fn a_ledger_posted_by_the_store_is_consistent_across_pages() {
    // GIVEN a merchant with 150 captured deposits and one refund: 152 entries, two pages
    let store = Arc::new(MemoryEventStore::new());
    let merchant = merchant();
    posted(&store, &merchant, 150).await;
    // ... and another merchant's ledger beside it
    posted(&store, &paygate_kit::contract::fixtures::merchant(), 3).await;
    // WHEN it is checked, with progress on
    let (result, out, err) = check(&ops(store.clone()), &merchant, true).await;
    // THEN it is consistent, and the report says what the entries add up to
    assert!(result.is_ok(), "{result:?}\n{out}");
    let available = 150 * CAPTURED - 4_000;
    assert_eq!(
        out,
        format!(
            "ledger of {merchant}: 152 entries read, the head counts 152\n  \
             AED  available {available}  reserved 0  suspense 0  gateway:psp_a -{available}\n\
             entries: gapless, balanced\n\
             head: the fold of the entries\n\
             consistent: 152 entries in 1 currency, the head is their fold\n"
        )
    );
    // ... and progress went to stderr, ending on a line of its own
    assert!(err.starts_with("\rreading entries: "), "{err:?}");
    assert!(err.ends_with("\rreading entries: 152 of 152\n"), "{err:?}");
    // ... and without it nothing does
    let (result, _, err) = check(&ops(store), &merchant, false).await;
    assert!(result.is_ok());
    assert_eq!(err, "");
}

#[tokio::test]
async fn a_merchant_without_a_ledger_is_consistent_and_empty() {
    let store = Arc::new(MemoryEventStore::new());
    let (result, out, _) = check(&ops(store), &merchant(), false).await;
    assert!(result.is_ok());
    assert!(
        out.ends_with("consistent: 0 entries in 0 currencies, the head is their fold\n"),
        "{out}"
    );
}

/// A stored ledger, fixed: these entries, paged as the stores page them, and these heads,
/// one per read (the last for every read after: a head read again sees postings since).
struct Stored {
    heads: Mutex<Vec<LedgerHead>>,
    entries: Vec<LedgerEntry>,
    waiting: Vec<Movement>,
    fail: bool,
}

impl Stored {
    /// A consistent ledger of 120 deposits and a refund, posted by the memory store.
    async fn posted(merchant: &MerchantId) -> Self {
        let store = MemoryEventStore::new();
        posted(&store, merchant, 120).await;
        Self {
            heads: Mutex::new(vec![store.head(merchant).await.unwrap()]),
            entries: every_entry(&store, merchant).await,
            waiting: Vec::new(),
            fail: false,
        }
    }

    /// The head the first read answers.
    fn first_head(&mut self) -> &mut LedgerHead {
        &mut self.heads.get_mut().unwrap()[0]
    }
}

#[async_trait]
impl Ledger for Stored {
    async fn head(&self, _: &MerchantId) -> Result<LedgerHead, StoreError> {
        let mut heads = self.heads.lock().unwrap();
        Ok(if heads.len() > 1 {
            heads.remove(0)
        } else {
            heads[0].clone()
        })
    }

    async fn deferred(&self, _: &MerchantId) -> Result<Vec<Movement>, StoreError> {
        Ok(self.waiting.clone())
    }

    async fn entries(
        &self,
        _: &MerchantId,
        filter: EntryFilter,
        page: &PageRequest<u64>,
    ) -> Result<Page<LedgerEntry>, StoreError> {
        if self.fail {
            return Err(StoreError("throttled".into()));
        }
        let entries = self
            .entries
            .iter()
            .filter(|e| filter.admits(e))
            .cloned()
            .collect();
        Ok(paginate(entries, |e: &LedgerEntry| e.sequence, page))
    }
}

#[tokio::test]
async fn a_lost_entry_is_a_gap_and_the_head_is_no_longer_their_fold() {
    // GIVEN a stored ledger that lost entry 120 (the last deposit, on the second page)
    let merchant = merchant();
    let mut ledger = Stored::posted(&merchant).await;
    ledger.entries.retain(|e| e.sequence != 120);
    // WHEN it is checked
    let (result, out, err) = check(&ops(Arc::new(ledger)), &merchant, false).await;
    // THEN it fails, with the problems listed and counted in the last line
    assert!(
        matches!(
            result,
            Err(OpsError::LedgerInconsistent { problems: 5, .. })
        ),
        "{result:?}"
    );
    assert_eq!(err, "");
    let (stored, summed) = (120 * CAPTURED - 4_000, 119 * CAPTURED - 4_000);
    let expected = format!(
        "ledger of {merchant}: 121 entries read, the head counts 122\n  \
         AED  available {summed}  reserved 0  suspense 0  gateway:psp_a -{summed}\n\
         entries: NOT gapless, balanced\n\
         head: NOT the fold of the entries\n\
         problems:\n  \
         - txn_121 follows txn_119: 1 missing\n  \
         - txn_121 says available in AED was {stored} after it; the entries say {summed}\n  \
         - txn_122 says available in AED was {stored} after it; the entries say {summed}\n  \
         - the head has available in AED at {stored}; the entries add up to {summed}\n  \
         - the head has gateway:psp_a in AED at -{stored}; the entries add up to -{summed}\n\
         NOT consistent: 5 problem(s) in 121 entries\n"
    );
    assert_eq!(out, expected);
}

#[tokio::test]
async fn a_head_that_is_not_the_fold_is_found_account_by_account() {
    // GIVEN a stored ledger whose head lost the refund's settlement at psp_a
    let merchant = merchant();
    let mut ledger = Stored::posted(&merchant).await;
    let aed = ledger.first_head().balances.values_mut().next().unwrap();
    *aed.gateways.get_mut("psp_a").unwrap() -= 4_000;
    aed.reserved += 4_000;
    // WHEN it is checked
    let (result, out, _) = check(&ops(Arc::new(ledger)), &merchant, false).await;
    // THEN the entries are fine; the head is not their fold, by these two accounts
    assert!(matches!(
        result,
        Err(OpsError::LedgerInconsistent { problems: 2, .. })
    ));
    let gateway = -(120 * CAPTURED - 4_000);
    assert!(out.contains("entries: gapless, balanced\n"), "{out}");
    assert!(
        out.contains(&format!(
            "problems:\n  \
             - the head has reserved in AED at 4000; the entries add up to 0\n  \
             - the head has gateway:psp_a in AED at {}; the entries add up to {gateway}\n",
            gateway - 4_000
        )),
        "{out}"
    );
    assert!(out.ends_with("NOT consistent: 2 problem(s) in 122 entries\n"));
}

#[tokio::test]
async fn entries_past_the_head_are_a_problem_only_if_the_head_never_counts_them() {
    // GIVEN a stored ledger whose head stopped counting at entry 100
    let merchant = merchant();
    let mut stale = Stored::posted(&merchant).await;
    let full = stale.first_head().clone();
    *stale.first_head() = LedgerHead::fold(merchant.clone(), &stale.entries[..100]).unwrap();
    let first = stale.first_head().clone();
    // WHEN it is checked and the head, read again, still counts 100
    let (result, out, _) = check(&ops(Arc::new(stale)), &merchant, false).await;
    // THEN the 100 entries it counts are fine, but the head does not count the rest
    assert!(matches!(
        result,
        Err(OpsError::LedgerInconsistent { problems: 1, .. })
    ));
    assert!(
        out.contains(
            "problems:\n  - entries up to txn_122 exist, yet the head, read again after \
             them, counts 100\n"
        ),
        "{out}"
    );
    // WHEN instead the entries past it were posted after it was read
    let mut busy = Stored::posted(&merchant).await;
    busy.heads = Mutex::new(vec![first, full]);
    let (result, out, _) = check(&ops(Arc::new(busy)), &merchant, false).await;
    // THEN the check is of the moment the head was first read
    assert!(result.is_ok(), "{out}");
    assert!(
        out.starts_with(&format!(
            "ledger of {merchant}: 100 entries read, the head counts 100\n"
        )),
        "{out}"
    );
}

#[tokio::test]
async fn a_ledger_that_cannot_be_read_is_a_read_error_not_a_verdict() {
    let merchant = merchant();
    let mut ledger = Stored::posted(&merchant).await;
    ledger.fail = true;
    let (result, out, _) = check(&ops(Arc::new(ledger)), &merchant, false).await;
    let err = result.unwrap_err();
    assert!(matches!(err, OpsError::LedgerRead { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("ledger of {merchant} in paygate-ledger: store unavailable: throttled")
    );
    assert_eq!(out, "");
}

#[tokio::test]
async fn waiting_captures_are_reported_and_a_waiting_debit_is_a_problem() {
    // GIVEN a consistent ledger with two captures waiting to be numbered
    let merchant = merchant();
    let mut ledger = Stored::posted(&merchant).await;
    let capture = ledger
        .entries
        .iter()
        .find(|e| e.amount() > 0)
        .unwrap()
        .movement
        .clone();
    ledger.waiting = vec![capture.clone(), capture];
    let ledger = Arc::new(ledger);
    // WHEN it is checked
    let (result, out, _) = check(&ops(ledger.clone()), &merchant, false).await;
    // THEN they are told apart from the numbered entries, and are no problem
    assert!(result.is_ok(), "{out}");
    assert!(
        out.contains("waiting: 2 movement(s) accepted under load"),
        "{out}"
    );
    assert!(out.ends_with("the head is their fold\n"), "{out}");

    // GIVEN a refund waiting instead (a store must never let one wait)
    let mut ledger = Stored::posted(&merchant).await;
    let refund = ledger.entries.iter().find(|e| e.amount() < 0).unwrap();
    ledger.waiting = vec![refund.movement.clone()];
    // THEN the check fails and names it
    let (result, out, _) = check(&ops(Arc::new(ledger)), &merchant, false).await;
    assert!(result.is_err(), "{out}");
    assert!(
        out.contains("waits unnumbered, yet it takes from the merchant"),
        "{out}"
    );
}
