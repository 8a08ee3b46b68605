//! Replays that write the same request another way: a member that is `null` is absent,
//! and an amount written `38.0` is `38`. Each is the first request answered again, for
//! deposits, payouts and refunds alike; and a request that differs is still refused.

use crate::payouts::fund;
use crate::stack::{Exchange, Stack};
use crate::{card_without, with};
use serde_json::{Value, json};

/// The first response, answered again.
fn assert_replays(first: &Exchange, again: &Exchange) {
    again.expect(202, None);
    assert_eq!(
        again.header("idempotent-replayed"),
        Some("true"),
        "{}",
        again.text
    );
    assert_eq!(first.json()["id"], again.json()["id"]);
}

/// Posts `body` to `path` under `key`, which is accepted; then each of `same` under that
/// key, each answered with the first response again.
async fn replayed_for_each(stack: &Stack, path: &str, key: &str, body: &Value, same: &[Value]) {
    let first = stack.post_json(path, key, body).await;
    first.expect(202, None);
    for same in same {
        assert_replays(&first, &stack.post_json(path, key, same).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_members_and_integral_floats_replay_the_same_request() {
    let stack = Stack::start().await;

    let deposit = card_without("metadata");
    let same = [
        with(&deposit, "metadata", Value::Null),
        with(&deposit, "amount", json!(10099.0)),
    ];
    replayed_for_each(&stack, "/v1/deposits", "replay-deposit", &deposit, &same).await;
    let other = with(&deposit, "metadata", json!({ "order": "A-2" }));
    let reused = stack.post_deposit("replay-deposit", &other).await;
    reused.expect(422, Some("idempotency_key_reused"));

    let first_funds = fund(&stack, "replay-funds-1").await;
    fund(&stack, "replay-funds-2").await;

    let payout = json!({ "amount": 500, "currency": "AED", "country": "AE",
                         "destination": { "type": "bank_account", "token": "ba_success" } });
    let same = [
        with(&payout, "metadata", Value::Null),
        with(&payout, "amount", json!(5e2)),
    ];
    replayed_for_each(&stack, "/v1/payouts", "replay-payout", &payout, &same).await;

    let first = stack.refund(&first_funds, "replay-refund", "{}").await;
    first.expect(202, None);
    let again = stack
        .refund(&first_funds, "replay-refund", r#"{"amount": null}"#)
        .await;
    assert_replays(&first, &again);
    let other = stack
        .refund(&first_funds, "replay-refund", r#"{"amount": 1}"#)
        .await;
    other.expect(422, Some("idempotency_key_reused"));
}
