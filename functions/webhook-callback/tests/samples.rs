//! The sample events in `events/webhook-callback/` (what `sam local invoke` and
//! `cargo lambda invoke` send) run through the real handler, read exactly as the Lambda
//! runtime reads them: JSON → `LambdaRequest` (API Gateway HTTP API, payload 2.0) →
//! `lambda_http::Request`. Their signatures are real HMACs for a fixed timestamp, so the
//! handler's clock is pinned near it. A new sample without a case here fails
//! `every_sample_file_runs_through_a_case`.

use paygate_domain::crypto::FieldCipher;
use paygate_domain::deposit::FailureReason;
use paygate_domain::ports::SystemClock;
use paygate_domain::{DepositEvent, DepositStatus};
use paygate_kit::fixtures;
use paygate_kit::samples::fixed::{
    ACME_JSON_SECRET, CORRELATION, DEPOSIT_ID, GLOBEX_SOAP_SECRET, SIGNED_AT,
};
use paygate_kit::samples::{HttpSample, Samples, create_sample_deposit, deposit_id};
use paygate_kit::world::webhooks::{Stored, World};
use paygate_memory::MemoryQueue;
use std::sync::Arc;
use webhook_callback::WebhookGateways;

// ================================================================ the samples

const SAMPLES: Samples = Samples::of("webhook-callback");

const ACME_JSON: &str = "acme_json";
const GLOBEX_SOAP: &str = "globex_soap";

const PAYMENT_SUCCEEDED_JSON: &str = "payment-succeeded-json.json";
const PAYMENT_FAILED_SOAP: &str = "payment-failed-soap.json";

/// What one sample reports, and what it must do to the deposit.
struct Case {
    file: &'static str,
    gateway: &'static str,
    secret: &'static str,
    /// The gateway's payment id the deposit was submitted under.
    external_id: &'static str,
    /// The last event the webhook must append.
    outcome: DepositEvent,
    status: DepositStatus,
}

fn payment_succeeded_json() -> Case {
    let external_id = "pay_8c4e2a6f1b3d5e7092a4c6e8f0b2d4a6";
    Case {
        file: PAYMENT_SUCCEEDED_JSON,
        gateway: ACME_JSON,
        secret: ACME_JSON_SECRET,
        external_id,
        outcome: DepositEvent::DepositSucceeded {
            external_id: external_id.into(),
        },
        status: DepositStatus::Succeeded,
    }
}

fn payment_failed_soap() -> Case {
    Case {
        file: PAYMENT_FAILED_SOAP,
        gateway: GLOBEX_SOAP,
        secret: GLOBEX_SOAP_SECRET,
        external_id: "txn_2d9b7f5e3c1a4b6d8f0e2c4a6b8d0f1e",
        outcome: DepositEvent::DepositFailed {
            reason: FailureReason::new(
                "insufficient_funds",
                "the gateway reported the payment failed",
            ),
        },
        status: DepositStatus::Failed,
    }
}

// ================================================================ one test per sample

#[tokio::test]
async fn payment_succeeded_json_sample_moves_the_deposit_to_succeeded() {
    run(payment_succeeded_json()).await;
}

#[tokio::test]
async fn payment_failed_soap_sample_moves_the_deposit_to_failed() {
    run(payment_failed_soap()).await;
}

// ================================================================ the case

async fn run(case: Case) {
    // GIVEN the samples' gateways configured as an operator would (PAYGATE_WEBHOOK_GATEWAYS),
    // and the deposit of the intake's create-deposit sample, submitted to this gateway
    let mut world = World::new();
    world.webhooks.gateways = Arc::new(sample_gateways());
    submitted_sample_deposit(&world, case.gateway, case.external_id).await;

    // AND the sample carries the real signature of its body by the gateway's secret
    let sample = read_sample(case.file);
    assert_eq!(sample.path_parameter("gateway"), case.gateway);
    assert_eq!(
        sample.header("paygate-signature"),
        paygate_signature::sign(case.secret.as_bytes(), SIGNED_AT, sample.body().as_bytes()),
        "{}: the signature header is HMAC-SHA256(secret, \"t.body\")",
        case.file
    );

    // WHEN it is delivered to a function on the wall clock, hours after it was signed
    let before = world.events(deposit_id()).await;
    let mut wall_clock = world.webhooks.clone();
    wall_clock.clock = Arc::new(SystemClock);
    let stale = paygate_kit::world::webhooks::Reply::from(
        webhook_callback::handle(&wall_clock, sample.request()).await,
    );

    // THEN it is refused as stale and changes nothing
    stale.assert_unauthenticated();
    assert_eq!(world.events(deposit_id()).await, before);

    // WHEN it is delivered with the clock 30 s after it was signed
    let now = world.now();
    world
        .clock
        .advance(time::Duration::seconds(SIGNED_AT + 30 - now));
    let reply = world.send(sample.request()).await;

    // THEN 200, and the deposit records the gateway's outcome
    reply.assert_applied("recorded", case.status.as_str());
    let events = world.events(deposit_id()).await;
    let last = events.last().expect("events");
    assert_eq!(last.event, case.outcome, "{}", case.file);
    assert_eq!(last.version, before.len() as u64 + 1, "one event appended");
    let view = world.view(deposit_id()).await;
    assert_eq!(view.status, case.status);
    assert_eq!(view.external_id.as_deref(), Some(case.external_id));

    // AND the gateway retrying the same webhook is a duplicate that changes nothing
    let retried = world.send(sample.request()).await;
    retried.assert_applied("duplicate", case.status.as_str());
    assert_eq!(world.events(deposit_id()).await, events);
}

// ================================================================ coverage

/// Every file in `events/webhook-callback/` runs through its case; a file without one fails.
#[tokio::test]
async fn every_sample_file_runs_through_a_case() {
    for name in SAMPLES.files() {
        let case = match name.as_str() {
            PAYMENT_SUCCEEDED_JSON => payment_succeeded_json(),
            PAYMENT_FAILED_SOAP => payment_failed_soap(),
            other => SAMPLES.missing_case(other, file!()),
        };
        run(case).await;
    }
}

/// events/README.md lists every sample and the values needed to re-sign them.
#[test]
fn the_events_readme_documents_these_samples_and_their_signing_values() {
    SAMPLES.assert_readme_lists(&[
        ACME_JSON_SECRET,
        GLOBEX_SOAP_SECRET,
        &SIGNED_AT.to_string(),
        DEPOSIT_ID,
        &sample_gateways_json(),
    ]);
}

// ================================================================ reading the samples

/// The sample, checked as an HTTP API (payload 2.0) event of the webhook route, the only
/// route this function serves, with a body (the signed payload).
fn read_sample(name: &str) -> HttpSample {
    let sample = SAMPLES.http(name);
    let name = sample.name();
    assert_eq!(
        sample.json()["routeKey"],
        "POST /webhooks/{gateway}",
        "{name}"
    );
    assert!(sample.json()["body"].is_string(), "{name}: a body");
    sample
}

/// `PAYGATE_WEBHOOK_GATEWAYS` for the samples' two gateways, as documented.
fn sample_gateways_json() -> String {
    format!(
        r#"{{"{ACME_JSON}":{{"format":"json","secrets":["{ACME_JSON_SECRET}"]}},"{GLOBEX_SOAP}":{{"format":"soap","secrets":["{GLOBEX_SOAP_SECRET}"]}}}}"#
    )
}

fn sample_gateways() -> WebhookGateways {
    WebhookGateways::from_json(&sample_gateways_json()).expect("a valid configuration")
}

/// GIVEN-helper: the deposit of the intake's create-deposit sample (recorded by the
/// intake's use case under the samples' id), then submitted to `gateway` as
/// `external_id` by the processor's own events, which also write the external-id lookup
/// webhooks are resolved by.
async fn submitted_sample_deposit(world: &World, gateway: &str, external_id: &str) {
    let (store, clock) = (world.store.as_ref(), world.clock.as_ref());
    let queue = MemoryQueue::default();
    create_sample_deposit(store, &queue, clock, &FieldCipher::ephemeral()).await;
    let events = fixtures::submission(deposit_id(), gateway, external_id);
    let causation = Some("sample-sqs-message");
    let submitted = fixtures::record(store, clock, deposit_id(), CORRELATION, causation, events);
    assert_eq!(submitted.await.status, DepositStatus::Submitted);
}
