//! A registry client of the test's own, connected straight to ZooKeeper
//! (never through a worker's proxy): it writes what an operator would
//! (config, triggers, `DISABLED`) while a worker is cut off, and walks the
//! namespace to count znodes for the "no znode leak" check.

use elasticjob::registry::{Registry, RegistryCenter, ZookeeperOptions};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// A blocking wrapper over one registry session.
pub struct Direct {
    rt: tokio::runtime::Runtime,
    center: RegistryCenter,
    reg: Arc<dyn Registry>,
}

impl Direct {
    /// Connects to `zk` (host:port list) under `namespace`.
    pub fn connect(zk: &str, namespace: &str) -> Direct {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let center = RegistryCenter::zookeeper(ZookeeperOptions::new(zk, namespace).session_timeout(Duration::from_secs(10)));
        let reg = rt.block_on(center.session()).unwrap_or_else(|e| panic!("direct client cannot connect to {zk}: {e}"));
        Direct { rt, center, reg }
    }

    /// A node's data, `None` if missing.
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        self.rt.block_on(self.reg.get(path)).unwrap_or_else(|e| panic!("get {path}: {e}")).map(|(d, _)| d)
    }

    /// A node's data as text, `None` if missing.
    pub fn get_string(&self, path: &str) -> Option<String> {
        self.get(path).map(|d| String::from_utf8_lossy(&d).into_owned())
    }

    /// Sets (creating with parents) a persistent node.
    pub fn put(&self, path: &str, data: &[u8]) {
        self.rt.block_on(self.reg.put(path, data)).unwrap_or_else(|e| panic!("put {path}: {e}"))
    }

    /// Children names, empty if the node is missing.
    pub fn children(&self, path: &str) -> Vec<String> {
        self.rt.block_on(self.reg.children(path)).unwrap_or_default()
    }

    /// Every znode under the namespace.
    pub fn count(&self) -> ZnodeCount {
        let reg = self.reg.clone();
        self.rt.block_on(async move {
            let mut paths = BTreeSet::new();
            let mut level = vec!["/".to_string()];
            while !level.is_empty() {
                let mut next = Vec::new();
                for chunk in level.chunks(128) {
                    let mut set = tokio::task::JoinSet::new();
                    for path in chunk {
                        let (reg, path) = (reg.clone(), path.clone());
                        set.spawn(async move {
                            let children = reg.children(&path).await.unwrap_or_default();
                            (path, children)
                        });
                    }
                    while let Some(done) = set.join_next().await {
                        let (path, children) = done.expect("walk task");
                        for child in children {
                            let full = if path == "/" { format!("/{child}") } else { format!("{path}/{child}") };
                            paths.insert(full.clone());
                            next.push(full);
                        }
                    }
                }
                level = next;
            }
            ZnodeCount { paths }
        })
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        let center = self.center.clone();
        self.rt.block_on(center.close());
    }
}

/// Counts the znodes under `namespace` on `zk`.
pub fn zk_count(zk: &str, namespace: &str) -> ZnodeCount {
    Direct::connect(zk, namespace).count()
}

/// The znodes under a namespace (paths relative to it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZnodeCount {
    /// Every path.
    pub paths: BTreeSet<String>,
}

/// Whether a path is a node that comes and goes with fires, sessions and
/// operator requests (running marks, instances, triggers, failover and
/// sharding flags, election latches) rather than lasting structure.
fn transient(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    ["running", "failover", "failovering", "misfire", "necessary", "processing"].contains(&last)
        || ["/instances/", "/trigger/", "/leader/failover/items/", "/leader/election/latch/", "/guarantee/"]
            .iter()
            .any(|p| path.contains(p))
        || path.ends_with("/leader/election/instance")
        // Containers created by their first request and kept, as Java keeps them.
        || ["/trigger", "/leader/failover", "/leader/failover/items"].iter().any(|c| path.ends_with(c))
}

impl ZnodeCount {
    /// All znodes.
    pub fn total(&self) -> usize {
        self.paths.len()
    }

    /// The lasting structure: every znode but the transient ones.
    pub fn stable(&self) -> BTreeSet<&str> {
        self.paths.iter().map(String::as_str).filter(|p| !transient(p)).collect()
    }

    /// Children of `dir` (relative to the namespace) that exist.
    pub fn under(&self, dir: &str) -> Vec<&str> {
        let prefix = format!("{dir}/");
        self.paths
            .iter()
            .filter_map(|p| p.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('/'))
            .collect()
    }

    /// What `later` has in its lasting structure that `self` has not, and
    /// what it lost: both empty when nothing leaked.
    pub fn leaked_since(&self, earlier: &ZnodeCount) -> (Vec<String>, Vec<String>) {
        let (now, then) = (self.stable(), earlier.stable());
        (
            now.difference(&then).map(|s| s.to_string()).collect(),
            then.difference(&now).map(|s| s.to_string()).collect(),
        )
    }
}
