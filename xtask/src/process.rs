//! Running child commands: progress lines, interruptible waits, the error type.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use crate::signals;

/// Why a command could not finish.
#[derive(Debug)]
pub enum Error {
    /// Something failed; the message is meant for the user.
    Failed(String),
    /// Ctrl-C / SIGTERM / SIGHUP arrived.
    Interrupted,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Failed(msg) => f.write_str(msg),
            Error::Interrupted => f.write_str("interrupted"),
        }
    }
}

impl From<String> for Error {
    fn from(msg: String) -> Self {
        Error::Failed(msg)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Prints the `==> step` progress line (to stderr, so stdout stays clean).
pub fn step(msg: &str) {
    eprintln!("==> {msg}");
}

/// Renders a command the way a user would type it, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// `log` opened twice, for a child's stdout and its stderr: appended to, or else emptied
/// first.
pub fn log_outputs(log: &Path, append: bool) -> Result<(File, File)> {
    let cannot_open = |e: std::io::Error| format!("cannot open {}: {e}", log.display());
    let out = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(log)
        .map_err(cannot_open)?;
    let err = out.try_clone().map_err(cannot_open)?;
    Ok((out, err))
}

/// Spawns `cmd`, naming the program in the error (e.g. "is npm installed?").
pub fn spawn(cmd: &mut Command) -> Result<Child> {
    cmd.spawn()
        .map_err(|e| Error::Failed(format!("cannot start `{}`: {e}", describe(cmd))))
}

/// Runs `cmd` to completion, with stdin closed. On Ctrl-C the child and everything
/// it started are killed and `Interrupted` is returned.
///
/// On Unix the child leads its own process group, so that `cargo test` and the test
/// binaries it spawns can be killed together even when only xtask got the signal.
pub fn run(cmd: &mut Command) -> Result<ExitStatus> {
    let child = spawn_group(cmd)?;
    wait_group(child)
}

/// Like [`run`], but the child's stdout is also copied to ours line by line and
/// returned, for a summary.
pub fn run_capturing(cmd: &mut Command) -> Result<(ExitStatus, String)> {
    cmd.stdout(Stdio::piped());
    let mut child = spawn_group(cmd)?;
    let stdout = child.stdout.take();
    let copier = thread::spawn(move || {
        let mut seen = String::new();
        if let Some(stdout) = stdout {
            for line in BufReader::new(stdout)
                .lines()
                .map_while(std::io::Result::ok)
            {
                println!("{line}");
                seen.push_str(&line);
                seen.push('\n');
            }
        }
        seen
    });
    let status = wait_group(child)?;
    let seen = copier.join().unwrap_or_default();
    Ok((status, seen))
}

/// Spawns `cmd` with stdin closed, leading its own process group on Unix.
fn spawn_group(cmd: &mut Command) -> Result<Child> {
    cmd.stdin(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    spawn(cmd)
}

/// Waits for `child`; on Ctrl-C kills its process group and returns `Interrupted`.
fn wait_group(mut child: Child) -> Result<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("wait failed: {e}"))? {
            return Ok(status);
        }
        if signals::interrupted() {
            // Kill the group before reaping the leader: while it is unreaped its pid
            // (= the group id) cannot be reused by an unrelated process.
            signals::kill_process_group(&child);
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Interrupted);
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cmd` and fails unless it exits successfully.
pub fn run_ok(cmd: &mut Command) -> Result<()> {
    let status = run(cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed(format!(
            "`{}` failed ({status})",
            describe(cmd)
        )))
    }
}

/// The process exit code that mirrors `status` (128 + signal when killed by one).
pub fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff)
            .unwrap_or(1)
            .max(u8::from(!status.success()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + (signal & 0x7f)).unwrap_or(1);
        }
    }
    1
}
