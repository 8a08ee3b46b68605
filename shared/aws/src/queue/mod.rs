//! The [`QueueSender`](paygate_domain::ports::QueueSender) on SQS, plus the receive side
//! the dev stack and the tests use.

mod redrive;
mod sqs;

pub use redrive::{RedriveMethod, RedriveReport, approximate_depth, peek, queue_arn, redrive};
pub use sqs::{MAX_DELAY_SECONDS, ReceivedMessage, SqsQueue};
