//! The JSON transformers, one wire answer at a time.

use super::*;
use crate::test_support::{DEPOSIT, assert_outcome, raw, refund_request, reply_readers, request};
use paygate_domain::Amount;
use serde_json::json;

reply_readers!();

fn reply(status: u16, body: serde_json::Value) -> Reply {
    Reply {
        status,
        body: serde_json::to_vec(&body).unwrap(),
    }
}

// ---- requests ----

/// Both create calls carry the order, then the token under the call's own field, which is
/// left out (as are the other calls' fields) when there is no token.
#[test]
fn create_requests_are_the_wire_body_with_the_token_under_their_field() {
    type Encode = fn(&PaymentRequest) -> serde_json::Value;
    let payment: Encode = |req| serde_json::to_value(JsonPaymentRequest::from(req)).unwrap();
    let payout: Encode = |req| serde_json::to_value(JsonPayoutRequest::from(req)).unwrap();
    for (call, encode, field, token, absent) in [
        ("payment", payment, "token", "tok_success", &["token"][..]),
        (
            "payout",
            payout,
            "destination",
            "ba_success",
            &["destination", "token"],
        ),
    ] {
        let mut expected = json!({
            "amount": 10099,
            "currency": "AED",
            "country": "AE",
            "reference": DEPOSIT,
        });
        expected[field] = json!(token);
        assert_eq!(encode(&request(Some(token))), expected, "{call}");
        let body = encode(&request(None));
        for field in absent {
            assert!(body.get(field).is_none(), "{call} without a token: {body}");
        }
    }
}

#[test]
fn token_with_quotes_is_escaped_by_the_serialiser() {
    let req = request(Some("tok\",\"amount\":1"));
    let body = serde_json::to_vec(&JsonPaymentRequest::from(&req)).unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(parsed["amount"], 10099);
    assert_eq!(parsed["token"], "tok\",\"amount\":1");
}

#[test]
fn refund_request_is_the_wire_body() {
    let req = refund_request("pay_abc");
    let body = serde_json::to_value(JsonRefundRequest::from(&req)).unwrap();
    assert_eq!(body, json!({"payment_id": "pay_abc", "amount": 500}));
}

// ---- create payment ----

#[test]
fn created_pending_or_already_succeeded_is_accepted_with_the_psp_id() {
    let pending =
        json!({"id":"pay_1","status":"pending","amount":10099,"currency":"AED","reference":"d"});
    let succeeded = json!({"id":"pay_1","status":"succeeded"});
    for answer in [reply(201, pending), reply(200, succeeded)] {
        let expected = PaymentOutcome::Accepted {
            external_id: "pay_1".into(),
        };
        assert_eq!(create(answer), expected);
    }
}

#[test]
fn payment_required_402_is_declined_with_the_psp_code() {
    let outcome = create(reply(
        402,
        json!({"error":{"code":"card_declined","message":"Your card was declined."}}),
    ));
    assert_eq!(
        outcome,
        PaymentOutcome::Declined {
            code: "card_declined".into(),
            message: "Your card was declined.".into()
        }
    );
}

#[test]
fn declines_are_final_with_the_psp_code_or_a_fallback() {
    let cases = [
        // Created, but declined in the body.
        (
            reply(
                201,
                json!({"id":"pay_1","status":"declined","failure_code":"do_not_honor"}),
            ),
            "do_not_honor",
        ),
        // 402 is the payer's decline, with or without the PSP's body.
        (raw(402, "oops"), "declined"),
        // Any other 4xx is our request refused.
        (
            reply(
                400,
                json!({"error":{"code":"invalid_request","message":"amount missing"}}),
            ),
            "invalid_request",
        ),
        (raw(400, "<html>bad</html>"), REJECTED_REQUEST),
        // Odd PSP codes are replaced, not passed on.
        (
            reply(402, json!({"error":{"code":"card declined <b>"}})),
            "declined",
        ),
    ];
    for (answer, expected) in cases {
        assert_outcome!(create(answer), PaymentOutcome::Declined { code, .. } if code == expected);
    }
}

#[test]
fn unavailable_503_and_throttled_429_are_transient() {
    for code in [503, 429] {
        assert_outcome!(
            create(raw(code, "")),
            PaymentOutcome::Transient { .. },
            "{code}"
        );
    }
}

#[test]
fn server_errors_500_502_504_and_a_key_in_flight_409_are_ambiguous() {
    for code in [500, 502, 504] {
        let outcome = create(reply(code, json!({"error":{"code":"internal"}})));
        assert_outcome!(outcome, PaymentOutcome::Ambiguous { .. }, "{code}");
    }
    assert_outcome!(create(raw(409, "")), PaymentOutcome::Ambiguous { .. });
}

#[test]
fn success_with_malformed_body_is_ambiguous() {
    for body in [
        "",
        "not json",
        "{}",
        r#"{"id":"","status":"pending"}"#,
        r#"{"id":"pay_1","status":"teleported"}"#,
        r#"{"id":42,"status":"pending"}"#,
        r#"[{"id":"pay_1","status":"pending"}]"#,
    ] {
        assert_outcome!(
            create(raw(201, body)),
            PaymentOutcome::Ambiguous { .. },
            "{body}"
        );
    }
}

// ---- status ----

#[test]
fn status_found_maps_every_state() {
    let cases = [
        (
            json!({"id":"pay_1","status":"pending","failure_code":null}),
            PaymentState::Pending,
        ),
        (
            json!({"id":"pay_1","status":"succeeded"}),
            PaymentState::Succeeded,
        ),
        (
            json!({"id":"pay_1","status":"failed","failure_code":"insufficient_funds"}),
            PaymentState::Failed {
                code: "insufficient_funds".into(),
            },
        ),
        (
            json!({"id":"pay_1","status":"declined","failure_code":"card_declined"}),
            PaymentState::Declined {
                code: "card_declined".into(),
            },
        ),
        (
            json!({"id":"pay_1","status":"failed"}),
            PaymentState::Failed {
                code: "failed".into(),
            },
        ),
    ];
    for (body, state) in cases {
        assert_eq!(
            status(reply(200, body)),
            StatusOutcome::Found {
                external_id: "pay_1".into(),
                state,
                charged: None,
            }
        );
    }
}

#[test]
fn status_404_with_the_psp_not_found_is_not_found() {
    let outcome = status(reply(
        404,
        json!({"error":{"code":"not_found","message":"no"}}),
    ));
    assert_eq!(outcome, StatusOutcome::NotFound);
}

#[test]
fn status_errors_malformed_bodies_and_a_bare_404_are_unknown() {
    for answer in [
        raw(404, "Not Found"),
        reply(404, json!({"error":{"code":"no_route"}})),
        raw(503, ""),
        raw(429, ""),
        raw(500, ""),
        raw(504, ""),
        raw(200, ""),
        raw(200, "{\"id\":\"pay_1\"}"),
        raw(200, "{\"id\":\"pay_1\",\"status\":\"weird\"}"),
    ] {
        let context = format!("{answer:?}");
        assert_outcome!(status(answer), StatusOutcome::Unknown { .. }, "{context}");
    }
}

// ---- refund ----

#[test]
fn refund_created_is_accepted() {
    let outcome = refund(reply(
        201,
        json!({"id":"ref_1","status":"pending","payment_id":"pay_1","amount":500}),
    ));
    assert_eq!(
        outcome,
        RefundOutcome::Accepted {
            refund_external_id: "ref_1".into()
        }
    );
}

#[test]
fn refund_422_is_rejected_with_the_psp_code() {
    let outcome = refund(reply(
        422,
        json!({"error":{"code":"refund_exceeds_payment","message":"too much"}}),
    ));
    assert_eq!(
        outcome,
        RefundOutcome::Rejected {
            code: "refund_exceeds_payment".into(),
            message: "too much".into()
        }
    );
}

#[test]
fn refund_transient_and_ambiguous_follow_the_status() {
    for code in [503, 429] {
        assert_outcome!(
            refund(raw(code, "")),
            RefundOutcome::Transient { .. },
            "{code}"
        );
    }
    for (code, body) in [(500, ""), (502, ""), (201, "{}")] {
        let outcome = refund(raw(code, body));
        assert_outcome!(outcome, RefundOutcome::Ambiguous { .. }, "{code} {body}");
    }
}

#[test]
fn refund_of_an_unknown_payment_or_failed_in_body_is_rejected_but_a_bare_404_is_transient() {
    let cases = [
        (
            reply(
                404,
                json!({"error":{"code":"not_found","message":"no payment"}}),
            ),
            "not_found",
        ),
        (
            reply(
                200,
                json!({"id":"ref_1","status":"failed","failure_code":"expired_card"}),
            ),
            "expired_card",
        ),
    ];
    for (answer, expected) in cases {
        assert_outcome!(refund(answer), RefundOutcome::Rejected { code, .. } if code == expected);
    }
    assert_outcome!(
        refund(raw(404, "Not Found")),
        RefundOutcome::Transient { .. }
    );
}

// ---- refund status ----

#[test]
fn refund_status_found_maps_every_state() {
    let cases = [
        (
            json!({"id":"ref_1","status":"pending","payment_id":"pay_1","amount":500,"failure_code":null}),
            RefundSettlement::Pending,
        ),
        (
            json!({"id":"ref_1","status":"succeeded"}),
            RefundSettlement::Succeeded,
        ),
        (
            json!({"id":"ref_1","status":"failed","failure_code":"payment_failed"}),
            RefundSettlement::Failed {
                code: "payment_failed".into(),
            },
        ),
        (
            json!({"id":"ref_1","status":"failed","failure_code":"not a code!"}),
            RefundSettlement::Failed {
                code: "failed".into(),
            },
        ),
    ];
    for (body, state) in cases {
        assert_eq!(
            refund_status(reply(200, body)),
            RefundStatusOutcome::Found {
                refund_external_id: "ref_1".into(),
                state
            }
        );
    }
}

#[test]
fn refund_status_not_found_only_on_the_psp_answer() {
    assert_eq!(
        refund_status(reply(404, json!({"error":{"code":"not_found"}}))),
        RefundStatusOutcome::NotFound
    );
    for (code, body) in [
        (404, "Not Found"),
        (409, ""),
        (429, r#"{"error":{"code":"not_found"}}"#),
        (503, r#"{"error":{"code":"not_found"}}"#),
        (500, ""),
        (200, ""),
        (200, r#"{"id":"ref_1","status":"declined"}"#),
        (200, r#"{"id":"","status":"pending"}"#),
    ] {
        let outcome = refund_status(raw(code, body));
        assert_outcome!(
            outcome,
            RefundStatusOutcome::Unknown { .. },
            "{code} {body}"
        );
    }
}

mod payouts;
