//! Property-based fuzzing of everything the PSPs send us: webhook notifications in both
//! formats ([`parse_notification`]) and the answers to every call, JSON and SOAP (each
//! format's `CreatePaymentReply`, `PaymentStatusReply`, `RefundReply`,
//! `RefundStatusReply`, `CreatePayoutReply`, `PayoutStatusReply`) under every HTTP status.
//!
//! Each reader never panics, on any bytes and on structure-aware mutations of the
//! documented bodies (WIRE.md): fields and elements removed, repeated, retyped, renamed,
//! nested deep, huge numbers, unicode, control characters, entities, long text, cut
//! short. What it accepts keeps the rules (ids non-blank and trimmed, money valid, codes
//! plain, an outcome the HTTP status allows), and the documented bodies read as sent.
//!
//! Cases: proptest's default (256), or `PROPTEST_CASES`. At scale:
//! `PROPTEST_CASES=200000 cargo test --release -p paygate-gateways --lib fuzz`.

mod generators;
mod json;
mod notifications;
mod readers;
mod replies;
mod rules;
mod xml;

use crate::transport::Reply;
use crate::webhooks::{NotificationError, parse_notification};
use generators::{format, nasty_text, status};
use notifications::{mutated_notification, notification};
use paygate_domain::gateways::WireFormat;
use proptest::prelude::*;
use readers::{call, read};
use replies::{documented, mutated_reply};
use rules::{check_documented, check_notification, check_read};

proptest! {
    #![proptest_config(paygate_kit::fuzz::config("proptest-regressions/fuzz.txt"))]

    #[test]
    fn any_bytes_are_a_notification_within_the_rules_or_refused(
        format in format(),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            nasty_text().prop_map(String::into_bytes),
        ],
    ) {
        if let Ok(notification) = parse_notification(format, &body) {
            check_notification(&notification)?;
        }
    }

    #[test]
    fn mutated_notifications_are_read_within_the_rules_or_refused(
        (format, body) in mutated_notification()
    ) {
        match parse_notification(format, &body) {
            Ok(notification) => check_notification(&notification)?,
            Err(NotificationError::UnknownType(_)
                | NotificationError::Malformed(_)
                | NotificationError::MissingRefundId
                | NotificationError::InvalidMoney
                | NotificationError::MissingReference) => {}
        }
    }

    #[test]
    fn documented_notifications_read_as_sent(notification in notification(), json in any::<bool>()) {
        let (format, body) = if json {
            (WireFormat::Json, notification.json().to_string())
        } else {
            (WireFormat::Soap, notification.soap().render())
        };
        prop_assert_eq!(parse_notification(format, body.as_bytes()), Ok(notification.expected()));
    }

    #[test]
    fn any_answer_reads_within_the_rules(
        format in format(),
        call in call(),
        status in status(),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            nasty_text().prop_map(String::into_bytes),
        ],
    ) {
        let read = read(format, call, Reply { status, body });
        check_read(format, status, &read)?;
    }

    #[test]
    fn mutated_answers_read_within_the_rules((format, call, reply) in mutated_reply()) {
        let status = reply.status;
        let read = read(format, call, reply);
        check_read(format, status, &read)?;
    }

    #[test]
    fn documented_answers_read_as_what_they_say((format, call, status, reply) in documented()) {
        let read = read(format, call, reply);
        check_read(format, status, &read)?;
        check_documented(&read, status)?;
    }
}
