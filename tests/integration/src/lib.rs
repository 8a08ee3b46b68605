//! Harness for the integration tests: the real handlers wired to the AWS adapters on the
//! emulators that `cargo xtask test` starts (or any endpoint in `AWS_ENDPOINT_URL`).
//!
//! Tests share the tables, so each one works as a fresh merchant and checks "no trace"
//! by looking for that merchant's items only; each gets its own queue.

pub mod bus;
pub mod metered;
pub mod money;
pub mod pairs;
pub mod processing;

use deposit_intake::{Intake, IntakeConfig};
use lambda_http::{Body, Request, Response};
use paygate_aws::aws_sdk_dynamodb::types::AttributeValue;
use paygate_aws::{AwsAdapters, SqsQueue};
use paygate_domain::crypto::FieldCipher;
use paygate_domain::ports::EventStore;
use paygate_domain::ports::{ApiKey, GatewayRegistry, RandomIds, SystemClock};
use paygate_domain::{MerchantId, RecordedEvent};
use paygate_kit::gateways::{RunningGateway, entry};
use paygate_kit::{fixtures, http};
use serde_json::Value;
use std::sync::Arc;
use uuid::Uuid;

/// One test's world: a merchant of its own, its API key, and a queue of its own.
pub struct World {
    pub aws: AwsAdapters,
    pub intake: Intake,
    pub merchant: MerchantId,
    pub api_key: String,
    pub queue: Arc<SqsQueue>,
}

pub use paygate_kit::require_emulators;

impl World {
    pub async fn new() -> Self {
        require_emulators();
        let aws = AwsAdapters::connect()
            .await
            .expect("connect to the emulators");
        let queue_name = format!("paygate-it-{}", Uuid::new_v4().simple());
        let url = aws
            .sqs
            .create_queue()
            .queue_name(&queue_name)
            .send()
            .await
            .expect("create the test's queue")
            .queue_url
            .expect("queue url");
        let queue = Arc::new(SqsQueue::new(aws.sqs.clone(), url));
        Self::with_queue(aws, queue).await
    }

    async fn with_queue(aws: AwsAdapters, queue: Arc<SqsQueue>) -> Self {
        let merchant = MerchantId(format!("mer_{}", Uuid::new_v4().simple()));
        let api_key = format!("sk_test_{}", Uuid::new_v4().simple());
        aws.merchants
            .register(&ApiKey::new(api_key.clone()).hash(), &merchant)
            .await
            .expect("register the test merchant");
        let intake = Intake {
            store: aws.store.clone(),
            queue: queue.clone(),
            merchants: aws.merchants.clone(),
            ledger: aws.store.clone(),
            deposits: aws.store.clone(),
            registry: aws.registry.clone(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            cipher: Arc::new(FieldCipher::ephemeral()),
            config: IntakeConfig::default(),
        };
        Self {
            aws,
            intake,
            merchant,
            api_key,
            queue,
        }
    }

    /// Another merchant on the same tables and handler.
    pub async fn another_merchant(&self) -> World {
        let aws = AwsAdapters::connect()
            .await
            .expect("connect to the emulators");
        World::with_queue(aws, self.queue.clone()).await
    }

    pub async fn post_deposit(
        &self,
        idempotency_key: Option<&str>,
        body: impl Into<String>,
    ) -> Reply {
        let body = body.into();
        let path = "/v1/deposits";
        self.send(http::post(&self.api_key, path, idempotency_key, &body))
            .await
    }

    /// Posts a deposit under `idempotency_key`, which the intake handler must accept
    /// (202); its reply.
    pub async fn accepted_deposit(&self, idempotency_key: &str, body: impl Into<String>) -> Reply {
        let reply = self.post_deposit(Some(idempotency_key), body).await;
        assert_eq!(reply.status, 202, "{:?}", reply.json);
        reply
    }

    /// A card deposit of 12 500 in `pair` paid with `token`, taken by the intake handler
    /// (which queues it) under a fresh key; its id.
    pub async fn card_deposit(&self, pair: pairs::Pair, token: &str) -> paygate_domain::DepositId {
        let key = uuid::Uuid::new_v4().to_string();
        let reply = self
            .accepted_deposit(&key, card_deposit_body(pair, token))
            .await;
        reply.deposit_id()
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(http::get(&self.api_key, path)).await
    }

    pub async fn send(&self, request: Request) -> Reply {
        Reply::from(deposit_intake::handle(&self.intake, request).await)
    }

    /// Registers `gateway` in the shared registry with `priority` (lower is preferred),
    /// serving `(country, currency)` only.
    pub async fn register_gateway(
        &self,
        gateway: &RunningGateway,
        priority: u32,
        (country, currency): pairs::Pair,
    ) {
        self.aws
            .registry
            .upsert_config(&entry(gateway, priority, &[country], &[currency]))
            .await
            .expect("register the gateway");
    }

    /// The deposit's stream as the store holds it.
    pub async fn events(&self, id: paygate_domain::DepositId) -> Vec<RecordedEvent> {
        self.aws.store.load(id).await.expect("load the stream")
    }

    /// The deposit's read model, which must exist.
    pub async fn view(&self, id: paygate_domain::DepositId) -> paygate_domain::DepositView {
        fixtures::view_of(self.aws.store.as_ref(), id).await
    }

    /// Everything this merchant left in the tables and its queue.
    pub async fn traces(&self) -> Traces {
        let r = &self.aws.resources;
        let merchant = AttributeValue::S(self.merchant.0.clone());
        let deposits = self
            .count(&r.deposits_table, "merchant_id = :m", merchant.clone())
            .await;
        let events = self
            .count(&r.events_table, "contains(payload, :m)", merchant)
            .await;
        let prefix = AttributeValue::S(format!("{}:{}#", self.merchant.0.len(), self.merchant.0));
        let idempotency = self
            .count(
                &r.idempotency_table,
                "begins_with(idempotency_key, :m)",
                prefix,
            )
            .await;
        let messages = self.queue.receive(10, 1).await.expect("receive").len();
        Traces {
            deposits,
            events,
            idempotency,
            messages,
        }
    }

    async fn count(&self, table: &str, filter: &str, value: AttributeValue) -> usize {
        let mut total = 0;
        let mut start = None;
        loop {
            let page = self
                .aws
                .dynamodb
                .scan()
                .table_name(table)
                .filter_expression(filter)
                .expression_attribute_values(":m", value.clone())
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            total += page.count() as usize;
            start = page.last_evaluated_key;
            if start.is_none() {
                return total;
            }
        }
    }
}

/// The webhook function for one gateway of `format` (`json`, `soap`) signing with
/// `secret`, recording on `store` and announcing refunds on `queue`.
pub fn webhooks_for(
    gateway: &str,
    format: &str,
    secret: &str,
    store: Arc<dyn EventStore>,
    queue: Arc<dyn paygate_domain::ports::QueueSender>,
) -> webhook_callback::Webhooks {
    let gateways = serde_json::json!({ gateway: { "format": format, "secrets": [secret] } });
    webhook_callback::Webhooks {
        store,
        queue,
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        gateways: Arc::new(
            webhook_callback::WebhookGateways::from_json(&gateways.to_string())
                .expect("webhook config"),
        ),
    }
}

/// Runs `count` requests at once, each on a task of its own with a handle on `shared`
/// (they race as concurrent Lambda invocations would); the answers, in the order of `n`.
pub async fn at_once<S, T, Fut>(
    shared: &Arc<S>,
    count: usize,
    request: impl Fn(Arc<S>, usize) -> Fut,
) -> Vec<T>
where
    S: Send + Sync + 'static,
    T: Send + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..count)
        .map(|n| tokio::spawn(request(shared.clone(), n)))
        .collect();
    let mut answers = Vec::with_capacity(count);
    for task in tasks {
        answers.push(task.await.expect("the request task finishes"));
    }
    answers
}

/// Serves `app` on a free loopback port: its address and the server's task.
pub async fn serve_on_loopback(
    app: axum::Router,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("a bound address");
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (address, server)
}

/// Removes every gateway serving `(country, currency)` (ISO codes) from the shared
/// registry. A test that owns a pair calls it first: such gateways can only be left over
/// from an earlier run on the same emulators (their simulators are gone), and routing
/// must never pick one.
pub async fn remove_gateways_serving(world: &World, (country, currency): (&str, &str)) {
    let (country, currency) = (fixtures::country(country), fixtures::currency(currency));
    let stale = world
        .aws
        .registry
        .list()
        .await
        .expect("list the gateways")
        .into_iter()
        .filter(|g| g.config.serves(country, currency));
    for gateway in stale {
        world
            .aws
            .dynamodb
            .delete_item()
            .table_name(&world.aws.resources.gateways_table)
            .key("name", AttributeValue::S(gateway.config.name))
            .send()
            .await
            .expect("remove a stale gateway");
    }
}

/// Runs a test's clean-up to completion from a `Drop`, on a thread and runtime of its own
/// (the test's runtime may be shutting down), with fresh AWS clients.
pub fn clean_up<F, Fut>(work: F)
where
    F: FnOnce(paygate_aws::SdkConfig) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    paygate_kit::run_to_completion(move || async move { work(paygate_aws::sdk_config()).await });
}

/// Deletes gateways from the registry table and queues by URL, ignoring what is already
/// gone.
pub async fn delete_gateways_and_queues(
    config: &paygate_aws::SdkConfig,
    gateways_table: &str,
    gateways: Vec<String>,
    queues: Vec<String>,
) {
    let dynamodb = paygate_aws::aws_sdk_dynamodb::Client::new(config);
    for name in gateways {
        let _ = dynamodb
            .delete_item()
            .table_name(gateways_table)
            .key("name", AttributeValue::S(name))
            .send()
            .await;
    }
    let sqs = paygate_aws::aws_sdk_sqs::Client::new(config);
    for url in queues {
        let _ = sqs.delete_queue().queue_url(url).send().await;
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Traces {
    pub deposits: usize,
    pub events: usize,
    pub idempotency: usize,
    pub messages: usize,
}

/// A handler response, read once: the kit's [`http::Reply`] with its status as a number
/// and its body as JSON (`null` when it is not).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: ::http::HeaderMap,
    pub json: Value,
}

impl From<Response<Body>> for Reply {
    fn from(response: Response<Body>) -> Self {
        let reply = http::Reply::from(response);
        Self {
            status: reply.status.as_u16(),
            json: serde_json::from_str(&reply.text).unwrap_or(Value::Null),
            headers: reply.headers,
        }
    }
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `id` of the deposit this reply shows.
    pub fn deposit_id(&self) -> paygate_domain::DepositId {
        let id = self.json["id"].as_str().expect("an id");
        paygate_domain::DepositId::parse(id).expect("a UUID")
    }

    pub fn error_code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    pub fn error_type(&self) -> &str {
        self.json["error"]["type"].as_str().unwrap_or("")
    }
}

pub fn deposit_body(amount: Value) -> String {
    serde_json::json!({ "amount": amount, "currency": "AED", "country": "AE", "customer_id": "cus_42",
        "payment_method": { "type": "card", "token": "tok_visa" }, "metadata": { "order": "A-1" } })
    .to_string()
}

/// A private source queue and its dead-letter queue (`RedrivePolicy` with a small
/// `maxReceiveCount` and a 1 s visibility timeout), so DLQ tests never see each other's
/// messages.
pub struct DlqPair {
    pub sqs: paygate_aws::aws_sdk_sqs::Client,
    pub source: SqsQueue,
    pub source_name: String,
    pub dlq: SqsQueue,
    pub dlq_name: String,
    pub max_receive_count: u32,
}

impl DlqPair {
    /// Creates the pair: `maxReceiveCount` 2, `VisibilityTimeout` 1 s on the source.
    pub async fn new() -> Self {
        require_emulators();
        const MAX_RECEIVE_COUNT: u32 = 2;
        let sqs = paygate_aws::aws_sdk_sqs::Client::new(&paygate_aws::sdk_config());
        let suffix = Uuid::new_v4().simple().to_string();
        let dlq_name = format!("paygate-it-dlq-{suffix}");
        let source_name = format!("paygate-it-src-{suffix}");
        let (source, dlq) =
            redriving_queues(&sqs, &source_name, &dlq_name, MAX_RECEIVE_COUNT).await;
        Self {
            source,
            sqs,
            source_name,
            dlq,
            dlq_name,
            max_receive_count: MAX_RECEIVE_COUNT,
        }
    }

    /// A fresh pair whose DLQ holds `count` deposit messages (sent to the source queue,
    /// then failed until SQS moved them); the pair and those messages.
    pub async fn with_dead_letters(
        count: usize,
    ) -> (Self, Vec<paygate_domain::ports::DepositMessage>) {
        let pair = Self::new().await;
        let sent = pair.send_deposits(count).await;
        pair.fail_until_dead_lettered().await;
        (pair, sent)
    }

    /// Sends `count` deposit messages to the source queue, each with its own ids.
    pub async fn send_deposits(&self, count: usize) -> Vec<paygate_domain::ports::DepositMessage> {
        use paygate_domain::ports::{DepositMessage, QueueSender};
        let mut sent = Vec::new();
        for _ in 0..count {
            let message = DepositMessage {
                deposit_id: paygate_domain::ids::DepositId(Uuid::now_v7()),
                merchant_id: MerchantId(format!("mer_{}", Uuid::new_v4().simple())),
                correlation_id: paygate_domain::ids::CorrelationId(format!(
                    "corr-{}",
                    Uuid::new_v4().simple()
                )),
            };
            self.source
                .send(&message, std::time::Duration::ZERO)
                .await
                .expect("send to the source queue");
            sent.push(message);
        }
        sent
    }

    /// Receives from the source queue without deleting, as a consumer that keeps failing
    /// would, until SQS moves what was there to the DLQ (it does so on the receive after
    /// the `maxReceiveCount`-th). Returns the most receives one message saw.
    pub async fn fail_until_dead_lettered(&self) -> u32 {
        let mut most = 0;
        for _ in 0..(self.max_receive_count + 4) {
            let received = self.source.receive(10, 1).await.expect("receive");
            if received.is_empty() && most >= self.max_receive_count {
                return most;
            }
            most = received
                .iter()
                .map(|m| m.receive_count)
                .fold(most, u32::max);
            if !received.is_empty() {
                // Not deleted: visible again once the 1 s visibility timeout is over.
                tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
            }
        }
        panic!("the messages never left the source queue (most receives: {most})");
    }

    /// Everything the source queue holds now, deleted as it is read.
    pub async fn drain_source(&self) -> Vec<paygate_aws::ReceivedMessage> {
        drain_queue(&self.source).await
    }

    /// The queue names as the ops tool reads them (`PAYGATE_DEPOSITS_QUEUE`/`_DLQ`).
    pub fn resources(&self) -> paygate_aws::Resources {
        paygate_aws::Resources::from_lookup(|name| match name {
            "PAYGATE_DEPOSITS_QUEUE" => Some(self.source_name.clone()),
            "PAYGATE_DEPOSITS_DLQ" => Some(self.dlq_name.clone()),
            _ => None,
        })
    }
}

/// The body of a card deposit of 12 500 in `pair` paid with `token`.
pub fn card_deposit_body((country, currency): pairs::Pair, token: &str) -> String {
    serde_json::json!({
        "amount": 12_500, "currency": currency, "country": country,
        "customer_id": "cus_it", "payment_method": { "type": "card", "token": token },
    })
    .to_string()
}

/// Creates a DLQ `dlq_name` and a source queue `source_name` that SQS redrives to it on
/// the receive after the `max_receive_count`-th, with a 1 s visibility timeout so that an
/// unacknowledged message comes back quickly. Returns `(source, dlq)`.
pub async fn redriving_queues(
    sqs: &paygate_aws::aws_sdk_sqs::Client,
    source_name: &str,
    dlq_name: &str,
    max_receive_count: u32,
) -> (SqsQueue, SqsQueue) {
    use paygate_aws::aws_sdk_sqs::types::QueueAttributeName;
    let dlq_url = sqs
        .create_queue()
        .queue_name(dlq_name)
        .send()
        .await
        .expect("create the test's DLQ")
        .queue_url
        .expect("DLQ url");
    let dlq = SqsQueue::new(sqs.clone(), dlq_url);
    let dlq_arn = paygate_aws::queue_arn(sqs, &dlq).await.expect("DLQ arn");
    let policy = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": max_receive_count.to_string(),
    });
    let source_url = sqs
        .create_queue()
        .queue_name(source_name)
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
        .send()
        .await
        .expect("create the test's source queue")
        .queue_url
        .expect("source url");
    (SqsQueue::new(sqs.clone(), source_url), dlq)
}

/// Everything `queue` holds now, deleted as it is read.
pub async fn drain_queue(queue: &SqsQueue) -> Vec<paygate_aws::ReceivedMessage> {
    let mut all = Vec::new();
    loop {
        let batch = queue.receive(10, 1).await.expect("receive");
        if batch.is_empty() {
            return all;
        }
        for message in batch {
            queue.delete(&message.receipt_handle).await.expect("delete");
            all.push(message);
        }
    }
}
