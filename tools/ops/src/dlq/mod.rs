//! `paygate-ops dlq …`: the deposits dead-letter queue.
//!
//! * `list [--max N]`: one line per message with the ids it carries and its receive count.
//!   Looking makes each message visible again at once, but every look counts as a receive.
//! * `show <message-id>`: one message's ids and delivery facts.
//! * `redrive [--limit N]`: messages back to the deposits queue (see [`redrive`]).
//!
//! Output never holds a message body as such, only the ids it carries (deposit, merchant,
//! correlation), which are not payer data.

mod report;

use crate::OpsError;
use paygate_aws::aws_sdk_sqs::Client;
use paygate_aws::{Resources, SqsQueue, approximate_depth, peek, redrive};
use paygate_domain::ports::QueueError;
use report::{write_list, write_redrive, write_show};
use std::io::Write;

/// Default for `dlq list`.
pub const DEFAULT_LIST_MAX: usize = 100;
/// How many messages `dlq show` looks through.
pub const SHOW_SCAN_MAX: usize = 1000;

/// A `dlq` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlqCommand {
    List { max: usize },
    Show { message_id: String },
    Redrive { limit: Option<usize> },
}

/// The queues the `dlq` commands work on.
pub struct DlqOps {
    pub sqs: Client,
    /// The dead-letter queue.
    pub dlq: SqsQueue,
    /// Where redriven messages go: the deposits queue.
    pub target: SqsQueue,
}

impl DlqOps {
    /// The deposits queue and its DLQ, by URL when `resources` has them, else by name.
    pub async fn connect(sqs: Client, resources: &Resources) -> Result<Self, QueueError> {
        let dlq = SqsQueue::deposits_dlq(sqs.clone(), resources).await?;
        let target = SqsQueue::deposits(sqs.clone(), resources).await?;
        Ok(Self { sqs, dlq, target })
    }

    /// Runs one `dlq` command, writing its report to `out`.
    pub async fn run(&self, command: &DlqCommand, out: &mut dyn Write) -> Result<(), OpsError> {
        match command {
            DlqCommand::List { max } => {
                let messages = peek(&self.dlq, *max).await?;
                let depth = approximate_depth(&self.sqs, &self.dlq).await?;
                write_list(out, &messages, depth)?;
            }
            DlqCommand::Show { message_id } => {
                let messages = peek(&self.dlq, SHOW_SCAN_MAX).await?;
                let message = messages
                    .iter()
                    .find(|m| &m.message_id == message_id)
                    .ok_or_else(|| OpsError::NotFound {
                        message_id: message_id.clone(),
                        looked_at: messages.len(),
                    })?;
                write_show(out, message)?;
            }
            DlqCommand::Redrive { limit } => {
                let report = redrive(&self.dlq, &self.target, &self.sqs, *limit).await?;
                write_redrive(out, &report, self.target.url())?;
            }
        }
        Ok(())
    }
}
