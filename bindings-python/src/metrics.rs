//! The scheduler's metrics as Python objects: `Metrics` and `Histogram`,
//! frozen, with the core's figures (labelled counters as dicts keyed by
//! their label, histograms in seconds with cumulative buckets).

use pyo3::prelude::*;
use std::collections::BTreeMap;

/// A histogram in seconds: `buckets[i]` observations were at most `bounds[i]`.
#[pyclass(frozen, module = "elasticjob", get_all)]
pub struct Histogram {
    /// Upper bounds of the buckets, seconds (`+Inf` implied).
    pub bounds: Vec<f64>,
    /// Cumulative counts per bound.
    pub buckets: Vec<u64>,
    /// All observations.
    pub count: u64,
    /// Their sum, seconds.
    pub sum: f64,
}

#[pymethods]
impl Histogram {
    fn __repr__(&self) -> String {
        format!("Histogram(count={}, sum={})", self.count, self.sum)
    }
}

impl From<elasticjob::metrics::HistogramSnapshot> for Histogram {
    fn from(h: elasticjob::metrics::HistogramSnapshot) -> Self {
        Histogram { bounds: h.bounds, buckets: h.buckets, count: h.count, sum: h.sum }
    }
}

/// What a scheduler did so far (see the README's "Metrics").
#[pyclass(frozen, module = "elasticjob", get_all)]
pub struct Metrics {
    /// The job.
    pub job_name: String,
    /// Fires that started items here, by `cron`, `trigger`, `misfire`.
    pub fires: BTreeMap<String, u64>,
    /// Finished runs by `succeeded`, `failed`, `timed_out`, `cancelled`.
    pub executions: BTreeMap<String, u64>,
    /// Scheduled fire time to handler start.
    pub fire_lag: Py<Histogram>,
    /// How long handlers ran.
    pub handler_duration: Py<Histogram>,
    /// Item fires missed because the item still ran.
    pub misfires: u64,
    /// Items taken over from lost instances.
    pub failovers_taken: u64,
    /// New assignments written as leader.
    pub reshards: u64,
    /// Failures outside handlers.
    pub errors: u64,
    /// Items assigned here at the latest fire.
    pub items_owned: u64,
    /// Runs in flight here.
    pub items_running: u64,
    /// `connected`, `suspended`, `lost` or `closed`.
    pub session_state: String,
    /// Registry comebacks by `connection` (same session) and `session` (a new one).
    pub reconnects: BTreeMap<String, u64>,
    /// The history's `written`, `dropped`, `pending` and `failed_writes`, or None without a history.
    pub history: Option<BTreeMap<String, u64>>,
}

#[pymethods]
impl Metrics {
    fn __repr__(&self) -> String {
        format!(
            "Metrics(job_name={:?}, fires={:?}, executions={:?}, session_state={:?})",
            self.job_name, self.fires, self.executions, self.session_state
        )
    }
}

impl Metrics {
    pub(crate) fn new(py: Python<'_>, m: elasticjob::MetricsSnapshot) -> PyResult<Self> {
        let pairs = |p: &[(&str, u64)]| p.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>();
        Ok(Metrics {
            fires: pairs(&[("cron", m.fires.cron), ("trigger", m.fires.trigger), ("misfire", m.fires.misfire)]),
            executions: pairs(&[
                ("succeeded", m.executions.succeeded),
                ("failed", m.executions.failed),
                ("timed_out", m.executions.timed_out),
                ("cancelled", m.executions.cancelled),
            ]),
            fire_lag: Py::new(py, Histogram::from(m.fire_lag))?,
            handler_duration: Py::new(py, Histogram::from(m.handler_duration))?,
            misfires: m.misfires,
            failovers_taken: m.failovers_taken,
            reshards: m.reshards,
            errors: m.errors,
            items_owned: m.items_owned,
            items_running: m.items_running,
            session_state: m.session_state.as_str().to_string(),
            reconnects: pairs(&[("connection", m.reconnects.connection), ("session", m.reconnects.session)]),
            history: m.history.map(|h| {
                pairs(&[("written", h.written), ("dropped", h.dropped), ("pending", h.pending), ("failed_writes", h.failed_writes)])
            }),
            job_name: m.job_name,
        })
    }
}
