//! The SOAP transformers, one wire answer at a time.

use super::*;
use crate::classify::REJECTED_REQUEST;
use crate::test_support::{DEPOSIT, assert_outcome, raw, refund_request, reply_readers, request};
use crate::transport::Reply;
use paygate_domain::ports::gateway::{
    PaymentOutcome, PaymentState, RefundOutcome, RefundSettlement, RefundStatusOutcome,
    StatusOutcome,
};
use paygate_domain::{Amount, Currency, Money};

reply_readers!();

fn envelope(body: &str) -> Reply {
    envelope_with(200, body)
}

fn envelope_with(status: u16, body: &str) -> Reply {
    let xml = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp">
  <soap:Body>
{body}
  </soap:Body>
</soap:Envelope>"#
    );
    Reply {
        status,
        body: xml.into_bytes(),
    }
}

fn fault(status: u16, code: &str, string: &str) -> Reply {
    envelope_with(
        status,
        &format!(
            "<soap:Fault><faultcode>{code}</faultcode><faultstring>{string}</faultstring></soap:Fault>"
        ),
    )
}

/// Answers no status call can read, whatever it asked about: a fault that may hide the
/// record (in flight, throttled, the server's), unavailable, or not XML.
fn unreadable_status_replies() -> [Reply; 5] {
    [
        fault(409, "soap:Client", "NotFound"),
        fault(429, "soap:Client", "NotFound"),
        fault(500, "soap:Server", "NotFound"),
        raw(503, ""),
        raw(200, "junk"),
    ]
}

fn soap(operation: &Operation<'_>) -> SoapRequest {
    SoapRequest::try_from(operation).unwrap()
}

// ---- requests ----

/// Both create calls carry the order, then the token under the call's own element, which
/// is left out when there is no token.
#[test]
fn create_calls_are_the_wire_envelope_with_the_token_under_their_element() {
    type Encode = fn(&PaymentRequest) -> SoapRequest;
    let payment: Encode = |req| soap(&Operation::CreatePayment(req.try_into().unwrap()));
    let payout: Encode = |req| soap(&Operation::CreatePayout(req.try_into().unwrap()));
    for (operation, encode, element, token) in [
        ("CreatePayment", payment, "Token", "tok_success"),
        ("CreatePayout", payout, "Destination", "ba_fail_webhook"),
    ] {
        let wire = encode(&request(Some(token)));
        assert_eq!(wire.action, format!("\"{operation}\""), "{operation}");
        assert_eq!(
            wire.xml,
            format!(
                concat!(
                    r#"<?xml version="1.0" encoding="utf-8"?>"#,
                    r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp">"#,
                    "<soap:Body><p:{operation}>",
                    "<p:IdempotencyKey>{d}:1</p:IdempotencyKey>",
                    "<p:Amount>10099</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country>",
                    "<p:Reference>{d}</p:Reference><p:{element}>{token}</p:{element}>",
                    "</p:{operation}></soap:Body></soap:Envelope>"
                ),
                d = DEPOSIT,
                operation = operation,
                element = element,
                token = token,
            ),
            "{operation}"
        );
        let xml = encode(&request(None)).xml;
        assert!(!xml.contains(element), "{operation} without a token: {xml}");
    }
}

#[test]
fn untrusted_values_are_escaped_not_injected() {
    let req = request(Some("</p:Token><p:Amount>1</p:Amount>&"));
    let op = Operation::CreatePayment(CreatePayment::try_from(&req).unwrap());
    let xml = soap(&op).xml;
    assert!(
        xml.contains("<p:Token>&lt;/p:Token&gt;&lt;p:Amount&gt;1&lt;/p:Amount&gt;&amp;</p:Token>"),
        "{xml}"
    );
    assert_eq!(xml.matches("<p:Amount>").count(), 1);
}

#[test]
fn values_xml_cannot_carry_are_refused_before_sending() {
    let req = request(Some("tok\u{0}"));
    assert!(CreatePayment::try_from(&req).is_err());
    assert!(GetPaymentStatus::try_from(PaymentLookup::IdempotencyKey("key\u{1b}")).is_err());
    assert!(GetPaymentStatus::try_from(PaymentLookup::IdempotencyKey("dep:1\t\u{e9}")).is_ok());
    assert!(GetPaymentStatus::try_from(PaymentLookup::TransactionId("txn\u{1b}")).is_err());
}

/// Every status call asks by the idempotency key or by the PSP's id (WIRE.md), and
/// refuses an id XML cannot carry.
#[test]
fn status_calls_are_by_key_or_by_id() {
    let payment = |lookup| Operation::GetPaymentStatus(GetPaymentStatus::try_from(lookup).unwrap());
    let payout = |lookup| Operation::GetPayoutStatus(GetPayoutStatus::try_from(lookup).unwrap());
    let refund = |lookup| Operation::GetRefundStatus(GetRefundStatus::try_from(lookup).unwrap());
    let cases = [
        (
            payment(PaymentLookup::IdempotencyKey("dep:1")),
            payment(PaymentLookup::TransactionId("txn_1")),
            "GetPaymentStatus",
            ("dep:1", "TransactionId", "txn_1"),
            GetPaymentStatus::try_from(PaymentLookup::TransactionId("txn\u{1}")).is_err(),
        ),
        (
            payout(PayoutLookup::IdempotencyKey("po:1")),
            payout(PayoutLookup::PayoutId("po_1")),
            "GetPayoutStatus",
            ("po:1", "PayoutId", "po_1"),
            GetPayoutStatus::try_from(PayoutLookup::PayoutId("po\u{1}")).is_err(),
        ),
        (
            refund(RefundLookup::IdempotencyKey("dep:refund:r1")),
            refund(RefundLookup::RefundId("rf_1")),
            "GetRefundStatus",
            ("dep:refund:r1", "RefundId", "rf_1"),
            GetRefundStatus::try_from(RefundLookup::RefundId("rf\u{1}")).is_err(),
        ),
    ];
    for (by_key, by_id, call, (key, element, id), refused) in cases {
        let soap_key = soap(&by_key);
        assert_eq!(soap_key.action, format!("\"{call}\""));
        let by_key_body = format!(
            "<soap:Body><p:{call}><p:IdempotencyKey>{key}</p:IdempotencyKey></p:{call}></soap:Body>"
        );
        assert!(soap_key.xml.contains(&by_key_body), "{}", soap_key.xml);
        let by_id_body = format!("<p:{call}><p:{element}>{id}</p:{element}></p:{call}>");
        let soap_id = soap(&by_id);
        assert!(soap_id.xml.contains(&by_id_body), "{}", soap_id.xml);
        assert!(refused, "{call}: an id with a control character");
    }
}

#[test]
fn refund_is_the_wire_envelope() {
    let req = refund_request("txn_1");
    let op = Operation::Refund(Refund::try_from(&req).unwrap());
    let soap_refund = soap(&op);
    assert_eq!(soap_refund.action, "\"Refund\"");
    assert!(soap_refund.xml.contains(
        "<p:Refund><p:IdempotencyKey>dep:refund:r1</p:IdempotencyKey><p:TransactionId>txn_1</p:TransactionId><p:Amount>500</p:Amount></p:Refund>"
    ));
}

// ---- create payment ----

#[test]
fn pending_is_accepted_with_the_transaction_id() {
    let outcome = create(envelope(
        "<p:CreatePaymentResponse><p:TransactionId>txn_1</p:TransactionId><p:Status>PENDING</p:Status></p:CreatePaymentResponse>",
    ));
    assert_eq!(
        outcome,
        PaymentOutcome::Accepted {
            external_id: "txn_1".into()
        }
    );
}

#[test]
fn other_namespace_prefixes_are_understood() {
    let xml = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/><s:Body><ns2:CreatePaymentResponse xmlns:ns2="urn:paygate:sim:psp"><ns2:TransactionId>txn_2</ns2:TransactionId><ns2:Status>PENDING</ns2:Status><ns2:ReasonCode/></ns2:CreatePaymentResponse></s:Body></s:Envelope>"#;
    assert_eq!(
        create(raw(200, xml)),
        PaymentOutcome::Accepted {
            external_id: "txn_2".into()
        }
    );
}

#[test]
fn declined_is_declined_with_the_reason_code() {
    let outcome = create(envelope(
        "<p:CreatePaymentResponse><p:TransactionId>txn_1</p:TransactionId><p:Status>DECLINED</p:Status><p:ReasonCode>card_declined</p:ReasonCode></p:CreatePaymentResponse>",
    ));
    assert_outcome!(outcome, PaymentOutcome::Declined { code, .. } if code == "card_declined");
}

#[test]
fn declined_without_a_reason_code_is_declined() {
    let outcome = create(envelope(
        "<p:CreatePaymentResponse><p:TransactionId/><p:Status>DECLINED</p:Status><p:ReasonCode/></p:CreatePaymentResponse>",
    ));
    assert_outcome!(outcome, PaymentOutcome::Declined { code, .. } if code == "declined");
}

#[test]
fn client_fault_is_final_with_the_psp_code() {
    for status in [400, 500] {
        let outcome = create(fault(status, "soap:Client", "InvalidAmount"));
        assert_outcome!(
            outcome,
            PaymentOutcome::Declined { code, .. } if code == "InvalidAmount",
            "{status}"
        );
    }
    let outcome = create(fault(500, "soap:Client", "Amount must be positive"));
    assert_eq!(
        outcome,
        PaymentOutcome::Declined {
            code: REJECTED_REQUEST.into(),
            message: "Amount must be positive".into()
        }
    );
}

#[test]
fn server_fault_is_ambiguous() {
    let outcome = create(fault(500, "soap:Server", "Internal error"));
    assert_outcome!(outcome, PaymentOutcome::Ambiguous { .. });
    let outcome = create(fault(500, "env:Receiver", "x"));
    assert_outcome!(outcome, PaymentOutcome::Ambiguous { .. });
}

#[test]
fn unavailable_503_and_throttled_429_are_transient_even_with_a_fault() {
    assert_outcome!(create(raw(503, "")), PaymentOutcome::Transient { .. });
    assert_outcome!(create(raw(429, "")), PaymentOutcome::Transient { .. });
    let outcome = create(fault(503, "soap:Server", "Down"));
    assert_outcome!(outcome, PaymentOutcome::Transient { .. });
}

#[test]
fn server_errors_without_a_fault_are_ambiguous() {
    for code in [500, 502, 504] {
        let outcome = create(raw(code, "<html/>"));
        assert_outcome!(outcome, PaymentOutcome::Ambiguous { .. }, "{code}");
    }
}

#[test]
fn client_error_without_a_fault_is_final() {
    let outcome = create(raw(400, "bad"));
    assert_outcome!(outcome, PaymentOutcome::Declined { code, .. } if code == REJECTED_REQUEST);
}

#[test]
fn success_with_malformed_xml_is_ambiguous() {
    for body in [
        "",
        "not xml",
        "<soap:Envelope",
        r#"<soap:Envelope xmlns:soap="x"><soap:Body/></soap:Envelope>"#,
        r#"<soap:Envelope xmlns:soap="x"><soap:Body><p:Surprise/></soap:Body></soap:Envelope>"#,
    ] {
        assert_outcome!(
            create(raw(200, body)),
            PaymentOutcome::Ambiguous { .. },
            "{body}"
        );
    }
    for body in [
        "<p:CreatePaymentResponse><p:Status>PENDING</p:Status></p:CreatePaymentResponse>",
        "<p:CreatePaymentResponse><p:TransactionId>t</p:TransactionId><p:Status>MAYBE</p:Status></p:CreatePaymentResponse>",
        "<p:RefundResponse><p:RefundId>rf</p:RefundId><p:Status>PENDING</p:Status></p:RefundResponse>",
    ] {
        assert_outcome!(
            create(envelope(body)),
            PaymentOutcome::Ambiguous { .. },
            "{body}"
        );
    }
    let not_utf8 = Reply {
        status: 200,
        body: vec![0xff, 0xfe, 0x00],
    };
    assert_outcome!(create(not_utf8), PaymentOutcome::Ambiguous { .. });
}

#[test]
fn external_entities_are_not_expanded() {
    let xml = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><soap:Envelope xmlns:soap="x"><soap:Body><p:CreatePaymentResponse><p:TransactionId>&e;</p:TransactionId><p:Status>PENDING</p:Status></p:CreatePaymentResponse></soap:Body></soap:Envelope>"#;
    let outcome = create(raw(200, xml));
    assert!(
        !matches!(&outcome, PaymentOutcome::Accepted { external_id } if external_id.contains("root")),
        "{outcome:?}"
    );
}

// ---- status ----

#[test]
fn status_found_maps_every_state() {
    let cases = [
        ("PENDING", "", PaymentState::Pending),
        ("SUCCEEDED", "", PaymentState::Succeeded),
        (
            "FAILED",
            "insufficient_funds",
            PaymentState::Failed {
                code: "insufficient_funds".into(),
            },
        ),
        (
            "DECLINED",
            "card_declined",
            PaymentState::Declined {
                code: "card_declined".into(),
            },
        ),
        (
            "FAILED",
            "",
            PaymentState::Failed {
                code: "failed".into(),
            },
        ),
    ];
    for (wire, reason, state) in cases {
        let body = format!(
            "<p:GetPaymentStatusResponse><p:TransactionId>txn_1</p:TransactionId><p:Status>{wire}</p:Status><p:ReasonCode>{reason}</p:ReasonCode></p:GetPaymentStatusResponse>"
        );
        assert_eq!(
            status(envelope(&body)),
            StatusOutcome::Found {
                external_id: "txn_1".into(),
                state,
                charged: None,
            }
        );
    }
}

#[test]
fn not_found_fault_is_not_found_where_the_status_lets_the_body_decide() {
    for code in [200, 404, 500] {
        assert_eq!(
            status(fault(code, "soap:Client", "NotFound")),
            StatusOutcome::NotFound
        );
    }
    // The key is still in flight, throttled, unavailable: the payment may well exist.
    for code in [409, 429, 503, 502, 400] {
        let outcome = status(fault(code, "soap:Client", "NotFound"));
        assert_outcome!(outcome, StatusOutcome::Unknown { .. }, "{code}");
    }
}

#[test]
fn status_carries_the_amount_when_given() {
    let body = "<p:GetPaymentStatusResponse><p:TransactionId>txn_1</p:TransactionId><p:Status>SUCCEEDED</p:Status><p:ReasonCode/><p:Amount>5049</p:Amount><p:Currency>AED</p:Currency></p:GetPaymentStatusResponse>";
    assert_eq!(
        status(envelope(body)),
        StatusOutcome::Found {
            external_id: "txn_1".into(),
            state: PaymentState::Succeeded,
            charged: Some(Money {
                amount: Amount::new(5049).unwrap(),
                currency: Currency::parse("AED").unwrap(),
            }),
        }
    );
    // Unreadable or partial money is "not said", never a broken answer.
    for money in [
        "<p:Amount/><p:Currency/>",
        "<p:Amount>-1</p:Amount><p:Currency>AED</p:Currency>",
        "<p:Amount>10</p:Amount><p:Currency>aed</p:Currency>",
        "<p:Amount>10</p:Amount>",
    ] {
        let body = format!(
            "<p:GetPaymentStatusResponse><p:TransactionId>txn_1</p:TransactionId><p:Status>PENDING</p:Status>{money}</p:GetPaymentStatusResponse>"
        );
        let outcome = status(envelope(&body));
        assert_outcome!(
            outcome,
            StatusOutcome::Found { charged: None, .. },
            "{money}"
        );
    }
}

#[test]
fn client_faults_on_in_flight_or_throttled_are_never_final() {
    let in_flight = fault(409, "soap:Client", "IdempotencyKeyInUse");
    assert_outcome!(create(in_flight.clone()), PaymentOutcome::Ambiguous { .. });
    assert_outcome!(refund(in_flight), RefundOutcome::Ambiguous { .. });
    let throttled = fault(429, "soap:Client", "IdempotencyKeyInUse");
    assert_outcome!(create(throttled.clone()), PaymentOutcome::Transient { .. });
    assert_outcome!(refund(throttled), RefundOutcome::Transient { .. });
    for code in [502, 504, 507] {
        assert_outcome!(
            create(fault(code, "soap:Client", "InvalidAmount")),
            PaymentOutcome::Ambiguous { .. }
        );
    }
}

#[test]
fn server_fault_on_a_final_4xx_is_ambiguous() {
    for status in [400, 422] {
        let server_fault = fault(status, "soap:Server", "Oops");
        assert_outcome!(
            create(server_fault.clone()),
            PaymentOutcome::Ambiguous { .. },
            "{status}"
        );
        assert_outcome!(
            refund(server_fault),
            RefundOutcome::Ambiguous { .. },
            "{status}"
        );
    }
}

#[test]
fn a_404_is_a_wrong_url_unless_a_client_fault_says_no_such_payment() {
    assert_outcome!(
        create(fault(404, "soap:Client", "NotFound")),
        PaymentOutcome::Transient { .. }
    );
    assert_outcome!(
        refund(fault(404, "soap:Client", "NotFound")),
        RefundOutcome::Rejected { code, .. } if code == "NotFound"
    );
    assert_outcome!(refund(raw(404, "")), RefundOutcome::Transient { .. });
    assert_outcome!(
        refund(fault(404, "soap:Server", "x")),
        RefundOutcome::Transient { .. }
    );
}

#[test]
fn other_faults_and_errors_are_unknown() {
    for reply in [
        fault(500, "soap:Server", "NotFound"),
        fault(500, "soap:Client", "InvalidKey"),
        raw(404, "Not Found"),
        raw(503, ""),
        raw(500, ""),
        raw(200, "garbage"),
        envelope(
            "<p:GetPaymentStatusResponse><p:TransactionId/><p:Status>PENDING</p:Status></p:GetPaymentStatusResponse>",
        ),
        envelope(
            "<p:GetPaymentStatusResponse><p:TransactionId>t</p:TransactionId><p:Status>LOST</p:Status></p:GetPaymentStatusResponse>",
        ),
    ] {
        assert_outcome!(status(reply), StatusOutcome::Unknown { .. });
    }
}

mod payouts;
mod refunds;
