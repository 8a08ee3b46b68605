//! What the `dlq` commands print: ids and delivery facts, never a body.

use paygate_aws::{ReceivedMessage, RedriveReport};
use std::io::{self, Write};

/// The ids a message carries, or `-` where its body is not a deposit message.
struct Ids {
    deposit: String,
    merchant: String,
    correlation: String,
    decodable: bool,
}

fn ids(message: &ReceivedMessage) -> Ids {
    let attribute = message.correlation_id.clone();
    match message.deposit_message() {
        Ok(deposit) => Ids {
            deposit: deposit.deposit_id.to_string(),
            merchant: deposit.merchant_id.0,
            correlation: deposit.correlation_id.0,
            decodable: true,
        },
        Err(_) => Ids {
            deposit: "-".into(),
            merchant: "-".into(),
            correlation: attribute.unwrap_or_else(|| "-".into()),
            decodable: false,
        },
    }
}

pub(super) fn write_list(
    out: &mut dyn Write,
    messages: &[ReceivedMessage],
    depth: usize,
) -> io::Result<()> {
    writeln!(
        out,
        "MESSAGE_ID\tDEPOSIT_ID\tMERCHANT_ID\tCORRELATION_ID\tRECEIVES"
    )?;
    for message in messages {
        let ids = ids(message);
        let note = if ids.decodable {
            ""
        } else {
            "\t(body is not a deposit message)"
        };
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}{note}",
            message.message_id, ids.deposit, ids.merchant, ids.correlation, message.receive_count
        )?;
    }
    writeln!(
        out,
        "{} message(s) listed; the DLQ holds about {depth} visible message(s)",
        messages.len()
    )
}

pub(super) fn write_show(out: &mut dyn Write, message: &ReceivedMessage) -> io::Result<()> {
    let ids = ids(message);
    writeln!(out, "message_id:      {}", message.message_id)?;
    writeln!(out, "deposit_id:      {}", ids.deposit)?;
    writeln!(out, "merchant_id:     {}", ids.merchant)?;
    writeln!(out, "correlation_id:  {}", ids.correlation)?;
    writeln!(out, "receive_count:   {}", message.receive_count)?;
    writeln!(out, "body_bytes:      {}", message.body.len())?;
    if !ids.decodable {
        writeln!(
            out,
            "note:            the body is not a deposit message (not shown)"
        )?;
    }
    Ok(())
}

pub(super) fn write_redrive(
    out: &mut dyn Write,
    report: &RedriveReport,
    target: &str,
) -> io::Result<()> {
    if report.used_move_task() {
        writeln!(
            out,
            "started {}: about {} message(s) will move to {target}",
            report.method, report.moved
        )
    } else {
        writeln!(
            out,
            "moved {} message(s) to {target} by {}",
            report.moved, report.method
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paygate_aws::RedriveMethod;

    fn message(body: &str, correlation: Option<&str>) -> ReceivedMessage {
        ReceivedMessage {
            message_id: "m-1".into(),
            receipt_handle: "rh".into(),
            body: body.into(),
            receive_count: 4,
            correlation_id: correlation.map(str::to_owned),
        }
    }

    #[test]
    fn listings_show_ids_never_bodies() {
        let good = message(
            r#"{"deposit_id":"0190f0e0-0000-7000-8000-000000000001","merchant_id":"mer_1","correlation_id":"corr-1"}"#,
            Some("corr-1"),
        );
        let bad = message(r#"{"card":"4111111111111111"}"#, Some("corr-2"));
        let mut out = Vec::new();
        write_list(&mut out, &[good.clone(), bad.clone()], 2).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("m-1\t0190f0e0-0000-7000-8000-000000000001\tmer_1\tcorr-1\t4\n"),
            "{text}"
        );
        assert!(
            text.contains("m-1\t-\t-\tcorr-2\t4\t(body is not a deposit message)"),
            "{text}"
        );
        assert!(text.ends_with("2 message(s) listed; the DLQ holds about 2 visible message(s)\n"));
        assert!(!text.contains("4111"), "{text}");

        let mut out = Vec::new();
        write_show(&mut out, &bad).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("correlation_id:  corr-2"), "{text}");
        assert!(text.contains("body_bytes:      27"), "{text}");
        assert!(!text.contains("4111"), "{text}");
    }

    #[test]
    fn redrive_reports_name_the_method() {
        let cases = [
            (
                RedriveMethod::ReceiveSendDelete {
                    reason: "StartMessageMoveTask unsupported: HTTP 500".into(),
                },
                2,
                "http://q/1/deposits",
                "moved 2 message(s) to http://q/1/deposits by receive-send-delete \
                 (StartMessageMoveTask unsupported: HTTP 500)\n",
            ),
            (
                RedriveMethod::MessageMoveTask {
                    task_handle: "h".into(),
                },
                5,
                "q",
                "started StartMessageMoveTask (task h): about 5 message(s) will move to q\n",
            ),
        ];
        for (method, moved, queue, expected) in cases {
            let mut out = Vec::new();
            write_redrive(&mut out, &RedriveReport { method, moved }, queue).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
