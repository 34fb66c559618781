//! A Python callable as a sharding strategy. The core calls it on a
//! blocking thread (leader only) and checks its answer; here we only take
//! the GIL, convert the arguments and the returned dict, and turn an
//! exception or a wrong type into the strategy's error.

use crate::handlers::describe;
use elasticjob::{Assignment, HandlerError, ShardingStrategy};
use pyo3::prelude::*;

/// `callable(instances: list[str], total: int, job_name: str) -> dict[str, list[int]]`.
pub(crate) struct PythonStrategy(pub(crate) Py<PyAny>);

impl ShardingStrategy for PythonStrategy {
    fn sharding(&self, instances: &[String], total: u32, job_name: &str) -> Result<Assignment, HandlerError> {
        crate::exit::attach(|py| {
            let answer = self.0.call1(py, (instances.to_vec(), total, job_name)).map_err(|e| describe(py, e))?;
            answer.extract::<Assignment>(py).map_err(|_| {
                let shown = answer.bind(py).repr().map(|r| r.to_string()).unwrap_or_default();
                format!("returned {shown}, not a dict of instance id to a list of items").into()
            })
        })
        .unwrap_or_else(|| Err("not called: the Python interpreter is exiting".into()))
    }
}
