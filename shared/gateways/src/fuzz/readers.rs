//! Each format's readers of the PSPs' answers, one per call.

use crate::transport::Reply;
use paygate_domain::gateways::WireFormat;
use paygate_domain::ports::gateway::{
    PaymentOutcome, RefundOutcome, RefundStatusOutcome, StatusOutcome,
};
use proptest::prelude::*;
use proptest::sample::select;

/// A module reading every PSP answer as the `$format` connector reads it.
macro_rules! readers_of {
    ($module:ident, $format:ident) => {
        mod $module {
            use crate::test_support::reply_readers;
            use crate::transport::Reply;
            use crate::$format::transformers::{
                CreatePaymentReply, CreatePayoutReply, PaymentStatusReply, PayoutStatusReply,
                RefundReply, RefundStatusReply,
            };
            use paygate_domain::ports::gateway::{
                PaymentOutcome, RefundOutcome, RefundStatusOutcome, StatusOutcome,
            };
            reply_readers!();

            /// `reply` read as this format reads the answer to `call`.
            pub(super) fn read(call: super::Call, reply: Reply) -> super::Read {
                use super::{Call, Read};
                match call {
                    Call::CreatePayment => Read::Payment(create(reply)),
                    Call::PaymentStatus => Read::Status(status(reply)),
                    Call::Refund => Read::Refund(refund(reply)),
                    Call::RefundStatus => Read::RefundStatus(refund_status(reply)),
                    Call::CreatePayout => Read::Payment(create_payout(reply)),
                    Call::PayoutStatus => Read::Status(payout_status(reply)),
                }
            }
        }
    };
}

readers_of!(json_readers, json);
readers_of!(soap_readers, soap);

/// Which answer is read, and so which words it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    CreatePayment,
    PaymentStatus,
    Refund,
    RefundStatus,
    CreatePayout,
    PayoutStatus,
}

const CALLS: [Call; 6] = [
    Call::CreatePayment,
    Call::PaymentStatus,
    Call::Refund,
    Call::RefundStatus,
    Call::CreatePayout,
    Call::PayoutStatus,
];

/// What a reader made of an answer.
#[derive(Debug)]
pub(super) enum Read {
    Payment(PaymentOutcome),
    Status(StatusOutcome),
    Refund(RefundOutcome),
    RefundStatus(RefundStatusOutcome),
}

pub(super) fn read(format: WireFormat, call: Call, reply: Reply) -> Read {
    match format {
        WireFormat::Json => json_readers::read(call, reply),
        WireFormat::Soap => soap_readers::read(call, reply),
    }
}

pub(super) fn call() -> impl Strategy<Value = Call> {
    select(CALLS.to_vec())
}
