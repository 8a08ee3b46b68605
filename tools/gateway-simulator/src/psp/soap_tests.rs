//! Reading and writing SOAP: prefixes, operations, faults, SOAPAction.

use super::*;

fn post(action: Option<&str>, xml: &str) -> http::Request<Vec<u8>> {
    let mut builder = http::Request::builder().method("POST").uri("/soap");
    if let Some(action) = action {
        builder = builder.header("SOAPAction", action);
    }
    builder.body(xml.as_bytes().to_vec()).unwrap()
}

fn wrap(operation: &str, fields: &str) -> String {
    format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp"><soap:Body><p:{operation}>{fields}</p:{operation}></soap:Body></soap:Envelope>"#
    )
}

#[test]
fn reads_the_wire_example_and_other_prefixes() {
    let wire = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp">
  <soap:Body>
    <p:CreatePayment>
      <p:IdempotencyKey>dep:1</p:IdempotencyKey>
      <p:Amount>10099</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country>
      <p:Reference>dep</p:Reference><p:Token>tok_success</p:Token>
    </p:CreatePayment>
  </soap:Body>
</soap:Envelope>"#;
    let Ok(Call::CreatePayment(op)) = parse(&post(None, wire)) else {
        panic!("not a CreatePayment");
    };
    assert_eq!(op.order.idempotency_key, "dep:1");
    assert_eq!(op.order.amount, 10_099);
    assert_eq!(op.token.as_deref(), Some("tok_success"));

    let other = r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/><s:Body><GetPaymentStatus xmlns="urn:paygate:sim:psp"><IdempotencyKey>dep:1</IdempotencyKey></GetPaymentStatus></s:Body></s:Envelope>"#;
    assert_eq!(
        parse(&post(Some("\"GetPaymentStatus\""), other)).ok(),
        Some(Call::PaymentStatus(Lookup::Key("dep:1".into())))
    );
}

#[test]
fn refund_status_is_by_refund_id_or_key() {
    let by_id = wrap("GetRefundStatus", "<p:RefundId>rf_1</p:RefundId>");
    assert_eq!(
        parse(&post(Some("GetRefundStatus"), &by_id)).ok(),
        Some(Call::RefundStatus(Lookup::Id("rf_1".into())))
    );
    let by_key = wrap(
        "GetRefundStatus",
        "<p:IdempotencyKey>d:refund:1</p:IdempotencyKey>",
    );
    assert_eq!(
        parse(&post(None, &by_key)).ok(),
        Some(Call::RefundStatus(Lookup::Key("d:refund:1".into())))
    );
    let neither = wrap("GetRefundStatus", "<p:RefundId/>");
    assert_eq!(
        refuse(parse(&post(None, &neither)).unwrap_err()).status(),
        500
    );
}

#[test]
fn writes_prefixed_replies_and_faults() {
    let reply = quick_xml::se::to_string(&EnvelopeOut {
        soap: SOAP_ENV,
        p: NAMESPACE,
        body: BodyOut {
            reply: Reply::CreatePayment(CreateResponse {
                id: OrderId::Payment("txn_1".into()),
                status: "PENDING".into(),
                reason_code: None,
            }),
        },
    })
    .unwrap();
    assert_eq!(
        reply,
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp"><soap:Body><p:CreatePaymentResponse><p:TransactionId>txn_1</p:TransactionId><p:Status>PENDING</p:Status></p:CreatePaymentResponse></soap:Body></soap:Envelope>"#
    );
    let fault = render(Answer::PaymentNotFound);
    assert_eq!(fault.status(), 500);
    assert!(String::from_utf8_lossy(fault.body()).contains(
        "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>NotFound</faultstring>"
    ));
}

#[test]
fn in_flight_faults_match_their_status() {
    let conflict = render(Answer::KeyInFlight(409));
    assert_eq!(conflict.status(), 409);
    let body = String::from_utf8_lossy(conflict.body()).into_owned();
    assert!(body.contains("<faultcode>soap:Client</faultcode><faultstring>IdempotencyKeyInUse"));
    let server = render(Answer::KeyInFlight(503));
    assert!(String::from_utf8_lossy(server.body()).contains("soap:Server"));
}

#[test]
fn soap_action_may_be_quoted_qualified_or_absent() {
    let fields = "<p:IdempotencyKey>k</p:IdempotencyKey><p:TransactionId>t</p:TransactionId><p:Amount>1</p:Amount>";
    let xml = wrap("Refund", fields);
    for action in [
        None,
        Some("\"Refund\""),
        Some("urn:paygate:sim:psp/Refund"),
        Some(""),
    ] {
        assert!(parse(&post(action, &xml)).is_ok(), "{action:?}");
    }
    assert!(parse(&post(Some("\"CreatePayment\""), &xml)).is_err());
}

#[test]
fn other_routes_and_methods_are_refused() {
    let get = http::Request::get("/soap").body(Vec::new()).unwrap();
    assert_eq!(refuse(parse(&get).unwrap_err()).status(), 405);
    let elsewhere = http::Request::post("/v1/payments")
        .body(Vec::new())
        .unwrap();
    assert_eq!(refuse(parse(&elsewhere).unwrap_err()).status(), 404);
}

#[test]
fn payout_operations_are_read() {
    let create = wrap(
        "CreatePayout",
        "<p:IdempotencyKey>po:1</p:IdempotencyKey><p:Amount>5000</p:Amount><p:Currency>EUR</p:Currency><p:Country>DE</p:Country><p:Reference>po</p:Reference><p:Destination>ba_fail_webhook</p:Destination>",
    );
    let Ok(Call::CreatePayout(new)) = parse(&post(Some("\"CreatePayout\""), &create)) else {
        panic!("not a CreatePayout");
    };
    assert_eq!(
        (
            new.order.idempotency_key.as_str(),
            new.order.amount,
            new.destination.as_deref()
        ),
        ("po:1", 5_000, Some("ba_fail_webhook"))
    );
    let no_destination = wrap(
        "CreatePayout",
        "<p:IdempotencyKey>po:1</p:IdempotencyKey><p:Amount>5000</p:Amount><p:Currency>EUR</p:Currency><p:Country>DE</p:Country><p:Reference>po</p:Reference><p:Destination/>",
    );
    let Ok(Call::CreatePayout(new)) = parse(&post(None, &no_destination)) else {
        panic!("not a CreatePayout");
    };
    assert_eq!(new.destination, None);
    for (fields, expected) in [
        ("<p:PayoutId>po_1</p:PayoutId>", Lookup::Id("po_1".into())),
        (
            "<p:IdempotencyKey>po:1</p:IdempotencyKey>",
            Lookup::Key("po:1".into()),
        ),
    ] {
        let xml = wrap("GetPayoutStatus", fields);
        assert_eq!(
            parse(&post(Some("GetPayoutStatus"), &xml)).ok(),
            Some(Call::PayoutStatus(expected))
        );
    }
    assert!(parse(&post(Some("\"CreatePayment\""), &create)).is_err());
}

#[test]
fn payout_not_found_is_the_client_fault() {
    let fault = render(Answer::PayoutNotFound);
    assert_eq!(fault.status(), 500);
    assert!(String::from_utf8_lossy(fault.body()).contains(
        "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>NotFound</faultstring>"
    ));
}
