//! `paygate-ops ledger …`: merchants' ledgers as the store keeps them.
//!
//! * `check --merchant <id>`: reads the merchant's ledger head, then every entry through
//!   the `Ledger` port, oldest first, a page at a time ([`read_ledger`]), and checks them
//!   with the domain's audit ([`paygate_domain::ledger::Auditor`]): gapless, the
//!   merchant's own, balanced, never overdrawn, each `available_after` exact, and the
//!   head the fold of the entries. It prints what the entries add up to per currency,
//!   every problem, and a summary line; exit code 1 if there is a problem. Entries posted
//!   after the head was read are left out, so a busy merchant is checked at one moment.

mod check;
mod report;

#[cfg(test)]
mod tests;

pub use check::{LedgerCheck, PAGE, read_ledger};
pub use report::write_report;

use crate::OpsError;
use paygate_aws::aws_sdk_dynamodb::Client as DynamoClient;
use paygate_aws::{DynamoEventStore, Resources};
use paygate_domain::MerchantId;
use paygate_domain::ports::Ledger;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A `ledger` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerCommand {
    Check { merchant: MerchantId },
}

/// The ledgers the `ledger` commands read.
pub struct LedgerOps {
    pub ledger: Arc<dyn Ledger>,
    /// Where the ledgers are, for messages (the table's name).
    pub table: String,
}

impl LedgerOps {
    /// The DynamoDB ledger table in `PAYGATE_LEDGER_TABLE` (from `resources`).
    pub fn connect(dynamodb: DynamoClient, resources: &Resources) -> Self {
        Self {
            ledger: Arc::new(DynamoEventStore::new(dynamodb, resources)),
            table: resources.ledger_table.clone(),
        }
    }

    /// Runs one command: its report to `out`; with `progress`, how far it is to `err`.
    pub async fn run(
        &self,
        command: &LedgerCommand,
        progress: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<(), OpsError> {
        match command {
            LedgerCommand::Check { merchant } => self.check(merchant, progress, out, err).await,
        }
    }

    /// `ledger check`: the report, and [`OpsError::LedgerInconsistent`] if it found a problem.
    pub async fn check(
        &self,
        merchant: &MerchantId,
        progress: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<(), OpsError> {
        let mut shown = Progress::new(progress.then_some(err));
        let read = read_ledger(self.ledger.as_ref(), merchant, &mut |read, of| {
            shown.show(read, of)
        })
        .await;
        shown.done();
        let check = read.map_err(|error| OpsError::LedgerRead {
            table: self.table.clone(),
            merchant: merchant.clone(),
            error,
        })?;
        write_report(merchant, &check, out)?;
        match check.problem_count() {
            0 => Ok(()),
            problems => Err(OpsError::LedgerInconsistent {
                merchant: merchant.clone(),
                problems,
            }),
        }
    }
}

/// How far a long read is, on one line of stderr rewritten in place (only on a terminal:
/// in a pipe or a log it would be noise).
struct Progress<'a> {
    err: Option<&'a mut dyn Write>,
    last: Option<Instant>,
}

impl<'a> Progress<'a> {
    /// At most this often: a ledger is read 100 entries a page.
    const EVERY: Duration = Duration::from_millis(100);

    fn new(err: Option<&'a mut dyn Write>) -> Self {
        Self { err, last: None }
    }

    fn show(&mut self, read: u64, of: u64) {
        let Some(err) = self.err.as_deref_mut() else {
            return;
        };
        if read < of && self.last.is_some_and(|at| at.elapsed() < Self::EVERY) {
            return;
        }
        self.last = Some(Instant::now());
        // Progress is a courtesy: a stderr that cannot be written to changes nothing.
        let _ = write!(err, "\rreading entries: {read} of {of}");
        let _ = err.flush();
    }

    fn done(&mut self) {
        if let (Some(err), Some(_)) = (self.err.as_deref_mut(), self.last) {
            let _ = writeln!(err);
        }
    }
}
