//! Who this process is in the cluster: the instance id `{ip}@-@{pid}` that
//! ElasticJob uses, and the content of its `instances/{id}` node.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Separator inside instance ids, as in Java ElasticJob.
pub const DELIMITER: &str = "@-@";

/// The identity of one scheduler instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId {
    id: String,
    ip: String,
}

impl InstanceId {
    /// This process: the host's IP (or `ELASTICJOB_IP` if set) and its pid.
    pub fn local() -> Self {
        let ip = local_ip();
        InstanceId { id: format!("{ip}{DELIMITER}{}", std::process::id()), ip }
    }

    /// Parses an id of the form `{ip}@-@{rest}`; `rest` is usually the pid.
    pub fn parse(id: &str) -> Result<Self> {
        let (ip, rest) = id
            .split_once(DELIMITER)
            .ok_or_else(|| Error::invalid("jobInstanceId", id, "must look like `{ip}@-@{pid}`"))?;
        if ip.is_empty() || rest.is_empty() || id.contains('/') {
            return Err(Error::invalid("jobInstanceId", id, "must look like `{ip}@-@{pid}` without `/`"));
        }
        Ok(InstanceId { id: id.to_string(), ip: ip.to_string() })
    }

    /// The full id.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The host part.
    pub fn ip(&self) -> &str {
        &self.ip
    }
}

impl std::fmt::Display for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

/// The IP of the server the instance runs on, as Java ElasticJob picks it:
/// the first non-loopback IPv4 address, or loopback if there is none.
pub fn local_ip() -> String {
    if let Ok(ip) = std::env::var("ELASTICJOB_IP") {
        if !ip.trim().is_empty() {
            return ip.trim().to_string();
        }
    }
    if_addrs::get_if_addrs()
        .ok()
        .and_then(|addrs| {
            addrs
                .into_iter()
                .filter(|a| !a.is_loopback())
                .find_map(|a| match a.ip() {
                    std::net::IpAddr::V4(v4) => Some(v4.to_string()),
                    std::net::IpAddr::V6(_) => None,
                })
        })
        .unwrap_or_else(|| "127.0.0.1".to_string())
}

/// The YAML stored in `instances/{id}` (ElasticJob's `JobInstance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceNode {
    /// The instance id.
    pub job_instance_id: String,
    /// Free-form labels (ElasticJob's `label` config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
    /// The host IP.
    pub server_ip: String,
}

impl InstanceNode {
    /// The node content for an instance.
    pub fn new(id: &InstanceId, labels: Option<String>) -> Self {
        InstanceNode { job_instance_id: id.as_str().to_string(), labels, server_ip: id.ip().to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_java_style_ids() {
        let id = InstanceId::parse("192.168.1.7@-@4242").unwrap();
        assert_eq!((id.ip(), id.as_str()), ("192.168.1.7", "192.168.1.7@-@4242"));
        let err = InstanceId::parse("no-delimiter").unwrap_err().to_string();
        assert!(err.contains("jobInstanceId") && err.contains("no-delimiter"), "{err}");
        assert!(InstanceId::parse("a@-@b/c").is_err());
    }

    #[test]
    fn local_id_has_ip_and_pid() {
        let id = InstanceId::local();
        assert!(id.as_str().ends_with(&format!("@-@{}", std::process::id())));
        assert_eq!(InstanceId::parse(id.as_str()).unwrap(), id);
    }
}
