//! The sample events in `events/gateway-processor/` (what `sam local invoke` and
//! `cargo lambda invoke` send) run through the real handler, read exactly as the Lambda
//! runtime reads them (JSON → `SqsEvent` in a `LambdaEvent`), in front of real simulated
//! gateways. A new sample without a case here fails `every_sample_file_runs_through_a_case`.

use aws_lambda_events::event::sqs::SqsEvent;
use gateway_processor::handle;
use lambda_runtime::{Context, LambdaEvent};
use paygate_domain::DepositStatus;
use paygate_domain::ports::DepositMessage;
use paygate_kit::samples::fixed::{CORRELATION, DEPOSIT_ID};
use paygate_kit::samples::{Samples, create_sample_deposit, deposit_id, intake_body};
use paygate_kit::world::processor::{ALPHA, Stored, World, attempt_key};

const SAMPLES: Samples = Samples::of("gateway-processor");

const SQS_BATCH: &str = "sqs-batch.json";

// ================================================================ one test per sample

#[tokio::test]
async fn sqs_batch_sample_submits_the_deposit_to_the_top_priority_gateway() {
    sqs_batch_case().await;
}

// ================================================================ the cases

async fn sqs_batch_case() {
    // GIVEN the deposit of the intake's create-deposit sample, pending, and three
    // healthy simulated gateways serving AE/AED (alpha first)
    let world = World::new().await;
    sample_deposit_created(&world).await;

    // WHEN Lambda hands the sample batch to the handler
    let response = invoke_sample(&world, SQS_BATCH).await;

    // THEN no record is reported failed, none asked for a backoff
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    assert!(world.redeliveries.delays().is_empty());
    let response_json = serde_json::to_value(&response).expect("the response serialises");
    assert_eq!(
        response_json,
        serde_json::json!({ "batchItemFailures": [] })
    );

    // AND the deposit is submitted at alpha, which holds the payment the sample asked for
    let view = world.view(deposit_id()).await;
    assert_eq!(view.status, DepositStatus::Submitted);
    assert_eq!(view.gateway.as_deref(), Some(ALPHA));
    let payments = world.gateway(ALPHA).payments();
    assert_eq!(payments.len(), 1, "{payments:?}");
    let payment = &payments[0];
    assert_eq!(view.external_id.as_deref(), Some(payment.id.as_str()));
    assert_eq!(payment.idempotency_key, attempt_key(deposit_id(), 1));
    assert_eq!(payment.reference, DEPOSIT_ID);
    let asked = intake_body();
    assert_eq!(Some(payment.amount), asked["amount"].as_i64());
    assert_eq!(Some(payment.currency.as_str()), asked["currency"].as_str());
    assert_eq!(
        Some(payment.token.as_str()),
        asked["payment_method"]["token"].as_str(),
        "the decrypted token reached the gateway"
    );
    assert_eq!(world.total_payments(), 1, "no other gateway was called");
    let events = world.events(deposit_id()).await;
    assert!(
        events.iter().all(|e| e.correlation_id.0 == CORRELATION),
        "every event carries the message's correlation id: {events:?}"
    );

    // AND SQS delivering the same batch again (at least once) changes nothing
    let again = invoke_sample(&world, SQS_BATCH).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(world.total_payments(), 1, "paid once");
    assert_eq!(world.view(deposit_id()).await.version, view.version);
}

// ================================================================ coverage

/// Every file in `events/gateway-processor/` runs through its case; a file without one fails.
#[tokio::test]
async fn every_sample_file_runs_through_a_case() {
    for name in SAMPLES.files() {
        match name.as_str() {
            SQS_BATCH => sqs_batch_case().await,
            other => SAMPLES.missing_case(other, file!()),
        }
    }
}

#[test]
fn the_events_readme_lists_these_samples() {
    SAMPLES.assert_readme_lists(&[]);
}

// ================================================================ reading the samples

/// The sample as the runtime decodes it, after checking what the deserializer would let
/// pass silently (every field of an SQS record has a default).
fn sample_event(name: &str) -> SqsEvent {
    let text = SAMPLES.text(name);
    let event: SqsEvent =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is no SQS event: {e}"));
    assert!(!event.records.is_empty(), "{name}: no Records");
    for record in &event.records {
        assert_eq!(record.event_source.as_deref(), Some("aws:sqs"), "{name}");
        let arn = record.event_source_arn.as_deref().unwrap_or_default();
        assert!(
            arn.starts_with("arn:aws:sqs:"),
            "{name}: eventSourceARN {arn:?}"
        );
        let region = record.aws_region.as_deref().expect("awsRegion");
        assert!(
            arn.contains(&format!(":{region}:")),
            "{name}: region {region}"
        );
        assert!(record.message_id.is_some(), "{name}: messageId");
        assert!(record.receipt_handle.is_some(), "{name}: receiptHandle");
        let receives: u32 = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("{name}: attributes.ApproximateReceiveCount"));
        assert!(receives >= 1, "{name}");
        // The body is a deposit message exactly as the SQS sender writes it, and the
        // correlation id also travels as the message attribute it sets.
        let body = record.body.as_deref().expect("a body");
        let message: DepositMessage =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{name}: body: {e}"));
        assert_eq!(
            serde_json::to_string(&message).expect("a message serialises"),
            body,
            "{name}: the body is what the intake's queue sender writes"
        );
        let attribute = record
            .message_attributes
            .get("correlation_id")
            .unwrap_or_else(|| panic!("{name}: messageAttributes.correlation_id"));
        assert_eq!(attribute.data_type.as_deref(), Some("String"));
        assert_eq!(
            attribute.string_value.as_deref(),
            Some(message.correlation_id.0.as_str())
        );
    }
    event
}

async fn invoke_sample(
    world: &World,
    name: &str,
) -> aws_lambda_events::event::sqs::SqsBatchResponse {
    let event = LambdaEvent::new(sample_event(name), Context::default());
    handle(&world.processor, event)
        .await
        .expect("the handler never fails a whole batch")
}

// ================================================================ the world the samples need

/// GIVEN-helper: the deposit the intake's create-deposit sample creates, recorded by the
/// intake's use case (token encrypted at rest) under the samples' id and merchant.
async fn sample_deposit_created(world: &World) {
    let (store, queue, clock) = (
        world.store.as_ref(),
        world.queue.as_ref(),
        world.clock.as_ref(),
    );
    let view = create_sample_deposit(store, queue, clock, &world.cipher).await;
    assert_eq!(view.status, DepositStatus::Pending);
}
