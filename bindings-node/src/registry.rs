//! Registries: where schedulers and operators find the cluster.

use elasticjob::{RegistryCenter, ZookeeperOptions};
use napi::{Error, Result, Status};
use crate::to_js;
use napi_derive::napi;
use std::time::Duration;

/// The longest registry timeout, as the core allows: ten minutes.
const MAX_TIMEOUT_MS: f64 = 600_000.0;

/// `value` milliseconds of option `name`, checked before it becomes a
/// `Duration` (which panics on NaN, infinities and negatives).
fn milliseconds(name: &str, value: f64, min: f64) -> Result<Duration> {
    if value.is_finite() && (min..=MAX_TIMEOUT_MS).contains(&value) {
        Ok(Duration::from_secs_f64(value / 1000.0))
    } else {
        Err(Error::new(
            Status::InvalidArg,
            format!("invalid {name} `{value}`: must be a finite number of milliseconds from {min} to {MAX_TIMEOUT_MS}"),
        ))
    }
}

/// A ZooKeeper ensemble or the embedded registry.
#[napi]
pub struct NativeRegistry {
    pub(crate) center: RegistryCenter,
}

#[napi]
impl NativeRegistry {
    /// A ZooKeeper registry; timeouts in milliseconds (ElasticJob's defaults
    /// when omitted): `sessionTimeoutMs` 100 to 600000, `connectionTimeoutMs`
    /// 1 to 600000. NaN, infinities and values out of range are errors
    /// naming the option (`index.js` checks first and throws RangeError).
    #[napi(factory)]
    pub fn zookeeper(
        servers: String,
        namespace: String,
        session_timeout_ms: Option<f64>,
        connection_timeout_ms: Option<f64>,
        digest: Option<String>,
    ) -> Result<Self> {
        let mut options = ZookeeperOptions::new(servers, namespace);
        if let Some(ms) = session_timeout_ms {
            options = options.session_timeout(milliseconds("sessionTimeoutMs", ms, 100.0)?);
        }
        if let Some(ms) = connection_timeout_ms {
            options = options.connection_timeout(milliseconds("connectionTimeoutMs", ms, 1.0)?);
        }
        if let Some(digest) = digest {
            options = options.digest(digest);
        }
        options.validate().map_err(to_js)?;
        Ok(NativeRegistry { center: RegistryCenter::zookeeper(options) })
    }

    /// The in-process registry: no server, one process.
    #[napi(factory)]
    pub fn embedded(namespace: String) -> Self {
        NativeRegistry { center: RegistryCenter::embedded(&namespace) }
    }
}
