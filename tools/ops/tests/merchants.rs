//! `paygate-ops merchants …` through [`paygate_ops::cli_with_input`] (what the binary runs)
//! on the emulators' merchants table (DynamoDB Local), checked with the directory the
//! intake authenticates with (`DynamoMerchantDirectory::merchant_for`).
//!
//! Run through `cargo xtask test`, or with the emulators started by `cargo xtask emulators`
//! and its exports sourced; without `PAYGATE_TEST_EMULATORS=1` these tests fail on purpose.
//!
//! The table is shared with the suites running in parallel: each test uses merchant ids of
//! its own (`ops_<uuid>_…`), and the keys it issues are random, so it touches no other
//! suite's items; it removes the items it created when it ends, failed or not.

use paygate_aws::aws_sdk_dynamodb::types::AttributeValue;
use paygate_aws::{DynamoMerchantDirectory, Resources, aws_sdk_dynamodb};
use paygate_domain::MerchantId;
use paygate_domain::ports::{ApiKey, ApiKeyHash, MerchantDirectory};
use paygate_ops::merchants::{KEY_LEN, KEY_PREFIX, SHOWN_ONCE};
use std::sync::Mutex;
use uuid::Uuid;

/// One test's merchants, and the key hashes it registered.
struct Lane {
    prefix: String,
    resources: Resources,
    directory: DynamoMerchantDirectory,
    issued: Mutex<Vec<ApiKeyHash>>,
}

impl Lane {
    async fn new() -> Self {
        let (client, resources) = paygate_kit::emulated_dynamodb().await;
        Self {
            prefix: format!("ops_{}_", Uuid::new_v4().simple()),
            directory: DynamoMerchantDirectory::new(client, &resources),
            resources,
            issued: Mutex::new(Vec::new()),
        }
    }

    fn merchant(&self, suffix: &str) -> MerchantId {
        MerchantId(format!("{}{suffix}", self.prefix))
    }

    /// `paygate-ops <args>` with `stdin`: exit code, stdout, stderr.
    async fn ops(&self, args: &[&str], stdin: &str) -> (u8, String, String) {
        paygate_ops::run_captured(args, &self.resources, stdin).await
    }

    /// `merchants add <merchant>`: the printed key, after checking the report around it.
    async fn add(&self, merchant: &MerchantId) -> String {
        let (code, out, err) = self.ops(&["merchants", "add", &merchant.0], "").await;
        assert_eq!(code, 0, "{err}");
        assert!(err.is_empty(), "{err}");
        let lines: Vec<&str> = out.lines().collect();
        let key = lines[1].to_owned();
        let hash = ApiKey::new(key.as_str()).hash();
        self.issued.lock().unwrap().push(hash.clone());
        assert_eq!(
            lines[0],
            format!(
                "added a new API key for merchant {merchant} in {} (key hash {})",
                self.resources.merchants_table, hash.0
            )
        );
        assert!(key.starts_with(KEY_PREFIX) && key.len() == KEY_LEN, "{out}");
        assert!(
            key[KEY_PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{out}"
        );
        assert_eq!(lines[2], SHOWN_ONCE);
        assert!(out.contains("cannot be shown again"), "{out}");
        // The key is on one line of the output, once.
        assert_eq!(out.matches(key.as_str()).count(), 1, "{out}");
        key
    }

    /// The key hashes the table maps to `merchant` (a scan: the table has no index by
    /// merchant).
    async fn hashes_of(&self, merchant: &MerchantId) -> Vec<String> {
        let client = aws_sdk_dynamodb::Client::new(&paygate_aws::sdk_config());
        let items = client
            .scan()
            .table_name(&self.resources.merchants_table)
            .filter_expression("merchant_id = :m")
            .expression_attribute_values(":m", AttributeValue::S(merchant.0.clone()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .expect("scan the merchants table");
        let mut hashes: Vec<String> = items
            .iter()
            .map(|item| match item.get("api_key_hash") {
                Some(AttributeValue::S(hash)) => hash.clone(),
                other => panic!("api_key_hash: {other:?}"),
            })
            .collect();
        hashes.sort();
        hashes
    }

    /// What the intake would find for `key` (as sent in `Authorization: Bearer <key>`).
    async fn authenticates_as(&self, key: &str) -> Option<MerchantId> {
        self.directory
            .merchant_for(&ApiKey::new(key).hash())
            .await
            .expect("read the merchants table")
    }
}

impl Drop for Lane {
    /// Removes the items this test registered, on a runtime of its own (the test's may be
    /// gone).
    fn drop(&mut self) {
        let hashes = std::mem::take(&mut *self.issued.lock().unwrap_or_else(|p| p.into_inner()));
        let table = self.resources.merchants_table.clone();
        paygate_kit::run_to_completion(move || async move {
            let client = aws_sdk_dynamodb::Client::new(&paygate_aws::sdk_config());
            for hash in hashes {
                let _ = client
                    .delete_item()
                    .table_name(&table)
                    .key("api_key_hash", AttributeValue::S(hash.0))
                    .send()
                    .await;
            }
        });
    }
}

#[tokio::test]
async fn add_issues_keys_that_authenticate_and_check_names_their_merchant() {
    // GIVEN a merchant without keys
    let lane = Lane::new().await;
    let merchant = lane.merchant("acme");

    // WHEN the operator adds a key for it
    let first = lane.add(&merchant).await;

    // THEN the printed key authenticates as the merchant
    assert_eq!(lane.authenticates_as(&first).await, Some(merchant.clone()));

    // WHEN the operator adds another key (a rotation)
    let second = lane.add(&merchant).await;

    // THEN it is a different key, and both authenticate as the merchant
    assert_ne!(first, second);
    assert_eq!(lane.authenticates_as(&second).await, Some(merchant.clone()));
    assert_eq!(lane.authenticates_as(&first).await, Some(merchant.clone()));
    // AND the table holds exactly their two hashes for it, never a key
    let mut expected = vec![
        ApiKey::new(first.as_str()).hash().0,
        ApiKey::new(second.as_str()).hash().0,
    ];
    expected.sort();
    assert_eq!(lane.hashes_of(&merchant).await, expected);

    // AND `check` names the merchant of each key read from stdin
    for key in [&first, &second] {
        let (code, out, err) = lane.ops(&["merchants", "check"], &format!("{key}\n")).await;
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            out,
            format!(
                "the key belongs to merchant {merchant} (key hash {}, table {})\n",
                ApiKey::new(key.as_str()).hash().0,
                lane.resources.merchants_table
            )
        );
        assert!(!out.contains(key.as_str()) && err.is_empty(), "{out}{err}");
    }
    // `--stdin` is implicit, and allowed.
    let (code, out, _) = lane.ops(&["merchants", "check", "--stdin"], &first).await;
    assert_eq!(code, 0);
    assert!(out.contains(&format!("merchant {merchant} ")), "{out}");

    // AND another merchant's key is another merchant's
    let other = lane.merchant("globex");
    let third = lane.add(&other).await;
    assert_eq!(lane.authenticates_as(&third).await, Some(other.clone()));
    let (code, out, _) = lane.ops(&["merchants", "check"], &third).await;
    assert_eq!(code, 0);
    assert!(out.contains(&format!("merchant {other} ")), "{out}");
}

#[tokio::test]
async fn check_fails_with_exit_code_1_for_a_key_nobody_has_and_never_quotes_it() {
    let lane = Lane::new().await;
    let unknown = format!(
        "{KEY_PREFIX}{}",
        Uuid::new_v4().simple().to_string().repeat(2)
    );

    let (code, out, err) = lane
        .ops(&["merchants", "check"], &format!("{unknown}\n"))
        .await;

    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert_eq!(
        err,
        format!(
            "paygate-ops: no merchant has this API key in {} (key hash {}): it was never \
             registered there, or its item was removed\n",
            lane.resources.merchants_table,
            ApiKey::new(unknown.as_str()).hash().0
        )
    );
    assert!(!err.contains(&unknown), "{err}");
    assert_eq!(lane.authenticates_as(&unknown).await, None);

    // Nothing on stdin: exit code 1 too, no lookup needed.
    let (code, out, err) = lane.ops(&["merchants", "check"], "").await;
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.starts_with("paygate-ops: no API key on stdin"), "{err}");
}

#[tokio::test]
async fn a_refused_merchant_id_registers_nothing() {
    let lane = Lane::new().await;
    let bad = format!("{}bad/id", lane.prefix);
    let bad_merchant = MerchantId(bad.clone());

    let (code, out, err) = lane.ops(&["merchants", "add", &bad], "").await;

    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with(
            "paygate-ops: `merchants add`: the merchant id may only hold ASCII letters, digits, \
             '_' and '-'\n"
        ),
        "{err}"
    );
    assert!(!err.contains("sk_live_"), "{err}");
    assert!(lane.hashes_of(&bad_merchant).await.is_empty());
}

#[tokio::test]
async fn revoke_removes_a_key_of_its_merchant_only() {
    // GIVEN a merchant with two keys (mid-rotation)
    let lane = Lane::new().await;
    let (merchant, other) = (lane.merchant("acme"), lane.merchant("other"));
    let old = lane.add(&merchant).await;
    let new = lane.add(&merchant).await;
    let old_hash = ApiKey::new(old.as_str()).hash().0;

    // WHEN the operator names the wrong merchant
    let (code, out, err) = lane
        .ops(&["merchants", "revoke", &old_hash, &other.0], "")
        .await;

    // THEN nothing is removed, and it says so with exit code 1
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("has no key with hash"), "{err}");
    assert_eq!(lane.authenticates_as(&old).await, Some(merchant.clone()));

    // WHEN the operator revokes the old key of the right merchant
    let (code, out, err) = lane
        .ops(&["merchants", "revoke", &old_hash, &merchant.0], "")
        .await;

    // THEN the old key no longer authenticates, the new one still does
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("revoked the key with hash"), "{out}");
    assert_eq!(lane.authenticates_as(&old).await, None);
    assert_eq!(lane.authenticates_as(&new).await, Some(merchant.clone()));
    assert_eq!(
        lane.hashes_of(&merchant).await,
        vec![ApiKey::new(new.as_str()).hash().0]
    );

    // AND a key given instead of its hash is refused without being repeated
    let (code, _, err) = lane
        .ops(&["merchants", "revoke", &new, &merchant.0], "")
        .await;
    assert_eq!(code, 2);
    assert!(!err.contains(new.as_str()), "{err}");
    assert_eq!(lane.authenticates_as(&new).await, Some(merchant));
}
