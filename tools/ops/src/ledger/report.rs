//! What `ledger check` prints: the balances the entries add up to, the verdicts, every
//! problem, and one summary line at the end.

use super::LedgerCheck;
use paygate_domain::MerchantId;
use std::io::{self, Write};

pub fn write_report(
    merchant: &MerchantId,
    check: &LedgerCheck,
    out: &mut dyn Write,
) -> io::Result<()> {
    let audit = &check.audit;
    writeln!(
        out,
        "ledger of {merchant}: {} entries read, the head counts {}",
        audit.entries, check.head.sequence
    )?;
    for (currency, balances) in &audit.folded.balances {
        write!(
            out,
            "  {currency}  available {}  reserved {}  suspense {}",
            balances.available, balances.reserved, balances.suspense
        )?;
        for (gateway, balance) in &balances.gateways {
            write!(out, "  gateway:{gateway} {balance}")?;
        }
        writeln!(out)?;
    }
    let (gapless, balanced) = (audit.is_gapless(), audit.is_balanced());
    writeln!(
        out,
        "entries: {}, {}",
        verdict(gapless, "gapless"),
        verdict(balanced, "balanced")
    )?;
    let head_matches = audit.head_matches() && check.uncounted.is_none();
    writeln!(
        out,
        "head: {}",
        verdict(head_matches, "the fold of the entries")
    )?;
    if !check.waiting.is_empty() {
        writeln!(
            out,
            "waiting: {} movement(s) accepted under load, not numbered yet (counted in the balance; the merchant's next posting numbers them)",
            check.waiting.len()
        )?;
    }
    let problems = check.problems();
    if !problems.is_empty() {
        writeln!(out, "problems:")?;
        for problem in &problems {
            writeln!(out, "  - {problem}")?;
        }
        if audit.more_problems > 0 {
            writeln!(out, "  - and {} more", audit.more_problems)?;
        }
    }
    let currencies = match audit.folded.balances.len() {
        1 => "1 currency".to_owned(),
        n => format!("{n} currencies"),
    };
    match check.problem_count() {
        0 => writeln!(
            out,
            "consistent: {} entries in {currencies}, the head is their fold",
            audit.entries
        ),
        n => writeln!(
            out,
            "NOT consistent: {n} problem(s) in {} entries",
            audit.entries
        ),
    }
}

fn verdict(holds: bool, what: &str) -> String {
    if holds {
        what.to_owned()
    } else {
        format!("NOT {what}")
    }
}
