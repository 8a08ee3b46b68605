//! What the unit tests of both formats share: the payment they ask for, and reading a
//! canned answer into each outcome.

#[path = "../tests/common/outcome.rs"]
mod outcome;
#[path = "../tests/common/payment.rs"]
mod payment;

pub(crate) use outcome::assert_outcome;

use crate::transport::Reply;
use paygate_domain::ports::gateway::{PaymentRequest, RefundRequest};
use paygate_domain::{Amount, DepositId};

/// The deposit every unit test pays for.
pub(crate) const DEPOSIT: &str = "0195f0a2-7c1e-7d43-9a51-3c2b8e4f6a10";

/// The first attempt of [`DEPOSIT`], with `token` when given.
pub(crate) fn request(token: Option<&str>) -> PaymentRequest {
    payment::payment_request(DepositId::parse(DEPOSIT).unwrap(), token)
}

/// A refund of 500 of the payment the PSP knows as `external_id`.
pub(crate) fn refund_request(external_id: &str) -> RefundRequest {
    RefundRequest {
        idempotency_key: "dep:refund:r1".into(),
        external_id: external_id.into(),
        amount: Amount::new(500).unwrap(),
    }
}

/// An answer whose body is `body` as it came, byte for byte.
pub(crate) fn raw(status: u16, body: &str) -> Reply {
    Reply {
        status,
        body: body.as_bytes().to_vec(),
    }
}

/// `create`, `status`, `refund`, `refund_status`, `create_payout` and `payout_status`: an
/// answer read the way the format in scope reads it (its `CreatePaymentReply`,
/// `PaymentStatusReply`, `RefundReply`, `RefundStatusReply`, `CreatePayoutReply` and
/// `PayoutStatusReply`), so both formats' tests speak the same words.
macro_rules! reply_readers {
    () => {
        reply_readers! {
            create: CreatePaymentReply -> PaymentOutcome,
            status: PaymentStatusReply -> StatusOutcome,
            refund: RefundReply -> RefundOutcome,
            refund_status: RefundStatusReply -> RefundStatusOutcome,
            create_payout: CreatePayoutReply -> PaymentOutcome,
            payout_status: PayoutStatusReply -> StatusOutcome,
        }
    };
    ($($reader:ident: $reply:ident -> $outcome:ident,)*) => {
        $(
            fn $reader(reply: Reply) -> $outcome {
                $reply(reply).into()
            }
        )*
    };
}
pub(crate) use reply_readers;
