//! The Prometheus text exposition format (version 0.0.4), written by hand:
//! a few families of counters, gauges and histograms need no client
//! library. Snapshots of one job (several schedulers of it in one process)
//! are summed into one series per job; the session state is a "state set":
//! how many of the job's schedulers are in each state.

use super::histogram::HistogramSnapshot;
use super::job::{MetricsSnapshot, SessionState};
use std::collections::BTreeMap;
use crate::trace::HistoryStats;
use std::fmt::Write;

/// The job's figures summed over its schedulers in this process.
struct JobTotals {
    sum: MetricsSnapshot,
    /// Schedulers per session state.
    sessions: BTreeMap<&'static str, u64>,
    /// Whether any of them keeps a history.
    history: bool,
}

fn merge(snapshots: &[MetricsSnapshot]) -> BTreeMap<String, JobTotals> {
    let mut jobs: BTreeMap<String, JobTotals> = BTreeMap::new();
    for s in snapshots {
        let totals = jobs.entry(s.job_name.clone()).or_insert_with(|| JobTotals {
            sum: MetricsSnapshot {
                fire_lag: HistogramSnapshot::empty(&s.fire_lag.bounds),
                handler_duration: HistogramSnapshot::empty(&s.handler_duration.bounds),
                history: None,
                ..s.clone()
            }
            .zeroed(),
            sessions: SessionState::ALL.iter().map(|state| (state.as_str(), 0)).collect(),
            history: false,
        });
        let t = &mut totals.sum;
        t.fires.cron += s.fires.cron;
        t.fires.trigger += s.fires.trigger;
        t.fires.misfire += s.fires.misfire;
        t.executions.succeeded += s.executions.succeeded;
        t.executions.failed += s.executions.failed;
        t.executions.timed_out += s.executions.timed_out;
        t.executions.cancelled += s.executions.cancelled;
        t.fire_lag.merge(&s.fire_lag);
        t.handler_duration.merge(&s.handler_duration);
        t.misfires += s.misfires;
        t.failovers_taken += s.failovers_taken;
        t.reshards += s.reshards;
        t.errors += s.errors;
        t.items_owned += s.items_owned;
        t.items_running += s.items_running;
        t.reconnects.connection += s.reconnects.connection;
        t.reconnects.session += s.reconnects.session;
        *totals.sessions.entry(s.session_state.as_str()).or_default() += 1;
        if let Some(h) = &s.history {
            totals.history = true;
            let sum = t.history.get_or_insert_with(Default::default);
            sum.written += h.written;
            sum.dropped += h.dropped;
            sum.pending += h.pending;
            sum.failed_writes += h.failed_writes;
        }
    }
    jobs
}

impl MetricsSnapshot {
    /// The same job and buckets with every figure zero.
    fn zeroed(self) -> Self {
        MetricsSnapshot {
            job_name: self.job_name,
            fires: Default::default(),
            executions: Default::default(),
            fire_lag: self.fire_lag,
            handler_duration: self.handler_duration,
            misfires: 0,
            failovers_taken: 0,
            reshards: 0,
            errors: 0,
            items_owned: 0,
            items_running: 0,
            session_state: SessionState::Closed,
            reconnects: Default::default(),
            history: None,
        }
    }
}

/// One family: its name, type and help, and a value per job and extra labels.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &'static str, kind: &str, help: &str) -> Self {
        let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out, name }
    }

    fn sample(&mut self, suffix: &str, job: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let _ = write!(self.out, "{}{suffix}{{job=\"{}\"", self.name, escape_label(job));
        for (key, val) in labels {
            let _ = write!(self.out, ",{key}=\"{}\"", escape_label(val));
        }
        let _ = writeln!(self.out, "}} {value}");
    }

    fn histogram(&mut self, job: &str, h: &HistogramSnapshot) {
        for (bound, count) in h.bounds.iter().zip(&h.buckets) {
            self.sample("_bucket", job, &[("le", &float(*bound))], count);
        }
        self.sample("_bucket", job, &[("le", "+Inf")], h.count);
        self.sample("_sum", job, &[], float(h.sum));
        self.sample("_count", job, &[], h.count);
    }
}

/// A float as Prometheus writes one (`0.005`, `1`, `2.5`).
fn float(value: f64) -> String {
    format!("{value}")
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A family with one unlabelled sample per job: name, type, help, value.
type Plain<T> = (&'static str, &'static str, &'static str, fn(&T) -> u64);

/// Labels beyond `job` and a value: one sample of a family for one job.
type Series = Vec<(&'static [(&'static str, &'static str)], u64)>;

/// Writes a counter or gauge family: `series` gives each job's samples.
fn simple_family(
    out: &mut String,
    jobs: &BTreeMap<String, JobTotals>,
    (name, kind, help): (&'static str, &str, &str),
    series: impl Fn(&JobTotals) -> Series,
) {
    let mut family = Family::new(out, name, kind, help);
    for (job, totals) in jobs {
        for (labels, value) in series(totals) {
            family.sample("", job, labels, value);
        }
    }
}

/// Every family for `snapshots`, jobs in name order; nothing without a
/// job. The history families list only the jobs that keep a history.
pub fn encode(snapshots: &[MetricsSnapshot]) -> String {
    let jobs = merge(snapshots);
    let mut out = String::new();
    if jobs.is_empty() {
        return out;
    }
    let help = |name, kind, text| (name, kind, text);
    simple_family(
        &mut out,
        &jobs,
        help("elasticjob_fires_total", "counter", "Fires that started at least one item on this instance, by what fired them."),
        |t| {
            let f = t.sum.fires;
            vec![(&[("kind", "cron")], f.cron), (&[("kind", "trigger")], f.trigger), (&[("kind", "misfire")], f.misfire)]
        },
    );
    simple_family(
        &mut out,
        &jobs,
        help("elasticjob_executions_total", "counter", "Finished item runs on this instance, by outcome."),
        |t| {
            let e = t.sum.executions;
            vec![
                (&[("outcome", "succeeded")], e.succeeded),
                (&[("outcome", "failed")], e.failed),
                (&[("outcome", "timed_out")], e.timed_out),
                (&[("outcome", "cancelled")], e.cancelled),
            ]
        },
    );
    let mut family =
        Family::new(&mut out, "elasticjob_fire_lag_seconds", "histogram", "From an item run's scheduled fire time to its handler's start.");
    for (job, totals) in &jobs {
        family.histogram(job, &totals.sum.fire_lag);
    }
    let mut family = Family::new(&mut out, "elasticjob_handler_duration_seconds", "histogram", "How long handlers ran.");
    for (job, totals) in &jobs {
        family.histogram(job, &totals.sum.handler_duration);
    }
    let plain: [Plain<MetricsSnapshot>; 6] = [
        ("elasticjob_misfires_total", "counter", "Item fires missed because the item was still running here.", |t| t.misfires),
        ("elasticjob_failovers_taken_total", "counter", "Items this instance took over from lost instances.", |t| t.failovers_taken),
        ("elasticjob_reshards_total", "counter", "New assignments this instance wrote as leader.", |t| t.reshards),
        ("elasticjob_errors_total", "counter", "Failures outside handlers (registry trouble, clock skew, ...).", |t| t.errors),
        ("elasticjob_items_owned", "gauge", "Items assigned to this instance at its latest fire.", |t| t.items_owned),
        ("elasticjob_items_running", "gauge", "Item runs in flight on this instance.", |t| t.items_running),
    ];
    for (name, kind, text, value) in plain {
        simple_family(&mut out, &jobs, help(name, kind, text), |t| vec![(&[], value(&t.sum))]);
    }
    simple_family(
        &mut out,
        &jobs,
        help(
            "elasticjob_registry_session_state",
            "gauge",
            "Schedulers of the job in this process whose registry session is in this state.",
        ),
        |t| SessionState::ALL.iter().map(|state| (state_label(*state), t.sessions[state.as_str()])).collect(),
    );
    simple_family(
        &mut out,
        &jobs,
        help(
            "elasticjob_registry_reconnects_total",
            "counter",
            "Times the registry came back: the connection within its session, or a new session after one was lost.",
        ),
        |t| {
            let r = t.sum.reconnects;
            vec![(&[("kind", "connection")], r.connection), (&[("kind", "session")], r.session)]
        },
    );
    let kept: BTreeMap<String, JobTotals> = jobs.into_iter().filter(|(_, t)| t.history).collect();
    if kept.is_empty() {
        return out;
    }
    let history: [Plain<HistoryStats>; 4] = [
        ("elasticjob_history_pending", "gauge", "Execution history records waiting to be written.", |h| h.pending),
        (
            "elasticjob_history_dropped_total",
            "counter",
            "Execution history records lost (buffer full, or the history fell behind the events).",
            |h| h.dropped,
        ),
        ("elasticjob_history_written_total", "counter", "Execution history records written.", |h| h.written),
        ("elasticjob_history_failed_writes_total", "counter", "Execution history writes that failed (each is retried).", |h| {
            h.failed_writes
        }),
    ];
    for (name, kind, text, value) in history {
        simple_family(&mut out, &kept, help(name, kind, text), |t| {
            vec![(&[], t.sum.history.as_ref().map_or(0, value))]
        });
    }
    out
}

/// The `state` label of a session state, as a static label set.
fn state_label(state: SessionState) -> &'static [(&'static str, &'static str)] {
    match state {
        SessionState::Connected => &[("state", "connected")],
        SessionState::Suspended => &[("state", "suspended")],
        SessionState::Lost => &[("state", "lost")],
        SessionState::Closed => &[("state", "closed")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::job::JobMetrics;
    use crate::metrics::job::FireKind;
    use std::time::Duration;

    fn snapshot(job: &str, state: SessionState, history: Option<HistoryStats>) -> MetricsSnapshot {
        let metrics = JobMetrics::default();
        metrics.fired(FireKind::Cron);
        metrics.handler_started(Duration::from_millis(20));
        metrics.handler_finished(&crate::Outcome::Succeeded, Duration::from_millis(300));
        metrics.misfired(2);
        metrics.set_session(state);
        metrics.snapshot(job, 1, history)
    }

    /// The sample lines as `name{labels}` → value.
    fn samples(text: &str) -> BTreeMap<String, String> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').expect("a sample is `series value`");
                (series.to_string(), value.to_string())
            })
            .collect()
    }

    #[test]
    fn families_have_help_and_type_and_histograms_are_cumulative_with_sum_and_count() {
        let text = encode(&[snapshot("orders", SessionState::Connected, None)]);
        for family in ["elasticjob_fires_total", "elasticjob_fire_lag_seconds", "elasticjob_registry_session_state"] {
            assert!(text.contains(&format!("# HELP {family} ")), "{text}");
        }
        assert!(text.contains("# TYPE elasticjob_fire_lag_seconds histogram\n"));
        assert!(text.contains("# TYPE elasticjob_executions_total counter\n"));
        assert!(text.contains("# TYPE elasticjob_items_running gauge\n"));
        let s = samples(&text);
        assert_eq!(s["elasticjob_fires_total{job=\"orders\",kind=\"cron\"}"], "1");
        assert_eq!(s["elasticjob_executions_total{job=\"orders\",outcome=\"succeeded\"}"], "1");
        assert_eq!(s["elasticjob_misfires_total{job=\"orders\"}"], "2");
        assert_eq!(s["elasticjob_fire_lag_seconds_bucket{job=\"orders\",le=\"0.01\"}"], "0");
        assert_eq!(s["elasticjob_fire_lag_seconds_bucket{job=\"orders\",le=\"0.025\"}"], "1");
        assert_eq!(s["elasticjob_fire_lag_seconds_bucket{job=\"orders\",le=\"+Inf\"}"], "1");
        assert_eq!(s["elasticjob_fire_lag_seconds_sum{job=\"orders\"}"], "0.02");
        assert_eq!(s["elasticjob_handler_duration_seconds_bucket{job=\"orders\",le=\"0.25\"}"], "0");
        assert_eq!(s["elasticjob_handler_duration_seconds_bucket{job=\"orders\",le=\"1\"}"], "1");
        assert_eq!(s["elasticjob_handler_duration_seconds_count{job=\"orders\"}"], "1");
        assert_eq!(s["elasticjob_registry_session_state{job=\"orders\",state=\"connected\"}"], "1");
        assert_eq!(s["elasticjob_registry_session_state{job=\"orders\",state=\"lost\"}"], "0");
        assert!(!text.contains("elasticjob_history_"), "no job keeps a history");
        // Every sample line belongs to a family announced before it.
        let mut announced = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                announced.push(rest.split(' ').next().unwrap().to_string());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                let family = announced.last().expect("a family first");
                assert!(name.starts_with(family.as_str()), "{name} under {family}");
            }
        }
    }

    #[test]
    fn schedulers_of_one_job_are_summed_and_jobs_keep_apart() {
        let history = HistoryStats { written: 5, dropped: 1, pending: 2, failed_writes: 3, last_error: None };
        let text = encode(&[
            snapshot("a", SessionState::Connected, Some(history.clone())),
            snapshot("a", SessionState::Lost, Some(history)),
            snapshot("b", SessionState::Closed, None),
        ]);
        let s = samples(&text);
        assert_eq!(s["elasticjob_fires_total{job=\"a\",kind=\"cron\"}"], "2");
        assert_eq!(s["elasticjob_fires_total{job=\"b\",kind=\"cron\"}"], "1");
        assert_eq!(s["elasticjob_items_running{job=\"a\"}"], "2");
        assert_eq!(s["elasticjob_fire_lag_seconds_count{job=\"a\"}"], "2");
        assert_eq!(s["elasticjob_registry_session_state{job=\"a\",state=\"connected\"}"], "1");
        assert_eq!(s["elasticjob_registry_session_state{job=\"a\",state=\"lost\"}"], "1");
        assert_eq!(s["elasticjob_registry_session_state{job=\"b\",state=\"closed\"}"], "1");
        assert_eq!(s["elasticjob_history_dropped_total{job=\"a\"}"], "2");
        assert_eq!(s["elasticjob_history_pending{job=\"a\"}"], "4");
        assert!(!s.contains_key("elasticjob_history_pending{job=\"b\"}"), "b keeps no history");
    }

    #[test]
    fn label_values_are_escaped_and_nothing_is_written_without_a_job() {
        let text = encode(&[snapshot("we\"ird\\job\nname", SessionState::Connected, None)]);
        assert!(text.contains("elasticjob_reshards_total{job=\"we\\\"ird\\\\job\\nname\"} 0\n"), "{text}");
        assert_eq!(encode(&[]), "");
    }
}
