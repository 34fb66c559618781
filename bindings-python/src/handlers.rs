//! Python callables as the core's handlers: simple jobs, dataflow jobs and
//! listener hooks. Each call runs on one of Tokio's blocking threads with
//! the GIL taken only for the call; an exception becomes the run's failure
//! text in Python's own traceback format.

use crate::context::{ShardingContext, ShardingContexts};
use crate::exit::attach;
use elasticjob::{DataflowJob, HandlerResult, Job};
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::sync::Arc;

/// Two optional Python callables taking a `ShardingContexts`: the before
/// and after hooks of a listener (plain or distributed-once).
#[derive(Clone)]
pub(crate) struct PythonHooks {
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

pub(crate) fn hooks(before: Option<Py<PyAny>>, after: Option<Py<PyAny>>) -> PythonHooks {
    PythonHooks { before: before.map(Arc::new), after: after.map(Arc::new) }
}

/// A plain listener as the Python layer hands it over: (before, after).
pub(crate) type PlainHooks = (Option<Py<PyAny>>, Option<Py<PyAny>>);

/// A distributed-once listener as the Python layer hands it over:
/// (before, after, started timeout ms, completed timeout ms).
pub(crate) type OnceHooks = (Option<Py<PyAny>>, Option<Py<PyAny>>, i64, i64);

/// The text of a Python exception as Python prints it: the traceback, then
/// `Type: message` (with chained exceptions), so logs and records read as
/// any Python failure does.
pub(crate) fn describe(py: Python<'_>, error: PyErr) -> String {
    let formatted = py.import("traceback").and_then(|traceback| {
        let lines = traceback.call_method1("format_exception", (error.get_type(py), error.value(py), error.traceback(py)))?;
        lines.extract::<Vec<String>>()
    });
    match formatted {
        Ok(lines) => lines.concat().trim_end().to_string(),
        Err(_) => error.to_string(),
    }
}

/// Calls a Python callable on a blocking thread, holding the GIL only there.
async fn call_python<T, F>(f: F) -> HandlerResult<T>
where
    T: Send + 'static,
    F: FnOnce(Python<'_>) -> PyResult<T> + Send + 'static,
{
    let joined = tokio::task::spawn_blocking(move || attach(|py| f(py).map_err(|e| describe(py, e)))).await;
    match joined {
        Ok(Some(result)) => result.map_err(Into::into),
        Ok(None) => Err("not called: the Python interpreter is exiting".into()),
        Err(e) => Err(format!("handler thread failed: {e}").into()),
    }
}

pub(crate) fn simple_job(execute: Py<PyAny>) -> Job {
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
pub(crate) struct PythonDataflow {
    pub(crate) fetch: Arc<Py<PyAny>>,
    pub(crate) process: Arc<Py<PyAny>>,
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
