//! The table's rows: one JSON object per line in `<rows dir>/<name>.jsonl`, written by
//! every benchmark (ours and other programs'), read back and printed as one table.
//!
//! `{"figure": "...", "measured": "...", "baseline": "...", "target": "...", "met": true|false|null}`
//! (`met` is `null` for a floor, or a figure that was not measured).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub figure: String,
    pub measured: String,
    pub baseline: String,
    pub target: String,
    pub met: Option<bool>,
}

impl Row {
    pub fn new(
        figure: impl Into<String>,
        measured: impl Into<String>,
        baseline: impl Into<String>,
        target: impl Into<String>,
        met: Option<bool>,
    ) -> Row {
        Row {
            figure: figure.into(),
            measured: measured.into(),
            baseline: baseline.into(),
            target: target.into(),
            met,
        }
    }
}

/// Writes `rows` to `<dir>/<name>.jsonl` (replacing it), creating `dir`.
pub fn write(dir: &Path, name: &str, rows: &[Row]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io(format!("create {}", dir.display())))?;
    let path = dir.join(format!("{name}.jsonl"));
    let mut text = String::new();
    for row in rows {
        // A struct of strings and an option always serializes.
        text.push_str(&serde_json::to_string(row).unwrap_or_default());
        text.push('\n');
    }
    std::fs::write(&path, text).map_err(Error::io(format!("write {}", path.display())))
}

/// Every row of every `*.jsonl` file in `dir`, files in name order, rows in file order.
/// A missing folder has no rows.
pub fn read_all(dir: &Path) -> Result<Vec<Row>> {
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("read {}", dir.display()))(e)),
    };
    files.sort();
    let mut rows = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .map_err(Error::io(format!("read {}", path.display())))?;
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let row = serde_json::from_str(line).map_err(|source| Error::BadRow {
                path: path.clone(),
                line: index + 1,
                source,
            })?;
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The rows as a Markdown table, columns padded to their widest cell.
pub fn render(rows: &[Row]) -> String {
    let header = ["figure", "measured", "baseline/floor", "target", "met?"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|row| {
            [
                row.figure.clone(),
                row.measured.clone(),
                row.baseline.clone(),
                row.target.clone(),
                verdict(row.met).to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let format_line = |line: &[String]| {
        let padded: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = format_line(&header.map(str::to_owned));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for line in &cells {
        out.push_str(&format_line(line));
    }
    out
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "no",
        None => "—",
    }
}

/// `3 of 14 targets met (2 rows without a verdict)`.
pub fn summary(rows: &[Row]) -> String {
    let judged = rows.iter().filter(|row| row.met.is_some()).count();
    let met = rows.iter().filter(|row| row.met == Some(true)).count();
    let open = rows.len() - judged;
    format!(
        "{met} of {judged} targets met ({open} rows without a verdict: floors, warnings, figures not run)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        vec![
            Row::new("init, hello", "2.6 ms", "floor", "—", None),
            Row::new(
                "init, health-probe",
                "7.9 ms (3.0×)",
                "7.9 ms",
                "≤ 2× hello",
                Some(false),
            ),
            Row::new("zip, hello", "0.75 MB", "0.75 MB", "≤ 3.5 MB", Some(true)),
        ]
    }

    #[test]
    fn the_table_pads_every_column_to_its_widest_cell() {
        let table = render(&rows());
        let expected = "\
| figure             | measured      | baseline/floor | target     | met? |
|--------------------|---------------|----------------|------------|------|
| init, hello        | 2.6 ms        | floor          | —          | —    |
| init, health-probe | 7.9 ms (3.0×) | 7.9 ms         | ≤ 2× hello | no   |
| zip, hello         | 0.75 MB       | 0.75 MB        | ≤ 3.5 MB   | yes  |
";
        assert_eq!(table, expected);
    }

    #[test]
    fn the_summary_counts_only_rows_with_a_verdict() {
        assert_eq!(
            summary(&rows()),
            "1 of 2 targets met (1 rows without a verdict: floors, warnings, figures not run)"
        );
    }

    #[test]
    fn rows_round_trip_through_files_in_name_order() {
        let dir = std::env::temp_dir().join(format!("footprint-rows-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let all = rows();
        write(&dir, "2-second", &all[1..]).unwrap();
        write(&dir, "1-first", &all[..1]).unwrap();
        std::fs::write(dir.join("notes.txt"), "not rows").unwrap();
        // Another program's file: `met` may be absent-free JSON with null.
        std::fs::write(
            dir.join("aws_requests.jsonl"),
            "{\"figure\":\"f\",\"measured\":\"m\",\"baseline\":\"b\",\"target\":\"t\",\"met\":null}\n\n",
        )
        .unwrap();
        let read = read_all(&dir).unwrap();
        assert_eq!(read[..3], all[..]);
        assert_eq!(read[3].figure, "f");
        assert_eq!(read[3].met, None);
        std::fs::write(dir.join("bad.jsonl"), "{\"figure\":1}\n").unwrap();
        assert!(matches!(read_all(&dir), Err(Error::BadRow { line: 1, .. })));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(read_all(&dir).unwrap().is_empty());
    }
}
