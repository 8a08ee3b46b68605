//! Starting and stopping the emulators on free loopback ports.
//!
//! moto (SQS, EventBridge) and DynamoDB Local are started as direct children of
//! xtask, never through a wrapper, so that killing the child kills the server.
//! [`Emulators`] is the guard: dropping it (normal return, error, panic, Ctrl-C)
//! kills and reaps both.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::{self, Error, Result, step};
use crate::signals;
use crate::tools::Tools;

/// How long an emulator may take to answer HTTP.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts per emulator when it dies at start-up (e.g. its port was taken meanwhile).
const START_ATTEMPTS: u32 = 3;
/// Region and dummy credentials the tests and the init script use.
const REGION: &str = "us-east-1";
const ACCESS_KEY: &str = "test";
const SECRET_KEY: &str = "test";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Moto,
    DynamoDbLocal,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Moto => "moto",
            Kind::DynamoDbLocal => "dynamodb-local",
        }
    }

    fn command(self, tools: &Tools, port: u16) -> Command {
        match self {
            Kind::Moto => {
                let mut cmd = Command::new(&tools.moto_server);
                cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
                cmd
            }
            Kind::DynamoDbLocal => {
                let mut lib_path = std::ffi::OsString::from("-Djava.library.path=");
                lib_path.push(&tools.dynamodb_lib);
                let mut cmd = Command::new(&tools.java);
                cmd.arg(lib_path)
                    .arg("-jar")
                    .arg(&tools.dynamodb_jar)
                    // -sharedDb: one database for all credentials and regions. Without
                    // it DynamoDB Local keeps a separate set of tables per access key +
                    // region, and a client with other credentials sees no tables.
                    // It listens on all interfaces (it has no bind-address option).
                    .args(["-inMemory", "-sharedDb", "-disableTelemetry"])
                    .args(["-port", &port.to_string()]);
                if let Some(dir) = tools.dynamodb_jar.parent() {
                    cmd.current_dir(dir);
                }
                cmd
            }
        }
    }
}

struct Emulator {
    kind: Kind,
    port: u16,
    child: Child,
    log: PathBuf,
    attempts: u32,
    ready: bool,
}

/// The running emulators; dropping this stops them.
pub struct Emulators {
    running: Vec<Emulator>,
    env_file: Option<PathBuf>,
}

impl Emulators {
    /// Starts moto and DynamoDB Local and waits until both answer HTTP. Their output
    /// goes to `<logs_dir>/<label>-<emulator>.log`; the label (the xtask command)
    /// keeps a `test` run from clobbering the logs of a running `emulators`.
    pub fn start(tools: &Tools, logs_dir: &Path, label: &str) -> Result<Emulators> {
        fs::create_dir_all(logs_dir)
            .map_err(|e| format!("cannot create {}: {e}", logs_dir.display()))?;
        let mut emulators = Emulators {
            running: Vec::new(),
            env_file: None,
        };
        let kinds = [Kind::Moto, Kind::DynamoDbLocal];
        let ports = free_ports(kinds.len())?;
        for (kind, port) in kinds.into_iter().zip(ports) {
            let log = logs_dir.join(format!("{label}-{}.log", kind.name()));
            let child = launch(kind, tools, port, &log, false)?;
            emulators.running.push(Emulator {
                kind,
                port,
                child,
                log,
                attempts: 1,
                ready: false,
            });
        }
        emulators.wait_ready(tools)?;
        Ok(emulators)
    }

    fn wait_ready(&mut self, tools: &Tools) -> Result<()> {
        let started = Instant::now();
        loop {
            // Checked first: a terminal Ctrl-C also kills the emulators themselves,
            // which must not look like a start-up failure worth a retry.
            if signals::interrupted() {
                return Err(Error::Interrupted);
            }
            for emu in self.running.iter_mut().filter(|emu| !emu.ready) {
                if let Some(status) = emu.child.try_wait().map_err(|e| format!("wait: {e}"))? {
                    if emu.attempts >= START_ATTEMPTS {
                        return Err(Error::Failed(format!(
                            "{} exited during start-up ({status}); log {}:\n{}",
                            emu.kind.name(),
                            emu.log.display(),
                            log_tail(&emu.log)
                        )));
                    }
                    emu.port = free_ports(1)?[0];
                    emu.attempts += 1;
                    eprintln!(
                        "    {} exited during start-up ({status}); retrying on port {}",
                        emu.kind.name(),
                        emu.port
                    );
                    emu.child = launch(emu.kind, tools, emu.port, &emu.log, true)?;
                } else if answers_http(emu.port) {
                    emu.ready = true;
                    eprintln!(
                        "    {} ready on http://127.0.0.1:{} after {:.1?} (pid {}, log {})",
                        emu.kind.name(),
                        emu.port,
                        started.elapsed(),
                        emu.child.id(),
                        emu.log.display()
                    );
                }
            }
            if self.running.iter().all(|emu| emu.ready) {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                let waiting: Vec<String> = self
                    .running
                    .iter()
                    .filter(|emu| !emu.ready)
                    .map(|emu| {
                        format!(
                            "{} on 127.0.0.1:{} (log {})",
                            emu.kind.name(),
                            emu.port,
                            emu.log.display()
                        )
                    })
                    .collect();
                return Err(Error::Failed(format!(
                    "timed out after {}s waiting for {} to answer HTTP; see the log files",
                    START_TIMEOUT.as_secs(),
                    waiting.join(" and ")
                )));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn port(&self, kind: Kind) -> u16 {
        self.running
            .iter()
            .find(|emu| emu.kind == kind)
            .map_or(0, |emu| emu.port)
    }

    /// Environment for the init script and the tests (endpoints, region, dummy
    /// credentials).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port(Kind::Moto)),
            ),
            (
                "AWS_ENDPOINT_URL_DYNAMODB",
                format!("http://127.0.0.1:{}", self.port(Kind::DynamoDbLocal)),
            ),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    /// Applies [`Emulators::env`] to `cmd` and removes variables that could point
    /// the SDKs at a real account's session or profile.
    pub fn apply_env(&self, cmd: &mut Command) {
        cmd.env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE");
        cmd.envs(self.env());
    }

    /// Writes the `export` lines to `path` (removed again when the guard drops).
    pub fn write_env_file(&mut self, path: &Path, exports: &str) -> Result<()> {
        fs::write(path, exports).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        self.env_file = Some(path.to_owned());
        Ok(())
    }

    /// Fails if an emulator has exited since it started.
    pub fn check_alive(&mut self) -> Result<()> {
        for emu in &mut self.running {
            if let Some(status) = emu.child.try_wait().map_err(|e| format!("wait: {e}"))? {
                return Err(Error::Failed(format!(
                    "{} exited unexpectedly ({status}); log {}:\n{}",
                    emu.kind.name(),
                    emu.log.display(),
                    log_tail(&emu.log)
                )));
            }
        }
        Ok(())
    }
}

impl Drop for Emulators {
    fn drop(&mut self) {
        if let Some(path) = self.env_file.take() {
            let _ = fs::remove_file(path);
        }
        if self.running.is_empty() {
            return;
        }
        step("stopping emulators");
        for emu in &mut self.running {
            // Already exited (e.g. Ctrl-C reached it first): kill fails, wait reaps.
            let _ = emu.child.kill();
            let _ = emu.child.wait();
        }
    }
}

fn launch(kind: Kind, tools: &Tools, port: u16, log: &Path, append: bool) -> Result<Child> {
    let (out, err) = process::log_outputs(log, append)?;
    let mut cmd = kind.command(tools, port);
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    process::spawn(&mut cmd)
}

/// `n` distinct free ports on 127.0.0.1: bind port 0, read the port, drop.
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| format!("cannot bind a free port on 127.0.0.1: {e}"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::Failed(format!("cannot read a bound port: {e}")))
}

/// True if something on `127.0.0.1:port` answers a minimal HTTP request (any status:
/// DynamoDB Local answers `GET /` with 400, moto with 200).
pub(crate) fn answers_http(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let mut head = [0u8; 5];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && &head == b"HTTP/"
}

/// The last lines of a log file, indented, for error messages.
pub(crate) fn log_tail(path: &Path) -> String {
    let mut bytes = Vec::new();
    if File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .is_err()
    {
        return "    (log unreadable)".to_owned();
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(20);
    lines[start..]
        .iter()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
