//! The process-wide registry: every scheduler of the process registers its
//! figures here when it is built, so one endpoint (or one call to
//! [`gather`]) sees every job, whichever language started it. It holds
//! weak references only: a scheduler that is gone drops out by itself. The
//! lock is taken per registration and per scrape, never on the fire path.

use super::job::MetricsSnapshot;
use std::sync::{Mutex, OnceLock, Weak};

/// Something whose figures the registry can read: a scheduler.
pub(crate) trait MetricsSource: Send + Sync {
    /// Its figures now.
    fn metrics_snapshot(&self) -> MetricsSnapshot;
}

fn sources() -> &'static Mutex<Vec<Weak<dyn MetricsSource>>> {
    static SOURCES: OnceLock<Mutex<Vec<Weak<dyn MetricsSource>>>> = OnceLock::new();
    SOURCES.get_or_init(Mutex::default)
}

/// Adds a scheduler to the process's registry (and forgets the gone ones).
pub(crate) fn register(source: Weak<dyn MetricsSource>) {
    let mut sources = sources().lock().unwrap_or_else(|p| p.into_inner());
    sources.retain(|s| s.strong_count() > 0);
    sources.push(source);
}

/// The figures of every live scheduler of this process, one snapshot each
/// (several schedulers of one job, as in a demo, each give their own).
pub fn gather() -> Vec<MetricsSnapshot> {
    let live: Vec<_> = {
        let mut sources = sources().lock().unwrap_or_else(|p| p.into_inner());
        sources.retain(|s| s.strong_count() > 0);
        sources.iter().filter_map(Weak::upgrade).collect()
    };
    // Read outside the lock: a snapshot reads the history writer's lock too.
    live.iter().map(|source| source.metrics_snapshot()).collect()
}

/// Every live scheduler's figures in the Prometheus text format, as the
/// `/metrics` endpoint serves them: for a process that has an HTTP server
/// of its own to serve them from.
pub fn render() -> String {
    super::encode::encode(&gather())
}
