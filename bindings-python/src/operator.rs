//! `Operator`: the lifecycle API for jobs running anywhere in the namespace.

use crate::registry::Registry;
use crate::{runtime, to_py};
use elasticjob::JobOperator;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Trigger, disable/enable, shut down and remove jobs; list their state.
#[pyclass(module = "elasticjob._native")]
pub struct Operator {
    inner: JobOperator,
}

impl Operator {
    fn run<T: Send>(&self, py: Python<'_>, f: impl std::future::Future<Output = elasticjob::Result<T>> + Send) -> PyResult<T> {
        py.detach(|| runtime().block_on(f)).map_err(to_py)
    }
}

#[pymethods]
impl Operator {
    #[new]
    fn new(registry: PyRef<'_, Registry>) -> Self {
        Operator { inner: JobOperator::new(registry.center.clone()) }
    }

    /// Asks every live instance of the job to run its items now.
    fn trigger(&self, py: Python<'_>, job_name: &str) -> PyResult<()> {
        self.run(py, self.inner.trigger(job_name))
    }

    /// Disables the job on one server, or everywhere.
    #[pyo3(signature = (job_name, server_ip = None))]
    fn disable(&self, py: Python<'_>, job_name: &str, server_ip: Option<&str>) -> PyResult<()> {
        self.run(py, self.inner.disable(job_name, server_ip))
    }

    /// Enables the job on one server, or everywhere.
    #[pyo3(signature = (job_name, server_ip = None))]
    fn enable(&self, py: Python<'_>, job_name: &str, server_ip: Option<&str>) -> PyResult<()> {
        self.run(py, self.inner.enable(job_name, server_ip))
    }

    /// Stops one item from running.
    fn disable_item(&self, py: Python<'_>, job_name: &str, item: u32) -> PyResult<()> {
        self.run(py, self.inner.disable_item(job_name, item))
    }

    /// Lets a disabled item run again.
    fn enable_item(&self, py: Python<'_>, job_name: &str, item: u32) -> PyResult<()> {
        self.run(py, self.inner.enable_item(job_name, item))
    }

    /// Shuts the job's instances down on one server, or everywhere.
    #[pyo3(signature = (job_name, server_ip = None))]
    fn shutdown(&self, py: Python<'_>, job_name: &str, server_ip: Option<&str>) -> PyResult<()> {
        self.run(py, self.inner.shutdown(job_name, server_ip))
    }

    /// Removes a server from the job, or the whole job.
    #[pyo3(signature = (job_name, server_ip = None))]
    fn remove(&self, py: Python<'_>, job_name: &str, server_ip: Option<&str>) -> PyResult<()> {
        self.run(py, self.inner.remove(job_name, server_ip))
    }

    /// Every job of the namespace: name, cron, item count, status, instance count.
    fn jobs<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let jobs = self.run(py, self.inner.jobs())?;
        jobs.into_iter()
            .map(|j| {
                let d = PyDict::new(py);
                d.set_item("job_name", &j.config.job_name)?;
                d.set_item("cron", &j.config.cron)?;
                d.set_item("sharding_total_count", j.config.sharding_total_count)?;
                d.set_item("description", &j.config.description)?;
                d.set_item("status", j.status.as_str())?;
                d.set_item("instance_count", j.instance_count)?;
                Ok(d)
            })
            .collect()
    }

    /// The live instances of a job.
    fn instances<'py>(&self, py: Python<'py>, job_name: &str) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let instances = self.run(py, self.inner.instances(job_name))?;
        instances
            .into_iter()
            .map(|i| {
                let d = PyDict::new(py);
                d.set_item("instance_id", i.instance_id)?;
                d.set_item("server_ip", i.server_ip)?;
                d.set_item("leader", i.leader)?;
                d.set_item("enabled", i.enabled)?;
                Ok(d)
            })
            .collect()
    }

    /// Every item of a job: owner, state, failover taker.
    fn items<'py>(&self, py: Python<'py>, job_name: &str) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let items = self.run(py, self.inner.items(job_name))?;
        items
            .into_iter()
            .map(|i| {
                let d = PyDict::new(py);
                d.set_item("item", i.item)?;
                d.set_item("instance_id", i.instance_id)?;
                d.set_item("state", i.state.as_str())?;
                d.set_item("failover_instance", i.failover_instance)?;
                Ok(d)
            })
            .collect()
    }
}
