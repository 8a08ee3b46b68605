//! Domain events on the EventBridge bus (emulated), DESIGN §1: the real publisher
//! (`AwsAdapters::bus`, `PAYGATE_EVENT_BUS`, created by `init_resources.py`) puts them on
//! the bus with `source` `paygate`, and rules on the bus route them to SQS.
//!
//! Other tests publish to the same bus: each test matches its own events by their
//! unique `detail.event_id`, and taps the bus with a rule and queue of its own.

use paygate_aws::{AwsAdapters, BusTap, EventBridgePublisher, TappedEvent};
use paygate_domain::deposit::{NewDeposit, SCHEMA_VERSION};
use paygate_domain::ids::EventId;
use paygate_domain::ports::{BusEvent, EventPublisher};
use paygate_domain::service::publish::bus_event;
use paygate_domain::{
    Amount, CorrelationId, Country, Currency, Deposit, DepositEvent, DepositId, MerchantId,
    RecordedEvent,
};
use paygate_integration::bus::{close_tap, deposit_event_pattern, tap_bus, with_event_id};
use paygate_integration::require_emulators;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

async fn adapters() -> AwsAdapters {
    require_emulators();
    AwsAdapters::connect()
        .await
        .expect("connect to the emulators")
}

/// A deposit's stream up to `DepositSucceeded`, and the bus event the domain makes of
/// that outcome (by its own mapping, `service::publish::bus_event`).
fn succeeded_deposit() -> (BusEvent, Deposit) {
    let deposit_id = DepositId(Uuid::now_v7());
    let merchant = MerchantId(format!("mer_{}", Uuid::new_v4().simple()));
    let at = |version: u64, event: DepositEvent| RecordedEvent {
        deposit_id,
        version,
        event_id: EventId(Uuid::new_v4()),
        schema_version: SCHEMA_VERSION,
        occurred_at: OffsetDateTime::now_utc(),
        correlation_id: CorrelationId(format!("corr-{}", Uuid::new_v4().simple())),
        causation_id: None,
        event,
    };
    let stream = vec![
        at(
            1,
            DepositEvent::DepositRequested {
                deposit_id,
                merchant_id: merchant,
                request: NewDeposit {
                    direction: Default::default(),
                    amount: Amount::new(10_099).unwrap(),
                    currency: Currency::parse("AED").unwrap(),
                    country: Country::parse("AE").unwrap(),
                    customer_id: "cus_42".into(),
                    payment_method: None,
                    metadata: [("order".to_owned(), "A-1".to_owned())].into(),
                },
            },
        ),
        at(
            2,
            DepositEvent::AttemptStarted {
                attempt: 1,
                gateway: "psp_a".into(),
                idempotency_key: format!("{deposit_id}:1"),
                owner: None,
            },
        ),
        at(
            3,
            DepositEvent::DepositSubmitted {
                attempt: 1,
                gateway: "psp_a".into(),
                external_id: "pay_ü_1".into(),
            },
        ),
        at(
            4,
            DepositEvent::DepositSucceeded {
                external_id: "pay_ü_1".into(),
            },
        ),
    ];
    let deposit = Deposit::replay(&stream).expect("a valid stream");
    let event = bus_event(&deposit, &stream[3]).expect("DepositSucceeded goes on the bus");
    (event, deposit)
}

fn event_id(event: &BusEvent) -> String {
    event.detail["event_id"]
        .as_str()
        .expect("bus events carry an event_id")
        .to_owned()
}

/// Receives from `tap` until an event with `id` arrived (or ~20 s passed), returning
/// everything it received.
async fn receive_until(tap: &BusTap, id: &str) -> Vec<TappedEvent> {
    let mut received = Vec::new();
    for _ in 0..20 {
        received.extend(tap.receive(1).await.expect("receive from the tap"));
        if received.iter().any(|e| e.detail["event_id"] == id) {
            break;
        }
    }
    received
}

#[tokio::test]
async fn a_rule_on_the_bus_receives_a_published_deposit_succeeded_intact() {
    // GIVEN a rule on paygate's bus that wants this deposit's DepositSucceeded only,
    // targeting an SQS queue
    let aws = adapters().await;
    let (succeeded, deposit) = succeeded_deposit();
    assert_eq!(succeeded.detail_type, "DepositSucceeded");
    let id = event_id(&succeeded);
    let pattern = deposit_event_pattern("DepositSucceeded", deposit.id);
    let tap = tap_bus(&aws, "paygate-it-bus-", &pattern).await;

    // WHEN the real adapter publishes it, with another event the rule does not want
    let other = BusEvent {
        detail_type: "DepositFailed".into(),
        detail: json!({ "event_id": Uuid::new_v4().to_string(), "deposit_id": deposit.id.to_string() }),
    };
    aws.bus
        .publish(&[succeeded.clone(), other])
        .await
        .expect("publish to the bus");

    // THEN the queue receives it once, with source, detail-type and detail intact
    let received = close_tap(&tap, receive_until(&tap, &id).await).await;
    let ours = with_event_id(&received, &id);
    assert_eq!(ours.len(), 1, "delivered once: {received:#?}");
    assert_eq!(ours[0].source, "paygate");
    assert_eq!(ours[0].bus_event(), succeeded);
    assert_eq!(ours[0].detail["amount"], 10_099);
    assert_eq!(ours[0].detail["external_id"], "pay_ü_1");
    assert!(
        received.iter().all(|e| e.detail_type == "DepositSucceeded"),
        "the rule's pattern keeps other detail-types out: {received:#?}"
    );
}

#[tokio::test]
async fn the_operators_tap_rule_receives_every_paygate_event() {
    // GIVEN the init script's rule `paygate-all-events` → queue `paygate-events-tap`
    let aws = adapters().await;
    let rule_name = "paygate-all-events";
    let queue_name = std::env::var("PAYGATE_EVENTS_TAP_QUEUE")
        .unwrap_or_else(|_| "paygate-events-tap".to_owned());
    let rule = aws
        .bus
        .client()
        .describe_rule()
        .name(rule_name)
        .event_bus_name(aws.bus.bus_name())
        .send()
        .await
        .expect("the tap rule exists on the bus");
    let pattern: Value = serde_json::from_str(rule.event_pattern().expect("a pattern")).unwrap();
    assert_eq!(pattern, json!({ "source": ["paygate"] }));
    let queue = paygate_aws::SqsQueue::resolve(aws.sqs.clone(), &queue_name)
        .await
        .expect("the tap queue exists");
    let queue_arn = paygate_aws::queue_arn(&aws.sqs, &queue).await.unwrap();
    let targets = aws
        .bus
        .client()
        .list_targets_by_rule()
        .rule(rule_name)
        .event_bus_name(aws.bus.bus_name())
        .send()
        .await
        .expect("list the rule's targets");
    assert!(
        targets.targets().iter().any(|t| t.arn() == queue_arn),
        "the rule targets the tap queue"
    );

    // WHEN an event is published
    let (succeeded, _) = succeeded_deposit();
    let id = event_id(&succeeded);
    aws.bus
        .publish(std::slice::from_ref(&succeeded))
        .await
        .unwrap();

    // THEN it reaches the tap queue intact (other tests' events are left there)
    let mut found = None;
    for _ in 0..100 {
        for message in queue.receive(10, 1).await.expect("receive") {
            let body: Value = serde_json::from_str(&message.body).expect("an event envelope");
            if body["detail"]["event_id"] == id.as_str() {
                queue.delete(&message.receipt_handle).await.unwrap();
                found = Some(body);
            } else {
                // Out of the way for a while, so later receives reach newer messages; it
                // comes back for whoever looks for it.
                queue
                    .change_visibility(&message.receipt_handle, 30)
                    .await
                    .unwrap();
            }
        }
        if found.is_some() {
            break;
        }
    }
    let body = found.expect("the event reached the tap queue");
    assert_eq!(body["source"], "paygate");
    assert_eq!(body["detail-type"], "DepositSucceeded");
    assert_eq!(body["detail"], succeeded.detail);
}

#[tokio::test]
async fn publishing_to_a_bus_that_does_not_exist_fails() {
    let aws = adapters().await;
    let missing = EventBridgePublisher::new(
        aws.bus.client().clone(),
        format!("paygate-missing-{}", Uuid::new_v4().simple()),
    );
    let (succeeded, _) = succeeded_deposit();
    let error = missing
        .publish(std::slice::from_ref(&succeeded))
        .await
        .expect_err("no such bus");
    assert!(error.0.contains("PutEvents"), "{error}");
    assert!(
        !error.0.contains(&event_id(&succeeded)),
        "errors never carry a detail: {error}"
    );
}

#[tokio::test]
async fn an_entry_the_bus_refuses_fails_the_whole_publish() {
    // An empty detail-type: EventBridge refuses that entry (FailedEntryCount 1) and
    // accepts the other; the publish is still a failure, so the caller publishes again.
    let aws = adapters().await;
    let (succeeded, _) = succeeded_deposit();
    let refused = BusEvent {
        detail_type: String::new(),
        detail: json!({ "event_id": Uuid::new_v4().to_string() }),
    };
    let error = aws
        .bus
        .publish(&[succeeded, refused])
        .await
        .expect_err("a refused entry fails the publish");
    assert!(error.0.contains("PutEvents"), "{error}");
}
