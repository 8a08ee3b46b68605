//! The merchant's lists and money as a merchant sees them: `GET /v1/deposits`,
//! `GET /v1/balance` and `GET /v1/balance/transactions`, driven through `handle` with
//! in-memory ports. Deposits reach their stage and refunds their outcome through the
//! kit's `World` (the processor's and the webhook's use cases). Each test reads
//! GIVEN / WHEN / THEN.

use http::{Method, StatusCode};
use lambda_http::Body;
use paygate_domain::{DepositId, RefundId};
use paygate_kit::in_case;
use paygate_kit::world::intake::*;
use serde_json::{Value, json};
use time::Duration;

// ================================================================ helpers

/// WHEN-helper: the merchant of `api_key` reads the list at `path`; its ids and `has_more`.
async fn list(world: &World, api_key: &str, path: &str) -> (Vec<String>, bool) {
    let (items, has_more) = world.send(get(api_key, path)).await.assert_list();
    (ids(&items), has_more)
}

fn ids(items: &[Value]) -> Vec<String> {
    let id = |item: &Value| item["id"].as_str().expect("an id").to_owned();
    items.iter().map(id).collect()
}

/// GIVEN-helper: `count` deposits of merchant A at `stage`, a second apart; oldest first.
async fn deposits_over_time(world: &World, count: usize, stage: Stage) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..count {
        world.clock.advance(Duration::seconds(1));
        ids.push(world.deposit_at(10_099, stage).await.to_string());
    }
    ids
}

fn newest_first(ids: &[String]) -> Vec<String> {
    ids.iter().rev().cloned().collect()
}

/// WHEN-helper: merchant A asks for a refund of `amount` of `id`; the refund's id.
async fn refund(world: &World, id: DepositId, key: &str, amount: u64) -> RefundId {
    let body = json!({ "amount": amount }).to_string();
    let reply = world
        .send(post_refund(KEY_A, &id.to_string(), Some(key), &body))
        .await;
    reply.assert_json(StatusCode::ACCEPTED);
    let refund = reply.json()["id"].as_str().map(RefundId::parse);
    refund.flatten().expect("a refund id")
}

/// THEN-helper: `GET path` as the merchant of `api_key` is a 400 `code` naming `param`.
async fn assert_refused(world: &World, api_key: &str, path: &str, code: &str, param: &str) {
    let reply = world.send(get(api_key, path)).await;
    in_case(path, || reply.assert_bad_request(code, Some(param)));
}

// ================================================================ paging

#[tokio::test]
async fn pages_walk_every_deposit_exactly_once_both_ways_while_new_ones_arrive() {
    // GIVEN seven deposits of merchant A
    let world = World::new();
    let seven = deposits_over_time(&world, 7, Stage::Pending).await;
    let mut all = seven.clone();

    // WHEN A pages forward three at a time, and two deposits arrive after each page
    let (mut seen, mut more) = (Vec::new(), Vec::new());
    let mut path = "/v1/deposits?limit=3".to_owned();
    loop {
        let (page, has_more) = list(&world, KEY_A, &path).await;
        all.extend(deposits_over_time(&world, 2, Stage::Pending).await);
        more.push(has_more);
        let last = page.last().cloned().expect("a page");
        seen.extend(page);
        if !has_more {
            break;
        }
        path = format!("/v1/deposits?limit=3&starting_after={last}");
    }

    // THEN it saw the seven, newest first, each once, and none of the newer arrivals
    assert_eq!(seen, newest_first(&seven));
    assert_eq!(more, [true, true, false]);

    // WHEN A pages back from the oldest, three at a time, one arriving after each page
    let mut back: Vec<String> = Vec::new();
    let mut cursor = seven[0].clone();
    loop {
        let path = format!("/v1/deposits?limit=3&ending_before={cursor}");
        let (page, has_more) = list(&world, KEY_A, &path).await;
        assert!(page.len() <= 3);
        cursor = page.first().cloned().expect("a page");
        back.splice(0..0, page);
        if !has_more {
            break;
        }
        all.extend(deposits_over_time(&world, 1, Stage::Pending).await);
    }

    // THEN it saw every deposit newer than the oldest, the arrivals too, each once
    assert_eq!(back, newest_first(&all[1..]));
}

#[tokio::test]
async fn the_status_filter_keeps_the_deposits_in_that_status_only() {
    // GIVEN a deposit of merchant A at each stage, and a succeeded one partly refunded
    let world = World::new();
    let mut at = Vec::new();
    for stage in [
        Stage::Pending,
        Stage::Processing,
        Stage::Submitted,
        Stage::Succeeded,
        Stage::Failed,
    ] {
        at.push(deposits_over_time(&world, 1, stage).await);
    }
    let partly = world.deposit_at(1000, Stage::Succeeded).await;
    let refund = refund(&world, partly, "R", 300).await;
    world.gateway_reports(partly, refund, true).await;
    let partly = vec![partly.to_string()];

    for (status, expected) in [
        ("pending", &at[0]),
        ("processing", &at[1]),
        ("submitted", &at[2]),
        ("succeeded", &at[3]),
        ("failed", &at[4]),
        ("partially_refunded", &partly),
        ("refunded", &Vec::new()),
    ] {
        // WHEN A lists the deposits in that status
        let path = format!("/v1/deposits?status={status}");
        let (found, has_more) = list(&world, KEY_A, &path).await;
        // THEN only those
        assert_eq!(&found, expected, "{status}");
        assert!(!has_more, "{status}");
    }

    // AND each listed deposit is what GET /v1/deposits/{id} shows
    let (items, _) = world.send(get(KEY_A, "/v1/deposits")).await.assert_list();
    assert_eq!(items.len(), 6);
    for item in items {
        let one = world
            .read_deposit(KEY_A, item["id"].as_str().unwrap())
            .await;
        assert_eq!(item, one.json());
    }
}

#[tokio::test]
async fn limit_takes_1_to_100_and_is_10_when_absent() {
    // GIVEN 101 deposits of merchant A
    let world = World::new();
    deposits_over_time(&world, 101, Stage::Pending).await;

    for (query, expected) in [
        ("", Some((10, true))),
        ("?limit=1", Some((1, true))),
        ("?limit=100", Some((100, true))),
        ("?limit=0", None),
        ("?limit=101", None),
        ("?limit=-1", None),
        ("?limit=1.5", None),
        ("?limit=ten", None),
        ("?limit=", None),
    ] {
        // WHEN A lists its deposits with that limit
        let reply = world
            .send(get(KEY_A, &format!("/v1/deposits{query}")))
            .await;
        // THEN a page of that many, or 400 limit_invalid
        in_case(query, || match expected {
            Some((count, more)) => {
                let (items, has_more) = reply.assert_list();
                assert_eq!((items.len(), has_more), (count, more));
            }
            None => reply.assert_bad_request("limit_invalid", Some("limit")),
        });
    }
}

// ================================================================ refused queries

#[tokio::test]
async fn a_list_query_it_does_not_take_is_refused_naming_the_parameter() {
    // GIVEN two deposits of merchant A that succeeded (so both lists hold something, and
    // the cursors below but the malformed ones are A's own)
    let world = World::new();
    let ids = deposits_over_time(&world, 2, Stage::Succeeded).await;
    let both = format!("starting_after={}&ending_before={}", ids[0], ids[1]);
    let uuid = uuid::Uuid::new_v4();
    let deposits = |query: &str| format!("/v1/deposits?{query}");
    let transactions = |query: &str| format!("/v1/balance/transactions?{query}");
    let cases = [
        (deposits("expand=data"), "parameter_unknown", "expand"),
        (deposits("Status=pending"), "parameter_unknown", "Status"),
        (
            transactions("status=pending"),
            "parameter_unknown",
            "status",
        ),
        (deposits("limit=2&limit=2"), "parameter_duplicate", "limit"),
        (transactions("limit=0"), "limit_invalid", "limit"),
        (deposits("status=paid"), "status_invalid", "status"),
        (deposits("status=Succeeded"), "status_invalid", "status"),
        (
            deposits("starting_after=txn_1"),
            "cursor_invalid",
            "starting_after",
        ),
        (
            transactions(&format!("starting_after={uuid}")),
            "cursor_invalid",
            "starting_after",
        ),
        (
            transactions("ending_before=txn_0"),
            "cursor_invalid",
            "ending_before",
        ),
        // both cursors at once, each one of A's own
        (deposits(&both), "parameters_exclusive", "ending_before"),
        (
            transactions("ending_before=txn_1&starting_after=txn_2"),
            "parameters_exclusive",
            "ending_before",
        ),
    ];
    for (path, code, param) in cases {
        // WHEN A lists with that query, THEN 400 with its code, naming the parameter
        assert_refused(&world, KEY_A, &path, code, param).await;
    }
}

#[tokio::test]
async fn a_cursor_of_another_merchants_object_is_refused_exactly_like_an_unknown_one() {
    // GIVEN merchant A with one succeeded deposit, merchant B with two
    let world = World::new();
    world.deposit_at(1000, Stage::Succeeded).await;
    let theirs = world.post_valid_deposit(KEY_B, "K1").await.deposit_id();
    let second = world.post_valid_deposit(KEY_B, "K2").await.deposit_id();
    for id in [theirs, second] {
        world.record(id, events_to(id, Stage::Succeeded)).await;
    }
    let (b_transactions, _) = list(&world, KEY_B, "/v1/balance/transactions").await;
    assert_eq!(b_transactions, ["txn_2", "txn_1"]);

    let unknown = uuid::Uuid::new_v4();
    for cursor in ["starting_after", "ending_before"] {
        // WHEN A lists its deposits from B's deposit, from an unknown id and from no id
        let from = async |id: &dyn std::fmt::Display| {
            let path = format!("/v1/deposits?{cursor}={id}");
            world.send(get(KEY_A, &path)).await
        };
        let from_theirs = from(&theirs).await;
        let from_unknown = from(&unknown).await;
        let from_malformed = from(&"not-a-uuid").await;
        // THEN the same 400: nothing says that B's deposit exists
        in_case(cursor, || {
            from_theirs.assert_bad_request("cursor_invalid", Some(cursor))
        });
        assert_eq!(from_theirs.text, from_unknown.text, "{cursor}");
        assert_eq!(from_malformed.text, from_unknown.text, "{cursor}");
        assert!(!from_theirs.text.contains(&theirs.to_string()));

        // AND B's second transaction is past A's ledger: no cursor of A's
        let from = async |id: &str| {
            let path = format!("/v1/balance/transactions?{cursor}={id}");
            world.send(get(KEY_A, &path)).await
        };
        let past_a = from("txn_2").await;
        in_case(cursor, || {
            past_a.assert_bad_request("cursor_invalid", Some(cursor))
        });
        assert_eq!(past_a.text, from("txn_99999").await.text, "{cursor}");
        // while A's own first one is
        from("txn_1").await.assert_list();
    }
}

// ================================================================ the balance

#[tokio::test]
async fn the_balance_follows_a_deposit_that_succeeds_and_its_refunds() {
    // GIVEN merchant A's deposit of 100.99 AED, still pending: nothing moved yet
    let world = World::new();
    let id = world.deposit_at(10_099, Stage::Pending).await;
    world.assert_balance(KEY_A, json!([])).await;
    assert_eq!(world.transactions(KEY_A).await, Vec::<Value>::new());

    // WHEN the gateway confirms it
    world.clock.advance(Duration::seconds(1));
    world.record(id, events_to(id, Stage::Succeeded)).await;
    // THEN all of it is available, by one `deposit` transaction
    let deposit = world.transaction(id, ("txn_1", "deposit", id.to_string()), (10_099, 10_099));
    world.assert_aed_balance(10_099, 0).await;
    assert_eq!(
        world.transactions(KEY_A).await,
        std::slice::from_ref(&deposit)
    );

    // WHEN A refunds 40.00
    world.clock.advance(Duration::seconds(1));
    let failing = refund(&world, id, "R1", 4000).await;
    // THEN 60.99 stays available and 40.00 is reserved, by a `refund` transaction
    let refunded = world.transaction(id, ("txn_2", "refund", failing.to_string()), (-4000, 6099));
    world.assert_aed_balance(6099, 4000).await;
    assert_eq!(
        world.transactions(KEY_A).await,
        [refunded.clone(), deposit.clone()]
    );

    // WHEN the gateway fails that refund
    world.clock.advance(Duration::seconds(1));
    world.gateway_reports(id, failing, false).await;
    // THEN the 40.00 is available again, by a `refund_reversal`
    let reversed = world.transaction(
        id,
        ("txn_3", "refund_reversal", failing.to_string()),
        (4000, 10_099),
    );
    world.assert_aed_balance(10_099, 0).await;

    // WHEN A refunds 40.00 again and the gateway settles it
    world.clock.advance(Duration::seconds(1));
    let settled = refund(&world, id, "R2", 4000).await;
    let again = world.transaction(id, ("txn_4", "refund", settled.to_string()), (-4000, 6099));
    world.gateway_reports(id, settled, true).await;
    // THEN nothing stays reserved, and the settlement (which moves nothing available) is
    // no balance transaction
    world.assert_aed_balance(6099, 0).await;
    assert_eq!(
        world.transactions(KEY_A).await,
        [again, reversed, refunded, deposit]
    );
}

#[tokio::test]
async fn another_merchant_sees_nothing_of_a_merchants_money_or_deposits() {
    // GIVEN merchant A's deposit succeeded and was partly refunded
    let world = World::new();
    let id = world.deposit_at(10_099, Stage::Succeeded).await;
    refund(&world, id, "R", 4000).await;
    let (a_transactions, _) = list(&world, KEY_A, "/v1/balance/transactions").await;
    assert_eq!(a_transactions.len(), 2);

    // WHEN merchant B reads its balance and lists
    // THEN B has no money and nothing to list
    world.assert_balance(KEY_B, json!([])).await;
    for path in ["/v1/balance/transactions", "/v1/deposits"] {
        assert_eq!(list(&world, KEY_B, path).await, (vec![], false), "{path}");
    }
    // AND A's ids are no cursors of B's
    for path in [
        format!("/v1/deposits?starting_after={id}"),
        "/v1/balance/transactions?starting_after=txn_1".to_owned(),
    ] {
        assert_refused(&world, KEY_B, &path, "cursor_invalid", "starting_after").await;
    }
}

#[tokio::test]
async fn the_reads_need_a_valid_api_key() {
    // GIVEN merchant A's succeeded deposit
    let world = World::new();
    world.deposit_at(1000, Stage::Succeeded).await;
    let unknown = bearer("sk_test_nobody");
    for path in ["/v1/balance", "/v1/balance/transactions", "/v1/deposits"] {
        for headers in [vec![], vec![("authorization", unknown.as_str())]] {
            // WHEN it is read without a key, or with one nobody has
            let reply = world
                .send(request(Method::GET, path, &headers, Body::Empty))
                .await;
            // THEN 401 api_key_invalid
            in_case(path, || reply.assert_api_key_invalid());
        }
    }
}

#[tokio::test]
async fn a_store_that_is_down_is_503_without_its_detail() {
    let detail = "Query failed: AccessDenied on arn:aws:dynamodb:eu-west-1:123456789012:table/paygate-ledger";
    for (path, target) in [
        ("/v1/balance", Target::port(Port::Store)),
        ("/v1/balance/transactions", Target::port(Port::Store)),
        (
            "/v1/balance/transactions?starting_after=txn_1",
            Target::port(Port::Store),
        ),
        ("/v1/deposits", Target::op(Port::Index, "deposits")),
    ] {
        // GIVEN merchant A's succeeded deposit, and a store that then fails every read
        let world = World::new();
        world.deposit_at(1000, Stage::Succeeded).await;
        let _down = world.faults.when(target).fail(detail);
        // WHEN A reads
        let reply = world.send(get(KEY_A, path)).await;
        // THEN 503, and nothing of the cause
        in_case(path, || {
            reply.assert_unavailable();
            reply.assert_hides(&[detail]);
        });
    }
}
