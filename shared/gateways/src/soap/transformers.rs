//! Between the domain's gateway types and the SOAP PSP's (WIRE.md, format `soap`).
//!
//! Envelopes are written and read with quick-xml's serde support, which escapes every text
//! value it writes and expands no external entities when reading. Element names are
//! matched by local name: the PSP may pick any namespace prefixes.

mod replies;

pub(crate) use replies::{
    CreatePaymentReply, CreatePayoutReply, PaymentStatusReply, PayoutStatusReply, RefundReply,
    RefundStatusReply,
};

use paygate_domain::ports::gateway::{PaymentRequest, RefundRequest};
use secrecy::ExposeSecret;
use serde::Serialize;

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

/// A status call (`$call`), asking by the PSP's id (`$field`, element `$element`, named
/// `$name` when it cannot be encoded) or by idempotency key, and the lookup (`$lookup`)
/// it is made from.
macro_rules! status_call {
    (
        $(#[$call_doc:meta])* $call:ident,
        $(#[$lookup_doc:meta])* $lookup:ident::$by_id:ident,
        $field:ident: $element:literal / $name:literal
    ) => {
        $(#[$call_doc])*
        #[derive(Debug, Serialize)]
        pub struct $call<'a> {
            #[serde(rename = "p:IdempotencyKey", skip_serializing_if = "Option::is_none")]
            pub idempotency_key: Option<&'a str>,
            #[serde(rename = $element, skip_serializing_if = "Option::is_none")]
            pub $field: Option<&'a str>,
        }

        $(#[$lookup_doc])*
        #[derive(Debug, Clone, Copy)]
        pub enum $lookup<'a> {
            IdempotencyKey(&'a str),
            $by_id(&'a str),
        }

        impl<'a> TryFrom<$lookup<'a>> for $call<'a> {
            type Error = EncodeError;

            fn try_from(lookup: $lookup<'a>) -> Result<Self, Self::Error> {
                Ok(match lookup {
                    $lookup::IdempotencyKey(key) => Self {
                        idempotency_key: Some(xml_text("IdempotencyKey", key)?),
                        $field: None,
                    },
                    $lookup::$by_id(id) => Self {
                        idempotency_key: None,
                        $field: Some(xml_text($name, id)?),
                    },
                })
            }
        }
    };
}

/// What `<p:CreatePayment>` and `<p:CreatePayout>` both carry, after the idempotency key:
/// the money, the country, and our reference (the deposit's or the payout's id).
#[derive(Serialize)]
pub struct Order {
    #[serde(rename = "p:Amount")]
    pub amount: u64,
    #[serde(rename = "p:Currency")]
    pub currency: &'static str,
    #[serde(rename = "p:Country")]
    pub country: &'static str,
    #[serde(rename = "p:Reference")]
    pub reference: String,
}

impl From<&PaymentRequest> for Order {
    fn from(request: &PaymentRequest) -> Self {
        Self {
            amount: request.amount.minor(),
            currency: request.currency.code(),
            country: request.country.code(),
            reference: request.deposit_id.to_string(),
        }
    }
}

/// The request's token, checked for XML (`field` names it in the error).
fn token<'a>(request: &'a PaymentRequest, field: &str) -> Result<Option<&'a str>, EncodeError> {
    request
        .token
        .as_ref()
        .map(|t| xml_text(field, t.expose_secret()))
        .transpose()
}

/// `<p:CreatePayment>`. Holds the exposed token, so it has no `Debug` and lives only until
/// it is serialised.
#[derive(Serialize)]
pub struct CreatePayment<'a> {
    #[serde(rename = "p:IdempotencyKey")]
    pub idempotency_key: &'a str,
    #[serde(flatten)]
    pub order: Order,
    #[serde(rename = "p:Token", skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
}

impl<'a> TryFrom<&'a PaymentRequest> for CreatePayment<'a> {
    type Error = EncodeError;

    fn try_from(request: &'a PaymentRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            idempotency_key: xml_text("IdempotencyKey", &request.idempotency_key)?,
            order: request.into(),
            token: token(request, "Token")?,
        })
    }
}

status_call! {
    /// `<p:GetPaymentStatus>` by transaction id (when known) or by idempotency key.
    GetPaymentStatus,
    /// Which payment a status call asks about.
    PaymentLookup::TransactionId,
    transaction_id: "p:TransactionId" / "TransactionId"
}

/// `<p:CreatePayout>`: a payment request the other way, its token the destination's.
/// Holds the exposed token, so it has no `Debug` and lives only until it is serialised.
#[derive(Serialize)]
pub struct CreatePayout<'a> {
    #[serde(rename = "p:IdempotencyKey")]
    pub idempotency_key: &'a str,
    #[serde(flatten)]
    pub order: Order,
    #[serde(rename = "p:Destination", skip_serializing_if = "Option::is_none")]
    pub destination: Option<&'a str>,
}

impl<'a> TryFrom<&'a PaymentRequest> for CreatePayout<'a> {
    type Error = EncodeError;

    fn try_from(request: &'a PaymentRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            idempotency_key: xml_text("IdempotencyKey", &request.idempotency_key)?,
            order: request.into(),
            destination: token(request, "Destination")?,
        })
    }
}

status_call! {
    /// `<p:GetPayoutStatus>` by payout id (when known) or by idempotency key.
    GetPayoutStatus,
    /// Which payout a status call asks about.
    PayoutLookup::PayoutId,
    payout_id: "p:PayoutId" / "PayoutId"
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

status_call! {
    /// `<p:GetRefundStatus>` by refund id (when known) or by the refund's idempotency key.
    GetRefundStatus,
    /// Which refund a status call asks about.
    RefundLookup::RefundId,
    refund_id: "p:RefundId" / "RefundId"
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
    #[serde(rename = "p:GetRefundStatus")]
    GetRefundStatus(GetRefundStatus<'a>),
    #[serde(rename = "p:CreatePayout")]
    CreatePayout(CreatePayout<'a>),
    #[serde(rename = "p:GetPayoutStatus")]
    GetPayoutStatus(GetPayoutStatus<'a>),
}

impl Operation<'_> {
    /// The `SOAPAction` header value, quoted as SOAP 1.1 wants it.
    pub fn soap_action(&self) -> &'static str {
        match self {
            Self::CreatePayment(_) => "\"CreatePayment\"",
            Self::GetPaymentStatus(_) => "\"GetPaymentStatus\"",
            Self::Refund(_) => "\"Refund\"",
            Self::GetRefundStatus(_) => "\"GetRefundStatus\"",
            Self::CreatePayout(_) => "\"CreatePayout\"",
            Self::GetPayoutStatus(_) => "\"GetPayoutStatus\"",
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

#[cfg(test)]
mod tests;
