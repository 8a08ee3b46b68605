//! Rows that come from running cargo: the timed cold build of the README's first
//! command, and other programs' benchmarks that write rows of their own.

use crate::rows::{self, Row};
use crate::{Error, Result};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The bench that writes `aws_requests.jsonl` (tests/integration).
pub const AWS_REQUESTS_BENCH: &str = "aws_requests";
/// Target for the cold build.
const COLD_BUILD_TARGET: Duration = Duration::from_secs(180);
const COLD_BUILD_FIGURE: &str = "cold `cargo build --release -p devstack` (fresh target dir)";

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `6 min 08 s`, `42 s`.
pub fn minutes(elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().round() as u64;
    match secs / 60 {
        0 => format!("{secs} s"),
        min => format!("{min} min {:02} s", secs % 60),
    }
}

fn cold_build_row(measured: String, elapsed: Option<Duration>) -> Row {
    Row::new(
        COLD_BUILD_FIGURE,
        measured,
        "6 min 08 s",
        format!("≤ {}", minutes(COLD_BUILD_TARGET)),
        elapsed.map(|e| e <= COLD_BUILD_TARGET),
    )
}

/// The row that says the cold build was left out.
pub fn cold_build_skipped() -> Row {
    cold_build_row("not run (--cold-build)".into(), None)
}

/// Builds the devstack in release into `target_dir`, deleted before and after, in the
/// workspace at `root`; the row holds the wall-clock time.
pub fn cold_build(root: &Path, target_dir: &Path) -> Result<Row> {
    let remove = || match std::fs::remove_dir_all(target_dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(format!("remove {}", target_dir.display()))(e))
        }
        _ => Ok(()),
    };
    remove()?;
    let started = Instant::now();
    let status = cargo()
        .args(["build", "--release", "-p", "devstack"])
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .map_err(Error::io("run cargo build"));
    let elapsed = started.elapsed();
    remove()?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    match status? {
        status if status.success() => Ok(cold_build_row(
            format!(
                "{} ({cores} cores; dependencies from the local registry cache)",
                minutes(elapsed)
            ),
            Some(elapsed),
        )),
        status => Ok(cold_build_row(
            format!("build failed ({status})"),
            Some(Duration::MAX),
        )),
    }
}

/// Whether the workspace at `root` has the AWS-request bench yet.
pub fn has_aws_requests_bench(root: &Path) -> bool {
    let crate_dir = root.join("tests/integration");
    let declared = std::fs::read_to_string(crate_dir.join("Cargo.toml"))
        .is_ok_and(|manifest| manifest.contains(&format!("name = \"{AWS_REQUESTS_BENCH}\"")));
    declared
        || crate_dir
            .join(format!("benches/{AWS_REQUESTS_BENCH}.rs"))
            .is_file()
}

/// Runs `cargo bench -p paygate-integration --bench aws_requests` (it writes its own
/// rows into `rows_dir`, named by `PAYGATE_FOOTPRINT_ROWS`); when the bench is missing
/// or fails, writes a warning row instead.
pub fn aws_requests(root: &Path, rows_dir: &Path) -> Result<()> {
    let warn = |why: String| {
        rows::write(
            rows_dir,
            "aws_requests-warning",
            &[Row::new(
                "AWS requests per deposit (`cargo bench --bench aws_requests`)",
                why,
                "—",
                "—",
                None,
            )],
        )
    };
    if !has_aws_requests_bench(root) {
        eprintln!(
            "    warning: no bench `{AWS_REQUESTS_BENCH}` in tests/integration yet; its rows are left out"
        );
        return warn("warning: not run, the bench does not exist yet".into());
    }
    let status = cargo()
        .args([
            "bench",
            "-p",
            "paygate-integration",
            "--bench",
            AWS_REQUESTS_BENCH,
        ])
        .current_dir(root)
        .env("PAYGATE_FOOTPRINT_ROWS", rows_dir)
        .env("PAYGATE_TEST_EMULATORS", "1")
        .status()
        .map_err(Error::io("run cargo bench"))?;
    if status.success() {
        Ok(())
    } else {
        eprintln!("    warning: the {AWS_REQUESTS_BENCH} bench failed ({status})");
        warn(format!("warning: the bench failed ({status})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_times_read_in_minutes_and_seconds() {
        assert_eq!(minutes(Duration::from_secs(368)), "6 min 08 s");
        assert_eq!(minutes(Duration::from_secs(180)), "3 min 00 s");
        assert_eq!(minutes(Duration::from_millis(41_600)), "42 s");
    }

    #[test]
    fn a_cold_build_meets_the_target_at_three_minutes() {
        let row = |secs| cold_build_row(String::new(), Some(Duration::from_secs(secs)));
        assert_eq!(row(180).met, Some(true));
        assert_eq!(row(181).met, Some(false));
        assert_eq!(cold_build_skipped().met, None);
        assert_eq!(cold_build_skipped().measured, "not run (--cold-build)");
    }
}
