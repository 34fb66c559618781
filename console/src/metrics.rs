//! The console's own Prometheus metrics at `/metrics`, in the plain text
//! exposition format: the cluster as the console sees it (jobs by status,
//! instances, items by state, last-day runs), the console's browsers, and
//! its ZooKeeper session (state, reconnections, watch events, reads). The
//! cluster figures come from the latest snapshot, so a scrape never touches
//! ZooKeeper.

use crate::hub::Snapshot;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const JOB_STATUSES: [&str; 5] = ["OK", "CRASHED", "STOPPED", "DISABLED", "SHARDING_FLAG"];
const ITEM_STATES: [&str; 4] = ["RUNNING", "PENDING", "DISABLED", "SHARDING_FLAG"];
const SESSION_STATES: [&str; 4] = ["CONNECTING", "CONNECTED", "SUSPENDED", "EXPIRED"];

/// Counters of the console process.
#[derive(Default)]
pub struct Metrics {
    sse_clients: AtomicI64,
    watch_events: AtomicU64,
    session_losses: AtomicU64,
    registry_reads: AtomicU64,
    registry_read_failures: AtomicU64,
    registry_read_micros: AtomicU64,
    history_reads: AtomicU64,
    history_read_failures: AtomicU64,
    audit_write_failures: AtomicU64,
    refused_credentials: AtomicU64,
    operations: Mutex<BTreeMap<(String, String), u64>>,
}

/// Counts one browser connected to the event stream while it lives.
pub struct SseClient(Arc<Metrics>);

impl Drop for SseClient {
    fn drop(&mut self) {
        self.0.sse_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// A browser connected to the event stream; counted until the guard drops.
    pub fn sse_client(self: &Arc<Self>) -> SseClient {
        self.sse_clients.fetch_add(1, Ordering::Relaxed);
        SseClient(self.clone())
    }

    /// Browsers connected to the event stream.
    pub fn sse_clients(&self) -> i64 {
        self.sse_clients.load(Ordering::Relaxed)
    }

    /// A watch event arrived.
    pub fn watch_event(&self) {
        self.watch_events.fetch_add(1, Ordering::Relaxed);
    }

    /// The session expired or closed.
    pub fn session_lost(&self) {
        self.session_losses.fetch_add(1, Ordering::Relaxed);
    }

    /// The registry was read in `took`.
    pub fn registry_read(&self, took: Duration) {
        self.registry_reads.fetch_add(1, Ordering::Relaxed);
        self.registry_read_micros
            .store(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Reading the registry failed.
    pub fn registry_read_failed(&self) {
        self.registry_read_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The history was read.
    pub fn history_read(&self) {
        self.history_reads.fetch_add(1, Ordering::Relaxed);
    }

    /// Reading the history failed.
    pub fn history_read_failed(&self) {
        self.history_read_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// An audit record could not be stored.
    pub fn audit_write_failed(&self) {
        self.audit_write_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A request came with wrong credentials.
    pub fn refused_credentials(&self) {
        self.refused_credentials.fetch_add(1, Ordering::Relaxed);
    }

    /// An operation ended with `outcome` (`OK`, `DENIED`, `FAILED`).
    pub fn operation(&self, action: &str, outcome: &str) {
        *self
            .operations
            .lock()
            .expect("metrics")
            .entry((action.to_string(), outcome.to_string()))
            .or_default() += 1;
    }

    /// The exposition text.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::new();
        let registry = &snapshot.registry;
        let mut by_status: BTreeMap<&str, u64> = JOB_STATUSES.iter().map(|s| (*s, 0)).collect();
        for job in &registry.jobs {
            *by_status.entry(job.job.status).or_default() += 1;
        }
        family(
            &mut out,
            "ejob_console_jobs",
            "gauge",
            "Jobs of the namespace by status (Java ElasticJob's names).",
        );
        for (status, count) in &by_status {
            sample(
                &mut out,
                "ejob_console_jobs",
                &[("status", status)],
                *count as f64,
            );
        }
        family(
            &mut out,
            "ejob_console_job_instances",
            "gauge",
            "Live instances of each job.",
        );
        for job in &registry.jobs {
            sample(
                &mut out,
                "ejob_console_job_instances",
                &[("job", &job.job.job_name)],
                job.instances.len() as f64,
            );
        }
        family(
            &mut out,
            "ejob_console_job_items",
            "gauge",
            "Items of each job by state.",
        );
        for job in &registry.jobs {
            for state in ITEM_STATES {
                let count = job.items.iter().filter(|i| i.state == state).count();
                sample(
                    &mut out,
                    "ejob_console_job_items",
                    &[("job", &job.job.job_name), ("state", state)],
                    count as f64,
                );
            }
        }
        family(
            &mut out,
            "ejob_console_job_runs",
            "gauge",
            "Item runs of each job in the history's last-day window.",
        );
        for (job, history) in &snapshot.history.jobs {
            sample(
                &mut out,
                "ejob_console_job_runs",
                &[("job", job)],
                history.total as f64,
            );
        }
        family(
            &mut out,
            "ejob_console_job_failed_runs",
            "gauge",
            "Item runs of each job that did not succeed, last day.",
        );
        for (job, history) in &snapshot.history.jobs {
            sample(
                &mut out,
                "ejob_console_job_failed_runs",
                &[("job", job)],
                history.failed as f64,
            );
        }
        family(
            &mut out,
            "ejob_console_sse_clients",
            "gauge",
            "Browsers connected to the live event stream.",
        );
        sample(
            &mut out,
            "ejob_console_sse_clients",
            &[],
            self.sse_clients() as f64,
        );
        family(
            &mut out,
            "ejob_console_zookeeper_connected",
            "gauge",
            "1 while the console's ZooKeeper session is connected.",
        );
        sample(
            &mut out,
            "ejob_console_zookeeper_connected",
            &[],
            f64::from(u8::from(registry.state == "CONNECTED")),
        );
        family(
            &mut out,
            "ejob_console_zookeeper_session_state",
            "gauge",
            "The console's ZooKeeper session state (1 for the current one).",
        );
        for state in SESSION_STATES {
            sample(
                &mut out,
                "ejob_console_zookeeper_session_state",
                &[("state", state)],
                f64::from(u8::from(registry.state == state)),
            );
        }
        let counter = |out: &mut String, name: &str, help: &str, value: &AtomicU64| {
            family(out, name, "counter", help);
            sample(out, name, &[], value.load(Ordering::Relaxed) as f64);
        };
        counter(
            &mut out,
            "ejob_console_zookeeper_reconnects_total",
            "ZooKeeper sessions lost and replaced.",
            &self.session_losses,
        );
        counter(
            &mut out,
            "ejob_console_zookeeper_watch_events_total",
            "Watch events received.",
            &self.watch_events,
        );
        counter(
            &mut out,
            "ejob_console_registry_reads_total",
            "Full reads of the namespace.",
            &self.registry_reads,
        );
        counter(
            &mut out,
            "ejob_console_registry_read_failures_total",
            "Reads of the namespace that failed.",
            &self.registry_read_failures,
        );
        family(
            &mut out,
            "ejob_console_registry_read_seconds",
            "gauge",
            "How long the last full read of the namespace took.",
        );
        sample(
            &mut out,
            "ejob_console_registry_read_seconds",
            &[],
            self.registry_read_micros.load(Ordering::Relaxed) as f64 / 1e6,
        );
        counter(
            &mut out,
            "ejob_console_history_reads_total",
            "Reads of the execution history.",
            &self.history_reads,
        );
        counter(
            &mut out,
            "ejob_console_history_read_failures_total",
            "Reads of the execution history that failed.",
            &self.history_read_failures,
        );
        counter(
            &mut out,
            "ejob_console_audit_write_failures_total",
            "Audit records that could not be stored.",
            &self.audit_write_failures,
        );
        counter(
            &mut out,
            "ejob_console_refused_credentials_total",
            "Requests refused for wrong credentials.",
            &self.refused_credentials,
        );
        family(
            &mut out,
            "ejob_console_operations_total",
            "counter",
            "Operations asked, by action and outcome.",
        );
        for ((action, outcome), count) in self.operations.lock().expect("metrics").iter() {
            sample(
                &mut out,
                "ejob_console_operations_total",
                &[("action", action), ("outcome", outcome)],
                *count as f64,
            );
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        let rendered: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        let _ = write!(out, "{{{}}}", rendered.join(","));
    }
    let _ = writeln!(out, " {value}");
}

/// Label values escape `\`, `"` and newlines, as the format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Hub;

    #[test]
    fn renders_families_and_escapes_labels() {
        let metrics = Arc::new(Metrics::default());
        let client = metrics.sse_client();
        metrics.operation("trigger", "OK");
        metrics.operation("trigger", "OK");
        let text = metrics.render(&Hub::new(false).current());
        assert!(
            text.contains(
                "# TYPE ejob_console_jobs gauge\nejob_console_jobs{status=\"CRASHED\"} 0\n"
            ),
            "{text}"
        );
        assert!(text.contains("ejob_console_sse_clients 1\n"));
        assert!(text.contains("ejob_console_zookeeper_session_state{state=\"CONNECTING\"} 1\n"));
        assert!(
            text.contains("ejob_console_operations_total{action=\"trigger\",outcome=\"OK\"} 2\n")
        );
        drop(client);
        assert_eq!(metrics.sse_clients(), 0);
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
