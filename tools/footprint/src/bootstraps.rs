//! Each bootstrap (the four functions and the hello-world floor) started as Lambda
//! starts it: a fresh process with the Runtime API variables, against the stand-in.
//!
//! * init: from spawning the process to its first `GET .../invocation/next`; runs are
//!   interleaved (one of each bootstrap per round) so drift on the machine hits all alike;
//! * peak RSS: `VmHWM` after init and a few invocations of its sample events.

use crate::rows::Row;
use crate::runtime_api::{Outcome, RuntimeApi};
use crate::{Error, Result, rss, stats};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// What a bootstrap may take to reach its first `next`, or to answer an invocation.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The template's `MemorySize`.
const MEMORY_SIZE_MB: &str = "256";
/// The hello-world's name on the command line.
pub const HELLO: &str = "hello-lambda";
/// Init medians measured before this bench existed (ms), for the baseline column.
const INIT_BASELINE_MS: &[(&str, f64)] = &[
    ("deposit-intake", 11.5),
    ("gateway-processor", 11.5),
    ("webhook-callback", 12.2),
    ("health-probe", 7.9),
    (HELLO, 2.6),
];
/// Target: a function's init at most this many times the hello-world's.
const INIT_TARGET_RATIO: f64 = 2.0;
/// Target peak RSS, MiB.
const RSS_TARGET_MIB: f64 = 10.0;

/// One bootstrap to measure.
pub struct Bootstrap {
    pub name: String,
    pub path: PathBuf,
    /// Its sample events (`events/<name>/*.json`; `{}` for the hello-world).
    pub events: Vec<String>,
}

impl Bootstrap {
    /// `name`'s bootstrap at `path`, with the events under `events_dir/<name>`.
    pub fn new(name: &str, path: PathBuf, events_dir: &Path) -> Result<Bootstrap> {
        let dir = events_dir.join(name);
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        let mut events = files
            .iter()
            .map(|file| {
                std::fs::read_to_string(file).map_err(Error::io(format!("read {}", file.display())))
            })
            .collect::<Result<Vec<_>>>()?;
        if events.is_empty() {
            events.push("{}".to_owned());
        }
        Ok(Bootstrap {
            name: name.to_owned(),
            path,
            events,
        })
    }
}

/// A started bootstrap; dropping it kills the process.
struct Running {
    api: RuntimeApi,
    child: Child,
    what: String,
}

impl Running {
    /// Spawns `bootstrap` against a fresh stand-in; returns it with its init time.
    async fn start(bootstrap: &Bootstrap, log: &Path) -> Result<(Running, Duration)> {
        let api = RuntimeApi::start(&bootstrap.name).await?;
        let mut cmd = lambda_command(bootstrap, &api, log)?;
        let spawned = Instant::now();
        let child = cmd
            .spawn()
            .map_err(Error::io(format!("start {}", bootstrap.path.display())))?;
        let mut running = Running {
            api,
            child,
            what: format!("{} (log {})", bootstrap.name, log.display()),
        };
        let ready = tokio::select! {
            at = running.api.first_next() => at,
            status = running.child.wait() => {
                let status = status.map_err(Error::io("wait for a bootstrap"))?;
                return Err(Error::Exited { what: running.what, until: "its first `next`", status });
            }
            () = tokio::time::sleep(TIMEOUT) => {
                return Err(Error::TimedOut { what: running.what, until: "first `next`", seconds: TIMEOUT.as_secs() });
            }
        };
        Ok((running, ready.saturating_duration_since(spawned)))
    }

    /// Invokes `event` and waits for its outcome.
    async fn invoke(&mut self, event: &str) -> Result<Outcome> {
        self.api.invoke(event.to_owned());
        tokio::select! {
            outcome = self.api.outcome() => Ok(outcome.unwrap_or(Outcome::InitError { body: "stand-in stopped".into() })),
            status = self.child.wait() => {
                let status = status.map_err(Error::io("wait for a bootstrap"))?;
                Err(Error::Exited { what: self.what.clone(), until: "answering", status })
            }
            () = tokio::time::sleep(TIMEOUT) => Err(Error::TimedOut { what: self.what.clone(), until: "answer", seconds: TIMEOUT.as_secs() }),
        }
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The command Lambda would run: a clean environment with the Runtime API's variables,
/// and our `AWS_*` and `PAYGATE_*` variables (endpoints, credentials, resource names).
fn lambda_command(bootstrap: &Bootstrap, api: &RuntimeApi, log: &Path) -> Result<Command> {
    let name = &bootstrap.name;
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(Error::io(format!("open {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(Error::io(format!("open {}", log.display())))?;
    let mut cmd = Command::new(&bootstrap.path);
    cmd.env_clear()
        .envs(
            std::env::vars()
                .filter(|(key, _)| key.starts_with("AWS_") || key.starts_with("PAYGATE_")),
        )
        .env("AWS_LAMBDA_RUNTIME_API", api.addr().to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_SIZE_MB)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]00000000000000000000000000000000",
        )
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
        .env("LAMBDA_TASK_ROOT", "/var/task")
        .env("LAMBDA_RUNTIME_DIR", "/var/runtime")
        .env("_HANDLER", "bootstrap")
        .env("TZ", ":UTC")
        .env("LANG", "en_US.UTF-8")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true);
    Ok(cmd)
}

fn log_file(logs: &Path, name: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(logs).map_err(Error::io(format!("create {}", logs.display())))?;
    let path = logs.join(format!("{name}.log"));
    File::create(&path).map_err(Error::io(format!("create {}", path.display())))?;
    Ok(path)
}

/// `runs` interleaved init timings of every bootstrap; one progress line per round.
pub async fn init_times(
    bootstraps: &[Bootstrap],
    runs: usize,
    logs: &Path,
) -> Result<Vec<Vec<Duration>>> {
    let logs: Vec<PathBuf> = bootstraps
        .iter()
        .map(|b| log_file(logs, &b.name))
        .collect::<Result<_>>()?;
    let mut times = vec![Vec::with_capacity(runs); bootstraps.len()];
    for run in 1..=runs {
        let mut line = format!("    init round {run}/{runs}:");
        for ((bootstrap, log), samples) in bootstraps.iter().zip(&logs).zip(&mut times) {
            let (running, init) = Running::start(bootstrap, log).await?;
            running.stop().await;
            samples.push(init);
            line.push_str(&format!(
                " {} {:.1} ms",
                bootstrap.name,
                init.as_secs_f64() * 1e3
            ));
        }
        eprintln!("{line}");
    }
    Ok(times)
}

/// What one bootstrap's peak-memory run saw.
pub struct Served {
    pub peak_rss: u64,
    pub responses: usize,
    pub errors: usize,
}

/// Starts `bootstrap`, serves it `invocations` of its events in turn, reads its peak RSS.
pub async fn serve(bootstrap: &Bootstrap, invocations: usize, logs: &Path) -> Result<Served> {
    let log = log_file(logs, &format!("{}-rss", bootstrap.name))?;
    let (mut running, _) = Running::start(bootstrap, &log).await?;
    let mut served = Served {
        peak_rss: 0,
        responses: 0,
        errors: 0,
    };
    for event in bootstrap.events.iter().cycle().take(invocations) {
        match running.invoke(event).await? {
            Outcome::Response { .. } => served.responses += 1,
            Outcome::Error { .. } | Outcome::InitError { .. } => served.errors += 1,
        }
    }
    let pid = running.child.id().unwrap_or_default();
    served.peak_rss = rss::peak_rss(pid)?;
    running.stop().await;
    Ok(served)
}

/// The init rows: each function's median against the hello-world's.
pub fn init_rows(bootstraps: &[Bootstrap], times: &[Vec<Duration>]) -> Vec<Row> {
    let medians: Vec<f64> = times
        .iter()
        .map(|t| stats::median_ms(t).unwrap_or(f64::NAN))
        .collect();
    let hello = bootstraps
        .iter()
        .position(|b| b.name == HELLO)
        .map_or(f64::NAN, |i| medians[i]);
    let runs = times.first().map_or(0, Vec::len);
    bootstraps
        .iter()
        .zip(&medians)
        .map(|(bootstrap, &median)| {
            let figure = format!("init to first `next`, {}", bootstrap.name);
            let baseline = INIT_BASELINE_MS
                .iter()
                .find(|(name, _)| *name == bootstrap.name)
                .map(|(_, ms)| *ms);
            if bootstrap.name == HELLO {
                return Row::new(
                    format!("{figure} (floor)"),
                    format!("{median:.1} ms (median of {runs})"),
                    baseline.map_or("—".into(), |ms| format!("{ms:.1} ms")),
                    "—",
                    None,
                );
            }
            let ratio = median / hello;
            Row::new(
                figure,
                format!("{median:.1} ms = {ratio:.1}× hello (median of {runs})"),
                baseline.map_or("—".into(), |ms| {
                    format!("{ms:.1} ms = {:.1}× hello", ms / 2.6)
                }),
                format!("≤ {INIT_TARGET_RATIO:.0}× hello"),
                Some(ratio <= INIT_TARGET_RATIO),
            )
        })
        .collect()
}

/// The peak-memory row of one bootstrap.
pub fn rss_row(bootstrap: &Bootstrap, invocations: usize, served: &Served) -> Row {
    let mib = served.peak_rss as f64 / (1024.0 * 1024.0);
    let measured = format!(
        "{mib:.1} MiB ({invocations} invocations: {} answered, {} errors)",
        served.responses, served.errors
    );
    let figure = format!("peak RSS after init + invocations, {}", bootstrap.name);
    if bootstrap.name == HELLO {
        return Row::new(format!("{figure} (floor)"), measured, "3.7 MiB", "—", None);
    }
    Row::new(
        figure,
        measured,
        "13.4–14.8 MiB",
        format!("≤ {RSS_TARGET_MIB:.0} MiB"),
        Some(mib <= RSS_TARGET_MIB),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bootstrap(name: &str) -> Bootstrap {
        Bootstrap {
            name: name.into(),
            path: PathBuf::new(),
            events: vec![],
        }
    }

    #[test]
    fn init_rows_compare_each_median_with_the_hello_worlds() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        let rows = init_rows(
            &[
                bootstrap("health-probe"),
                bootstrap("deposit-intake"),
                bootstrap(HELLO),
            ],
            &[ms(&[5, 6, 7]), ms(&[12, 11, 13]), ms(&[3, 2, 4])],
        );
        assert_eq!(rows[0].measured, "6.0 ms = 2.0× hello (median of 3)");
        assert_eq!(rows[0].met, Some(true));
        assert_eq!(rows[0].baseline, "7.9 ms = 3.0× hello");
        assert_eq!(rows[1].measured, "12.0 ms = 4.0× hello (median of 3)");
        assert_eq!(rows[1].met, Some(false));
        assert_eq!(rows[2].measured, "3.0 ms (median of 3)");
        assert_eq!(rows[2].met, None);
    }

    #[test]
    fn the_rss_target_is_ten_mebibytes() {
        let served = |mib: u64| Served {
            peak_rss: mib * 1024 * 1024,
            responses: 5,
            errors: 0,
        };
        assert_eq!(
            rss_row(&bootstrap("health-probe"), 5, &served(10)).met,
            Some(true)
        );
        let over = rss_row(&bootstrap("health-probe"), 5, &served(11));
        assert_eq!(over.met, Some(false));
        assert_eq!(
            over.measured,
            "11.0 MiB (5 invocations: 5 answered, 0 errors)"
        );
        assert_eq!(rss_row(&bootstrap(HELLO), 5, &served(4)).met, None);
    }

    #[test]
    fn events_come_from_the_functions_folder_or_are_empty() {
        let dir = std::env::temp_dir().join(format!("footprint-events-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("probe")).unwrap();
        std::fs::write(dir.join("probe/b.json"), "{\"b\":1}").unwrap();
        std::fs::write(dir.join("probe/a.json"), "{\"a\":1}").unwrap();
        std::fs::write(dir.join("probe/README.md"), "no").unwrap();
        let probe = Bootstrap::new("probe", PathBuf::new(), &dir).unwrap();
        assert_eq!(probe.events, ["{\"a\":1}", "{\"b\":1}"]);
        assert_eq!(
            Bootstrap::new(HELLO, PathBuf::new(), &dir).unwrap().events,
            ["{}"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
