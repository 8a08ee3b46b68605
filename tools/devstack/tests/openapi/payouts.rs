//! `POST /v1/payouts`, `GET /v1/payouts`, `GET /v1/payouts/{id}` and its events in the
//! tour: every answer they have, paid out of money a deposit of the tour brought in.
//!
//! The json gateway takes the payouts (`submitted`); the tour signs the gateway's
//! webhooks itself: one paid (its amount leaves `reserved`), one failed (its amount is
//! available again).

use crate::lists::{
    expect_guarded, expect_pages_around, expect_refused_queries, page_ids, paging_refusals,
};
use crate::spec::Spec;
use crate::stack::{JSON_GATEWAY, Stack, StoreMode};
use crate::{
    expect_in_progress, expect_refused, expect_unavailable, id_of, json_report, money_refusals,
    refused_creates, request_example, with,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// What the tour's funding deposit brings in, in AED minor units.
const FUNDS: u64 = 20_000;

/// The payout trail's event types the tour does not provoke: an attempt released after
/// a time-out and resumed (as for deposits), a gateway's surprise
/// (`PaymentAnomalyDetected`), and an attempt that failed (the tour's gateways take
/// every payout; the one nobody serves fails without an attempt).
pub const NOT_PROVOKED_YET: [&str; 4] = [
    "AttemptReleased",
    "AttemptResumed",
    "AttemptFailed",
    "PaymentAnomalyDetected",
];

/// The payouts the tour made.
pub struct Payouts {
    /// The `bankAccount` request example (50.00 AED to `ba_success`), paid by the json
    /// gateway.
    pub sent: String,
    /// 3.00 AED the json gateway took, then reported failed: its amount back.
    pub failed: String,
    /// 1.00 AED paid out in JP, where no gateway pays out AED: failed, its amount back.
    pub unserved: String,
    /// Every payout accepted, oldest first.
    pub all: Vec<String>,
}

/// The merchant's AED balance: (`available`, `reserved`).
pub async fn aed(stack: &Stack) -> (i64, i64) {
    let balance = stack.get("/v1/balance").await.expect(200, None).json();
    let data = balance["data"].as_array().expect("balances");
    let aed = data
        .iter()
        .find(|b| b["currency"] == "AED")
        .unwrap_or_else(|| panic!("no AED balance: {balance}"));
    let amount = |field: &str| aed[field].as_i64().expect("an integer");
    (amount("available"), amount("reserved"))
}

/// Every answer of the payout operations; `deposit` is one of the tour's deposits.
pub async fn pay_out(spec: &Spec, stack: &Stack, deposit: &str) -> Payouts {
    let funds = fund(stack, "payout-funds").await;
    let payouts = create_payouts(spec, stack).await;
    read_payouts(stack, &payouts.sent, deposit).await;
    list_payouts(stack, &payouts, deposit).await;
    refund_past_the_balance(stack, &funds).await;
    payouts
}

/// Once a payout took all but 1.00 AED, the funding deposit cannot be refunded in full:
/// the refund would overdraw `available`, so nothing is written.
async fn refund_past_the_balance(stack: &Stack, funds: &str) {
    let (available, reserved) = aed(stack).await;
    let body = json!({ "amount": available - 100, "currency": "AED", "country": "AE",
                       "destination": { "type": "bank_account", "token": "ba_success" } });
    let drained = stack.post_payout("payout-drain", &body).await;
    drained.expect(202, None);
    let left = (100, reserved + available - 100);
    assert_eq!(aed(stack).await, left);
    let refund = stack.refund(funds, "refund-past-the-balance", "{}").await;
    refund.expect(422, Some("balance_insufficient"));
    let trail = stack.get(&format!("/v1/deposits/{funds}/events")).await;
    let trail = trail.expect(200, None).json();
    let kinds = trail["data"].as_array().expect("events").iter();
    assert!(!kinds.map(|e| &e["type"]).any(|t| t == "RefundRequested"));
}

/// A deposit of [`FUNDS`] AED, paid at the json gateway (its webhook signed here); its
/// id. `name` is its idempotency key and order, and names its webhook event.
pub async fn fund(stack: &Stack, name: &str) -> String {
    let body = json!({ "amount": FUNDS, "currency": "AED", "country": "AE", "customer_id": "cus_42",
                       "payment_method": { "type": "card", "token": "tok_success" },
                       "metadata": { "order": name } });
    let id = id_of(stack.post_deposit(name, &body).await.expect(202, None));
    let submitted = stack
        .deposit_until(&id, "submitted", |d| d["status"] == "submitted")
        .await;
    let payment = submitted["external_id"].as_str().expect("an external id");
    let report = json_report(
        "payment.succeeded",
        &format!("evt_openapi_{name}"),
        (payment, None),
        FUNDS,
        None,
    );
    let paid = stack.webhook(JSON_GATEWAY, &report).await;
    assert_eq!(paid.expect(200, None).json()["status"], "succeeded");
    id
}

/// `POST /v1/payouts`: every answer it has.
async fn create_payouts(spec: &Spec, stack: &Stack) -> Payouts {
    let example = request_example(spec, "/v1/payouts", "bankAccount");
    let amount = example["amount"].as_i64().expect("an amount");
    let (available, reserved) = aed(stack).await;
    assert!(available >= FUNDS as i64, "the funds are available");

    // More than is available: refused, nothing reserved.
    let too_much = with(&example, "amount", json!(available + 1));
    let refused = stack.post_payout("payout-too-much", &too_much).await;
    refused.expect(422, Some("balance_insufficient"));
    assert_eq!(aed(stack).await, (available, reserved), "nothing moved");

    // Accepted: its amount is reserved in the same write.
    let created = stack.post_payout("payout-1", &example).await;
    created.expect(202, None);
    assert_eq!(created.header("idempotent-replayed"), None);
    let sent = id_of(&created);
    let location = format!("/v1/payouts/{sent}");
    assert_eq!(created.header("location"), Some(location.as_str()));
    assert_eq!(created.json()["status"], "pending");
    assert_eq!(
        aed(stack).await,
        (available - amount, reserved + amount),
        "the payout's amount is reserved"
    );
    let replayed = stack.post_payout("payout-1", &example).await;
    replayed.expect(202, None);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(replayed.json(), created.json());
    let reused = stack
        .post_payout("payout-1", &with(&example, "amount", json!(1)))
        .await;
    reused.expect(422, Some("idempotency_key_reused"));
    assert_eq!(
        aed(stack).await,
        (available - amount, reserved + amount),
        "a replay reserves nothing more"
    );

    // The gateway takes it; its webhook reports it paid: it leaves `reserved`.
    let submitted = stack
        .payout_until(&sent, "submitted", |p| p["status"] == "submitted")
        .await;
    let paid = payout_report(&submitted, "payout.paid", None);
    let ack = stack.webhook(JSON_GATEWAY, &paid).await;
    assert_eq!(ack.expect(200, None).json()["status"], "paid");
    let paid = stack.get(&location).await.expect(200, None).json();
    assert_eq!(paid["status"], "paid", "{paid}");
    assert_eq!(
        aed(stack).await,
        (available - amount, reserved),
        "the paid payout's amount left through the gateway"
    );

    // Another the gateway takes, then reports failed: its amount is available again.
    let before = aed(stack).await;
    let body = with(&example, "amount", json!(300));
    let failed = stack.post_payout("payout-fails", &body).await;
    let failed = id_of(failed.expect(202, None));
    let submitted = stack
        .payout_until(&failed, "submitted", |p| p["status"] == "submitted")
        .await;
    let report = payout_report(&submitted, "payout.failed", Some("account_closed"));
    stack.webhook(JSON_GATEWAY, &report).await.expect(200, None);
    let failed_now = stack.get(&format!("/v1/payouts/{failed}")).await;
    assert_eq!(failed_now.expect(200, None).json()["status"], "failed");
    assert_eq!(
        aed(stack).await,
        before,
        "the failed payout's amount is back"
    );

    // No gateway pays out AED in JP: it fails, and its amount is available again.
    let before = aed(stack).await;
    let body = json!({ "amount": 100, "currency": "AED", "country": "JP",
                       "destination": { "type": "bank_account", "token": "ba_success" } });
    let unserved = stack.post_payout("payout-unserved", &body).await;
    let unserved = id_of(unserved.expect(202, None));
    stack
        .payout_until(&unserved, "failed", |p| p["status"] == "failed")
        .await;
    assert_eq!(
        aed(stack).await,
        before,
        "the failed payout's amount is back"
    );

    let mut all = vec![sent.clone(), failed.clone(), unserved.clone()];
    all.extend(refusals(stack, &example).await);
    Payouts {
        sent,
        failed,
        unserved,
        all,
    }
}

/// The json gateway's signed report `kind` about the payout it took (`submitted`).
fn payout_report(submitted: &Value, kind: &str, code: Option<&str>) -> String {
    let payout = submitted["external_id"]
        .as_str()
        .expect("the gateway's payout id");
    json!({ "id": format!("evt_openapi_{payout}_{kind}"), "type": kind, "payout_id": payout,
            "reference": submitted["id"], "amount": submitted["amount"], "currency": "AED",
            "failure_code": code, "created": crate::now() })
    .to_string()
}

/// The refusals of `POST /v1/payouts` and its answers when the store or queue fails;
/// returns the payouts accepted on the way, oldest first.
async fn refusals(stack: &Stack, example: &Value) -> Vec<String> {
    let bank_account = |token: &str| json!({ "type": "bank_account", "token": token });
    let bad_fields = [
        ("customer_id", json!("cus_42"), "parameter_unknown"),
        ("destination", json!("ba_success"), "destination_invalid"),
        (
            "destination",
            json!({ "type": "card", "token": "tok_visa" }),
            "destination_type_invalid",
        ),
        (
            "destination",
            bank_account("ba success"),
            "destination_token_invalid",
        ),
        ("metadata", json!({ "reference": 1 }), "metadata_invalid"),
    ];
    let bad_fields = money_refusals().into_iter().chain(bad_fields);
    let invalid = refused_creates("p", example, "destination", bad_fields);
    let before = aed(stack).await;
    expect_refused(stack, "/v1/payouts", invalid, example).await;
    assert_eq!(aed(stack).await, before, "refused payouts reserve nothing");

    let small = |order: &str| {
        let body = with(example, "amount", json!(1));
        with(&body, "metadata", json!({ "reference": order }))
    };
    let mut accepted = Vec::new();

    let first = expect_in_progress(stack, "/v1/payouts", "payout-held", &small("held")).await;
    accepted.push(id_of(first.expect(202, None)));

    // Nothing is reserved while the store is down either.
    let body = small("store-down");
    let retried = expect_unavailable(stack, "/v1/payouts", "payout-store-down", &body).await;
    accepted.push(id_of(retried.expect(202, None)));

    // 500 when a fresh payout's stream turns out to exist already.
    let before = aed(stack).await;
    stack.set_store(StoreMode::Conflict);
    let conflict = stack
        .post_payout("payout-conflict", &small("conflict"))
        .await;
    conflict.expect(500, Some("internal_error"));
    stack.set_store(StoreMode::Normal);
    assert_eq!(aed(stack).await, before, "a failed write reserves nothing");
    accepted
}

/// `GET /v1/payouts/{id}` and `GET /v1/payouts/{id}/events`: every answer they have;
/// payouts and deposits are never found under each other's paths.
async fn read_payouts(stack: &Stack, sent: &str, deposit: &str) {
    for path in [
        format!("/v1/payouts/{sent}"),
        format!("/v1/payouts/{sent}/events"),
    ] {
        stack.get(&path).await.expect(200, None);
        expect_guarded(stack, &path).await;
    }
    let unknown = uuid::Uuid::now_v7().to_string();
    for id in [unknown.as_str(), "not-a-uuid", deposit] {
        for path in [
            format!("/v1/payouts/{id}"),
            format!("/v1/payouts/{id}/events"),
        ] {
            stack.get(&path).await.expect(404, Some("payout_not_found"));
        }
    }
    for path in [
        format!("/v1/deposits/{sent}"),
        format!("/v1/deposits/{sent}/events"),
    ] {
        stack
            .get(&path)
            .await
            .expect(404, Some("deposit_not_found"));
    }
    let refund = stack.refund(sent, "refund-a-payout", "{}").await;
    refund.expect(404, Some("deposit_not_found"));

    // The trail in payout words, its destination without the token.
    let trail = stack.get(&format!("/v1/payouts/{sent}/events")).await;
    assert!(!trail.text.contains("ba_success"), "{}", trail.text);
    let trail = trail.json();
    assert_eq!(trail["payout_id"], sent);
    assert!(trail.get("deposit_id").is_none(), "{trail}");
    let requested = &trail["data"][0];
    assert_eq!(requested["type"], "PayoutRequested");
    assert_eq!(
        requested["data"]["destination"],
        json!({ "type": "bank_account" })
    );
}

/// `GET /v1/payouts`: the whole list, pages both ways, the status filter, every refusal;
/// and no payout among the deposits.
async fn list_payouts(stack: &Stack, payouts: &Payouts, deposit: &str) {
    let path = "/v1/payouts";
    let (all, more) = page_ids(stack, &format!("{path}?limit=100")).await;
    assert!(!more);
    let newest_first: Vec<String> = payouts.all.iter().rev().cloned().collect();
    assert_eq!(all, newest_first, "every payout accepted, newest first");
    let (first, more) = page_ids(stack, &format!("{path}?limit=1")).await;
    assert_eq!(first, all[..1]);
    assert!(more, "the tour made more than one payout");
    let sent = &payouts.sent;
    expect_pages_around(stack, path, &all, sent).await;
    let (failed, _) = page_ids(stack, &format!("{path}?status=failed")).await;
    assert_eq!(failed, [payouts.unserved.clone(), payouts.failed.clone()]);
    // A payout that succeeded is `paid`.
    let (paid, _) = page_ids(stack, &format!("{path}?status=paid")).await;
    assert_eq!(paid, std::slice::from_ref(&payouts.sent));

    let unknown = uuid::Uuid::now_v7();
    let refused = [
        ("limit=0".to_owned(), "limit_invalid"),
        // A deposit's id is no payout cursor.
        (format!("starting_after={deposit}"), "cursor_invalid"),
        (format!("ending_before={unknown}"), "cursor_invalid"),
        ("status=succeeded".to_owned(), "status_invalid"),
    ];
    expect_refused_queries(
        stack,
        path,
        refused.into_iter().chain(paging_refusals(sent)),
    )
    .await;
    expect_guarded(stack, path).await;

    let (deposits, _) = page_ids(stack, "/v1/deposits?limit=100").await;
    let deposits: BTreeSet<&String> = deposits.iter().collect();
    for payout in &payouts.all {
        assert!(!deposits.contains(payout), "payout {payout} is no deposit");
    }
}
