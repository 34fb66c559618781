//! One job's cluster: a namespace, a ledger and a log directory, and
//! `rust-worker` processes started against any ZooKeeper address (a server,
//! an ensemble, or a proxy in front of one).

use cluster_tests::ledger::{self, Entry};
use cluster_tests::workers::Worker;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The session timeout every scenario uses unless it says otherwise.
pub const SESSION_TIMEOUT_MS: i64 = 2000;

/// The cron every scenario uses unless it says otherwise: every second.
pub const EVERY_SECOND: &str = "* * * * * ?";

/// A job's cluster under test.
pub struct Cluster {
    /// Holds the ledger and the workers' logs.
    pub dir: tempfile::TempDir,
    /// ZooKeeper namespace (the root node).
    pub namespace: String,
    /// Job name.
    pub job: String,
}

/// The `fault-rust-worker` binary beside the test executable.
fn worker_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    let dir = exe.parent().expect("executable dir");
    let profile = if dir.ends_with("deps") { dir.parent().expect("profile dir") } else { dir };
    let binary = profile.join("fault-rust-worker");
    assert!(binary.exists(), "{} missing: run through `cargo test -p fault-tests`", binary.display());
    binary
}

impl Cluster {
    /// A fresh namespace `faults-{name}` with job `name`.
    pub fn new(name: &str) -> Cluster {
        Cluster {
            dir: tempfile::Builder::new().prefix("faults-").tempdir().expect("temp dir"),
            namespace: format!("faults-{name}"),
            job: name.to_string(),
        }
    }

    /// The ledger every worker appends to.
    pub fn ledger(&self) -> PathBuf {
        self.dir.path().join("ledger.jsonl")
    }

    /// The stderr log of worker `name`.
    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// Starts worker `name` on `zk` with `items` and `cron`, the standard
    /// session timeout, and extra `--flag value` pairs and environment.
    pub fn spawn(&self, name: &str, zk: &str, items: u32, cron: &str, flags: &[(&str, &str)], env: &[(&str, &str)]) -> Worker {
        let mut command = Command::new(worker_binary());
        command.env("ELASTICJOB_LOG", std::env::var("ELASTICJOB_LOG").unwrap_or_else(|_| "elasticjob=info,zookeeper_client=warn".into()));
        for (k, v) in env {
            command.env(k, v);
        }
        command
            .args(["--zk", zk])
            .args(["--namespace", &self.namespace])
            .args(["--job", &self.job])
            .args(["--items", &items.to_string()])
            .args(["--cron", cron])
            .args(["--ledger", self.ledger().to_str().expect("utf-8 path")])
            .args(["--session-timeout-ms", &SESSION_TIMEOUT_MS.to_string()])
            .args(["--shutdown-timeout-ms", "5000"]);
        for (k, v) in flags {
            command.arg(format!("--{k}")).arg(v);
        }
        Worker::spawn_logged(name, command, &self.log(name))
    }

    /// Every ledger entry of this job.
    pub fn entries(&self) -> Vec<Entry> {
        ledger::read(&self.ledger()).into_iter().filter(|e| e.job == self.job).collect()
    }

    /// Polls the ledger until some entry matches, up to `timeout`.
    pub fn wait_for(&self, timeout: Duration, matches: impl Fn(&Entry) -> bool) -> Option<Entry> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.entries().into_iter().find(|e| matches(e)) {
                return Some(e);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls the ledger until `done` holds on all entries, up to `timeout`.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&[Entry]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&self.entries()) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// For each instance among the workers `names`, the items its runs had
    /// in flight (handler ended or not, completion not recorded) whenever it
    /// lost a registry session, from its log.
    pub fn lost_in_flight(&self, names: &[&str]) -> BTreeMap<String, BTreeSet<u32>> {
        // Runs told to stop when the session went (`cancelled=[…]`), and
        // runs that ended but whose end could not be recorded first
        // (`completing finished items […] failed`): failover runs both again.
        const LISTS: [(&str, &str); 2] =
            [("registry session lost: runs under it told to stop", " cancelled=["), ("completing finished items [", "completing finished items [")];
        let mut lost: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        for name in names {
            for (needle, list_start) in LISTS {
                for line in self.log_lines(name, needle) {
                    let instance = line.split(" instance=").nth(1).map(|rest| rest.split(' ').next().unwrap_or_default().to_string());
                    let (Some(instance), Some(list)) = (instance, line.split(list_start).nth(1)) else { continue };
                    let items = list.split(']').next().unwrap_or_default().split(',').filter_map(|i| i.trim().parse::<u32>().ok());
                    lost.entry(instance).or_default().extend(items);
                }
            }
        }
        lost
    }

    /// The lines of worker `name`'s log that contain `needle`.
    pub fn log_lines(&self, name: &str, needle: &str) -> Vec<String> {
        std::fs::read_to_string(self.log(name))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .map(String::from)
            .collect()
    }
}

/// Sleeps until `at` (epoch ms); returns at once if it has passed.
pub fn sleep_until(at: i64) {
    let wait = at - cluster_tests::workers::now_millis();
    if wait > 0 {
        std::thread::sleep(Duration::from_millis(wait as u64));
    }
}

/// A small deterministic generator for fault offsets; the seed is printed
/// by the scenario so a failing run can be replayed.
pub struct Offsets(u64);

impl Offsets {
    /// Seeded from `ELASTICJOB_FAULT_SEED` or the clock.
    pub fn new() -> Offsets {
        let seed = std::env::var("ELASTICJOB_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| cluster_tests::workers::now_millis() as u64);
        Offsets(seed)
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.0
    }

    /// A value in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound.max(1)
    }
}

impl Default for Offsets {
    fn default() -> Self {
        Offsets::new()
    }
}

/// Whether the long variants run (`scripts/test-all --long`).
pub fn long() -> bool {
    std::env::var("ELASTICJOB_LONG").is_ok_and(|v| v == "1")
}

/// Instances among `ids` with no node under `/{job}/instances`.
pub fn unregistered(direct: &crate::Direct, job: &str, ids: &[String]) -> Vec<String> {
    let live = direct.children(&format!("/{job}/instances"));
    ids.iter().filter(|id| !live.contains(id)).cloned().collect()
}

/// Waits up to `timeout` until every id in `ids` is registered.
pub fn wait_registered(direct: &crate::Direct, job: &str, ids: &[String], timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let missing = unregistered(direct, job, ids);
        if missing.is_empty() || Instant::now() > deadline {
            return missing;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The znode-leak verdict: lasting nodes gained or lost since `before`,
/// and failover requests or triggers left behind; empty when clean.
pub fn leak_problems(before: &crate::ZnodeCount, after: &crate::ZnodeCount, job: &str) -> Vec<String> {
    let (mut gained, lost) = after.leaked_since(before);
    // An item's `fired` node is made at its first start, which may come
    // after the first snapshot (an item that moved at the first fire): it
    // lasts by design, one per item, and is no leak.
    gained.retain(|path| !(path.starts_with(&format!("/{job}/sharding/")) && path.ends_with("/fired")));
    let mut problems = Vec::new();
    if !gained.is_empty() {
        problems.push(format!("lasting znodes gained: {}", crate::measure::head(&gained)));
    }
    if !lost.is_empty() {
        problems.push(format!("lasting znodes lost: {}", crate::measure::head(&lost)));
    }
    let queued = after.under(&format!("/{job}/leader/failover/items"));
    if !queued.is_empty() {
        problems.push(format!("failover requests left: {queued:?}"));
    }
    problems
}

/// A failing scenario shows the tail of every worker's log (any scenario
/// does with `ELASTICJOB_FAULT_SHOW_LOGS` set): the scheduler's decisions
/// explain most failures, and the logs go with the temp dir.
impl Drop for Cluster {
    fn drop(&mut self) {
        if !std::thread::panicking() && std::env::var_os("ELASTICJOB_FAULT_SHOW_LOGS").is_none() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(self.dir.path()) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                eprintln!("---- last lines of {} ----", path.display());
                let keep = std::env::var("ELASTICJOB_FAULT_LOG_LINES").ok().and_then(|n| n.parse().ok()).unwrap_or(80);
                for line in &lines[lines.len().saturating_sub(keep)..] {
                    eprintln!("{line}");
                }
            }
        }
    }
}
