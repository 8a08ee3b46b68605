//! The world's moving parts besides the merchants: Lambda's SQS event source mapping in
//! front of the processor, the probe's schedule, an operator who redrives the DLQ, and
//! the moment faults stop.

use crate::executor::Mortality;
use crate::world::World;
use aws_lambda_events::event::sqs::SqsMessage;
use gateway_processor::{Disposition, process_record};
use paygate_memory::QueuedMessage;
use std::rc::Rc;

/// The processor's timeout (`template.yaml`).
const PROCESSOR_TIMEOUT_MS: i64 = 30_000;
/// The probe's timeout and schedule.
const PROBE_TIMEOUT_MS: i64 = 30_000;
const PROBE_EVERY_MS: i64 = 60_000;
/// How long an empty receive waits (SQS long polling).
const LONG_POLL_MS: i64 = 20_000;

pub fn start(world: &Rc<World>) {
    let w = world.clone();
    world
        .exec
        .spawn("sqs trigger", async move { sqs_trigger(&w).await });
    let w = world.clone();
    world
        .exec
        .spawn("probe schedule", async move { schedule(&w).await });
    let w = world.clone();
    world
        .exec
        .spawn("faults stop", async move { calm_down(&w).await });
    if world.config.queue.redrive {
        let w = world.clone();
        world
            .exec
            .spawn("operator", async move { operator(&w).await });
    }
    for psp in world.psps.values() {
        let (w, psp) = (world.clone(), psp.clone());
        world.exec.spawn("psp", async move { psp.drive(&w).await });
    }
}

/// Receives batches and runs the processor on each message, as Lambda's event source
/// mapping does: done → deleted; retry → left for its visibility timeout (which the
/// processor set to its backoff). Sometimes one message goes to two workers at once.
async fn sqs_trigger(world: &Rc<World>) {
    loop {
        let batch = world.queue.receive(10);
        if batch.is_empty() {
            let next = world
                .queue
                .next_visible_at()
                .map(|at| (at.unix_timestamp_nanos() / 1_000_000) as i64)
                .unwrap_or(i64::MAX)
                .min(world.now_ms() + LONG_POLL_MS);
            world.timers.sleep_until(next.max(world.now_ms() + 1)).await;
            continue;
        }
        for message in batch {
            let copies = if !world.calm.get() && world.chance(world.config.queue.duplicate_rate) {
                world.note(format!(
                    "sqs: message for {} delivered twice",
                    message.body.deposit_id
                ));
                2
            } else {
                1
            };
            for _ in 0..copies {
                spawn_worker(world, &message);
            }
        }
        world.sleep(10).await;
    }
}

fn spawn_worker(world: &Rc<World>, message: &QueuedMessage) {
    let record = sqs_message(message);
    let processor = world.processor.clone();
    let queue = world.queue.clone();
    let receipt = message.receipt;
    let mortality = Mortality {
        crash_rate: world.function_crash_rate(),
        timeout_ms: Some(PROCESSOR_TIMEOUT_MS),
    };
    let deposit = message.body.deposit_id;
    let receives = message.receive_count;
    let (trace, timers) = (world.trace.clone(), world.timers.clone());
    world.exec.spawn_mortal("processor", mortality, async move {
        let disposition = process_record(&processor, record).await;
        trace.note(
            timers.now_ms(),
            format!("processor {deposit} (receive {receives}): {disposition:?}"),
        );
        if disposition == Disposition::Done {
            queue.delete(receipt);
        }
    });
}

/// The SQS record Lambda would hand the processor for `message`.
fn sqs_message(message: &QueuedMessage) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(message.message_id.to_string());
    record.receipt_handle = Some(message.receipt.to_string());
    record.body = serde_json::to_string(&message.body).ok();
    record.attributes.insert(
        "ApproximateReceiveCount".into(),
        message.receive_count.to_string(),
    );
    record
}

/// The probe and sweeper, every minute (overlapping runs allowed, like the schedule).
async fn schedule(world: &Rc<World>) {
    loop {
        world.sleep(PROBE_EVERY_MS).await;
        let probe = world.probe.clone();
        let mortality = Mortality {
            crash_rate: world.function_crash_rate(),
            timeout_ms: Some(PROBE_TIMEOUT_MS),
        };
        world.exec.spawn_mortal("probe", mortality, async move {
            let _ = health_probe::run_once(&probe).await;
        });
    }
}

/// Now and then an operator moves what the DLQ holds back to the queue (`dlq redrive`),
/// so old messages arrive again.
async fn operator(world: &Rc<World>) {
    loop {
        world.sleep(world.between(10 * 60_000, 40 * 60_000)).await;
        let moved = world.dlq.move_all_to(&world.queue);
        if moved > 0 {
            world.note(format!(
                "operator: {moved} message(s) redriven from the DLQ"
            ));
        }
    }
}

/// Faults stop after the fault window: store, queue and functions behave, the PSPs too.
async fn calm_down(world: &Rc<World>) {
    world.sleep(world.config.faults_for_ms).await;
    world.calm.set(true);
    world.faults.stop();
    for psp in world.psps.values() {
        psp.calm_down();
    }
    world.note("faults stop");
}
