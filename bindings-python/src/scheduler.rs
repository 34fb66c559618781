//! `Scheduler`: one job in this process, with Python handlers. Handlers run
//! on Tokio's blocking threads; the GIL is taken only for the call itself.

use crate::config::JobConfig;
use crate::registry::Registry;
use crate::seconds::{seconds, MAX_WAIT_SECONDS};
use crate::signal::CancelSignal;
use crate::{runtime, to_py};
use elasticjob::{DataflowJob, HandlerResult, Job, JobEvent, JobScheduler, OnceListener, Outcome};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// What a handler receives for one item.
#[pyclass(frozen, module = "elasticjob._native", get_all)]
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
    /// Set when this run should stop (timeout, session lost, item moved, shutdown).
    pub cancelled: Py<CancelSignal>,
}

#[pymethods]
impl ShardingContext {
    fn __repr__(&self) -> String {
        format!(
            "ShardingContext(job_name={:?}, sharding_item={}, sharding_parameter={:?}, fire_time={}, fencing_token={})",
            self.job_name, self.sharding_item, self.sharding_parameter, self.fire_time, self.fencing_token
        )
    }
}

impl ShardingContext {
    /// The Python view of a core context (needs the GIL for the signal object).
    fn new(py: Python<'_>, c: elasticjob::ShardingContext) -> PyResult<Self> {
        Ok(ShardingContext {
            cancelled: Py::new(py, CancelSignal { inner: c.cancellation })?,
            fencing_token: c.fencing_token,
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
#[pyclass(frozen, module = "elasticjob._native", get_all)]
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

/// Two optional Python callables taking a `ShardingContexts`: the before
/// and after hooks of a listener (plain or distributed-once).
#[derive(Clone)]
struct PythonHooks {
    before: Option<Arc<Py<PyAny>>>,
    after: Option<Arc<Py<PyAny>>>,
}

impl PythonHooks {
    async fn call(hook: &Option<Arc<Py<PyAny>>>, contexts: &elasticjob::ShardingContexts) -> HandlerResult {
        let Some(hook) = hook.clone() else { return Ok(()) };
        let contexts = ShardingContexts::from(contexts);
        call_python(move |py| {
            hook.call1(py, (contexts,))?;
            Ok(())
        })
        .await
    }
}

#[async_trait::async_trait]
impl elasticjob::JobListener for PythonHooks {
    async fn before_job_executed(&self, contexts: &elasticjob::ShardingContexts) -> HandlerResult {
        Self::call(&self.before, contexts).await
    }

    async fn after_job_executed(&self, contexts: &elasticjob::ShardingContexts) -> HandlerResult {
        Self::call(&self.after, contexts).await
    }
}

#[async_trait::async_trait]
impl elasticjob::DistributeOnceJobListener for PythonHooks {
    async fn before_at_last_started(&self, contexts: &elasticjob::ShardingContexts) -> HandlerResult {
        Self::call(&self.before, contexts).await
    }

    async fn after_at_last_completed(&self, contexts: &elasticjob::ShardingContexts) -> HandlerResult {
        Self::call(&self.after, contexts).await
    }
}

fn hooks(before: Option<Py<PyAny>>, after: Option<Py<PyAny>>) -> PythonHooks {
    PythonHooks { before: before.map(Arc::new), after: after.map(Arc::new) }
}

/// A plain listener as the Python layer hands it over: (before, after).
type PlainHooks = (Option<Py<PyAny>>, Option<Py<PyAny>>);

/// A distributed-once listener as the Python layer hands it over:
/// (before, after, started timeout ms, completed timeout ms).
type OnceHooks = (Option<Py<PyAny>>, Option<Py<PyAny>>, i64, i64);

/// The text of a Python exception with its traceback.
pub(crate) fn describe(py: Python<'_>, error: PyErr) -> String {
    use pyo3::types::PyTracebackMethods;
    let trace = error.traceback(py).and_then(|tb| tb.format().ok()).unwrap_or_default();
    format!("{trace}{}", error.value(py).repr().map(|r| r.to_string()).unwrap_or_else(|_| error.to_string()))
}

/// Calls a Python callable on a blocking thread, holding the GIL only there.
async fn call_python<T, F>(f: F) -> HandlerResult<T>
where
    T: Send + 'static,
    F: FnOnce(Python<'_>) -> PyResult<T> + Send + 'static,
{
    let joined = tokio::task::spawn_blocking(move || Python::attach(|py| f(py).map_err(|e| describe(py, e)))).await;
    match joined {
        Ok(result) => result.map_err(Into::into),
        Err(e) => Err(format!("handler thread failed: {e}").into()),
    }
}

fn simple_job(execute: Py<PyAny>) -> Job {
    let execute = Arc::new(execute);
    Job::from_fn(move |ctx| {
        let execute = execute.clone();
        async move {
            call_python(move |py| {
                execute.call1(py, (ShardingContext::new(py, ctx)?,))?;
                Ok(())
            })
            .await
        }
    })
    .signal_only()
}

/// A dataflow job whose `fetch`/`process` are Python callables; the
/// fetch/process loop itself is the core's.
struct PythonDataflow {
    fetch: Arc<Py<PyAny>>,
    process: Arc<Py<PyAny>>,
}

#[async_trait::async_trait]
impl DataflowJob for PythonDataflow {
    type Item = Py<PyAny>;

    async fn fetch(&self, ctx: &elasticjob::ShardingContext) -> HandlerResult<Vec<Py<PyAny>>> {
        let (fetch, ctx) = (self.fetch.clone(), ctx.clone());
        call_python(move |py| {
            let batch = fetch.call1(py, (ShardingContext::new(py, ctx)?,))?;
            if batch.is_none(py) {
                return Ok(Vec::new());
            }
            batch.bind(py).try_iter()?.map(|item| item.map(Bound::unbind)).collect()
        })
        .await
    }

    async fn process(&self, ctx: &elasticjob::ShardingContext, items: Vec<Py<PyAny>>) -> HandlerResult {
        let (process, ctx) = (self.process.clone(), ctx.clone());
        call_python(move |py| {
            let list = PyList::new(py, items)?;
            process.call1(py, (ShardingContext::new(py, ctx)?, list))?;
            Ok(())
        })
        .await
    }
}

/// One job of this process. Built by `elasticjob.JobScheduler`.
#[pyclass(module = "elasticjob._native")]
pub struct Scheduler {
    inner: Arc<JobScheduler>,
    events: Mutex<broadcast::Receiver<JobEvent>>,
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
                return Err(pyo3::exceptions::PyValueError::new_err(
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
        let events = Mutex::new(inner.events());
        Ok(Scheduler { inner: Arc::new(inner), events })
    }

    /// Registers this instance and starts firing.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let inner = self.inner.clone();
        py.detach(|| runtime().block_on(inner.start())).map_err(to_py)
    }

    /// Runs the job once now on every live instance (one-off jobs' `execute`).
    fn execute_all(&self, py: Python<'_>) -> PyResult<()> {
        let inner = self.inner.clone();
        py.detach(|| runtime().block_on(inner.execute())).map_err(to_py)
    }

    /// Runs this instance's items once, now.
    fn trigger(&self, py: Python<'_>) -> PyResult<()> {
        let inner = self.inner.clone();
        py.detach(|| runtime().block_on(inner.trigger())).map_err(to_py)
    }

    /// Finishes running items and leaves the cluster.
    fn shutdown(&self, py: Python<'_>) {
        let inner = self.inner.clone();
        py.detach(|| runtime().block_on(inner.shutdown()));
    }

    /// The next event as a dict, or None after `timeout` seconds (0 to 86400).
    #[pyo3(signature = (timeout = 1.0))]
    fn next_event<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Option<Bound<'py, PyDict>>> {
        let wait = seconds("timeout", timeout, 0.0, MAX_WAIT_SECONDS)?;
        let event = py.detach(|| {
            let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
            runtime().block_on(async {
                loop {
                    match tokio::time::timeout(wait, events.recv()).await {
                        Ok(Ok(event)) => return Some(event),
                        Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                        _ => return None,
                    }
                }
            })
        });
        event.map(|e| event_dict(py, e)).transpose()
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

fn event_dict(py: Python<'_>, event: JobEvent) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    match event {
        JobEvent::Executed(e) => {
            dict.set_item("type", "execution")?;
            dict.set_item("item", e.item)?;
            dict.set_item("fire_time", e.fire_time)?;
            dict.set_item("instance_id", e.instance_id)?;
            dict.set_item("failover", e.failover)?;
            dict.set_item("started_at", e.started_at)?;
            dict.set_item("finished_at", e.finished_at)?;
            let (success, error) = match e.outcome {
                Outcome::Succeeded => (true, None),
                Outcome::Failed(message) => (false, Some(message)),
                Outcome::TimedOut => (false, Some("timed out".to_string())),
                Outcome::Cancelled(reason) => (false, Some(format!("cancelled: {reason}"))),
            };
            dict.set_item("success", success)?;
            dict.set_item("error", error)?;
        }
        JobEvent::Thrown(e) => {
            dict.set_item("type", "thrown")?;
            dict.set_item("job_name", e.job_name)?;
            dict.set_item("item", e.item)?;
            dict.set_item("fire_time", e.fire_time)?;
            dict.set_item("instance_id", e.instance_id)?;
            dict.set_item("failover", e.failover)?;
            let error = match e.outcome {
                Outcome::Failed(message) => message,
                Outcome::TimedOut => "timed out".to_string(),
                other => format!("{other:?}"),
            };
            dict.set_item("error", error)?;
        }
        JobEvent::Sharded(assignment) => {
            dict.set_item("type", "sharding")?;
            dict.set_item("assignment", assignment)?;
        }
        JobEvent::Misfired { items, fire_time } => {
            dict.set_item("type", "misfire")?;
            dict.set_item("items", items)?;
            dict.set_item("fire_time", fire_time)?;
        }
        JobEvent::Error(message) => {
            dict.set_item("type", "error")?;
            dict.set_item("error", message)?;
        }
        JobEvent::Stopped => dict.set_item("type", "stopped")?,
        JobEvent::StuckItems { items, waited } => {
            dict.set_item("type", "stuck")?;
            dict.set_item("items", items)?;
            dict.set_item("waited", waited.as_secs_f64())?;
        }
    }
    Ok(dict)
}
