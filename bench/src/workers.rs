//! Starting measured worker processes the same way in every language.
//!
//! Our workers (Rust, Python, Node, C) get their job from a YAML file, so
//! all four run exactly the same configuration ([`bench_config`]); the Java
//! ElasticJob worker takes the same settings as flags.

use cluster_tests::workers::Worker;
use elasticjob::JobConfig;
use mixed_language_tests::{start_with, Lang, WorkerSpec};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The job name every measurement uses.
pub const JOB: &str = "bench";

/// `maxTimeDiffSeconds` of every measured job: the clock check is on, so
/// each cron fire pays for it as it does in a cluster that cares.
pub const MAX_TIME_DIFF_SECONDS: i32 = 10;

/// Session timeout of every measured worker, in ms.
pub const SESSION_TIMEOUT_MS: u32 = 2000;

/// The configuration every measurement runs unless it says otherwise:
/// failover and misfire on, the clock check on, and `overwrite` so that a
/// namespace's first worker decides it.
pub fn bench_config(job: &str, cron: &str, items: u32) -> JobConfig {
    let mut config = JobConfig::new(job, cron, items);
    config.failover = true;
    config.misfire = true;
    config.overwrite = true;
    config.max_time_diff_seconds = MAX_TIME_DIFF_SECONDS;
    config
}

/// The language's name as the JSON and the table write it.
pub fn lang_name(lang: Lang) -> String {
    format!("{lang:?}").to_lowercase()
}

/// Why `lang` cannot be measured in this checkout, if it cannot (its
/// binding or worker is not built; `scripts/bench` builds them all).
pub fn missing(lang: Lang) -> Option<&'static str> {
    match lang {
        Lang::Python if std::env::var_os("ELASTICJOB_PYTHON").is_none() => Some("ELASTICJOB_PYTHON is not set"),
        Lang::Node if !Path::new("bindings-node/elasticjob.linux-x64-gnu.node").exists() => {
            Some("the Node binding is not built")
        }
        Lang::Java if !Path::new("tests/java-worker/target/java-worker.jar").exists() => {
            Some("the Java worker is not built")
        }
        _ => None,
    }
}

/// A group of worker processes of one language on one job, with their
/// ledger and configuration file.
pub struct Group {
    /// The language.
    pub lang: Lang,
    /// ZooKeeper connect string.
    pub connect: String,
    /// The job's namespace.
    pub namespace: String,
    /// Item count.
    pub items: u32,
    /// Cron expression.
    pub cron: String,
    /// Handler duration, ms.
    pub sleep_ms: u32,
    /// The running workers.
    pub workers: Vec<Worker>,
    /// How long each start took, spawn to `ready` (registered), ms.
    pub startups_ms: Vec<i64>,
    dir: tempfile::TempDir,
}

impl Group {
    /// An empty group; [`Group::add`] starts workers.
    pub fn new(lang: Lang, connect: &str, namespace: &str, items: u32, cron: &str, sleep_ms: u32) -> Group {
        let dir = tempfile::tempdir().expect("temp dir");
        if lang != Lang::Java {
            let yaml = bench_config(JOB, cron, items).to_yaml().expect("the bench configuration is valid");
            std::fs::write(dir.path().join("job.yaml"), yaml).expect("write job.yaml");
        }
        Group {
            lang,
            connect: connect.to_string(),
            namespace: namespace.to_string(),
            items,
            cron: cron.to_string(),
            sleep_ms,
            workers: Vec::new(),
            startups_ms: Vec::new(),
            dir,
        }
    }

    /// The execution ledger every worker of the group writes.
    pub fn ledger(&self) -> PathBuf {
        self.dir.path().join("ledger.jsonl")
    }

    /// Starts one more worker and waits until it has registered.
    pub fn add(&mut self) -> &Worker {
        let ledger = self.ledger();
        let yaml = self.dir.path().join("job.yaml");
        let spec = WorkerSpec {
            zk: &self.connect,
            namespace: &self.namespace,
            job: JOB,
            items: self.items,
            cron: &self.cron,
            ledger: &ledger,
            sleep_ms: self.sleep_ms,
            session_timeout_ms: SESSION_TIMEOUT_MS,
            config_yaml: (self.lang != Lang::Java).then_some(yaml.as_path()),
        };
        let max_diff = MAX_TIME_DIFF_SECONDS.to_string();
        let java_flags =
            ["--failover", "true", "--misfire", "true", "--overwrite", "true", "--max-time-diff-seconds", &max_diff];
        let extra: &[&str] = if self.lang == Lang::Java { &java_flags } else { &[] };
        let started = Instant::now();
        let worker = start_with(self.lang, &spec, extra);
        self.startups_ms.push(started.elapsed().as_millis() as i64);
        self.workers.push(worker);
        self.workers.last().expect("just added")
    }

    /// Instance ids of the running workers.
    pub fn instance_ids(&self) -> Vec<String> {
        self.workers.iter().map(|w| w.instance_id.clone()).collect()
    }

    /// Waits (up to `timeout`) until every item is owned by one of the
    /// running workers and each of them owns some (when there are enough
    /// items): the assignment has settled on this group.
    pub fn wait_for_assignment(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let ids = self.instance_ids();
        loop {
            let (_, owners) = mixed_language_tests::assignment(&self.connect, &self.namespace, JOB, self.items);
            let covered = owners.iter().all(|o| ids.contains(o));
            let everyone = self.items < ids.len() as u32 || ids.iter().all(|id| owners.contains(id));
            if covered && everyone {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// CPU seconds the running workers have used so far, together.
    pub fn cpu_seconds(&self) -> f64 {
        self.workers.iter().filter_map(|w| w.cpu_seconds()).sum()
    }

    /// Resident memory of each running worker, KiB.
    pub fn rss_kib(&self) -> Vec<u64> {
        self.workers.iter().filter_map(|w| w.rss_kib()).collect()
    }

    /// SIGTERM to every worker at once, then waits for all (each killed
    /// after `timeout`): stopping them one by one would let the others
    /// reshard and fire on for nothing.
    pub fn terminate_all(&mut self, timeout: Duration) {
        let workers = std::mem::take(&mut self.workers);
        let handles: Vec<_> =
            workers.into_iter().map(|mut w| std::thread::spawn(move || w.terminate(timeout))).collect();
        for handle in handles {
            let _ = handle.join();
        }
    }
}

/// Sleeps until the wall clock reads `epoch_ms`.
pub fn sleep_until(epoch_ms: i64) {
    let now = cluster_tests::workers::now_millis();
    if epoch_ms > now {
        std::thread::sleep(Duration::from_millis((epoch_ms - now) as u64));
    }
}
