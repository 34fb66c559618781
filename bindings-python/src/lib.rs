//! `elasticjob._native`: the Python binding. A thin layer: it converts types
//! and errors, runs Python handlers on blocking threads with the GIL held
//! only around the call, and leaves every decision to the Rust core.

mod config;
mod logging;
mod metrics;
mod operator;
mod registry;
mod scheduler;
mod seconds;
mod signal;
mod strategy;

use pyo3::prelude::*;

pyo3::create_exception!(_native, ElasticJobError, pyo3::exceptions::PyRuntimeError, "A scheduler or registry failure.");

pub(crate) use elasticjob::runtime::shared as runtime;

/// Maps a core error to Python: bad input is a `ValueError`, the rest an `ElasticJobError`.
pub(crate) fn to_py(error: elasticjob::Error) -> PyErr {
    match error {
        elasticjob::Error::InvalidConfig { .. } => pyo3::exceptions::PyValueError::new_err(error.to_string()),
        other => ElasticJobError::new_err(other.to_string()),
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install();
    m.add("ElasticJobError", m.py().get_type::<ElasticJobError>())?;
    m.add_class::<config::JobConfig>()?;
    m.add_class::<scheduler::ShardingContext>()?;
    m.add_class::<scheduler::ShardingContexts>()?;
    m.add_class::<signal::CancelSignal>()?;
    m.add_class::<scheduler::Scheduler>()?;
    m.add_class::<metrics::Metrics>()?;
    m.add_class::<metrics::Histogram>()?;
    m.add_class::<registry::Registry>()?;
    m.add_class::<registry::ZookeeperRegistry>()?;
    m.add_class::<registry::EmbeddedRegistry>()?;
    m.add_class::<operator::Operator>()?;
    Ok(())
}
