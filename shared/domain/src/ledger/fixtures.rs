//! Movements for the ledger's own tests: in EUR, captured at psp_a.

use super::{Account, EntryType, Movement, transfer};
use crate::ids::{DepositId, EventId};
use crate::money::Currency;
use time::OffsetDateTime;
use uuid::Uuid;

pub fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

fn moved(entry_type: EntryType, from: Account, to: Account, amount: i64) -> Movement {
    Movement {
        entry_type,
        currency: eur(),
        source: "d".into(),
        deposit_id: DepositId(Uuid::nil()),
        event_id: EventId(Uuid::nil()),
        postings: transfer(from, to, amount),
        occurred_at: OffsetDateTime::UNIX_EPOCH,
    }
}

fn psp_a() -> Account {
    Account::Gateway("psp_a".into())
}

/// A capture: psp_a → available.
pub fn deposit(amount: i64) -> Movement {
    moved(EntryType::Deposit, psp_a(), Account::Available, amount)
}

/// A refund requested: available → reserved.
pub fn refund(amount: i64) -> Movement {
    moved(
        EntryType::Refund,
        Account::Available,
        Account::Reserved,
        amount,
    )
}

/// A refund settled: reserved → psp_a.
pub fn settled(amount: i64) -> Movement {
    moved(EntryType::RefundSettled, Account::Reserved, psp_a(), amount)
}
