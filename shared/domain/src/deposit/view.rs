//! The deposit read model: what `GET /v1/deposits/{id}` shows, stored beside the stream
//! in the same transaction so it is never behind it.

use super::status::DepositStatus;
use crate::ids::{DepositId, MerchantId};
use crate::money::{Amount, Country, Currency};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositView {
    pub id: DepositId,
    pub merchant_id: MerchantId,
    pub status: DepositStatus,
    pub amount: Amount,
    pub currency: Currency,
    pub country: Country,
    pub customer_id: String,
    pub gateway: Option<String>,
    pub external_id: Option<String>,
    pub refunded_amount: u64,
    pub metadata: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The stream version this view reflects.
    pub version: u64,
}
