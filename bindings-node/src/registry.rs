//! Registries: where schedulers and operators find the cluster.

use elasticjob::{RegistryCenter, ZookeeperOptions};
use napi::{Error, Result, Status};
use napi_derive::napi;
use std::time::Duration;

/// A ZooKeeper ensemble or the embedded registry.
#[napi]
pub struct NativeRegistry {
    pub(crate) center: RegistryCenter,
}

#[napi]
impl NativeRegistry {
    /// A ZooKeeper registry; timeouts in milliseconds (ElasticJob's defaults when omitted).
    #[napi(factory)]
    pub fn zookeeper(
        servers: String,
        namespace: String,
        session_timeout_ms: Option<u32>,
        connection_timeout_ms: Option<u32>,
        digest: Option<String>,
    ) -> Result<Self> {
        let mut options = ZookeeperOptions::new(servers, namespace);
        for (field, value) in [("sessionTimeoutMs", session_timeout_ms), ("connectionTimeoutMs", connection_timeout_ms)] {
            if value == Some(0) {
                return Err(Error::new(Status::InvalidArg, format!("invalid {field} `0`: must be positive")));
            }
        }
        if let Some(ms) = session_timeout_ms {
            options = options.session_timeout(Duration::from_millis(ms as u64));
        }
        if let Some(ms) = connection_timeout_ms {
            options = options.connection_timeout(Duration::from_millis(ms as u64));
        }
        if let Some(digest) = digest {
            options = options.digest(digest);
        }
        Ok(NativeRegistry { center: RegistryCenter::zookeeper(options) })
    }

    /// The in-process registry: no server, one process.
    #[napi(factory)]
    pub fn embedded(namespace: String) -> Self {
        NativeRegistry { center: RegistryCenter::embedded(&namespace) }
    }
}
