//! The gateway processor: an SQS-triggered Lambda. Each record of a batch is processed
//! concurrently in its own span; records to retry are reported as `batchItemFailures`
//! after their visibility timeout was set to the backoff delay.

mod batch;
pub mod trigger;

pub use batch::{Disposition, process_batch};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use paygate_domain::crypto::FieldCipher;
use paygate_domain::gateways::BreakerPolicy;
use paygate_domain::ports::{
    Clock, ConnectorDirectory, DepositMessage, EventStore, GatewayRegistry, IdGenerator, RandomIds,
    RedeliveryScheduler,
};
use paygate_domain::service::RetryPolicy;
use paygate_domain::service::process::{
    AttemptPolicy, ProcessError, Processed, ProcessorPorts, RedeliveryPolicy, process_deposit,
};
use std::sync::Arc;

/// Everything the processor needs, built once per process.
#[derive(Clone)]
pub struct Processor {
    pub store: Arc<dyn EventStore>,
    pub registry: Arc<dyn GatewayRegistry>,
    pub connectors: Arc<dyn ConnectorDirectory>,
    pub redelivery: Arc<dyn RedeliveryScheduler>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub cipher: Arc<FieldCipher>,
    pub breaker: BreakerPolicy,
    pub backoff: RedeliveryPolicy,
    /// How long attempts belong to their delivery; how long their request may be re-sent.
    pub attempts: AttemptPolicy,
}

impl Processor {
    /// The processor on these ports with random ids and the default policies (breaker,
    /// redelivery backoff, attempts), as the function runs.
    pub fn new(
        store: Arc<dyn EventStore>,
        registry: Arc<dyn GatewayRegistry>,
        connectors: Arc<dyn ConnectorDirectory>,
        redelivery: Arc<dyn RedeliveryScheduler>,
        clock: Arc<dyn Clock>,
        cipher: Arc<FieldCipher>,
    ) -> Self {
        Self {
            store,
            registry,
            connectors,
            redelivery,
            clock,
            ids: Arc::new(RandomIds),
            cipher,
            breaker: BreakerPolicy::default(),
            backoff: RedeliveryPolicy::default(),
            attempts: AttemptPolicy::default(),
        }
    }
}

/// The Lambda handler: one SQS batch in, the records to retry out.
pub async fn handle(
    app: &Processor,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    Ok(process_batch(event.payload.records, |record| process_record(app, record)).await)
}

/// One record: decode, process, and decide whether SQS deletes it or delivers it again.
pub async fn process_record(app: &Processor, record: SqsMessage) -> Disposition {
    let message: DepositMessage = match record.body.as_deref().map(serde_json::from_str) {
        Some(Ok(message)) => message,
        _ => {
            tracing::error!("undecodable message; it will reach the DLQ after its retries");
            return Disposition::Retry;
        }
    };
    let span = tracing::Span::current();
    span.record("deposit_id", tracing::field::display(message.deposit_id));
    span.record(
        "correlation_id",
        tracing::field::display(&message.correlation_id),
    );
    let ports = ProcessorPorts {
        store: app.store.as_ref(),
        registry: app.registry.as_ref(),
        connectors: app.connectors.as_ref(),
        clock: app.clock.as_ref(),
        ids: app.ids.as_ref(),
        cipher: &app.cipher,
        breaker: app.breaker,
        commands: RetryPolicy::default(),
        attempts: app.attempts,
    };
    let causation = record.message_id.clone().unwrap_or_default();
    let outcome = process_deposit(&ports, &message, &causation).await;
    let reason = match outcome {
        Ok(Processed::Done { status }) => {
            tracing::info!(%status, "message done");
            return Disposition::Done;
        }
        Ok(Processed::RetryLater { reason }) => reason,
        Err(ProcessError::Poison(reason)) => {
            tracing::error!(%reason, "poison message; it will reach the DLQ after its retries");
            return Disposition::Retry;
        }
        Err(error) => error.to_string(),
    };
    let receive_count = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let delay = app
        .backoff
        .delay(receive_count, app.ids.new_uuid().as_u128() as u64);
    tracing::warn!(%reason, receive_count, delay_ms = delay.as_millis() as u64, "retrying later");
    if let Some(receipt) = record.receipt_handle.as_deref()
        && let Err(error) = app.redelivery.redeliver_after(receipt, delay).await
    {
        // The queue's own visibility timeout still brings it back.
        tracing::warn!(%error, "could not set the backoff delay");
    }
    Disposition::Retry
}
