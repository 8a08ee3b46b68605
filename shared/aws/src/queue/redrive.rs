//! Dead-letter queue operations (DESIGN §7): look at what is in the DLQ without taking it
//! away, and move it back to the queue it came from.
//!
//! [`redrive`] asks SQS to do the move (`StartMessageMoveTask`); where the endpoint does
//! not implement it (moto answers HTTP 500) it falls back to receive → send → delete,
//! sending the copy BEFORE deleting the original, so a crash half-way can duplicate a
//! message (the processor is idempotent) but never lose one.

use super::sqs::{ReceivedMessage, SqsQueue};
use crate::error::AwsError;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::retry::RetryConfig;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{Message, QueueAttributeName};
use paygate_domain::ports::QueueError;
use std::collections::HashSet;
use std::fmt;

/// How a [`redrive`] moved the messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedriveMethod {
    /// SQS moves them itself, asynchronously (`StartMessageMoveTask`).
    MessageMoveTask {
        /// The task's handle (`CancelMessageMoveTask`, `ListMessageMoveTasks`).
        task_handle: String,
    },
    /// Moved one by one here: received from the DLQ, sent to the target, then deleted.
    ReceiveSendDelete {
        /// Why the move task was not used: its error, or that a limit was asked for.
        reason: String,
    },
}

impl fmt::Display for RedriveMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MessageMoveTask { task_handle } => {
                write!(f, "StartMessageMoveTask (task {task_handle})")
            }
            Self::ReceiveSendDelete { reason } => {
                write!(f, "receive-send-delete ({reason})")
            }
        }
    }
}

/// What a [`redrive`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveReport {
    pub method: RedriveMethod,
    /// Receive-send-delete: the messages moved. Move task: the DLQ's approximate depth
    /// when the task started (SQS moves them in the background).
    pub moved: usize,
}

impl RedriveReport {
    /// Whether SQS's own move task was used.
    pub fn used_move_task(&self) -> bool {
        matches!(self.method, RedriveMethod::MessageMoveTask { .. })
    }
}

/// Moves the messages of `dlq` back to `target`.
///
/// Without a `limit`, first asks SQS to move everything (`StartMessageMoveTask`, from the
/// DLQ's ARN to the target's); if the endpoint answers that it does not support it
/// (`UnsupportedOperation`, an unknown action, or any 5xx), falls back to
/// receive-send-delete until the DLQ is empty. A move task cannot be capped at a number
/// of messages, so with a `limit` the messages are always moved here, at most `limit`.
///
/// Bodies and message attributes are copied unchanged; the copies are new messages (new
/// ids, receive count starting again at 0).
pub async fn redrive(
    dlq: &SqsQueue,
    target: &SqsQueue,
    sqs: &Client,
    limit: Option<usize>,
) -> Result<RedriveReport, QueueError> {
    if dlq.url() == target.url() {
        return Err(
            AwsError::malformed("redrive", "the DLQ and the target are the same queue").into(),
        );
    }
    let reason = match limit {
        Some(limit) => format!("a limit of {limit} was asked for"),
        None => match start_move_task(dlq, target, sqs).await? {
            Ok(report) => return Ok(report),
            Err(unsupported) => unsupported,
        },
    };
    let moved = receive_send_delete(dlq, target, sqs, limit).await?;
    Ok(RedriveReport {
        method: RedriveMethod::ReceiveSendDelete { reason },
        moved,
    })
}

/// `Ok(Ok(report))` when the task started, `Ok(Err(why))` when the endpoint does not
/// support it, `Err` on any other failure.
async fn start_move_task(
    dlq: &SqsQueue,
    target: &SqsQueue,
    sqs: &Client,
) -> Result<Result<RedriveReport, String>, QueueError> {
    let source_arn = queue_arn(sqs, dlq).await?;
    let destination_arn = queue_arn(sqs, target).await?;
    let depth = approximate_depth(sqs, dlq).await?;
    let started = sqs
        .start_message_move_task()
        .source_arn(source_arn)
        .destination_arn(destination_arn)
        // A 5xx means "fall back", not "try again": the fallback is always correct.
        .customize()
        .config_override(
            aws_sdk_sqs::config::Builder::default().retry_config(RetryConfig::disabled()),
        )
        .send()
        .await;
    match started {
        Ok(output) => Ok(Ok(RedriveReport {
            method: RedriveMethod::MessageMoveTask {
                task_handle: output.task_handle.unwrap_or_default(),
            },
            moved: depth,
        })),
        Err(err) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            if is_unsupported(err.code(), status) {
                let answer = match (err.code(), status) {
                    (Some(code), _) => code.to_owned(),
                    (None, Some(status)) => format!("HTTP {status}"),
                    (None, None) => "no answer".to_owned(),
                };
                Ok(Err(format!("StartMessageMoveTask unsupported: {answer}")))
            } else {
                Err(AwsError::call("StartMessageMoveTask", &err).into())
            }
        }
    }
}

/// Whether a `StartMessageMoveTask` failure means the endpoint cannot do it at all (or
/// not now), so that moving the messages by hand is the way.
fn is_unsupported(code: Option<&str>, status: Option<u16>) -> bool {
    const UNSUPPORTED: [&str; 5] = [
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        "InvalidAction",
        "UnknownOperationException",
        "NotImplemented",
    ];
    code.is_some_and(|code| UNSUPPORTED.contains(&code))
        || status.is_some_and(|status| (500..600).contains(&status))
}

/// The receive-send-delete loop; returns how many messages it moved.
async fn receive_send_delete(
    dlq: &SqsQueue,
    target: &SqsQueue,
    sqs: &Client,
    limit: Option<usize>,
) -> Result<usize, QueueError> {
    let mut moved = 0;
    loop {
        let wanted = limit.map_or(10, |limit| (limit - moved).min(10));
        if wanted == 0 {
            return Ok(moved);
        }
        let batch = receive_raw(sqs, dlq, wanted as i32).await?;
        if batch.is_empty() {
            return Ok(moved);
        }
        let mut batch = batch.into_iter();
        while let Some(message) = batch.next() {
            if let Err(err) = move_one(sqs, target, dlq, message).await {
                // Let the rest of the batch be seen again at once; the failed one comes
                // back after the DLQ's visibility timeout.
                for rest in batch {
                    if let Some(receipt) = rest.receipt_handle.as_deref() {
                        let _ = dlq.change_visibility(receipt, 0).await;
                    }
                }
                return Err(err);
            }
            moved += 1;
        }
    }
}

/// Sends a copy of `message` to `target`, then deletes it from `dlq`.
async fn move_one(
    sqs: &Client,
    target: &SqsQueue,
    dlq: &SqsQueue,
    message: Message,
) -> Result<(), QueueError> {
    const WHAT: &str = "dead-lettered message";
    let receipt = message
        .receipt_handle
        .ok_or_else(|| AwsError::malformed(WHAT, "no ReceiptHandle"))?;
    let body = message
        .body
        .ok_or_else(|| AwsError::malformed(WHAT, "no Body"))?;
    sqs.send_message()
        .queue_url(target.url())
        .message_body(body)
        .set_message_attributes(message.message_attributes)
        .send()
        .await
        .map_err(|e| AwsError::call("SendMessage", &e))?;
    dlq.delete(&receipt).await
}

/// Receives with every message attribute, so that the copies carry them all.
async fn receive_raw(sqs: &Client, queue: &SqsQueue, max: i32) -> Result<Vec<Message>, QueueError> {
    let output = sqs
        .receive_message()
        .queue_url(queue.url())
        .max_number_of_messages(max.clamp(1, 10))
        .wait_time_seconds(1)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| AwsError::call("ReceiveMessage", &e))?;
    Ok(output.messages.unwrap_or_default())
}

/// Up to `max` messages of `dlq`, left where they are: every message read is made
/// visible again (`ChangeMessageVisibility` 0) once the listing is complete, so listing
/// hides nothing (each read does count as a receive).
///
/// Messages are kept invisible while the listing runs, so none is listed twice.
pub async fn peek(dlq: &SqsQueue, max: usize) -> Result<Vec<ReceivedMessage>, QueueError> {
    let mut seen = HashSet::new();
    let mut listed = Vec::new();
    let mut failure = None;
    while listed.len() < max {
        let wanted = (max - listed.len()).min(10) as i32;
        match dlq.receive(wanted, 1).await {
            Ok(batch) if batch.is_empty() => break,
            Ok(batch) => {
                for message in batch {
                    if seen.insert(message.message_id.clone()) {
                        listed.push(message);
                    } else {
                        // Seen before: only make this receipt visible again.
                        let _ = dlq.change_visibility(&message.receipt_handle, 0).await;
                    }
                }
            }
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    for message in &listed {
        if let Err(err) = dlq.change_visibility(&message.receipt_handle, 0).await {
            failure.get_or_insert(err);
        }
    }
    match failure {
        Some(err) => Err(err),
        None => Ok(listed),
    }
}

/// The queue's `ApproximateNumberOfMessages` (visible messages; approximate on SQS).
pub async fn approximate_depth(sqs: &Client, queue: &SqsQueue) -> Result<usize, QueueError> {
    let value =
        queue_attribute(sqs, queue, QueueAttributeName::ApproximateNumberOfMessages).await?;
    value.parse().map_err(|_| {
        AwsError::malformed(
            "queue attributes",
            "ApproximateNumberOfMessages is not a number",
        )
        .into()
    })
}

/// The queue's ARN (`QueueArn` attribute).
pub async fn queue_arn(sqs: &Client, queue: &SqsQueue) -> Result<String, QueueError> {
    queue_attribute(sqs, queue, QueueAttributeName::QueueArn).await
}

async fn queue_attribute(
    sqs: &Client,
    queue: &SqsQueue,
    name: QueueAttributeName,
) -> Result<String, QueueError> {
    let output = sqs
        .get_queue_attributes()
        .queue_url(queue.url())
        .attribute_names(name.clone())
        .send()
        .await
        .map_err(|e| AwsError::call("GetQueueAttributes", &e))?;
    output
        .attributes
        .and_then(|mut attributes| attributes.remove(&name))
        .ok_or_else(|| {
            AwsError::malformed("GetQueueAttributes answer", format!("no {name}")).into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_means_fall_back() {
        // moto: HTTP 500 with an HTML page, no error code.
        assert!(is_unsupported(None, Some(500)));
        assert!(is_unsupported(None, Some(501)));
        assert!(is_unsupported(Some("InternalFailure"), Some(500)));
        assert!(is_unsupported(Some("UnsupportedOperation"), Some(400)));
        assert!(is_unsupported(
            Some("AWS.SimpleQueueService.UnsupportedOperation"),
            Some(400)
        ));
        assert!(is_unsupported(Some("InvalidAction"), Some(400)));
    }

    #[test]
    fn real_refusals_are_errors() {
        assert!(!is_unsupported(Some("AccessDenied"), Some(403)));
        assert!(!is_unsupported(Some("InvalidParameterValue"), Some(400)));
        assert!(!is_unsupported(
            Some("ResourceNotFoundException"),
            Some(400)
        ));
        assert!(!is_unsupported(
            Some("AWS.SimpleQueueService.NonExistentQueue"),
            Some(400)
        ));
        // No answer at all (connection refused, timeout): the fallback would fail too.
        assert!(!is_unsupported(None, None));
    }

    #[test]
    fn reports_say_how() {
        let task = RedriveReport {
            method: RedriveMethod::MessageMoveTask {
                task_handle: "t-1".into(),
            },
            moved: 3,
        };
        assert!(task.used_move_task());
        assert_eq!(task.method.to_string(), "StartMessageMoveTask (task t-1)");
        let manual = RedriveReport {
            method: RedriveMethod::ReceiveSendDelete {
                reason: "HTTP 500".into(),
            },
            moved: 1,
        };
        assert!(!manual.used_move_task());
        assert_eq!(manual.method.to_string(), "receive-send-delete (HTTP 500)");
    }
}
