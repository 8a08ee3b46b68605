//! A deposit's refunds (the merchant's, and paygate's own of stray charges), and what the
//! aggregate asks of them.

use super::aggregate::{Deposit, TransitionError};
use super::events::ChargeRef;
use super::status::DepositStatus;
use crate::ids::{CorrelationId, RefundId};
use crate::money::Amount;
use time::OffsetDateTime;

/// The most refunds a merchant may ask of one deposit (paygate's own refunds of stray
/// charges are never refused): each adds events to a stream every command replays.
pub const MAX_REFUNDS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundState {
    Pending,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: RefundId,
    pub amount: Amount,
    pub state: RefundState,
    /// The gateway's id for it, once the gateway took it.
    pub external_id: Option<String>,
    /// `Some` for a refund paygate makes by itself of a charge that is not the deposit's
    /// own; `None` for the merchant's refunds, which draw on the deposit's capture.
    pub charge: Option<ChargeRef>,
    /// When it was requested (the sweeper's clock for refunds left behind).
    pub requested_at: OffsetDateTime,
    /// The correlation id of the request that asked for it: its later events carry it.
    pub correlation_id: CorrelationId,
}

impl Refund {
    /// Requested, not yet taken by the gateway.
    pub fn awaits_submission(&self) -> bool {
        self.state == RefundState::Pending && self.external_id.is_none()
    }
}

impl Deposit {
    /// Whether a refund of `charge` is in flight or done (a failed one may be retried).
    pub fn is_being_reversed(&self, charge: &ChargeRef) -> bool {
        self.refunds.iter().any(|r| {
            r.charge.as_ref() == Some(charge)
                && matches!(r.state, RefundState::Pending | RefundState::Succeeded)
        })
    }

    /// The charge the deposit holds as its own, once submitted.
    pub fn own_charge(&self) -> Option<ChargeRef> {
        Some(ChargeRef {
            gateway: self.gateway.clone()?,
            external_id: self.external_id.clone()?,
        })
    }

    pub(super) fn require_pending_refund(&self, id: RefundId) -> Result<&Refund, TransitionError> {
        self.refunds
            .iter()
            .find(|r| r.id == id && r.state == RefundState::Pending)
            .ok_or(TransitionError::NoPendingRefund(id))
    }

    pub(super) fn set_refund_state(&mut self, id: RefundId, state: RefundState) {
        if let Some(refund) = self.refunds.iter_mut().find(|r| r.id == id) {
            refund.state = state;
        }
    }

    /// The merchant's refunds of the deposit in `state` (paygate's own reversals of stray
    /// charges never draw on the deposit).
    pub(super) fn sum_refunds(&self, state: RefundState) -> u64 {
        // Each refund was admitted only if it fit in what was left, so the sum is at most
        // the deposit's amount, itself far below u64::MAX.
        self.refunds
            .iter()
            .filter(|r| r.state == state && r.charge.is_none())
            .map(|r| r.amount.minor())
            .sum()
    }

    /// The currency `refund` moves: the deposit's for the merchant's refunds; for
    /// paygate's refund of a held charge, the one the gateway charged.
    pub fn refund_currency(&self, refund: &Refund) -> crate::money::Currency {
        refund
            .charge
            .as_ref()
            .and_then(|charge| {
                self.anomalies
                    .iter()
                    .find(|a| a.held_charge().as_ref() == Some(charge))
                    .and_then(|a| a.charged)
            })
            .map_or(self.request.currency, |charged| charged.currency)
    }

    /// Refunds confirmed by the gateway.
    pub fn refunded_amount(&self) -> u64 {
        self.sum_refunds(RefundState::Succeeded)
    }

    /// What a new refund may still take: captured, less refunded, less refunds in flight.
    pub fn refundable_remaining(&self) -> u64 {
        let captured = match self.status {
            DepositStatus::Succeeded | DepositStatus::PartiallyRefunded => {
                self.request.amount.minor()
            }
            _ => 0,
        };
        captured
            .saturating_sub(self.refunded_amount())
            .saturating_sub(self.sum_refunds(RefundState::Pending))
    }
}
