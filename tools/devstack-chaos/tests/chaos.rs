//! The chaos run itself, small: every fault knob on, duplicated messages, and the books
//! must still balance.

use std::process::Command;

#[test]
fn forty_deposits_under_every_fault_knob_end_final_with_no_double_charge() {
    let run = Command::new(env!("CARGO_BIN_EXE_devstack-chaos"))
        .args([
            "--deposits",
            "40",
            "--concurrency",
            "8",
            "--patience-secs",
            "300",
        ])
        .output()
        .expect("the chaos run starts");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(summary.starts_with("40 deposits, "), "{summary}");
    for clean in [
        "0 double charges",
        "0 not final",
        "0 disagreements",
        "0 unexpected answers",
    ] {
        assert!(summary.contains(clean), "{summary}");
    }
}
