//! The classification rules both connectors share: what an HTTP status means for whether
//! the PSP acted, how a missing answer maps to each outcome, and how the PSP's codes and
//! messages are cleaned before they enter the domain. The full table is in
//! [`crate::connector`].

use crate::transport::TransportError;
use paygate_domain::ports::gateway::{
    PaymentOutcome, RefundOutcome, RefundStatusOutcome, StatusOutcome,
};

/// The code when the PSP refused our request without saying why.
pub(crate) const REJECTED_REQUEST: &str = "gateway_rejected_request";

/// What an HTTP status says about a mutating call (create payment, refund).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpClass {
    /// 2xx: the body holds the answer.
    Success,
    /// The PSP did nothing: unavailable or throttled (503, 429), or it turned us away
    /// before acting (401, 403, 404, 405, 408: credentials, URL, request timing).
    NotActedOn,
    /// Any other 4xx: the PSP looked at the request and said no. Final.
    Rejected,
    /// 5xx other than 503, 409 (the same key is still in flight), 1xx, 3xx: it may have acted.
    Unknown,
}

impl HttpClass {
    pub(crate) fn of(status: u16) -> Self {
        match status {
            200..=299 => Self::Success,
            401 | 403 | 404 | 405 | 408 | 429 | 503 => Self::NotActedOn,
            409 => Self::Unknown,
            400..=499 => Self::Rejected,
            _ => Self::Unknown,
        }
    }
}

pub(crate) fn http_reason(status: u16) -> String {
    format!("http {status}")
}

impl From<TransportError> for PaymentOutcome {
    fn from(err: TransportError) -> Self {
        match err {
            TransportError::NotSent(reason) => Self::Transient { reason },
            TransportError::Unanswered(reason) => Self::Ambiguous { reason },
        }
    }
}

impl From<TransportError> for RefundOutcome {
    fn from(err: TransportError) -> Self {
        match err {
            TransportError::NotSent(reason) => Self::Transient { reason },
            TransportError::Unanswered(reason) => Self::Ambiguous { reason },
        }
    }
}

impl From<TransportError> for StatusOutcome {
    fn from(err: TransportError) -> Self {
        Self::Unknown {
            reason: err.reason().to_owned(),
        }
    }
}

impl From<TransportError> for RefundStatusOutcome {
    fn from(err: TransportError) -> Self {
        Self::Unknown {
            reason: err.reason().to_owned(),
        }
    }
}

/// A PSP code fit to become a domain code and a log field: 1 to 64 characters of
/// `[A-Za-z0-9_.-]`. Anything else is dropped (the caller falls back to its own code).
pub(crate) fn psp_code(raw: Option<&str>) -> Option<String> {
    let code = raw?.trim();
    let plain = (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    plain.then(|| code.to_owned())
}

/// A PSP message, shortened and without control characters. It goes into the outcome,
/// never into a log.
pub(crate) fn psp_message(raw: Option<&str>, fallback: &str) -> String {
    let text: String = raw
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if text.is_empty() {
        fallback.to_owned()
    } else {
        text
    }
}

/// `Some` only for a non-blank value (an empty XML element or JSON string means absent).
pub(crate) fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The operations whose outcomes [`log_payment`] and [`log_status`] write.
pub(crate) const CREATE_PAYMENT: &str = "create payment";
pub(crate) const CREATE_PAYOUT: &str = "create payout";
pub(crate) const PAYMENT_STATUS: &str = "payment status";
pub(crate) const PAYOUT_STATUS: &str = "payout status";

/// One line per call outcome: the kind and the code or reason, never a body or a token.
/// `operation` is [`CREATE_PAYMENT`] or [`CREATE_PAYOUT`].
pub(crate) fn log_payment(operation: &'static str, outcome: &PaymentOutcome) {
    match outcome {
        PaymentOutcome::Accepted { .. } => tracing::info!(outcome = "accepted", "{operation}"),
        PaymentOutcome::Declined { code, .. } => {
            tracing::info!(outcome = "declined", %code, "{operation}");
        }
        PaymentOutcome::Transient { reason } => {
            tracing::warn!(outcome = "transient", %reason, "{operation}");
        }
        PaymentOutcome::Ambiguous { reason } => {
            tracing::warn!(outcome = "ambiguous", %reason, "{operation}");
        }
    }
}

/// `operation` is [`PAYMENT_STATUS`] or [`PAYOUT_STATUS`].
pub(crate) fn log_status(operation: &'static str, outcome: &StatusOutcome) {
    match outcome {
        StatusOutcome::Found { state, .. } => {
            tracing::info!(outcome = "found", state = ?state, "{operation}");
        }
        StatusOutcome::NotFound => tracing::info!(outcome = "not_found", "{operation}"),
        StatusOutcome::Unknown { reason } => {
            tracing::warn!(outcome = "unknown", %reason, "{operation}");
        }
    }
}

pub(crate) fn log_refund_status(outcome: &RefundStatusOutcome) {
    match outcome {
        RefundStatusOutcome::Found { state, .. } => {
            tracing::info!(outcome = "found", state = ?state, "refund status");
        }
        RefundStatusOutcome::NotFound => tracing::info!(outcome = "not_found", "refund status"),
        RefundStatusOutcome::Unknown { reason } => {
            tracing::warn!(outcome = "unknown", %reason, "refund status");
        }
    }
}

pub(crate) fn log_refund(outcome: &RefundOutcome) {
    match outcome {
        RefundOutcome::Accepted { .. } => tracing::info!(outcome = "accepted", "refund"),
        RefundOutcome::Rejected { code, .. } => {
            tracing::info!(outcome = "rejected", %code, "refund");
        }
        RefundOutcome::Transient { reason } => {
            tracing::warn!(outcome = "transient", %reason, "refund");
        }
        RefundOutcome::Ambiguous { reason } => {
            tracing::warn!(outcome = "ambiguous", %reason, "refund");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_falls_in_its_class() {
        let classes = [
            (HttpClass::Success, &[200, 201, 202, 204][..]),
            // Unavailable and throttled, or turned away before acting.
            (HttpClass::NotActedOn, &[503, 429, 401, 403, 404, 405, 408]),
            // Server errors other than 503, a key in flight, redirects and informational
            // answers may have acted.
            (
                HttpClass::Unknown,
                &[500, 502, 504, 507, 599, 409, 100, 301, 302, 307],
            ),
            // Other client errors are final rejections.
            (HttpClass::Rejected, &[400, 402, 410, 422, 451]),
        ];
        for (class, statuses) in classes {
            for &status in statuses {
                assert_eq!(HttpClass::of(status), class, "{status}");
            }
        }
    }

    #[test]
    fn not_sent_is_transient_and_unanswered_is_ambiguous() {
        let not_sent = TransportError::NotSent("refused".into());
        let unanswered = TransportError::Unanswered("timed out".into());
        assert_eq!(
            PaymentOutcome::from(not_sent.clone()),
            PaymentOutcome::Transient {
                reason: "refused".into()
            }
        );
        assert_eq!(
            PaymentOutcome::from(unanswered.clone()),
            PaymentOutcome::Ambiguous {
                reason: "timed out".into()
            }
        );
        assert_eq!(
            RefundOutcome::from(not_sent.clone()),
            RefundOutcome::Transient {
                reason: "refused".into()
            }
        );
        assert_eq!(
            RefundOutcome::from(unanswered.clone()),
            RefundOutcome::Ambiguous {
                reason: "timed out".into()
            }
        );
        assert!(matches!(
            StatusOutcome::from(not_sent),
            StatusOutcome::Unknown { .. }
        ));
        assert!(matches!(
            StatusOutcome::from(unanswered),
            StatusOutcome::Unknown { .. }
        ));
    }

    #[test]
    fn psp_codes_are_plain_tokens_or_nothing() {
        assert_eq!(
            psp_code(Some(" card_declined ")),
            Some("card_declined".into())
        );
        assert_eq!(
            psp_code(Some("Client.Auth-1")),
            Some("Client.Auth-1".into())
        );
        assert_eq!(psp_code(Some("")), None);
        assert_eq!(psp_code(Some("two words")), None);
        assert_eq!(psp_code(Some("<script>")), None);
        assert_eq!(psp_code(Some(&"a".repeat(65))), None);
        assert_eq!(psp_code(None), None);
    }

    #[test]
    fn psp_messages_are_short_and_printable() {
        assert_eq!(psp_message(Some("Card\ndeclined"), "x"), "Carddeclined");
        assert_eq!(psp_message(Some("  "), "fallback"), "fallback");
        assert_eq!(
            psp_message(Some(&"é".repeat(500)), "x").chars().count(),
            200
        );
    }
}
