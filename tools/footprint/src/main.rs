//! `footprint <job> [--option value]... [NAME=PATH]...`: one measurement job, its rows
//! written to `<rows>/<job>.jsonl`; `footprint table` prints them all. `cargo xtask
//! bench` runs the jobs in order (see README, Benchmarks); each is usable by hand.

use footprint::bootstraps::{self, Bootstrap};
use footprint::rows::{self, Row};
use footprint::{Error, Result, cargo_runs, throughput, zips};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: footprint <job> [options] [NAME=PATH]...
  lambda --rows DIR --logs DIR --events DIR [--runs 20] [--invocations 5] NAME=BOOTSTRAP...
      init time to the first `next` on a Runtime API stand-in (medians, interleaved runs),
      then peak RSS after a few invocations of events/<NAME>/*.json; `hello-lambda` is the floor
  zips --rows DIR --arch arm64|x86_64 NAME=ZIP...
      zipped and unzipped sizes of cargo-lambda's bootstrap.zip files
  throughput --rows DIR --logs DIR --devstack BIN [--connections 64] [--seconds 10] [--warmup 2]
      deposits accepted per second (p99) and full lifecycles per second of a devstack
  cold-build --rows DIR --root DIR --target-dir DIR [--skip]
      `cargo build --release -p devstack` into a fresh target dir, timed (deleted after)
  aws-requests --rows DIR --root DIR
      `cargo bench -p paygate-integration --bench aws_requests` (it writes its own rows)
  table --rows DIR
      every DIR/*.jsonl as one table, and how many targets were met";

/// `--key value` options and `NAME=PATH` operands.
struct Args {
    options: HashMap<String, String>,
    flags: Vec<String>,
    operands: Vec<(String, PathBuf)>,
}

impl Args {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Args> {
        let mut parsed = Args {
            options: HashMap::new(),
            flags: Vec::new(),
            operands: Vec::new(),
        };
        let mut args = args.into_iter().peekable();
        while let Some(arg) = args.next() {
            if let Some(key) = arg.strip_prefix("--") {
                match args.next_if(|next| !next.starts_with("--") && !next.contains('=')) {
                    Some(value) => parsed.options.insert(key.to_owned(), value),
                    None => {
                        parsed.flags.push(key.to_owned());
                        None
                    }
                };
            } else if let Some((name, path)) = arg.split_once('=') {
                parsed.operands.push((name.to_owned(), PathBuf::from(path)));
            } else {
                return Err(Error::Usage(format!("unexpected argument {arg:?}")));
            }
        }
        Ok(parsed)
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        self.options
            .get(key)
            .map(PathBuf::from)
            .ok_or_else(|| Error::Usage(format!("--{key} is required")))
    }

    fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T> {
        match self.options.get(key) {
            None => Ok(default),
            Some(value) => value
                .parse()
                .map_err(|_| Error::Usage(format!("--{key} wants a number, not {value:?}"))),
        }
    }

    fn flag(&self, key: &str) -> bool {
        self.flags.iter().any(|flag| flag == key)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let job = argv.next().unwrap_or_default();
    let result = match Args::parse(argv) {
        Ok(args) => run(&job, &args).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Usage(message)) => {
            eprintln!("footprint: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("footprint {job}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(job: &str, args: &Args) -> Result<()> {
    let rows_dir = || args.path("rows");
    match job {
        "lambda" => lambda(args, &rows_dir()?).await,
        "zips" => {
            let arch = args.options.get("arch").map_or("arm64", String::as_str);
            let rows = args
                .operands
                .iter()
                .map(|(name, zip)| Ok(zips::row(name, arch, zips::measure(zip)?)))
                .collect::<Result<Vec<Row>>>()?;
            print_rows(&rows);
            rows::write(&rows_dir()?, "3-zips", &rows)
        }
        "throughput" => {
            let logs = args.path("logs")?;
            std::fs::create_dir_all(&logs)
                .map_err(Error::io(format!("create {}", logs.display())))?;
            let devstack =
                throughput::Devstack::start(&args.path("devstack")?, &logs.join("devstack.log"))
                    .await?;
            let connections = args.number("connections", 64)?;
            let window = Duration::from_secs(args.number("seconds", 10)?);
            let warmup = Duration::from_secs(args.number("warmup", 2)?);
            eprintln!(
                "    loading the devstack on {}: {connections} connections, {} s warm-up + {} s measured",
                devstack.addr,
                warmup.as_secs(),
                window.as_secs()
            );
            let measured = throughput::measure(&devstack, connections, warmup, window).await;
            devstack.stop().await;
            let measured = measured?;
            if let Some(refusal) = &measured.deposits.first_refusal {
                eprintln!("    first refusal: {refusal}");
            }
            let rows = throughput::rows(&measured);
            print_rows(&rows);
            rows::write(&rows_dir()?, "4-throughput", &rows)
        }
        "cold-build" => {
            let row = if args.flag("skip") {
                cargo_runs::cold_build_skipped()
            } else {
                cargo_runs::cold_build(&args.path("root")?, &args.path("target-dir")?)?
            };
            print_rows(std::slice::from_ref(&row));
            rows::write(&rows_dir()?, "5-cold-build", &[row])
        }
        "aws-requests" => cargo_runs::aws_requests(&args.path("root")?, &rows_dir()?),
        "table" => {
            let rows = rows::read_all(&rows_dir()?)?;
            println!("{}", rows::render(&rows));
            println!("{}", rows::summary(&rows));
            Ok(())
        }
        _ => Err(Error::Usage(format!("unknown job {job:?}"))),
    }
}

async fn lambda(args: &Args, rows_dir: &Path) -> Result<()> {
    let events = args.path("events")?;
    let logs = args.path("logs")?;
    let runs = args.number("runs", 20)?;
    let invocations = args.number("invocations", 5)?;
    let bootstraps = args
        .operands
        .iter()
        .map(|(name, path)| Bootstrap::new(name, path.clone(), &events))
        .collect::<Result<Vec<_>>>()?;
    if bootstraps.is_empty() {
        return Err(Error::Usage("name at least one NAME=BOOTSTRAP".into()));
    }
    eprintln!(
        "    init: {runs} interleaved rounds of {} bootstraps",
        bootstraps.len()
    );
    let times = bootstraps::init_times(&bootstraps, runs, &logs).await?;
    let init_rows = bootstraps::init_rows(&bootstraps, &times);
    print_rows(&init_rows);
    rows::write(rows_dir, "1-init", &init_rows)?;

    let mut rss_rows = Vec::new();
    for bootstrap in &bootstraps {
        let served = bootstraps::serve(bootstrap, invocations, &logs).await?;
        let row = bootstraps::rss_row(bootstrap, invocations, &served);
        eprintln!("    peak RSS {}: {}", bootstrap.name, row.measured);
        rss_rows.push(row);
    }
    rows::write(rows_dir, "2-rss", &rss_rows)
}

/// Each row on one progress line, as it is measured.
fn print_rows(rows: &[Row]) {
    for row in rows {
        eprintln!("    {}: {}", row.figure, row.measured);
    }
}
