//! `paygate-ops`: the operator's tool for the deposits dead-letter queue (DESIGN §7).
//!
//! ```text
//! paygate-ops dlq list [--max N]        message id, deposit, merchant, correlation, receives
//! paygate-ops dlq show <message-id>     one message's ids and delivery facts
//! paygate-ops dlq redrive [--limit N]   move messages back to the deposits queue
//! ```
//!
//! Queues come from the same variables the functions read ([`Resources`]):
//! `PAYGATE_DEPOSITS_QUEUE[_URL]`, `PAYGATE_DEPOSITS_DLQ[_URL]`; the endpoint, region and
//! credentials from the SDK's usual environment (`AWS_ENDPOINT_URL`, ...).
//!
//! Output never holds a message body as such, only the ids it carries (deposit,
//! merchant, correlation), which are not payer data.
//!
//! The binary is a thin shell around [`cli`], which tests call directly.

use paygate_aws::aws_sdk_sqs::Client;
use paygate_aws::{
    ReceivedMessage, RedriveReport, Resources, SqsQueue, approximate_depth, peek, redrive,
    sdk_config,
};
use paygate_domain::ports::QueueError;
use std::ffi::OsString;
use std::io::{self, Write};

pub const USAGE: &str = "\
usage: paygate-ops dlq <command>

commands:
  dlq list [--max N]        list up to N (default 100) dead-lettered messages: message id,
                            deposit id, merchant id, correlation id, receive count
  dlq show <message-id>     show one dead-lettered message (looks at up to 1000)
  dlq redrive [--limit N]   move dead-lettered messages back to the deposits queue:
                            all of them with SQS's StartMessageMoveTask, or, where the
                            endpoint lacks it or with --limit, one by one (receive, send a
                            copy, then delete the original)
  help                      show this text

Listing makes each message visible again at once, but every look counts as a receive.
Queues: PAYGATE_DEPOSITS_QUEUE[_URL], PAYGATE_DEPOSITS_DLQ[_URL]; endpoint: AWS_ENDPOINT_URL.";

/// Default for `dlq list`.
pub const DEFAULT_LIST_MAX: usize = 100;
/// How many messages `dlq show` looks through.
pub const SHOW_SCAN_MAX: usize = 1000;

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    DlqList { max: usize },
    DlqShow { message_id: String },
    DlqRedrive { limit: Option<usize> },
}

/// A command line that does not parse; the message says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// Parses the arguments after the program name.
pub fn parse<I, A>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = A>,
    A: Into<OsString>,
{
    let args = args
        .into_iter()
        .map(|a| {
            a.into()
                .into_string()
                .map_err(|a| usage(format!("argument is not UTF-8: {}", a.to_string_lossy())))
        })
        .collect::<Result<Vec<String>, _>>()?;
    let mut args = args.iter().map(String::as_str);
    match args.next() {
        None => Err(usage("no command given")),
        Some("help" | "-h" | "--help") => Ok(Command::Help),
        Some("dlq") => match args.next() {
            None => Err(usage("`dlq` needs a command: list, show or redrive")),
            Some("help" | "-h" | "--help") => Ok(Command::Help),
            Some("list") => {
                let max = number_option(&mut args, "--max")?.unwrap_or(DEFAULT_LIST_MAX);
                if max == 0 {
                    return Err(usage("--max must be at least 1"));
                }
                Ok(Command::DlqList { max })
            }
            Some("show") => {
                let message_id = match args.next() {
                    Some(id) if !id.starts_with('-') && !id.trim().is_empty() => id.to_owned(),
                    Some(other) if other.starts_with('-') => {
                        return Err(usage(format!("unexpected option {other}")));
                    }
                    _ => return Err(usage("`dlq show` needs a message id")),
                };
                if let Some(extra) = args.next() {
                    return Err(usage(format!("unexpected argument {extra}")));
                }
                Ok(Command::DlqShow { message_id })
            }
            Some("redrive") => {
                let limit = number_option(&mut args, "--limit")?;
                if limit == Some(0) {
                    return Err(usage("--limit must be at least 1"));
                }
                Ok(Command::DlqRedrive { limit })
            }
            Some(other) => Err(usage(format!("unknown dlq command {other}"))),
        },
        Some(other) => Err(usage(format!("unknown command {other}"))),
    }
}

/// The only option a command takes: `name N` or `name=N`, at most once; nothing else.
fn number_option<'a>(
    args: &mut impl Iterator<Item = &'a str>,
    name: &str,
) -> Result<Option<usize>, UsageError> {
    let mut value = None;
    while let Some(arg) = args.next() {
        let raw = if arg == name {
            args.next()
                .ok_or_else(|| usage(format!("{name} needs a number")))?
        } else if let Some(raw) = arg.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            raw
        } else {
            return Err(usage(format!("unexpected argument {arg}")));
        };
        if value.is_some() {
            return Err(usage(format!("{name} given twice")));
        }
        let number = raw
            .parse()
            .map_err(|_| usage(format!("{name} needs a number, not {raw:?}")))?;
        value = Some(number);
    }
    Ok(value)
}

/// Why a command failed.
#[derive(Debug)]
pub enum OpsError {
    Queue(QueueError),
    Io(io::Error),
    /// `dlq show`: no such message among those looked at.
    NotFound {
        message_id: String,
        looked_at: usize,
    },
}

impl std::fmt::Display for OpsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Queue(err) => write!(f, "{err}"),
            Self::Io(err) => write!(f, "could not write the output: {err}"),
            Self::NotFound {
                message_id,
                looked_at,
            } => write!(
                f,
                "no message {message_id} among the {looked_at} message(s) in the DLQ"
            ),
        }
    }
}

impl std::error::Error for OpsError {}

impl From<QueueError> for OpsError {
    fn from(err: QueueError) -> Self {
        Self::Queue(err)
    }
}

impl From<io::Error> for OpsError {
    fn from(err: io::Error) -> Self {
        Self::Io(err)
    }
}

/// The queues the commands work on.
pub struct Ops {
    pub sqs: Client,
    /// The dead-letter queue.
    pub dlq: SqsQueue,
    /// Where redriven messages go: the deposits queue.
    pub target: SqsQueue,
}

impl Ops {
    /// The deposits queue and its DLQ, by URL when `resources` has them, else by name.
    pub async fn connect(sqs: Client, resources: &Resources) -> Result<Self, QueueError> {
        let dlq = SqsQueue::deposits_dlq(sqs.clone(), resources).await?;
        let target = SqsQueue::deposits(sqs.clone(), resources).await?;
        Ok(Self { sqs, dlq, target })
    }

    /// Runs one command, writing its report to `out`.
    pub async fn run(&self, command: &Command, out: &mut dyn Write) -> Result<(), OpsError> {
        match command {
            Command::Help => writeln!(out, "{USAGE}")?,
            Command::DlqList { max } => {
                let messages = peek(&self.dlq, *max).await?;
                let depth = approximate_depth(&self.sqs, &self.dlq).await?;
                write_list(out, &messages, depth)?;
            }
            Command::DlqShow { message_id } => {
                let messages = peek(&self.dlq, SHOW_SCAN_MAX).await?;
                let message = messages
                    .iter()
                    .find(|m| &m.message_id == message_id)
                    .ok_or_else(|| OpsError::NotFound {
                        message_id: message_id.clone(),
                        looked_at: messages.len(),
                    })?;
                write_show(out, message)?;
            }
            Command::DlqRedrive { limit } => {
                let report = redrive(&self.dlq, &self.target, &self.sqs, *limit).await?;
                write_redrive(out, &report, self.target.url())?;
            }
        }
        Ok(())
    }
}

/// The whole program after argument collection: parses `args`, connects to the queues
/// of `resources` (endpoint from the environment), runs, reports. Returns the exit
/// code: 0 done, 1 failed, 2 bad command line.
pub async fn cli(
    args: Vec<OsString>,
    resources: &Resources,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let command = match parse(args) {
        Ok(command) => command,
        Err(UsageError(message)) => {
            let _ = writeln!(err, "paygate-ops: {message}\n\n{USAGE}");
            return 2;
        }
    };
    if command == Command::Help {
        let _ = writeln!(out, "{USAGE}");
        return 0;
    }
    let sqs = Client::new(&sdk_config().await);
    let result = match Ops::connect(sqs, resources).await {
        Ok(ops) => ops.run(&command, out).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "paygate-ops: {e}");
            1
        }
    }
}

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

fn write_list(out: &mut dyn Write, messages: &[ReceivedMessage], depth: usize) -> io::Result<()> {
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

fn write_show(out: &mut dyn Write, message: &ReceivedMessage) -> io::Result<()> {
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

fn write_redrive(out: &mut dyn Write, report: &RedriveReport, target: &str) -> io::Result<()> {
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

    fn parsed(line: &str) -> Result<Command, UsageError> {
        parse(line.split_whitespace())
    }

    #[test]
    fn list_takes_an_optional_max() {
        assert_eq!(
            parsed("dlq list"),
            Ok(Command::DlqList {
                max: DEFAULT_LIST_MAX
            })
        );
        assert_eq!(parsed("dlq list --max 5"), Ok(Command::DlqList { max: 5 }));
        assert_eq!(parsed("dlq list --max=7"), Ok(Command::DlqList { max: 7 }));
        assert!(parsed("dlq list --max").is_err());
        assert!(parsed("dlq list --max x").is_err());
        assert!(parsed("dlq list --max 0").is_err());
        assert!(parsed("dlq list --max -1").is_err());
        assert!(parsed("dlq list --max 1 --max 2").is_err());
        assert!(parsed("dlq list --limit 2").is_err());
        assert!(parsed("dlq list extra").is_err());
    }

    #[test]
    fn show_takes_exactly_one_message_id() {
        assert_eq!(
            parsed("dlq show 0b3c-11"),
            Ok(Command::DlqShow {
                message_id: "0b3c-11".into()
            })
        );
        assert!(parsed("dlq show").is_err());
        assert!(parsed("dlq show a b").is_err());
        assert!(parsed("dlq show --max").is_err());
    }

    #[test]
    fn redrive_takes_an_optional_limit() {
        assert_eq!(
            parsed("dlq redrive"),
            Ok(Command::DlqRedrive { limit: None })
        );
        assert_eq!(
            parsed("dlq redrive --limit 3"),
            Ok(Command::DlqRedrive { limit: Some(3) })
        );
        assert_eq!(
            parsed("dlq redrive --limit=12"),
            Ok(Command::DlqRedrive { limit: Some(12) })
        );
        assert!(parsed("dlq redrive --limit 0").is_err());
        assert!(parsed("dlq redrive --limit").is_err());
        assert!(parsed("dlq redrive --limit ten").is_err());
        assert!(parsed("dlq redrive --limit=").is_err());
        assert!(parsed("dlq redrive --limitless").is_err());
        assert!(parsed("dlq redrive now").is_err());
    }

    #[test]
    fn help_and_unknown_commands() {
        for line in ["help", "-h", "--help", "dlq help", "dlq --help"] {
            assert_eq!(parsed(line), Ok(Command::Help), "{line}");
        }
        for line in ["", "dlq", "queue list", "dlq purge", "dlq LIST"] {
            assert!(parsed(line).is_err(), "{line:?}");
        }
        assert_eq!(
            parsed("dlq purge").unwrap_err().0,
            "unknown dlq command purge"
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_arguments_are_refused() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![0x66, 0xff]);
        assert!(parse([OsString::from("dlq"), OsString::from("show"), bad]).is_err());
    }

    #[tokio::test]
    async fn bad_command_lines_exit_2_before_any_aws_call() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = cli(
            vec!["dlq".into(), "purge".into()],
            &Resources::default(),
            &mut out,
            &mut err,
        )
        .await;
        assert_eq!(code, 2);
        assert!(out.is_empty());
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("unknown dlq command purge"), "{err}");
        assert!(err.contains("usage: paygate-ops"), "{err}");

        let mut out = Vec::new();
        let code = cli(
            vec!["help".into()],
            &Resources::default(),
            &mut out,
            &mut Vec::new(),
        )
        .await;
        assert_eq!(code, 0);
        assert!(String::from_utf8(out).unwrap().starts_with("usage:"));
    }

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
        let mut out = Vec::new();
        let report = RedriveReport {
            method: RedriveMethod::ReceiveSendDelete {
                reason: "StartMessageMoveTask unsupported: HTTP 500".into(),
            },
            moved: 2,
        };
        write_redrive(&mut out, &report, "http://q/1/deposits").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "moved 2 message(s) to http://q/1/deposits by receive-send-delete \
             (StartMessageMoveTask unsupported: HTTP 500)\n"
        );
        let mut out = Vec::new();
        let report = RedriveReport {
            method: RedriveMethod::MessageMoveTask {
                task_handle: "h".into(),
            },
            moved: 5,
        };
        write_redrive(&mut out, &report, "q").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "started StartMessageMoveTask (task h): about 5 message(s) will move to q\n"
        );
    }
}
