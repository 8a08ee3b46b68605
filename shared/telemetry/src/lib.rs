//! Structured JSON logs for every function, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}

pub mod emf;

/// A function's metrics: recorded through the `metrics` facade, written as CloudWatch
/// EMF lines on stdout at the end of each invocation.
#[derive(Clone, Copy)]
pub struct InvocationMetrics(Option<&'static emf::EmfRecorder>);

impl InvocationMetrics {
    /// Installs the process's recorder (namespace `paygate`), then `describe` gives the
    /// metrics their units.
    pub fn install(describe: fn()) -> Self {
        let recorder = emf::install("paygate");
        describe();
        Self(recorder)
    }

    /// Runs one invocation's `work`, then writes what it recorded.
    pub async fn around<T>(self, work: impl std::future::Future<Output = T>) -> T {
        let output = work.await;
        if let Some(recorder) = self.0 {
            recorder.flush_to_stdout();
        }
        output
    }
}
