//! The deployable side: linting `template.yaml`, cross-building the functions for
//! Lambda (arm64, `provided.al2023`) with cargo-lambda, and `sam build`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::process::{self, Error, Result, step};
use crate::tools::DeployTools;

/// The Rust target of Lambda's arm64 (Graviton) runtime.
pub const ARM64_TARGET: &str = "aarch64-unknown-linux-gnu";
/// The function the test command cross-builds: it links every adapter the others do
/// (DynamoDB, SQS, EventBridge, the PSP connectors), so if it builds, they do.
pub const PROBE_FUNCTION: &str = "health-probe";
/// The two Lambda architectures, as cargo-lambda and ELF name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Arm64,
    X86_64,
}

impl Arch {
    /// As the footprint rows name it.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Arm64 => "arm64",
            Arch::X86_64 => "x86_64",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Arch::Arm64 => "--arm64",
            Arch::X86_64 => "--x86-64",
        }
    }

    /// ELF `e_machine`.
    fn machine(self) -> u16 {
        match self {
            Arch::Arm64 => 183,
            Arch::X86_64 => 62,
        }
    }
}

/// `cfn-lint` and `sam validate --lint`, both offline.
pub fn lint_template(root: &Path, tools: &DeployTools) -> Result<()> {
    step("cfn-lint template.yaml");
    process::run_ok(
        tools
            .command("cfn-lint")
            .arg("template.yaml")
            .current_dir(root),
    )?;
    step("sam validate --lint");
    process::run_ok(
        sam(tools)
            .args(["validate", "--lint", "--template", "template.yaml"])
            .current_dir(root),
    )
}

/// Installs the arm64 standard library with rustup when it is missing.
pub fn ensure_arm64_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("cannot run `rustup` ({e}); cross-building needs rustup"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == ARM64_TARGET)
    {
        return Ok(());
    }
    step(&format!("rustup target add {ARM64_TARGET}"));
    process::run_ok(Command::new("rustup").args(["target", "add", ARM64_TARGET]))
}

/// `cargo lambda build --release --arm64` for `functions`; returns each bootstrap's
/// path and size after checking it is an executable for that architecture.
///
/// The arm64 standard library comes from rustup's server, which is not one of the
/// package registries a CI machine is promised. If it cannot be had, the same build runs
/// for x86_64 Lambda (the host's standard library), so the cargo-lambda + zig packaging
/// is still proven, and a warning says arm64 was not.
pub fn cross_build(
    root: &Path,
    tools: &DeployTools,
    functions: &[&str],
) -> Result<Vec<(PathBuf, u64)>> {
    let arch = lambda_arch()?;
    step(&format!(
        "cargo lambda build --release {} ({})",
        arch.flag(),
        functions.join(", ")
    ));
    let started = Instant::now();
    let mut cmd = Command::new("cargo");
    cmd.args(["lambda", "build", "--release", arch.flag()])
        .current_dir(root)
        .env("PATH", tools.path());
    for function in functions {
        cmd.args(["--package", function]);
    }
    process::run_ok(&mut cmd)?;
    let target = target_dir(root);
    let bundles = functions
        .iter()
        .map(|function| {
            check_bootstrap(
                &target.join("lambda").join(function).join("bootstrap"),
                arch,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    report("cross-built", &bundles, started);
    Ok(bundles)
}

/// arm64 when its standard library is (or can be) installed, else x86_64 with a warning.
pub fn lambda_arch() -> Result<Arch> {
    match ensure_arm64_target() {
        Ok(()) => Ok(Arch::Arm64),
        Err(Error::Failed(why)) => {
            eprintln!(
                "warning: the {ARM64_TARGET} standard library is not installed and could not \
                 be added ({why}); cross-building for x86_64 Lambda instead. The arm64 build \
                 (the template's architecture) is NOT verified by this run."
            );
            Ok(Arch::X86_64)
        }
        Err(other) => Err(other),
    }
}

/// `cargo lambda build --release <arch> --output-format zip` of `targets` (each a
/// package and, where it has several, the bin); returns each bin's name and the path of
/// its `bootstrap.zip` (`<target>/lambda/<bin>/bootstrap.zip`).
pub fn zip_build(
    root: &Path,
    tools: &DeployTools,
    arch: Arch,
    targets: &[(&str, Option<&str>)],
) -> Result<Vec<(String, PathBuf)>> {
    let mut zips = Vec::new();
    for (package, bin) in targets {
        let mut cmd = Command::new("cargo");
        cmd.args(["lambda", "build", "--release", arch.flag()])
            .args(["--output-format", "zip", "--package", package])
            .current_dir(root)
            .env("PATH", tools.path());
        if let Some(bin) = bin {
            cmd.args(["--bin", bin]);
        }
        step(&process::describe(&cmd));
        process::run_ok(&mut cmd)?;
        let name = bin.unwrap_or(package);
        zips.push((
            name.to_owned(),
            target_dir(root)
                .join("lambda")
                .join(name)
                .join("bootstrap.zip"),
        ));
    }
    Ok(zips)
}

/// `sam build`: every function of the template, as `sam deploy` will upload them
/// (into `.aws-sam/build/<LogicalId>/bootstrap`).
pub fn sam_build(root: &Path, tools: &DeployTools) -> Result<Vec<(PathBuf, u64)>> {
    ensure_arm64_target()?;
    step("sam build");
    let started = Instant::now();
    process::run_ok(sam(tools).arg("build").current_dir(root))?;
    let build = root.join(".aws-sam").join("build");
    let mut bundles = Vec::new();
    let entries =
        fs::read_dir(&build).map_err(|e| format!("cannot read {}: {e}", build.display()))?;
    for entry in entries.filter_map(|entry| entry.ok()) {
        let bootstrap = entry.path().join("bootstrap");
        if bootstrap.is_file() {
            bundles.push(check_bootstrap(&bootstrap, Arch::Arm64)?);
        }
    }
    bundles.sort();
    if bundles.len() < 4 {
        return Err(Error::Failed(format!(
            "sam build left {} bootstrap files under {}, expected one per function (4)",
            bundles.len(),
            build.display()
        )));
    }
    report("built", &bundles, started);
    Ok(bundles)
}

fn sam(tools: &DeployTools) -> Command {
    let mut cmd = tools.command("sam");
    cmd.env("SAM_CLI_TELEMETRY", "0");
    cmd
}

/// Fails unless `path` is a 64-bit little-endian ELF for `arch`; returns its size.
fn check_bootstrap(path: &Path, arch: Arch) -> Result<(PathBuf, u64)> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let is_elf64_le =
        bytes.len() > 20 && bytes.starts_with(b"\x7fELF") && bytes[4] == 2 && bytes[5] == 1;
    let machine = bytes.get(18..20).map(|m| u16::from_le_bytes([m[0], m[1]]));
    if !is_elf64_le || machine != Some(arch.machine()) {
        return Err(Error::Failed(format!(
            "{} is not a 64-bit {arch:?} ELF executable",
            path.display()
        )));
    }
    Ok((path.to_path_buf(), bytes.len() as u64))
}

fn report(what: &str, bundles: &[(PathBuf, u64)], started: Instant) {
    eprintln!("    {what} in {:.0?}:", started.elapsed());
    for (path, size) in bundles {
        eprintln!(
            "    {:>6.1} MiB  {}",
            *size as f64 / (1024.0 * 1024.0),
            path.display()
        );
    }
}

/// `CARGO_TARGET_DIR` if set, else `<repo>/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 20 bytes of a 64-bit little-endian ELF header for `machine`.
    fn elf_header(machine: u16) -> Vec<u8> {
        let mut bytes = b"\x7fELF\x02\x01\x01\x00".to_vec();
        bytes.resize(18, 0);
        bytes.extend_from_slice(&machine.to_le_bytes());
        bytes.resize(64, 0);
        bytes
    }

    fn written(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-bootstrap-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn a_bootstrap_must_be_an_elf_executable_for_the_architecture_built() {
        let arm = written("arm", &elf_header(183));
        assert_eq!(check_bootstrap(&arm, Arch::Arm64).unwrap().1, 64);
        assert!(check_bootstrap(&arm, Arch::X86_64).is_err());

        let x86 = written("x86", &elf_header(62));
        assert!(check_bootstrap(&x86, Arch::X86_64).is_ok());
        assert!(check_bootstrap(&x86, Arch::Arm64).is_err());

        let script = written(
            "script",
            b"#!/bin/sh\necho not a binary, padded to twenty bytes\n",
        );
        assert!(check_bootstrap(&script, Arch::Arm64).is_err());
    }
}
