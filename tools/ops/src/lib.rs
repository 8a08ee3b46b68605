//! `paygate-ops`: the operator's tool for the deposits dead-letter queue (DESIGN §7), the
//! gateway registry and merchants' API keys.
//!
//! ```text
//! paygate-ops dlq list [--max N]          message id, deposit, merchant, correlation, receives
//! paygate-ops dlq show <message-id>       one message's ids and delivery facts
//! paygate-ops dlq redrive [--limit N]     move messages back to the deposits queue
//! paygate-ops gateways list               name, format, enabled, priority, countries,
//!                                         currencies, health, breaker, base URL host
//! paygate-ops gateways put <file.json>    add or update gateways (checked first, all or nothing)
//! paygate-ops gateways enable <name>      route to it again
//! paygate-ops gateways disable <name>     stop routing new payments to it
//! paygate-ops merchants add <merchant-id> issue a new API key (printed once, hash stored)
//! paygate-ops merchants check < key.txt   which merchant the key on stdin belongs to
//! paygate-ops merchants revoke <key-hash> <merchant-id>
//!                                         remove one of the merchant's keys, by its hash
//! ```
//!
//! Resources come from the same variables the functions read ([`Resources`]):
//! `PAYGATE_DEPOSITS_QUEUE[_URL]`, `PAYGATE_DEPOSITS_DLQ[_URL]`, `PAYGATE_GATEWAYS_TABLE`,
//! `PAYGATE_MERCHANTS_TABLE`; the endpoint, region and credentials from the SDK's usual
//! environment (`AWS_ENDPOINT_URL`, ...).
//!
//! Output never holds a message body as such, only the ids it carries (deposit,
//! merchant, correlation), which are not payer data; nor a gateway's base URL, only its
//! host (a path or query could carry credentials).
//!
//! A `gateways put` file is a JSON array of entries (or one entry) shaped like the
//! devstack's seed, `base_url` required:
//!
//! ```json
//! [{ "name": "acme_json", "format": "json", "base_url": "https://psp.example/api",
//!    "countries": ["AE", "US"], "currencies": ["AED", "USD"], "priority": 10, "enabled": true }]
//! ```
//!
//! Every entry is checked before anything is written ([`gateways::parse_put_file`]):
//! exactly these fields, a name that `POST /webhooks/{gateway}` can carry unencoded
//! (letters, digits, `-_.~`, at most 64), names unique in the file, a known wire format,
//! ISO 3166-1 countries and ISO 4217 currencies, an absolute `https://` base URL (`http://`
//! only for loopback hosts) without query or fragment. An upsert keeps what was learnt
//! about a gateway already there (health, breaker). The gateway processor reads the
//! registry afresh for every message, so a change applies from its next message.
//!
//! `merchants add` prints the new key once, on a line of its own; it is the only output
//! that ever holds a key ([`merchants`]). `merchants check` reads the key from stdin, not
//! from the command line, so that it stays out of shell history.
//!
//! The binary is a thin shell around [`cli_with_input`] (its stdin) and tests call it, or
//! [`cli`] (no stdin), directly.

pub mod gateways;
pub mod merchants;

pub use gateways::{GatewayCommand, GatewayOps};
pub use merchants::{Input, MerchantCommand, MerchantOps};

use paygate_aws::aws_sdk_dynamodb::Client as DynamoClient;
use paygate_aws::aws_sdk_sqs::Client;
use paygate_aws::{
    ReceivedMessage, RedriveReport, Resources, SqsQueue, approximate_depth, peek, redrive,
    sdk_config,
};
use paygate_domain::MerchantId;
use paygate_domain::ports::{ApiKeyHash, QueueError, StoreError};
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: paygate-ops dlq <command>
       paygate-ops gateways <command>
       paygate-ops merchants <command>

commands:
  dlq list [--max N]        list up to N (default 100) dead-lettered messages: message id,
                            deposit id, merchant id, correlation id, receive count
  dlq show <message-id>     show one dead-lettered message (looks at up to 1000)
  dlq redrive [--limit N]   move dead-lettered messages back to the deposits queue:
                            all of them with SQS's StartMessageMoveTask, or, where the
                            endpoint lacks it or with --limit, one by one (receive, send a
                            copy, then delete the original)
  gateways list             list the registry: name, format, enabled, priority, countries,
                            currencies, health, breaker, base URL host
  gateways put <file.json>  add or update the gateways in the file: a JSON array (or one
                            object) of {\"name\", \"format\", \"base_url\", \"countries\",
                            \"currencies\", \"priority\", \"enabled\"}; the whole file is
                            checked first and refused on any problem; health and breaker
                            state of existing gateways are kept
  gateways enable <name>    let routing choose the gateway again
  gateways disable <name>   stop routing new payments to the gateway
  merchants add <merchant-id>
                            issue a new API key for the merchant (letters, digits, '_', '-',
                            at most 64, starting with a letter or digit): register its
                            SHA-256 hash and print the key, once. Its other keys keep
                            working: running it again gives another key, which is how a
                            key is rotated
  merchants check           read one API key from stdin (never from the command line) and
                            print the merchant it belongs to; exit code 1 if none
  merchants revoke <key-hash> <merchant-id>
                            remove the merchant's key with that SHA-256 hash (as `add`
                            printed it): requests with it are refused from then on; exit
                            code 1 if the merchant has no such key
  help                      show this text

Listing the DLQ makes each message visible again at once, but every look counts as a receive.
Gateway changes apply from the processor's next message (it reads the registry for each).
A new API key is shown only once: only its hash is stored.
Queues: PAYGATE_DEPOSITS_QUEUE[_URL], PAYGATE_DEPOSITS_DLQ[_URL]; registry:
PAYGATE_GATEWAYS_TABLE; API key hashes: PAYGATE_MERCHANTS_TABLE; endpoint: AWS_ENDPOINT_URL.";

/// Default for `dlq list`.
pub const DEFAULT_LIST_MAX: usize = 100;
/// How many messages `dlq show` looks through.
pub const SHOW_SCAN_MAX: usize = 1000;

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Dlq(DlqCommand),
    Gateways(GatewayCommand),
    Merchants(MerchantCommand),
}

/// A `dlq` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlqCommand {
    List { max: usize },
    Show { message_id: String },
    Redrive { limit: Option<usize> },
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
                Ok(Command::Dlq(DlqCommand::List { max }))
            }
            Some("show") => {
                let message_id = operand(&mut args, "`dlq show` needs a message id")?;
                no_more(&mut args)?;
                Ok(Command::Dlq(DlqCommand::Show { message_id }))
            }
            Some("redrive") => {
                let limit = number_option(&mut args, "--limit")?;
                if limit == Some(0) {
                    return Err(usage("--limit must be at least 1"));
                }
                Ok(Command::Dlq(DlqCommand::Redrive { limit }))
            }
            Some(other) => Err(usage(format!("unknown dlq command {other}"))),
        },
        Some("gateways") => match args.next() {
            None => Err(usage(
                "`gateways` needs a command: list, put, enable or disable",
            )),
            Some("help" | "-h" | "--help") => Ok(Command::Help),
            Some("list") => {
                no_more(&mut args)?;
                Ok(Command::Gateways(GatewayCommand::List))
            }
            Some("put") => {
                let file = operand(&mut args, "`gateways put` needs a JSON file")?;
                no_more(&mut args)?;
                Ok(Command::Gateways(GatewayCommand::Put {
                    file: PathBuf::from(file),
                }))
            }
            Some("enable") => {
                let name = operand(&mut args, "`gateways enable` needs a gateway name")?;
                no_more(&mut args)?;
                Ok(Command::Gateways(GatewayCommand::Enable { name }))
            }
            Some("disable") => {
                let name = operand(&mut args, "`gateways disable` needs a gateway name")?;
                no_more(&mut args)?;
                Ok(Command::Gateways(GatewayCommand::Disable { name }))
            }
            Some(other) => Err(usage(format!("unknown gateways command {other}"))),
        },
        Some("merchants") => parse_merchants(&mut args),
        Some(other) => Err(usage(format!("unknown command {other}"))),
    }
}

/// A `merchants` command line. No message quotes an argument: one may be an API key
/// typed in the wrong place.
fn parse_merchants<'a>(args: &mut impl Iterator<Item = &'a str>) -> Result<Command, UsageError> {
    let command = match args.next() {
        None => return Err(usage("`merchants` needs a command: add, check or revoke")),
        Some("help" | "-h" | "--help") => return Ok(Command::Help),
        Some("add") => {
            let Some(id) = args.next() else {
                return Err(usage("`merchants add` needs a merchant id"));
            };
            if args.next().is_some() {
                return Err(usage("`merchants add` takes exactly one merchant id"));
            }
            merchants::check_merchant_id(id)
                .map_err(|why| usage(format!("`merchants add`: the merchant id {why}")))?;
            MerchantCommand::Add {
                merchant: MerchantId(id.to_owned()),
            }
        }
        Some("check") => {
            // `--stdin` says what is implicit; anything else could be a key on the
            // command line, which shell history keeps.
            if args.any(|arg| arg != "--stdin") {
                return Err(usage(
                    "`merchants check` reads the API key from stdin, never from the command \
                    line (shell history keeps it; if you typed a key there, remove it from \
                    your history): `paygate-ops merchants check < key.txt`",
                ));
            }
            MerchantCommand::Check
        }
        Some("revoke") => {
            let (Some(hash), Some(id), None) = (args.next(), args.next(), args.next()) else {
                return Err(usage(
                    "`merchants revoke` takes a key hash and a merchant id: \
                     `paygate-ops merchants revoke <key-hash> <merchant-id>`",
                ));
            };
            // A hash, never a key: 64 lowercase hex digits, as `add` prints it.
            let is_hash = hash.len() == 64
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !is_hash {
                return Err(usage(
                    "`merchants revoke`: the key hash is the 64 lowercase hex digits `merchants \
                     add` printed (never the key itself)",
                ));
            }
            merchants::check_merchant_id(id)
                .map_err(|why| usage(format!("`merchants revoke`: the merchant id {why}")))?;
            MerchantCommand::Revoke {
                hash: ApiKeyHash(hash.to_owned()),
                merchant: MerchantId(id.to_owned()),
            }
        }
        Some(_) => {
            return Err(usage(
                "unknown merchants command (the commands are add, check and revoke)",
            ));
        }
    };
    Ok(Command::Merchants(command))
}

/// The one operand a command takes (an id, a name, a file): present, not blank, not an
/// option.
fn operand<'a>(
    args: &mut impl Iterator<Item = &'a str>,
    missing: &str,
) -> Result<String, UsageError> {
    match args.next() {
        Some(arg) if arg.starts_with('-') => Err(usage(format!("unexpected option {arg}"))),
        Some(arg) if !arg.trim().is_empty() => Ok(arg.to_owned()),
        _ => Err(usage(missing)),
    }
}

/// Nothing may follow a command's operand.
fn no_more<'a>(args: &mut impl Iterator<Item = &'a str>) -> Result<(), UsageError> {
    match args.next() {
        Some(extra) => Err(usage(format!("unexpected argument {extra}"))),
        None => Ok(()),
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
    /// The gateway registry could not be read or written.
    Registry(StoreError),
    Io(io::Error),
    /// `dlq show`: no such message among those looked at.
    NotFound {
        message_id: String,
        looked_at: usize,
    },
    /// `gateways enable|disable`: no gateway of that name in the registry.
    UnknownGateway {
        name: String,
        table: String,
    },
    /// `gateways put`: the file could not be read.
    ReadFile {
        path: PathBuf,
        error: io::Error,
    },
    /// `gateways put`: the file was refused; nothing was written.
    PutFile {
        path: PathBuf,
        error: gateways::PutFileError,
    },
    /// `gateways put`: a write failed after `written` had been written.
    PartialPut {
        written: Vec<String>,
        failed: String,
        error: StoreError,
    },
    /// `merchants`: the merchants table could not be read or written.
    MerchantsTable {
        table: String,
        error: StoreError,
    },
    /// `merchants add`: the operating system gave no random bytes; no key was made.
    Entropy(String),
    /// `merchants add`: the key was registered, but writing it out failed. The key is
    /// lost (nobody has it); its item can be removed by its hash.
    KeyNotShown {
        merchant: MerchantId,
        table: String,
        hash: ApiKeyHash,
        error: io::Error,
    },
    /// `merchants check`: what stdin held is no key to look up (the message never quotes
    /// it).
    KeyInput(String),
    /// `merchants check`: no merchant has the key.
    UnknownKey {
        table: String,
        hash: ApiKeyHash,
    },
    /// `merchants revoke`: the merchant has no key with that hash; nothing changed.
    KeyNotRevoked {
        table: String,
        hash: ApiKeyHash,
        merchant: MerchantId,
    },
}

impl std::fmt::Display for OpsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Queue(err) => write!(f, "{err}"),
            Self::Registry(err) => write!(f, "gateway registry: {err}"),
            Self::Io(err) => write!(f, "could not write the output: {err}"),
            Self::NotFound {
                message_id,
                looked_at,
            } => write!(
                f,
                "no message {message_id} among the {looked_at} message(s) in the DLQ"
            ),
            Self::UnknownGateway { name, table } => write!(
                f,
                "no gateway named {name:?} in {table} (`paygate-ops gateways list` shows them)"
            ),
            Self::ReadFile { path, error } => {
                write!(f, "could not read {}: {error}", path.display())
            }
            Self::PutFile { path, error } => {
                write!(f, "{}: nothing was written: {error}", path.display())
            }
            Self::PartialPut {
                written,
                failed,
                error,
            } => {
                write!(f, "could not write {failed}: {error}; ")?;
                if written.is_empty() {
                    write!(f, "nothing was written")?;
                } else {
                    write!(f, "already written: {}", written.join(", "))?;
                }
                write!(f, " (putting the same file again is safe)")
            }
            Self::MerchantsTable { table, error } => write!(f, "merchants table {table}: {error}"),
            Self::Entropy(error) => write!(
                f,
                "could not get random bytes from the operating system ({error}); no key was made"
            ),
            Self::KeyNotShown {
                merchant,
                table,
                hash,
                error,
            } => write!(
                f,
                "registered a new key for merchant {merchant} in {table} (key hash {}) but could \
                not show it: {error}; nobody has that key, so it is harmless: run `merchants \
                add` again, and remove its item (by that key hash) when convenient",
                hash.0
            ),
            Self::KeyInput(message) => f.write_str(message),
            Self::UnknownKey { table, hash } => write!(
                f,
                "no merchant has this API key in {table} (key hash {}): it was never registered \
                there, or its item was removed",
                hash.0
            ),
            Self::KeyNotRevoked {
                table,
                hash,
                merchant,
            } => write!(
                f,
                "merchant {merchant} has no key with hash {} in {table}; nothing was removed \
                (check the hash `merchants add` printed, and the merchant id)",
                hash.0
            ),
        }
    }
}

impl std::error::Error for OpsError {}

impl From<StoreError> for OpsError {
    fn from(err: StoreError) -> Self {
        Self::Registry(err)
    }
}

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

    /// Runs one `dlq` command, writing its report to `out`.
    pub async fn run(&self, command: &DlqCommand, out: &mut dyn Write) -> Result<(), OpsError> {
        match command {
            DlqCommand::List { max } => {
                let messages = peek(&self.dlq, *max).await?;
                let depth = approximate_depth(&self.sqs, &self.dlq).await?;
                write_list(out, &messages, depth)?;
            }
            DlqCommand::Show { message_id } => {
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
            DlqCommand::Redrive { limit } => {
                let report = redrive(&self.dlq, &self.target, &self.sqs, *limit).await?;
                write_redrive(out, &report, self.target.url())?;
            }
        }
        Ok(())
    }
}

/// [`cli_with_input`] with nothing on stdin: `merchants check` finds no key there.
pub async fn cli(
    args: Vec<OsString>,
    resources: &Resources,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let mut nothing = io::empty();
    let input = Input {
        reader: &mut nothing,
        terminal: false,
    };
    cli_with_input(args, resources, input, out, err).await
}

/// The whole program after argument collection: parses `args`, connects to what the
/// command needs of `resources` (the queues, the gateways table or the merchants table;
/// endpoint from the environment), runs, reports; `input` is stdin, which only
/// `merchants check` reads. Returns the exit code: 0 done, 1 failed, 2 bad command line.
pub async fn cli_with_input(
    args: Vec<OsString>,
    resources: &Resources,
    input: Input<'_>,
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
    let result = match &command {
        Command::Help => {
            let _ = writeln!(out, "{USAGE}");
            return 0;
        }
        Command::Dlq(command) => {
            let sqs = Client::new(&sdk_config().await);
            match Ops::connect(sqs, resources).await {
                Ok(ops) => ops.run(command, out).await,
                Err(e) => Err(e.into()),
            }
        }
        Command::Gateways(command) => {
            let dynamodb = DynamoClient::new(&sdk_config().await);
            GatewayOps::connect(dynamodb, resources)
                .run(command, out)
                .await
        }
        Command::Merchants(command) => {
            let dynamodb = DynamoClient::new(&sdk_config().await);
            MerchantOps::connect(dynamodb, resources)
                .run(command, input, out, err)
                .await
        }
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
            Ok(Command::Dlq(DlqCommand::List {
                max: DEFAULT_LIST_MAX
            }))
        );
        assert_eq!(
            parsed("dlq list --max 5"),
            Ok(Command::Dlq(DlqCommand::List { max: 5 }))
        );
        assert_eq!(
            parsed("dlq list --max=7"),
            Ok(Command::Dlq(DlqCommand::List { max: 7 }))
        );
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
            Ok(Command::Dlq(DlqCommand::Show {
                message_id: "0b3c-11".into()
            }))
        );
        assert!(parsed("dlq show").is_err());
        assert!(parsed("dlq show a b").is_err());
        assert!(parsed("dlq show --max").is_err());
    }

    #[test]
    fn redrive_takes_an_optional_limit() {
        assert_eq!(
            parsed("dlq redrive"),
            Ok(Command::Dlq(DlqCommand::Redrive { limit: None }))
        );
        assert_eq!(
            parsed("dlq redrive --limit 3"),
            Ok(Command::Dlq(DlqCommand::Redrive { limit: Some(3) }))
        );
        assert_eq!(
            parsed("dlq redrive --limit=12"),
            Ok(Command::Dlq(DlqCommand::Redrive { limit: Some(12) }))
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

    fn gateways(command: GatewayCommand) -> Result<Command, UsageError> {
        Ok(Command::Gateways(command))
    }

    #[test]
    fn gateways_list_takes_nothing() {
        assert_eq!(parsed("gateways list"), gateways(GatewayCommand::List));
        assert_eq!(
            parsed("gateways list --all").unwrap_err().0,
            "unexpected argument --all"
        );
        assert_eq!(
            parsed("gateways list acme").unwrap_err().0,
            "unexpected argument acme"
        );
    }

    #[test]
    fn gateways_put_takes_exactly_one_file() {
        assert_eq!(
            parsed("gateways put ops/gateways.json"),
            gateways(GatewayCommand::Put {
                file: PathBuf::from("ops/gateways.json")
            })
        );
        assert_eq!(
            parsed("gateways put").unwrap_err().0,
            "`gateways put` needs a JSON file"
        );
        assert_eq!(
            parsed("gateways put a.json b.json").unwrap_err().0,
            "unexpected argument b.json"
        );
        assert_eq!(
            parsed("gateways put --file a.json").unwrap_err().0,
            "unexpected option --file"
        );
        // A blank operand is no file name.
        assert!(parse(["gateways", "put", " "]).is_err());
    }

    #[test]
    fn gateways_enable_and_disable_take_exactly_one_name() {
        assert_eq!(
            parsed("gateways enable acme_json"),
            gateways(GatewayCommand::Enable {
                name: "acme_json".into()
            })
        );
        assert_eq!(
            parsed("gateways disable globex_soap"),
            gateways(GatewayCommand::Disable {
                name: "globex_soap".into()
            })
        );
        for verb in ["enable", "disable"] {
            assert_eq!(
                parsed(&format!("gateways {verb}")).unwrap_err().0,
                format!("`gateways {verb}` needs a gateway name")
            );
            assert_eq!(
                parsed(&format!("gateways {verb} a b")).unwrap_err().0,
                "unexpected argument b"
            );
            assert_eq!(
                parsed(&format!("gateways {verb} --force")).unwrap_err().0,
                "unexpected option --force"
            );
            assert!(parse(["gateways", verb, ""]).is_err());
        }
    }

    #[test]
    fn gateways_help_and_unknown_commands() {
        for line in ["gateways help", "gateways -h", "gateways --help"] {
            assert_eq!(parsed(line), Ok(Command::Help), "{line}");
        }
        assert_eq!(
            parsed("gateways").unwrap_err().0,
            "`gateways` needs a command: list, put, enable or disable"
        );
        assert_eq!(
            parsed("gateways delete acme").unwrap_err().0,
            "unknown gateways command delete"
        );
        assert_eq!(
            parsed("gateways LIST").unwrap_err().0,
            "unknown gateways command LIST"
        );
        assert_eq!(
            parsed("gateway list").unwrap_err().0,
            "unknown command gateway"
        );
        for command in [
            "gateways list",
            "gateways put",
            "gateways enable",
            "gateways disable",
        ] {
            assert!(USAGE.contains(command), "{command}");
        }
    }

    fn merchants(command: MerchantCommand) -> Result<Command, UsageError> {
        Ok(Command::Merchants(command))
    }

    #[test]
    fn merchants_add_takes_exactly_one_valid_merchant_id() {
        assert_eq!(
            parsed("merchants add mer_acme-2"),
            merchants(MerchantCommand::Add {
                merchant: MerchantId("mer_acme-2".into())
            })
        );
        assert_eq!(
            parsed("merchants add").unwrap_err().0,
            "`merchants add` needs a merchant id"
        );
        assert_eq!(
            parsed("merchants add mer_a mer_b").unwrap_err().0,
            "`merchants add` takes exactly one merchant id"
        );
        assert_eq!(
            parsed("merchants add mer/acme").unwrap_err().0,
            "`merchants add`: the merchant id may only hold ASCII letters, digits, '_' and '-'"
        );
        assert_eq!(
            parse(["merchants", "add", ""]).unwrap_err().0,
            "`merchants add`: the merchant id must not be empty"
        );
        assert_eq!(
            parse(["merchants", "add", &"m".repeat(65)]).unwrap_err().0,
            "`merchants add`: the merchant id must be at most 64 characters long"
        );
        assert_eq!(
            parsed("merchants add --force").unwrap_err().0,
            "`merchants add`: the merchant id must start with a letter or a digit"
        );
        // A key pasted where the merchant id goes (or after it) is refused, and not quoted.
        let key = format!("sk_live_{}", "3f".repeat(32));
        for args in [
            vec!["merchants", "add", &key],
            vec!["merchants", "add", "mer_acme", &key],
            vec!["merchants", "add", "sk_dev_0123"],
        ] {
            let message = parse(args.clone()).unwrap_err().0;
            assert!(
                !message.contains(args[args.len() - 1]),
                "{args:?}: {message}"
            );
        }
        assert_eq!(
            parse(["merchants", "add", "sk_dev_0123"]).unwrap_err().0,
            "`merchants add`: the merchant id looks like an API key (sk_…), not a merchant id"
        );
    }

    #[test]
    fn merchants_check_takes_its_key_from_stdin_only() {
        assert_eq!(parsed("merchants check"), merchants(MerchantCommand::Check));
        assert_eq!(
            parsed("merchants check --stdin"),
            merchants(MerchantCommand::Check)
        );
        let key = format!("sk_live_{}", "3f".repeat(32));
        for args in [
            vec!["merchants", "check", key.as_str()],
            vec!["merchants", "check", "--stdin", key.as_str()],
            vec!["merchants", "check", "--key", key.as_str()],
        ] {
            let message = parse(args.clone()).unwrap_err().0;
            assert!(
                message.starts_with(
                    "`merchants check` reads the API key from stdin, never from the command line"
                ),
                "{message}"
            );
            assert!(!message.contains("3f3f"), "{message}");
        }
    }

    #[test]
    fn merchants_help_and_unknown_commands() {
        for line in ["merchants help", "merchants -h", "merchants --help"] {
            assert_eq!(parsed(line), Ok(Command::Help), "{line}");
        }
        assert_eq!(
            parsed("merchants").unwrap_err().0,
            "`merchants` needs a command: add, check or revoke"
        );
        for line in [
            "merchants delete x",
            "merchants ADD mer_a",
            "merchants sk_live_abc",
        ] {
            assert_eq!(
                parsed(line).unwrap_err().0,
                "unknown merchants command (the commands are add, check and revoke)",
                "{line}"
            );
        }
        for command in [
            "merchants add <merchant-id>",
            "merchants check",
            "merchants revoke <key-hash> <merchant-id>",
            "PAYGATE_MERCHANTS_TABLE",
        ] {
            assert!(USAGE.contains(command), "{command}");
        }
    }

    #[test]
    fn merchants_revoke_takes_a_key_hash_and_a_merchant_id() {
        let hash = "0f".repeat(32);
        assert_eq!(
            parsed(&format!("merchants revoke {hash} mer_acme")),
            merchants(MerchantCommand::Revoke {
                hash: ApiKeyHash(hash.clone()),
                merchant: MerchantId("mer_acme".into()),
            })
        );
        let arity = "`merchants revoke` takes a key hash and a merchant id: \
                     `paygate-ops merchants revoke <key-hash> <merchant-id>`";
        for line in [
            "merchants revoke".to_owned(),
            format!("merchants revoke {hash}"),
            format!("merchants revoke {hash} mer_acme extra"),
        ] {
            assert_eq!(parsed(&line).unwrap_err().0, arity, "{line}");
        }
        // A key (or anything not a lowercase SHA-256 hex) is refused, and never quoted.
        let key = format!("sk_live_{}", "3f".repeat(32));
        for not_a_hash in [key.as_str(), &"0F".repeat(32), &"0f".repeat(31), "mer_acme"] {
            let message = parsed(&format!("merchants revoke {not_a_hash} mer_acme"))
                .unwrap_err()
                .0;
            assert!(message.contains("64 lowercase hex digits"), "{message}");
            assert!(!message.contains(not_a_hash), "{message}");
        }
        assert_eq!(
            parsed(&format!("merchants revoke {hash} mer/acme"))
                .unwrap_err()
                .0,
            "`merchants revoke`: the merchant id may only hold ASCII letters, digits, '_' and '-'"
        );
    }

    #[tokio::test]
    async fn merchants_check_without_a_key_on_stdin_fails_before_any_aws_call() {
        // `cli` has no stdin: nothing to look up.
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = vec!["merchants".into(), "check".into()];
        let code = cli(args, &Resources::default(), &mut out, &mut err).await;
        assert_eq!(code, 1);
        assert!(out.is_empty());
        let err = String::from_utf8(err).unwrap();
        assert!(err.starts_with("paygate-ops: no API key on stdin"), "{err}");

        // Through `cli_with_input`, a key that is too long for the intake is not looked up.
        let long = format!("sk_live_{}\n", "a".repeat(300));
        let mut reader = long.as_bytes();
        let input = Input {
            reader: &mut reader,
            terminal: false,
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = vec!["merchants".into(), "check".into()];
        let code = cli_with_input(args, &Resources::default(), input, &mut out, &mut err).await;
        assert_eq!(code, 1);
        assert!(out.is_empty());
        let err = String::from_utf8(err).unwrap();
        assert_eq!(
            err,
            "paygate-ops: the API key on stdin is longer than 256 bytes: the intake refuses it \
             without a lookup\n"
        );

        // A key on the command line is a usage error, and is not echoed back.
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = vec!["merchants".into(), "check".into(), "sk_live_secret".into()];
        let code = cli(args, &Resources::default(), &mut out, &mut err).await;
        assert_eq!(code, 2);
        assert!(out.is_empty());
        let err = String::from_utf8(err).unwrap();
        assert!(!err.contains("sk_live_secret"), "{err}");
        assert!(err.contains("usage: paygate-ops"), "{err}");
    }

    #[tokio::test]
    async fn a_put_file_that_cannot_be_read_or_is_refused_fails_before_any_aws_call() {
        // No endpoint is reachable with these resources: reaching the registry would fail
        // differently (and slowly).
        let dir = std::env::temp_dir().join(format!("paygate-ops-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.json");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = vec!["gateways".into(), "put".into(), missing.clone().into()];
        let code = cli(args, &Resources::default(), &mut out, &mut err).await;
        assert_eq!(code, 1);
        assert!(out.is_empty());
        let err = String::from_utf8(err).unwrap();
        assert!(
            err.starts_with(&format!(
                "paygate-ops: could not read {}",
                missing.display()
            )),
            "{err}"
        );

        let refused = dir.join("refused.json");
        std::fs::write(
            &refused,
            r#"[{"name":"acme","format":"xml","base_url":"https://psp.example",
                 "countries":["AE"],"currencies":["AED"],"priority":1,"enabled":true}]"#,
        )
        .unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = vec!["gateways".into(), "put".into(), refused.clone().into()];
        let code = cli(args, &Resources::default(), &mut out, &mut err).await;
        assert_eq!(code, 1);
        assert!(out.is_empty());
        assert_eq!(
            String::from_utf8(err).unwrap(),
            format!(
                "paygate-ops: {}: nothing was written: 1 problem(s):\n  \
                 entry 1 (\"acme\"), format: \"xml\" is not a known format (known: json, soap)\n",
                refused.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
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
