//! `Scheduler`: one job in this process, with Python handlers. Built by
//! `elasticjob.JobScheduler` and `elasticjob.AsyncJobScheduler`; each
//! operation returns a `Call`, which the sync API waits for and the asyncio
//! API awaits.

use crate::call::{unit, Answer, Call};
use crate::config::JobConfig;
use crate::errors::to_py;
use crate::events::event_dict;
use crate::handlers::{hooks, simple_job, OnceHooks, PlainHooks, PythonDataflow};
use crate::registry::Registry;
use crate::runtime;
use crate::seconds::{seconds, MAX_WAIT_SECONDS};
use elasticjob::{Job, JobEvent, JobScheduler, OnceListener};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;
use tokio::sync::{broadcast, Mutex};

/// One job of this process.
#[pyclass(frozen, module = "elasticjob._native")]
pub struct Scheduler {
    inner: Arc<JobScheduler>,
    events: Arc<Mutex<broadcast::Receiver<JobEvent>>>,
}

#[pymethods]
impl Scheduler {
    #[new]
    #[pyo3(signature = (registry, config, *, execute = None, fetch = None, process = None, script = false, http = false, instance_id = None, max_parallel = None, sharding_strategies = None, listeners = Vec::new(), once_listeners = Vec::new(), one_off = false, history = None, metrics_listen = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        registry: PyRef<'_, Registry>,
        config: JobConfig,
        execute: Option<Py<PyAny>>,
        fetch: Option<Py<PyAny>>,
        process: Option<Py<PyAny>>,
        script: bool,
        http: bool,
        instance_id: Option<String>,
        max_parallel: Option<usize>,
        sharding_strategies: Option<std::collections::BTreeMap<String, Py<PyAny>>>,
        listeners: Vec<PlainHooks>,
        once_listeners: Vec<OnceHooks>,
        one_off: bool,
        history: Option<String>,
        metrics_listen: Option<String>,
    ) -> PyResult<Self> {
        let job = match (execute, fetch, process, script, http) {
            (Some(execute), None, None, false, false) => simple_job(execute),
            (None, Some(fetch), Some(process), false, false) => {
                Job::dataflow(PythonDataflow { fetch: Arc::new(fetch), process: Arc::new(process) }).signal_only()
            }
            (None, None, None, true, false) => Job::script(),
            (None, None, None, false, true) => Job::http(),
            _ => {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "invalid job `handler`: give execute, or fetch and process, or script=True, or http=True",
                ))
            }
        };
        let mut builder = if one_off {
            JobScheduler::one_off(registry.center.clone(), config.inner, job)
        } else {
            JobScheduler::builder(registry.center.clone(), config.inner, job)
        }
        .binding("python");
        if let Some(url) = history {
            builder = builder.history(url);
        }
        if let Some(address) = metrics_listen {
            builder = builder.metrics_listen(address);
        }
        for (before, after) in listeners {
            builder = builder.listener(hooks(before, after));
        }
        for (before, after, started, completed) in once_listeners {
            builder = builder.once_listener(OnceListener::new(hooks(before, after), started, completed).map_err(to_py)?);
        }
        if let Some(id) = instance_id {
            builder = builder.instance_id(id);
        }
        if let Some(n) = max_parallel {
            builder = builder.max_parallel(n);
        }
        for (name, strategy) in sharding_strategies.unwrap_or_default() {
            builder = builder.sharding_strategy(&name, crate::strategy::PythonStrategy(strategy));
        }
        let _guard = runtime().enter();
        let inner = builder.build().map_err(to_py)?;
        let events = Arc::new(Mutex::new(inner.events()));
        Ok(Scheduler { inner: Arc::new(inner), events })
    }

    /// Connects (a failure is `RegistryUnavailable` naming the address and
    /// the cause), registers this instance and starts firing.
    fn start(&self) -> Call {
        let inner = self.inner.clone();
        Call::spawn(async move { unit(inner.start().await.map_err(to_py)) })
    }

    /// Runs the job once now on every live instance (one-off jobs' `execute`).
    fn execute_all(&self) -> Call {
        let inner = self.inner.clone();
        Call::spawn(async move { unit(inner.execute().await.map_err(to_py)) })
    }

    /// Runs this instance's items once, now.
    fn trigger(&self) -> Call {
        let inner = self.inner.clone();
        Call::spawn(async move { unit(inner.trigger().await.map_err(to_py)) })
    }

    /// Finishes running items, gives up leadership and leaves the cluster.
    /// Also undoes a start still under way: the core waits for it first.
    fn shutdown(&self) -> Call {
        let inner = self.inner.clone();
        Call::spawn(async move {
            inner.shutdown().await;
            unit(Ok(()))
        })
    }

    /// The next event as a dict, or None after `timeout` seconds (0 to 86400).
    #[pyo3(signature = (timeout = 1.0))]
    fn next_event(&self, timeout: f64) -> PyResult<Call> {
        let wait = seconds("timeout", timeout, 0.0, MAX_WAIT_SECONDS)?;
        let events = self.events.clone();
        Ok(Call::spawn(async move {
            let mut events = events.lock().await;
            let event = loop {
                match tokio::time::timeout(wait, events.recv()).await {
                    Ok(Ok(event)) => break Some(event),
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                    _ => break None,
                }
            };
            let answer: Answer = Box::new(move |py| match event {
                Some(event) => Ok(event_dict(py, event)?.into_any().unbind()),
                None => Ok(py.None()),
            });
            answer
        }))
    }

    #[getter]
    fn instance_id(&self) -> String {
        self.inner.instance_id().to_string()
    }

    #[getter]
    fn job_name(&self) -> String {
        self.inner.job_name().to_string()
    }

    #[getter]
    fn is_shut_down(&self) -> bool {
        self.inner.is_shut_down()
    }

    #[getter]
    fn config(&self) -> JobConfig {
        JobConfig { inner: self.inner.config() }
    }

    /// What this scheduler did so far.
    #[getter]
    fn metrics(&self, py: Python<'_>) -> PyResult<crate::metrics::Metrics> {
        crate::metrics::Metrics::new(py, self.inner.metrics())
    }

    /// `IP:PORT` of the process's metrics endpoint, or None if this scheduler did not ask for one.
    #[getter]
    fn metrics_address(&self) -> Option<String> {
        self.inner.metrics_address().map(|a| a.to_string())
    }

    /// The execution history's counters as a dict, or None without a history.
    #[getter]
    fn history_stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(stats) = self.inner.history_stats() else { return Ok(None) };
        let dict = PyDict::new(py);
        dict.set_item("written", stats.written)?;
        dict.set_item("dropped", stats.dropped)?;
        dict.set_item("pending", stats.pending)?;
        dict.set_item("failed_writes", stats.failed_writes)?;
        dict.set_item("last_error", stats.last_error)?;
        Ok(Some(dict))
    }
}
