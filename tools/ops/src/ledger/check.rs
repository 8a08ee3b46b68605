//! Reading a merchant's whole ledger, oldest first, and auditing it on the way.

use paygate_domain::MerchantId;
use paygate_domain::ledger::{Audit, Auditor, LedgerHead, Movement, entry_id};
use paygate_domain::page::{Cursor, PageRequest};
use paygate_domain::ports::{EntryFilter, Ledger, StoreError};

/// Entries asked for per page: the most the port gives.
pub const PAGE: usize = PageRequest::<u64>::MAX_LIMIT;

/// What `ledger check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCheck {
    /// The head as read before the entries.
    pub head: LedgerHead,
    /// The entries up to it, audited against it.
    pub audit: Audit,
    /// Entries past the head that a head read after them still does not count: the
    /// newest such entry and the head's count then.
    pub uncounted: Option<(u64, u64)>,
    /// Captures accepted under load and not numbered yet, read after the entries: they
    /// count in the balance, and the merchant's next posting numbers them.
    pub waiting: Vec<Movement>,
}

impl LedgerCheck {
    pub fn problem_count(&self) -> usize {
        self.audit.problem_count()
            + usize::from(self.uncounted.is_some())
            + self.waiting_debits().count()
    }

    /// Waiting movements that take from the merchant: none may ever wait.
    fn waiting_debits(&self) -> impl Iterator<Item = &Movement> {
        self.waiting.iter().filter(|m| !m.never_overdraws())
    }

    /// Every problem, as the report lists them.
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self.audit.problems.iter().map(|p| p.to_string()).collect();
        if let Some((newest, counted)) = self.uncounted {
            problems.push(format!(
                "entries up to {} exist, yet the head, read again after them, counts {counted}",
                entry_id(newest)
            ));
        }
        for movement in self.waiting_debits() {
            problems.push(format!(
                "a {} movement of {} waits unnumbered, yet it takes from the merchant",
                movement.entry_type.as_str(),
                movement.source
            ));
        }
        problems
    }
}

/// Reads `merchant`'s head, then every entry from the oldest (pages of [`PAGE`], each
/// newer than the last one read), auditing those the head counts; `progress` hears how
/// many of them were read after each page. Entries past the head are posted since it was
/// read, unless the head, read again, still does not count them.
pub async fn read_ledger(
    ledger: &dyn Ledger,
    merchant: &MerchantId,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<LedgerCheck, StoreError> {
    let head = ledger.head(merchant).await?;
    let mut auditor = Auditor::new(merchant.clone());
    // The newest entry read; 0 (before the first) to start.
    let mut newest = 0;
    loop {
        let page = PageRequest {
            limit: PAGE,
            cursor: Some(Cursor::EndingBefore(newest)),
        };
        let page = ledger.entries(merchant, EntryFilter::All, &page).await?;
        // Newest first: the audit takes them oldest first.
        for entry in page.data.iter().rev() {
            if entry.sequence <= head.sequence {
                auditor.push(entry);
            }
        }
        progress(auditor.entries(), head.sequence);
        match page.data.first().map(|e| e.sequence) {
            // A page that does not move on would be read forever.
            Some(sequence) if page.has_more && sequence > newest => newest = sequence,
            Some(sequence) => {
                newest = newest.max(sequence);
                break;
            }
            None => break,
        }
    }
    let uncounted = if newest > head.sequence {
        let again = ledger.head(merchant).await?;
        (again.sequence < newest).then_some((newest, again.sequence))
    } else {
        None
    };
    let waiting = ledger.deferred(merchant).await?;
    let audit = auditor.finish(&head);
    Ok(LedgerCheck {
        head,
        audit,
        uncounted,
        waiting,
    })
}
