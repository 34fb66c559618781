//! `elasticjob._native`: the Python binding. A thin layer: it converts types
//! and errors, runs Python handlers on blocking threads with the GIL held
//! only around the call, hands every core operation to Python as a `Call`
//! (waited for by the sync API, awaited by the asyncio one), and leaves
//! every decision to the Rust core.

mod call;
mod config;
mod context;
mod errors;
mod events;
mod exit;
mod handlers;
mod logging;
mod metrics;
mod operator;
mod registry;
mod scheduler;
mod seconds;
mod signal;
mod strategy;

use pyo3::prelude::*;

pub(crate) use elasticjob::runtime::shared as runtime;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(exit::_exiting, m)?)?;
    m.add_class::<call::Call>()?;
    m.add_class::<config::JobConfig>()?;
    m.add_class::<context::ShardingContext>()?;
    m.add_class::<context::ShardingContexts>()?;
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
