//! The scheduled health probe and recovery sweeper (`health_probe::run_once`) on
//! DynamoDB + SQS + EventBridge (emulated), in front of simulated gateways: an unhealthy
//! gateway skipped by routing and restored, a lost message re-enqueued, a silent
//! submission reconciled from the gateway, the outcome reaching a rule on the bus, a
//! refund whose message was lost sent and settled, and a capture of another amount
//! recorded as an anomaly (on the bus) whose charge is refunded.
//!
//! moto never fires scheduled rules, so each test invokes `run_once` itself. The probe is
//! wired like `functions/health-probe/src/main.rs` (registry, plain store as store and
//! index, the queue, the bus), except that, because the tables are shared by every test:
//! * its clock is a `ManualClock` hours in the future, so every cut-off has passed for
//!   this test's deposits (it only reads and writes this test's gateways and deposits);
//! * it sees only this test's gateways (the registry behind a kit `Hooked` listing only
//!   those whose name has the test's prefix) and only this test's deposits (the sweep
//!   index behind one listing only the deposits it created: its answers filtered
//!   to the ids this test created; the queries themselves are the real GSI queries, with
//!   a `limit` large enough for every deposit in the shared tables).
//!
//! Every read and write still goes to DynamoDB through the real adapters.
//!
//! Each test has its own merchant and queue (a [`World`]), its own gateways (unique
//! names) serving a country/currency pair no other test file uses, and its own processor
//! (the REAL handler, fed from that queue), and removes its gateways and queue when done.

use gateway_processor::Processor;
use gateway_simulator::{Behaviour, Format, PaymentStatus, RefundStatus, RunningGateway};
use health_probe::{Probe, RunSummary, run_once};
use lambda_http::Body;
use paygate_aws::{BusTap, EVENT_SOURCE, TappedEvent};
use paygate_domain::deposit::AnomalyKind;
use paygate_domain::gateways::{GatewayStatus, Health};
use paygate_domain::ports::{RandomIds, SystemClock};
use paygate_domain::service::probe::ProbePolicy;
use paygate_domain::service::sweep::SweepPolicy;
use paygate_domain::{DepositEvent, DepositId, DepositStatus, DepositView, RecordedEvent};
use paygate_integration::bus::{close_tap, deposit_event_pattern, tap_bus, with_event_id};
use paygate_integration::processing::loopback_connectors;
use paygate_integration::{
    Reply, World, card_deposit_body, clean_up, delete_gateways_and_queues, pairs,
    remove_gateways_serving,
};
use paygate_kit::faults::{Hooked, NoFaults};
use paygate_kit::fixtures::submitted_external_id;
use paygate_kit::gateways::{Simulated, calm, health_down};
use paygate_kit::sqs::invoke_deleting;
use paygate_memory::{ManualClock, MemoryQueue};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use uuid::Uuid;

/// How long a test waits for something that should happen soon before failing.
const PATIENCE: Duration = Duration::from_secs(8);

// ================================================================ (1) health and routing

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unhealthy_gateway_is_skipped_by_routing_and_restored_after_it_recovers() {
    // GIVEN two gateways for the pair; the preferred one's health check answers 503
    let lane = Lane::new(pairs::UNHEALTHY).await;
    let primary = lane.gateway("primary", Format::Json, 1, calm()).await;
    let backup = lane.gateway("backup", Format::Soap, 2, calm()).await;
    let tap = lane
        .tap(json!({
            "source": [EVENT_SOURCE],
            "detail-type": ["GatewayHealthChanged"],
            "detail": { "gateway": [primary.name()] },
        }))
        .await;
    primary.set_behaviour(health_down());

    // WHEN the probe runs three times, a minute apart
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(lane.run().await);
        lane.advance(time::Duration::minutes(1));
    }

    // THEN it is degraded, degraded, then unhealthy, as stored in the registry
    let counts: Vec<_> = runs
        .iter()
        .map(|r| (r.probed, r.healthy, r.degraded, r.unhealthy))
        .collect();
    assert_eq!(counts, [(2, 1, 1, 0), (2, 1, 1, 0), (2, 1, 0, 1)]);
    let status = lane.status_of(&primary).await;
    assert_eq!(
        (status.health, status.consecutive_probe_failures),
        (Health::Unhealthy, 3)
    );
    assert!(status.last_checked_at.is_some());

    // WHEN a deposit is processed
    let first = lane.deposit("tok_visa").await;
    lane.drain().await;

    // THEN routing skips the unhealthy gateway: the backup takes it, the primary is not
    // even called
    let view = lane.view(first).await;
    assert_eq!(view.status, DepositStatus::Submitted);
    assert_eq!(view.gateway.as_deref(), Some(backup.name()));
    assert!(primary.payments().is_empty());
    assert_eq!(
        lane.kinds(first).await,
        ["DepositRequested", "AttemptStarted", "DepositSubmitted"],
        "one attempt, straight at the backup"
    );

    // WHEN its health check passes again and the probe runs once
    primary.set_behaviour(calm());
    let recovered = lane.run().await;

    // THEN it is healthy at once, and the next deposit goes to it
    assert_eq!(recovered.changed, [primary.name()]);
    assert_eq!(
        lane.status_of(&primary).await.health,
        Health::Healthy,
        "{recovered:?}"
    );
    let second = lane.deposit("tok_visa").await;
    lane.drain().await;
    assert_eq!(
        lane.view(second).await.gateway.as_deref(),
        Some(primary.name())
    );
    assert_eq!(primary.charges(&format!("{second}:1")), 1);

    // ... and the bus carried each of its health changes, once
    let changes = receive_until(&tap, 3, |_| true).await;
    tap.remove().await.expect("remove the test's tap");
    let seen: Vec<(String, String)> = changes
        .iter()
        .map(|e| {
            (
                e.detail["from"].as_str().unwrap_or_default().to_owned(),
                e.detail["to"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("healthy".into(), "degraded".into()),
            ("degraded".into(), "unhealthy".into()),
            ("unhealthy".into(), "healthy".into()),
        ]
    );
}

// ================================================================ (2) lost messages

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deposit_whose_message_was_lost_is_re_enqueued_by_the_sweeper_and_completes() {
    // GIVEN a deposit the intake committed whose message never reached the queue, on a
    // gateway that settles payments quickly (and sends no webhook)
    let lane = Lane::new(pairs::LOST_MESSAGE).await;
    let psp = lane.gateway("psp", Format::Json, 1, settling()).await;
    let id = lane.lost_deposit("tok_success").await;
    assert!(lane.drain().await.is_empty(), "nothing on the queue");
    assert_eq!(lane.view(id).await.status, DepositStatus::Pending);

    // WHEN the probe runs (past `pending_after` for this deposit)
    let run = lane.run().await;

    // THEN its message is sent again, and the processor submits it
    assert_eq!((run.requeued, run.sweep_failures), (1, 0), "{run:?}");
    assert_eq!(lane.drain().await, [id]);
    let view = lane.view(id).await;
    assert_eq!(view.status, DepositStatus::Submitted);
    assert_eq!(view.gateway.as_deref(), Some(psp.name()));
    assert_eq!(psp.charges(&format!("{id}:1")), 1);

    // WHEN its payment settles and the probe runs again
    wait_until_settled(&psp, 1).await;
    lane.advance(time::Duration::minutes(1));
    let next = lane.run().await;

    // THEN the deposit completes, and nothing was sent again
    assert_eq!((next.requeued, next.submitted_settled), (0, 1), "{next:?}");
    assert_eq!(lane.view(id).await.status, DepositStatus::Succeeded);
    assert!(lane.drain().await.is_empty());
    assert_eq!(psp.payments().len(), 1);
}

// ================================================================ (3) silent submissions

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_submitted_deposit_whose_webhook_never_comes_is_reconciled_from_the_gateways_status() {
    // GIVEN two deposits submitted to a SOAP gateway that settles them (one succeeds,
    // one fails) and never sends a webhook
    let lane = Lane::new(pairs::SILENT_GATEWAY).await;
    let psp = lane.gateway("psp", Format::Soap, 1, settling()).await;
    let succeeds = lane.deposit("tok_success").await;
    let fails = lane.deposit("tok_fail_webhook").await;
    assert_eq!(lane.drain().await.len(), 2);
    for id in [succeeds, fails] {
        assert_eq!(lane.view(id).await.status, DepositStatus::Submitted);
    }
    wait_until_settled(&psp, 2).await;

    // WHEN the probe runs (past `submitted_after` for these deposits)
    let run = lane.run().await;

    // THEN each is settled with what the gateway reports
    assert_eq!(
        (run.submitted_settled, run.sweep_failures),
        (2, 0),
        "{run:?}"
    );
    let view = lane.view(succeeds).await;
    assert_eq!(view.status, DepositStatus::Succeeded);
    let events = lane.events(succeeds).await;
    let external_id = submitted_external_id(&events).expect("the deposit was submitted");
    assert!(external_id.starts_with("txn_"), "{external_id}");
    assert_eq!(
        events.last().map(|e| &e.event),
        Some(&DepositEvent::DepositSucceeded { external_id })
    );
    assert_eq!(lane.view(fails).await.status, DepositStatus::Failed);
    match &lane.events(fails).await.last().expect("events").event {
        DepositEvent::DepositFailed { reason } => assert_eq!(reason.code, "insufficient_funds"),
        other => panic!("expected DepositFailed, got {other:?}"),
    }
    // ... once: a later run finds nothing more to do
    lane.advance(time::Duration::minutes(1));
    let again = lane.run().await;
    assert_eq!(again.submitted_settled, 0, "{again:?}");
    for id in [succeeds, fails] {
        assert_eq!(lane.kinds(id).await.len(), 4, "{:?}", lane.kinds(id).await);
    }
}

// ================================================================ (4) the bus

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rule_on_the_bus_receives_deposit_succeeded_for_a_deposit_completed_by_the_sweeper() {
    // GIVEN a rule on the bus for this deposit's DepositSucceeded, targeting a queue
    let lane = Lane::new(pairs::BUS).await;
    let psp = lane.gateway("psp", Format::Json, 1, settling()).await;
    let id = lane.deposit("tok_success").await;
    let tap = lane
        .tap(deposit_event_pattern("DepositSucceeded", id))
        .await;

    // WHEN the real flow completes it: intake → processor (both through the publishing
    // store) → the gateway settles without a webhook → the probe reconciles it, and a
    // run after `unpublished_after` publishes what that run recorded
    lane.process_and_settle(id, &psp).await;
    let settled = lane.run().await;
    assert_eq!(settled.submitted_settled, 1, "{settled:?}");
    lane.advance(lane.probe.sweep.unpublished_after + time::Duration::seconds(1));
    let published = lane.run().await;
    assert_eq!(published.sweep_failures, 0, "{published:?}");

    // THEN the rule's queue receives the DepositSucceeded, once, with the stored event's
    // id and the deposit's details
    let stored = lane
        .events(id)
        .await
        .into_iter()
        .find(|e| matches!(e.event, DepositEvent::DepositSucceeded { .. }))
        .expect("the success is stored");
    let event_id = stored.event_id.to_string();
    let received = receive_until(&tap, 1, |e| e.detail["event_id"] == event_id.as_str()).await;
    let received = close_tap(&tap, received).await;
    let ours = with_event_id(&received, &event_id);
    assert_eq!(ours.len(), 1, "{received:?}");
    let event = ours[0];
    assert_eq!(event.source, EVENT_SOURCE);
    assert_eq!(event.detail_type, "DepositSucceeded");
    let detail = &event.detail;
    assert_eq!(detail["deposit_id"], id.to_string().as_str());
    assert_eq!(detail["merchant_id"], lane.world.merchant.0.as_str());
    assert_eq!(detail["version"], stored.version);
    assert_eq!(detail["amount"], 12_500);
    assert_eq!(detail["currency"], pairs::BUS.1);
    assert_eq!(detail["country"], pairs::BUS.0);
    assert_eq!(detail["gateway"], psp.name());
    assert_eq!(
        detail["external_id"],
        submitted_external_id(&lane.events(id).await)
            .expect("the deposit was submitted")
            .as_str()
    );
    assert_eq!(lane.view(id).await.status, DepositStatus::Succeeded);
}

// ================================================================ (5) refunds

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refund_whose_message_was_lost_is_sent_by_the_sweeper_and_settled_from_the_gateway() {
    // GIVEN a succeeded deposit at a gateway that sends no webhooks, and a refund the
    // intake recorded whose message never reached the queue
    let lane = Lane::new(pairs::LOST_REFUND).await;
    let psp = lane.gateway("psp", Format::Json, 1, settling()).await;
    let id = lane.succeeded_deposit("tok_success", &psp).await;
    let refund = lane.lost_refund(id, 5_000).await;
    assert!(lane.drain().await.is_empty(), "nothing on the queue");

    // WHEN the probe runs (past `refund_after`; the refund is in the sweep index's
    // refunding partition)
    let run = lane.run().await;

    // THEN the deposit's message is sent again, and the processor submits the refund
    assert_eq!((run.requeued, run.sweep_failures), (1, 0), "{run:?}");
    assert_eq!(lane.drain().await, [id]);
    let payment = &psp.payments()[0];
    assert_eq!(payment.refunds.len(), 1);
    assert_eq!(payment.refunds[0].amount, 5_000);

    // WHEN the gateway settles it and the probe runs again
    wait_until_refunds_settled(&psp, 1).await;
    lane.advance(time::Duration::minutes(1));
    let next = lane.run().await;

    // THEN the refund is settled from the gateway's status: partially refunded, once
    assert_eq!((next.refunds_settled, next.requeued), (1, 0), "{next:?}");
    let view = lane.view(id).await;
    assert_eq!(view.status, DepositStatus::PartiallyRefunded);
    assert_eq!(view.refunded_amount, 5_000);
    let kinds = lane.kinds(id).await;
    assert_eq!(
        kinds[kinds.len() - 3..],
        ["RefundRequested", "RefundSubmitted", "RefundSucceeded"]
    );
    assert!(
        lane.events(id).await.iter().any(|e| matches!(
            &e.event,
            DepositEvent::RefundSucceeded { refund_id } if refund_id.to_string() == refund
        )),
        "the merchant's refund succeeded"
    );
    lane.advance(time::Duration::minutes(1));
    assert_eq!(lane.run().await.refunds_settled, 0);
    assert_eq!(psp.payments()[0].refunds.len(), 1, "refunded once");
}

// ================================================================ (6) anomalies

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_capture_of_another_amount_is_an_anomaly_on_the_bus_and_the_charge_is_refunded() {
    // GIVEN a gateway that captures another amount than asked (and sends no webhooks),
    // and a rule on the bus for this lane's anomalies
    let lane = Lane::new(pairs::AMOUNT_MISMATCH).await;
    let psp = lane
        .gateway(
            "psp",
            Format::Soap,
            1,
            Behaviour {
                capture_mismatch_rate: 1.0,
                ..settling()
            },
        )
        .await;
    let id = lane.deposit("tok_success").await;
    let tap = lane
        .tap(deposit_event_pattern("PaymentAnomalyDetected", id))
        .await;
    lane.process_and_settle(id, &psp).await;
    let captured = psp.payments()[0].amount;
    assert_ne!(captured, 12_500, "the gateway took another amount");

    // WHEN the probe settles the submission from the gateway's status
    let run = lane.run().await;

    // THEN the deposit fails, the surprise is recorded as an anomaly, and a refund of
    // what was captured is requested and sent at once
    assert_eq!(
        (run.submitted_settled, run.requeued, run.sweep_failures),
        (1, 1, 0),
        "{run:?}"
    );
    let view = lane.view(id).await;
    assert_eq!(view.status, DepositStatus::Failed);
    let events = lane.events(id).await;
    let anomaly = events
        .iter()
        .find_map(|e| match &e.event {
            DepositEvent::PaymentAnomalyDetected { anomaly } => Some(anomaly.clone()),
            _ => None,
        })
        .expect("an anomaly is recorded");
    assert_eq!(anomaly.kind, AnomalyKind::AmountMismatch);
    assert_eq!(
        anomaly.charged.map(|m| m.amount.minor() as i64),
        Some(captured)
    );
    assert_eq!(lane.drain().await, [id]);

    // WHEN the gateway settles the refund and the probe runs again
    wait_until_refunds_settled(&psp, 1).await;
    lane.advance(time::Duration::minutes(1));
    let next = lane.run().await;

    // THEN the whole capture is refunded, and the anomaly reached the bus
    assert_eq!(next.refunds_settled, 1, "{next:?}");
    let payment = &psp.payments()[0];
    assert_eq!(payment.refunded, captured);
    assert_eq!(lane.view(id).await.status, DepositStatus::Failed);
    lane.advance(lane.probe.sweep.unpublished_after + time::Duration::seconds(1));
    lane.run().await;
    let received = receive_until(&tap, 1, |_| true).await;
    tap.remove().await.expect("remove the test's tap");
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].detail_type, "PaymentAnomalyDetected");
    assert_eq!(received[0].detail["deposit_id"], id.to_string().as_str());
}

// ================================================================ the lane

/// A gateway that works and settles its payments 100 ms after taking them (no webhook
/// URL: only a status query learns the outcome).
fn settling() -> Behaviour {
    Behaviour {
        webhook_delay_ms: 100,
        ..Behaviour::default()
    }
}

/// One test's world: merchant and queue (a [`World`]), gateways, processor and probe.
struct Lane {
    world: World,
    pair: (&'static str, &'static str),
    /// This test's gateways' names start with it.
    prefix: String,
    processor: Processor,
    probe: Probe,
    probe_clock: Arc<ManualClock>,
    /// The deposits this test created: the only ones its probe's sweep index finds.
    own: Arc<Mutex<HashSet<DepositId>>>,
    gateways: Mutex<Vec<String>>,
    taps: Mutex<Vec<BusTap>>,
}

impl Lane {
    async fn new(pair: (&'static str, &'static str)) -> Self {
        let mut world = World::new().await;
        remove_gateways_serving(&world, pair).await;
        // Intake and processor write through the publishing store, as deployed.
        world.intake.store = world.aws.publishing_store();
        let prefix = format!("it-rec-{}-", &Uuid::new_v4().simple().to_string()[..10]);
        let processor = Processor::new(
            world.aws.publishing_store(),
            world.aws.registry.clone(),
            loopback_connectors(),
            world.queue.clone(),
            Arc::new(SystemClock),
            world.intake.cipher.clone(),
        );
        let probe_clock = Arc::new(ManualClock::new(
            OffsetDateTime::now_utc() + time::Duration::hours(3),
        ));
        let own: Arc<Mutex<HashSet<DepositId>>> = Arc::default();
        let index = {
            let own = own.clone();
            Hooked::new(world.aws.store.clone(), Arc::new(NoFaults))
                .listing_deposits(move |id| own.lock().unwrap().contains(id))
        };
        let registry = {
            let prefix = prefix.clone();
            Hooked::new(world.aws.registry.clone(), Arc::new(NoFaults))
                .listing_gateways(move |g| g.config.name.starts_with(&prefix))
        };
        let probe = Probe {
            registry: Arc::new(registry),
            connectors: loopback_connectors(),
            store: world.aws.store.clone(),
            index: Arc::new(index),
            queue: world.queue.clone(),
            publisher: world.aws.bus.clone(),
            clock: probe_clock.clone(),
            ids: Arc::new(RandomIds),
            policy: ProbePolicy::default(),
            sweep: SweepPolicy {
                // Oldest first over the shared tables: large enough for all of them.
                limit: 5_000,
                ..SweepPolicy::default()
            },
            attempts: paygate_domain::service::process::AttemptPolicy::default(),
            sweep_budget: Duration::from_secs(15),
        };
        Self {
            world,
            pair,
            prefix,
            processor,
            probe,
            probe_clock,
            own,
            gateways: Mutex::default(),
            taps: Mutex::default(),
        }
    }

    /// Starts a simulated gateway (no webhook URL) serving this lane's pair and
    /// registers it with `priority` (lower is preferred).
    async fn gateway(
        &self,
        label: &str,
        format: Format,
        priority: u32,
        behaviour: Behaviour,
    ) -> RunningGateway {
        let name = format!("{}{label}", self.prefix);
        let sim = Simulated::new(name.clone(), format)
            .secret("whsec_it")
            .behaving(behaviour)
            .spawn()
            .await;
        self.world.register_gateway(&sim, priority, self.pair).await;
        self.gateways.lock().unwrap().push(name);
        sim
    }

    /// A rule on paygate's bus matching `pattern`, targeting a queue of its own.
    async fn tap(&self, pattern: Value) -> BusTap {
        let tap = tap_bus(&self.world.aws, "paygate-it-rec-", &pattern).await;
        self.taps.lock().unwrap().push(tap.clone());
        tap
    }

    fn advance(&self, by: time::Duration) {
        self.probe_clock.advance(by);
    }

    /// One scheduled run of the probe.
    async fn run(&self) -> RunSummary {
        run_once(&self.probe).await.expect("a probe run")
    }

    /// A deposit taken by the intake handler (which queues it).
    async fn deposit(&self, token: &str) -> DepositId {
        let id = self.world.card_deposit(self.pair, token).await;
        self.own.lock().unwrap().insert(id);
        id
    }

    /// A deposit the intake handler committed and "sent", but whose message was lost.
    async fn lost_deposit(&self, token: &str) -> DepositId {
        let reply = self
            .with_a_lost_message("/v1/deposits", card_deposit_body(self.pair, token))
            .await;
        self.created(reply)
    }

    /// A refund of `amount` the intake handler recorded and "sent", but whose message was
    /// lost; its id.
    async fn lost_refund(&self, id: DepositId, amount: u64) -> String {
        let path = format!("/v1/deposits/{id}/refunds");
        let reply = self
            .with_a_lost_message(&path, json!({ "amount": amount }).to_string())
            .await;
        assert_eq!(reply.status, 202, "{:?}", reply.json);
        reply.json["id"].as_str().expect("a refund id").to_owned()
    }

    /// POSTs `body` to the intake handler, whose queue loses what it is sent.
    async fn with_a_lost_message(&self, path: &str, body: String) -> Reply {
        let mut intake = self.world.intake.clone();
        // A queue nobody reads: the send "succeeds" and the message is lost.
        intake.queue = Arc::new(MemoryQueue::default());
        let request = http::Request::builder()
            .method("POST")
            .uri(path)
            .header("authorization", format!("Bearer {}", self.world.api_key))
            .header("content-type", "application/json")
            .header("idempotency-key", Uuid::new_v4().to_string())
            .body(Body::Text(body))
            .unwrap();
        Reply::from(deposit_intake::handle(&intake, request).await)
    }

    /// A deposit processed and settled `succeeded` from `psp`'s status by the probe.
    async fn succeeded_deposit(&self, token: &str, psp: &RunningGateway) -> DepositId {
        let id = self.deposit(token).await;
        self.process_and_settle(id, psp).await;
        let run = self.run().await;
        assert_eq!(run.submitted_settled, 1, "{run:?}");
        assert_eq!(self.view(id).await.status, DepositStatus::Succeeded);
        id
    }

    /// Hands the queue to the processor, which must find the deposit `id` alone on it,
    /// then waits until `psp` settled every payment it holds (it sends no webhook: only
    /// the probe learns the outcome).
    async fn process_and_settle(&self, id: DepositId, psp: &RunningGateway) {
        assert_eq!(self.drain().await, [id]);
        let payments = psp.payments().len();
        assert!(payments > 0, "{} took no payment", psp.name());
        wait_until_settled(psp, payments).await;
    }

    fn created(&self, reply: Reply) -> DepositId {
        assert_eq!(reply.status, 202, "{:?}", reply.json);
        let id = DepositId::parse(reply.json["id"].as_str().expect("an id")).expect("a UUID");
        self.own.lock().unwrap().insert(id);
        id
    }

    /// Feeds the queue to the processor's handler the way Lambda's event source mapping
    /// does until nothing is visible; returns the deposit ids handed over, in order.
    async fn drain(&self) -> Vec<DepositId> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        loop {
            let invocation = invoke_deleting(self.world.queue.as_ref(), &self.processor).await;
            if invocation.received.is_empty() {
                return seen;
            }
            assert!(Instant::now() < deadline, "the queue never drained");
            for message in &invocation.received {
                let body = message.deposit_message().expect("a deposit message");
                seen.push(body.deposit_id);
            }
        }
    }

    async fn view(&self, id: DepositId) -> DepositView {
        self.world.view(id).await
    }

    async fn events(&self, id: DepositId) -> Vec<RecordedEvent> {
        self.world.events(id).await
    }

    async fn kinds(&self, id: DepositId) -> Vec<&'static str> {
        self.events(id)
            .await
            .iter()
            .map(|e| e.event.kind())
            .collect()
    }

    async fn status_of(&self, gateway: &RunningGateway) -> GatewayStatus {
        paygate_kit::gateways::status_of(self.world.aws.registry.as_ref(), gateway.name()).await
    }
}

impl Drop for Lane {
    /// Removes the lane's gateways from the shared table, its taps and its queue, on a
    /// thread of its own with fresh clients (the test's runtime may be shutting down).
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.gateways.lock().unwrap_or_else(|p| p.into_inner()));
        let taps = std::mem::take(&mut *self.taps.lock().unwrap_or_else(|p| p.into_inner()));
        let table = self.world.aws.resources.gateways_table.clone();
        let queue = self.world.queue.url().to_owned();
        clean_up(move |config| async move {
            for tap in taps {
                // Already removed by a test that got that far: errors are expected.
                let _ = tap.remove().await;
            }
            delete_gateways_and_queues(&config, &table, names, vec![queue]).await;
        });
    }
}

/// Waits until `sim` holds `count` payments, none of them pending any more.
async fn wait_until_settled(sim: &RunningGateway, count: usize) {
    let payments = || sim.payments();
    wait_until_none_pending(sim, "payments", count, payments, |p| {
        p.status == PaymentStatus::Pending
    })
    .await;
}

/// Waits until `sim` holds `count` refunds, none of them pending any more.
async fn wait_until_refunds_settled(sim: &RunningGateway, count: usize) {
    let refunds = || sim.payments().into_iter().flat_map(|p| p.refunds).collect();
    wait_until_none_pending(sim, "refunds", count, refunds, |r| {
        r.status == RefundStatus::Pending
    })
    .await;
}

/// Polls `items` (`what` of `sim`) until there are `count` of them, none `pending`;
/// fails after [`PATIENCE`].
async fn wait_until_none_pending<T: std::fmt::Debug>(
    sim: &RunningGateway,
    what: &str,
    count: usize,
    items: impl Fn() -> Vec<T>,
    pending: impl Fn(&T) -> bool,
) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let items = items();
        if items.len() >= count && !items.iter().any(&pending) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}'s {what} never settled: {items:?}",
            sim.name()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Receives from `tap` until `count` events matching `wanted` arrived (or ~10 s passed),
/// returning the matching ones in the order received.
async fn receive_until(
    tap: &BusTap,
    count: usize,
    wanted: impl Fn(&TappedEvent) -> bool,
) -> Vec<TappedEvent> {
    let mut found = Vec::new();
    for _ in 0..10 {
        let batch = tap.receive(1).await.expect("receive from the tap");
        found.extend(batch.into_iter().filter(|e| wanted(e)));
        if found.len() >= count {
            break;
        }
    }
    found
}
