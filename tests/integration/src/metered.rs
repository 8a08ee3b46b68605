//! What one deposit, one refund and one idle probe run cost in AWS requests: each
//! function wired as its `main.rs` wires it (the publishing event store included), on
//! adapters of its own whose SDK clients a [`RequestMeter`] counts, in front of a real
//! simulated gateway whose signed webhooks reach the webhook function over HTTP.
//!
//! Lambda's own SQS poller (receive, delete) is not a function's request and is left out:
//! the harness receives with an unmetered client, as the event source mapping would.
//! The request-budget tests and the `aws_requests` benchmark both run on this.

use crate::pairs::Pair;
use crate::{World, clean_up, delete_gateways_and_queues, remove_gateways_serving};
use axum::body::to_bytes;
use axum::extract::{Request as AxumRequest, State};
use axum::response::Response as AxumResponse;
use deposit_intake::key_cache::CachedMerchants;
use deposit_intake::{Intake, IntakeConfig};
use gateway_processor::Processor;
use health_probe::Probe;
use paygate_api::request::{http_response, lambda_body};
use paygate_aws::{AwsAdapters, RequestMeter, SqsQueue, Tally};
use paygate_domain::crypto::FieldCipher;
use paygate_domain::gateways::CachedRegistry;
use paygate_domain::ports::{EventStore, RandomIds, SystemClock};
use paygate_domain::service::probe::ProbePolicy;
use paygate_domain::service::process::AttemptPolicy;
use paygate_domain::service::sweep::SweepPolicy;
use paygate_domain::{DepositId, DepositStatus};
use paygate_gateways::ConnectorCache;
use paygate_kit::faults::{Hooked, NoFaults};
use paygate_kit::gateways::{Format, RunningGateway, Simulated, settling};
use paygate_kit::{http, sqs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;
use webhook_callback::Webhooks;

/// How long a lifecycle may take to settle before the harness gives up.
const PATIENCE: Duration = Duration::from_secs(20);

/// What one function spent on a lifecycle.
#[derive(Debug, Clone, Default)]
pub struct FunctionCost {
    pub function: &'static str,
    pub tally: Tally,
    pub invocations: u32,
    /// Wall time inside its handler, summed over its invocations.
    pub busy: Duration,
}

/// What every function spent on one lifecycle.
#[derive(Debug, Clone, Default)]
pub struct LifecycleCost {
    pub functions: Vec<FunctionCost>,
}

impl LifecycleCost {
    /// Every function's requests together.
    pub fn total(&self) -> Tally {
        let mut total = Tally::default();
        for function in &self.functions {
            total.add(&function.tally);
        }
        total
    }

    pub fn of(&self, function: &str) -> &FunctionCost {
        self.functions
            .iter()
            .find(|f| f.function == function)
            .unwrap_or_else(|| panic!("no function {function}"))
    }

    /// `intake 5, processor 10, webhook 7`.
    pub fn split(&self) -> String {
        self.functions
            .iter()
            .filter(|f| f.invocations > 0)
            .map(|f| format!("{} {}", f.function, f.tally.total()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for LifecycleCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} requests ({})", self.total().total(), self.split())?;
        for function in &self.functions {
            for line in function.tally.lines() {
                write!(f, "\n  {:<9} {line}", function.function)?;
            }
        }
        Ok(())
    }
}

/// Time spent in the webhook function's handler, across the HTTP server's tasks.
#[derive(Default)]
struct Busy {
    invocations: u32,
    time: Duration,
}

/// The four functions on metered adapters, one simulated gateway and a queue of their own.
pub struct MeteredStack {
    intake_meter: RequestMeter,
    processor_meter: RequestMeter,
    webhook_meter: RequestMeter,
    probe_meter: RequestMeter,
    intake: Intake,
    processor: Processor,
    probe: Probe,
    webhook_busy: Arc<Mutex<Busy>>,
    /// Unmetered: the harness's own reads and Lambda's SQS poller.
    world: World,
    queue: Arc<SqsQueue>,
    gateway: RunningGateway,
    server: tokio::task::JoinHandle<()>,
}

impl MeteredStack {
    /// A stack whose gateway serves `pair` (no other test's gateway does) and settles
    /// every payment and refund 30 ms after taking it, by a signed webhook.
    pub async fn new(pair: Pair) -> Self {
        let world = World::new().await;
        remove_gateways_serving(&world, pair).await;
        let queue = world.queue.clone();
        let cipher = Arc::new(FieldCipher::ephemeral());
        let gateway_name = format!("it-meter-{}", &Uuid::new_v4().simple().to_string()[..12]);
        let secret = format!("whsec_it_{}", Uuid::new_v4().simple());

        let intake_meter = RequestMeter::new();
        let processor_meter = RequestMeter::new();
        let webhook_meter = RequestMeter::new();
        let probe_meter = RequestMeter::new();
        let [intake_aws, processor_aws, webhook_aws, probe_aws] = [
            &intake_meter,
            &processor_meter,
            &webhook_meter,
            &probe_meter,
        ]
        .map(|meter| async move {
            AwsAdapters::connect_metered(meter)
                .await
                .expect("connect to the emulators")
        });
        let (intake_aws, processor_aws, webhook_aws, probe_aws) =
            tokio::join!(intake_aws, processor_aws, webhook_aws, probe_aws);
        // Each function sends to the stack's queue through its own (metered) client.
        let queue_of =
            |aws: &AwsAdapters| Arc::new(SqsQueue::new(aws.sqs.clone(), queue.url().to_owned()));

        // As `main.rs`: a warm instance remembers API keys (warmed below).
        let intake = Intake {
            store: intake_aws.publishing_store(),
            queue: queue_of(&intake_aws),
            merchants: Arc::new(CachedMerchants::new(
                intake_aws.merchants.clone(),
                Arc::new(SystemClock),
            )),
            ledger: intake_aws.store.clone(),
            deposits: intake_aws.store.clone(),
            registry: intake_aws.registry.clone(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            cipher: cipher.clone(),
            config: IntakeConfig::default(),
        };
        let processor = Processor::new(
            processor_aws.publishing_store(),
            Arc::new(CachedRegistry::new(
                processor_aws.registry.clone(),
                Arc::new(SystemClock),
            )),
            Arc::new(ConnectorCache::new()),
            queue_of(&processor_aws),
            Arc::new(SystemClock),
            cipher,
        );
        // The tables are shared with every other suite: the probe sees only this stack's
        // gateway and none of the deposits others leave due, so its run is idle. (Its
        // requests are still made and counted; what they find is filtered.)
        let mine = gateway_name.clone();
        let registry = Hooked::new(probe_aws.registry.clone(), Arc::new(NoFaults))
            .listing_gateways(move |g| g.config.name == mine);
        let index =
            Hooked::new(probe_aws.store.clone(), Arc::new(NoFaults)).listing_deposits(|_| false);
        let probe = Probe {
            registry: Arc::new(CachedRegistry::new(
                Arc::new(registry),
                Arc::new(SystemClock),
            )),
            connectors: Arc::new(ConnectorCache::new()),
            store: probe_aws.publishing_store(),
            index: Arc::new(index),
            queue: queue_of(&probe_aws),
            publisher: probe_aws.bus.clone(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            policy: ProbePolicy::default(),
            sweep: SweepPolicy::default(),
            attempts: AttemptPolicy::default(),
            sweep_budget: Duration::from_secs(15),
        };

        let webhooks = crate::webhooks_for(
            &gateway_name,
            "json",
            &secret,
            webhook_aws.publishing_store(),
            queue_of(&webhook_aws),
        );
        let webhook_busy = Arc::new(Mutex::new(Busy::default()));
        let app = axum::Router::new()
            .fallback(webhook_function)
            .with_state((Arc::new(webhooks), webhook_busy.clone()));
        let (address, server) = crate::serve_on_loopback(app).await;
        let base_url = format!("http://{address}");

        let gateway = Simulated::new(gateway_name, Format::Json)
            .secret(secret)
            .webhooks_to(base_url)
            .behaving(settling())
            .spawn()
            .await;
        world.register_gateway(&gateway, 1, pair).await;
        let stack = Self {
            intake_meter,
            processor_meter,
            webhook_meter,
            probe_meter,
            intake,
            processor,
            probe,
            webhook_busy,
            world,
            queue,
            gateway,
            server,
        };
        // A warm intake: it knows the merchant's key, as after its first request.
        let balance = http::get(&stack.world.api_key, "/v1/balance");
        let reply = http::Reply::from(deposit_intake::handle(&stack.intake, balance).await);
        assert_eq!(reply.status, 200, "{}", reply.text);
        stack.take_costs();
        stack
    }

    /// Everything counted since the last call, per function.
    fn take_costs(&self) -> [Tally; 4] {
        [
            self.intake_meter.take(),
            self.processor_meter.take(),
            self.webhook_meter.take(),
            self.probe_meter.take(),
        ]
    }

    /// A card deposit of 125.00 in `pair`, taken, charged and settled `succeeded` by its
    /// gateway's webhook; its id and what that cost.
    pub async fn deposit_to_succeeded(&self, pair: Pair) -> (DepositId, LifecycleCost) {
        let mut run = Run::start(self);
        let key = Uuid::new_v4().to_string();
        let request = http::post(
            &self.world.api_key,
            "/v1/deposits",
            Some(&key),
            &crate::card_deposit_body(pair, "tok_success"),
        );
        let reply = run.intake(request).await;
        assert_eq!(reply.status, 202, "{}", reply.text);
        let id = reply.deposit_id();
        run.process_queue().await;
        self.wait_for(id, DepositStatus::Succeeded).await;
        (id, run.finish())
    }

    /// A full refund of deposit `id` (succeeded), asked for, sent to the gateway and
    /// settled `refunded` by its webhook; what that cost.
    pub async fn refund_to_refunded(&self, id: DepositId) -> LifecycleCost {
        let mut run = Run::start(self);
        let key = Uuid::new_v4().to_string();
        let request = http::post_refund(&self.world.api_key, &id.to_string(), Some(&key), "{}");
        let reply = run.intake(request).await;
        assert!(reply.status.is_success(), "{}", reply.text);
        run.process_queue().await;
        self.wait_for(id, DepositStatus::Refunded).await;
        run.finish()
    }

    /// One scheduled run of the health probe with one healthy gateway, no health change
    /// and nothing to sweep; what that cost.
    pub async fn probe_run(&self) -> LifecycleCost {
        let mut run = Run::start(self);
        let started = Instant::now();
        health_probe::run_once(&self.probe)
            .await
            .expect("the probe runs");
        run.probe = (1, started.elapsed());
        run.finish()
    }

    async fn wait_for(&self, id: DepositId, status: DepositStatus) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let view = self.world.aws.store.view(id).await.expect("read the view");
            if view.as_ref().map(|v| v.status) == Some(status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "deposit {id} not {status:?} within {PATIENCE:?}: {view:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for MeteredStack {
    fn drop(&mut self) {
        self.server.abort();
        let table = self.world.aws.resources.gateways_table.clone();
        let gateways = vec![self.gateway.name().to_owned()];
        let queues = vec![self.queue.url().to_owned()];
        clean_up(move |config| async move {
            delete_gateways_and_queues(&config, &table, gateways, queues).await;
        });
    }
}

/// One lifecycle being measured: the handlers it invoked and for how long.
struct Run<'a> {
    stack: &'a MeteredStack,
    intake: (u32, Duration),
    processor: (u32, Duration),
    probe: (u32, Duration),
}

impl<'a> Run<'a> {
    fn start(stack: &'a MeteredStack) -> Self {
        stack.take_costs();
        *stack.webhook_busy.lock().expect("busy lock") = Busy::default();
        Self {
            stack,
            intake: Default::default(),
            processor: Default::default(),
            probe: Default::default(),
        }
    }

    async fn intake(&mut self, request: lambda_http::Request) -> http::Reply {
        let started = Instant::now();
        let response = deposit_intake::handle(&self.stack.intake, request).await;
        add(&mut self.intake, started);
        http::Reply::from(response)
    }

    /// Hands every message on the queue to the processor, one Lambda invocation per
    /// batch, until the queue is empty.
    async fn process_queue(&mut self) {
        loop {
            let received = self.stack.queue.receive(10, 1).await.expect("receive");
            if received.is_empty() {
                return;
            }
            let records = received
                .iter()
                .map(|m| {
                    let message = m.deposit_message().expect("a deposit message");
                    sqs::record(&message, m.receive_count)
                })
                .collect();
            let started = Instant::now();
            let response = sqs::invoke(&self.stack.processor, records).await;
            add(&mut self.processor, started);
            assert!(response.batch_item_failures.is_empty(), "{response:?}");
            for message in &received {
                self.stack
                    .queue
                    .delete(&message.receipt_handle)
                    .await
                    .expect("delete a processed message");
            }
        }
    }

    fn finish(self) -> LifecycleCost {
        let [intake, processor, webhook, probe] = self.stack.take_costs();
        let busy = self.stack.webhook_busy.lock().expect("busy lock");
        let cost = |function, tally, (invocations, busy)| FunctionCost {
            function,
            tally,
            invocations,
            busy,
        };
        LifecycleCost {
            functions: vec![
                cost("intake", intake, self.intake),
                cost("processor", processor, self.processor),
                cost("webhook", webhook, (busy.invocations, busy.time)),
                cost("probe", probe, self.probe),
            ],
        }
    }
}

fn add(slot: &mut (u32, Duration), started: Instant) {
    slot.0 += 1;
    slot.1 += started.elapsed();
}

/// The webhook function behind HTTP, as API Gateway puts it there.
async fn webhook_function(
    State((webhooks, busy)): State<(Arc<Webhooks>, Arc<Mutex<Busy>>)>,
    request: AxumRequest,
) -> AxumResponse {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 1024 * 1024)
        .await
        .expect("read the request body");
    let request = lambda_http::Request::from_parts(parts, lambda_body(&bytes));
    let started = Instant::now();
    let response = webhook_callback::handle(&webhooks, request).await;
    {
        let mut busy = busy.lock().expect("busy lock");
        busy.invocations += 1;
        busy.time += started.elapsed();
    }
    http_response(response)
}
