//! Between the domain's gateway types and the JSON PSP's (WIRE.md, format `json`).

use crate::classify::{HttpClass, REJECTED_REQUEST, http_reason, present, psp_code, psp_message};
use crate::transport::Reply;
use paygate_domain::ports::gateway::{
    PaymentOutcome, PaymentRequest, PaymentState, RefundOutcome, RefundRequest, StatusOutcome,
};
use paygate_domain::{Amount, Currency, Money};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

// ---- requests ----

/// `POST /v1/payments`. Holds the exposed token, so it has no `Debug` and lives only
/// until it is serialised.
#[derive(Serialize)]
pub struct JsonPaymentRequest<'a> {
    pub amount: u64,
    pub currency: &'static str,
    pub country: &'static str,
    pub reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
}

impl<'a> From<&'a PaymentRequest> for JsonPaymentRequest<'a> {
    fn from(request: &'a PaymentRequest) -> Self {
        Self {
            amount: request.amount.minor(),
            currency: request.currency.code(),
            country: request.country.code(),
            reference: request.deposit_id.to_string(),
            token: request.token.as_ref().map(|t| t.expose_secret()),
        }
    }
}

/// `POST /v1/refunds`.
#[derive(Debug, Serialize)]
pub struct JsonRefundRequest<'a> {
    pub payment_id: &'a str,
    pub amount: u64,
}

impl<'a> From<&'a RefundRequest> for JsonRefundRequest<'a> {
    fn from(request: &'a RefundRequest) -> Self {
        Self {
            payment_id: &request.external_id,
            amount: request.amount.minor(),
        }
    }
}

// ---- responses ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonPaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Declined,
}

/// A payment as the PSP shows it (create and status answers).
#[derive(Debug, Deserialize)]
pub struct JsonPayment {
    pub id: String,
    pub status: JsonPaymentStatus,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub amount: Option<u64>,
    #[serde(default)]
    pub currency: Option<String>,
}

impl JsonPayment {
    /// What the payment is for, when the PSP said so in a form we can read.
    fn charged(&self) -> Option<Money> {
        Some(Money {
            amount: Amount::new(self.amount?).ok()?,
            currency: Currency::parse(self.currency.as_deref()?.trim()).ok()?,
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct JsonRefund {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub failure_code: Option<String>,
}

/// `{"error":{"code":..,"message":..}}`.
#[derive(Debug, Deserialize)]
pub struct JsonErrorBody {
    pub error: JsonError,
}

#[derive(Debug, Deserialize)]
pub struct JsonError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl JsonErrorBody {
    fn parse(body: &[u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }
}

/// A JSON value with a non-blank `id`, or nothing.
fn parse_with_id<T: for<'de> Deserialize<'de>>(body: &[u8], id: impl Fn(&T) -> &str) -> Option<T> {
    serde_json::from_slice::<T>(body)
        .ok()
        .filter(|value| present(Some(id(value))).is_some())
}

/// The answer to `POST /v1/payments`.
pub(crate) struct CreatePaymentReply(pub(crate) Reply);

impl From<CreatePaymentReply> for PaymentOutcome {
    fn from(CreatePaymentReply(reply): CreatePaymentReply) -> Self {
        match HttpClass::of(reply.status) {
            HttpClass::Success => match parse_with_id::<JsonPayment>(&reply.body, |p| &p.id) {
                Some(payment) => match payment.status {
                    JsonPaymentStatus::Pending | JsonPaymentStatus::Succeeded => Self::Accepted {
                        external_id: payment.id.trim().to_owned(),
                    },
                    JsonPaymentStatus::Declined | JsonPaymentStatus::Failed => {
                        let fallback = if payment.status == JsonPaymentStatus::Failed {
                            "failed"
                        } else {
                            "declined"
                        };
                        Self::Declined {
                            code: psp_code(payment.failure_code.as_deref())
                                .unwrap_or_else(|| fallback.to_owned()),
                            message: format!("payment {fallback} by the gateway"),
                        }
                    }
                },
                // It answered success but we cannot tell what it did: it may have charged.
                None => Self::Ambiguous {
                    reason: format!("{}: unreadable payment body", http_reason(reply.status)),
                },
            },
            HttpClass::NotActedOn => Self::Transient {
                reason: http_reason(reply.status),
            },
            HttpClass::Rejected => {
                // 402 is the payer's decline; any other 4xx is our request refused. Both
                // are final; the PSP's code tells which.
                let error = JsonErrorBody::parse(&reply.body).map(|b| b.error);
                let fallback = if reply.status == 402 {
                    "declined"
                } else {
                    REJECTED_REQUEST
                };
                let code = error.as_ref().and_then(|e| psp_code(e.code.as_deref()));
                Self::Declined {
                    code: code.unwrap_or_else(|| fallback.to_owned()),
                    message: psp_message(
                        error.as_ref().and_then(|e| e.message.as_deref()),
                        &http_reason(reply.status),
                    ),
                }
            }
            HttpClass::Unknown => Self::Ambiguous {
                reason: http_reason(reply.status),
            },
        }
    }
}

/// The answer to `GET /v1/payments/{id}` or `GET /v1/payments?idempotency_key=..`.
pub(crate) struct PaymentStatusReply(pub(crate) Reply);

impl From<PaymentStatusReply> for StatusOutcome {
    fn from(PaymentStatusReply(reply): PaymentStatusReply) -> Self {
        match reply.status {
            200..=299 => match parse_with_id::<JsonPayment>(&reply.body, |p| &p.id) {
                Some(payment) => Self::Found {
                    external_id: payment.id.trim().to_owned(),
                    state: payment_state(payment.status, payment.failure_code.as_deref()),
                    charged: payment.charged(),
                },
                None => Self::Unknown {
                    reason: format!("{}: unreadable payment body", http_reason(reply.status)),
                },
            },
            // Only the PSP's own "not found" proves the attempt never reached it.
            404 if is_not_found(&reply.body) => Self::NotFound,
            status => Self::Unknown {
                reason: http_reason(status),
            },
        }
    }
}

fn is_not_found(body: &[u8]) -> bool {
    JsonErrorBody::parse(body)
        .is_some_and(|b| present(b.error.code.as_deref()) == Some("not_found"))
}

fn payment_state(status: JsonPaymentStatus, failure_code: Option<&str>) -> PaymentState {
    match status {
        JsonPaymentStatus::Pending => PaymentState::Pending,
        JsonPaymentStatus::Succeeded => PaymentState::Succeeded,
        JsonPaymentStatus::Failed => PaymentState::Failed {
            code: psp_code(failure_code).unwrap_or_else(|| "failed".to_owned()),
        },
        JsonPaymentStatus::Declined => PaymentState::Declined {
            code: psp_code(failure_code).unwrap_or_else(|| "declined".to_owned()),
        },
    }
}

/// The answer to `POST /v1/refunds`.
pub(crate) struct RefundReply(pub(crate) Reply);

impl From<RefundReply> for RefundOutcome {
    fn from(RefundReply(reply): RefundReply) -> Self {
        // A 404 with the PSP's own error is its answer (no such payment): final. A bare 404
        // is a wrong URL: nothing was done.
        let class = match HttpClass::of(reply.status) {
            HttpClass::NotActedOn
                if reply.status == 404 && JsonErrorBody::parse(&reply.body).is_some() =>
            {
                HttpClass::Rejected
            }
            class => class,
        };
        match class {
            HttpClass::Success => match parse_with_id::<JsonRefund>(&reply.body, |r| &r.id) {
                Some(refund) => match present(refund.status.as_deref()) {
                    Some(status @ ("failed" | "declined")) => Self::Rejected {
                        code: psp_code(refund.failure_code.as_deref())
                            .unwrap_or_else(|| status.to_owned()),
                        message: format!("refund {status} by the gateway"),
                    },
                    _ => Self::Accepted {
                        refund_external_id: refund.id.trim().to_owned(),
                    },
                },
                None => Self::Ambiguous {
                    reason: format!("{}: unreadable refund body", http_reason(reply.status)),
                },
            },
            HttpClass::NotActedOn => Self::Transient {
                reason: http_reason(reply.status),
            },
            HttpClass::Rejected => {
                let error = JsonErrorBody::parse(&reply.body).map(|b| b.error);
                Self::Rejected {
                    code: error
                        .as_ref()
                        .and_then(|e| psp_code(e.code.as_deref()))
                        .unwrap_or_else(|| REJECTED_REQUEST.to_owned()),
                    message: psp_message(
                        error.as_ref().and_then(|e| e.message.as_deref()),
                        &http_reason(reply.status),
                    ),
                }
            }
            HttpClass::Unknown => Self::Ambiguous {
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
    use serde_json::json;

    fn request(token: Option<&str>) -> PaymentRequest {
        let deposit_id = DepositId::parse("0195f0a2-7c1e-7d43-9a51-3c2b8e4f6a10").unwrap();
        PaymentRequest {
            idempotency_key: format!("{deposit_id}:1"),
            deposit_id,
            amount: Amount::new(10099).unwrap(),
            currency: Currency::parse("AED").unwrap(),
            country: Country::parse("AE").unwrap(),
            token: token.map(|t| SecretString::from(t.to_owned())),
        }
    }

    fn reply(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            body: serde_json::to_vec(&body).unwrap(),
        }
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

    // ---- requests ----

    #[test]
    fn payment_request_is_the_wire_body() {
        let req = request(Some("tok_success"));
        let body = serde_json::to_value(JsonPaymentRequest::from(&req)).unwrap();
        assert_eq!(
            body,
            json!({
                "amount": 10099,
                "currency": "AED",
                "country": "AE",
                "reference": "0195f0a2-7c1e-7d43-9a51-3c2b8e4f6a10",
                "token": "tok_success"
            })
        );
    }

    #[test]
    fn payment_request_without_token_omits_it() {
        let req = request(None);
        let body = serde_json::to_value(JsonPaymentRequest::from(&req)).unwrap();
        assert!(body.get("token").is_none());
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
        let req = RefundRequest {
            idempotency_key: "dep:refund:r1".into(),
            external_id: "pay_abc".into(),
            amount: Amount::new(500).unwrap(),
        };
        let body = serde_json::to_value(JsonRefundRequest::from(&req)).unwrap();
        assert_eq!(body, json!({"payment_id": "pay_abc", "amount": 500}));
    }

    // ---- create payment ----

    #[test]
    fn created_pending_is_accepted_with_the_psp_id() {
        let outcome = create(reply(
            201,
            json!({"id":"pay_1","status":"pending","amount":10099,"currency":"AED","reference":"d"}),
        ));
        assert_eq!(
            outcome,
            PaymentOutcome::Accepted {
                external_id: "pay_1".into()
            }
        );
    }

    #[test]
    fn created_already_succeeded_is_accepted() {
        let outcome = create(reply(200, json!({"id":"pay_1","status":"succeeded"})));
        assert_eq!(
            outcome,
            PaymentOutcome::Accepted {
                external_id: "pay_1".into()
            }
        );
    }

    #[test]
    fn created_but_declined_in_body_is_declined_with_its_code() {
        let outcome = create(reply(
            201,
            json!({"id":"pay_1","status":"declined","failure_code":"do_not_honor"}),
        ));
        assert!(matches!(outcome, PaymentOutcome::Declined { code, .. } if code == "do_not_honor"));
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
    fn payment_required_402_without_a_body_is_still_declined() {
        let outcome = create(raw(402, "oops"));
        assert!(matches!(outcome, PaymentOutcome::Declined { code, .. } if code == "declined"));
    }

    #[test]
    fn bad_request_400_is_final_with_the_psp_code() {
        let outcome = create(reply(
            400,
            json!({"error":{"code":"invalid_request","message":"amount missing"}}),
        ));
        assert!(
            matches!(outcome, PaymentOutcome::Declined { code, .. } if code == "invalid_request")
        );
    }

    #[test]
    fn bad_request_400_without_a_code_is_gateway_rejected_request() {
        let outcome = create(raw(400, "<html>bad</html>"));
        assert!(
            matches!(outcome, PaymentOutcome::Declined { code, .. } if code == REJECTED_REQUEST)
        );
    }

    #[test]
    fn unavailable_503_and_throttled_429_are_transient() {
        for code in [503, 429] {
            assert!(
                matches!(create(raw(code, "")), PaymentOutcome::Transient { .. }),
                "{code}"
            );
        }
    }

    #[test]
    fn server_errors_500_502_504_are_ambiguous() {
        for code in [500, 502, 504] {
            let outcome = create(reply(code, json!({"error":{"code":"internal"}})));
            assert!(
                matches!(outcome, PaymentOutcome::Ambiguous { .. }),
                "{code}"
            );
        }
    }

    #[test]
    fn key_in_flight_409_is_ambiguous() {
        assert!(matches!(
            create(raw(409, "")),
            PaymentOutcome::Ambiguous { .. }
        ));
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
            assert!(
                matches!(create(raw(201, body)), PaymentOutcome::Ambiguous { .. }),
                "{body}"
            );
        }
    }

    #[test]
    fn odd_psp_codes_are_replaced_not_passed_on() {
        let outcome = create(reply(402, json!({"error":{"code":"card declined <b>"}})));
        assert!(matches!(outcome, PaymentOutcome::Declined { code, .. } if code == "declined"));
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
    fn status_404_without_the_psp_answer_is_unknown() {
        assert!(matches!(
            status(raw(404, "Not Found")),
            StatusOutcome::Unknown { .. }
        ));
        let other = reply(404, json!({"error":{"code":"no_route"}}));
        assert!(matches!(status(other), StatusOutcome::Unknown { .. }));
    }

    #[test]
    fn status_errors_and_malformed_bodies_are_unknown() {
        for (code, body) in [
            (503, ""),
            (429, ""),
            (500, ""),
            (504, ""),
            (200, ""),
            (200, "{\"id\":\"pay_1\"}"),
            (200, "{\"id\":\"pay_1\",\"status\":\"weird\"}"),
        ] {
            assert!(
                matches!(status(raw(code, body)), StatusOutcome::Unknown { .. }),
                "{code} {body}"
            );
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
        assert!(matches!(
            refund(raw(503, "")),
            RefundOutcome::Transient { .. }
        ));
        assert!(matches!(
            refund(raw(429, "")),
            RefundOutcome::Transient { .. }
        ));
        assert!(matches!(
            refund(raw(500, "")),
            RefundOutcome::Ambiguous { .. }
        ));
        assert!(matches!(
            refund(raw(502, "")),
            RefundOutcome::Ambiguous { .. }
        ));
        assert!(matches!(
            refund(raw(201, "{}")),
            RefundOutcome::Ambiguous { .. }
        ));
    }

    #[test]
    fn refund_of_an_unknown_payment_is_rejected_but_a_bare_404_is_transient() {
        let outcome = refund(reply(
            404,
            json!({"error":{"code":"not_found","message":"no payment"}}),
        ));
        assert!(matches!(outcome, RefundOutcome::Rejected { code, .. } if code == "not_found"));
        assert!(matches!(
            refund(raw(404, "Not Found")),
            RefundOutcome::Transient { .. }
        ));
    }

    #[test]
    fn refund_failed_in_body_is_rejected() {
        let outcome = refund(reply(
            200,
            json!({"id":"ref_1","status":"failed","failure_code":"expired_card"}),
        ));
        assert!(matches!(outcome, RefundOutcome::Rejected { code, .. } if code == "expired_card"));
    }
}
