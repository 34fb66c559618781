//! What the multi-process cluster tests share: a ZooKeeper, a ledger and
//! Rust worker processes started against them.

use cluster_tests::ledger::{self, Entry};
use cluster_tests::workers::Worker;
use std::path::{Path, PathBuf};
use std::process::Command;
use zk_harness::ZkServer;

/// The workers' registry session timeout.
pub const SESSION_TIMEOUT_MS: i64 = 2000;

/// A ZooKeeper of its own and a ledger for one test's workers.
pub struct Setup {
    zk: ZkServer,
    dir: tempfile::TempDir,
    namespace: String,
}

impl Setup {
    pub fn new(name: &str) -> Setup {
        Setup { zk: ZkServer::start(), dir: tempfile::tempdir().unwrap(), namespace: format!("cluster-{name}") }
    }

    /// An operator on the workers' namespace.
    #[allow(dead_code)] // Not every test binary operates its job.
    pub fn operator(&self) -> elasticjob::JobOperator {
        let options = elasticjob::registry::ZookeeperOptions::new(self.zk.connect_string(), &self.namespace);
        elasticjob::JobOperator::new(elasticjob::RegistryCenter::zookeeper(options))
    }

    /// The execution ledger every worker appends to.
    pub fn ledger(&self) -> PathBuf {
        self.dir.path().join("ledger.jsonl")
    }

    /// Starts a `rust-worker` process on the job (`extra`: more flags) and waits until it is ready.
    pub fn worker(&self, name: &str, job: &str, items: u32, cron: &str, extra: &[(&str, &str)]) -> Worker {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rust-worker"));
        // Scheduler decisions go to the test log, to explain a failure.
        command.env("ELASTICJOB_LOG", "elasticjob=info,zookeeper_client=warn");
        command
            .args(["--zk", &self.zk.connect_string()])
            .args(["--namespace", &self.namespace])
            .args(["--job", job])
            .args(["--items", &items.to_string()])
            .args(["--cron", cron])
            .args(["--ledger", self.ledger().to_str().unwrap()])
            .args(["--session-timeout-ms", &SESSION_TIMEOUT_MS.to_string()]);
        for (k, v) in extra {
            command.arg(format!("--{k}")).arg(v);
        }
        Worker::spawn(name, command)
    }
}

/// The ledger's entries of one job.
pub fn entries(path: &Path, job: &str) -> Vec<Entry> {
    ledger::read(path).into_iter().filter(|e| e.job == job).collect()
}

