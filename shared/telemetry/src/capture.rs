//! Log lines captured in the deployed format, for tests: install [`Captured`] on the
//! test's thread (a `current_thread` runtime, the default of `#[tokio::test]`) and read
//! what was logged.

use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing::subscriber::DefaultGuard;

/// What the functions log on this thread while it lives.
pub struct Captured {
    bytes: Arc<Mutex<Vec<u8>>>,
    _guard: DefaultGuard,
}

/// One writer per line, all into the same buffer.
#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Captures `info` and above on this thread, with the span list as in Lambda when
    /// `span_list`.
    pub fn install(span_list: bool) -> Self {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(bytes.clone());
        let filter = "info".parse().expect("a level parses as a filter");
        let subscriber = crate::subscriber(move || sink.clone(), filter, span_list);
        Self {
            bytes,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Every line so far, parsed.
    pub fn lines(&self) -> Vec<Value> {
        let bytes = self.bytes.lock().unwrap().clone();
        String::from_utf8(bytes)
            .expect("log lines are UTF-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a log line is JSON"))
            .collect()
    }

    /// The lines whose message is `message`.
    pub fn with_message(&self, message: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|line| line["fields"]["message"] == message)
            .collect()
    }
}
