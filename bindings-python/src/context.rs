//! What handlers and listeners receive: `ShardingContext` (one item of a
//! fire) and `ShardingContexts` (this instance's part of a fire), frozen
//! copies of the core's, with the run's cancel signal.

use crate::signal::CancelSignal;
use pyo3::prelude::*;

/// What a handler receives for one item.
#[pyclass(frozen, module = "elasticjob", get_all)]
pub struct ShardingContext {
    /// The job's name.
    pub job_name: String,
    /// This execution's id.
    pub task_id: String,
    /// How many items the job has.
    pub sharding_total_count: u32,
    /// The job-wide parameter.
    pub job_parameter: String,
    /// The item to run.
    pub sharding_item: u32,
    /// The item's parameter (empty if none).
    pub sharding_parameter: String,
    /// The fire this run belongs to, epoch milliseconds.
    pub fire_time: i64,
    /// False when this run took over an item whose crashed runner did not
    /// record its fire (a Java ElasticJob instance never does): then
    /// `fire_time` is the take-over time.
    pub fire_time_known: bool,
    /// Whether this run takes over a crashed instance's item.
    pub failover: bool,
    /// Grows with every start of this item anywhere in the cluster: a store
    /// that keeps the highest token it accepted can refuse a stale writer.
    pub fencing_token: i64,
    /// Which attempt at this item's fire the run is: 1, then 2 for the
    /// first retry of a failed run (props `retryMaxAttempts`), and so on.
    pub attempt: u32,
    /// Set when this run should stop (timeout, session lost, item moved, shutdown).
    pub cancelled: Py<CancelSignal>,
}

#[pymethods]
impl ShardingContext {
    fn __repr__(&self) -> String {
        format!(
            "ShardingContext(job_name={:?}, sharding_item={}, sharding_parameter={:?}, fire_time={}, attempt={}, fencing_token={})",
            self.job_name, self.sharding_item, self.sharding_parameter, self.fire_time, self.attempt, self.fencing_token
        )
    }
}

impl ShardingContext {
    /// The Python view of a core context (needs the GIL for the signal object).
    pub(crate) fn new(py: Python<'_>, c: elasticjob::ShardingContext) -> PyResult<Self> {
        Ok(ShardingContext {
            cancelled: Py::new(py, CancelSignal { inner: c.cancellation })?,
            fencing_token: c.fencing_token,
            attempt: c.attempt,
            job_name: c.job_name,
            task_id: c.task_id,
            sharding_total_count: c.sharding_total_count,
            job_parameter: c.job_parameter,
            sharding_item: c.sharding_item,
            sharding_parameter: c.sharding_parameter,
            fire_time: c.fire_time,
            fire_time_known: c.fire_time_known,
            failover: c.failover,
        })
    }
}

/// What a listener receives: this instance's part of one fire.
#[pyclass(frozen, module = "elasticjob", get_all)]
pub struct ShardingContexts {
    /// `{jobName}@-@{items}@-@READY@-@{instanceId}`.
    pub task_id: String,
    /// The job's name.
    pub job_name: String,
    /// How many items the job has.
    pub sharding_total_count: u32,
    /// The job-wide parameter.
    pub job_parameter: String,
    /// This instance's items in the fire, with their parameters.
    pub sharding_item_parameters: std::collections::BTreeMap<u32, String>,
    /// The fire, epoch milliseconds.
    pub fire_time: i64,
}

#[pymethods]
impl ShardingContexts {
    fn __repr__(&self) -> String {
        format!("ShardingContexts(task_id={:?}, fire_time={})", self.task_id, self.fire_time)
    }
}

impl From<&elasticjob::ShardingContexts> for ShardingContexts {
    fn from(c: &elasticjob::ShardingContexts) -> Self {
        ShardingContexts {
            task_id: c.task_id.clone(),
            job_name: c.job_name.clone(),
            sharding_total_count: c.sharding_total_count,
            job_parameter: c.job_parameter.clone(),
            sharding_item_parameters: c.sharding_item_parameters.clone(),
            fire_time: c.fire_time,
        }
    }
}
