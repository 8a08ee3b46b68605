//! The sample events in `events/deposit-intake/` (what `sam local invoke` and
//! `cargo lambda invoke` send) run through the real handler, read exactly as the Lambda
//! runtime reads them: JSON → `LambdaRequest` (API Gateway HTTP API, payload 2.0) →
//! `lambda_http::Request`. A sample that drifts from the API fails its case, and a new
//! sample without a case here fails `every_sample_file_runs_through_a_case`.

use http::StatusCode;
use paygate_domain::gateways::GatewayConfig;
use paygate_domain::ports::gateway::{GatewayNotification, NotifiedOutcome};
use paygate_domain::ports::{GatewayRegistry, RandomIds};
use paygate_domain::service::outcome::{Applied, OutcomePorts, Reached, apply_notification};
use paygate_domain::{CorrelationId, DepositEvent, DepositStatus};
use paygate_kit::fixtures::{self, FixedIds};
use paygate_kit::gateways::serving;
use paygate_kit::samples::fixed::{API_KEY, CORRELATION, DEPOSIT_ID, MERCHANT};
use paygate_kit::samples::{Samples, deposit_id};
use paygate_kit::world::intake::{Reply, Stage, World, merchant};
use paygate_memory::MemoryGatewayRegistry;
use serde_json::Value;
use std::sync::Arc;
use time::Duration;
use uuid::Uuid;

// ================================================================ the samples

const SAMPLES: Samples = Samples::of("deposit-intake");

const CREATE_DEPOSIT: &str = "create-deposit.json";
const GET_DEPOSIT: &str = "get-deposit.json";
const GET_DEPOSIT_EVENTS: &str = "get-deposit-events.json";
const CREATE_REFUND: &str = "create-refund.json";
const LIST_GATEWAYS: &str = "list-gateways.json";
const LIST_DEPOSITS: &str = "list-deposits.json";
const CREATE_PAYOUT: &str = "create-payout.json";

// ================================================================ one test per sample

#[tokio::test]
async fn create_deposit_sample_creates_the_pending_deposit_with_the_samples_id() {
    create_deposit_case().await;
}

#[tokio::test]
async fn get_deposit_sample_reads_the_deposit() {
    get_deposit_case().await;
}

#[tokio::test]
async fn get_deposit_events_sample_lists_the_deposits_events() {
    get_deposit_events_case().await;
}

#[tokio::test]
async fn create_refund_sample_requests_a_refund_of_the_succeeded_deposit() {
    create_refund_case().await;
}

#[tokio::test]
async fn list_gateways_sample_lists_the_registry() {
    list_gateways_case().await;
}

#[tokio::test]
async fn list_deposits_sample_lists_the_pending_deposit_by_its_query() {
    list_deposits_case().await;
}

#[tokio::test]
async fn create_payout_sample_pays_out_part_of_the_succeeded_deposit() {
    create_payout_case().await;
}

// ================================================================ the cases

async fn create_deposit_case() {
    // GIVEN the samples' merchant, and ids that make the next deposit the samples' one
    let world = sample_world();

    // WHEN the sample is invoked
    let reply = world.send(SAMPLES.http_request(CREATE_DEPOSIT)).await;

    // THEN 202 with the pending deposit as the sample's body asked for it
    reply.assert_json(StatusCode::ACCEPTED);
    reply.assert_not_replayed();
    let deposit = reply.json();
    let asked = sample_body(CREATE_DEPOSIT);
    assert_eq!(deposit["id"], DEPOSIT_ID);
    assert_eq!(deposit["object"], "deposit");
    assert_eq!(deposit["status"], "pending");
    for field in ["amount", "currency", "country", "customer_id", "metadata"] {
        assert_eq!(deposit[field], asked[field], "{field}");
    }
    assert_eq!(
        reply.header("location"),
        Some(format!("/v1/deposits/{DEPOSIT_ID}").as_str())
    );
    let view = world
        .stored_view(deposit_id())
        .await
        .expect("the deposit is stored");
    assert_eq!(view.merchant_id, merchant(MERCHANT));

    // AND the message it queued is, byte for byte, the body of the processor's SQS sample
    let queued = world.drain_queue();
    assert_eq!(queued.len(), 1, "exactly one message is queued");
    let sent = serde_json::to_string(&queued[0].body).expect("a message serialises");
    assert_eq!(sent, sqs_sample_body());

    // AND invoking the sample again replays the same deposit (same Idempotency-Key)
    let again = world.send(SAMPLES.http_request(CREATE_DEPOSIT)).await;
    again.assert_json(StatusCode::ACCEPTED);
    again.assert_replayed();
    assert_eq!(again.json()["id"], DEPOSIT_ID);
    assert_eq!(world.store.stream_count(), 1, "nothing was created twice");
}

async fn list_gateways_case() {
    // GIVEN a registry with one gateway
    let mut world = sample_world();
    let registry = Arc::new(MemoryGatewayRegistry::new());
    let acme = GatewayConfig {
        name: "acme_json".into(),
        base_url: "https://api.acme-psp.example/v2".into(),
        ..serving(&["AE"], &["AED"], 10)
    };
    registry.upsert_config(&acme).await.unwrap();
    world.intake.registry = registry;

    // WHEN the sample is invoked
    let reply = world.send(SAMPLES.http_request(LIST_GATEWAYS)).await;

    // THEN 200 with that gateway, available
    reply.assert_json(StatusCode::OK);
    let list = reply.json();
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["name"], "acme_json");
    assert_eq!(list["data"][0]["available"], true);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
}

/// GIVEN the deposit, created by the create-deposit sample, WHEN the sample `name` is
/// invoked, THEN 200: its body.
async fn read_after_create(name: &str) -> Value {
    let world = sample_world();
    deposit_created(&world).await;
    let reply = world.send(SAMPLES.http_request(name)).await;
    reply.assert_json(StatusCode::OK);
    reply.json()
}

async fn list_deposits_case() {
    // GIVEN an older pending deposit, the created deposit (pending), and a newer one
    // that succeeded
    let world = sample_world();
    world.deposit_of(MERCHANT, 1000, Stage::Pending).await;
    world.clock.advance(Duration::seconds(1));
    deposit_created(&world).await;
    world.clock.advance(Duration::seconds(1));
    world.deposit_of(MERCHANT, 1000, Stage::Succeeded).await;

    // WHEN the sample is invoked
    let reply = world.send(SAMPLES.http_request(LIST_DEPOSITS)).await;

    // THEN its query was read: the newest pending deposit only, and more behind it
    let (deposits, has_more) = reply.assert_list();
    assert_eq!(deposits.len(), 1, "{}", reply.text);
    assert_eq!(deposits[0]["id"], DEPOSIT_ID);
    assert_eq!(deposits[0]["status"], "pending");
    assert!(has_more);
}

async fn get_deposit_case() {
    // GIVEN the created deposit, WHEN the sample is invoked, THEN 200 with that deposit
    let deposit = read_after_create(GET_DEPOSIT).await;
    assert_eq!(deposit["id"], DEPOSIT_ID);
    assert_eq!(deposit["object"], "deposit");
    assert_eq!(deposit["status"], "pending");
    assert_eq!(deposit["amount"], sample_body(CREATE_DEPOSIT)["amount"]);
}

async fn get_deposit_events_case() {
    // GIVEN the created deposit, WHEN the sample is invoked, THEN 200 with its audit
    // trail: the one DepositRequested so far
    let list = read_after_create(GET_DEPOSIT_EVENTS).await;
    assert_eq!(list["object"], "list");
    assert_eq!(list["deposit_id"], DEPOSIT_ID);
    let events = list["data"].as_array().expect("a list of events");
    assert_eq!(events.len(), 1, "{list}");
    assert_eq!(events[0]["type"], "DepositRequested");
    assert_eq!(events[0]["version"], 1);
    assert_eq!(events[0]["correlation_id"], CORRELATION);
    assert_eq!(
        events[0]["data"]["amount"],
        sample_body(CREATE_DEPOSIT)["amount"]
    );
}

async fn create_refund_case() {
    // GIVEN the deposit, created by the create-deposit sample and paid at a gateway
    let world = sample_world();
    deposit_created(&world).await;
    payment_succeeded(&world).await;

    // WHEN the sample is invoked
    let reply = world.send(SAMPLES.http_request(CREATE_REFUND)).await;

    // THEN 202 with the pending refund of the amount the sample asked for
    reply.assert_json(StatusCode::ACCEPTED);
    reply.assert_not_replayed();
    let refund = reply.json();
    assert_eq!(refund["object"], "refund");
    assert_eq!(refund["deposit_id"], DEPOSIT_ID);
    assert_eq!(refund["amount"], sample_body(CREATE_REFUND)["amount"]);
    assert_eq!(refund["currency"], sample_body(CREATE_DEPOSIT)["currency"]);
    assert_eq!(refund["status"], "pending");
    assert_eq!(refund["deposit"]["id"], DEPOSIT_ID);
    assert_eq!(refund["deposit"]["status"], "succeeded");
    let refund_id = refund["id"].as_str().expect("a refund id");
    assert!(Uuid::parse_str(refund_id).is_ok(), "{refund_id}");

    // AND the stream records it, and the processor is asked to send it to the gateway
    let events = world.stored_events(deposit_id()).await;
    assert!(
        matches!(
            &events.last().expect("events").event,
            DepositEvent::RefundRequested { refund_id: id, .. } if id.0.to_string() == refund_id
        ),
        "{events:?}"
    );
    let queued = world.drain_queue();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].body.deposit_id, deposit_id());
}

async fn create_payout_case() {
    // GIVEN the deposit, created by the create-deposit sample and paid at a gateway: its
    // amount is the merchant's available balance
    let world = sample_world();
    deposit_created(&world).await;
    payment_succeeded(&world).await;
    let deposited = sample_body(CREATE_DEPOSIT)["amount"]
        .as_i64()
        .expect("an amount");
    let asked = sample_body(CREATE_PAYOUT);
    let amount = asked["amount"].as_i64().expect("an amount");

    // WHEN the sample is invoked
    let reply = world.send(SAMPLES.http_request(CREATE_PAYOUT)).await;

    // THEN 202 with the pending payout the sample asked for, at its Location
    reply.assert_json(StatusCode::ACCEPTED);
    reply.assert_not_replayed();
    let payout = reply.json();
    assert_eq!(payout["object"], "payout");
    assert_eq!(payout["status"], "pending");
    for field in ["amount", "currency", "country", "metadata"] {
        assert_eq!(payout[field], asked[field], "{field}");
    }
    let id = reply.deposit_id();
    assert_ne!(id, deposit_id(), "a payout of its own");
    assert_eq!(
        reply.header("location"),
        Some(format!("/v1/payouts/{id}").as_str())
    );

    // AND its amount is reserved from the deposit's, and the processor is asked to send it
    let balance = world
        .send(paygate_kit::http::get(API_KEY, "/v1/balance"))
        .await
        .json();
    let aed = serde_json::json!({ "currency": "AED", "available": deposited - amount, "reserved": amount });
    assert_eq!(balance["data"], serde_json::json!([aed]));
    let queued = world.drain_queue();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].body.deposit_id, id);

    // AND invoking the sample again replays the same payout (same Idempotency-Key)
    let again = world.send(SAMPLES.http_request(CREATE_PAYOUT)).await;
    again.assert_json(StatusCode::ACCEPTED);
    again.assert_replayed();
    assert_eq!(again.json(), payout);
}

// ================================================================ coverage

/// Every file in `events/deposit-intake/` runs through its case; a file without one fails.
#[tokio::test]
async fn every_sample_file_runs_through_a_case() {
    for name in SAMPLES.files() {
        match name.as_str() {
            CREATE_DEPOSIT => create_deposit_case().await,
            GET_DEPOSIT => get_deposit_case().await,
            GET_DEPOSIT_EVENTS => get_deposit_events_case().await,
            CREATE_REFUND => create_refund_case().await,
            LIST_GATEWAYS => list_gateways_case().await,
            LIST_DEPOSITS => list_deposits_case().await,
            CREATE_PAYOUT => create_payout_case().await,
            other => SAMPLES.missing_case(other, file!()),
        }
    }
}

/// events/README.md lists every sample and the fixed values they depend on.
#[test]
fn the_events_readme_documents_these_samples_and_their_fixed_values() {
    SAMPLES.assert_readme_lists(&[DEPOSIT_ID, API_KEY, MERCHANT]);
}

// ================================================================ reading the samples

/// The JSON body the sample sends.
fn sample_body(name: &str) -> serde_json::Value {
    SAMPLES.http(name).body_json()
}

/// The body of the single record in the processor's SQS sample.
fn sqs_sample_body() -> String {
    let json = Samples::of("gateway-processor").json("sqs-batch.json");
    let records = json["Records"].as_array().expect("SQS Records");
    assert_eq!(records.len(), 1, "one record");
    records[0]["body"]
        .as_str()
        .expect("a string body")
        .to_owned()
}

// ================================================================ the world the samples need

/// The in-memory intake with the samples' merchant registered, whose next deposit gets
/// the samples' id.
fn sample_world() -> World {
    let mut world = World::new();
    world.register(API_KEY, MERCHANT);
    world.intake.ids = Arc::new(FixedIds::starting_with([deposit_id().0]));
    world
}

/// GIVEN-helper: the create-deposit sample was invoked; its message is consumed.
async fn deposit_created(world: &World) -> Reply {
    let reply = world.send(SAMPLES.http_request(CREATE_DEPOSIT)).await;
    reply.assert_json(StatusCode::ACCEPTED);
    assert_eq!(reply.deposit_id(), deposit_id());
    world.drain_queue();
    reply
}

/// GIVEN-helper: the processor submitted the deposit to a gateway and the gateway's
/// webhook reported it paid, recorded by the same use cases the processor and the
/// webhook function run.
async fn payment_succeeded(world: &World) {
    let gateway = "acme_json";
    let external_id = "pay_8c4e2a6f1b3d5e7092a4c6e8f0b2d4a6";
    let correlation = CorrelationId(CORRELATION.into());
    let (store, clock) = (world.store.as_ref(), world.clock.as_ref());
    let events = fixtures::submission(deposit_id(), gateway, external_id);
    let causation = Some("sample-sqs-message");
    fixtures::record(store, clock, deposit_id(), CORRELATION, causation, events).await;
    let applied = apply_notification(
        &OutcomePorts {
            store: world.store.as_ref(),
            clock: world.clock.as_ref(),
            ids: &RandomIds,
            queue: world.queue.as_ref(),
        },
        gateway,
        &GatewayNotification {
            event_id: "evt_5e1f3a7c9b2d4f6a8c0e1b3d5f7a9c2e".into(),
            ..paygate_kit::gateway_reports::notification(
                world.store.as_ref(),
                gateway,
                external_id,
                NotifiedOutcome::PaymentSucceeded,
            )
            .await
        },
        &correlation,
    )
    .await
    .expect("the webhook applies");
    assert_eq!(
        applied,
        Applied::Recorded(Reached::deposit(DepositStatus::Succeeded))
    );
}
