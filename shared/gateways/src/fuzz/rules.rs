//! What every reading must respect, whatever it was given.

use super::readers::Read;
use crate::classify::{HttpClass, psp_code};
use paygate_domain::gateways::WireFormat;
use paygate_domain::money::MAX_AMOUNT_MINOR;
use paygate_domain::ports::gateway::{
    GatewayNotification, NotifiedOutcome, PaymentOutcome, PaymentState, RefundOutcome,
    RefundSettlement, RefundStatusOutcome, StatusOutcome,
};
use proptest::prelude::*;

/// An id the PSP gave, as the domain may keep it: non-blank, no surrounding whitespace.
fn check_id(id: &str) -> Result<(), TestCaseError> {
    prop_assert!(!id.is_empty(), "blank id");
    prop_assert_eq!(id.trim(), id);
    Ok(())
}

/// A code fit for the domain and the logs: 1 to 64 of `[A-Za-z0-9_.-]`.
fn check_code(code: &str) -> Result<(), TestCaseError> {
    let plain = psp_code(Some(code));
    prop_assert_eq!(plain.as_deref(), Some(code), "unplain code");
    Ok(())
}

/// A message fit for an outcome: short, no control characters.
fn check_message(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(message.chars().count() <= 200);
    prop_assert!(!message.chars().any(char::is_control), "{:?}", message);
    Ok(())
}

fn check_state(state: &PaymentState) -> Result<(), TestCaseError> {
    match state {
        PaymentState::Failed { code } | PaymentState::Declined { code } => check_code(code),
        PaymentState::Pending | PaymentState::Succeeded => Ok(()),
    }
}

/// What every reading must respect, whatever the body: the rules of its values, and the
/// outcomes the HTTP status leaves open (the table in `crate::connector`).
pub(super) fn check_read(
    format: WireFormat,
    status: u16,
    read: &Read,
) -> Result<(), TestCaseError> {
    let class = HttpClass::of(status);
    let success = class == HttpClass::Success;
    let soap = format == WireFormat::Soap;
    match read {
        Read::Payment(outcome) => match outcome {
            PaymentOutcome::Accepted { external_id } => {
                prop_assert!(success, "accepted on {}", status);
                check_id(external_id)?;
            }
            PaymentOutcome::Declined { code, message } => {
                prop_assert!(
                    matches!(class, HttpClass::Success | HttpClass::Rejected)
                        || (soap && status == 500),
                    "declined on {}",
                    status
                );
                check_code(code)?;
                check_message(message)?;
            }
            PaymentOutcome::Transient { .. } => {
                prop_assert_eq!(class, HttpClass::NotActedOn, "transient on {}", status);
            }
            PaymentOutcome::Ambiguous { .. } => {
                prop_assert_ne!(class, HttpClass::NotActedOn, "ambiguous on {}", status);
            }
        },
        Read::Status(outcome) => match outcome {
            StatusOutcome::Found {
                external_id, state, ..
            } => {
                prop_assert!(success, "found on {}", status);
                check_id(external_id)?;
                check_state(state)?;
            }
            StatusOutcome::NotFound => prop_assert!(
                status == 404 || (soap && (success || status == 500)),
                "not found on {}",
                status
            ),
            StatusOutcome::Unknown { .. } => {}
        },
        Read::Refund(outcome) => match outcome {
            RefundOutcome::Accepted { refund_external_id } => {
                prop_assert!(success, "accepted on {}", status);
                check_id(refund_external_id)?;
            }
            RefundOutcome::Rejected { code, message } => {
                prop_assert!(
                    matches!(class, HttpClass::Success | HttpClass::Rejected)
                        || status == 404
                        || (soap && status == 500),
                    "rejected on {}",
                    status
                );
                check_code(code)?;
                check_message(message)?;
            }
            RefundOutcome::Transient { .. } => {
                prop_assert_eq!(class, HttpClass::NotActedOn, "transient on {}", status);
            }
            RefundOutcome::Ambiguous { .. } => {
                prop_assert_ne!(class, HttpClass::NotActedOn, "ambiguous on {}", status);
            }
        },
        Read::RefundStatus(outcome) => match outcome {
            RefundStatusOutcome::Found {
                refund_external_id,
                state,
            } => {
                prop_assert!(success, "found on {}", status);
                check_id(refund_external_id)?;
                if let RefundSettlement::Failed { code } = state {
                    check_code(code)?;
                }
            }
            RefundStatusOutcome::NotFound => prop_assert!(
                status == 404 || (soap && (success || status == 500)),
                "not found on {}",
                status
            ),
            RefundStatusOutcome::Unknown { .. } => {}
        },
    }
    Ok(())
}

/// An accepted notification: ids and reference non-blank and trimmed, a plain code.
pub(super) fn check_notification(notification: &GatewayNotification) -> Result<(), TestCaseError> {
    check_id(&notification.event_id)?;
    check_id(&notification.external_id)?;
    check_id(&notification.reference)?;
    prop_assert!((1..=MAX_AMOUNT_MINOR).contains(&notification.charged.amount.minor()));
    match &notification.outcome {
        NotifiedOutcome::PaymentSucceeded => {}
        NotifiedOutcome::PaymentFailed { code } => check_code(code)?,
        NotifiedOutcome::RefundSucceeded { refund_external_id } => check_id(refund_external_id)?,
        NotifiedOutcome::RefundFailed {
            refund_external_id,
            code,
        } => {
            check_id(refund_external_id)?;
            check_code(code)?;
        }
    }
    Ok(())
}

/// What a documented answer must read as: a success for a success, the PSP's own refusal
/// or "not found" for those.
pub(super) fn check_documented(read: &Read, status: u16) -> Result<(), TestCaseError> {
    let ok = match read {
        Read::Payment(outcome) => match status {
            200..=299 => matches!(
                outcome,
                PaymentOutcome::Accepted { .. } | PaymentOutcome::Declined { .. }
            ),
            _ => matches!(outcome, PaymentOutcome::Declined { .. }),
        },
        Read::Status(outcome) => match status {
            200..=299 => matches!(outcome, StatusOutcome::Found { .. }),
            _ => matches!(outcome, StatusOutcome::NotFound),
        },
        Read::Refund(outcome) => match status {
            200..=299 => matches!(
                outcome,
                RefundOutcome::Accepted { .. } | RefundOutcome::Rejected { .. }
            ),
            _ => matches!(outcome, RefundOutcome::Rejected { .. }),
        },
        Read::RefundStatus(outcome) => match status {
            200..=299 => matches!(outcome, RefundStatusOutcome::Found { .. }),
            _ => matches!(outcome, RefundStatusOutcome::NotFound),
        },
    };
    prop_assert!(ok, "{:?} for a documented {} answer", read, status);
    Ok(())
}
