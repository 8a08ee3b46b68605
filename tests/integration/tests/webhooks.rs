//! The whole payment lifecycle on DynamoDB + SQS (emulated), settled by REAL signed
//! webhooks: the intake handler takes a deposit, the gateway processor sends it to a
//! simulated PSP (a real HTTP server speaking WIRE.md), the PSP later POSTs its signed
//! outcome to a small HTTP server that hosts `webhook_callback::handle` the way API
//! Gateway does (like the devstack's bridge), and the handler records it.
//!
//! Tests share the tables, so each test has a lane of its own: a fresh merchant and
//! queue (a [`World`]), a gateway with a unique name serving a country/currency pair no
//! other test file uses, its own webhook server, and its own processor.

use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{Request as AxumRequest, State};
use axum::response::Response as AxumResponse;
use gateway_processor::{Disposition, Processor, process_record};
use gateway_simulator::{Behaviour, Format, RunningGateway};
use lambda_http::Body as LambdaBody;
use paygate_api::request::lambda_body;
use paygate_domain::ports::SystemClock;
use paygate_domain::{DepositEvent, DepositId, DepositStatus, DepositView, RecordedEvent};
use paygate_gateways::ConnectorCache;
use paygate_integration::{
    World, clean_up, delete_gateways_and_queues, pairs, remove_gateways_serving,
};
use paygate_kit::faults::{Hooked, Switchboard, Target};
use paygate_kit::fixtures::{kinds, submitted_external_id};
use paygate_kit::gateways::Simulated;
use paygate_kit::sqs::Received;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;
use webhook_callback::Webhooks;

/// The stream of a deposit charged once and settled succeeded by one webhook.
const SUCCEEDED_ONCE: [&str; 4] = [
    "DepositRequested",
    "AttemptStarted",
    "DepositSubmitted",
    "DepositSucceeded",
];

/// How long a test waits for a webhook to settle a deposit before failing.
const PATIENCE: Duration = Duration::from_secs(8);

// ================================================================ the lifecycle

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tok_success_deposit_is_settled_succeeded_by_the_gateways_signed_webhook() {
    // GIVEN a JSON gateway that reports outcomes 100 ms after accepting a payment
    let lane = Lane::without_faults(pairs::WEBHOOK_SUCCESS, Format::Json, 100).await;

    // WHEN a deposit is taken and processed
    let id = lane.processed_deposit("tok_success").await;

    // THEN the gateway's webhook settles it as succeeded
    let view = lane.settled(id).await;
    assert_eq!(view.status, DepositStatus::Succeeded);
    assert_eq!(view.gateway.as_deref(), Some(lane.gateway.as_str()));
    let events = lane.events(id).await;
    assert_eq!(kinds(&events), SUCCEEDED_ONCE);
    let external_id = submitted_external_id(&events).expect("a DepositSubmitted event");
    assert!(external_id.starts_with("pay_"), "{external_id}");
    assert_eq!(view.external_id.as_deref(), Some(external_id.as_str()));
    assert_eq!(
        events[3].event,
        DepositEvent::DepositSucceeded {
            external_id: external_id.clone()
        }
    );
    // ... caused by the gateway's event, which it delivered once, answered 200
    let payment = lane.payment();
    assert_eq!(payment.id, external_id);
    assert_eq!(payment.events.len(), 1);
    let event = &payment.events[0];
    assert_eq!(event.kind, "payment.succeeded");
    assert!(event.delivered);
    assert_eq!(event.attempts, 1);
    assert_eq!(
        events[3].causation_id.as_deref(),
        Some(format!("{}:{}", lane.gateway, event.id).as_str())
    );
    assert_eq!(lane.hits(), [(200, "recorded".to_owned())]);
    assert_eq!(lane.sim.charges(&format!("{id}:1")), 1);
    // ... and the merchant sees it through the API
    let read = lane.world.get(&format!("/v1/deposits/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tok_fail_webhook_deposit_is_settled_failed_by_the_gateways_signed_soap_webhook() {
    // GIVEN a SOAP gateway that reports outcomes 100 ms after accepting a payment
    let lane = Lane::without_faults(pairs::WEBHOOK_FAILURE, Format::Soap, 100).await;

    // WHEN a deposit whose payment the gateway accepts, then fails, is processed
    let id = lane.processed_deposit("tok_fail_webhook").await;

    // THEN the gateway's webhook settles it as failed, with the gateway's reason
    let view = lane.settled(id).await;
    assert_eq!(view.status, DepositStatus::Failed);
    let events = lane.events(id).await;
    assert_eq!(
        kinds(&events),
        [
            "DepositRequested",
            "AttemptStarted",
            "DepositSubmitted",
            "DepositFailed"
        ]
    );
    assert!(
        submitted_external_id(&events)
            .expect("a DepositSubmitted event")
            .starts_with("txn_")
    );
    match &events[3].event {
        DepositEvent::DepositFailed { reason } => assert_eq!(reason.code, "insufficient_funds"),
        other => panic!("expected DepositFailed, got {other:?}"),
    }
    let payment = lane.payment();
    assert_eq!(payment.events.len(), 1);
    assert_eq!(payment.events[0].kind, "payment.failed");
    assert!(payment.events[0].delivered);
    assert_eq!(payment.events[0].attempts, 1);
    assert_eq!(lane.hits(), [(200, "recorded".to_owned())]);
    let read = lane.world.get(&format!("/v1/deposits/{id}")).await;
    assert_eq!(read.json["status"], "failed");
}

// ================================================================ webhook before submitted

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_that_beats_the_submission_settles_the_open_attempt_exactly_once() {
    // GIVEN a gateway that reports 50 ms after accepting, and a processor whose write of
    // the gateway's answer (DepositSubmitted, with the external-id lookup) takes ~1 s
    let faults = Switchboard::new();
    let slow = faults
        .when(Target::append().recording(&["DepositSubmitted"]))
        .delay(Duration::from_secs(1));
    let lane = Lane::new(pairs::EARLY_WEBHOOK, Format::Json, 50, faults).await;

    // WHEN a deposit is processed
    let id = lane.processed_deposit("tok_success").await;

    // THEN the webhook, arriving while the submission was still being written, settled
    // the open attempt at its gateway itself (accepted at once); the processor's late
    // write found it recorded; the deposit was settled exactly once
    let view = lane.settled(id).await;
    assert_eq!(view.status, DepositStatus::Succeeded);
    let events = lane.events(id).await;
    assert_eq!(kinds(&events), SUCCEEDED_ONCE);
    let hits = lane.hit_log();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let written = slow
        .answered_at()
        .expect("the processor's write was answered");
    assert_eq!((hits[0].status, hits[0].code.as_str()), (200, "recorded"));
    assert!(
        hits[0].at < written,
        "the webhook came before the processor's submission was answered"
    );
    let payment = lane.payment();
    assert_eq!(view.external_id.as_deref(), Some(payment.id.as_str()));
    assert_eq!(payment.events.len(), 1);
    assert!(payment.events[0].delivered);
    assert_eq!(payment.events[0].attempts, 1);
    assert_eq!(lane.sim.charges(&format!("{id}:1")), 1);
}

// ================================================================ replays over HTTP

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_captured_webhook_replayed_over_http_is_a_no_op_and_a_tampered_one_is_401() {
    // GIVEN a deposit the gateway's webhook settled as succeeded
    let lane = Lane::without_faults(pairs::REPLAYED_WEBHOOK, Format::Json, 50).await;
    let id = lane.processed_deposit("tok_success").await;
    assert_eq!(lane.settled(id).await.status, DepositStatus::Succeeded);
    let original = lane.hit_log().pop().expect("the webhook");
    let signature = original.signature.clone().expect("a signed webhook");
    let path = format!("/webhooks/{}", lane.gateway);

    // WHEN someone replays the captured request, byte for byte
    let replayed = lane.post(&path, Some(&signature), &original.body).await;
    // ... and posts it with the outcome flipped under the same signature
    let flipped = original.body.replace("payment.succeeded", "payment.failed");
    assert_ne!(flipped, original.body);
    let tampered = lane.post(&path, Some(&signature), &flipped).await;
    // ... and without any signature
    let unsigned = lane.post(&path, None, &flipped).await;

    // THEN the replay is acknowledged as a duplicate, the forgeries are 401, and the
    // deposit keeps its one outcome
    assert_eq!(replayed.0, 200, "{}", replayed.1);
    assert_eq!(replayed.1["result"], "duplicate");
    for (status, body) in [tampered, unsigned] {
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["type"], "authentication_error");
    }
    let events = lane.events(id).await;
    assert_eq!(kinds(&events), SUCCEEDED_ONCE);
    assert_eq!(lane.settled(id).await.status, DepositStatus::Succeeded);
}

// ================================================================ a submission never recorded

/// A processor crash after the gateway took the payment must not lose its success: the
/// gateway's webhook settles the open attempt, and the redelivered message finds it done.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_for_an_attempt_whose_submission_was_never_recorded_settles_the_deposit() {
    // GIVEN a processor that dies after the gateway accepted the payment (its
    // DepositSubmitted write fails once)
    let faults = Switchboard::new();
    faults
        .when(Target::append().recording(&["DepositSubmitted"]))
        .once()
        .fail("the processor died before this write");
    let lane = Lane::new(pairs::UNRECORDED_SUBMISSION, Format::Json, 50, faults).await;
    let id = lane.deposit("tok_success").await;
    assert_eq!(lane.process_one().await, Disposition::Retry);

    // WHEN the gateway's webhook arrives
    let view = lane.settled(id).await;

    // THEN it settled the deposit: its payment recorded under the open attempt
    assert_eq!(view.status, DepositStatus::Succeeded);
    assert_eq!(lane.hits(), [(200, "recorded".to_owned())]);
    assert_eq!(
        view.external_id.as_deref(),
        Some(lane.payment().id.as_str())
    );

    // WHEN the message comes back
    assert_eq!(lane.process_one().await, Disposition::Done);

    // THEN nothing more happens: one attempt, one charge
    assert_eq!(kinds(&lane.events(id).await), SUCCEEDED_ONCE);
    assert_eq!(lane.sim.charges(&format!("{id}:1")), 1);
}

// ================================================================ the lane

/// One test's world: merchant, queue, gateway, webhook server and processor of its own.
struct Lane {
    world: World,
    pair: (&'static str, &'static str),
    gateway: String,
    sim: RunningGateway,
    processor: Processor,
    hits: Arc<Mutex<Vec<Hit>>>,
    server: tokio::task::JoinHandle<()>,
    server_addr: std::net::SocketAddr,
}

/// One request the webhook server answered.
#[derive(Debug, Clone)]
struct Hit {
    at: Instant,
    path: String,
    status: u16,
    /// `result` of a 2xx, `error.code` otherwise.
    code: String,
    /// What was posted, exactly.
    signature: Option<String>,
    body: String,
}

impl Lane {
    /// Registers a gateway of `format` for `pair` whose webhooks come `webhook_delay_ms`
    /// after it accepts a payment; the processor's store calls go through `faults`.
    async fn new(
        pair: (&'static str, &'static str),
        format: Format,
        webhook_delay_ms: u64,
        faults: Arc<Switchboard>,
    ) -> Self {
        let world = World::new().await;
        remove_gateways_serving(&world, pair).await;
        let gateway = format!("it-wh-{}", &Uuid::new_v4().simple().to_string()[..12]);
        let secret = format!("whsec_it_{}", Uuid::new_v4().simple());

        // The webhook function, behind its own HTTP address.
        let webhooks = paygate_integration::webhooks_for(
            &gateway,
            format.as_str(),
            &secret,
            world.aws.store.clone(),
            world.aws.queue.clone(),
        );
        let hits = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new().fallback(forward).with_state(Bridge {
            webhooks,
            hits: hits.clone(),
        });
        let (server_addr, server) = paygate_integration::serve_on_loopback(app).await;
        let base_url = format!("http://{server_addr}");

        // The PSP, sending its webhooks there.
        let sim = Simulated::new(gateway.clone(), format)
            .secret(secret)
            .webhooks_to(base_url)
            .behaving(Behaviour {
                webhook_delay_ms,
                ..Behaviour::default()
            })
            .spawn()
            .await;
        world.register_gateway(&sim, 1, pair).await;

        // The processor, built like its main.rs builds it.
        let processor = Processor::new(
            Arc::new(Hooked::new(world.aws.store.clone(), faults)),
            world.aws.registry.clone(),
            Arc::new(ConnectorCache::new()),
            world.queue.clone(),
            Arc::new(SystemClock),
            world.intake.cipher.clone(),
        );
        Self {
            world,
            pair,
            gateway,
            sim,
            processor,
            hits,
            server,
            server_addr,
        }
    }

    /// [`Lane::new`] with a processor whose store calls never fail.
    async fn without_faults(
        pair: (&'static str, &'static str),
        format: Format,
        webhook_delay_ms: u64,
    ) -> Self {
        Self::new(pair, format, webhook_delay_ms, Switchboard::new()).await
    }

    /// A deposit in this lane's pair, created through the intake handler and handed to
    /// the processor, which is done with it.
    async fn processed_deposit(&self, token: &str) -> DepositId {
        let id = self.deposit(token).await;
        assert_eq!(self.process_one().await, Disposition::Done);
        id
    }

    /// Creates a deposit in this lane's pair through the intake handler.
    async fn deposit(&self, token: &str) -> DepositId {
        self.world.card_deposit(self.pair, token).await
    }

    /// One Lambda invocation on the one message the intake queued; deleted when done.
    async fn process_one(&self) -> Disposition {
        let received = self.world.queue.receive(1, 5).await.expect("receive");
        let message = received.first().expect("the intake queued the deposit");
        let record = Received::from(message.clone()).record();
        let disposition = process_record(&self.processor, record).await;
        match disposition {
            Disposition::Done => self
                .world
                .queue
                .delete(&message.receipt_handle)
                .await
                .expect("delete the processed message"),
            // The test plays the backoff's wait: the message is back at once.
            Disposition::Retry => self
                .world
                .queue
                .change_visibility(&message.receipt_handle, 0)
                .await
                .expect("make the message visible again"),
        }
        disposition
    }

    /// The deposit once it reaches a final outcome (succeeded or failed).
    async fn settled(&self, id: DepositId) -> DepositView {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let view = self.world.view(id).await;
            if view.status.is_final_outcome() {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "still {} after {PATIENCE:?}; webhooks answered: {:?}",
                view.status,
                self.hits()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn events(&self, id: DepositId) -> Vec<RecordedEvent> {
        self.world.events(id).await
    }

    /// The one payment the simulated gateway holds.
    fn payment(&self) -> gateway_simulator::PaymentRecord {
        let payments = self.sim.payments();
        assert_eq!(payments.len(), 1, "{payments:?}");
        payments[0].clone()
    }

    /// Every webhook request the server answered, in order.
    fn hit_log(&self) -> Vec<Hit> {
        let hits = self.hits.lock().unwrap().clone();
        let expected = format!("/webhooks/{}", self.gateway);
        assert!(hits.iter().all(|h| h.path == expected), "{hits:?}");
        hits
    }

    /// `(status, result or error code)` of every webhook request.
    fn hits(&self) -> Vec<(u16, String)> {
        self.hit_log()
            .into_iter()
            .map(|h| (h.status, h.code))
            .collect()
    }

    /// POSTs `body` to the webhook server over plain HTTP/1.1, as a gateway would;
    /// returns the status and the JSON answer.
    async fn post(&self, path: &str, signature: Option<&str>, body: &str) -> (u16, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.server_addr)
            .await
            .expect("connect to the webhook server");
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n",
            self.server_addr,
            body.len()
        );
        if let Some(signature) = signature {
            request.push_str(&format!("{}: {signature}\r\n", paygate_signature::HEADER));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .await
            .expect("read the response");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
        let json = response
            .split_once("\r\n\r\n")
            .and_then(|(_, body)| serde_json::from_str(body).ok())
            .unwrap_or(Value::Null);
        (status, json)
    }
}

impl Drop for Lane {
    /// Stops the webhook server, removes the gateway from the shared table and deletes
    /// the queue, on a thread of its own (the test's runtime may be shutting down).
    fn drop(&mut self) {
        self.server.abort();
        let table = self.world.aws.resources.gateways_table.clone();
        let name = self.gateway.clone();
        let queue = self.world.queue.url().to_owned();
        clean_up(move |config| async move {
            delete_gateways_and_queues(&config, &table, vec![name], vec![queue]).await;
        });
    }
}

// ================================================================ the webhook server

/// What API Gateway does in front of the webhook Lambda (as the devstack's bridge):
/// plain HTTP in, a Lambda HTTP request to `webhook_callback::handle`, its response out.
#[derive(Clone)]
struct Bridge {
    webhooks: Webhooks,
    hits: Arc<Mutex<Vec<Hit>>>,
}

async fn forward(State(bridge): State<Bridge>, request: AxumRequest) -> AxumResponse {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 10 * 1024 * 1024)
        .await
        .expect("read the request body");
    let request = lambda_http::Request::from_parts(parts, lambda_body(&bytes));
    let path = request.uri().path().to_owned();
    let signature = request
        .headers()
        .get(paygate_signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let posted = String::from_utf8_lossy(&bytes).into_owned();
    let response = webhook_callback::handle(&bridge.webhooks, request).await;
    let (parts, body) = response.into_parts();
    let text = match body {
        LambdaBody::Text(text) => text,
        LambdaBody::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        _ => String::new(),
    };
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let code = json["result"]
        .as_str()
        .or_else(|| json["error"]["code"].as_str())
        .unwrap_or_default()
        .to_owned();
    bridge.hits.lock().unwrap().push(Hit {
        at: Instant::now(),
        path,
        status: parts.status.as_u16(),
        code,
        signature,
        body: posted,
    });
    AxumResponse::from_parts(parts, AxumBody::from(text))
}
