//! Peak resident memory of a process, from Linux's `/proc/<pid>/status`.

use crate::{Error, Result};
use std::path::PathBuf;

/// `VmHWM` (the resident set's high-water mark) of process `pid`, in bytes.
pub fn peak_rss(pid: u32) -> Result<u64> {
    let path = PathBuf::from(format!("/proc/{pid}/status"));
    let status =
        std::fs::read_to_string(&path).map_err(Error::io(format!("read {}", path.display())))?;
    parse_vm_hwm(&status).ok_or(Error::NoPeakRss(path))
}

/// The `VmHWM:   13724 kB` line of a status file, in bytes.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    let value = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?;
    let mut parts = value.split_whitespace();
    let number: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => Some(number * 1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_kibibytes() {
        let status =
            "Name:\tbootstrap\nVmPeak:\t  120000 kB\nVmHWM:\t   13724 kB\nVmRSS:\t   13000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(13724 * 1024));
        assert_eq!(parse_vm_hwm("Name:\tx\nVmRSS:\t 1 kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t 12 MB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t lots kB\n"), None);
    }

    #[test]
    fn our_own_peak_is_readable() {
        assert!(peak_rss(std::process::id()).unwrap() > 0);
    }
}
