//! `Operator`: the lifecycle API for jobs running anywhere in the namespace.
//! Each call waits interruptibly (a registry that cannot be reached is a
//! `RegistryUnavailable`); listings come back as dicts keyed by the fields
//! of the Python result dataclasses.

use crate::call::{Answer, Call};
use crate::errors::to_py;
use crate::registry::Registry;
use elasticjob::JobOperator;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::future::Future;

/// Trigger, disable/enable, shut down and remove jobs; list their state.
#[pyclass(frozen, module = "elasticjob._native")]
pub struct Operator {
    inner: JobOperator,
}

impl Operator {
    /// Runs `operation` and waits for it.
    fn run<T, F, A>(&self, py: Python<'_>, operation: F, answer: A) -> PyResult<Py<PyAny>>
    where
        T: Send + 'static,
        F: Future<Output = elasticjob::Result<T>> + Send + 'static,
        A: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        Call::block(py, async move {
            let outcome = operation.await.map_err(to_py);
            let answer: Answer = Box::new(move |py| answer(py, outcome?));
            answer
        })
    }

    fn run_unit(&self, py: Python<'_>, operation: impl Future<Output = elasticjob::Result<()>> + Send + 'static) -> PyResult<()> {
        self.run(py, operation, |py, ()| Ok(py.None())).map(drop)
    }
}

/// A pause note as a dict (`None` when not paused).
fn note_dict(py: Python<'_>, note: Option<&elasticjob::PauseNote>) -> PyResult<Py<PyAny>> {
    let Some(note) = note else { return Ok(py.None()) };
    let dict = PyDict::new(py);
    dict.set_item("by", &note.by)?;
    dict.set_item("reason", &note.reason)?;
    dict.set_item("at", note.at)?;
    dict.set_item("until", note.until)?;
    Ok(dict.into_any().unbind())
}

fn dicts<T>(py: Python<'_>, rows: Vec<T>, fill: impl Fn(&Bound<'_, PyDict>, T) -> PyResult<()>) -> PyResult<Py<PyAny>> {
    let list = rows
        .into_iter()
        .map(|row| {
            let dict = PyDict::new(py);
            fill(&dict, row)?;
            Ok(dict)
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(list.into_pyobject(py)?.into_any().unbind())
}

#[pymethods]
impl Operator {
    #[new]
    fn new(registry: PyRef<'_, Registry>) -> Self {
        Operator { inner: JobOperator::new(registry.center.clone()) }
    }

    #[pyo3(signature = (job_name, overlap = None))]
    fn trigger(&self, py: Python<'_>, job_name: String, overlap: Option<String>) -> PyResult<()> {
        let inner = self.inner.clone();
        self.run_unit(py, async move {
            let overlap = overlap.as_deref().map(elasticjob::OverlapPolicy::parse).transpose()?;
            inner.trigger_with(&job_name, overlap).await
        })
    }

    /// `until_ms`: epoch milliseconds, or `None` (until resumed).
    #[pyo3(signature = (job_name, by, reason, until_ms = None))]
    fn pause(&self, py: Python<'_>, job_name: String, by: String, reason: String, until_ms: Option<i64>) -> PyResult<()> {
        let inner = self.inner.clone();
        self.run_unit(py, async move {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
            let note = elasticjob::PauseNote::new(&by, &reason, now, until_ms)?;
            inner.pause(&job_name, &note).await
        })
    }

    fn resume(&self, py: Python<'_>, job_name: String) -> PyResult<bool> {
        let inner = self.inner.clone();
        let answer = self.run(py, async move { inner.resume(&job_name).await }, |py, was| {
            Ok(pyo3::types::PyBool::new(py, was).to_owned().into_any().unbind())
        })?;
        answer.extract(py)
    }

    fn pause_note(&self, py: Python<'_>, job_name: String) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        self.run(py, async move { inner.pause_note(&job_name).await }, |py, note| note_dict(py, note.as_ref()))
    }

    /// `from_ms`, `to_ms`: epoch milliseconds; returns the backfill's id.
    #[pyo3(signature = (job_name, from_ms, to_ms, by, overlap = None))]
    fn backfill(&self, py: Python<'_>, job_name: String, from_ms: i64, to_ms: i64, by: String, overlap: Option<String>) -> PyResult<String> {
        let inner = self.inner.clone();
        let backfill = async move {
            let overlap = overlap.as_deref().map(elasticjob::OverlapPolicy::parse).transpose()?;
            inner.backfill(&job_name, from_ms, to_ms, &by, overlap).await
        };
        let answer = self.run(py, backfill, |py, id| {
            Ok(id.into_pyobject(py)?.into_any().unbind())
        })?;
        answer.extract(py)
    }

    fn backfills(&self, py: Python<'_>, job_name: String) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        self.run(py, async move { inner.backfills(&job_name).await }, |py, rows| {
            dicts(py, rows, |d, b| {
                let (started, total) = b.started();
                d.set_item("id", &b.id)?;
                d.set_item("from", b.request.from)?;
                d.set_item("to", b.request.to)?;
                d.set_item("by", &b.request.by)?;
                d.set_item("at", b.request.at)?;
                d.set_item("overlap", b.request.overlap.as_str())?;
                d.set_item("fires", b.fires.len())?;
                d.set_item("started", started)?;
                d.set_item("total", total)?;
                d.set_item("done", b.is_done())
            })
        })
    }

    fn cancel_backfill(&self, py: Python<'_>, job_name: String, id: String) -> PyResult<()> {
        let inner = self.inner.clone();
        self.run_unit(py, async move { inner.cancel_backfill(&job_name, &id).await })
    }

    #[pyo3(signature = (job_name, server_ip = None))]
    fn disable(&self, py: Python<'_>, job_name: String, server_ip: Option<String>) -> PyResult<()> {
        let inner = self.inner.clone();
        self.run_unit(py, async move { inner.disable(&job_name, server_ip.as_deref()).await })
    }

    #[pyo3(signature = (job_name, server_ip = None))]
    fn enable(&self, py: Python<'_>, job_name: String, server_ip: Option<String>) -> PyResult<()> {
        let inner = self.inner.clone();
        self.run_unit(py, async move { inner.enable(&job_name, server_ip.as_deref()).await })
    }

    fn disable_item(&self, py: Python<'_>, job_name: String, item: u32) -> PyResult<()> {
        let inner = self.inner.clone();
        self.run_unit(py, async move { inner.disable_item(&job_name, item).await })
    }

    fn enable_item(&self, py: Python<'_>, job_name: String, item: u32) -> PyResult<()> {
        let inner = self.inner.clone();
        self.run_unit(py, async move { inner.enable_item(&job_name, item).await })
    }

    #[pyo3(signature = (job_name, server_ip = None))]
    fn shutdown(&self, py: Python<'_>, job_name: String, server_ip: Option<String>) -> PyResult<()> {
        let inner = self.inner.clone();
        self.run_unit(py, async move { inner.shutdown(&job_name, server_ip.as_deref()).await })
    }

    #[pyo3(signature = (job_name, server_ip = None))]
    fn remove(&self, py: Python<'_>, job_name: String, server_ip: Option<String>) -> PyResult<()> {
        let inner = self.inner.clone();
        self.run_unit(py, async move { inner.remove(&job_name, server_ip.as_deref()).await })
    }

    fn jobs(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        self.run(py, async move { inner.jobs().await }, |py, jobs| {
            dicts(py, jobs, |d, j| {
                d.set_item("job_name", &j.config.job_name)?;
                d.set_item("cron", &j.config.cron)?;
                d.set_item("sharding_total_count", j.config.sharding_total_count)?;
                d.set_item("description", &j.config.description)?;
                d.set_item("status", j.status.as_str())?;
                d.set_item("instance_count", j.instance_count)?;
                d.set_item("pause", note_dict(py, j.pause.as_ref())?)
            })
        })
    }

    fn instances(&self, py: Python<'_>, job_name: String) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        self.run(py, async move { inner.instances(&job_name).await }, |py, instances| {
            dicts(py, instances, |d, i| {
                d.set_item("instance_id", i.instance_id)?;
                d.set_item("server_ip", i.server_ip)?;
                d.set_item("leader", i.leader)?;
                d.set_item("enabled", i.enabled)
            })
        })
    }

    fn items(&self, py: Python<'_>, job_name: String) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        self.run(py, async move { inner.items(&job_name).await }, |py, items| {
            dicts(py, items, |d, i| {
                d.set_item("item", i.item)?;
                d.set_item("instance_id", i.instance_id)?;
                d.set_item("state", i.state.as_str())?;
                d.set_item("failover_instance", i.failover_instance)
            })
        })
    }
}
