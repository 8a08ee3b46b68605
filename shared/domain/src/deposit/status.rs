//! The status graph of DESIGN §5.
//!
//! ```text
//! pending ──▶ processing ──▶ submitted ──▶ succeeded ──▶ partially_refunded ──▶ refunded
//!    │            │              │                            ▲      │
//!    └────────────┴──────────────┴──▶ failed                  └──────┘
//! ```
//! `pending → failed` happens when no gateway serves the deposit at all.

use super::events::Direction;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepositStatus {
    Pending,
    Processing,
    Submitted,
    Succeeded,
    Failed,
    PartiallyRefunded,
    Refunded,
}

impl DepositStatus {
    pub const ALL: [DepositStatus; 7] = [
        Self::Pending,
        Self::Processing,
        Self::Submitted,
        Self::Succeeded,
        Self::Failed,
        Self::PartiallyRefunded,
        Self::Refunded,
    ];

    /// Whether the graph has an edge `self → next`. Staying put is allowed only where the
    /// state can take repeated events (further attempts, further partial refunds).
    pub fn can_become(self, next: DepositStatus) -> bool {
        use DepositStatus::*;
        matches!(
            (self, next),
            (Pending, Processing)
                | (Pending, Failed)
                | (Processing, Processing)
                | (Processing, Submitted)
                | (Processing, Failed)
                | (Submitted, Succeeded)
                | (Submitted, Failed)
                | (Succeeded, PartiallyRefunded)
                | (Succeeded, Refunded)
                | (PartiallyRefunded, PartiallyRefunded)
                | (PartiallyRefunded, Refunded)
        )
    }

    /// No gateway outcome can change it any more.
    pub fn is_final_outcome(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::PartiallyRefunded | Self::Refunded
        )
    }

    /// Captured money that refunds may still draw on.
    pub fn is_refundable(self) -> bool {
        matches!(self, Self::Succeeded | Self::PartiallyRefunded)
    }

    /// The statuses a payout can have (it is never refunded).
    pub const PAYOUT: [DepositStatus; 5] = [
        Self::Pending,
        Self::Processing,
        Self::Submitted,
        Self::Succeeded,
        Self::Failed,
    ];

    /// The statuses `direction` can have.
    pub fn all(direction: Direction) -> &'static [DepositStatus] {
        match direction {
            Direction::Deposit => &Self::ALL,
            Direction::Payout => &Self::PAYOUT,
        }
    }

    /// The status as merchants read it for `direction`: a payout that succeeded is `paid`.
    pub fn name(self, direction: Direction) -> &'static str {
        match (direction, self) {
            (Direction::Payout, Self::Succeeded) => "paid",
            _ => self.as_str(),
        }
    }

    /// The status `direction` names `text`, if any.
    pub fn parse(direction: Direction, text: &str) -> Option<DepositStatus> {
        Self::all(direction)
            .iter()
            .copied()
            .find(|s| s.name(direction) == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Submitted => "submitted",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
        }
    }
}

impl fmt::Display for DepositStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::DepositStatus::*;

    #[test]
    fn the_happy_path_is_in_the_graph() {
        for (from, to) in [
            (Pending, Processing),
            (Processing, Submitted),
            (Submitted, Succeeded),
            (Succeeded, PartiallyRefunded),
            (PartiallyRefunded, Refunded),
        ] {
            assert!(from.can_become(to), "{from} -> {to}");
        }
    }

    #[test]
    fn a_payout_that_succeeded_is_paid_and_is_never_refunded() {
        use super::{DepositStatus, Direction};
        assert_eq!(Succeeded.name(Direction::Payout), "paid");
        assert_eq!(Succeeded.name(Direction::Deposit), "succeeded");
        assert_eq!(
            DepositStatus::parse(Direction::Payout, "paid"),
            Some(Succeeded)
        );
        assert_eq!(DepositStatus::parse(Direction::Payout, "succeeded"), None);
        assert_eq!(DepositStatus::parse(Direction::Payout, "refunded"), None);
        assert_eq!(DepositStatus::parse(Direction::Deposit, "paid"), None);
    }

    #[test]
    fn final_states_never_go_back() {
        for to in super::DepositStatus::ALL {
            assert!(!Failed.can_become(to), "failed -> {to}");
            assert!(!Refunded.can_become(to), "refunded -> {to}");
        }
        assert!(!Succeeded.can_become(Failed));
        assert!(!Submitted.can_become(Processing));
        assert!(!Pending.can_become(Succeeded));
    }
}
