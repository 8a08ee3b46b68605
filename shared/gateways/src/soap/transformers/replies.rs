//! Reading the SOAP PSP's answers into the domain's outcomes.
//!
//! The HTTP status speaks first, as for JSON (the table in [`crate::connector`]). SOAP 1.1
//! sends every fault with HTTP 500, so only on 2xx, 500 and the final 4xx does the
//! body (a `soap:Client` fault: final; a `soap:Server` fault: maybe acted on) decide. A
//! fault on 409, 429, 503 or 502 never turns a "nothing was done" or a "may have acted"
//! into a decline or a rejection.

use crate::classify::{HttpClass, REJECTED_REQUEST, http_reason, present, psp_code, psp_message};
use crate::transport::Reply;
use paygate_domain::ports::gateway::{
    PaymentOutcome, PaymentState, RefundOutcome, RefundSettlement, RefundStatusOutcome,
    StatusOutcome,
};
use paygate_domain::{Amount, Currency, Money};
use serde::Deserialize;

/// What an HTTP status leaves to a SOAP answer's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SoapHttp {
    /// 2xx: the response element (or a fault) decides.
    Success,
    /// 500, SOAP 1.1's fault status: a `soap:Client` fault is final, anything else may
    /// have been acted on.
    Fault,
    /// A final 4xx (400, 402, 410, 422 …): refused unless a `soap:Server` fault says
    /// the PSP failed (then it may have acted).
    Rejected,
    /// 404: an endpoint that is not there did nothing; a `soap:Client` fault is the
    /// PSP's own "no such payment / refund".
    NotThere,
    /// 503, 429, 401, 403, 405, 408: nothing was done, whatever the body says.
    NotActedOn,
    /// 409 (same key in flight), 5xx but 500 and 503, 1xx, 3xx: it may have acted,
    /// whatever the body says.
    Unknown,
}

impl SoapHttp {
    fn of(status: u16) -> Self {
        match (HttpClass::of(status), status) {
            (_, 404) => Self::NotThere,
            (_, 500) => Self::Fault,
            (HttpClass::Success, _) => Self::Success,
            (HttpClass::Rejected, _) => Self::Rejected,
            (HttpClass::NotActedOn, _) => Self::NotActedOn,
            (HttpClass::Unknown, _) => Self::Unknown,
        }
    }
}

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
    CreatePaymentResponse(MovementAnswer),
    GetPaymentStatusResponse(MovementAnswer),
    RefundResponse(RefundAnswer),
    GetRefundStatusResponse(RefundAnswer),
    CreatePayoutResponse(MovementAnswer),
    GetPayoutStatusResponse(MovementAnswer),
    Fault(Fault),
}

/// A payment's or a payout's answer: the same fields, but for the element that carries the
/// PSP's id (`TransactionId` / `PayoutId`, read by [`Movement::id`]).
#[derive(Debug, Deserialize)]
struct MovementAnswer {
    #[serde(rename = "TransactionId", default)]
    transaction_id: Option<String>,
    #[serde(rename = "PayoutId", default)]
    payout_id: Option<String>,
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "ReasonCode", default)]
    reason_code: Option<String>,
    /// Text, not a number: an empty `<p:Amount/>` means "not said", not a broken answer.
    #[serde(rename = "Amount", default)]
    amount: Option<String>,
    #[serde(rename = "Currency", default)]
    currency: Option<String>,
}

impl MovementAnswer {
    /// What moved, when the PSP said so in a form we can read.
    fn charged(&self) -> Option<Money> {
        let amount = present(self.amount.as_deref())?.parse::<u64>().ok()?;
        Some(Money {
            amount: Amount::new(amount).ok()?,
            currency: Currency::parse(present(self.currency.as_deref())?).ok()?,
        })
    }
}

/// Which way the money goes, and so which words its answers use: a payout `PAID` is a
/// payment `SUCCEEDED`, `REJECTED` is `DECLINED`. Classified alike otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Movement {
    Payment,
    Payout,
}

impl Movement {
    fn what(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Payout => "payout",
        }
    }

    fn create_response(self) -> &'static str {
        match self {
            Self::Payment => "CreatePaymentResponse",
            Self::Payout => "CreatePayoutResponse",
        }
    }

    fn status_response(self) -> &'static str {
        match self {
            Self::Payment => "GetPaymentStatusResponse",
            Self::Payout => "GetPayoutStatusResponse",
        }
    }

    /// The PSP's id, from this movement's own element.
    fn id(self, answer: &MovementAnswer) -> Option<&str> {
        present(match self {
            Self::Payment => answer.transaction_id.as_deref(),
            Self::Payout => answer.payout_id.as_deref(),
        })
    }

    /// The state its `Status` names (`None`: a word this movement does not use).
    fn state(self, answer: &MovementAnswer) -> Option<PaymentState> {
        let code = |fallback: &str| {
            psp_code(answer.reason_code.as_deref()).unwrap_or_else(|| fallback.to_owned())
        };
        match (self, answer.status.trim()) {
            (_, "PENDING") => Some(PaymentState::Pending),
            (Self::Payment, "SUCCEEDED") | (Self::Payout, "PAID") => Some(PaymentState::Succeeded),
            (_, "FAILED") => Some(PaymentState::Failed {
                code: code("failed"),
            }),
            (Self::Payment, "DECLINED") => Some(PaymentState::Declined {
                code: code("declined"),
            }),
            (Self::Payout, "REJECTED") => Some(PaymentState::Declined {
                code: code("rejected"),
            }),
            _ => None,
        }
    }

    /// This movement's create answer, if that is what the body holds.
    fn created(self, content: ResponseContent) -> Option<MovementAnswer> {
        match (self, content) {
            (Self::Payment, ResponseContent::CreatePaymentResponse(answer))
            | (Self::Payout, ResponseContent::CreatePayoutResponse(answer)) => Some(answer),
            _ => None,
        }
    }

    /// This movement's status answer, if that is what the body holds.
    fn found(self, content: ResponseContent) -> Option<MovementAnswer> {
        match (self, content) {
            (Self::Payment, ResponseContent::GetPaymentStatusResponse(answer))
            | (Self::Payout, ResponseContent::GetPayoutStatusResponse(answer)) => Some(answer),
            _ => None,
        }
    }
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
    /// request was wrong. Anything else, `Server` included, may have been acted on.
    fn is_client(&self) -> bool {
        let code = self.faultcode.trim();
        let local = code.rsplit(':').next().unwrap_or(code);
        local == "Client"
            || local.starts_with("Client.")
            || local == "VersionMismatch"
            || local == "MustUnderstand"
    }

    /// The PSP's own "no such payment / refund".
    fn is_not_found(&self) -> bool {
        self.is_client() && present(self.faultstring.as_deref()) == Some("NotFound")
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

/// The answer to `CreatePayment` or `CreatePayout`.
fn created(reply: &Reply, movement: Movement) -> PaymentOutcome {
    let status = reply.status;
    let class = match SoapHttp::of(status) {
        // One endpoint: a 404 is a wrong URL, whatever its body.
        SoapHttp::NotActedOn | SoapHttp::NotThere => {
            return PaymentOutcome::Transient {
                reason: http_reason(status),
            };
        }
        SoapHttp::Unknown => return ambiguous_payment(reply),
        class => class,
    };
    match (class, parse(&reply.body)) {
        (_, Some(ResponseContent::Fault(fault))) if fault.is_client() => PaymentOutcome::Declined {
            code: fault.code().unwrap_or_else(|| REJECTED_REQUEST.to_owned()),
            message: fault.message(),
        },
        (_, Some(ResponseContent::Fault(fault))) => PaymentOutcome::Ambiguous {
            reason: fault.describe(status),
        },
        (SoapHttp::Success, content) => match content.and_then(|c| movement.created(c)) {
            Some(answer) => movement_outcome(movement, &answer, status),
            None => PaymentOutcome::Ambiguous {
                reason: format!(
                    "{}: unreadable {}",
                    http_reason(status),
                    movement.create_response()
                ),
            },
        },
        (SoapHttp::Rejected, _) => PaymentOutcome::Declined {
            code: REJECTED_REQUEST.to_owned(),
            message: http_reason(status),
        },
        _ => PaymentOutcome::Ambiguous {
            reason: http_reason(status),
        },
    }
}

/// The answer to `CreatePayment`.
pub(crate) struct CreatePaymentReply(pub(crate) Reply);

impl From<CreatePaymentReply> for PaymentOutcome {
    fn from(CreatePaymentReply(reply): CreatePaymentReply) -> Self {
        created(&reply, Movement::Payment)
    }
}

/// The answer to `CreatePayout`: `REJECTED` is a final `Declined`.
pub(crate) struct CreatePayoutReply(pub(crate) Reply);

impl From<CreatePayoutReply> for PaymentOutcome {
    fn from(CreatePayoutReply(reply): CreatePayoutReply) -> Self {
        created(&reply, Movement::Payout)
    }
}

/// The reason names the fault when there is one, for the logs; the outcome is the same.
fn ambiguous_payment(reply: &Reply) -> PaymentOutcome {
    PaymentOutcome::Ambiguous {
        reason: reason(reply),
    }
}

fn reason(reply: &Reply) -> String {
    match parse(&reply.body) {
        Some(ResponseContent::Fault(fault)) => fault.describe(reply.status),
        _ => http_reason(reply.status),
    }
}

fn movement_outcome(movement: Movement, answer: &MovementAnswer, status: u16) -> PaymentOutcome {
    match (movement.state(answer), movement.id(answer)) {
        (Some(PaymentState::Pending | PaymentState::Succeeded), Some(id)) => {
            PaymentOutcome::Accepted {
                external_id: id.to_owned(),
            }
        }
        (Some(PaymentState::Failed { code } | PaymentState::Declined { code }), _) => {
            PaymentOutcome::Declined {
                code,
                message: format!(
                    "{} {} by the gateway",
                    movement.what(),
                    answer.status.trim().to_ascii_lowercase()
                ),
            }
        }
        _ => PaymentOutcome::Ambiguous {
            reason: format!(
                "{}: unexpected {}",
                http_reason(status),
                movement.create_response()
            ),
        },
    }
}

/// A lookup's answer: the PSP's own `NotFound` fault (on 2xx, 404 or 500) is `NotFound`;
/// the response element (on 2xx) is found; anything else is unknown.
enum Lookup {
    Found(ResponseContent),
    NotFound,
    Unknown(String),
}

fn lookup(reply: &Reply) -> Lookup {
    let class = SoapHttp::of(reply.status);
    if !matches!(
        class,
        SoapHttp::Success | SoapHttp::Fault | SoapHttp::NotThere
    ) {
        return Lookup::Unknown(reason(reply));
    }
    match parse(&reply.body) {
        Some(ResponseContent::Fault(fault)) if fault.is_not_found() => Lookup::NotFound,
        Some(ResponseContent::Fault(fault)) => Lookup::Unknown(fault.describe(reply.status)),
        Some(content) if class == SoapHttp::Success => Lookup::Found(content),
        _ => Lookup::Unknown(http_reason(reply.status)),
    }
}

/// The answer to `GetPaymentStatus` or `GetPayoutStatus`.
fn found(reply: &Reply, movement: Movement) -> StatusOutcome {
    let unexpected = || StatusOutcome::Unknown {
        reason: format!(
            "{}: unexpected {}",
            http_reason(reply.status),
            movement.status_response()
        ),
    };
    match lookup(reply) {
        Lookup::Found(content) => {
            let Some(answer) = movement.found(content) else {
                return unexpected();
            };
            match (movement.id(&answer), movement.state(&answer)) {
                (Some(id), Some(state)) => StatusOutcome::Found {
                    external_id: id.to_owned(),
                    state,
                    charged: answer.charged(),
                },
                _ => unexpected(),
            }
        }
        Lookup::NotFound => StatusOutcome::NotFound,
        Lookup::Unknown(reason) => StatusOutcome::Unknown { reason },
    }
}

/// The answer to `GetPaymentStatus`.
pub(crate) struct PaymentStatusReply(pub(crate) Reply);

impl From<PaymentStatusReply> for StatusOutcome {
    fn from(PaymentStatusReply(reply): PaymentStatusReply) -> Self {
        found(&reply, Movement::Payment)
    }
}

/// The answer to `GetPayoutStatus`.
pub(crate) struct PayoutStatusReply(pub(crate) Reply);

impl From<PayoutStatusReply> for StatusOutcome {
    fn from(PayoutStatusReply(reply): PayoutStatusReply) -> Self {
        found(&reply, Movement::Payout)
    }
}

/// The answer to `GetRefundStatus`.
pub(crate) struct RefundStatusReply(pub(crate) Reply);

impl From<RefundStatusReply> for RefundStatusOutcome {
    fn from(RefundStatusReply(reply): RefundStatusReply) -> Self {
        let unexpected = || Self::Unknown {
            reason: format!(
                "{}: unexpected GetRefundStatusResponse",
                http_reason(reply.status)
            ),
        };
        match lookup(&reply) {
            Lookup::Found(ResponseContent::GetRefundStatusResponse(answer)) => {
                let code = || {
                    psp_code(answer.reason_code.as_deref()).unwrap_or_else(|| "failed".to_owned())
                };
                let state = match answer.status.trim() {
                    "PENDING" => RefundSettlement::Pending,
                    "SUCCEEDED" => RefundSettlement::Succeeded,
                    "FAILED" => RefundSettlement::Failed { code: code() },
                    _ => return unexpected(),
                };
                match present(answer.refund_id.as_deref()) {
                    Some(id) => Self::Found {
                        refund_external_id: id.to_owned(),
                        state,
                    },
                    None => unexpected(),
                }
            }
            Lookup::Found(_) => unexpected(),
            Lookup::NotFound => Self::NotFound,
            Lookup::Unknown(reason) => Self::Unknown { reason },
        }
    }
}

/// The answer to `Refund`.
pub(crate) struct RefundReply(pub(crate) Reply);

impl From<RefundReply> for RefundOutcome {
    fn from(RefundReply(reply): RefundReply) -> Self {
        let status = reply.status;
        let class = match SoapHttp::of(status) {
            SoapHttp::NotActedOn => {
                return Self::Transient {
                    reason: http_reason(status),
                };
            }
            SoapHttp::Unknown => {
                return Self::Ambiguous {
                    reason: reason(&reply),
                };
            }
            class => class,
        };
        match (class, parse(&reply.body)) {
            // On 404 too: a client fault is the PSP's own "no such payment", final.
            (_, Some(ResponseContent::Fault(fault))) if fault.is_client() => Self::Rejected {
                code: fault.code().unwrap_or_else(|| REJECTED_REQUEST.to_owned()),
                message: fault.message(),
            },
            (SoapHttp::NotThere, _) => Self::Transient {
                reason: http_reason(status),
            },
            (_, Some(ResponseContent::Fault(fault))) => Self::Ambiguous {
                reason: fault.describe(status),
            },
            (SoapHttp::Success, Some(ResponseContent::RefundResponse(answer))) => {
                refund_outcome(answer, status)
            }
            (SoapHttp::Success, _) => Self::Ambiguous {
                reason: format!("{}: unreadable RefundResponse", http_reason(status)),
            },
            (SoapHttp::Rejected, _) => Self::Rejected {
                code: REJECTED_REQUEST.to_owned(),
                message: http_reason(status),
            },
            _ => Self::Ambiguous {
                reason: http_reason(status),
            },
        }
    }
}

fn refund_outcome(answer: RefundAnswer, status: u16) -> RefundOutcome {
    let id = present(answer.refund_id.as_deref());
    match (answer.status.trim(), id) {
        ("PENDING" | "SUCCEEDED", Some(id)) => RefundOutcome::Accepted {
            refund_external_id: id.to_owned(),
        },
        (state @ ("FAILED" | "DECLINED" | "REJECTED"), _) => {
            let fallback = state.to_ascii_lowercase();
            RefundOutcome::Rejected {
                code: psp_code(answer.reason_code.as_deref()).unwrap_or_else(|| fallback.clone()),
                message: format!("refund {fallback} by the gateway"),
            }
        }
        _ => RefundOutcome::Ambiguous {
            reason: format!("{}: unexpected RefundResponse", http_reason(status)),
        },
    }
}
