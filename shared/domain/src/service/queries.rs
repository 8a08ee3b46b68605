//! Reads, always scoped to the asking merchant: another merchant's deposit is "not found".

use crate::deposit::{DepositEvent, DepositView, RecordedEvent};
use crate::ids::{DepositId, MerchantId};
use crate::ports::{EventStore, StoreError};

pub async fn deposit_view(
    store: &dyn EventStore,
    merchant: &MerchantId,
    deposit: DepositId,
) -> Result<Option<DepositView>, StoreError> {
    Ok(store
        .view(deposit)
        .await?
        .filter(|view| &view.merchant_id == merchant))
}

/// The deposit's audit trail, oldest first.
pub async fn deposit_events(
    store: &dyn EventStore,
    merchant: &MerchantId,
    deposit: DepositId,
) -> Result<Option<Vec<RecordedEvent>>, StoreError> {
    let events = store.load(deposit).await?;
    let owned = matches!(
        events.first().map(|e| &e.event),
        Some(DepositEvent::DepositRequested { merchant_id, .. }) if merchant_id == merchant
    );
    Ok(owned.then_some(events))
}
