//! The command line: its grammar as clap types, read into a [`Command`]; the one usage text
//! clap renders from those types (`paygate-ops help`); and, for a command line that does
//! not parse, a message that says what it lacks. Nothing about `merchants` arguments is
//! quoted back: one may be an API key typed in the wrong place.

use crate::config;
use crate::dlq::{DEFAULT_LIST_MAX, DlqCommand, SHOW_SCAN_MAX};
use crate::gateways::GatewayCommand;
use crate::ledger::LedgerCommand;
use crate::merchants::{MerchantCommand, check_merchant_id, parse_key_hash};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand};
use paygate_domain::MerchantId;
use std::ffi::OsString;
use std::path::PathBuf;

#[cfg(test)]
mod tests;

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Dlq(DlqCommand),
    Gateways(GatewayCommand),
    Ledger(LedgerCommand),
    Merchants(MerchantCommand),
}

/// A command line that does not parse; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage_error(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// `paygate-ops help`: every command with its arguments, then the variables they read.
pub fn usage() -> String {
    Line::command()
        .render_help()
        .to_string()
        .trim_end()
        .to_owned()
}

/// Parses the arguments after the program name.
pub fn parse<I, A>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = A>,
    A: Into<OsString>,
{
    let args = args
        .into_iter()
        .map(|arg| {
            arg.into().into_string().map_err(|arg| {
                usage_error(format!("argument is not UTF-8: {}", arg.to_string_lossy()))
            })
        })
        .collect::<Result<Vec<String>, _>>()?;
    match Line::read(&args) {
        Ok(line) => line.group.into_command(),
        Err(error) => refused(&error, &args),
    }
}

// ---------------------------------------------------------------- the grammar

/// `-h` and `--help` where they are taken: before a command or after a group, never after
/// a command (there they are refused like any other unknown option, or taken as an
/// operand). Hidden: `help` is the one shown.
#[derive(Args)]
struct HelpFlag {
    #[arg(short = 'h', long = "help", action = ArgAction::Help, hide = true)]
    _help: Option<bool>,
}

/// Whatever follows `help`, ignored.
#[derive(Args)]
struct Ignored {
    #[arg(num_args = 0.., trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _rest: Vec<String>,
}

#[derive(Parser)]
#[command(
    name = "paygate-ops",
    help_template = "usage: {usage}\n\n{all-args}{after-help}",
    after_help = config::environment(),
    flatten_help = true,
    // Both settings reach every command: `-h` is added back where it was taken.
    disable_help_flag = true,
    disable_help_subcommand = true
)]
struct Line {
    #[command(subcommand)]
    group: Group,
    #[command(flatten)]
    _help: HelpFlag,
}

impl Line {
    fn read(args: &[String]) -> Result<Self, clap::Error> {
        Self::try_parse_from(std::iter::once("paygate-ops").chain(args.iter().map(String::as_str)))
    }
}

#[derive(Subcommand)]
enum Group {
    /// The deposits dead-letter queue: deposit messages that failed every delivery.
    #[command(flatten_help = true)]
    Dlq {
        #[command(subcommand)]
        command: DlqLine,
        #[command(flatten)]
        _help: HelpFlag,
    },
    /// The gateway registry routing chooses from. A change applies from the gateway
    /// processor's next message (it reads the registry for each).
    #[command(flatten_help = true, verbatim_doc_comment)]
    Gateways {
        #[command(subcommand)]
        command: GatewayLine,
        #[command(flatten)]
        _help: HelpFlag,
    },
    /// Merchants' ledgers, as the store keeps them.
    #[command(flatten_help = true)]
    Ledger {
        #[command(subcommand)]
        command: LedgerLine,
        #[command(flatten)]
        _help: HelpFlag,
    },
    /// Merchants' API keys. A new key is shown only once: only its SHA-256 hash is stored.
    #[command(flatten_help = true)]
    Merchants {
        #[command(subcommand)]
        command: MerchantLine,
        #[command(flatten)]
        _help: HelpFlag,
    },
    /// Show this text.
    Help(Ignored),
}

#[derive(Subcommand)]
enum DlqLine {
    /// List dead-lettered messages: message id, deposit id, merchant id, correlation id,
    /// receive count. Each is visible again at once, but every look counts as a receive.
    #[command(verbatim_doc_comment)]
    List {
        /// List at most N messages.
        #[arg(
            long,
            value_name = "N",
            default_value_t = DEFAULT_LIST_MAX,
            value_parser = number,
            allow_hyphen_values = true
        )]
        max: usize,
    },
    #[command(about = format!(
        "Show one dead-lettered message's ids and delivery facts (looks at up to {SHOW_SCAN_MAX})."
    ))]
    Show {
        /// The message id, as `list` shows it.
        #[arg(value_name = "message-id", value_parser = operand, allow_hyphen_values = true)]
        message_id: String,
    },
    /// Move dead-lettered messages back to the deposits queue: all of them with SQS's
    /// StartMessageMoveTask, or, where the endpoint lacks it or with --limit, one by one
    /// (receive, send a copy, then delete the original).
    #[command(verbatim_doc_comment)]
    Redrive {
        /// Move at most N messages, one by one.
        #[arg(long, value_name = "N", value_parser = number, allow_hyphen_values = true)]
        limit: Option<usize>,
    },
    #[command(hide = true)]
    Help(Ignored),
}

#[derive(Subcommand)]
enum GatewayLine {
    /// List the registry: name, format, enabled, priority, countries, currencies, health,
    /// breaker, base URL host.
    #[command(verbatim_doc_comment)]
    List,
    /// Add or update the gateways in the file, checked as a whole first and refused on any
    /// problem; health and breaker state of existing gateways are kept.
    #[command(verbatim_doc_comment)]
    Put {
        /// JSON: [{name, format, base_url, countries, currencies, priority, enabled}, …].
        #[arg(value_name = "file.json", value_parser = operand, allow_hyphen_values = true)]
        file: String,
    },
    /// Let routing choose the gateway again.
    Enable {
        /// The gateway's name, as `list` shows it.
        #[arg(value_name = "name", value_parser = operand, allow_hyphen_values = true)]
        name: String,
    },
    /// Stop routing new payments to the gateway.
    Disable {
        /// The gateway's name, as `list` shows it.
        #[arg(value_name = "name", value_parser = operand, allow_hyphen_values = true)]
        name: String,
    },
    #[command(hide = true)]
    Help(Ignored),
}

#[derive(Subcommand)]
enum LedgerLine {
    /// Read the merchant's whole ledger and check it: entries gapless, balanced, never
    /// overdrawn, and the head their fold. Prints the balances per currency, every
    /// problem and a summary line; exit code 1 if there is a problem.
    #[command(verbatim_doc_comment)]
    Check {
        /// The merchant whose ledger to check.
        #[arg(long, value_name = "merchant-id", allow_hyphen_values = true)]
        merchant: String,
    },
    #[command(hide = true)]
    Help(Ignored),
}

// Operands are plain strings here, checked once the arity is known to be right, so that
// a wrong count is reported before (and instead of) what is wrong with one of them.
#[derive(Subcommand)]
enum MerchantLine {
    /// Issue a new API key for the merchant: register its SHA-256 hash and print the key,
    /// once. Its other keys keep working: adding again gives another key, which is how a
    /// key is rotated.
    #[command(verbatim_doc_comment)]
    Add {
        /// Letters, digits, '_', '-', at most 64, starting with a letter or digit.
        #[arg(value_name = "merchant-id", allow_hyphen_values = true)]
        merchant: String,
    },
    /// Read one API key from stdin (never from the command line) and print the merchant it
    /// belongs to; exit code 1 if none.
    #[command(args_override_self = true, verbatim_doc_comment)]
    Check {
        /// Read the key from stdin (which happens anyway).
        #[arg(long = "stdin")]
        _stdin: bool,
    },
    /// Remove the merchant's key with that hash: requests with it are refused from then
    /// on; exit code 1 if the merchant has no such key.
    #[command(verbatim_doc_comment)]
    Revoke {
        /// The key's SHA-256 hash, as `add` printed it.
        #[arg(value_name = "key-hash", allow_hyphen_values = true)]
        hash: String,
        /// The merchant the key belongs to (a guard against a mistyped hash).
        #[arg(value_name = "merchant-id", allow_hyphen_values = true)]
        merchant: String,
    },
    #[command(hide = true)]
    Help(Ignored),
}

/// Why a value was refused while parsing. Never about a `merchants` argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum ValueError {
    #[error("needs a number, not {0:?}")]
    NotANumber(String),
    /// An option where an operand goes.
    #[error("unexpected option {0}")]
    Option(String),
    /// A blank operand, which counts as none.
    #[error("the operand is blank")]
    Blank,
}

fn number(raw: &str) -> Result<usize, ValueError> {
    raw.parse()
        .map_err(|_| ValueError::NotANumber(raw.to_owned()))
}

/// An operand (an id, a name, a file): not blank, not an option.
fn operand(raw: &str) -> Result<String, ValueError> {
    if raw.starts_with('-') {
        Err(ValueError::Option(raw.to_owned()))
    } else if raw.trim().is_empty() {
        Err(ValueError::Blank)
    } else {
        Ok(raw.to_owned())
    }
}

// ---------------------------------------------------------------- into commands

impl Group {
    fn into_command(self) -> Result<Command, UsageError> {
        match self {
            Self::Dlq { command, .. } => command.into_command(),
            Self::Gateways { command, .. } => Ok(command.into_command()),
            Self::Ledger { command, .. } => command.into_command(),
            Self::Merchants { command, .. } => command.into_command(),
            Self::Help(_) => Ok(Command::Help),
        }
    }
}

impl DlqLine {
    fn into_command(self) -> Result<Command, UsageError> {
        let command = match self {
            Self::List { max } => DlqCommand::List {
                max: at_least_one("--max", max)?,
            },
            Self::Show { message_id } => DlqCommand::Show { message_id },
            Self::Redrive { limit } => DlqCommand::Redrive {
                limit: limit.map(|n| at_least_one("--limit", n)).transpose()?,
            },
            Self::Help(_) => return Ok(Command::Help),
        };
        Ok(Command::Dlq(command))
    }
}

fn at_least_one(option: &str, n: usize) -> Result<usize, UsageError> {
    match n {
        0 => Err(usage_error(format!("{option} must be at least 1"))),
        n => Ok(n),
    }
}

impl GatewayLine {
    fn into_command(self) -> Command {
        let command = match self {
            Self::List => GatewayCommand::List,
            Self::Put { file } => GatewayCommand::Put {
                file: PathBuf::from(file),
            },
            Self::Enable { name } => GatewayCommand::Enable { name },
            Self::Disable { name } => GatewayCommand::Disable { name },
            Self::Help(_) => return Command::Help,
        };
        Command::Gateways(command)
    }
}

impl LedgerLine {
    fn into_command(self) -> Result<Command, UsageError> {
        match self {
            Self::Check { merchant } => {
                check_merchant_id(&merchant)
                    .map_err(|why| usage_error(format!("`ledger check`: the merchant id {why}")))?;
                Ok(Command::Ledger(LedgerCommand::Check {
                    merchant: MerchantId(merchant),
                }))
            }
            Self::Help(_) => Ok(Command::Help),
        }
    }
}

impl MerchantLine {
    fn into_command(self) -> Result<Command, UsageError> {
        let merchant_id = |command: &str, id: String| {
            check_merchant_id(&id)
                .map(|()| MerchantId(id))
                .map_err(|why| usage_error(format!("`merchants {command}`: the merchant id {why}")))
        };
        let command = match self {
            Self::Add { merchant } => MerchantCommand::Add {
                merchant: merchant_id("add", merchant)?,
            },
            Self::Check { .. } => MerchantCommand::Check,
            Self::Revoke { hash, merchant } => MerchantCommand::Revoke {
                hash: parse_key_hash(&hash).ok_or_else(|| usage_error(NOT_A_KEY_HASH))?,
                merchant: merchant_id("revoke", merchant)?,
            },
            Self::Help(_) => return Ok(Command::Help),
        };
        Ok(Command::Merchants(command))
    }
}

// ---------------------------------------------------------------- refusals

const CHECK_READS_STDIN: &str = "`merchants check` reads the API key from stdin, never from the \
command line (shell history keeps it; if you typed a key there, remove it from your history): \
`paygate-ops merchants check < key.txt`";

const LEDGER_CHECK_TAKES: &str = "`ledger check` takes the merchant's id: \
`paygate-ops ledger check --merchant <merchant-id>`";

const REVOKE_TAKES: &str = "`merchants revoke` takes a key hash and a merchant id: \
`paygate-ops merchants revoke <key-hash> <merchant-id>`";

const NOT_A_KEY_HASH: &str = "`merchants revoke`: the key hash is the 64 lowercase hex digits \
`merchants add` printed (never the key itself)";

/// What a command line that clap refused lacks, in the words of the command it reached;
/// `help` in any of its spellings is no refusal.
fn refused(error: &clap::Error, args: &[String]) -> Result<Command, UsageError> {
    let kind = error.kind();
    if kind == ErrorKind::DisplayHelp {
        return Ok(Command::Help);
    }
    let no_command = matches!(
        kind,
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    let path = command_path(args);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let message = match path.as_slice() {
        [] if no_command => "no command given".to_owned(),
        [] => format!("unknown command {}", as_typed(error, args)),
        [group] if no_command => format!("`{group}` needs a command: {}", commands(group, "or")),
        ["merchants"] => format!(
            "unknown merchants command (the commands are {})",
            commands("merchants", "and")
        ),
        [group] => format!("unknown {group} command {}", as_typed(error, args)),
        ["merchants", "check"] => CHECK_READS_STDIN.to_owned(),
        ["merchants", "revoke"] => REVOKE_TAKES.to_owned(),
        ["merchants", "add"] if kind == ErrorKind::MissingRequiredArgument => {
            "`merchants add` needs a merchant id".to_owned()
        }
        ["merchants", "add"] => "`merchants add` takes exactly one merchant id".to_owned(),
        // Its one option takes no number, which `refused_argument` would ask for.
        ["ledger", "check"]
            if matches!(
                kind,
                ErrorKind::MissingRequiredArgument | ErrorKind::InvalidValue
            ) =>
        {
            LEDGER_CHECK_TAKES.to_owned()
        }
        command => refused_argument(error, args, command),
    };
    Err(usage_error(message))
}

/// A refused argument of a `dlq` or `gateways` command.
fn refused_argument(error: &clap::Error, args: &[String], command: &[&str]) -> String {
    let value_error = std::error::Error::source(error).and_then(|e| e.downcast_ref());
    match (error.kind(), value_error) {
        (ErrorKind::MissingRequiredArgument, _) | (_, Some(ValueError::Blank)) => {
            let what = match command {
                ["dlq", "show"] => "a message id",
                ["gateways", "put"] => "a JSON file",
                ["gateways", _] => "a gateway name",
                _ => "an operand",
            };
            format!("`{}` needs {what}", command.join(" "))
        }
        (_, Some(ValueError::Option(option))) => format!("unexpected option {option}"),
        (_, Some(refusal @ ValueError::NotANumber(_))) => format!("{} {refusal}", option(error)),
        (ErrorKind::InvalidValue, _) => format!("{} needs a number", option(error)),
        (ErrorKind::ArgumentConflict, _) => format!("{} given twice", option(error)),
        (ErrorKind::UnknownArgument, _) => unexpected_argument(error, args, command),
        (kind, _) => kind
            .as_str()
            .unwrap_or("the command line does not parse")
            .to_owned(),
    }
}

/// An argument the command does not take; unless a value before it was wrong too: clap
/// drops the error of a value it still holds (an operand, an option's number) when it
/// meets an unexpected argument, and that value came first, so its error is the one to
/// report.
fn unexpected_argument(error: &clap::Error, args: &[String], command: &[&str]) -> String {
    let typed = as_typed(error, args);
    let Some(at) = args.iter().rposition(|arg| *arg == typed) else {
        return format!("unexpected argument {typed}");
    };
    let before = &args[..at];
    match Line::read(before) {
        Err(earlier)
            if matches!(
                earlier.kind(),
                ErrorKind::ValueValidation | ErrorKind::UnknownArgument
            ) =>
        {
            refused_argument(&earlier, before, command)
        }
        _ => format!("unexpected argument {typed}"),
    }
}

/// The commands `args` name, as far as they name any: `["gateways", "put"]`.
fn command_path(args: &[String]) -> Vec<String> {
    let mut command = Line::command();
    let mut path = Vec::new();
    for arg in args {
        let Some(sub) = command.find_subcommand(arg).cloned() else {
            break;
        };
        path.push(sub.get_name().to_owned());
        command = sub;
    }
    path
}

/// A group's commands as a sentence lists them: `add, check and revoke`.
fn commands(group: &str, conjunction: &str) -> String {
    let line = Line::command();
    let names: Vec<&str> = line
        .find_subcommand(group)
        .into_iter()
        .flat_map(|group| group.get_subcommands())
        .filter(|command| !command.is_hide_set())
        .map(|command| command.get_name())
        .collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} {conjunction} {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The argument clap refused, as it was typed (`--all=x`, where clap names `--all`).
fn as_typed(error: &clap::Error, args: &[String]) -> String {
    let Some(name) = context(error, ContextKind::InvalidSubcommand)
        .or_else(|| context(error, ContextKind::InvalidArg))
    else {
        return String::new();
    };
    args.iter()
        .find(|arg| arg.split_once('=').map_or(arg.as_str(), |(flag, _)| flag) == name)
        .cloned()
        .unwrap_or(name)
}

/// The option a refusal is about: `--max` (clap says `--max <N>`).
fn option(error: &clap::Error) -> String {
    context(error, ContextKind::InvalidArg)
        .and_then(|arg| arg.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

fn context(error: &clap::Error, kind: ContextKind) -> Option<String> {
    match error.get(kind)? {
        ContextValue::String(value) => Some(value.clone()),
        ContextValue::Strings(values) => values.first().cloned(),
        _ => None,
    }
}
