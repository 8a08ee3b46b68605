//! What every emulator-backed test suite shares: its guard, its DynamoDB client and its
//! clean-up runner.

use paygate_aws::{Resources, aws_sdk_dynamodb};

/// Fails (never skips) unless `PAYGATE_TEST_EMULATORS=1`: a suite that quietly passed
/// without its emulators would prove nothing.
pub fn require_emulators() {
    if std::env::var("PAYGATE_TEST_EMULATORS").as_deref() != Ok("1") {
        panic!(
            "PAYGATE_TEST_EMULATORS is not set to 1: this test needs the AWS emulators. \
             Run `cargo xtask test`, or start them with `cargo xtask emulators` and \
             `source .tools/emulators.env` first."
        );
    }
}

/// The emulators' DynamoDB and the resources their init script made, after
/// [`require_emulators`].
pub async fn emulated_dynamodb() -> (aws_sdk_dynamodb::Client, Resources) {
    require_emulators();
    let client = aws_sdk_dynamodb::Client::new(&paygate_aws::sdk_config());
    (client, Resources::from_env())
}

/// Runs a test's asynchronous clean-up to completion from a `Drop`, on a thread and
/// runtime of its own: the test's runtime may already be shutting down.
pub fn run_to_completion<F, Fut>(work: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let cleanup = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(work());
    });
    let _ = cleanup.join();
}
