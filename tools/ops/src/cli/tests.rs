use super::*;
use paygate_domain::ports::ApiKeyHash;

fn parsed(line: &str) -> Result<Command, UsageError> {
    parse(line.split_whitespace())
}

fn dlq(command: DlqCommand) -> Command {
    Command::Dlq(command)
}

fn gateways(command: GatewayCommand) -> Command {
    Command::Gateways(command)
}

fn ledger(merchant: &str) -> Command {
    Command::Ledger(LedgerCommand::Check {
        merchant: MerchantId(merchant.to_owned()),
    })
}

fn merchants(command: MerchantCommand) -> Command {
    Command::Merchants(command)
}

fn name(name: &str) -> String {
    name.to_owned()
}

#[test]
fn command_lines_and_what_they_mean() {
    let hash = "0f".repeat(32);
    let revoke = format!("merchants revoke {hash} mer_acme");
    for (line, expected) in [
        (
            "dlq list",
            dlq(DlqCommand::List {
                max: DEFAULT_LIST_MAX,
            }),
        ),
        ("dlq list --max 5", dlq(DlqCommand::List { max: 5 })),
        ("dlq list --max=7", dlq(DlqCommand::List { max: 7 })),
        (
            "dlq show 0b3c-11",
            dlq(DlqCommand::Show {
                message_id: name("0b3c-11"),
            }),
        ),
        ("dlq redrive", dlq(DlqCommand::Redrive { limit: None })),
        (
            "dlq redrive --limit 3",
            dlq(DlqCommand::Redrive { limit: Some(3) }),
        ),
        (
            "dlq redrive --limit=12",
            dlq(DlqCommand::Redrive { limit: Some(12) }),
        ),
        ("gateways list", gateways(GatewayCommand::List)),
        (
            "gateways put ops/gateways.json",
            gateways(GatewayCommand::Put {
                file: PathBuf::from("ops/gateways.json"),
            }),
        ),
        (
            "gateways enable acme_json",
            gateways(GatewayCommand::Enable {
                name: name("acme_json"),
            }),
        ),
        (
            "gateways disable globex_soap",
            gateways(GatewayCommand::Disable {
                name: name("globex_soap"),
            }),
        ),
        ("ledger check --merchant mer_acme", ledger("mer_acme")),
        ("ledger check --merchant=mer_acme-2", ledger("mer_acme-2")),
        (
            "merchants add mer_acme-2",
            merchants(MerchantCommand::Add {
                merchant: MerchantId(name("mer_acme-2")),
            }),
        ),
        ("merchants check", merchants(MerchantCommand::Check)),
        // `--stdin` says what is implicit; saying it twice is no harm.
        ("merchants check --stdin", merchants(MerchantCommand::Check)),
        (
            "merchants check --stdin --stdin",
            merchants(MerchantCommand::Check),
        ),
        (
            &revoke,
            merchants(MerchantCommand::Revoke {
                hash: ApiKeyHash(hash.clone()),
                merchant: MerchantId(name("mer_acme")),
            }),
        ),
    ] {
        assert_eq!(parsed(line), Ok(expected), "{line}");
    }
}

#[test]
fn every_spelling_of_help_shows_the_usage() {
    for line in [
        "help",
        "-h",
        "--help",
        "help dlq",
        "-h extra",
        "dlq help",
        "dlq -h",
        "dlq --help",
        "gateways help",
        "gateways -h",
        "gateways --help",
        "ledger help",
        "ledger -h",
        "ledger --help",
        "merchants help",
        "merchants -h",
        "merchants --help",
    ] {
        assert_eq!(parsed(line), Ok(Command::Help), "{line}");
    }
}

#[test]
fn refused_command_lines_say_what_they_lack() {
    for (line, message) in [
        ("", "no command given"),
        ("queue list", "unknown command queue"),
        ("gateway list", "unknown command gateway"),
        // dlq
        ("dlq", "`dlq` needs a command: list, show or redrive"),
        ("dlq purge", "unknown dlq command purge"),
        ("dlq LIST", "unknown dlq command LIST"),
        ("dlq list --max", "--max needs a number"),
        ("dlq list --max x", "--max needs a number, not \"x\""),
        ("dlq list --max 0", "--max must be at least 1"),
        ("dlq list --max -1", "--max needs a number, not \"-1\""),
        ("dlq list --max 1 --max 2", "--max given twice"),
        ("dlq list --max x extra", "--max needs a number, not \"x\""),
        ("dlq list --max 0 extra", "unexpected argument extra"),
        ("dlq list --limit 2", "unexpected argument --limit"),
        ("dlq list extra", "unexpected argument extra"),
        ("dlq list -h", "unexpected argument -h"),
        ("dlq show", "`dlq show` needs a message id"),
        ("dlq show a b", "unexpected argument b"),
        ("dlq show --max", "unexpected option --max"),
        ("dlq redrive --limit 0", "--limit must be at least 1"),
        ("dlq redrive --limit", "--limit needs a number"),
        (
            "dlq redrive --limit ten",
            "--limit needs a number, not \"ten\"",
        ),
        ("dlq redrive --limit=", "--limit needs a number, not \"\""),
        ("dlq redrive --limitless", "unexpected argument --limitless"),
        ("dlq redrive now", "unexpected argument now"),
        // gateways
        (
            "gateways",
            "`gateways` needs a command: list, put, enable or disable",
        ),
        ("gateways delete acme", "unknown gateways command delete"),
        ("gateways LIST", "unknown gateways command LIST"),
        ("gateways list --all", "unexpected argument --all"),
        ("gateways list --all=x", "unexpected argument --all=x"),
        ("gateways list acme", "unexpected argument acme"),
        ("gateways put", "`gateways put` needs a JSON file"),
        ("gateways put a.json b.json", "unexpected argument b.json"),
        ("gateways put --file a.json", "unexpected option --file"),
        ("gateways put a.json --file", "unexpected argument --file"),
        ("gateways enable", "`gateways enable` needs a gateway name"),
        ("gateways enable a b", "unexpected argument b"),
        ("gateways enable --force", "unexpected option --force"),
        (
            "gateways disable",
            "`gateways disable` needs a gateway name",
        ),
        ("gateways disable a b", "unexpected argument b"),
        ("gateways disable --force", "unexpected option --force"),
        // ledger
        ("ledger", "`ledger` needs a command: check"),
        ("ledger show", "unknown ledger command show"),
        (
            "ledger check",
            "`ledger check` takes the merchant's id: \
             `paygate-ops ledger check --merchant <merchant-id>`",
        ),
        (
            "ledger check --merchant",
            "`ledger check` takes the merchant's id: \
             `paygate-ops ledger check --merchant <merchant-id>`",
        ),
        ("ledger check mer_acme", "unexpected argument mer_acme"),
        (
            "ledger check --merchant a --merchant b",
            "--merchant given twice",
        ),
        (
            "ledger check --merchant mer_a --all",
            "unexpected argument --all",
        ),
        (
            "ledger check --merchant mer/acme",
            "`ledger check`: the merchant id may only hold ASCII letters, digits, '_' and '-'",
        ),
        (
            "ledger check --merchant sk_live_0123",
            "`ledger check`: the merchant id looks like an API key (sk_…), not a merchant id",
        ),
        // merchants
        (
            "merchants",
            "`merchants` needs a command: add, check or revoke",
        ),
        ("merchants add", "`merchants add` needs a merchant id"),
        (
            "merchants add mer_a mer_b",
            "`merchants add` takes exactly one merchant id",
        ),
        (
            "merchants add mer/acme extra",
            "`merchants add` takes exactly one merchant id",
        ),
        (
            "merchants add mer/acme",
            "`merchants add`: the merchant id may only hold ASCII letters, digits, '_' and '-'",
        ),
        (
            "merchants add --force",
            "`merchants add`: the merchant id must start with a letter or a digit",
        ),
        (
            "merchants add sk_dev_0123",
            "`merchants add`: the merchant id looks like an API key (sk_…), not a merchant id",
        ),
    ] {
        assert_eq!(parsed(line).unwrap_err().0, message, "{line:?}");
    }
}

#[test]
fn blank_and_overlong_operands_are_refused() {
    let long = "m".repeat(65);
    for (args, message) in [
        (["gateways", "put", " "], "`gateways put` needs a JSON file"),
        (
            ["gateways", "enable", ""],
            "`gateways enable` needs a gateway name",
        ),
        (
            ["gateways", "disable", ""],
            "`gateways disable` needs a gateway name",
        ),
        (["dlq", "show", ""], "`dlq show` needs a message id"),
        (
            ["merchants", "add", ""],
            "`merchants add`: the merchant id must not be empty",
        ),
        (
            ["merchants", "add", &long],
            "`merchants add`: the merchant id must be at most 64 characters long",
        ),
    ] {
        assert_eq!(parse(args).unwrap_err().0, message, "{args:?}");
    }
}

#[test]
fn merchants_refusals_never_quote_what_may_be_a_key() {
    let key = format!("sk_live_{}", "3f".repeat(32));
    for line in [
        "merchants delete x",
        "merchants ADD mer_a",
        "merchants sk_live_abc",
        "merchants --key",
    ] {
        assert_eq!(
            parsed(line).unwrap_err().0,
            "unknown merchants command (the commands are add, check and revoke)",
            "{line}"
        );
    }
    // A key pasted where the merchant id goes (or after it).
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
    // A key on the command line of `check`: only stdin is read.
    for args in [
        vec!["merchants", "check", key.as_str()],
        vec!["merchants", "check", "--stdin", key.as_str()],
        vec!["merchants", "check", "--key", key.as_str()],
        vec!["merchants", "check", "-h"],
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
fn merchants_revoke_takes_a_key_hash_and_a_merchant_id() {
    let hash = "0f".repeat(32);
    let arity = "`merchants revoke` takes a key hash and a merchant id: \
                 `paygate-ops merchants revoke <key-hash> <merchant-id>`";
    for line in [
        "merchants revoke".to_owned(),
        format!("merchants revoke {hash}"),
        format!("merchants revoke {hash} mer_acme extra"),
        "merchants revoke not-a-hash mer_acme extra".to_owned(),
    ] {
        assert_eq!(parsed(&line).unwrap_err().0, arity, "{line}");
    }
    // A key (or anything not a lowercase SHA-256 hex) is refused, and never quoted.
    let key = format!("sk_live_{}", "3f".repeat(32));
    for not_a_hash in [
        key.as_str(),
        &"0F".repeat(32),
        &"0f".repeat(31),
        "mer_acme",
        "--x",
    ] {
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

#[cfg(unix)]
#[test]
fn non_utf8_arguments_are_refused() {
    use std::os::unix::ffi::OsStringExt;
    let bad = OsString::from_vec(vec![0x66, 0xff]);
    assert_eq!(
        parse([OsString::from("dlq"), OsString::from("show"), bad])
            .unwrap_err()
            .0,
        "argument is not UTF-8: f\u{fffd}"
    );
}

#[test]
fn the_usage_lists_every_command_and_the_variables_they_read() {
    let usage = usage();
    assert!(usage.starts_with("usage: paygate-ops "), "{usage}");
    for expected in [
        "dlq list",
        "--max <N>",
        "dlq show <message-id>",
        "dlq redrive",
        "--limit <N>",
        "gateways list",
        "gateways put",
        "gateways enable",
        "gateways disable",
        "ledger check",
        "--merchant <merchant-id>",
        "merchants add <merchant-id>",
        "merchants check",
        "merchants revoke <key-hash> <merchant-id>",
        "paygate-ops help",
        "PAYGATE_DEPOSITS_QUEUE",
        "PAYGATE_DEPOSITS_DLQ",
        "PAYGATE_GATEWAYS_TABLE",
        "PAYGATE_MERCHANTS_TABLE",
        "PAYGATE_LEDGER_TABLE",
        "AWS_ENDPOINT_URL",
    ] {
        assert!(usage.contains(expected), "{expected} in:\n{usage}");
    }
    // The hidden `help` of each group and the hidden `-h` stay out of it.
    assert!(!usage.contains("dlq help"), "{usage}");
    assert!(!usage.contains("--help"), "{usage}");
}
