//! Partial batch failure, the one generic helper every SQS function uses: each record
//! runs concurrently in its own span, and the ids of those to retry are reported back.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use futures::future::join_all;
use std::future::Future;
use tracing::{Instrument, field};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Processed (or nothing to do): SQS deletes it.
    Done,
    /// Report as failed: SQS delivers it again (or moves it to the DLQ).
    Retry,
}

pub async fn process_batch<F, Fut>(records: Vec<SqsMessage>, process: F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Disposition>,
{
    let runs = records.into_iter().map(|record| {
        let id = record.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!(
            "message",
            message_id = %id,
            deposit_id = field::Empty,
            correlation_id = field::Empty,
        );
        let run = process(record).instrument(span);
        async move { (id, run.await) }
    });
    let mut response = SqsBatchResponse::default();
    for (id, disposition) in join_all(runs).await {
        if disposition == Disposition::Retry {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.into());
        message
    }

    #[tokio::test]
    async fn only_records_to_retry_are_reported() {
        let records = vec![record("a"), record("b"), record("c")];
        let response = process_batch(records, |r| async move {
            if r.message_id.as_deref() == Some("b") {
                Disposition::Retry
            } else {
                Disposition::Done
            }
        })
        .await;
        let ids: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(ids, ["b"]);
    }
}
