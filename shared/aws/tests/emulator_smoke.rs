//! The adapters against the emulators (moto for SQS, DynamoDB Local or moto for
//! DynamoDB), with the resources made by `localstack/init/ready.d/init_resources.py`.
//!
//! Run through `cargo xtask test`, which starts the emulators, creates the resources and
//! sets `PAYGATE_TEST_EMULATORS=1`. Without that variable these tests fail on purpose:
//! a suite that silently skips its AWS checks would look green while proving nothing.

mod support;

use paygate_aws::{
    DynamoEventStore, DynamoMerchantDirectory, Resources, SdkConfig, SqsQueue, aws_sdk_dynamodb,
    aws_sdk_sqs,
};
use paygate_domain::deposit::{Deposit, DepositEvent, RecordedEvent};
use paygate_domain::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyRecord, IdempotencyState, IdempotencyTransition,
};
use paygate_domain::ids::{CorrelationId, DepositId, EventId, MerchantId};
use paygate_domain::ports::{
    ApiKey, AppendBatch, AppendError, DepositMessage, EventStore, MerchantDirectory, QueueSender,
};
use paygate_kit::contract::fixtures::{self, now};
use paygate_kit::streams::new_deposit;
use std::time::Duration;
use support::{create_queue, emulators};
use uuid::Uuid;

fn store(config: &SdkConfig) -> DynamoEventStore {
    DynamoEventStore::new(
        aws_sdk_dynamodb::Client::new(config),
        &Resources::from_env(),
    )
}

fn recorded(deposit: DepositId, version: u64, event: DepositEvent) -> RecordedEvent {
    RecordedEvent {
        deposit_id: deposit,
        version,
        event_id: EventId(Uuid::now_v7()),
        schema_version: paygate_domain::deposit::SCHEMA_VERSION,
        occurred_at: now(),
        correlation_id: CorrelationId("smoke-corr".into()),
        causation_id: (version > 1).then(|| "smoke-msg".to_owned()),
        event,
    }
}

fn requested(deposit: DepositId, merchant: &MerchantId) -> RecordedEvent {
    recorded(
        deposit,
        1,
        DepositEvent::DepositRequested {
            deposit_id: deposit,
            merchant_id: merchant.clone(),
            request: new_deposit(10099),
        },
    )
}

fn attempt(deposit: DepositId, version: u64, number: u32) -> RecordedEvent {
    recorded(
        deposit,
        version,
        DepositEvent::AttemptStarted {
            attempt: number,
            gateway: "psp-a".into(),
            idempotency_key: format!("{deposit}:{number}"),
            owner: None,
        },
    )
}

fn claim(merchant: &MerchantId, key: &IdempotencyKey, deposit: &Deposit) -> IdempotencyRecord {
    let now = now();
    IdempotencyRecord {
        merchant_id: merchant.clone(),
        key: key.clone(),
        fingerprint: Fingerprint::of("create_deposit", b"{\"amount\":10099}"),
        deposit_id: deposit.id,
        state: IdempotencyState::InFlight {
            owner: Uuid::new_v4(),
            lease_until: now + time::Duration::seconds(30),
        },
        response: deposit.view(),
        refund: None,
        created_at: now,
        expires_at: now + time::Duration::hours(48),
    }
}

fn batch(
    events: Vec<RecordedEvent>,
    expected_version: u64,
    state: &Deposit,
    idempotency: Option<IdempotencyRecord>,
) -> AppendBatch {
    AppendBatch {
        deposit_id: state.id,
        expected_version,
        events,
        view: state.view(),
        idempotency,
        lookups: Vec::new(),
        ledger: Vec::new(),
        outbox: None,
    }
}

#[tokio::test]
async fn the_sdk_takes_its_endpoints_from_the_environment() {
    let config = emulators().await;
    let resources = Resources::from_env();
    // Clients made from the shared config reach the resources the init script made.
    aws_sdk_dynamodb::Client::new(&config)
        .describe_table()
        .table_name(&resources.events_table)
        .send()
        .await
        .expect("the events table is reachable through AWS_ENDPOINT_URL[_DYNAMODB]");
    aws_sdk_sqs::Client::new(&config)
        .get_queue_url()
        .queue_name(&resources.deposits_queue)
        .send()
        .await
        .expect("the deposits queue is reachable through AWS_ENDPOINT_URL");

    // When DynamoDB has its own endpoint, it really went there: the general endpoint
    // (moto) has no such table.
    let global = std::env::var("AWS_ENDPOINT_URL").ok();
    let dynamodb = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok();
    if let (Some(global), Some(dynamodb)) = (global, dynamodb)
        && global != dynamodb
    {
        let elsewhere = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::from(&config)
                .to_builder()
                .endpoint_url(global)
                .build(),
        );
        let missing = elsewhere
            .describe_table()
            .table_name(&resources.events_table)
            .send()
            .await;
        assert!(
            missing.is_err(),
            "the events table should exist only at AWS_ENDPOINT_URL_DYNAMODB"
        );
    }
}

#[tokio::test]
async fn streams_append_atomically_and_conflict_on_version_and_key() {
    let config = emulators().await;
    let store = store(&config);
    let merchant = fixtures::merchant();
    let key = IdempotencyKey::parse(Some(&format!("smoke-{}", Uuid::new_v4()))).unwrap();
    let id = DepositId(Uuid::now_v7());

    // A 2-event stream with an idempotency claim, in one transaction.
    let events = vec![requested(id, &merchant), attempt(id, 2, 1)];
    let state = Deposit::replay(&events).unwrap();
    let record = claim(&merchant, &key, &Deposit::replay(&events[..1]).unwrap());
    store
        .append(batch(events.clone(), 0, &state, Some(record.clone())))
        .await
        .expect("first append");

    assert_eq!(store.load(id).await.unwrap(), events);
    assert_eq!(store.view(id).await.unwrap(), Some(state.view()));
    assert_eq!(
        store.idempotency_record(&merchant, &key).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(store.load(DepositId(Uuid::now_v7())).await.unwrap(), vec![]);
    assert_eq!(store.view(DepositId(Uuid::now_v7())).await.unwrap(), None);

    // The same versions again: the events' conditions fail.
    let again = store
        .append(batch(
            vec![requested(id, &merchant)],
            0,
            &Deposit::replay(&events[..1]).unwrap(),
            None,
        ))
        .await;
    assert!(
        matches!(again, Err(AppendError::VersionConflict)),
        "{again:?}"
    );

    // Two writers deciding on version 2: one wins, the other conflicts.
    let mut next = events.clone();
    next.push(recorded(
        id,
        3,
        DepositEvent::AttemptFailed {
            attempt: 1,
            reason: paygate_domain::deposit::FailureReason::new("timeout", "gateway timed out"),
            retryable: true,
        },
    ));
    let after = Deposit::replay(&next).unwrap();
    store
        .append(batch(next[2..].to_vec(), 2, &after, None))
        .await
        .expect("append at version 2");
    let stale = store
        .append(batch(next[2..].to_vec(), 2, &after, None))
        .await;
    assert!(
        matches!(stale, Err(AppendError::VersionConflict)),
        "{stale:?}"
    );
    assert_eq!(store.load(id).await.unwrap(), next);
    assert_eq!(store.view(id).await.unwrap().unwrap().version, 3);

    // Another deposit claiming the same key: nothing of it is written.
    let other = DepositId(Uuid::now_v7());
    let other_events = vec![requested(other, &merchant)];
    let other_state = Deposit::replay(&other_events).unwrap();
    let taken = store
        .append(batch(
            other_events,
            0,
            &other_state,
            Some(claim(&merchant, &key, &other_state)),
        ))
        .await;
    assert!(
        matches!(taken, Err(AppendError::IdempotencyKeyTaken)),
        "{taken:?}"
    );
    assert_eq!(store.load(other).await.unwrap(), vec![]);
    assert_eq!(store.view(other).await.unwrap(), None);
    // The same key of another merchant is a different key.
    let elsewhere = fixtures::merchant();
    let elsewhere_events = vec![requested(other, &elsewhere)];
    let elsewhere_state = Deposit::replay(&elsewhere_events).unwrap();
    store
        .append(batch(
            elsewhere_events,
            0,
            &elsewhere_state,
            Some(claim(&elsewhere, &key, &elsewhere_state)),
        ))
        .await
        .expect("same key, other merchant");

    // The claim moves InFlight → Completed once; a stale expectation is refused.
    let completed = IdempotencyState::Completed;
    let completing = |key| IdempotencyTransition {
        merchant: &merchant,
        key,
        expected: &record.state,
        next: &completed,
    };
    assert!(
        store
            .transition_idempotency(completing(&key))
            .await
            .unwrap()
    );
    assert!(
        !store
            .transition_idempotency(completing(&key))
            .await
            .unwrap()
    );
    let stored = store
        .idempotency_record(&merchant, &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, completed);
    assert_eq!(stored.response, record.response);
    let unknown = IdempotencyKey::parse(Some("never-claimed")).unwrap();
    assert!(
        !store
            .transition_idempotency(completing(&unknown))
            .await
            .unwrap()
    );
    assert_eq!(
        store.idempotency_record(&merchant, &unknown).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn concurrent_writers_of_one_version_have_one_winner() {
    let config = emulators().await;
    let store = std::sync::Arc::new(store(&config));
    let merchant = fixtures::merchant();
    let id = DepositId(Uuid::now_v7());
    let first = vec![requested(id, &merchant)];
    let state = Deposit::replay(&first).unwrap();
    store
        .append(batch(first.clone(), 0, &state, None))
        .await
        .expect("first append");

    let writers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let mut events = first.clone();
            events.push(attempt(id, 2, 1));
            tokio::spawn(async move {
                let next = Deposit::replay(&events).unwrap();
                store
                    .append(batch(events[1..].to_vec(), 1, &next, None))
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(()) => won += 1,
            Err(AppendError::VersionConflict) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one writer of version 2 wins");
    assert_eq!(store.load(id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn long_streams_are_read_across_pages() {
    let config = emulators().await;
    let store = store(&config).with_page_size(3);
    let merchant = fixtures::merchant();
    let id = DepositId(Uuid::now_v7());
    let mut events = vec![requested(id, &merchant)];
    for number in 1..=5 {
        let version = events.len() as u64 + 1;
        events.push(attempt(id, version, number));
        events.push(recorded(
            id,
            version + 1,
            DepositEvent::AttemptFailed {
                attempt: number,
                reason: paygate_domain::deposit::FailureReason::new("timeout", "timed out"),
                retryable: true,
            },
        ));
    }
    let state = Deposit::replay(&events).unwrap();
    store
        .append(batch(events.clone(), 0, &state, None))
        .await
        .expect("append 11 events");
    assert_eq!(store.load(id).await.unwrap(), events);
}

#[tokio::test]
async fn merchants_are_registered_once_per_key() {
    let config = emulators().await;
    let directory = DynamoMerchantDirectory::new(
        aws_sdk_dynamodb::Client::new(&config),
        &Resources::from_env(),
    );
    let hash = ApiKey::new(format!("sk_test_{}", Uuid::new_v4())).hash();
    let owner = fixtures::merchant();
    assert_eq!(directory.merchant_for(&hash).await.unwrap(), None);
    directory.register(&hash, &owner).await.expect("register");
    directory
        .register(&hash, &owner)
        .await
        .expect("registering the same pair again is a no-op");
    let stolen = directory.register(&hash, &fixtures::merchant()).await;
    assert!(stolen.is_err(), "a key hash must map to one merchant");
    assert_eq!(directory.merchant_for(&hash).await.unwrap(), Some(owner));
}

#[tokio::test]
async fn messages_are_sent_received_delayed_and_deleted() {
    let config = emulators().await;
    let client = aws_sdk_sqs::Client::new(&config);

    // The deposits queue made by the init script resolves by name.
    let resources = Resources::from_env();
    let deposits = SqsQueue::deposits(client.clone(), &resources)
        .await
        .expect("the deposits queue exists");
    assert!(deposits.url().ends_with(&resources.deposits_queue));
    SqsQueue::deposits_dlq(client.clone(), &resources)
        .await
        .expect("the deposits DLQ exists");
    assert!(
        SqsQueue::resolve(client.clone(), "paygate-no-such-queue")
            .await
            .is_err()
    );

    // A queue of our own, so no consumer elsewhere takes our message.
    let name = format!("paygate-smoke-{}", Uuid::new_v4());
    let url = create_queue(&client, &name).await;
    let queue = SqsQueue::locate(client.clone(), &name, None)
        .await
        .expect("resolve by name");
    assert_eq!(queue.url(), url);

    let message = DepositMessage {
        deposit_id: DepositId(Uuid::now_v7()),
        merchant_id: fixtures::merchant(),
        correlation_id: CorrelationId("smoke-corr".into()),
    };
    queue.send(&message, Duration::ZERO).await.expect("send");

    let first = receive_one(&queue).await;
    assert_eq!(first.deposit_message().unwrap(), message);
    assert_eq!(first.correlation_id.as_deref(), Some("smoke-corr"));
    assert_eq!(first.receive_count, 1);

    queue
        .change_visibility(&first.receipt_handle, 0)
        .await
        .expect("change visibility");
    let second = receive_one(&queue).await;
    assert_eq!(second.message_id, first.message_id);
    assert_eq!(second.receive_count, 2);

    queue.delete(&second.receipt_handle).await.expect("delete");
    assert!(queue.receive(10, 0).await.unwrap().is_empty());

    // A delayed message is not there at once.
    queue
        .send(&message, Duration::from_secs(2))
        .await
        .expect("send delayed");
    assert!(queue.receive(10, 0).await.unwrap().is_empty());
    let delayed = receive_one(&queue).await;
    assert_eq!(delayed.deposit_message().unwrap(), message);

    client
        .delete_queue()
        .queue_url(&url)
        .send()
        .await
        .expect("delete queue");
}

/// Long-polls until exactly one message arrives (bounded: 3 polls of up to 5 s).
async fn receive_one(queue: &SqsQueue) -> paygate_aws::ReceivedMessage {
    for _ in 0..3 {
        let mut received = queue.receive(10, 5).await.expect("receive");
        if !received.is_empty() {
            assert_eq!(received.len(), 1, "one message expected");
            return received.remove(0);
        }
    }
    panic!("no message arrived within 15 s");
}

/// The functions' secrets by reference: the ARN wins over a literal value, and the
/// value comes back exactly as stored.
#[tokio::test]
async fn secret_settings_are_read_from_secrets_manager_by_arn() {
    let config = emulators().await;
    let client = paygate_aws::aws_sdk_secretsmanager::Client::new(&config);
    let name = format!("paygate-test-{}", uuid::Uuid::new_v4().simple());
    let created = client
        .create_secret()
        .name(&name)
        .secret_string("k1:AAAA,k0:BBBB")
        .send()
        .await
        .expect("create secret");
    let arn = created.arn().expect("secret arn").to_owned();
    let lookup = |variable: &str| match variable {
        "PAYGATE_FIELD_KEYS_SECRET_ARN" => Some(arn.clone()),
        "PAYGATE_FIELD_KEYS" => Some("literal-must-lose".to_owned()),
        _ => None,
    };
    let secret = paygate_aws::secret_setting(&client, "PAYGATE_FIELD_KEYS", lookup)
        .await
        .expect("read secret");
    assert_eq!(
        paygate_aws::secrecy::ExposeSecret::expose_secret(&secret),
        "k1:AAAA,k0:BBBB"
    );

    let unknown = |variable: &str| {
        (variable == "PAYGATE_FIELD_KEYS_SECRET_ARN").then(|| format!("{arn}-gone"))
    };
    let err = paygate_aws::secret_setting(&client, "PAYGATE_FIELD_KEYS", unknown)
        .await
        .unwrap_err();
    assert!(
        matches!(err, paygate_aws::SecretError::Fetch { .. }),
        "{err}"
    );
}
