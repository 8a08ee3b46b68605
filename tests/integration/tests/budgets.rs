//! Request budgets: how many AWS requests each function may make for one deposit taken
//! to `succeeded`, one refund taken to `refunded`, and one idle probe run, counted by the
//! SDK itself (`paygate_integration::metered`). A change that adds a request to a
//! lifecycle fails here; raise a budget only with the reason in the commit.

use paygate_integration::metered::{LifecycleCost, MeteredStack};
use paygate_integration::pairs;

/// Per function, the most requests it may make: `(function, budget)`.
type Budget = [(&'static str, u32)];

/// Intake (warm: it knows the API key): the transaction, the idempotency claim's
/// completion, the message. Processor: the stream, the registry (listed once for a few
/// seconds), AttemptStarted, DepositSubmitted (a success on a clean breaker writes
/// nothing). Webhook: the stream (named by the notification's reference), the ledger
/// head, the transaction, the bus and its published mark.
const DEPOSIT: &Budget = &[("intake", 3), ("processor", 4), ("webhook", 5)];
/// Intake: the stream, the ledger head, the transaction (claiming the key), the
/// completion, the message. Processor (its listing still fresh): the stream,
/// RefundSubmitted. Webhook: as above.
const REFUND: &Budget = &[("intake", 5), ("processor", 2), ("webhook", 5)];
/// The registry once, and one query per sweep index (four kinds and the outbox): a
/// gateway whose health did not change, recorded less than 5 minutes ago, costs nothing.
const IDLE_PROBE: &Budget = &[("probe", 6)];

fn assert_within(lifecycle: &str, cost: &LifecycleCost, budget: &Budget) {
    for function in &cost.functions {
        let allowed = budget
            .iter()
            .find(|(name, _)| *name == function.function)
            .map_or(0, |(_, n)| *n);
        assert!(
            function.tally.total() <= allowed,
            "{lifecycle}: {} made {} requests, its budget is {allowed}\n{cost}",
            function.function,
            function.tally.total(),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deposit_its_refund_and_an_idle_probe_run_stay_within_their_request_budgets() {
    let stack = MeteredStack::new(pairs::METERED).await;

    let (id, deposit) = stack.deposit_to_succeeded(pairs::METERED).await;
    assert_within("deposit → succeeded", &deposit, DEPOSIT);
    let refund = stack.refund_to_refunded(id).await;
    assert_within("refund → refunded", &refund, REFUND);
    // (the first run records the new gateway's health; the next one is idle)
    stack.probe_run().await;
    let probe = stack.probe_run().await;
    assert_within("idle probe run", &probe, IDLE_PROBE);

    // ... and what the SDK counted is what was done: each function wrote its part
    let total = deposit.total();
    assert_eq!(total.of_operation("SendMessage"), 1, "{deposit}");
    assert_eq!(
        total.of_operation("PutEvents"),
        1,
        "one outcome on the bus: {deposit}"
    );
    assert_eq!(total.of_operation("TransactWriteItems"), 4, "{deposit}");
}
