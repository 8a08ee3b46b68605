//! Project automation, std only. Run through the cargo alias:
//!
//! * `cargo xtask test [-- <cargo test args>]`: fmt check, clippy, install the
//!   emulators into `.tools/`, start them, create the resources, run
//!   `cargo test --workspace` against them, stop them. This is the project's one
//!   test command (`.ci/run` calls it).
//!   Before the tests it lints `template.yaml` (cfn-lint, `sam validate --lint`) and
//!   cross-builds one function for Lambda arm64 with cargo-lambda
//!   (`--no-lambda-build` leaves that build out, for quick local runs). After the tests
//!   it runs schemathesis against a devstack it starts (`api_check.rs`;
//!   `--no-schemathesis` leaves that out, for quick local runs). It installs
//!   Debian's `chromium` when no browser is found, for the devstack's status-page test,
//!   and passes its path on as `PAYGATE_CHROMIUM`.
//! * `cargo xtask package`: lint the template and `sam build` every function (arm64),
//!   reporting each bootstrap's size: what `sam deploy` uploads.
//! * `cargo xtask emulators`: install and start the emulators, create the
//!   resources, print the `export` lines for running `cargo test` or the devstack
//!   by hand, then wait for Ctrl-C or end of stdin and stop them.
//! * `cargo xtask sim --seeds START..END [--trace]`: the lifecycle simulation for those
//!   seeds, built in release (`cargo xtask test` runs `SIM_SEEDS` of them).
//! * `cargo xtask bench [--cold-build]`: the footprint benchmarks (`bench.rs`): each
//!   function's init time to its first Runtime API `next` and peak RSS against a
//!   hello-world Lambda, every bootstrap's arm64 zip, the devstack's throughput, the
//!   AWS-request bench's rows (on the emulators), and with `--cold-build` the cold
//!   release build of the devstack; one table (README, Benchmarks).

mod api_check;
mod bench;
mod browser;
mod emulators;
mod lambda;
mod process;
mod signals;
mod tools;

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use emulators::Emulators;
use process::{Error, Result, step};
use tools::Tools;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test [--no-lambda-build] [--no-schemathesis] [-- <args>]
                     fmt + clippy + template lint + arm64 cross-build of one function
                     + emulators + Chromium (apt-get, when missing)
                     + `cargo test --workspace <args>`
                     + schemathesis against a devstack + the lifecycle simulation
                     (e.g. `cargo xtask test --no-lambda-build -- -p paygate-domain`)
  package            template lint + `sam build` of every function (arm64, cargo-lambda)
  emulators          start the emulators, print `export` lines, wait for Ctrl-C / EOF
  sim [--seeds START..END] [--trace] [--threads N]
                     the lifecycle simulation (release build) for those seeds; exit 0
                     only when no seed breaks a money rule
  bench [--cold-build]
                     the footprint benchmarks, one table: init vs a hello-world Lambda,
                     peak RSS, arm64 zip sizes, devstack throughput, AWS requests per
                     deposit (needs the emulators: started here), and with
                     --cold-build the cold `cargo build --release -p devstack` (~6 min)
  help               show this text";

/// Seeds of the lifecycle simulation `cargo xtask test` runs.
const SIM_SEEDS: &str = "0..500";

/// The resource-creation script shared with LocalStack's init hook.
const INIT_SCRIPT: &str = "localstack/init/ready.d/init_resources.py";

fn main() -> ExitCode {
    signals::install();
    let mut args = std::env::args_os().skip(1);
    let command = args.next();
    let rest: Vec<OsString> = args.collect();

    let result = match command.as_ref().and_then(|c| c.to_str()) {
        Some("test") => test_command(rest),
        Some("package") if rest.is_empty() => package(),
        Some("emulators") if rest.is_empty() => emulators(),
        Some("sim") => sim(rest),
        Some("bench") => bench::run(&rest),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(0)
        }
        _ => {
            eprintln!("{USAGE}");
            Ok(2)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Error::Interrupted) => {
            eprintln!("xtask: interrupted");
            ExitCode::from(130)
        }
        Err(Error::Failed(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask test [--no-lambda-build] [--no-schemathesis] [-- args]`.
fn test_command(mut args: Vec<OsString>) -> Result<u8> {
    let mut steps = Steps {
        lambda_build: true,
        schemathesis: true,
    };
    loop {
        match args.first().and_then(|arg| arg.to_str()) {
            Some("--no-lambda-build") => steps.lambda_build = false,
            Some("--no-schemathesis") => steps.schemathesis = false,
            _ => break,
        }
        args.remove(0);
    }
    test(steps, strip_separator(args))
}

/// The optional steps of `cargo xtask test` (all on by default: what CI runs).
#[derive(Clone, Copy)]
struct Steps {
    /// The arm64 cross-build of one function.
    lambda_build: bool,
    /// schemathesis against a devstack, after the tests.
    schemathesis: bool,
}

/// `cargo xtask package`: the bundles `sam deploy` uploads.
fn package() -> Result<u8> {
    let root = repo_root();
    let deploy = tools::ensure_deploy(&root.join(".tools"))?;
    lambda::lint_template(&root, &deploy)?;
    lambda::sam_build(&root, &deploy)?;
    step("next: `sam deploy --guided` (needs an AWS account); see README, Deploy");
    Ok(0)
}

/// `cargo xtask test`: returns the exit code of `cargo test`.
fn test(steps: Steps, extra_args: Vec<OsString>) -> Result<u8> {
    let root = repo_root();
    cargo_step(&root, &["fmt", "--all", "--check"])
        .map_err(|e| with_hint(e, "run `cargo fmt --all` to fix the formatting"))?;
    cargo_step(
        &root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;

    let deploy = tools::ensure_deploy(&root.join(".tools"))?;
    lambda::lint_template(&root, &deploy)?;
    if steps.lambda_build {
        lambda::cross_build(&root, &deploy, &[lambda::PROBE_FUNCTION])?;
    }

    let chromium = browser::ensure_chromium()?;
    let (tools, emulators) = start_emulators(&root, "test")?;
    create_resources(&root, &tools, &emulators)?;

    let mut args: Vec<OsString> = vec!["test".into(), "--workspace".into()];
    args.extend(extra_args);
    step(&format!("cargo {}", lossy_join(&args)));
    let mut cmd = cargo(&root);
    cmd.args(&args)
        .env("PAYGATE_TEST_EMULATORS", "1")
        .env("PAYGATE_CHROMIUM", &chromium);
    emulators.apply_env(&mut cmd);
    let status = process::run(&mut cmd)?;

    drop(emulators);
    if !status.success() {
        eprintln!("xtask: cargo test failed ({status})");
        return Ok(process::exit_code(status));
    }
    if steps.schemathesis {
        let code = api_check::run(&root, &tools, || cargo(&root))?;
        if code != 0 {
            return Ok(code);
        }
    }
    // The money rules over seeded runs of the whole lifecycle (the test build's binary).
    let seeds = ["--seeds", SIM_SEEDS];
    step(&format!("lifecycle simulation, seeds {SIM_SEEDS}"));
    let status = process::run(simulation(&root, Profile::Test).args(seeds))?;
    if !status.success() {
        eprintln!("xtask: the lifecycle simulation found violations ({status})");
    }
    Ok(process::exit_code(status))
}

/// `cargo xtask sim [args]`: the simulation in release, for long seed ranges.
fn sim(args: Vec<OsString>) -> Result<u8> {
    let root = repo_root();
    let mut cmd = simulation(&root, Profile::Release);
    cmd.args(strip_separator(args));
    step(&process::describe(&cmd));
    let status = process::run(&mut cmd)?;
    Ok(process::exit_code(status))
}

/// Which build of the simulation to run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// The debug build `cargo test` just made, so nothing is compiled again.
    Test,
    /// Optimised, for long seed ranges.
    Release,
}

/// `cargo run` of the lifecycle simulation; its own arguments follow.
fn simulation(root: &Path, profile: Profile) -> Command {
    let mut cmd = cargo(root);
    cmd.arg("run");
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    cmd.args([
        "--quiet",
        "-p",
        "paygate-simulation",
        "--bin",
        "paygate-sim",
        "--",
    ]);
    cmd
}

/// `cargo xtask emulators`: runs until Ctrl-C or end of stdin.
fn emulators() -> Result<u8> {
    let root = repo_root();
    let (tools, mut emulators) = start_emulators(&root, "emulators")?;
    create_resources(&root, &tools, &emulators)?;

    let mut exports = String::new();
    for (key, value) in emulators.env() {
        exports.push_str(&format!("export {key}={value}\n"));
    }
    exports.push_str("export PAYGATE_TEST_EMULATORS=1\n");
    let env_file = root.join(".tools").join("emulators.env");
    emulators.write_env_file(&env_file, &exports)?;

    step("emulators running; in another shell paste these lines (or `source` the file):");
    print!("{exports}");
    eprintln!("    {}", env_file.display());
    eprintln!("    stop with Ctrl-C or Ctrl-D");

    let stdin_closed = stdin_eof_channel();
    loop {
        match stdin_closed.recv_timeout(Duration::from_millis(200)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if signals::interrupted() {
            break;
        }
        emulators.check_alive()?;
    }
    drop(emulators);
    Ok(0)
}

pub(crate) fn start_emulators(root: &Path, label: &str) -> Result<(Tools, Emulators)> {
    let tools_dir = root.join(".tools");
    step("checking tools (java, moto, DynamoDB Local)");
    let tools = tools::ensure(&tools_dir)?;
    step("starting emulators (moto, DynamoDB Local)");
    let emulators = Emulators::start(&tools, &tools_dir.join("logs"), label)?;
    Ok((tools, emulators))
}

pub(crate) fn create_resources(root: &Path, tools: &Tools, emulators: &Emulators) -> Result<()> {
    step(&format!("creating resources ({INIT_SCRIPT})"));
    let mut cmd = Command::new(&tools.python);
    cmd.arg(root.join(INIT_SCRIPT))
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(std::io::stderr());
    emulators.apply_env(&mut cmd);
    process::run_ok(&mut cmd)
}

/// Runs one `cargo` step, printing it first; fails unless it succeeds.
fn cargo_step(root: &Path, args: &[&str]) -> Result<()> {
    step(&format!("cargo {}", args.join(" ")));
    let status = process::run(cargo(root).args(args))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed(format!(
            "`cargo {}` failed ({status})",
            args.join(" ")
        )))
    }
}

/// The cargo that runs us (`$CARGO`), in the repo root; `CARGO_INCREMENTAL=0` in CI.
pub(crate) fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root);
    if is_ci() {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
    cmd
}

fn is_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

pub(crate) fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// `cargo xtask test -- a b` and `cargo xtask test a b` both pass `a b` on.
fn strip_separator(mut args: Vec<OsString>) -> Vec<OsString> {
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    args
}

fn lossy_join(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn with_hint(err: Error, hint: &str) -> Error {
    match err {
        Error::Failed(msg) => Error::Failed(format!("{msg}; {hint}")),
        other => other,
    }
}

/// A channel that yields (or disconnects) once stdin reaches end of file.
fn stdin_eof_channel() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 256];
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    rx
}
