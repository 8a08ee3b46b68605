//! The deposit read model: what `GET /v1/deposits/{id}` shows, stored beside the stream
//! in the same transaction so it is never behind it.

use super::events::Direction;
use super::status::DepositStatus;
use crate::ids::{DepositId, MerchantId};
use crate::money::{Amount, Country, Currency};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositView {
    pub id: DepositId,
    /// Absent in views written before payouts existed: those are deposits.
    #[serde(default, skip_serializing_if = "Direction::is_deposit")]
    pub direction: Direction,
    pub merchant_id: MerchantId,
    pub status: DepositStatus,
    pub amount: Amount,
    pub currency: Currency,
    pub country: Country,
    pub customer_id: String,
    pub gateway: Option<String>,
    pub external_id: Option<String>,
    pub refunded_amount: u64,
    /// Refunds (the merchant's and paygate's own) not settled yet: the sweeper watches
    /// them even once the deposit's status is final.
    #[serde(default)]
    pub pending_refunds: u32,
    pub metadata: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The stream version this view reflects.
    pub version: u64,
}

/// Why the sweeper watches a deposit (its sweep index partition), if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SweepKind {
    /// Recorded, not picked up: its message may be lost.
    Pending,
    /// Being routed, or an attempt's outcome is open.
    Processing,
    /// Taken by a gateway, final outcome awaited (by webhook).
    Submitted,
    /// Final, with refunds still in flight.
    Refunding,
}

impl SweepKind {
    pub const ALL: [SweepKind; 4] = [
        Self::Pending,
        Self::Processing,
        Self::Submitted,
        Self::Refunding,
    ];

    /// The stored name (DynamoDB `sweep_status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Submitted => "submitted",
            Self::Refunding => "refunding",
        }
    }
}

impl DepositView {
    /// Whether `merchant` sees it among its `direction`'s deposits: reads and lists are
    /// scoped to both (another merchant's deposit, or a payout asked for as a deposit, is
    /// not found).
    pub fn belongs_to(&self, merchant: &MerchantId, direction: Direction) -> bool {
        &self.merchant_id == merchant && self.direction == direction
    }

    /// Whether the sweeper must watch this deposit, and why. In-flight statuses first: a
    /// deposit being processed that also has refunds in flight is swept as processing,
    /// and the sweeper looks at its refunds then too.
    pub fn sweep_kind(&self) -> Option<SweepKind> {
        match self.status {
            DepositStatus::Pending => Some(SweepKind::Pending),
            DepositStatus::Processing => Some(SweepKind::Processing),
            DepositStatus::Submitted => Some(SweepKind::Submitted),
            _ if self.pending_refunds > 0 => Some(SweepKind::Refunding),
            _ => None,
        }
    }
}
