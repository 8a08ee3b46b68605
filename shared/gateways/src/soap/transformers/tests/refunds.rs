//! Refunds and refund status lookups.

use super::*;

// ---- refund ----

#[test]
fn refund_pending_is_accepted() {
    let outcome = refund(envelope(
        "<p:RefundResponse><p:RefundId>rf_1</p:RefundId><p:Status>PENDING</p:Status></p:RefundResponse>",
    ));
    assert_eq!(
        outcome,
        RefundOutcome::Accepted {
            refund_external_id: "rf_1".into()
        }
    );
}

#[test]
fn refund_client_fault_is_rejected_with_its_code() {
    let outcome = refund(fault(500, "soap:Client", "RefundExceedsPayment"));
    assert_outcome!(
        outcome,
        RefundOutcome::Rejected { code, .. } if code == "RefundExceedsPayment"
    );
}

#[test]
fn fault_detail_message_is_the_message() {
    let reply = envelope_with(
        500,
        "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>NotFound</faultstring><detail><p:Message>no payment with that TransactionId</p:Message></detail></soap:Fault>",
    );
    assert_eq!(
        refund(reply),
        RefundOutcome::Rejected {
            code: "NotFound".into(),
            message: "no payment with that TransactionId".into()
        }
    );
}

#[test]
fn refund_transient_and_ambiguous_follow_the_rules() {
    assert_outcome!(refund(raw(503, "")), RefundOutcome::Transient { .. });
    assert_outcome!(
        refund(fault(500, "soap:Server", "x")),
        RefundOutcome::Ambiguous { .. }
    );
    assert_outcome!(refund(raw(502, "")), RefundOutcome::Ambiguous { .. });
    assert_outcome!(refund(raw(200, "<x/>")), RefundOutcome::Ambiguous { .. });
}

// ---- refund status ----

#[test]
fn refund_status_found_maps_every_state() {
    for (wire, reason, state) in [
        ("PENDING", "", RefundSettlement::Pending),
        ("SUCCEEDED", "", RefundSettlement::Succeeded),
        (
            "FAILED",
            "payment_failed",
            RefundSettlement::Failed {
                code: "payment_failed".into(),
            },
        ),
        (
            "FAILED",
            "",
            RefundSettlement::Failed {
                code: "failed".into(),
            },
        ),
    ] {
        let body = format!(
            "<p:GetRefundStatusResponse><p:RefundId>rf_1</p:RefundId><p:Status>{wire}</p:Status><p:ReasonCode>{reason}</p:ReasonCode></p:GetRefundStatusResponse>"
        );
        assert_eq!(
            refund_status(envelope(&body)),
            RefundStatusOutcome::Found {
                refund_external_id: "rf_1".into(),
                state
            }
        );
    }
}

#[test]
fn refund_status_not_found_and_unknown() {
    assert_eq!(
        refund_status(fault(500, "soap:Client", "NotFound")),
        RefundStatusOutcome::NotFound
    );
    let replies = [
        envelope(
            "<p:GetRefundStatusResponse><p:RefundId/><p:Status>PENDING</p:Status></p:GetRefundStatusResponse>",
        ),
        envelope(
            "<p:GetRefundStatusResponse><p:RefundId>rf_1</p:RefundId><p:Status>DECLINED</p:Status></p:GetRefundStatusResponse>",
        ),
        envelope(
            "<p:GetPaymentStatusResponse><p:TransactionId>t</p:TransactionId><p:Status>PENDING</p:Status></p:GetPaymentStatusResponse>",
        ),
    ];
    for reply in unreadable_status_replies().into_iter().chain(replies) {
        assert_outcome!(refund_status(reply), RefundStatusOutcome::Unknown { .. });
    }
}
