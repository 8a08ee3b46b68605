//! The requests the books take, already off the wire, and what is wrong with them.

const MAX_TEXT_LEN: usize = 255;

/// What a payment and a payout request both carry: the order, checked alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewOrder {
    pub idempotency_key: String,
    pub amount: i64,
    pub currency: String,
    pub country: String,
    pub reference: String,
}

impl NewOrder {
    /// Why the request is wrong, if it is (a 400 / `soap:Client`).
    pub fn problem(&self) -> Option<String> {
        text_problem("idempotency key", &self.idempotency_key)
            .or_else(|| text_problem("reference", &self.reference))
            .or_else(|| amount_problem(self.amount))
            .or_else(|| {
                code_problem(&self.currency, 3).then(|| "currency must be an ISO 4217 code".into())
            })
            .or_else(|| {
                code_problem(&self.country, 2)
                    .then(|| "country must be an ISO 3166 alpha-2 code".into())
            })
    }
}

/// A create-payment request, already taken off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewPayment {
    pub order: NewOrder,
    pub token: Option<String>,
}

/// A create-payout request, already taken off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewPayout {
    pub order: NewOrder,
    pub destination: Option<String>,
}

/// A refund request, already taken off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewRefund {
    pub idempotency_key: String,
    pub payment_id: String,
    pub amount: i64,
}

impl NewRefund {
    pub fn problem(&self) -> Option<String> {
        text_problem("idempotency key", &self.idempotency_key)
            .or_else(|| amount_problem(self.amount))
    }
}

fn text_problem(what: &str, value: &str) -> Option<String> {
    if value.trim().is_empty() {
        Some(format!("{what} is required"))
    } else if value.len() > MAX_TEXT_LEN {
        Some(format!("{what} is longer than {MAX_TEXT_LEN} bytes"))
    } else {
        None
    }
}

fn amount_problem(amount: i64) -> Option<String> {
    (amount <= 0).then(|| "amount must be a positive integer of minor units".into())
}

fn code_problem(code: &str, len: usize) -> bool {
    code.len() != len || !code.bytes().all(|b| b.is_ascii_uppercase())
}

/// Why a refund was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefundError {
    /// No payment with that id.
    NotFound,
    /// More than what is left to refund (declined/failed payments have nothing to refund).
    ExceedsPayment { refundable: i64 },
}
