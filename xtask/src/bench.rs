//! `cargo xtask bench [--cold-build]`: the footprint benchmarks, one table.
//!
//! xtask does what it already knows (building, the emulators, cargo-lambda); the
//! `footprint` binary (tools/footprint) measures, one job at a time, each writing its
//! rows into `<target>/footprint/rows/<job>.jsonl`, and finally prints every row file
//! there (other programs' too, e.g. the AWS-request bench's) as one table. Every job
//! runs as a child in its own process group (`process::run`), so Ctrl-C stops it with
//! whatever it started (bootstraps, the devstack, cargo); the emulators' guard stops them.
//!
//! A job that fails is reported and the others still run; the command then exits 1
//! after the table.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::emulators::Emulators;
use crate::lambda;
use crate::process::{self, Error, Result, step};
use crate::{cargo, create_resources, start_emulators, tools};

/// The four functions, by package (= bin) name.
const FUNCTIONS: [&str; 4] = [
    "deposit-intake",
    "gateway-processor",
    "webhook-callback",
    "health-probe",
];
/// The hello-world floor: a bin of the footprint crate.
const HELLO: &str = "hello-lambda";
/// Init runs per bootstrap (medians are reported).
const INIT_RUNS: &str = "30";
/// Invocations before peak RSS is read.
const INVOCATIONS: &str = "6";
/// The devstack load: connections and measured seconds (after a 2 s warm-up).
const CONNECTIONS: &str = "64";
const SECONDS: &str = "10";
/// moto's account: the deposits queue's URL is `<endpoint>/<account>/<name>`.
const MOTO_ACCOUNT: &str = "123456789012";

pub fn run(args: &[OsString]) -> Result<u8> {
    let mut cold_build = false;
    for arg in args {
        match arg.to_str() {
            Some("--cold-build") => cold_build = true,
            _ => {
                eprintln!("usage: cargo xtask bench [--cold-build]");
                return Ok(2);
            }
        }
    }
    let root = crate::repo_root();
    let target = lambda::target_dir(&root);
    let footprint_dir = target.join("footprint");
    let rows = footprint_dir.join("rows");
    let logs = footprint_dir.join("logs");
    if rows.exists() {
        fs::remove_dir_all(&rows).map_err(|e| format!("cannot remove {}: {e}", rows.display()))?;
    }

    // One package per build, as each is built for deployment: building them together
    // would unify their dependencies' features (the devstack's `memory` processor).
    for package in FUNCTIONS.iter().chain(&["footprint", "devstack"]) {
        step(&format!("cargo build --release -p {package}"));
        process::run_ok(cargo(&root).args(["build", "--release", "--quiet", "-p", package]))?;
    }
    let release = target.join("release");
    let footprint = Footprint {
        binary: release.join("footprint"),
        rows: rows.clone(),
        root: root.clone(),
    };

    let mut failed = Vec::new();
    {
        let (tools, emulators) = start_emulators(&root, "bench")?;
        create_resources(&root, &tools, &emulators)?;

        step(&format!(
            "init and peak RSS: {} and {HELLO} on a Lambda Runtime API stand-in",
            FUNCTIONS.join(", ")
        ));
        let mut lambda = footprint.job("lambda");
        lambda
            .args(["--events".as_ref(), root.join("events").as_os_str()])
            .args(["--logs".as_ref(), logs.as_os_str()])
            .args(["--runs", INIT_RUNS, "--invocations", INVOCATIONS]);
        for function in FUNCTIONS {
            lambda.arg(bootstrap_operand(function, &release.join(function)));
        }
        lambda.arg(bootstrap_operand(HELLO, &release.join(HELLO)));
        lambda_env(&mut lambda, &emulators);
        footprint.record(&mut failed, "lambda", &mut lambda)?;

        step("AWS requests: cargo bench -p paygate-integration --bench aws_requests");
        let mut aws = footprint.job("aws-requests");
        aws.args(["--root".as_ref(), root.as_os_str()]);
        emulators.apply_env(&mut aws);
        footprint.record(&mut failed, "aws-requests", &mut aws)?;
    }

    step("deployment zips (cargo lambda build --release --output-format zip)");
    match zips(&root) {
        Ok((arch, zips)) => {
            let mut job = footprint.job("zips");
            job.args(["--arch", arch.name()]);
            for (name, zip) in &zips {
                job.arg(bootstrap_operand(name, zip));
            }
            footprint.record(&mut failed, "zips", &mut job)?;
        }
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(Error::Failed(why)) => {
            eprintln!("xtask: the zip builds failed: {why}");
            failed.push("zips");
        }
    }

    step(&format!(
        "devstack throughput: release devstack, in-memory backend, {CONNECTIONS} connections, {SECONDS} s"
    ));
    let mut job = footprint.job("throughput");
    job.args(["--devstack".as_ref(), release.join("devstack").as_os_str()])
        .args(["--logs".as_ref(), logs.as_os_str()])
        .args(["--connections", CONNECTIONS, "--seconds", SECONDS]);
    footprint.record(&mut failed, "throughput", &mut job)?;

    let mut job = footprint.job("cold-build");
    if cold_build {
        let cold = footprint_dir.join("cold");
        step(&format!(
            "cold build: cargo build --release -p devstack into {} (deleted before and after)",
            cold.display()
        ));
        job.args(["--root".as_ref(), root.as_os_str()])
            .args(["--target-dir".as_ref(), cold.as_os_str()]);
    } else {
        job.arg("--skip");
    }
    footprint.record(&mut failed, "cold-build", &mut job)?;

    step(&format!("the table ({})", rows.display()));
    process::run_ok(&mut footprint.job("table"))?;
    if failed.is_empty() {
        Ok(0)
    } else {
        eprintln!(
            "xtask: these jobs failed (see above): {}",
            failed.join(", ")
        );
        Ok(1)
    }
}

/// The `footprint` binary and where its rows go.
struct Footprint {
    binary: PathBuf,
    rows: PathBuf,
    root: PathBuf,
}

impl Footprint {
    fn job(&self, job: &str) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg(job)
            .args(["--rows".as_ref(), self.rows.as_os_str()])
            .current_dir(&self.root);
        cmd
    }

    /// Runs a job; a failure is noted in `failed` (Ctrl-C ends the bench).
    fn record(
        &self,
        failed: &mut Vec<&'static str>,
        name: &'static str,
        cmd: &mut Command,
    ) -> Result<()> {
        let status = process::run(cmd)?;
        if !status.success() {
            eprintln!("xtask: footprint {name} failed ({status})");
            failed.push(name);
        }
        Ok(())
    }
}

fn bootstrap_operand(name: &str, path: &Path) -> OsString {
    let mut operand = OsString::from(format!("{name}="));
    operand.push(path);
    operand
}

/// The emulators' variables and what the template sets for the functions (the queue's
/// URL, so no `GetQueueUrl`; the secrets the init script created; a stage).
fn lambda_env(cmd: &mut Command, emulators: &Emulators) {
    emulators.apply_env(cmd);
    let endpoint = emulators
        .env()
        .into_iter()
        .find(|(key, _)| *key == "AWS_ENDPOINT_URL")
        .map(|(_, url)| url)
        .unwrap_or_default();
    cmd.env(
        "PAYGATE_DEPOSITS_QUEUE_URL",
        format!("{endpoint}/{MOTO_ACCOUNT}/paygate-deposits"),
    )
    .env("PAYGATE_FIELD_KEYS_SECRET_ARN", "paygate/local/field-keys")
    .env(
        "PAYGATE_WEBHOOK_GATEWAYS_SECRET_ARN",
        "paygate/local/webhook-gateways",
    )
    .env("PAYGATE_STAGE", "bench");
}

/// Every function's and the hello-world's deployment zip, arm64 where possible.
fn zips(root: &Path) -> Result<(lambda::Arch, Vec<(String, PathBuf)>)> {
    let deploy = tools::ensure_deploy(&root.join(".tools"))?;
    let arch = lambda::lambda_arch()?;
    let mut targets: Vec<(&str, Option<&str>)> = FUNCTIONS.iter().map(|f| (*f, None)).collect();
    targets.push(("footprint", Some(HELLO)));
    let zips = lambda::zip_build(root, &deploy, arch, &targets)?;
    Ok((arch, zips))
}
