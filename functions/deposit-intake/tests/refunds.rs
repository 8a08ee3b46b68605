//! Refunds as a merchant sees them (DESIGN §5): `POST /v1/deposits/{id}/refunds` with
//! `{"amount": N}` (or `{}` for all that is left), driven through `handle` with in-memory
//! ports. Deposits are brought to their state by the kit's `World::deposit_at` (the
//! processor's events, appended through `service::execute`); the gateway's refund webhooks
//! by `World::gateway_reports` (`apply_notification`, the webhook function's use case).
//! Each test reads GIVEN / WHEN / THEN.

use http::{Method, StatusCode};
use lambda_http::Body;
use paygate_domain::{DepositEvent, DepositId, RefundId};
use paygate_kit::in_case;
use paygate_kit::world::intake::*;
use serde_json::{Value, json};
use uuid::Uuid;

// ================================================================ requests and replies

/// Merchant A asks for a refund of `amount` (`None`: `{}`, all that is left).
async fn refund(world: &World, id: DepositId, key: &str, amount: Option<u64>) -> Reply {
    refund_as(world, KEY_A, &id.to_string(), Some(key), &body(amount)).await
}

/// The merchant of `api_key` posts `body` to the refunds of `deposit` (any text), with
/// `Idempotency-Key: key` when given.
async fn refund_as(
    world: &World,
    api_key: &str,
    deposit: &str,
    key: Option<&str>,
    body: &str,
) -> Reply {
    world.send(post_refund(api_key, deposit, key, body)).await
}

/// The merchant of `api_key` asks for a refund of 100 of a deposit no one has (a random
/// id), with `Idempotency-Key: key`.
async fn refund_of_nobody(world: &World, api_key: &str, key: &str) -> Reply {
    let nobodys = Uuid::new_v4().to_string();
    refund_as(world, api_key, &nobodys, Some(key), &body(Some(100))).await
}

/// Merchant A's request for a refund of 600 under key R: the same request every time.
fn same_600(id: DepositId) -> lambda_http::Request {
    post_refund(KEY_A, &id.to_string(), Some("R"), &body(Some(600)))
}

fn body(amount: Option<u64>) -> String {
    match amount {
        Some(amount) => json!({ "amount": amount }).to_string(),
        None => "{}".to_owned(),
    }
}

/// The refund id in a 202 reply.
fn refund_id(reply: &Reply) -> RefundId {
    let json = reply.json();
    let id = json["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no refund id in {}", reply.text));
    RefundId::parse(id).unwrap_or_else(|| panic!("refund id {id} is not a UUID"))
}

/// THEN-helper: a 202 with a fresh (not replayed) pending refund of `amount` on `id`.
fn assert_accepted(reply: &Reply, id: DepositId, amount: u64) -> RefundId {
    reply.assert_json(StatusCode::ACCEPTED);
    reply.assert_not_replayed();
    let json = reply.json();
    assert_eq!(json["object"], "refund", "{}", reply.text);
    assert_eq!(json["deposit_id"], id.to_string());
    assert_eq!(json["amount"], amount, "{}", reply.text);
    assert_eq!(json["currency"], "AED");
    assert_eq!(json["status"], "pending");
    assert_eq!(json["deposit"]["id"], id.to_string());
    refund_id(reply)
}

fn assert_exceeds_remaining(reply: &Reply) {
    reply.assert_invalid_request(
        StatusCode::UNPROCESSABLE_ENTITY,
        "refund_exceeds_remaining",
        Some("amount"),
    );
}

/// What `GET /v1/deposits/{id}` shows merchant A.
async fn read(world: &World, id: DepositId) -> Value {
    let reply = world.read_deposit(KEY_A, id).await;
    reply.assert_json(StatusCode::OK);
    reply.json()
}

/// The `RefundRequested` events of the stored stream, as (refund, amount).
async fn requested_refunds(world: &World, id: DepositId) -> Vec<(RefundId, u64)> {
    world
        .stored_events(id)
        .await
        .into_iter()
        .filter_map(|e| match e.event {
            DepositEvent::RefundRequested {
                refund_id, amount, ..
            } => Some((refund_id, amount.minor())),
            _ => None,
        })
        .collect()
}

/// THEN-helper: no message was sent since the queue was last drained (drained messages
/// stay on the queue, invisible, so its length does not tell).
fn assert_no_new_message(world: &World) {
    let fresh = world.drain_queue();
    assert!(fresh.is_empty(), "unexpected messages: {fresh:?}");
}

/// THEN-helper: refused requests left no trace: none of `keys` of `merchant` is claimed,
/// no message was sent.
async fn assert_left_no_trace(world: &World, merchant: &str, keys: &[&str]) {
    for key in keys {
        let claimed = world.stored_key(merchant, key).await;
        assert!(
            claimed.is_none(),
            "key {key} of {merchant} claimed: {claimed:?}"
        );
    }
    assert_no_new_message(world);
}

async fn event_types(world: &World, id: DepositId) -> Vec<&'static str> {
    world
        .stored_events(id)
        .await
        .iter()
        .map(|e| e.event.kind())
        .collect()
}

// ================================================================ partial and full refunds

#[tokio::test]
async fn a_partial_then_a_full_refund_take_300_then_the_700_left_and_count_once_confirmed() {
    // GIVEN a succeeded deposit of 1000
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;

    // WHEN merchant A refunds 300
    let first = refund(&world, id, "refund-1", Some(300)).await;

    // THEN 202 with a pending refund of 300; nothing counts as refunded yet
    let first_id = assert_accepted(&first, id, 300);
    assert_eq!(first.json()["deposit"]["status"], "succeeded");
    assert_eq!(first.json()["deposit"]["refunded_amount"], 0);
    let view = read(&world, id).await;
    assert_eq!(
        (view["status"].clone(), view["refunded_amount"].clone()),
        (json!("succeeded"), json!(0))
    );

    // WHEN it then asks for all that is left (`{}`)
    let second = refund(&world, id, "refund-2", None).await;

    // THEN the refund is of the 700 left, and still nothing counts before the gateway says so
    let second_id = assert_accepted(&second, id, 700);
    assert_ne!(second_id, first_id);
    assert_eq!(read(&world, id).await["refunded_amount"], 0);
    assert_eq!(
        requested_refunds(&world, id).await,
        [(first_id, 300), (second_id, 700)]
    );

    // WHEN the gateway confirms the 300
    world.gateway_reports(id, first_id, true).await;

    // THEN the deposit is partially refunded by 300
    let view = read(&world, id).await;
    assert_eq!(view["status"], "partially_refunded");
    assert_eq!(view["refunded_amount"], 300);

    // WHEN it confirms the 700
    world.gateway_reports(id, second_id, true).await;

    // THEN the deposit is refunded in full, its audit trail telling the whole story
    let view = read(&world, id).await;
    assert_eq!(view["status"], "refunded");
    assert_eq!(view["refunded_amount"], 1000);
    assert_eq!(view["amount"], 1000);
    // (both requested, then each submitted and confirmed)
    let settled = ["RefundSubmitted", "RefundSucceeded"];
    let story = [
        &SUCCEEDED_KINDS[..],
        &["RefundRequested"; 2],
        &settled,
        &settled,
    ]
    .concat();
    assert_eq!(event_types(&world, id).await, story);
    let audit = world.read_events(KEY_A, id).await;
    audit.assert_json(StatusCode::OK);
    let requested = &audit.json()["data"][4];
    assert_eq!(requested["type"], "RefundRequested");
    assert_eq!(requested["data"]["amount"], 300);
    assert_eq!(requested["data"]["refund_id"], first_id.to_string());

    // AND each accepted refund sent a message, and the webhook confirming the 300
    // announced the 700 again, still awaiting submission (a repeated message is harmless)
    let messages = world.drain_queue();
    assert_eq!(messages.len(), 3);
    assert!(messages.iter().all(|m| m.body.deposit_id == id));
}

#[tokio::test]
async fn a_partially_refunded_deposit_takes_further_refunds_up_to_what_is_left() {
    // GIVEN a deposit of 1000 partially refunded by a confirmed 300
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    let first = assert_accepted(&refund(&world, id, "r-1", Some(300)).await, id, 300);
    world.gateway_reports(id, first, true).await;
    assert_eq!(read(&world, id).await["status"], "partially_refunded");

    // WHEN 200 more are refunded
    let second = refund(&world, id, "r-2", Some(200)).await;

    // THEN accepted, the reply showing the deposit as it stands (300 refunded)
    let second_id = assert_accepted(&second, id, 200);
    assert_eq!(second.json()["deposit"]["status"], "partially_refunded");
    assert_eq!(second.json()["deposit"]["refunded_amount"], 300);
    // AND more than the 500 left is refused, while all that is left is 500
    assert_exceeds_remaining(&refund(&world, id, "r-3", Some(501)).await);
    world.gateway_reports(id, second_id, true).await;
    let view = read(&world, id).await;
    assert_eq!(
        (view["status"].clone(), view["refunded_amount"].clone()),
        (json!("partially_refunded"), json!(500))
    );
    assert_accepted(&refund(&world, id, "r-4", None).await, id, 500);
}

#[tokio::test]
async fn a_refunded_deposit_takes_no_further_refund() {
    // GIVEN a deposit of 1000 refunded in full
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    let all = refund(&world, id, "all", None).await;
    world
        .gateway_reports(id, assert_accepted(&all, id, 1000), true)
        .await;
    world.drain_queue();
    let before = world.stored_events(id).await.len();

    for (key, amount) in [("more", Some(1)), ("rest", None)] {
        // WHEN another refund is asked for
        let reply = refund(&world, id, key, amount).await;

        // THEN 422 deposit_not_refundable, and nothing is written
        reply.assert_invalid_request(
            StatusCode::UNPROCESSABLE_ENTITY,
            "deposit_not_refundable",
            None,
        );
        assert_eq!(world.stored_events(id).await.len(), before);
        assert!(world.stored_key(MERCHANT_A, key).await.is_none());
    }
    assert_no_new_message(&world);
}

#[tokio::test]
async fn more_than_what_is_left_is_refused_and_writes_nothing() {
    // GIVEN a succeeded deposit of 1000 with 600 already requested
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    assert_accepted(&refund(&world, id, "first", Some(600)).await, id, 600);
    world.drain_queue();
    let before = world.stored_events(id).await.len();

    // WHEN 401 more are asked for (one more than the 400 left)
    let reply = refund(&world, id, "too-much", Some(401)).await;

    // THEN 422 refund_exceeds_remaining on `amount`, nothing written nor sent
    assert_exceeds_remaining(&reply);
    assert_eq!(world.stored_events(id).await.len(), before);
    assert_left_no_trace(&world, MERCHANT_A, &["too-much"]).await;

    // AND exactly what is left is accepted
    assert_accepted(&refund(&world, id, "exactly", Some(400)).await, id, 400);
}

#[tokio::test]
async fn with_everything_left_in_flight_an_empty_body_is_refused() {
    // GIVEN a succeeded deposit of 1000 whose whole amount is requested, not yet confirmed
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    assert_accepted(&refund(&world, id, "all", None).await, id, 1000);
    let before = world.stored_events(id).await.len();

    // WHEN `{}` asks for all that is left
    let reply = refund(&world, id, "rest", None).await;

    // THEN 422 refund_exceeds_remaining (nothing is left), nothing written
    assert_exceeds_remaining(&reply);
    assert_eq!(world.stored_events(id).await.len(), before);
    assert!(world.stored_key(MERCHANT_A, "rest").await.is_none());
}

#[tokio::test]
async fn a_refund_the_gateway_fails_makes_its_amount_refundable_again() {
    // GIVEN a succeeded deposit of 1000, refunded in full, the refund not yet settled
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    let failing = assert_accepted(&refund(&world, id, "try-1", None).await, id, 1000);
    assert_exceeds_remaining(&refund(&world, id, "one-more", Some(1)).await);

    // WHEN the gateway reports that refund failed
    world.gateway_reports(id, failing, false).await;

    // THEN nothing counts as refunded, the deposit is still succeeded
    let view = read(&world, id).await;
    assert_eq!(view["status"], "succeeded");
    assert_eq!(view["refunded_amount"], 0);
    // AND the whole amount can be asked for again (the refused key too: it was not spent)
    let again = refund(&world, id, "one-more", None).await;
    let retried = assert_accepted(&again, id, 1000);
    assert_ne!(retried, failing);
}

// ================================================================ concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn twenty_concurrent_refunds_of_100_on_a_1000_deposit_accept_exactly_ten() {
    // GIVEN a succeeded deposit of 1000
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;

    // AND a store on which all 20 requests read the same state before any of them writes
    let snapshot = same_snapshot(&world, 20);

    // WHEN 20 requests of 100 each, with different keys, arrive at once
    let burst = |n| {
        let key = format!("burst-{n}");
        post_refund(KEY_A, &id.to_string(), Some(&key), &body(Some(100)))
    };
    let requests = (0..20).map(burst).collect();
    let replies: Vec<_> = world
        .send_at_once(requests)
        .await
        .into_iter()
        .enumerate()
        .collect();

    // THEN exactly 10 are accepted and 10 refused as exceeding what is left
    let mut accepted = std::collections::HashSet::new();
    let mut refused = Vec::new();
    for (n, reply) in &replies {
        match reply.status {
            StatusCode::ACCEPTED => {
                assert!(accepted.insert(assert_accepted(reply, id, 100)));
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_exceeds_remaining(reply);
                refused.push(*n);
            }
            other => panic!("request {n}: unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!((accepted.len(), refused.len()), (10, 10));
    assert!(
        snapshot.answers(Answer::Conflict) >= 19,
        "the requests really raced: {} version conflicts",
        snapshot.answers(Answer::Conflict)
    );

    // AND the stream holds exactly those 10, summing to the 1000 captured, at gapless versions
    let stored = requested_refunds(&world, id).await;
    assert_eq!(stored.len(), 10);
    assert_eq!(stored.iter().map(|(_, amount)| amount).sum::<u64>(), 1000);
    assert_eq!(
        stored
            .iter()
            .map(|(r, _)| *r)
            .collect::<std::collections::HashSet<_>>(),
        accepted
    );
    let versions: Vec<u64> = world
        .stored_events(id)
        .await
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>());
    let view = read(&world, id).await;
    assert_eq!(
        (view["status"].clone(), view["refunded_amount"].clone()),
        (json!("succeeded"), json!(0))
    );

    // AND one message per accepted refund; the refused left no key behind
    let messages = world.drain_queue();
    assert_eq!(messages.len(), 10);
    assert!(messages.iter().all(|m| m.body.deposit_id == id));
    for n in refused {
        assert!(
            world
                .stored_key(MERCHANT_A, &format!("burst-{n}"))
                .await
                .is_none()
        );
    }
    assert_eq!(world.store.idempotency_count(), 1 + 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_concurrent_requests_for_all_that_is_left_refund_it_once() {
    // GIVEN a succeeded deposit of 1000, and a store on which 5 requests read the same state
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    same_snapshot(&world, 5);

    // WHEN 5 requests for all that is left (`{}`), with different keys, arrive at once
    let all_that_is_left = |n| post_refund(KEY_A, &id.to_string(), Some(&format!("all-{n}")), "{}");
    let replies = world
        .send_at_once((0..5).map(all_that_is_left).collect())
        .await;

    // THEN one refund of the whole 1000; the four others are refused
    let accepted: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::ACCEPTED)
        .collect();
    assert_eq!(accepted.len(), 1, "{replies:?}");
    assert_accepted(accepted[0], id, 1000);
    for reply in replies.iter().filter(|r| r.status != StatusCode::ACCEPTED) {
        assert_exceeds_remaining(reply);
    }
    assert_eq!(
        requested_refunds(&world, id).await,
        [(refund_id(accepted[0]), 1000)]
    );
    assert_eq!(world.drain_queue().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_refund_sent_twice_at_once_is_made_once_and_never_refused_as_exceeding() {
    // GIVEN a succeeded deposit of 1000, and a store on which both requests read the same
    // state before either writes (a client retrying while its first request still runs)
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    same_snapshot(&world, 2);

    // WHEN the same request for 600 (same key, same body) arrives twice at once
    let replies = world.send_at_once(vec![same_600(id), same_600(id)]).await;

    // THEN one refund of 600 is made; the other request is its replay or a 409 (the first
    // is still running), never a refusal as if it were another refund of 600
    let fresh: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::ACCEPTED && r.header("idempotent-replayed").is_none())
        .collect();
    assert_eq!(fresh.len(), 1, "{replies:?}");
    let made = assert_accepted(fresh[0], id, 600);
    for reply in &replies {
        match (reply.status, reply.header("idempotent-replayed")) {
            (StatusCode::ACCEPTED, None) => {}
            (StatusCode::ACCEPTED, Some("true")) => assert_eq!(refund_id(reply), made),
            (StatusCode::CONFLICT, _) => reply
                .assert_idempotency_error(StatusCode::CONFLICT, "idempotency_request_in_progress"),
            _ => panic!(
                "the retry of the same request was answered {}: {}",
                reply.status, reply.text
            ),
        }
    }
    assert_eq!(requested_refunds(&world, id).await, [(made, 600)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_refund_is_replayed_when_the_first_commits_between_the_retrys_key_check_and_its_read()
 {
    // GIVEN a succeeded deposit of 1000, and two copies of the same request for 600 that
    // both find the key unused, after which the first one records its refund before the
    // second reads the deposit
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    commit_between_check_and_load(&world);

    // WHEN both run
    let replies = world.send_at_once(vec![same_600(id), same_600(id)]).await;

    // THEN one refund; the second is that refund's replay or a 409, not a refusal of a
    // second refund of 600 (the key was claimed in the very write it now reads)
    let fresh = replies
        .iter()
        .filter(|r| r.status == StatusCode::ACCEPTED && r.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(fresh, 1, "{replies:?}");
    for reply in &replies {
        assert!(
            reply.status == StatusCode::ACCEPTED || reply.status == StatusCode::CONFLICT,
            "the same request was answered {}: {}",
            reply.status,
            reply.text
        );
    }
    assert_eq!(requested_refunds(&world, id).await.len(), 1);
}

// ================================================================ idempotency

#[tokio::test]
async fn the_same_key_and_body_replays_the_refund_even_after_the_deposit_is_fully_refunded() {
    // GIVEN a refund of all of a 1000 deposit, requested with key R
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    let first = refund(&world, id, "R", None).await;
    let first_id = assert_accepted(&first, id, 1000);

    // WHEN the same request is sent again, at once
    let again = refund(&world, id, "R", None).await;

    // THEN the first response again, marked as replayed
    again.assert_json(StatusCode::ACCEPTED);
    again.assert_replayed();
    assert_eq!(again.json(), first.json());

    // WHEN the gateway has refunded it all, and the same request comes once more, later
    world.gateway_reports(id, first_id, true).await;
    assert_eq!(read(&world, id).await["status"], "refunded");
    world.clock.advance(time::Duration::hours(1));
    let late = refund(&world, id, "R", None).await;

    // THEN still the first response (same refund id), never a "not refundable"
    late.assert_json(StatusCode::ACCEPTED);
    late.assert_replayed();
    assert_eq!(refund_id(&late), first_id);
    assert_eq!(late.json(), first.json());
    assert_eq!(requested_refunds(&world, id).await, [(first_id, 1000)]);
    assert_eq!(
        world.drain_queue().len(),
        1,
        "only the first sent a message"
    );
}

#[tokio::test]
async fn a_replay_ignores_key_order_and_whitespace() {
    // GIVEN a refund of 300 with key R
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    let first = refund(&world, id, "R", Some(300)).await;
    assert_accepted(&first, id, 300);

    // WHEN the same body comes reformatted
    let again = refund_as(
        &world,
        KEY_A,
        &id.to_string(),
        Some("R"),
        "{ \"amount\" :\n 300 }",
    )
    .await;

    // THEN it is replayed
    again.assert_replayed();
    assert_eq!(again.json(), first.json());
    assert_eq!(requested_refunds(&world, id).await.len(), 1);
}

#[tokio::test]
async fn the_same_key_with_another_amount_or_deposit_is_refused_as_reused() {
    // GIVEN a refund of 300 with key R on deposit D, and a second succeeded deposit E
    let world = World::new();
    let d = world.deposit_at(1000, Stage::Succeeded).await;
    let e = world.deposit_at(1000, Stage::Succeeded).await;
    assert_accepted(&refund(&world, d, "R", Some(300)).await, d, 300);
    world.drain_queue();

    for (what, reply) in [
        ("another amount", refund(&world, d, "R", Some(400)).await),
        ("all that is left", refund(&world, d, "R", None).await),
        ("another deposit", refund(&world, e, "R", Some(300)).await),
    ] {
        // THEN 422 idempotency_key_reused
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            reply.text
        );
        reply.assert_idempotency_error(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    }
    // AND nothing new was written nor sent
    assert_eq!(requested_refunds(&world, d).await.len(), 1);
    assert!(requested_refunds(&world, e).await.is_empty());
    assert_no_new_message(&world);
}

#[tokio::test]
async fn the_key_that_created_the_deposit_cannot_be_reused_for_a_refund() {
    // GIVEN a deposit created through the API with key K, then succeeded
    let world = World::new();
    let created = world
        .send(post_deposit(
            KEY_A,
            "K",
            &body_with("amount", Some(json!(1000))),
        ))
        .await;
    created.assert_json(StatusCode::ACCEPTED);
    let id = created.deposit_id();
    world.record(id, events_to(id, Stage::Succeeded)).await;
    world.drain_queue();

    // WHEN a refund is asked for with the same key K
    let reply = refund(&world, id, "K", Some(100)).await;

    // THEN 422 idempotency_key_reused, nothing written
    reply.assert_idempotency_error(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    assert!(requested_refunds(&world, id).await.is_empty());
    assert_no_new_message(&world);
}

#[tokio::test]
async fn the_same_key_while_the_first_refund_request_is_executing_is_a_conflict() {
    // GIVEN a first refund request with key R held inside its queue send
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    let request = post_refund(KEY_A, &id.to_string(), Some("R"), &body(Some(300)));
    let (gate, first) = world.hold_in_send(request).await;

    // WHEN the same request arrives meanwhile
    let second = refund(&world, id, "R", Some(300)).await;

    // THEN 409, and no second refund
    second.assert_idempotency_error(StatusCode::CONFLICT, "idempotency_request_in_progress");
    assert_eq!(requested_refunds(&world, id).await.len(), 1);

    // AND once released the first completes, and a later retry replays it
    gate.release();
    let first = first.await.expect("the first request finishes");
    let first_id = assert_accepted(&first, id, 300);
    let third = refund(&world, id, "R", Some(300)).await;
    third.assert_replayed();
    assert_eq!(refund_id(&third), first_id);
    assert_eq!(world.drain_queue().len(), 1);
}

#[tokio::test]
async fn a_refund_whose_message_failed_to_send_is_accepted_and_its_retry_replays_it() {
    // GIVEN a queue that fails the refund's send
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    let queue = world.fail_next_sends(1);
    let first = refund(&world, id, "R", Some(300)).await;

    // THEN 202 without internals: the refund is recorded (before the send), so it is not
    // answered as if it failed; no message went out (the sweeper sends it)
    first.assert_json(StatusCode::ACCEPTED);
    assert!(!first.text.contains("arn:"), "{}", first.text);
    assert_eq!(
        requested_refunds(&world, id).await,
        [(refund_id(&first), 300)]
    );
    assert_no_new_message(&world);

    // WHEN the client retries with the same key
    let retry = refund(&world, id, "R", Some(300)).await;

    // THEN the same refund is replayed; no second refund, nothing sent again
    retry.assert_json(StatusCode::ACCEPTED);
    retry.assert_replayed();
    assert_eq!(
        requested_refunds(&world, id).await,
        [(refund_id(&retry), 300)]
    );
    assert_eq!(queue.calls(), 1);
    assert_no_new_message(&world);
}

// ================================================================ the queue

#[tokio::test]
async fn each_accepted_refund_sends_one_message_naming_the_deposit_and_nothing_else_does() {
    // GIVEN a succeeded deposit of 1000
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;

    // WHEN two refunds are accepted (one carrying a correlation id), one is replayed, one refused
    let auth = bearer(KEY_A);
    let correlated = request(
        Method::POST,
        &format!("/v1/deposits/{id}/refunds"),
        &[
            ("authorization", auth.as_str()),
            ("idempotency-key", "r-1"),
            ("x-correlation-id", "corr-refund-1"),
        ],
        Body::Text(body(Some(100))),
    );
    assert_accepted(&world.send(correlated).await, id, 100);
    assert_accepted(&refund(&world, id, "r-2", Some(200)).await, id, 200);
    refund(&world, id, "r-2", Some(200)).await.assert_replayed();
    assert_exceeds_remaining(&refund(&world, id, "r-3", Some(701)).await);

    // THEN exactly two messages, for this deposit and merchant
    let messages = world.drain_queue();
    assert_eq!(messages.len(), 2);
    for message in &messages {
        assert_eq!(message.body.deposit_id, id);
        assert_eq!(message.body.merchant_id, merchant(MERCHANT_A));
    }
    assert!(
        messages
            .iter()
            .any(|m| m.body.correlation_id.0 == "corr-refund-1"),
        "the caller's correlation id follows the refund"
    );
    // AND the RefundRequested carries it too
    let events = world.stored_events(id).await;
    let requested = events
        .iter()
        .find(|e| matches!(e.event, DepositEvent::RefundRequested { .. }))
        .unwrap();
    assert_eq!(requested.correlation_id.0, "corr-refund-1");
}

// ================================================================ what cannot be refunded

#[tokio::test]
async fn a_deposit_that_has_not_succeeded_is_not_refundable_and_nothing_is_written() {
    let world = World::new();
    for stage in [
        Stage::Pending,
        Stage::Processing,
        Stage::Submitted,
        Stage::Failed,
    ] {
        // GIVEN a deposit of 1000 that is {stage}
        let id = world.deposit_at(1000, stage).await;
        let before = world.stored_events(id).await;
        let view_before = world.stored_view(id).await;

        for (key, amount) in [
            (format!("{stage:?}-part"), Some(100)),
            (format!("{stage:?}-all"), None),
        ] {
            // WHEN merchant A asks for a refund
            let reply = refund(&world, id, &key, amount).await;

            // THEN 422 deposit_not_refundable
            assert_eq!(
                reply.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{stage:?}: {}",
                reply.text
            );
            reply.assert_invalid_request(
                StatusCode::UNPROCESSABLE_ENTITY,
                "deposit_not_refundable",
                None,
            );
            // AND nothing is written: no event, no view change, no key, no message
            assert_eq!(world.stored_events(id).await, before, "{stage:?}");
            assert_eq!(world.stored_view(id).await, view_before, "{stage:?}");
            assert!(
                world.stored_key(MERCHANT_A, &key).await.is_none(),
                "{stage:?}"
            );
            assert_no_new_message(&world);
        }
    }
}

#[tokio::test]
async fn amounts_that_are_not_positive_integers_are_refused_and_nothing_is_written() {
    // GIVEN a succeeded deposit of 1000
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    let before = world.stored_events(id).await.len();

    for amount in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("x"),
        json!(0.0),
        json!("100"),
    ] {
        // WHEN the amount is zero (also as a whole float), negative, fractional, not a
        // number or a string
        let reply = refund_as(
            &world,
            KEY_A,
            &id.to_string(),
            Some("K"),
            &json!({ "amount": amount }).to_string(),
        )
        .await;

        // THEN 400 amount_invalid on `amount`, nothing written
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{amount}");
        reply.assert_bad_request("amount_invalid", Some("amount"));
        assert_eq!(world.stored_events(id).await.len(), before, "{amount}");
        assert_left_no_trace(&world, MERCHANT_A, &["K"]).await;
    }
}

#[tokio::test]
async fn a_refund_request_refused_for_what_it_says_writes_nothing() {
    let cases = [
        (
            "a field the API does not define",
            KEY_A,
            Some("K"),
            r#"{ "amount": 100, "reason": "duplicate" }"#.to_owned(),
            (StatusCode::BAD_REQUEST, "invalid_request_error"),
            ("parameter_unknown", Some("reason")),
        ),
        (
            "no Idempotency-Key",
            KEY_A,
            None,
            body(Some(100)),
            (StatusCode::BAD_REQUEST, "invalid_request_error"),
            ("idempotency_key_missing", Some("Idempotency-Key")),
        ),
        (
            "an unknown API key",
            "sk_test_nobody",
            Some("K"),
            body(Some(100)),
            (StatusCode::UNAUTHORIZED, "authentication_error"),
            ("api_key_invalid", None),
        ),
    ];
    for (case, api_key, key, request, (status, kind), (code, param)) in cases {
        // GIVEN a succeeded deposit
        let world = World::new();
        let id = world.deposit_at(1000, Stage::Succeeded).await;

        // WHEN a refund of it is asked for so
        let reply = refund_as(&world, api_key, &id.to_string(), key, &request).await;

        // THEN refused, and nothing refunded nor written
        assert_eq!(reply.status, status, "{case}: {}", reply.text);
        in_case(case, || reply.assert_error(status, kind, code, param));
        assert!(requested_refunds(&world, id).await.is_empty(), "{case}");
        let claimed = world.stored_key(MERCHANT_A, "K").await;
        assert!(claimed.is_none(), "{case}: {claimed:?}");
        let sent = world.drain_queue();
        assert!(sent.is_empty(), "{case}: unexpected messages: {sent:?}");
    }
}

// ================================================================ tenant isolation and routing

#[tokio::test]
async fn another_merchants_deposit_is_not_found_exactly_like_an_unknown_one() {
    // GIVEN a succeeded deposit of merchant A
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;

    // WHEN merchant B asks to refund it, and to refund a random id
    let theirs = refund_as(&world, KEY_B, &id.to_string(), Some("K"), &body(Some(100))).await;
    let unknown = refund_of_nobody(&world, KEY_B, "K2").await;

    // THEN the same 404 for both: nothing confirms that A's deposit exists
    theirs.assert_deposit_not_found();
    assert_eq!(theirs.text, unknown.text);
    assert_eq!(theirs.headers, unknown.headers);
    assert!(!theirs.text.contains(&id.to_string()));
    // AND nothing was written for either merchant
    assert!(requested_refunds(&world, id).await.is_empty());
    assert_left_no_trace(&world, MERCHANT_B, &["K", "K2"]).await;
    // AND A can still refund it
    assert_accepted(&refund(&world, id, "K", Some(100)).await, id, 100);
}

#[tokio::test]
async fn a_malformed_deposit_id_is_not_found_like_an_unknown_one() {
    // GIVEN merchant A
    let world = World::new();

    // WHEN it asks to refund a deposit id that is not a UUID, and a random UUID
    let malformed = refund_as(&world, KEY_A, "not-a-uuid", Some("K"), &body(Some(100))).await;
    let unknown = refund_of_nobody(&world, KEY_A, "K").await;

    // THEN both are the same 404 deposit_not_found (as `GET /v1/deposits/not-a-uuid` is)
    unknown.assert_deposit_not_found();
    assert_eq!(malformed.status, unknown.status, "{}", malformed.text);
    assert_eq!(malformed.text, unknown.text);
    world.assert_nothing_written();
}

#[tokio::test]
async fn refunds_only_take_post() {
    // GIVEN a succeeded deposit
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    let auth = bearer(KEY_A);

    for method in [Method::GET, Method::PUT, Method::DELETE] {
        // WHEN its refunds are called with another method
        let reply = world
            .send(request(
                method.clone(),
                &format!("/v1/deposits/{id}/refunds"),
                &[("authorization", auth.as_str()), ("idempotency-key", "K")],
                Body::Text(body(Some(100))),
            ))
            .await;

        // THEN 405, allowing POST, and nothing is refunded
        reply.assert_method_not_allowed();
        assert_eq!(reply.header("allow"), Some("POST"), "{method}");
    }
    assert!(requested_refunds(&world, id).await.is_empty());
    assert_no_new_message(&world);
}

// ================================================================ faults

/// The first `parties` stream loads wait for each other once read: every request then
/// decides on the same version and all but one lose the race on the append's version
/// check (exactly what DynamoDB's conditional write does), so the re-check on fresh state
/// is what keeps the refunds within the amount. Returns the appends' counts.
fn same_snapshot(world: &World, parties: usize) -> Rule {
    world
        .faults
        .when(Target::op(Port::Store, "load"))
        .meet_after_answer(parties);
    world.faults.watch(Target::append())
}

/// The winner of two copies of one request commits in the window between the loser's key
/// check and its read of the stream, if the use case checks the key first: the first two
/// key checks wait (briefly) for each other once answered, and the second stream read
/// waits until an append went through. A use case that reads the stream before checking
/// the key is not held up (the check gives up waiting).
fn commit_between_check_and_load(world: &World) {
    let appends = world.faults.watch(Target::append());
    let checks = world
        .faults
        .watch(Target::op(Port::Store, "idempotency_record"));
    world
        .faults
        .when(Target::op(Port::Store, "load"))
        .skip(1)
        .once()
        .run(move || {
            let appends = appends.clone();
            async move {
                tokio::time::timeout(std::time::Duration::from_secs(5), async {
                    while appends.answers(Answer::Ok) == 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                })
                .await
                .expect("the first request appends");
            }
        });
    world
        .faults
        .when(Target::op(Port::Store, "idempotency_record"))
        .times(2)
        .run_after_answer(move || {
            let checks = checks.clone();
            async move {
                // Both copies find the key unused before either goes on (or, if the other
                // cannot check before this one goes on, stop waiting).
                let _ = tokio::time::timeout(std::time::Duration::from_millis(250), async {
                    while checks.calls() < 2 {
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                })
                .await;
            }
        });
}

#[tokio::test]
async fn a_deposit_refunded_as_often_as_it_may_be_refuses_one_more_and_writes_nothing() {
    // GIVEN a succeeded deposit refunded one minor unit at a time, as often as it may be
    let world = World::new();
    let id = world.deposit_at(1000, Stage::Succeeded).await;
    for n in 0..paygate_domain::deposit::MAX_REFUNDS {
        let key = format!("R{n}");
        let reply = refund_as(
            &world,
            KEY_A,
            &id.to_string(),
            Some(&key),
            r#"{"amount":1}"#,
        )
        .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{n}: {}", reply.text);
    }
    let before = world.stored_events(id).await.len();
    world.drain_queue();
    // WHEN one more is asked for, with money still left to refund
    let reply = refund_as(
        &world,
        KEY_A,
        &id.to_string(),
        Some("one-more"),
        r#"{"amount":1}"#,
    )
    .await;
    // THEN 422 refund_limit_reached, and nothing written
    reply.assert_invalid_request(
        StatusCode::UNPROCESSABLE_ENTITY,
        "refund_limit_reached",
        None,
    );
    assert_eq!(world.stored_events(id).await.len(), before);
    assert_left_no_trace(&world, MERCHANT_A, &["one-more"]).await;
}
