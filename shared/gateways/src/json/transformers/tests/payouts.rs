//! Payouts and payout status lookups: classified like payments, in payout words.

use super::*;
use paygate_domain::{Currency, Money};

#[test]
fn created_pending_or_already_paid_is_accepted_with_the_payout_id() {
    let pending =
        json!({"id":"po_1","status":"pending","amount":5000,"currency":"EUR","reference":"p"});
    for answer in [
        reply(201, pending),
        reply(200, json!({"id":" po_1 ","status":"paid"})),
    ] {
        assert_eq!(
            create_payout(answer),
            PaymentOutcome::Accepted {
                external_id: "po_1".into()
            }
        );
    }
}

#[test]
fn destination_rejected_422_is_declined_with_the_psp_code_and_message() {
    let outcome = create_payout(reply(
        422,
        json!({"error":{"code":"destination_rejected","message":"the destination was rejected","payout_id":"po_1"}}),
    ));
    assert_eq!(
        outcome,
        PaymentOutcome::Declined {
            code: "destination_rejected".into(),
            message: "the destination was rejected".into()
        }
    );
}

#[test]
fn refusals_are_final_with_the_psp_code_or_a_fallback() {
    let cases = [
        (
            reply(
                201,
                json!({"id":"po_1","status":"rejected","failure_code":"destination_rejected"}),
            ),
            "destination_rejected",
            "payout rejected by the gateway",
        ),
        (
            reply(201, json!({"id":"po_1","status":"rejected"})),
            "rejected",
            "payout rejected by the gateway",
        ),
        (
            reply(200, json!({"id":"po_1","status":"failed"})),
            "failed",
            "payout failed by the gateway",
        ),
        (raw(422, "<html/>"), REJECTED_REQUEST, "http 422"),
        (
            reply(
                400,
                json!({"error":{"code":"invalid_request","message":"amount missing"}}),
            ),
            "invalid_request",
            "amount missing",
        ),
        (raw(402, ""), "declined", "http 402"),
    ];
    for (answer, code, message) in cases {
        assert_eq!(
            create_payout(answer),
            PaymentOutcome::Declined {
                code: code.into(),
                message: message.into()
            }
        );
    }
}

#[test]
fn create_payout_statuses_classify_like_a_payment() {
    for status in [503, 429, 401, 403, 404] {
        assert_outcome!(
            create_payout(reply(status, json!({"error":{"code":"not_found"}}))),
            PaymentOutcome::Transient { .. },
            "{status}"
        );
    }
    for status in [409, 500, 502, 504, 302] {
        assert_outcome!(
            create_payout(reply(
                status,
                json!({"error":{"code":"idempotency_key_in_use"}})
            )),
            PaymentOutcome::Ambiguous { .. },
            "{status}"
        );
    }
    for body in [
        "",
        "{}",
        r#"{"id":"","status":"pending"}"#,
        // A payment's word is not a payout's: we cannot tell what it did.
        r#"{"id":"po_1","status":"succeeded"}"#,
        r#"{"id":"po_1","status":"declined"}"#,
    ] {
        assert_outcome!(
            create_payout(raw(201, body)),
            PaymentOutcome::Ambiguous { .. },
            "{body}"
        );
    }
}

#[test]
fn payout_status_maps_every_state_and_the_amount() {
    let cases = [
        (
            json!({"status":"pending","failure_code":null}),
            PaymentState::Pending,
        ),
        (json!({"status":"paid"}), PaymentState::Succeeded),
        (
            json!({"status":"failed","failure_code":"account_closed"}),
            PaymentState::Failed {
                code: "account_closed".into(),
            },
        ),
        (
            json!({"status":"failed"}),
            PaymentState::Failed {
                code: "failed".into(),
            },
        ),
        (
            json!({"status":"rejected","failure_code":"destination_rejected"}),
            PaymentState::Declined {
                code: "destination_rejected".into(),
            },
        ),
        (
            json!({"status":"rejected","failure_code":"not a code!"}),
            PaymentState::Declined {
                code: "rejected".into(),
            },
        ),
    ];
    for (mut body, state) in cases {
        body["id"] = json!("po_1");
        assert_eq!(
            payout_status(reply(200, body)),
            StatusOutcome::Found {
                external_id: "po_1".into(),
                state,
                charged: None,
            }
        );
    }
    let with_amount = json!({"id":"po_1","status":"paid","amount":5000,"currency":"EUR","reference":"p","failure_code":null});
    assert_outcome!(
        payout_status(reply(200, with_amount)),
        StatusOutcome::Found { charged: Some(money), .. }
            if *money == Money { amount: Amount::new(5_000).unwrap(), currency: Currency::parse("EUR").unwrap() }
    );
}

#[test]
fn payout_status_not_found_only_on_the_psp_answer() {
    assert_eq!(
        payout_status(reply(
            404,
            json!({"error":{"code":"not_found","message":"no"}})
        )),
        StatusOutcome::NotFound
    );
    for (code, body) in [
        (404, "Not Found"),
        (404, r#"{"error":{"code":"no_such_route"}}"#),
        (429, r#"{"error":{"code":"not_found"}}"#),
        (503, ""),
        (500, ""),
        (200, ""),
        (200, r#"{"id":"po_1","status":"succeeded"}"#),
        (200, r#"{"id":"","status":"paid"}"#),
    ] {
        assert_outcome!(
            payout_status(raw(code, body)),
            StatusOutcome::Unknown { .. },
            "{code} {body}"
        );
    }
}
