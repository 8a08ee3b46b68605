//! The browser the devstack's status-page test drives: `PAYGATE_CHROMIUM`, else
//! `chromium` / `chromium-browser` on `PATH`, else Debian's `chromium` installed with
//! apt-get (the project's machines are Debian, and the tests run as root).

use std::path::PathBuf;
use std::process::Command;

use crate::process::{self, Error, Result, step};

/// The Debian package, without the recommended extras a headless run does not need.
const PACKAGE: &str = "chromium";

/// A Chromium to pass on as `PAYGATE_CHROMIUM`, installed first if there is none.
pub fn ensure_chromium() -> Result<PathBuf> {
    let found = match std::env::var_os("PAYGATE_CHROMIUM").filter(|p| !p.is_empty()) {
        Some(chosen) if PathBuf::from(&chosen).is_file() => Some(PathBuf::from(chosen)),
        Some(chosen) => {
            return Err(Error::Failed(format!(
                "PAYGATE_CHROMIUM is {}, which is not a file",
                chosen.to_string_lossy()
            )));
        }
        None => on_path(),
    };
    let browser = match found {
        Some(browser) => browser,
        None => install()?,
    };
    step(&format!(
        "browser for the status-page test: {}",
        browser.display()
    ));
    Ok(browser)
}

fn install() -> Result<PathBuf> {
    step(&format!(
        "no Chromium found: installing Debian's {PACKAGE} (apt-get; first run: about 1 min)"
    ));
    apt_get(&["update"])?;
    apt_get(&["install", "-y", "--no-install-recommends", PACKAGE])?;
    on_path().ok_or_else(|| {
        Error::Failed(format!(
            "apt-get installed {PACKAGE} but no `chromium` is on PATH; set PAYGATE_CHROMIUM"
        ))
    })
}

fn on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn apt_get(args: &[&str]) -> Result<()> {
    let mut cmd = Command::new("apt-get");
    cmd.args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(std::io::stderr());
    process::run_ok(&mut cmd).map_err(|e| match e {
        Error::Failed(msg) => Error::Failed(format!(
            "{msg}; the status-page test needs Chromium: install it (apt-get install \
             chromium) or set PAYGATE_CHROMIUM"
        )),
        other => other,
    })
}
