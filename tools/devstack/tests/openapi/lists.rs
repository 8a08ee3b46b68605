//! `GET /v1/deposits`, `GET /v1/balance` and `GET /v1/balance/transactions` in the tour:
//! every answer they have, once the tour's deposit succeeded, its refunds were
//! requested, settled and failed, and its payouts reserved and failed (`payouts.rs` reads
//! `GET /v1/payouts`).

use crate::spec::Spec;
use crate::stack::{Stack, StoreMode};
use http::Method;
use serde_json::Value;
use std::collections::BTreeSet;

/// Reads every list and the balance of the tour's merchant; `card` is its one succeeded
/// deposit.
pub async fn read_lists(spec: &Spec, stack: &Stack, card: &str) {
    let newest_after = read_balance_transactions(spec, stack).await;
    read_balance(stack, newest_after).await;
    read_deposits(stack, card).await;
    for path in ["/v1/deposits", "/v1/balance", "/v1/balance/transactions"] {
        expect_guarded(stack, path).await;
    }
}

/// `GET path` refuses a caller without an API key (401) and answers 503 while the store
/// is down.
pub async fn expect_guarded(stack: &Stack, path: &str) {
    let anonymous = stack.anonymous(Method::GET, path, "").await;
    anonymous.expect(401, Some("api_key_invalid"));
    stack.set_store(StoreMode::Unavailable);
    stack
        .get(path)
        .await
        .expect(503, Some("service_unavailable"));
    stack.set_store(StoreMode::Normal);
}

/// `GET path?query` is a 400 with `code` for each `(query, code)` of `refused`.
pub async fn expect_refused_queries(
    stack: &Stack,
    path: &str,
    refused: impl IntoIterator<Item = (String, &'static str)>,
) {
    for (query, code) in refused {
        let answer = stack.get(&format!("{path}?{query}")).await;
        answer.expect(400, Some(code));
    }
}

/// What a list paged by cursors refuses whatever it lists: both cursors at once (each at
/// `cursor`), a parameter it does not know, and one given twice.
pub fn paging_refusals(cursor: &str) -> [(String, &'static str); 3] {
    [
        (
            format!("starting_after={cursor}&ending_before={cursor}"),
            "parameters_exclusive",
        ),
        ("expand=data".to_owned(), "parameter_unknown"),
        ("limit=1&limit=2".to_owned(), "parameter_duplicate"),
    ]
}

/// The items of a 200 list and its `has_more`.
async fn page(stack: &Stack, path: &str) -> (Vec<Value>, bool) {
    let list = stack.get(path).await.expect(200, None).json();
    let items = list["data"].as_array().expect("a list").clone();
    (items, list["has_more"].as_bool().expect("has_more"))
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// The ids of a 200 list and its `has_more`.
pub async fn page_ids(stack: &Stack, path: &str) -> (Vec<String>, bool) {
    let (items, has_more) = page(stack, path).await;
    (ids(&items), has_more)
}

/// `GET path` from `cursor` on either side gives what `all` (the whole list, newest
/// first) holds past it and before it.
pub async fn expect_pages_around(stack: &Stack, path: &str, all: &[String], cursor: &str) {
    let at = all
        .iter()
        .position(|id| id == cursor)
        .unwrap_or_else(|| panic!("{cursor} is listed at {path}"));
    let (older, _) = page_ids(stack, &format!("{path}?limit=100&starting_after={cursor}")).await;
    assert_eq!(older, all[at + 1..]);
    let (newer, _) = page_ids(stack, &format!("{path}?limit=100&ending_before={cursor}")).await;
    assert_eq!(newer, all[..at]);
}

/// Pages of two forward and back again give the whole list once each way, and every
/// type the spec documents happened; returns the newest AED transaction's
/// `available_after`.
async fn read_balance_transactions(spec: &Spec, stack: &Stack) -> i64 {
    let path = "/v1/balance/transactions";
    let (all, has_more) = page(stack, &format!("{path}?limit=100")).await;
    assert!(!has_more);
    let (mut forward, mut more) = page(stack, &format!("{path}?limit=2")).await;
    while more {
        let last = ids(&forward).pop().expect("a page");
        let (next, next_more) = page(stack, &format!("{path}?limit=2&starting_after={last}")).await;
        forward.extend(next);
        more = next_more;
    }
    assert_eq!(ids(&forward), ids(&all), "forward pages");
    let oldest = ids(&all).pop().expect("transactions");
    let (mut back, mut more) = page(stack, &format!("{path}?limit=2&ending_before={oldest}")).await;
    while more {
        let first = ids(&back)[0].clone();
        let (newer, newer_more) =
            page(stack, &format!("{path}?limit=2&ending_before={first}")).await;
        back.splice(0..0, newer);
        more = newer_more;
    }
    assert_eq!(ids(&back), ids(&all)[..all.len() - 1], "backward pages");

    let types: BTreeSet<String> = all
        .iter()
        .map(|t| t["type"].as_str().expect("a type").to_owned())
        .collect();
    let documented: BTreeSet<String> = spec
        .at("/components/schemas/BalanceTransactionType/enum")
        .as_array()
        .expect("an enum")
        .iter()
        .map(|t| t.as_str().expect("a type").to_owned())
        .collect();
    assert_eq!(types, documented, "every documented type happened");

    // Past the merchant's last entry (settled refunds count there but list nowhere).
    let refused = [
        ("ending_before=txn_1000000".to_owned(), "cursor_invalid"),
        (
            "starting_after=0193a4f2-6c1e-7b3d-8a52-4e9f0c7d21ab".into(),
            "cursor_invalid",
        ),
        ("limit=0".into(), "limit_invalid"),
        ("status=succeeded".into(), "parameter_unknown"),
        ("limit=2&limit=2".into(), "parameter_duplicate"),
        (
            "starting_after=txn_1&ending_before=txn_2".into(),
            "parameters_exclusive",
        ),
    ];
    expect_refused_queries(stack, path, refused).await;
    // The newest in AED: the tour's other currencies' entries may land in any order.
    let newest = all.iter().find(|t| t["currency"] == "AED");
    let newest = newest.expect("an AED transaction");
    newest["available_after"].as_i64().expect("available_after")
}

/// One currency, AED, whose `available` is what the newest transaction left.
async fn read_balance(stack: &Stack, newest_after: i64) {
    let balance = stack.get("/v1/balance").await.expect(200, None).json();
    let data = balance["data"].as_array().expect("balances");
    assert_eq!(data.len(), 1, "{balance}");
    assert_eq!(data[0]["currency"], "AED");
    assert_eq!(data[0]["available"], newest_after, "{balance}");
}

/// The first page, the status filter, both directions from the card deposit, and every
/// refusal.
async fn read_deposits(stack: &Stack, card: &str) {
    let path = "/v1/deposits";
    let (first, has_more) = page(stack, &format!("{path}?limit=1")).await;
    assert_eq!(first.len(), 1);
    assert!(has_more, "the tour took more than one deposit");
    let (refunded, _) = page_ids(stack, &format!("{path}?status=partially_refunded")).await;
    assert_eq!(refunded, [card]);
    let (all, _) = page_ids(stack, &format!("{path}?limit=100")).await;
    expect_pages_around(stack, path, &all, card).await;

    let unknown = uuid::Uuid::now_v7();
    let refused = [
        ("limit=101".to_owned(), "limit_invalid"),
        (format!("starting_after={unknown}"), "cursor_invalid"),
        ("ending_before=txn_1".to_owned(), "cursor_invalid"),
        ("status=paid".to_owned(), "status_invalid"),
    ];
    expect_refused_queries(
        stack,
        path,
        refused.into_iter().chain(paging_refusals(card)),
    )
    .await;
}
