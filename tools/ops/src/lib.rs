//! `paygate-ops`: the operator's tool for the deposits dead-letter queue (DESIGN §7), the
//! gateway registry, merchants' ledgers and merchants' API keys. `paygate-ops help` lists the commands and the
//! variables they read; the README's Runbook says when to use which.
//!
//! * [`parse`] reads the command line (with clap) into a [`Command`]; [`usage`] is the text
//!   clap renders from the same grammar.
//! * [`dlq`], [`gateways`], [`ledger`], [`merchants`]: one module per group of commands.
//! * [`config`]: where the commands find their queues and tables.
//! * [`OpsError`]: why a command failed.
//!
//! Output never holds a message body as such, only the ids it carries (deposit, merchant,
//! correlation), which are not payer data; nor a gateway's base URL, only its host (a path
//! or query could carry credentials). `merchants add` prints a new key once, on a line of
//! its own; it is the only output that ever holds a key. `merchants check` reads the key
//! from stdin, not from the command line, so that it stays out of shell history.
//!
//! The binary is a thin shell around [`cli_with_input`] (its stdin); tests call it, or
//! [`cli()`] (no stdin), directly, or [`run_captured`] for the exit code and the output
//! as text.

mod cli;
pub mod config;
pub mod dlq;
mod error;
pub mod gateways;
pub mod ledger;
pub mod merchants;

pub use cli::{Command, UsageError, parse, usage};
pub use dlq::{DEFAULT_LIST_MAX, DlqCommand, DlqOps, SHOW_SCAN_MAX};
pub use error::OpsError;
pub use gateways::{GatewayCommand, GatewayOps};
pub use ledger::{LedgerCommand, LedgerOps};
pub use merchants::{MerchantCommand, MerchantOps};

use paygate_aws::Resources;
use std::ffi::OsString;
use std::io::{self, BufRead, Write};

/// What the program has of its terminal: stdin (only `merchants check` reads it, with a
/// prompt on stderr when stdin is a terminal), and whether stderr is one (then long
/// commands, `ledger check`, show their progress there).
pub struct Input<'a> {
    pub reader: &'a mut dyn BufRead,
    pub terminal: bool,
    pub progress: bool,
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
        progress: false,
    };
    cli_with_input(args, resources, input, out, err).await
}

/// One run of the program on `args`, with `stdin` (not a terminal) and its output kept:
/// the exit code, stdout and stderr. For callers that drive it as its `main` does and
/// read what it printed (the tests).
pub async fn run_captured(
    args: &[&str],
    resources: &Resources,
    stdin: &str,
) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut reader = stdin.as_bytes();
    let input = Input {
        reader: &mut reader,
        terminal: false,
        progress: false,
    };
    let args = args.iter().map(Into::into).collect();
    let code = cli_with_input(args, resources, input, &mut out, &mut err).await;
    let text = |bytes| String::from_utf8(bytes).expect("the program prints UTF-8");
    (code, text(out), text(err))
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
            let _ = writeln!(err, "paygate-ops: {message}\n\n{}", usage());
            return 2;
        }
    };
    let result = match &command {
        Command::Help => {
            let _ = writeln!(out, "{}", usage());
            return 0;
        }
        Command::Dlq(command) => match DlqOps::connect(config::sqs().await, resources).await {
            Ok(ops) => ops.run(command, out).await,
            Err(e) => Err(e.into()),
        },
        Command::Gateways(command) => {
            GatewayOps::connect(config::dynamodb().await, resources)
                .run(command, out)
                .await
        }
        Command::Ledger(command) => {
            LedgerOps::connect(config::dynamodb().await, resources)
                .run(command, input.progress, out, err)
                .await
        }
        Command::Merchants(command) => {
            MerchantOps::connect(config::dynamodb().await, resources)
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

#[cfg(test)]
mod tests {
    use super::*;

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
            progress: false,
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
}
