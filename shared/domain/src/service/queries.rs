//! Reads, always scoped to the asking merchant and to the direction asked for: another
//! merchant's deposit, or a payout asked for as a deposit, is "not found".

use crate::deposit::{DepositEvent, DepositView, Direction, RecordedEvent};
use crate::ids::{DepositId, MerchantId};
use crate::ledger::{Balances, LedgerEntry};
use crate::money::Currency;
use crate::page::{Page, PageRequest};
use crate::ports::{EntryFilter, EventStore, Ledger, StoreError};
use std::collections::BTreeMap;

pub async fn deposit_view(
    store: &dyn EventStore,
    merchant: &MerchantId,
    direction: Direction,
    deposit: DepositId,
) -> Result<Option<DepositView>, StoreError> {
    Ok(store
        .view(deposit)
        .await?
        .filter(|view| view.belongs_to(merchant, direction)))
}

/// The deposit's audit trail, oldest first.
pub async fn deposit_events(
    store: &dyn EventStore,
    merchant: &MerchantId,
    direction: Direction,
    deposit: DepositId,
) -> Result<Option<Vec<RecordedEvent>>, StoreError> {
    let events = store.load(deposit).await?;
    let owned = matches!(
        events.first().map(|e| &e.event),
        Some(DepositEvent::DepositRequested { merchant_id, request, .. })
            if merchant_id == merchant && request.direction == direction
    );
    Ok(owned.then_some(events))
}

/// What the merchant holds, per currency: its head's balances with the captures accepted
/// but not yet numbered.
pub async fn balances(
    ledger: &dyn Ledger,
    merchant: &MerchantId,
) -> Result<BTreeMap<Currency, Balances>, StoreError> {
    let head = ledger.head(merchant).await?;
    let deferred = ledger.deferred(merchant).await?;
    Ok(head.balances_with(&deferred))
}

/// The merchant's balance transactions (the ledger entries that change `available`),
/// newest first. `None` when the cursor is no entry of the merchant's ledger: entries are
/// numbered `1..` per merchant, so any number past its head names nothing of theirs.
pub async fn balance_transactions(
    ledger: &dyn Ledger,
    merchant: &MerchantId,
    page: &PageRequest<u64>,
) -> Result<Option<Page<LedgerEntry>>, StoreError> {
    if let Some(cursor) = &page.cursor {
        let head = ledger.head(merchant).await?;
        if *cursor.key() > head.sequence {
            return Ok(None);
        }
    }
    let entries = ledger.entries(merchant, EntryFilter::Balance, page).await?;
    Ok(Some(entries))
}
