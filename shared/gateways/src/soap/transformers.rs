//! Between the domain's gateway types and the SOAP PSP's (WIRE.md, format `soap`).
//!
//! Envelopes are written and read with quick-xml's serde support, which escapes every text
//! value it writes and expands no external entities when reading. Element names are
//! matched by local name: the PSP may pick any namespace prefixes.

use crate::classify::{HttpClass, REJECTED_REQUEST, http_reason, present, psp_code, psp_message};
use crate::transport::Reply;
use paygate_domain::ports::gateway::{
    PaymentOutcome, PaymentRequest, PaymentState, RefundOutcome, RefundRequest, StatusOutcome,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

pub const SOAP_ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const PSP_NS: &str = "urn:paygate:sim:psp";
const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

/// A value XML 1.0 cannot carry, even escaped (most control characters): the request is
/// not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the request cannot be encoded as XML: {0}")]
pub struct EncodeError(String);

fn xml_text<'a>(field: &str, value: &'a str) -> Result<&'a str, EncodeError> {
    let allowed = |c: char| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || c >= '\u{10000}'
    };
    if value.chars().all(allowed) {
        Ok(value)
    } else {
        Err(EncodeError(format!(
            "{field} holds a character XML 1.0 forbids"
        )))
    }
}

// ---- requests ----

/// `<p:CreatePayment>`. Holds the exposed token, so it has no `Debug` and lives only until
/// it is serialised.
#[derive(Serialize)]
pub struct CreatePayment<'a> {
    #[serde(rename = "p:IdempotencyKey")]
    pub idempotency_key: &'a str,
    #[serde(rename = "p:Amount")]
    pub amount: u64,
    #[serde(rename = "p:Currency")]
    pub currency: &'static str,
    #[serde(rename = "p:Country")]
    pub country: &'static str,
    #[serde(rename = "p:Reference")]
    pub reference: String,
    #[serde(rename = "p:Token", skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
}

impl<'a> TryFrom<&'a PaymentRequest> for CreatePayment<'a> {
    type Error = EncodeError;

    fn try_from(request: &'a PaymentRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            idempotency_key: xml_text("IdempotencyKey", &request.idempotency_key)?,
            amount: request.amount.minor(),
            currency: request.currency.code(),
            country: request.country.code(),
            reference: request.deposit_id.to_string(),
            token: request
                .token
                .as_ref()
                .map(|t| xml_text("Token", t.expose_secret()))
                .transpose()?,
        })
    }
}

/// `<p:GetPaymentStatus>` by transaction id (when known) or by idempotency key.
#[derive(Debug, Serialize)]
pub struct GetPaymentStatus<'a> {
    #[serde(rename = "p:IdempotencyKey", skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<&'a str>,
    #[serde(rename = "p:TransactionId", skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<&'a str>,
}

/// Which payment a status call asks about.
#[derive(Debug, Clone, Copy)]
pub enum PaymentLookup<'a> {
    IdempotencyKey(&'a str),
    TransactionId(&'a str),
}

impl<'a> TryFrom<PaymentLookup<'a>> for GetPaymentStatus<'a> {
    type Error = EncodeError;

    fn try_from(lookup: PaymentLookup<'a>) -> Result<Self, Self::Error> {
        Ok(match lookup {
            PaymentLookup::IdempotencyKey(key) => Self {
                idempotency_key: Some(xml_text("IdempotencyKey", key)?),
                transaction_id: None,
            },
            PaymentLookup::TransactionId(id) => Self {
                idempotency_key: None,
                transaction_id: Some(xml_text("TransactionId", id)?),
            },
        })
    }
}

/// `<p:Refund>`.
#[derive(Debug, Serialize)]
pub struct Refund<'a> {
    #[serde(rename = "p:IdempotencyKey")]
    pub idempotency_key: &'a str,
    #[serde(rename = "p:TransactionId")]
    pub transaction_id: &'a str,
    #[serde(rename = "p:Amount")]
    pub amount: u64,
}

impl<'a> TryFrom<&'a RefundRequest> for Refund<'a> {
    type Error = EncodeError;

    fn try_from(request: &'a RefundRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            idempotency_key: xml_text("IdempotencyKey", &request.idempotency_key)?,
            transaction_id: xml_text("TransactionId", &request.external_id)?,
            amount: request.amount.minor(),
        })
    }
}

/// The operation inside `<soap:Body>`; its variant names the element.
#[derive(Serialize)]
pub enum Operation<'a> {
    #[serde(rename = "p:CreatePayment")]
    CreatePayment(CreatePayment<'a>),
    #[serde(rename = "p:GetPaymentStatus")]
    GetPaymentStatus(GetPaymentStatus<'a>),
    #[serde(rename = "p:Refund")]
    Refund(Refund<'a>),
}

impl Operation<'_> {
    /// The `SOAPAction` header value, quoted as SOAP 1.1 wants it.
    pub fn soap_action(&self) -> &'static str {
        match self {
            Self::CreatePayment(_) => "\"CreatePayment\"",
            Self::GetPaymentStatus(_) => "\"GetPaymentStatus\"",
            Self::Refund(_) => "\"Refund\"",
        }
    }
}

#[derive(Serialize)]
#[serde(rename = "soap:Envelope")]
struct RequestEnvelope<'o, 'a> {
    #[serde(rename = "@xmlns:soap")]
    soap_ns: &'static str,
    #[serde(rename = "@xmlns:p")]
    psp_ns: &'static str,
    #[serde(rename = "soap:Body")]
    body: RequestBody<'o, 'a>,
}

#[derive(Serialize)]
struct RequestBody<'o, 'a> {
    #[serde(rename = "$value")]
    operation: &'o Operation<'a>,
}

/// A whole request: the `SOAPAction` and the envelope's text.
pub struct SoapRequest {
    pub action: &'static str,
    pub xml: String,
}

impl TryFrom<&Operation<'_>> for SoapRequest {
    type Error = EncodeError;

    fn try_from(operation: &Operation<'_>) -> Result<Self, Self::Error> {
        let envelope = RequestEnvelope {
            soap_ns: SOAP_ENVELOPE_NS,
            psp_ns: PSP_NS,
            body: RequestBody { operation },
        };
        let body = quick_xml::se::to_string(&envelope).map_err(|e| EncodeError(e.to_string()))?;
        Ok(Self {
            action: operation.soap_action(),
            xml: format!("{XML_DECLARATION}{body}"),
        })
    }
}

// ---- responses ----

#[derive(Debug, Deserialize)]
struct ResponseEnvelope {
    #[serde(rename = "Body")]
    body: ResponseBody,
}

#[derive(Debug, Deserialize)]
struct ResponseBody {
    #[serde(rename = "$value")]
    content: ResponseContent,
}

/// What `<soap:Body>` may hold.
#[derive(Debug, Deserialize)]
enum ResponseContent {
    CreatePaymentResponse(PaymentAnswer),
    GetPaymentStatusResponse(PaymentAnswer),
    RefundResponse(RefundAnswer),
    Fault(Fault),
}

#[derive(Debug, Deserialize)]
struct PaymentAnswer {
    #[serde(rename = "TransactionId", default)]
    transaction_id: Option<String>,
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "ReasonCode", default)]
    reason_code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RefundAnswer {
    #[serde(rename = "RefundId", default)]
    refund_id: Option<String>,
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "ReasonCode", default)]
    reason_code: Option<String>,
}

/// A SOAP 1.1 fault (`faultcode` and `faultstring` are unqualified).
#[derive(Debug, Deserialize)]
struct Fault {
    faultcode: String,
    #[serde(default)]
    faultstring: Option<String>,
    #[serde(default)]
    detail: Option<FaultDetail>,
}

/// `<detail><p:Message>..</p:Message></detail>`: a human message, when the PSP gives one.
#[derive(Debug, Deserialize)]
struct FaultDetail {
    #[serde(rename = "Message", default)]
    message: Option<String>,
}

impl Fault {
    /// `Client` faults (and the envelope-level `VersionMismatch`, `MustUnderstand`) say our
    /// request was wrong: final. Anything else, `Server` included, may have been acted on.
    fn is_client(&self) -> bool {
        let code = self.faultcode.trim();
        let local = code.rsplit(':').next().unwrap_or(code);
        local == "Client"
            || local.starts_with("Client.")
            || local == "VersionMismatch"
            || local == "MustUnderstand"
    }

    fn code(&self) -> Option<String> {
        psp_code(self.faultstring.as_deref())
    }

    fn message(&self) -> String {
        let detail = self
            .detail
            .as_ref()
            .and_then(|d| present(d.message.as_deref()));
        psp_message(detail.or(self.faultstring.as_deref()), "soap fault")
    }

    fn describe(&self, status: u16) -> String {
        let code = psp_code(Some(&self.faultcode)).unwrap_or_else(|| "unreadable".to_owned());
        format!("soap fault {code} ({})", http_reason(status))
    }
}

fn parse(body: &[u8]) -> Option<ResponseContent> {
    let text = std::str::from_utf8(body).ok()?;
    quick_xml::de::from_str::<ResponseEnvelope>(text)
        .ok()
        .map(|envelope| envelope.body.content)
}

/// The answer to `CreatePayment`.
pub(crate) struct CreatePaymentReply(pub(crate) Reply);

impl From<CreatePaymentReply> for PaymentOutcome {
    fn from(CreatePaymentReply(reply): CreatePaymentReply) -> Self {
        let class = HttpClass::of(reply.status);
        if class == HttpClass::NotActedOn {
            return Self::Transient {
                reason: http_reason(reply.status),
            };
        }
        match (class, parse(&reply.body)) {
            // SOAP 1.1 sends every fault with HTTP 500: the fault code decides.
            (_, Some(ResponseContent::Fault(fault))) if fault.is_client() => Self::Declined {
                code: fault.code().unwrap_or_else(|| REJECTED_REQUEST.to_owned()),
                message: fault.message(),
            },
            (_, Some(ResponseContent::Fault(fault))) => Self::Ambiguous {
                reason: fault.describe(reply.status),
            },
            (HttpClass::Success, Some(ResponseContent::CreatePaymentResponse(answer))) => {
                payment_outcome(answer, reply.status)
            }
            (HttpClass::Success, _) => Self::Ambiguous {
                reason: format!(
                    "{}: unreadable CreatePaymentResponse",
                    http_reason(reply.status)
                ),
            },
            (HttpClass::Rejected, _) => Self::Declined {
                code: REJECTED_REQUEST.to_owned(),
                message: http_reason(reply.status),
            },
            _ => Self::Ambiguous {
                reason: http_reason(reply.status),
            },
        }
    }
}

fn payment_outcome(answer: PaymentAnswer, status: u16) -> PaymentOutcome {
    let id = present(answer.transaction_id.as_deref());
    match (answer.status.trim(), id) {
        ("PENDING" | "SUCCEEDED", Some(id)) => PaymentOutcome::Accepted {
            external_id: id.to_owned(),
        },
        (state @ ("DECLINED" | "FAILED"), _) => {
            let fallback = state.to_ascii_lowercase();
            PaymentOutcome::Declined {
                code: psp_code(answer.reason_code.as_deref()).unwrap_or_else(|| fallback.clone()),
                message: format!("payment {fallback} by the gateway"),
            }
        }
        _ => PaymentOutcome::Ambiguous {
            reason: format!("{}: unexpected CreatePaymentResponse", http_reason(status)),
        },
    }
}

/// The answer to `GetPaymentStatus`.
pub(crate) struct PaymentStatusReply(pub(crate) Reply);

impl From<PaymentStatusReply> for StatusOutcome {
    fn from(PaymentStatusReply(reply): PaymentStatusReply) -> Self {
        let success = HttpClass::of(reply.status) == HttpClass::Success;
        match parse(&reply.body) {
            // Only the PSP's own fault proves the attempt never reached it.
            Some(ResponseContent::Fault(fault))
                if fault.is_client()
                    && present(fault.faultstring.as_deref()) == Some("NotFound") =>
            {
                Self::NotFound
            }
            Some(ResponseContent::Fault(fault)) => Self::Unknown {
                reason: fault.describe(reply.status),
            },
            Some(ResponseContent::GetPaymentStatusResponse(answer)) if success => {
                let id = present(answer.transaction_id.as_deref()).map(str::to_owned);
                match (id, payment_state(&answer)) {
                    (Some(external_id), Some(state)) => Self::Found {
                        external_id,
                        state,
                        charged: None,
                    },
                    _ => Self::Unknown {
                        reason: format!(
                            "{}: unexpected GetPaymentStatusResponse",
                            http_reason(reply.status)
                        ),
                    },
                }
            }
            _ => Self::Unknown {
                reason: http_reason(reply.status),
            },
        }
    }
}

fn payment_state(answer: &PaymentAnswer) -> Option<PaymentState> {
    let code = |fallback: &str| {
        psp_code(answer.reason_code.as_deref()).unwrap_or_else(|| fallback.to_owned())
    };
    match answer.status.trim() {
        "PENDING" => Some(PaymentState::Pending),
        "SUCCEEDED" => Some(PaymentState::Succeeded),
        "FAILED" => Some(PaymentState::Failed {
            code: code("failed"),
        }),
        "DECLINED" => Some(PaymentState::Declined {
            code: code("declined"),
        }),
        _ => None,
    }
}

/// The answer to `Refund`.
pub(crate) struct RefundReply(pub(crate) Reply);

impl From<RefundReply> for RefundOutcome {
    fn from(RefundReply(reply): RefundReply) -> Self {
        let class = HttpClass::of(reply.status);
        if class == HttpClass::NotActedOn {
            return Self::Transient {
                reason: http_reason(reply.status),
            };
        }
        match (class, parse(&reply.body)) {
            (_, Some(ResponseContent::Fault(fault))) if fault.is_client() => Self::Rejected {
                code: fault.code().unwrap_or_else(|| REJECTED_REQUEST.to_owned()),
                message: fault.message(),
            },
            (_, Some(ResponseContent::Fault(fault))) => Self::Ambiguous {
                reason: fault.describe(reply.status),
            },
            (HttpClass::Success, Some(ResponseContent::RefundResponse(answer))) => {
                let id = present(answer.refund_id.as_deref());
                match (answer.status.trim(), id) {
                    ("PENDING" | "SUCCEEDED", Some(id)) => Self::Accepted {
                        refund_external_id: id.to_owned(),
                    },
                    (state @ ("FAILED" | "DECLINED" | "REJECTED"), _) => {
                        let fallback = state.to_ascii_lowercase();
                        Self::Rejected {
                            code: psp_code(answer.reason_code.as_deref())
                                .unwrap_or_else(|| fallback.clone()),
                            message: format!("refund {fallback} by the gateway"),
                        }
                    }
                    _ => Self::Ambiguous {
                        reason: format!("{}: unexpected RefundResponse", http_reason(reply.status)),
                    },
                }
            }
            (HttpClass::Success, _) => Self::Ambiguous {
                reason: format!("{}: unreadable RefundResponse", http_reason(reply.status)),
            },
            (HttpClass::Rejected, _) => Self::Rejected {
                code: REJECTED_REQUEST.to_owned(),
                message: http_reason(reply.status),
            },
            _ => Self::Ambiguous {
                reason: http_reason(reply.status),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paygate_domain::{Amount, Country, Currency, DepositId};
    use secrecy::SecretString;

    const DEPOSIT: &str = "0195f0a2-7c1e-7d43-9a51-3c2b8e4f6a10";

    fn request(token: Option<&str>) -> PaymentRequest {
        let deposit_id = DepositId::parse(DEPOSIT).unwrap();
        PaymentRequest {
            idempotency_key: format!("{deposit_id}:1"),
            deposit_id,
            amount: Amount::new(10099).unwrap(),
            currency: Currency::parse("AED").unwrap(),
            country: Country::parse("AE").unwrap(),
            token: token.map(|t| SecretString::from(t.to_owned())),
        }
    }

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

    fn raw(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    fn create(reply: Reply) -> PaymentOutcome {
        CreatePaymentReply(reply).into()
    }

    fn status(reply: Reply) -> StatusOutcome {
        PaymentStatusReply(reply).into()
    }

    fn refund(reply: Reply) -> RefundOutcome {
        RefundReply(reply).into()
    }

    fn soap(operation: &Operation<'_>) -> SoapRequest {
        SoapRequest::try_from(operation).unwrap()
    }

    // ---- requests ----

    #[test]
    fn create_payment_is_the_wire_envelope() {
        let req = request(Some("tok_success"));
        let op = Operation::CreatePayment(CreatePayment::try_from(&req).unwrap());
        let soap = soap(&op);
        assert_eq!(soap.action, "\"CreatePayment\"");
        assert_eq!(
            soap.xml,
            format!(
                concat!(
                    r#"<?xml version="1.0" encoding="utf-8"?>"#,
                    r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paygate:sim:psp">"#,
                    "<soap:Body><p:CreatePayment>",
                    "<p:IdempotencyKey>{d}:1</p:IdempotencyKey>",
                    "<p:Amount>10099</p:Amount><p:Currency>AED</p:Currency><p:Country>AE</p:Country>",
                    "<p:Reference>{d}</p:Reference><p:Token>tok_success</p:Token>",
                    "</p:CreatePayment></soap:Body></soap:Envelope>"
                ),
                d = DEPOSIT
            )
        );
    }

    #[test]
    fn create_payment_without_token_omits_the_element() {
        let req = request(None);
        let op = Operation::CreatePayment(CreatePayment::try_from(&req).unwrap());
        assert!(!soap(&op).xml.contains("Token"));
    }

    #[test]
    fn untrusted_values_are_escaped_not_injected() {
        let req = request(Some("</p:Token><p:Amount>1</p:Amount>&"));
        let op = Operation::CreatePayment(CreatePayment::try_from(&req).unwrap());
        let xml = soap(&op).xml;
        assert!(
            xml.contains(
                "<p:Token>&lt;/p:Token&gt;&lt;p:Amount&gt;1&lt;/p:Amount&gt;&amp;</p:Token>"
            ),
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

    #[test]
    fn status_and_refund_are_the_wire_envelopes() {
        let op = Operation::GetPaymentStatus(
            GetPaymentStatus::try_from(PaymentLookup::IdempotencyKey("dep:1")).unwrap(),
        );
        let soap_status = soap(&op);
        assert_eq!(soap_status.action, "\"GetPaymentStatus\"");
        assert!(soap_status.xml.contains(
            "<soap:Body><p:GetPaymentStatus><p:IdempotencyKey>dep:1</p:IdempotencyKey></p:GetPaymentStatus></soap:Body>"
        ));

        let req = RefundRequest {
            idempotency_key: "dep:refund:r1".into(),
            external_id: "txn_1".into(),
            amount: Amount::new(500).unwrap(),
        };
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
        assert!(
            matches!(outcome, PaymentOutcome::Declined { code, .. } if code == "card_declined")
        );
    }

    #[test]
    fn declined_without_a_reason_code_is_declined() {
        let outcome = create(envelope(
            "<p:CreatePaymentResponse><p:TransactionId/><p:Status>DECLINED</p:Status><p:ReasonCode/></p:CreatePaymentResponse>",
        ));
        assert!(matches!(outcome, PaymentOutcome::Declined { code, .. } if code == "declined"));
    }

    #[test]
    fn client_fault_is_final_with_the_psp_code() {
        for status in [400, 500] {
            let outcome = create(fault(status, "soap:Client", "InvalidAmount"));
            assert!(
                matches!(&outcome, PaymentOutcome::Declined { code, .. } if code == "InvalidAmount"),
                "{status}: {outcome:?}"
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
        assert!(matches!(outcome, PaymentOutcome::Ambiguous { .. }));
        let outcome = create(fault(500, "env:Receiver", "x"));
        assert!(matches!(outcome, PaymentOutcome::Ambiguous { .. }));
    }

    #[test]
    fn unavailable_503_and_throttled_429_are_transient_even_with_a_fault() {
        assert!(matches!(
            create(raw(503, "")),
            PaymentOutcome::Transient { .. }
        ));
        assert!(matches!(
            create(raw(429, "")),
            PaymentOutcome::Transient { .. }
        ));
        let outcome = create(fault(503, "soap:Server", "Down"));
        assert!(matches!(outcome, PaymentOutcome::Transient { .. }));
    }

    #[test]
    fn server_errors_without_a_fault_are_ambiguous() {
        for code in [500, 502, 504] {
            assert!(
                matches!(
                    create(raw(code, "<html/>")),
                    PaymentOutcome::Ambiguous { .. }
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn client_error_without_a_fault_is_final() {
        let outcome = create(raw(400, "bad"));
        assert!(
            matches!(outcome, PaymentOutcome::Declined { code, .. } if code == REJECTED_REQUEST)
        );
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
            assert!(
                matches!(create(raw(200, body)), PaymentOutcome::Ambiguous { .. }),
                "{body}"
            );
        }
        for body in [
            "<p:CreatePaymentResponse><p:Status>PENDING</p:Status></p:CreatePaymentResponse>",
            "<p:CreatePaymentResponse><p:TransactionId>t</p:TransactionId><p:Status>MAYBE</p:Status></p:CreatePaymentResponse>",
            "<p:RefundResponse><p:RefundId>rf</p:RefundId><p:Status>PENDING</p:Status></p:RefundResponse>",
        ] {
            assert!(
                matches!(create(envelope(body)), PaymentOutcome::Ambiguous { .. }),
                "{body}"
            );
        }
        assert!(matches!(
            create(Reply {
                status: 200,
                body: vec![0xff, 0xfe, 0x00]
            }),
            PaymentOutcome::Ambiguous { .. }
        ));
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
    fn not_found_fault_is_not_found_whatever_the_http_status() {
        for code in [200, 404, 500] {
            assert_eq!(
                status(fault(code, "soap:Client", "NotFound")),
                StatusOutcome::NotFound
            );
        }
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
            assert!(matches!(status(reply), StatusOutcome::Unknown { .. }));
        }
    }

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
        assert!(
            matches!(outcome, RefundOutcome::Rejected { code, .. } if code == "RefundExceedsPayment")
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
        assert!(matches!(
            refund(raw(503, "")),
            RefundOutcome::Transient { .. }
        ));
        assert!(matches!(
            refund(fault(500, "soap:Server", "x")),
            RefundOutcome::Ambiguous { .. }
        ));
        assert!(matches!(
            refund(raw(502, "")),
            RefundOutcome::Ambiguous { .. }
        ));
        assert!(matches!(
            refund(raw(200, "<x/>")),
            RefundOutcome::Ambiguous { .. }
        ));
    }
}
