//! The deployment zips cargo-lambda made (`--output-format zip`): their size, which
//! Lambda's upload and cold start fetch, and the size of what they hold.

use crate::rows::Row;
use crate::{Error, Result};
use std::path::Path;

/// Target: each function's zip at most this many bytes (3.5 MB).
const TARGET_BYTES: u64 = 3_500_000;
/// Sizes measured before this bench existed, for the baseline column.
const BASELINES: &[(&str, &str)] = &[
    ("health-probe", "4.15 MB (9.7 MB unzipped)"),
    (crate::bootstraps::HELLO, "0.75 MB"),
];

/// A zip file's size and the total uncompressed size of its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipSize {
    pub zipped: u64,
    pub unzipped: u64,
}

pub fn measure(path: &Path) -> Result<ZipSize> {
    let bytes = std::fs::read(path).map_err(Error::io(format!("read {}", path.display())))?;
    let unzipped = uncompressed_total(&bytes).ok_or_else(|| Error::NotAZip(path.to_owned()))?;
    Ok(ZipSize {
        zipped: bytes.len() as u64,
        unzipped,
    })
}

/// Sums the uncompressed sizes in the central directory (no zip64: Lambda zips are far
/// below 4 GiB).
pub fn uncompressed_total(zip: &[u8]) -> Option<u64> {
    const END: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const ENTRY: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
    let u16_at = |at: usize| Some(u16::from_le_bytes(zip.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(zip.get(at..at + 4)?.try_into().ok()?));
    let end = (0..=zip.len().checked_sub(22)?)
        .rev()
        .find(|&at| zip[at..at + 4] == END)?;
    let entries = u16_at(end + 10)?;
    let mut at = u32_at(end + 16)? as usize;
    let mut total = 0u64;
    for _ in 0..entries {
        if zip.get(at..at + 4)? != ENTRY {
            return None;
        }
        total += u64::from(u32_at(at + 24)?);
        let variable = usize::from(u16_at(at + 28)?)
            + usize::from(u16_at(at + 30)?)
            + usize::from(u16_at(at + 32)?);
        at += 46 + variable;
    }
    Some(total)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

/// The row of `name`'s zip, built for `arch` (`arm64`, or `x86_64` where the arm64
/// standard library could not be had: then the row says so).
pub fn row(name: &str, arch: &str, size: ZipSize) -> Row {
    let mut figure = format!("{arch} bootstrap zip, {name}");
    if arch != "arm64" {
        figure.push_str(" (arm64 target unavailable: x86_64 instead)");
    }
    let measured = format!(
        "{} ({} unzipped)",
        megabytes(size.zipped),
        megabytes(size.unzipped)
    );
    let baseline = BASELINES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("—", |(_, b)| b);
    if name == crate::bootstraps::HELLO {
        return Row::new(format!("{figure} (floor)"), measured, baseline, "—", None);
    }
    Row::new(
        figure,
        measured,
        baseline,
        format!("≤ {}", megabytes(TARGET_BYTES)),
        Some(size.zipped <= TARGET_BYTES),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored (uncompressed) zip of `files`, as `zip -0` writes it.
    fn stored_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = Vec::new();
        let mut central = Vec::new();
        for (name, data) in files {
            let offset = zip.len() as u32;
            zip.extend_from_slice(&[0x50, 0x4b, 0x03, 0x04]);
            zip.extend_from_slice(&[0; 14]);
            zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
            zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
            zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
            zip.extend_from_slice(&0u16.to_le_bytes());
            zip.extend_from_slice(name.as_bytes());
            zip.extend_from_slice(data);
            central.extend_from_slice(&[0x50, 0x4b, 0x01, 0x02]);
            central.extend_from_slice(&[0; 16]);
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let central_at = zip.len() as u32;
        zip.extend_from_slice(&central);
        zip.extend_from_slice(&[0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]);
        zip.extend_from_slice(&(files.len() as u16).to_le_bytes());
        zip.extend_from_slice(&(files.len() as u16).to_le_bytes());
        zip.extend_from_slice(&(central.len() as u32).to_le_bytes());
        zip.extend_from_slice(&central_at.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip
    }

    #[test]
    fn the_central_directory_gives_the_unzipped_size() {
        let zip = stored_zip(&[("bootstrap", &[7; 1000]), ("extra", b"abc")]);
        assert_eq!(uncompressed_total(&zip), Some(1003));
        assert_eq!(
            uncompressed_total(b"not a zip at all, but long enough"),
            None
        );
        assert_eq!(uncompressed_total(&zip[..zip.len() - 30]), None);
    }

    #[test]
    fn a_zip_meets_the_target_at_three_and_a_half_megabytes() {
        let size = |zipped| ZipSize {
            zipped,
            unzipped: 9_700_000,
        };
        let over = row("health-probe", "arm64", size(4_150_000));
        assert_eq!(over.measured, "4.15 MB (9.70 MB unzipped)");
        assert_eq!(over.met, Some(false));
        assert_eq!(
            row("deposit-intake", "arm64", size(3_500_000)).met,
            Some(true)
        );
        assert!(
            row("health-probe", "x86_64", size(1))
                .figure
                .contains("x86_64 instead")
        );
        assert_eq!(row(crate::bootstraps::HELLO, "arm64", size(1)).met, None);
    }
}
