//! The status graph of DESIGN §5.
//!
//! ```text
//! pending ──▶ processing ──▶ submitted ──▶ succeeded ──▶ partially_refunded ──▶ refunded
//!    │            │              │                            ▲      │
//!    └────────────┴──────────────┴──▶ failed                  └──────┘
//! ```
//! `pending → failed` happens when no gateway serves the deposit at all.

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
