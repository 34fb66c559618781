//! Registry classes: where schedulers find ZooKeeper (or the embedded registry).

use elasticjob::{RegistryCenter, ZookeeperOptions};
use pyo3::prelude::*;
use pyo3::PyClassInitializer;
use crate::seconds::{seconds, MAX_REGISTRY_TIMEOUT_SECONDS};
use crate::to_py;

/// Base of the registry classes; schedulers and operators accept any of them.
#[pyclass(subclass, module = "elasticjob._native")]
pub struct Registry {
    pub(crate) center: RegistryCenter,
}

/// A ZooKeeper ensemble: `ZookeeperRegistry("127.0.0.1:2181", "my-namespace")`.
/// Timeouts in seconds: `session_timeout` 0.1 to 600, `connection_timeout`
/// 0.001 to 600; anything else (NaN, infinities, negatives) is a `ValueError`.
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
        let mut options = ZookeeperOptions::new(servers, namespace)
            .session_timeout(seconds("session_timeout", session_timeout, 0.1, MAX_REGISTRY_TIMEOUT_SECONDS)?)
            .connection_timeout(seconds("connection_timeout", connection_timeout, 0.001, MAX_REGISTRY_TIMEOUT_SECONDS)?);
        if let Some(digest) = digest {
            options = options.digest(digest);
        }
        options.validate().map_err(to_py)?;
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
