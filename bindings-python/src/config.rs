//! `JobConfig`: the core's configuration with snake_case keyword arguments.
//! Frozen, because it is validated as a whole when built: a field set
//! afterwards would skip the checks. `replace` builds a changed copy through
//! the same checks (as `dataclasses.replace` does).

use crate::errors::to_py;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::BTreeMap;

/// A job's configuration; every keyword mirrors an ElasticJob field.
#[pyclass(frozen, module = "elasticjob", from_py_object)]
#[derive(Clone)]
pub struct JobConfig {
    pub(crate) inner: elasticjob::JobConfig,
}

#[pymethods]
impl JobConfig {
    #[new]
    #[pyo3(signature = (
        job_name, cron = "", sharding_total_count = 1, *,
        sharding_item_parameters = "", job_parameter = "",
        failover = false, misfire = true, monitor_execution = true,
        max_time_diff_seconds = -1, reconcile_interval_minutes = 10,
        job_sharding_strategy_type = None, job_error_handler_type = None,
        job_executor_service_handler_type = None,
        description = "", props = None, disabled = false, overwrite = false,
        label = None, static_sharding = false, time_zone = None
    ))]
    // Written out because PyO3 shows a negative default as `...`.
    #[pyo3(text_signature = "(job_name, cron='', sharding_total_count=1, *, sharding_item_parameters='', \
        job_parameter='', failover=False, misfire=True, monitor_execution=True, max_time_diff_seconds=-1, \
        reconcile_interval_minutes=10, job_sharding_strategy_type=None, job_error_handler_type=None, \
        job_executor_service_handler_type=None, description='', props=None, disabled=False, overwrite=False, \
        label=None, static_sharding=False, time_zone=None)")]
    #[allow(clippy::too_many_arguments)]
    fn new(
        job_name: &str,
        cron: &str,
        sharding_total_count: i64,
        sharding_item_parameters: &str,
        job_parameter: &str,
        failover: bool,
        misfire: bool,
        monitor_execution: bool,
        max_time_diff_seconds: i32,
        reconcile_interval_minutes: i32,
        job_sharding_strategy_type: Option<String>,
        job_error_handler_type: Option<String>,
        job_executor_service_handler_type: Option<String>,
        description: &str,
        props: Option<BTreeMap<String, String>>,
        disabled: bool,
        overwrite: bool,
        label: Option<String>,
        static_sharding: bool,
        time_zone: Option<String>,
    ) -> PyResult<Self> {
        let count = elasticjob::JobConfig::checked_sharding_total_count(sharding_total_count).map_err(to_py)?;
        let mut inner = elasticjob::JobConfig::new(job_name, cron, count);
        inner.sharding_item_parameters = sharding_item_parameters.to_string();
        inner.job_parameter = job_parameter.to_string();
        inner.failover = failover;
        inner.misfire = misfire;
        inner.monitor_execution = monitor_execution;
        inner.max_time_diff_seconds = max_time_diff_seconds;
        inner.reconcile_interval_minutes = reconcile_interval_minutes;
        inner.job_sharding_strategy_type = job_sharding_strategy_type;
        inner.job_error_handler_type = job_error_handler_type;
        inner.job_executor_service_handler_type = job_executor_service_handler_type;
        inner.description = description.to_string();
        inner.props = props.unwrap_or_default();
        inner.disabled = disabled;
        inner.overwrite = overwrite;
        inner.label = label;
        inner.static_sharding = static_sharding;
        inner.time_zone = time_zone;
        inner.validate().map_err(to_py)?;
        Ok(JobConfig { inner })
    }

    /// A copy with some fields changed, e.g. `config.replace(cron="0 * * * * ?")`,
    /// validated as a new configuration is. An unknown field is a `TypeError`.
    #[pyo3(signature = (**changes))]
    fn replace<'py>(slf: &Bound<'py, Self>, changes: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        let kwargs = slf.get().keywords(slf.py())?;
        for (field, value) in changes.into_iter().flatten() {
            if !kwargs.contains(&field)? {
                return Err(PyTypeError::new_err(format!("replace() got an unexpected keyword argument {field}")));
            }
            kwargs.set_item(field, value)?;
        }
        slf.get_type().call((), Some(&kwargs))
    }

    /// Parses the YAML of a `config` node (ElasticJob's keys).
    #[staticmethod]
    fn from_yaml(yaml: &str) -> PyResult<Self> {
        elasticjob::JobConfig::from_yaml(yaml).map(|inner| JobConfig { inner }).map_err(to_py)
    }

    /// The YAML stored in the registry.
    fn to_yaml(&self) -> PyResult<String> {
        self.inner.to_yaml().map_err(to_py)
    }

    #[getter]
    fn job_name(&self) -> String {
        self.inner.job_name.clone()
    }
    #[getter]
    fn cron(&self) -> String {
        self.inner.cron.clone()
    }
    #[getter]
    fn sharding_total_count(&self) -> u32 {
        self.inner.sharding_total_count
    }
    #[getter]
    fn sharding_item_parameters(&self) -> String {
        self.inner.sharding_item_parameters.clone()
    }
    #[getter]
    fn job_parameter(&self) -> String {
        self.inner.job_parameter.clone()
    }
    #[getter]
    fn failover(&self) -> bool {
        self.inner.failover
    }
    #[getter]
    fn misfire(&self) -> bool {
        self.inner.misfire
    }
    #[getter]
    fn monitor_execution(&self) -> bool {
        self.inner.monitor_execution
    }
    #[getter]
    fn overwrite(&self) -> bool {
        self.inner.overwrite
    }
    #[getter]
    fn disabled(&self) -> bool {
        self.inner.disabled
    }
    #[getter]
    fn time_zone(&self) -> Option<String> {
        self.inner.time_zone.clone()
    }
    #[getter]
    fn props(&self) -> BTreeMap<String, String> {
        self.inner.props.clone()
    }
    #[getter]
    fn max_time_diff_seconds(&self) -> i32 {
        self.inner.max_time_diff_seconds
    }
    #[getter]
    fn reconcile_interval_minutes(&self) -> i32 {
        self.inner.reconcile_interval_minutes
    }
    #[getter]
    fn job_sharding_strategy_type(&self) -> Option<String> {
        self.inner.job_sharding_strategy_type.clone()
    }
    #[getter]
    fn job_error_handler_type(&self) -> Option<String> {
        self.inner.job_error_handler_type.clone()
    }
    #[getter]
    fn job_executor_service_handler_type(&self) -> Option<String> {
        self.inner.job_executor_service_handler_type.clone()
    }
    #[getter]
    fn description(&self) -> String {
        self.inner.description.clone()
    }
    #[getter]
    fn label(&self) -> Option<String> {
        self.inner.label.clone()
    }
    #[getter]
    fn static_sharding(&self) -> bool {
        self.inner.static_sharding
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        format!(
            "JobConfig(job_name={:?}, cron={:?}, sharding_total_count={})",
            self.inner.job_name, self.inner.cron, self.inner.sharding_total_count
        )
    }
}

impl JobConfig {
    /// Every field as the constructor's keyword arguments.
    fn keywords<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.inner;
        let kwargs = PyDict::new(py);
        kwargs.set_item("job_name", &c.job_name)?;
        kwargs.set_item("cron", &c.cron)?;
        kwargs.set_item("sharding_total_count", c.sharding_total_count)?;
        kwargs.set_item("sharding_item_parameters", &c.sharding_item_parameters)?;
        kwargs.set_item("job_parameter", &c.job_parameter)?;
        kwargs.set_item("failover", c.failover)?;
        kwargs.set_item("misfire", c.misfire)?;
        kwargs.set_item("monitor_execution", c.monitor_execution)?;
        kwargs.set_item("max_time_diff_seconds", c.max_time_diff_seconds)?;
        kwargs.set_item("reconcile_interval_minutes", c.reconcile_interval_minutes)?;
        kwargs.set_item("job_sharding_strategy_type", &c.job_sharding_strategy_type)?;
        kwargs.set_item("job_error_handler_type", &c.job_error_handler_type)?;
        kwargs.set_item("job_executor_service_handler_type", &c.job_executor_service_handler_type)?;
        kwargs.set_item("description", &c.description)?;
        kwargs.set_item("props", &c.props)?;
        kwargs.set_item("disabled", c.disabled)?;
        kwargs.set_item("overwrite", c.overwrite)?;
        kwargs.set_item("label", &c.label)?;
        kwargs.set_item("static_sharding", c.static_sharding)?;
        kwargs.set_item("time_zone", &c.time_zone)?;
        Ok(kwargs)
    }
}
