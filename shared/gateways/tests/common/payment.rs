//! The payment the connector tests ask for: 100.99 AED in the UAE. Shared by the unit
//! tests of both formats and the integration tests, so a request means the same thing in
//! every one of them.

use paygate_domain::ports::gateway::PaymentRequest;
use paygate_domain::{Amount, Country, Currency, DepositId};
use secrecy::SecretString;

/// The first attempt of `deposit_id`, with `token` when given.
pub fn payment_request(deposit_id: DepositId, token: Option<&str>) -> PaymentRequest {
    PaymentRequest {
        idempotency_key: format!("{deposit_id}:1"),
        deposit_id,
        amount: Amount::new(10_099).unwrap(),
        currency: Currency::parse("AED").unwrap(),
        country: Country::parse("AE").unwrap(),
        token: token.map(|t| SecretString::from(t.to_owned())),
    }
}
