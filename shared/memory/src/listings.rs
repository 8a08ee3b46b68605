//! The ledger and the deposit list, read from the store's tables.

use crate::event_store::MemoryEventStore;
use crate::faults::{Call, Port};
use async_trait::async_trait;
use paygate_domain::deposit::{DepositStatus, Direction};
use paygate_domain::ledger::{LedgerEntry, LedgerHead, Movement};
use paygate_domain::page::{Page, PageRequest, paginate};
use paygate_domain::ports::{DepositList, EntryFilter, Ledger, StoreError};
use paygate_domain::{DepositId, DepositView, MerchantId};
use time::OffsetDateTime;

#[async_trait]
impl Ledger for MemoryEventStore {
    async fn head(&self, merchant: &MerchantId) -> Result<LedgerHead, StoreError> {
        self.read(Call::read(Port::Store, "ledger_head"), |tables| {
            tables.ledgers.get(merchant).map_or_else(
                || LedgerHead::empty(merchant.clone()),
                |(head, _)| head.clone(),
            )
        })
        .await
    }

    async fn deferred(&self, merchant: &MerchantId) -> Result<Vec<Movement>, StoreError> {
        // Appends here take the one lock, so none ever waits for the head: nothing is
        // deferred. The read still answers to the fault hook like every other.
        let _ = merchant;
        self.read(Call::read(Port::Store, "ledger_deferred"), |_| Vec::new())
            .await
    }

    async fn entries(
        &self,
        merchant: &MerchantId,
        filter: EntryFilter,
        page: &PageRequest<u64>,
    ) -> Result<Page<LedgerEntry>, StoreError> {
        self.read(Call::read(Port::Store, "ledger_entries"), |tables| {
            let entries = tables
                .ledgers
                .get(merchant)
                .map(|(_, entries)| {
                    entries
                        .iter()
                        .filter(|e| filter.admits(e))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            paginate(entries, |e: &LedgerEntry| e.sequence, page)
        })
        .await
    }
}

/// Deposits are listed by creation, ties broken by id (the DynamoDB index's sort key).
fn list_key(view: &DepositView) -> (OffsetDateTime, DepositId) {
    (view.created_at, view.id)
}

#[async_trait]
impl DepositList for MemoryEventStore {
    async fn deposits(
        &self,
        merchant: &MerchantId,
        direction: Direction,
        status: Option<DepositStatus>,
        page: &PageRequest<DepositId>,
    ) -> Result<Option<Page<DepositView>>, StoreError> {
        self.read(Call::read(Port::Index, "deposits"), |tables| {
            // The cursor must be one of the merchant's deposits; the list goes by its key.
            let cursor = match &page.cursor {
                None => None,
                Some(cursor) => match tables.view(cursor.key()) {
                    Some(view) if view.belongs_to(merchant, direction) => {
                        Some(cursor.to(list_key(view)))
                    }
                    _ => return None,
                },
            };
            let request = PageRequest {
                limit: page.limit,
                cursor,
            };
            let views = tables
                .views()
                .filter(|v| v.belongs_to(merchant, direction))
                .filter(|v| status.is_none_or(|s| v.status == s))
                .cloned()
                .collect();
            Some(paginate(views, list_key, &request))
        })
        .await
    }
}
