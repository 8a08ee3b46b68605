//! `paygate-ops ledger check` through [`paygate_ops::cli`] (what the binary runs) on the
//! emulators' ledger table (DynamoDB Local), posted by the DynamoDB event store's own
//! appends, as it is in a deployed stack.
//!
//! Run through `cargo xtask test`, or with the emulators started by `cargo xtask emulators`
//! and its exports sourced; without `PAYGATE_TEST_EMULATORS=1` these tests fail on purpose.
//!
//! Each test posts to a merchant of its own (`ops_<uuid>`), whose ledger no other suite
//! reads; the deposits it appends end settled, so no sweeper picks them up.

use paygate_aws::aws_sdk_dynamodb::types::AttributeValue;
use paygate_aws::{DynamoEventStore, Resources, aws_sdk_dynamodb};
use paygate_domain::MerchantId;
use paygate_kit::contract::ledger::{CAPTURED, refunded_ledger};
use uuid::Uuid;

struct Lane {
    merchant: MerchantId,
    resources: Resources,
    client: aws_sdk_dynamodb::Client,
    store: DynamoEventStore,
}

impl Lane {
    async fn new() -> Self {
        let (client, resources) = paygate_kit::emulated_dynamodb().await;
        Self {
            merchant: MerchantId(format!("ops_{}", Uuid::new_v4().simple())),
            store: DynamoEventStore::new(client.clone(), &resources),
            client,
            resources,
        }
    }

    /// Three captured deposits, the first refunded 4000: five entries.
    async fn post(&self) {
        refunded_ledger(&self.store, &self.merchant, 3, 4_000).await;
    }

    /// `paygate-ops ledger check --merchant <ours>`: exit code, stdout, stderr.
    async fn check(&self) -> (u8, String, String) {
        let args = ["ledger", "check", "--merchant", &self.merchant.0];
        paygate_ops::run_captured(&args, &self.resources, "").await
    }
}

#[tokio::test]
async fn a_ledger_posted_by_the_store_checks_consistent_and_a_lost_entry_does_not() {
    // GIVEN a merchant whose deposits and refund were appended to DynamoDB
    let lane = Lane::new().await;
    lane.post().await;
    // WHEN its ledger is checked
    let (code, out, err) = lane.check().await;
    // THEN it is consistent: exit 0, the balances the entries add up to, one summary line
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(err, "");
    let available = 3 * CAPTURED - 4_000;
    assert_eq!(
        out,
        format!(
            "ledger of {}: 5 entries read, the head counts 5\n  \
             AED  available {available}  reserved 0  suspense 0  gateway:psp_a -{available}\n\
             entries: gapless, balanced\n\
             head: the fold of the entries\n\
             consistent: 5 entries in 1 currency, the head is their fold\n",
            lane.merchant
        )
    );

    // WHEN the item of entry 2 goes missing from the table
    lane.client
        .delete_item()
        .table_name(&lane.resources.ledger_table)
        .key("merchant_id", AttributeValue::S(lane.merchant.0.clone()))
        .key("sequence", AttributeValue::N("2".into()))
        .send()
        .await
        .unwrap();
    let (code, out, err) = lane.check().await;
    // THEN the check fails with exit 1, and says where
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("entries: NOT gapless, balanced\n"), "{out}");
    assert!(
        out.contains("  - txn_3 follows txn_1: 1 missing\n"),
        "{out}"
    );
    assert!(
        out.lines().last().unwrap().starts_with("NOT consistent: "),
        "{out}"
    );
    assert!(
        err.starts_with(&format!(
            "paygate-ops: the ledger of {} is not consistent: ",
            lane.merchant
        )),
        "{err}"
    );
}
