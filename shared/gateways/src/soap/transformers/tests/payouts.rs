//! Payouts and payout status lookups: classified like payments, in payout words.

use super::*;

fn payout_created(status: &str, reason: &str) -> Reply {
    envelope(&format!(
        "<p:CreatePayoutResponse><p:PayoutId>po_1</p:PayoutId><p:Status>{status}</p:Status>{reason}</p:CreatePayoutResponse>"
    ))
}

// ---- requests ----

#[test]
fn payout_values_are_escaped_or_refused_before_sending() {
    let req = request(Some("</p:Destination><p:Amount>1</p:Amount>"));
    let op = Operation::CreatePayout(CreatePayout::try_from(&req).unwrap());
    let xml = soap(&op).xml;
    assert_eq!(xml.matches("<p:Amount>").count(), 1, "{xml}");
    assert!(CreatePayout::try_from(&request(Some("ba\u{0}"))).is_err());
    assert!(GetPayoutStatus::try_from(PayoutLookup::PayoutId("po\u{1b}")).is_err());
    assert!(GetPayoutStatus::try_from(PayoutLookup::IdempotencyKey("k\u{1}")).is_err());
}

// ---- create payout ----

#[test]
fn pending_or_paid_is_accepted_with_the_payout_id() {
    for status in ["PENDING", "PAID"] {
        assert_eq!(
            create_payout(payout_created(status, "")),
            PaymentOutcome::Accepted {
                external_id: "po_1".into()
            },
            "{status}"
        );
    }
}

#[test]
fn rejected_is_declined_with_the_reason_code_or_a_fallback() {
    assert_eq!(
        create_payout(payout_created(
            "REJECTED",
            "<p:ReasonCode>destination_rejected</p:ReasonCode>"
        )),
        PaymentOutcome::Declined {
            code: "destination_rejected".into(),
            message: "payout rejected by the gateway".into()
        }
    );
    assert_outcome!(
        create_payout(payout_created("REJECTED", "<p:ReasonCode/>")),
        PaymentOutcome::Declined { code, .. } if code == "rejected"
    );
    assert_outcome!(
        create_payout(payout_created("FAILED", "")),
        PaymentOutcome::Declined { code, .. } if code == "failed"
    );
}

#[test]
fn an_answer_in_other_words_is_ambiguous() {
    for body in [
        // A payment's words and elements are not a payout's.
        "<p:CreatePayoutResponse><p:PayoutId>po_1</p:PayoutId><p:Status>SUCCEEDED</p:Status></p:CreatePayoutResponse>",
        "<p:CreatePayoutResponse><p:TransactionId>po_1</p:TransactionId><p:Status>PENDING</p:Status></p:CreatePayoutResponse>",
        "<p:CreatePaymentResponse><p:TransactionId>txn_1</p:TransactionId><p:Status>PENDING</p:Status></p:CreatePaymentResponse>",
        "<p:CreatePayoutResponse><p:PayoutId/><p:Status>PENDING</p:Status></p:CreatePayoutResponse>",
    ] {
        assert_outcome!(
            create_payout(envelope(body)),
            PaymentOutcome::Ambiguous { .. },
            "{body}"
        );
    }
    // And a payout's are not a payment's.
    assert_outcome!(
        create(payout_created("PENDING", "")),
        PaymentOutcome::Ambiguous { .. }
    );
    assert_outcome!(
        create(raw(200, "garbage")),
        PaymentOutcome::Ambiguous { .. }
    );
}

#[test]
fn create_payout_faults_and_statuses_classify_like_a_payment() {
    assert_outcome!(
        create_payout(fault(500, "soap:Client", "InvalidRequest")),
        PaymentOutcome::Declined { code, .. } if code == "InvalidRequest"
    );
    assert_outcome!(
        create_payout(fault(500, "soap:Server", "Internal")),
        PaymentOutcome::Ambiguous { .. }
    );
    assert_outcome!(
        create_payout(fault(409, "soap:Client", "IdempotencyKeyInUse")),
        PaymentOutcome::Ambiguous { .. }
    );
    for reply in [
        fault(429, "soap:Client", "IdempotencyKeyInUse"),
        fault(503, "soap:Server", "ServiceUnavailable"),
        fault(404, "soap:Client", "NotFound"),
    ] {
        assert_outcome!(create_payout(reply), PaymentOutcome::Transient { .. });
    }
    assert_outcome!(
        create_payout(raw(502, "")),
        PaymentOutcome::Ambiguous { .. }
    );
    assert_outcome!(
        create_payout(raw(422, "")),
        PaymentOutcome::Declined { code, .. } if code == REJECTED_REQUEST
    );
}

// ---- payout status ----

#[test]
fn payout_status_maps_every_state_and_the_amount() {
    let cases = [
        ("PENDING", "", PaymentState::Pending),
        ("PAID", "", PaymentState::Succeeded),
        (
            "FAILED",
            "account_closed",
            PaymentState::Failed {
                code: "account_closed".into(),
            },
        ),
        (
            "REJECTED",
            "destination_rejected",
            PaymentState::Declined {
                code: "destination_rejected".into(),
            },
        ),
        (
            "REJECTED",
            "",
            PaymentState::Declined {
                code: "rejected".into(),
            },
        ),
    ];
    for (wire, reason, state) in cases {
        let body = format!(
            "<p:GetPayoutStatusResponse><p:PayoutId>po_1</p:PayoutId><p:Status>{wire}</p:Status><p:ReasonCode>{reason}</p:ReasonCode><p:Amount>5000</p:Amount><p:Currency>EUR</p:Currency></p:GetPayoutStatusResponse>"
        );
        assert_eq!(
            payout_status(envelope(&body)),
            StatusOutcome::Found {
                external_id: "po_1".into(),
                state,
                charged: Some(Money {
                    amount: Amount::new(5_000).unwrap(),
                    currency: Currency::parse("EUR").unwrap(),
                }),
            }
        );
    }
}

#[test]
fn payout_status_not_found_and_unknown() {
    for code in [200, 404, 500] {
        assert_eq!(
            payout_status(fault(code, "soap:Client", "NotFound")),
            StatusOutcome::NotFound
        );
    }
    let replies = [
        envelope(
            "<p:GetPayoutStatusResponse><p:PayoutId/><p:Status>PAID</p:Status></p:GetPayoutStatusResponse>",
        ),
        envelope(
            "<p:GetPayoutStatusResponse><p:PayoutId>po_1</p:PayoutId><p:Status>SUCCEEDED</p:Status></p:GetPayoutStatusResponse>",
        ),
        envelope(
            "<p:GetPaymentStatusResponse><p:TransactionId>t</p:TransactionId><p:Status>PENDING</p:Status></p:GetPaymentStatusResponse>",
        ),
    ];
    for reply in unreadable_status_replies().into_iter().chain(replies) {
        assert_outcome!(payout_status(reply), StatusOutcome::Unknown { .. });
    }
    // A payment lookup does not take a payout's answer either.
    assert_outcome!(
        status(envelope(
            "<p:GetPayoutStatusResponse><p:PayoutId>po_1</p:PayoutId><p:Status>PAID</p:Status></p:GetPayoutStatusResponse>"
        )),
        StatusOutcome::Unknown { .. }
    );
}
