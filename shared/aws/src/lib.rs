//! paygate's AWS adapters: the domain's ports on DynamoDB, SQS and EventBridge.
//!
//! * [`sdk_config`]: the SDK configuration (lean build: hyper + rustls on ring), honouring
//!   `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` so the same code runs on AWS, on
//!   moto, on DynamoDB Local and on LocalStack; [`Resources`]: table and queue names from
//!   `PAYGATE_*` variables.
//! * [`DynamoEventStore`]: the [`EventStore`](paygate_domain::ports::EventStore): one
//!   stream per deposit, each append (events + read model + idempotency claim +
//!   external-id lookups) a single `TransactWriteItems`.
//! * [`DynamoMerchantDirectory`]: API key hash → merchant.
//! * [`DynamoGatewayRegistry`]: the [`GatewayRegistry`](paygate_domain::ports::GatewayRegistry):
//!   gateway configuration and learnt status; breaker moves are optimistic updates
//!   conditioned on a revision, so they are atomic across Lambda instances.
//! * [`SqsQueue`]: the [`QueueSender`](paygate_domain::ports::QueueSender), plus receive,
//!   delete and visibility changes for the dev stack and the tests.
//! * [`EventBridgePublisher`]: the [`EventPublisher`](paygate_domain::ports::EventPublisher):
//!   domain events to the custom bus (`PAYGATE_EVENT_BUS`), `source` `paygate`, in
//!   `PutEvents` requests of at most 10 entries and 256 KB; any refused entry fails the
//!   publish (callers publish again, consumers deduplicate on `detail.event_id`).
//!   [`BusTap`]: a rule copying matching events into a queue, to watch the bus.
//! * [`RequestMeter`]: counts the requests (and DynamoDB capacity units) of the clients
//!   it is attached to ([`AwsAdapters::connect_metered`]), for request budgets and benchmarks.
//! * [`secret_setting`]: a secret read by reference (`<NAME>_SECRET_ARN`, Secrets
//!   Manager) at start-up, or given directly in `<NAME>` locally.
//!
//! Failures are [`AwsError`]s turned into the ports' errors (`StoreError`, `AppendError`,
//! `QueueError`); their messages name the operation and the AWS error code, never an
//! item, a message body or a key.
//!
//! ```no_run
//! # async fn wire() -> Result<(), paygate_domain::ports::QueueError> {
//! use paygate_aws::{DynamoEventStore, Resources, SqsQueue, aws_sdk_dynamodb, aws_sdk_sqs};
//! let config = paygate_aws::sdk_config();
//! let resources = Resources::from_env();
//! let store = DynamoEventStore::new(aws_sdk_dynamodb::Client::new(&config), &resources);
//! let queue = SqsQueue::deposits(aws_sdk_sqs::Client::new(&config), &resources).await?;
//! # Ok(()) }
//! ```

mod config;
mod dynamo;
mod error;
mod event_store;
#[cfg(test)]
mod fixtures;
mod merchants;
mod meter;
mod publisher;
mod queue;
mod registry;
mod secrets;
mod wiring;

pub use config::{Resources, http_client, sdk_config};
pub use error::AwsError;
pub use event_store::{DynamoEventStore, MAX_TRANSACTION_ITEMS};
pub use merchants::DynamoMerchantDirectory;
pub use meter::{Call, RequestMeter, Tally};
pub use publisher::{BusTap, TappedEvent, send_policy as bus_send_policy};
pub use publisher::{
    EVENT_SOURCE, EventBridgePublisher, MAX_ENTRIES_PER_REQUEST, MAX_REQUEST_BYTES,
    put_events_entry_size,
};
pub use queue::{MAX_DELAY_SECONDS, ReceivedMessage, SqsQueue};
pub use queue::{RedriveMethod, RedriveReport, approximate_depth, peek, queue_arn, redrive};
pub use registry::{DynamoGatewayRegistry, MAX_UPDATE_ATTEMPTS};
pub use secrets::{SecretError, secret_setting};
pub use wiring::AwsAdapters;

pub use aws_sdk_dynamodb;
pub use aws_sdk_eventbridge;
pub use aws_sdk_secretsmanager;
pub use aws_sdk_sqs;
/// The SDK crates the adapters are built on, so callers build clients from the same
/// versions: `aws_sdk_dynamodb::Client::new(&sdk_config())`.
pub use aws_types::SdkConfig;
pub use secrecy;
