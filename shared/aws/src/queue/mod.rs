//! The [`QueueSender`](paygate_domain::ports::QueueSender) on SQS, plus the receive side
//! the dev stack and the tests use.

mod sqs;

pub use sqs::{MAX_DELAY_SECONDS, ReceivedMessage, SqsQueue};
