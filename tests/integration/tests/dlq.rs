//! The deposits dead-letter queue on SQS (emulated), DESIGN §7: SQS moves a message that
//! keeps failing to the DLQ; operators list it, inspect it and redrive it back intact.
//!
//! Each test has a queue pair of its own (`maxReceiveCount` 2, visibility 1 s).

use paygate_aws::{RedriveMethod, approximate_depth, peek, redrive};
use paygate_integration::DlqPair;

#[tokio::test]
async fn a_message_received_too_often_is_moved_to_the_dlq() {
    // GIVEN a deposit message on a queue whose DLQ takes it after 2 receives
    let pair = DlqPair::new().await;
    let sent = pair.send_deposits(1).await;

    // WHEN a consumer receives it again and again and never deletes it
    let receives = pair.fail_until_dead_lettered().await;

    // THEN SQS moved it to the DLQ, unchanged, after maxReceiveCount receives
    assert_eq!(receives, pair.max_receive_count);
    assert!(pair.source.receive(10, 0).await.unwrap().is_empty());
    let dead = peek(&pair.dlq, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].deposit_message().unwrap(), sent[0]);
    assert_eq!(
        dead[0].correlation_id.as_deref(),
        Some(sent[0].correlation_id.0.as_str())
    );
    assert!(dead[0].receive_count > pair.max_receive_count);
}

#[tokio::test]
async fn peeking_lists_the_dlq_without_hiding_anything() {
    let (pair, sent) = DlqPair::with_dead_letters(2).await;

    let first = peek(&pair.dlq, 10).await.unwrap();
    // Listed again at once: the first look made them visible again.
    let second = peek(&pair.dlq, 10).await.unwrap();

    let ids = |listed: &[paygate_aws::ReceivedMessage]| {
        let mut ids: Vec<_> = listed
            .iter()
            .map(|m| m.deposit_message().unwrap().deposit_id)
            .collect();
        ids.sort();
        ids
    };
    let mut expected: Vec<_> = sent.iter().map(|m| m.deposit_id).collect();
    expected.sort();
    assert_eq!(ids(&first), expected);
    assert_eq!(ids(&second), expected);
    assert_eq!(approximate_depth(&pair.sqs, &pair.dlq).await.unwrap(), 2);
    // A listing capped below the depth lists no message twice.
    assert_eq!(peek(&pair.dlq, 1).await.unwrap().len(), 1);
}

#[tokio::test]
async fn redrive_moves_dead_letters_back_intact() {
    // GIVEN a dead-lettered deposit message
    let (pair, sent) = DlqPair::with_dead_letters(1).await;
    let dead = peek(&pair.dlq, 10).await.unwrap();
    assert_eq!(dead.len(), 1);

    // WHEN it is redriven to its queue
    let report = redrive(&pair.dlq, &pair.source, &pair.sqs, None)
        .await
        .unwrap();

    // THEN the report says how: moto has no StartMessageMoveTask (HTTP 500), so the
    // messages were moved one by one
    match &report.method {
        RedriveMethod::ReceiveSendDelete { reason } => {
            assert!(
                reason.starts_with("StartMessageMoveTask unsupported"),
                "{report:?}"
            );
            assert_eq!(report.moved, 1, "{report:?}");
        }
        // An endpoint with the move task (AWS, LocalStack) moves it in the background.
        RedriveMethod::MessageMoveTask { task_handle } => {
            assert!(!task_handle.is_empty(), "{report:?}");
        }
    }
    // AND the message is back on its queue, body and correlation attribute intact, as a
    // fresh delivery
    let mut back = pair.drain_source().await;
    for _ in 0..10 {
        if !back.is_empty() {
            break;
        }
        back = pair.drain_source().await;
    }
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].body, dead[0].body);
    assert_eq!(back[0].deposit_message().unwrap(), sent[0]);
    assert_eq!(back[0].correlation_id, dead[0].correlation_id);
    assert_eq!(back[0].receive_count, 1);
    // AND the DLQ is empty
    assert!(peek(&pair.dlq, 10).await.unwrap().is_empty());
    assert_eq!(approximate_depth(&pair.sqs, &pair.dlq).await.unwrap(), 0);
}

#[tokio::test]
async fn redrive_with_a_limit_moves_only_that_many() {
    let (pair, sent) = DlqPair::with_dead_letters(3).await;
    assert_eq!(approximate_depth(&pair.sqs, &pair.dlq).await.unwrap(), 3);

    let report = redrive(&pair.dlq, &pair.source, &pair.sqs, Some(2))
        .await
        .unwrap();

    // A move task cannot be capped, so a limit always moves them one by one.
    assert_eq!(
        report.method,
        RedriveMethod::ReceiveSendDelete {
            reason: "a limit of 2 was asked for".into()
        }
    );
    assert_eq!(report.moved, 2);
    let back = pair.drain_source().await;
    let left = peek(&pair.dlq, 10).await.unwrap();
    assert_eq!((back.len(), left.len()), (2, 1));
    let mut all: Vec<_> = back
        .iter()
        .chain(&left)
        .map(|m| m.deposit_message().unwrap())
        .collect();
    all.sort_by_key(|m| m.deposit_id);
    assert_eq!(all, sent, "nothing lost, nothing duplicated");
}

#[tokio::test]
async fn redriving_a_queue_onto_itself_is_refused() {
    let pair = DlqPair::new().await;
    let err = redrive(&pair.dlq, &pair.dlq, &pair.sqs, None)
        .await
        .unwrap_err();
    assert!(err.0.contains("same queue"), "{err}");
}

/// The ops binary's code path (`paygate_ops::cli_with_input`, which its `main` only hands
/// the process's arguments, environment and stdout/stderr, here through
/// `paygate_ops::run_captured`), with the queues found by name.
async fn ops(pair: &DlqPair, line: &str) -> (u8, String, String) {
    let args: Vec<&str> = line.split_whitespace().collect();
    paygate_ops::run_captured(&args, &pair.resources(), "").await
}

#[tokio::test]
async fn the_ops_tool_lists_shows_and_redrives_the_dlq() {
    // GIVEN a dead-lettered deposit message
    let (pair, sent) = DlqPair::with_dead_letters(1).await;
    let message_id = peek(&pair.dlq, 1).await.unwrap()[0].message_id.clone();

    // `dlq list`: one line per message, with its ids and receive count
    let (code, out, err) = ops(&pair, "dlq list").await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "MESSAGE_ID\tDEPOSIT_ID\tMERCHANT_ID\tCORRELATION_ID\tRECEIVES"
    );
    let columns: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(
        columns[..4],
        [
            message_id.as_str(),
            &sent[0].deposit_id.to_string(),
            &sent[0].merchant_id.0,
            &sent[0].correlation_id.0,
        ]
    );
    assert!(columns[4].parse::<u32>().unwrap() > pair.max_receive_count);
    assert_eq!(
        lines[2],
        "1 message(s) listed; the DLQ holds about 1 visible message(s)"
    );

    // `dlq show <id>`: that message's ids
    let (code, out, err) = ops(&pair, &format!("dlq show {message_id}")).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("message_id:      {message_id}\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("deposit_id:      {}\n", sent[0].deposit_id)),
        "{out}"
    );
    let (code, _, err) = ops(&pair, "dlq show no-such-message").await;
    assert_eq!(code, 1);
    assert!(err.contains("no message no-such-message"), "{err}");

    // `dlq redrive`: back on the deposits queue, the DLQ empty
    let (code, out, err) = ops(&pair, "dlq redrive").await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("moved 1 message(s) to ")
            || out.starts_with("started StartMessageMoveTask"),
        "{out}"
    );
    let back = pair.source.receive(10, 2).await.unwrap();
    assert_eq!(back.len(), 1, "{out}");
    assert_eq!(back[0].deposit_message().unwrap(), sent[0]);
    assert_eq!(approximate_depth(&pair.sqs, &pair.dlq).await.unwrap(), 0);
}
