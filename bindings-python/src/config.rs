//! `JobConfig`: the core's configuration with snake_case keyword arguments.

use crate::to_py;
use pyo3::prelude::*;
use std::collections::BTreeMap;

/// A job's configuration; every keyword mirrors an ElasticJob field.
#[pyclass(module = "elasticjob._native", from_py_object)]
#[derive(Clone)]
pub struct JobConfig {
    pub(crate) inner: elasticjob::JobConfig,
}

#[pymethods]
impl JobConfig {
    #[new]
    #[pyo3(signature = (
        job_name, cron = String::new(), sharding_total_count = 1, *,
        sharding_item_parameters = String::new(), job_parameter = String::new(),
        failover = false, misfire = true, monitor_execution = true,
        max_time_diff_seconds = -1, reconcile_interval_minutes = 10,
        job_sharding_strategy_type = None, job_error_handler_type = None,
        job_executor_service_handler_type = None,
        description = String::new(), props = None, disabled = false, overwrite = false,
        label = None, static_sharding = false, time_zone = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        job_name: String,
        cron: String,
        sharding_total_count: i32,
        sharding_item_parameters: String,
        job_parameter: String,
        failover: bool,
        misfire: bool,
        monitor_execution: bool,
        max_time_diff_seconds: i32,
        reconcile_interval_minutes: i32,
        job_sharding_strategy_type: Option<String>,
        job_error_handler_type: Option<String>,
        job_executor_service_handler_type: Option<String>,
        description: String,
        props: Option<BTreeMap<String, String>>,
        disabled: bool,
        overwrite: bool,
        label: Option<String>,
        static_sharding: bool,
        time_zone: Option<String>,
    ) -> PyResult<Self> {
        let mut inner = elasticjob::JobConfig::new(&job_name, &cron, sharding_total_count);
        inner.sharding_item_parameters = sharding_item_parameters;
        inner.job_parameter = job_parameter;
        inner.failover = failover;
        inner.misfire = misfire;
        inner.monitor_execution = monitor_execution;
        inner.max_time_diff_seconds = max_time_diff_seconds;
        inner.reconcile_interval_minutes = reconcile_interval_minutes;
        inner.job_sharding_strategy_type = job_sharding_strategy_type;
        inner.job_error_handler_type = job_error_handler_type;
        inner.job_executor_service_handler_type = job_executor_service_handler_type;
        inner.description = description;
        inner.props = props.unwrap_or_default();
        inner.disabled = disabled;
        inner.overwrite = overwrite;
        inner.label = label;
        inner.static_sharding = static_sharding;
        inner.time_zone = time_zone;
        inner.validate().map_err(to_py)?;
        Ok(JobConfig { inner })
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
    fn sharding_total_count(&self) -> i32 {
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
