//! What happened in a run, in order, with simulated time: printed for a failing seed.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// Shared by everything that notes (ports are `Send + Sync`, hence the mutex).
#[derive(Clone, Default)]
pub struct Trace {
    lines: Arc<Mutex<Vec<(i64, String)>>>,
    enabled: bool,
}

impl Trace {
    /// A trace that keeps its lines (`enabled`), or drops them to save the time.
    pub fn new(enabled: bool) -> Self {
        Self {
            lines: Arc::default(),
            enabled,
        }
    }

    pub fn note(&self, at_ms: i64, line: impl Into<String>) {
        if self.enabled {
            self.lines().push((at_ms, line.into()));
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The lines, each prefixed with the time since `start_ms` (`+12.345s`).
    pub fn render(&self, start_ms: i64) -> String {
        let mut out = String::new();
        for (at, line) in self.lines().iter() {
            let _ = writeln!(out, "{:>+10.3}s  {line}", (at - start_ms) as f64 / 1000.0);
        }
        out
    }

    fn lines(&self) -> std::sync::MutexGuard<'_, Vec<(i64, String)>> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }
}
