//! The devstack's metrics in Prometheus' text format at [`METRICS_PATH`]: everything the
//! functions record through the `metrics` facade, for a local Prometheus or a curl.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Where the devstack serves its metrics (not a route of the deployed API).
pub const METRICS_PATH: &str = "/metrics";

/// The process's Prometheus recorder, installed by the first stack that asks (tests may
/// start several stacks in one process; they share it), behind the status page's tap.
/// `None` if another recorder was installed first.
pub fn prometheus() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            ::metrics::set_global_recorder(crate::status::Tap::new(recorder)).ok()?;
            paygate_domain::metrics::describe();
            Some(handle)
        })
        .clone()
}
