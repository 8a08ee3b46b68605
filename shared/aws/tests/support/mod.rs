//! What the emulator-backed suites of this crate share.

use paygate_aws::{SdkConfig, aws_sdk_sqs};

/// The SDK configuration for the emulators, or a failure that says how to get them.
pub async fn emulators() -> SdkConfig {
    paygate_kit::require_emulators();
    paygate_aws::sdk_config()
}

/// Creates the queue `name` (a case's own, so nothing else consumes its messages);
/// returns its URL.
pub async fn create_queue(client: &aws_sdk_sqs::Client, name: &str) -> String {
    client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create a queue for the case")
        .queue_url
        .expect("queue url")
}
