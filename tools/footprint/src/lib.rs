//! paygate's footprint benchmarks, driven by `cargo xtask bench` (see README,
//! Benchmarks). xtask starts the emulators and builds what is measured; the `footprint`
//! binary measures, one subcommand per job, and writes each figure as a row (one JSON
//! object per line) into `<target>/footprint/rows/<name>.jsonl`; `footprint table`
//! prints every row file there as one table.
//!
//! * [`runtime_api`]: a local stand-in for the Lambda Runtime API;
//! * [`bootstraps`]: spawns each bootstrap against it, times its init and serves it
//!   sample events;
//! * [`rss`]: peak resident memory from `/proc/<pid>/status`;
//! * [`zips`]: the sizes of the deployment zips cargo-lambda made;
//! * [`load`]: the HTTP load generator;
//! * [`throughput`]: the devstack under that load, and its `/metrics` counters;
//! * [`cargo_runs`]: the timed cold build, and other programs' benches;
//! * [`rows`]: the row format and the table;
//! * [`stats`]: medians and percentiles.

pub mod bootstraps;
pub mod cargo_runs;
pub mod load;
pub mod rows;
pub mod rss;
pub mod runtime_api;
pub mod stats;
pub mod throughput;
pub mod zips;

use std::path::PathBuf;

/// Why a measurement could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: line {line}: not a row: {source}")]
    BadRow {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}: no VmHWM line")]
    NoPeakRss(PathBuf),
    #[error("{what} exited before {until} ({status})")]
    Exited {
        what: String,
        until: &'static str,
        status: std::process::ExitStatus,
    },
    #[error("{what}: no {until} within {seconds} s")]
    TimedOut {
        what: String,
        until: &'static str,
        seconds: u64,
    },
    #[error("{0} is not a zip file (no end of central directory)")]
    NotAZip(PathBuf),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
