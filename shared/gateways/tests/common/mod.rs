//! What the scenarios against the gateway simulator share, in-process (`seam.rs`) or over
//! real HTTP (`simulator.rs`): the requests, and one test per wire format.

mod outcome;
pub mod payment;

pub(crate) use outcome::assert_outcome;

use gateway_simulator::Format;
use paygate_domain::DepositId;
use paygate_domain::deposit::Direction;
use paygate_domain::ports::gateway::{
    GatewayConnector, PaymentOutcome, PaymentRequest, RefundRequest, StatusOutcome, look_up,
};
use paygate_domain::{Amount, Money};
use paygate_gateways::WireFormat;
use uuid::Uuid;

/// Runs each named `async fn(WireFormat)` scenario as two tests, `<scenario>::json` and
/// `<scenario>::soap`.
macro_rules! for_both_formats {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test]
                async fn json() {
                    super::$scenario(paygate_gateways::WireFormat::Json).await
                }

                #[tokio::test]
                async fn soap() {
                    super::$scenario(paygate_gateways::WireFormat::Soap).await
                }
            }
        )*
    };
}
pub(crate) use for_both_formats;

/// The simulator's name for a wire format.
pub fn simulated(format: WireFormat) -> Format {
    match format {
        WireFormat::Json => Format::Json,
        WireFormat::Soap => Format::Soap,
    }
}

/// A payment of a new deposit, paid with `token`.
pub fn payment(token: &str) -> PaymentRequest {
    payment::payment_request(DepositId(Uuid::now_v7()), Some(token))
}

/// A payout of a new payout id to `destination`: the payment request the other way (its
/// token is the destination's, its deposit id the payout's id).
pub fn payout(destination: &str) -> PaymentRequest {
    payment(destination)
}

/// A new refund of `amount` of the payment `request` created as `external_id`.
pub fn refund_of(request: &PaymentRequest, external_id: &str, amount: u64) -> RefundRequest {
    RefundRequest {
        idempotency_key: format!("{}:refund:{}", request.deposit_id, Uuid::now_v7()),
        external_id: external_id.to_owned(),
        amount: Amount::new(amount).unwrap(),
    }
}

/// Creates the payment and returns the PSP's id; panics unless it is accepted.
pub async fn accepted(connector: &dyn GatewayConnector, request: &PaymentRequest) -> String {
    match connector.create_payment(request).await {
        PaymentOutcome::Accepted { external_id } => external_id,
        other => panic!("expected Accepted, got {other:?}"),
    }
}

/// Creates the payout and returns the PSP's id; panics unless it is accepted.
pub async fn payout_accepted(connector: &dyn GatewayConnector, request: &PaymentRequest) -> String {
    match connector.create_payout(request).await {
        PaymentOutcome::Accepted { external_id } => external_id,
        other => panic!("expected the payout Accepted, got {other:?}"),
    }
}

/// What the PSP says of `request`'s payment or payout, asked by its idempotency key alone.
pub async fn by_key(
    connector: &dyn GatewayConnector,
    direction: Direction,
    request: &PaymentRequest,
) -> StatusOutcome {
    look_up(connector, direction, &request.idempotency_key, None).await
}

/// The amount the PSP says it charged for `request` (looked up by key); panics unless the
/// payment is found.
pub async fn charged(connector: &dyn GatewayConnector, request: &PaymentRequest) -> Option<Money> {
    let status = by_key(connector, Direction::Deposit, request).await;
    let StatusOutcome::Found { charged, .. } = status else {
        panic!("{status:?}");
    };
    charged
}
