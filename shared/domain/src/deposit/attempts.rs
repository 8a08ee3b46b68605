//! A deposit's attempts at its gateway, and what the aggregate asks of them.

use super::aggregate::{Deposit, TransitionError};
use crate::ids::AttemptOwner;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptState {
    /// Recorded, outcome unknown: the gateway may or may not have been called.
    Open,
    Failed {
        retryable: bool,
    },
    Submitted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub number: u32,
    /// When it was recorded, i.e. at most this long before the gateway was called.
    pub started_at: OffsetDateTime,
    pub gateway: String,
    pub idempotency_key: String,
    pub state: AttemptState,
    /// The delivery working on it; `None` once released (or in streams written before
    /// ownership existed): then anyone may resume it.
    pub owner: Option<AttemptOwner>,
    /// Since when the current owner holds it (or since it was released).
    pub owned_since: OffsetDateTime,
    /// Whether its request was sent again by another delivery than the one that opened it.
    pub resumed: bool,
}

impl Deposit {
    /// The attempt whose outcome is not known yet, if any.
    pub fn open_attempt(&self) -> Option<&Attempt> {
        self.attempts.iter().find(|a| a.state == AttemptState::Open)
    }

    pub fn next_attempt_number(&self) -> u32 {
        self.attempts.len() as u32 + 1
    }

    pub(super) fn require_open_attempt(&self, number: u32) -> Result<&Attempt, TransitionError> {
        match self.open_attempt() {
            Some(open) if open.number == number => Ok(open),
            _ => Err(TransitionError::NoOpenAttempt(number)),
        }
    }

    pub(super) fn open_attempt_mut(&mut self) -> Option<&mut Attempt> {
        self.attempts
            .iter_mut()
            .find(|a| a.state == AttemptState::Open)
    }

    pub(super) fn close_open_attempt(&mut self, state: AttemptState) {
        if let Some(open) = self.open_attempt_mut() {
            open.state = state;
        }
    }
}
