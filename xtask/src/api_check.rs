//! The schema-driven API check of `cargo xtask test`: schemathesis against a devstack.
//!
//! The devstack (in-memory backend, a fixed dev key) is built, started as a direct child
//! on a free loopback port, and asked for the OpenAPI it serves; schemathesis then runs
//! every check, every phase (stateful included, on the links it infers), a bounded number
//! of examples per operation and a fixed seed. [`Devstack`] is the guard: dropping it
//! (normal return, error, Ctrl-C) kills and reaps the devstack.
//!
//! What the schema cannot state (state-dependent 400/422 answers) is configured per
//! operation in `tests/schemathesis/schemathesis.toml`; no check is excluded.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::emulators::{answers_http, free_ports, log_tail};
use crate::process::{self, Error, Result, step};
use crate::signals;
use crate::tools::{SCHEMATHESIS, Tools};

/// The devstack's API key for the check (it only opens that local stack).
pub const API_KEY: &str = "sk_dev_schemathesis";
/// Test cases per operation and phase (`--max-examples`).
pub const MAX_EXAMPLES: u32 = 100;
/// Schemathesis' seed (`--seed`): the same run every time.
pub const SEED: u64 = 15;
/// The configuration: per-operation expected statuses for rules no schema can state.
pub const CONFIG: &str = "tests/schemathesis/schemathesis.toml";
/// How long the devstack may take to answer HTTP.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The schemathesis arguments (after the program), for `base_url`'s served spec.
pub fn arguments(config: &Path, base_url: &str) -> Vec<String> {
    let mut args = vec![
        "--config-file".to_owned(),
        config.display().to_string(),
        "run".to_owned(),
        format!("{base_url}/openapi.json"),
        "--checks".to_owned(),
        "all".to_owned(),
        "--phases".to_owned(),
        "examples,coverage,fuzzing,stateful".to_owned(),
        "--header".to_owned(),
        format!("Authorization: Bearer {API_KEY}"),
        "--max-examples".to_owned(),
        MAX_EXAMPLES.to_string(),
        "--seed".to_owned(),
        SEED.to_string(),
        "--generation-database".to_owned(),
        "none".to_owned(),
        "--request-timeout".to_owned(),
        "10".to_owned(),
    ];
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        args.push("--no-color".to_owned());
    }
    args
}

/// Builds and starts the devstack, runs schemathesis against it, stops the devstack.
/// Returns schemathesis' exit code (0: no finding).
pub fn run(root: &Path, tools: &Tools, cargo: impl Fn() -> Command) -> Result<u8> {
    step("cargo build -p devstack (for the API check)");
    process::run_ok(cargo().args(["build", "--quiet", "-p", "devstack"]))?;
    let binary = devstack_binary(root);
    let logs = root.join(".tools").join("logs");
    let devstack = Devstack::start(&binary, &logs.join("test-devstack.log"))?;

    // schemathesis keeps its caches in the working directory: not the repo's.
    let work = root.join(".tools").join("schemathesis");
    fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let mut cmd = Command::new(&tools.schemathesis);
    cmd.args(arguments(&root.join(CONFIG), &devstack.base_url))
        .current_dir(&work);
    step(&format!(
        "schemathesis against the devstack: {}",
        process::describe(&cmd)
    ));
    let started = Instant::now();
    let (status, output) = process::run_capturing(&mut cmd)?;
    let elapsed = started.elapsed();
    drop(devstack);

    let summary = Summary::parse(&output);
    step(&format!(
        "{SCHEMATHESIS}: {} operations, {} test cases generated, all checks, {} failures, \
         {:.1} s (seed {SEED}, at most {MAX_EXAMPLES} examples per operation and phase)",
        summary.operations.as_deref().unwrap_or("?"),
        summary.generated.as_deref().unwrap_or("?"),
        if status.success() {
            "0".to_owned()
        } else {
            summary.failures.unwrap_or_else(|| "some".to_owned())
        },
        elapsed.as_secs_f64(),
    ));
    if !status.success() {
        eprintln!("xtask: schemathesis found problems with the API ({status})");
    }
    Ok(process::exit_code(status))
}

/// `<target dir>/debug/devstack`: `CARGO_TARGET_DIR` (relative to the repo) or `target`.
fn devstack_binary(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| root.join("target"), |dir| root.join(dir));
    target
        .join("debug")
        .join(format!("devstack{}", std::env::consts::EXE_SUFFIX))
}

/// The running devstack; dropping this stops it.
struct Devstack {
    child: Child,
    base_url: String,
}

impl Devstack {
    fn start(binary: &Path, log: &Path) -> Result<Devstack> {
        if let Some(dir) = log.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let (out, err) = process::log_outputs(log, false)?;
        let port = free_ports(1)?[0];
        let mut cmd = Command::new(binary);
        cmd.args(["--addr", &format!("127.0.0.1:{port}")])
            .env("PAYGATE_DEV_API_KEY", API_KEY)
            .env_remove("PAYGATE_ADDR")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let mut devstack = Devstack {
            child: process::spawn(&mut cmd)?,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        loop {
            if signals::interrupted() {
                return Err(Error::Interrupted);
            }
            if let Some(status) = devstack
                .child
                .try_wait()
                .map_err(|e| format!("wait: {e}"))?
            {
                return Err(Error::Failed(format!(
                    "the devstack exited during start-up ({status}); log {}:\n{}",
                    log.display(),
                    log_tail(log)
                )));
            }
            if answers_http(port) {
                eprintln!(
                    "    devstack ready on {} after {:.1?} (pid {}, log {})",
                    devstack.base_url,
                    started.elapsed(),
                    devstack.child.id(),
                    log.display()
                );
                return Ok(devstack);
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(Error::Failed(format!(
                    "timed out after {}s waiting for the devstack on {} (log {})",
                    START_TIMEOUT.as_secs(),
                    devstack.base_url,
                    log.display()
                )));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Devstack {
    fn drop(&mut self) {
        step("stopping the devstack");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The figures of schemathesis' closing summary.
#[derive(Debug, Default, PartialEq, Eq)]
struct Summary {
    /// `Tested: 13` under `API Operations:`.
    operations: Option<String>,
    /// `3098 generated, ...` under `Test cases:`.
    generated: Option<String>,
    /// `12 failures` on the closing line.
    failures: Option<String>,
}

impl Summary {
    fn parse(output: &str) -> Summary {
        let mut summary = Summary::default();
        let mut lines = output.lines().map(str::trim).peekable();
        while let Some(line) = lines.next() {
            if let Some(tested) = line.strip_prefix("Tested:") {
                summary.operations = Some(tested.trim().to_owned());
            } else if line == "Test cases:" {
                summary.generated = lines
                    .peek()
                    .and_then(|next| next.split_once(" generated"))
                    .map(|(count, _)| count.trim().to_owned());
            } else if line.starts_with("==") {
                // `=== 12 failures, 2 warnings in 11.58s ===`
                let failures = line.trim_matches('=').split(',').find_map(|part| {
                    let (count, what) = part.trim().split_once(' ')?;
                    what.starts_with("failure").then(|| count.to_owned())
                });
                summary.failures = failures.or(summary.failures.take());
            }
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_reads_schemathesis_closing_lines() {
        let passed = "API Operations:\n  Selected: 13/13\n  Tested: 13\n\nTest cases:\n  \
                      3098 generated, 3098 passed, 24 skipped\n\nSeed: 2\n\n\
                      ===== 2 warnings in 38.72s =====\n";
        assert_eq!(
            Summary::parse(passed),
            Summary {
                operations: Some("13".into()),
                generated: Some("3098".into()),
                failures: None,
            }
        );
        let failed = "  Tested: 12\nTest cases:\n  647 generated, 12 found 12 unique failures\n\
                      === 12 failures, 2 warnings in 11.58s ===\n";
        assert_eq!(Summary::parse(failed).failures.as_deref(), Some("12"));
        let one = "=== 1 failure in 1.00s ===";
        assert_eq!(Summary::parse(one).failures.as_deref(), Some("1"));
    }

    #[test]
    fn the_check_runs_every_check_and_phase_with_a_seed_and_the_key() {
        let args = arguments(
            Path::new("/r/tests/schemathesis/schemathesis.toml"),
            "http://x",
        );
        let line = args.join(" ");
        for expected in [
            "run http://x/openapi.json",
            "--checks all",
            "--phases examples,coverage,fuzzing,stateful",
            "--header Authorization: Bearer sk_dev_schemathesis",
            "--max-examples 100",
            "--seed 15",
        ] {
            assert!(line.contains(expected), "{line}");
        }
        assert!(!line.contains("--exclude-checks"), "{line}");
    }
}
