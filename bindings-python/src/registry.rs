//! Registry classes: where schedulers find ZooKeeper (or the embedded registry).

use crate::errors::to_py;
use crate::seconds::{seconds, MAX_REGISTRY_TIMEOUT_SECONDS};
use elasticjob::{RegistryCenter, ZookeeperOptions};
use pyo3::prelude::*;
use pyo3::PyClassInitializer;

/// Base of the registry classes; schedulers and operators accept any of them.
#[pyclass(subclass, frozen, module = "elasticjob")]
pub struct Registry {
    pub(crate) center: RegistryCenter,
}

/// A ZooKeeper ensemble: `ZookeeperRegistry("127.0.0.1:2181", "my-namespace")`.
///
/// Timeouts in seconds: `session_timeout` 0.1 to 600; `connection_timeout`
/// (how long connecting may take before it fails with `RegistryUnavailable`)
/// 0.001 to 600, or None for the core's default. Anything else (NaN,
/// infinities, negatives) is a `ConfigError`.
#[pyclass(extends = Registry, frozen, module = "elasticjob")]
pub struct ZookeeperRegistry;

#[pymethods]
impl ZookeeperRegistry {
    #[new]
    #[pyo3(signature = (servers, namespace, session_timeout = 60.0, connection_timeout = None, digest = None))]
    fn new(
        servers: String,
        namespace: String,
        session_timeout: f64,
        connection_timeout: Option<f64>,
        digest: Option<String>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let mut options = ZookeeperOptions::new(servers, namespace)
            .session_timeout(seconds("session_timeout", session_timeout, 0.1, MAX_REGISTRY_TIMEOUT_SECONDS)?);
        if let Some(timeout) = connection_timeout {
            options = options.connection_timeout(seconds("connection_timeout", timeout, 0.001, MAX_REGISTRY_TIMEOUT_SECONDS)?);
        }
        if let Some(digest) = digest {
            options = options.digest(digest);
        }
        options.validate().map_err(to_py)?;
        let registry = Registry { center: RegistryCenter::zookeeper(options) };
        Ok(PyClassInitializer::from(registry).add_subclass(ZookeeperRegistry))
    }
}

/// The in-process registry: no server, one process (demos, tests).
#[pyclass(extends = Registry, frozen, module = "elasticjob")]
pub struct EmbeddedRegistry;

#[pymethods]
impl EmbeddedRegistry {
    #[new]
    #[pyo3(signature = (namespace = "elasticjob"))]
    fn new(namespace: &str) -> PyClassInitializer<Self> {
        let registry = Registry { center: RegistryCenter::embedded(namespace) };
        PyClassInitializer::from(registry).add_subclass(EmbeddedRegistry)
    }
}
