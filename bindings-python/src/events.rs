//! The core's events as dicts: `type` names the Python event class and the
//! other keys are its fields (`elasticjob/_results.py` builds the
//! dataclasses), so the conversion has one place on each side.

use elasticjob::{Execution, JobEvent};
use pyo3::prelude::*;
use pyo3::types::PyDict;

pub(crate) fn event_dict(py: Python<'_>, event: JobEvent) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    match event {
        JobEvent::Executed(e) => {
            dict.set_item("type", "execution")?;
            execution(&dict, e)?;
        }
        JobEvent::Thrown(e) => {
            dict.set_item("type", "thrown")?;
            execution(&dict, e)?;
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
            dict.set_item("message", message)?;
        }
        JobEvent::Stopped => dict.set_item("type", "stopped")?,
        JobEvent::StuckItems { items, waited } => {
            dict.set_item("type", "stuck")?;
            dict.set_item("items", items)?;
            dict.set_item("waited", waited.as_secs_f64())?;
        }
        // An event kind newer than this binding: reported, not dropped.
        other => {
            dict.set_item("type", "error")?;
            dict.set_item("message", format!("event not known to this binding: {other:?}"))?;
        }
    }
    Ok(dict)
}

/// The fields of one finished run; `error` is the outcome's text unless it succeeded.
fn execution(dict: &Bound<'_, PyDict>, e: Execution) -> PyResult<()> {
    let outcome = e.outcome.kind();
    let error = (!e.outcome.is_success()).then(|| e.outcome.to_string());
    dict.set_item("job_name", e.job_name)?;
    dict.set_item("item", e.item)?;
    dict.set_item("fire_time", e.fire_time)?;
    dict.set_item("instance_id", e.instance_id)?;
    dict.set_item("failover", e.failover)?;
    dict.set_item("fencing_token", e.fencing_token)?;
    dict.set_item("attempt", e.attempt)?;
    dict.set_item("started_at", e.started_at)?;
    dict.set_item("finished_at", e.finished_at)?;
    dict.set_item("outcome", outcome)?;
    dict.set_item("error", error)?;
    dict.set_item("output", e.output)
}
