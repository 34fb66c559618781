//! Registry classes: where schedulers find ZooKeeper (or the embedded registry).

use elasticjob::{RegistryCenter, ZookeeperOptions};
use pyo3::prelude::*;
use pyo3::PyClassInitializer;
use std::time::Duration;

/// Base of the registry classes; schedulers and operators accept any of them.
#[pyclass(subclass, module = "elasticjob._native")]
pub struct Registry {
    pub(crate) center: RegistryCenter,
}

/// A ZooKeeper ensemble: `ZookeeperRegistry("127.0.0.1:2181", "my-namespace")`.
#[pyclass(extends = Registry, module = "elasticjob._native")]
pub struct ZookeeperRegistry;

#[pymethods]
impl ZookeeperRegistry {
    #[new]
    #[pyo3(signature = (servers, namespace, session_timeout = 60.0, connection_timeout = 15.0, digest = None))]
    fn new(
        servers: String,
        namespace: String,
        session_timeout: f64,
        connection_timeout: f64,
        digest: Option<String>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let seconds = |field: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(Duration::from_secs_f64(value))
            } else {
                Err(pyo3::exceptions::PyValueError::new_err(format!("invalid {field} `{value}`: must be a positive number of seconds")))
            }
        };
        let mut options = ZookeeperOptions::new(servers, namespace)
            .session_timeout(seconds("session_timeout", session_timeout)?)
            .connection_timeout(seconds("connection_timeout", connection_timeout)?);
        if let Some(digest) = digest {
            options = options.digest(digest);
        }
        Ok(PyClassInitializer::from(Registry { center: RegistryCenter::zookeeper(options) }).add_subclass(ZookeeperRegistry))
    }
}

/// The in-process registry: no server, one process (demos, tests).
#[pyclass(extends = Registry, module = "elasticjob._native")]
pub struct EmbeddedRegistry;

#[pymethods]
impl EmbeddedRegistry {
    #[new]
    #[pyo3(signature = (namespace = "elasticjob".to_string()))]
    fn new(namespace: String) -> PyClassInitializer<Self> {
        PyClassInitializer::from(Registry { center: RegistryCenter::embedded(&namespace) }).add_subclass(EmbeddedRegistry)
    }
}
