//! This scheduler's part in the process's metrics (see [`crate::metrics`]):
//! it registers itself with the process-wide registry when built, and
//! gives its figures when read, adding what only it can tell at that
//! moment: the runs in flight and the history writer's counters.

use super::Inner;
use crate::metrics::registry::{self, MetricsSource};
use crate::metrics::MetricsSnapshot;
use crate::trace::HistoryWriter;
use std::sync::Arc;

impl Inner {
    /// Adds this scheduler to the process's registry (weakly: a dropped
    /// scheduler leaves it by itself).
    pub(super) fn register_metrics(self: &Arc<Self>) {
        let weak: std::sync::Weak<dyn MetricsSource> = Arc::downgrade(self) as _;
        registry::register(weak);
    }

    pub(super) fn metrics_now(&self) -> MetricsSnapshot {
        let history = self.history_writer.get().map(HistoryWriter::stats);
        self.metrics.snapshot(&self.job_name, self.runs.in_flight_count(), history)
    }
}

impl MetricsSource for Inner {
    fn metrics_snapshot(&self) -> MetricsSnapshot {
        self.metrics_now()
    }
}
