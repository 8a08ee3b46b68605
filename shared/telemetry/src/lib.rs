//! Structured JSON logs for every function, filtered by `RUST_LOG` (default `info`).
//!
//! Each line carries its current span (the request or message: correlation id, deposit
//! id) and, in Lambda, the list of spans it runs in, so the runtime's invocation span
//! puts the invocation's `requestId` and X-Ray `xrayTraceId` on every line beside them.
//! Elsewhere (the devstack) there is no invocation span and the list would only repeat
//! the current span: a third of each line's bytes and of its formatting.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init() {
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let _ = subscriber(std::io::stdout, filter_from_env("info"), in_lambda).try_init();
}

/// `RUST_LOG` as `target=level` directives (`info`, `warn,paygate_domain=debug`), or
/// `default` when it is unset or unreadable. `Targets` rather than `EnvFilter`: the
/// functions filter by target only, and `EnvFilter`'s regex engine is a tenth of each
/// deployment zip.
fn filter_from_env(default: &str) -> Targets {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| default.parse().expect("the default filter parses"))
}

/// The log format, writing what `filter` lets through to `writer`, with the list of
/// enclosing spans when `span_list` (public so tests read the lines as deployed).
pub fn subscriber<W>(
    writer: W,
    filter: Targets,
    span_list: bool,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(span_list)
        .with_target(false)
        .with_writer(writer)
        .finish()
        .with(filter)
}

pub mod capture;
pub mod emf;

/// The CloudWatch namespace of a stage's metrics, `paygate/<stage>` (the template's
/// dashboard and alarms read that one only, so stages sharing an account stay apart);
/// `paygate` when no stage is set.
pub fn namespace(stage: Option<&str>) -> String {
    match stage.map(str::trim).filter(|s| !s.is_empty()) {
        Some(stage) => format!("paygate/{stage}"),
        None => "paygate".to_owned(),
    }
}

/// A function's metrics: recorded through the `metrics` facade, written as CloudWatch
/// EMF lines on stdout at the end of each invocation.
#[derive(Clone, Copy)]
pub struct InvocationMetrics(Option<&'static emf::EmfRecorder>);

impl InvocationMetrics {
    /// Installs the process's recorder (namespace [`namespace`] of `PAYGATE_STAGE`), then
    /// `describe` gives the metrics their units.
    pub fn install(describe: fn()) -> Self {
        let stage = std::env::var("PAYGATE_STAGE").ok();
        let recorder = emf::install(&namespace(stage.as_deref()));
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

#[cfg(test)]
mod tests {
    use crate::capture::Captured;
    use serde_json::Value;

    /// The line logged inside a Lambda-like invocation span and a message span, which
    /// carries the message and its span whatever `span_list`.
    fn line_logged(span_list: bool) -> Value {
        let captured = Captured::install(span_list);
        // As the Lambda runtime opens it around each invocation.
        let invoke = tracing::info_span!(
            "Lambda runtime invoke",
            requestId = "req-1",
            xrayTraceId = "Root=1-6753a1b2-0123456789abcdef01234567"
        );
        let _invoke = invoke.enter();
        let message =
            tracing::info_span!("message", correlation_id = "corr-1", deposit_id = "dep-1");
        let _message = message.enter();
        tracing::info!("processed");
        let line = captured.with_message("processed").remove(0);
        assert_eq!(line["span"]["correlation_id"], "corr-1");
        assert_eq!(line["span"]["deposit_id"], "dep-1");
        line
    }

    #[test]
    fn a_line_carries_its_request_and_the_invocations_trace_id() {
        let line = line_logged(true);
        let spans = line["spans"]
            .as_array()
            .expect("the spans the line runs in");
        assert_eq!(spans[0]["requestId"], "req-1");
        assert_eq!(
            spans[0]["xrayTraceId"],
            "Root=1-6753a1b2-0123456789abcdef01234567"
        );
    }

    #[test]
    fn outside_lambda_a_line_carries_its_request_without_the_span_list() {
        let line = line_logged(false);
        assert!(line.get("spans").is_none(), "{line}");
    }

    #[test]
    fn each_stage_writes_its_metrics_to_a_namespace_of_its_own() {
        assert_eq!(super::namespace(Some("prod")), "paygate/prod");
        assert_eq!(super::namespace(Some(" ")), "paygate");
        assert_eq!(super::namespace(None), "paygate");
    }
}
