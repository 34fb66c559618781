//! Starting workers in each language for the mixed-cluster tests. The
//! bindings must be built first (`scripts/test-all` does it); a missing
//! one fails the tests, it never skips them.

#![warn(missing_docs)]

use cluster_tests::ledger::{Entry, Report};
use cluster_tests::workers::{compile_c, Worker};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The four languages of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// `rust-worker` from `tests/cluster`.
    Rust,
    /// `bindings-python/tests/worker.py` run by `$ELASTICJOB_PYTHON`.
    Python,
    /// `bindings-node/test/worker.js`.
    Node,
    /// `bindings-c/tests/c/worker.c`, compiled here.
    C,
    /// A real Apache ElasticJob-Lite 3.0.4 worker: `tests/java-worker`,
    /// built with Maven (`scripts/test-all` does it).
    Java,
}

/// The four, in a fixed order.
pub const ALL: [Lang; 4] = [Lang::Rust, Lang::Python, Lang::Node, Lang::C];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// The cargo profile dir holding the workspace's binaries and libraries
/// (tests run from its `deps/`, binaries from the dir itself).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    let dir = exe.parent().expect("executable dir");
    if dir.ends_with("deps") { dir.parent().expect("profile dir").to_path_buf() } else { dir.to_path_buf() }
}

fn c_worker() -> &'static Path {
    static WORKER: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &WORKER
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let output = dir.path().join("c-worker");
            let lib = profile_dir();
            assert!(lib.join("libelasticjob.so").exists(), "build the C binding first: cargo build -p elasticjob-c");
            compile_c(&root().join("bindings-c/tests/c/worker.c"), &root().join("bindings-c/include"), &lib, &output);
            (dir, output)
        })
        .1
}

/// How a worker should run.
#[derive(Debug, Clone)]
pub struct WorkerSpec<'a> {
    /// ZooKeeper connect string.
    pub zk: &'a str,
    /// Namespace.
    pub namespace: &'a str,
    /// Job name.
    pub job: &'a str,
    /// Item count.
    pub items: u32,
    /// Cron expression.
    pub cron: &'a str,
    /// Ledger file.
    pub ledger: &'a Path,
    /// Handler duration.
    pub sleep_ms: u32,
    /// Session timeout.
    pub session_timeout_ms: u32,
    /// A job configuration YAML file replacing job, items and cron.
    pub config_yaml: Option<&'a Path>,
}

/// The Java ElasticJob worker's jar (`mvn -q -B package` in `tests/java-worker`).
pub fn java_worker_jar() -> PathBuf {
    let jar = root().join("tests/java-worker/target/java-worker.jar");
    assert!(jar.exists(), "build the Java worker first: mvn -q -B package in tests/java-worker");
    jar
}

/// Starts a worker of `lang` and waits until it is registered.
pub fn start(lang: Lang, spec: &WorkerSpec<'_>) -> Worker {
    start_with(lang, spec, &[])
}

/// [`start`] with extra flags for the worker (Rust, Python, Node and Java
/// workers take `--flag value` pairs; the C worker takes none).
pub fn start_with(lang: Lang, spec: &WorkerSpec<'_>, extra: &[&str]) -> Worker {
    let ledger = spec.ledger.to_str().unwrap().to_string();
    let mut flags: Vec<String> = vec![
        "--zk".into(), spec.zk.into(), "--namespace".into(), spec.namespace.into(),
        "--job".into(), spec.job.into(), "--items".into(), spec.items.to_string(),
        "--cron".into(), spec.cron.into(), "--ledger".into(), ledger.clone(),
        "--sleep-ms".into(), spec.sleep_ms.to_string(),
        "--session-timeout-ms".into(), spec.session_timeout_ms.to_string(),
    ];
    if let Some(yaml) = spec.config_yaml {
        flags.push("--config-yaml".into());
        flags.push(yaml.to_str().unwrap().into());
    }
    assert!(extra.is_empty() || lang != Lang::C, "the C worker takes no extra flags");
    flags.extend(extra.iter().map(|f| f.to_string()));
    let command = match lang {
        Lang::Rust => {
            let mut c = Command::new(profile_dir().join("rust-worker"));
            c.args(&flags);
            c
        }
        Lang::Python => {
            let python = std::env::var("ELASTICJOB_PYTHON")
                .expect("ELASTICJOB_PYTHON must name a Python with the elasticjob package (scripts/test-all sets it)");
            let mut c = Command::new(python);
            c.arg(root().join("bindings-python/tests/worker.py")).args(&flags);
            c
        }
        Lang::Node => {
            let native = root().join("bindings-node/elasticjob.linux-x64-gnu.node");
            assert!(native.exists(), "build the Node binding first (npm run build in bindings-node)");
            let mut c = Command::new("node");
            c.arg(root().join("bindings-node/test/worker.js")).args(&flags);
            c
        }
        Lang::Java => {
            let jar = java_worker_jar();
            assert!(spec.config_yaml.is_none(), "the Java worker takes its job from flags, not YAML");
            let mut c = Command::new("java");
            c.arg("-jar").arg(jar).args(&flags);
            c
        }
        Lang::C => {
            let mut c = Command::new(c_worker());
            c.args([spec.zk, spec.namespace, spec.job, &spec.items.to_string(), spec.cron, &ledger])
                .args([spec.sleep_ms.to_string(), spec.session_timeout_ms.to_string()]);
            if let Some(yaml) = spec.config_yaml {
                c.arg(yaml);
            }
            c
        }
    };
    Worker::spawn(&format!("{lang:?}"), command)
}

/// The live instances of `job` in the order Java ElasticJob lists them, and
/// each item's owner as the registry says (read with a client of its own).
pub fn assignment(zk: &str, namespace: &str, job: &str, items: u32) -> (Vec<String>, Vec<String>) {
    use elasticjob::paths::JobPaths;
    use elasticjob::registry::{Registry, ZookeeperOptions, ZookeeperRegistry};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let registry = ZookeeperRegistry::connect(ZookeeperOptions::new(zk, namespace)).await.expect("connect");
        let paths = JobPaths::new(job);
        let instances = elasticjob::sharding::service::available_instances(&registry, &paths).await.expect("instances");
        let mut owners = Vec::new();
        for item in 0..items {
            owners.push(registry.get_string(&paths.item_instance(item)).await.expect("owner").unwrap_or_default());
        }
        registry.close().await;
        (instances, owners)
    })
}

/// The duplicates of `report` that Java ElasticJob made: every start of
/// the (item, fire) after the first is a Java run.
///
/// Java's resharding and misfire are not fenced: a Java instance that gets
/// an item by a resharding runs the fire it found the item busy in once
/// more (its misfire re-run), or runs a fire late under the new assignment,
/// although the item's previous owner ran that fire; Java records no
/// `fired` to refuse it by. Ours never start a fire an item already ran
/// (the `fired` fence), so a duplicate whose later start is ours is ours to
/// answer for; these are not.
pub fn java_only_duplicates(report: &Report, entries: &[Entry]) -> usize {
    report
        .duplicates
        .iter()
        .filter(|((item, fire), _)| {
            let mut starts: Vec<&Entry> =
                entries.iter().filter(|e| e.phase == "start" && e.item == *item && e.fire == *fire).collect();
            starts.sort_by_key(|e| e.at);
            starts.len() > 1 && starts[1..].iter().all(|e| e.lang == "java")
        })
        .count()
}

/// The misses of `report` that Java ElasticJob made: the item's last run
/// before the missed fire was a Java run.
///
/// Java records no `fired`, so when a resharding lands during a fire, the
/// item's new owner cannot tell whether its Java owner ran that fire, and
/// must not run it (it might be a duplicate); a Java owner that read the
/// new assignment first skips it too. A Java-only cluster loses such a
/// fire the same way. When the item's last run before was ours, its
/// `fired` marker tells, and a miss is ours to answer for.
pub fn java_only_misses(report: &Report, entries: &[Entry]) -> usize {
    report
        .misses
        .iter()
        .filter(|(item, fire)| {
            entries
                .iter()
                .filter(|e| e.phase == "start" && e.item == *item && e.fire != cluster_tests::ledger::UNKNOWN_FIRE && e.fire < *fire)
                .max_by_key(|e| e.fire)
                .is_some_and(|e| e.lang == "java")
        })
        .count()
}

/// Whether every miss and duplicate of `report` is Java's own (see
/// [`java_only_misses`] and [`java_only_duplicates`]).
pub fn clean_but_java(report: &Report, entries: &[Entry]) -> bool {
    java_only_misses(report, entries) == report.misses.len()
        && java_only_duplicates(report, entries) == report.duplicates.len()
}

/// Prints a scenario's figures and appends them as a `SCENARIO` line to
/// `$ELASTICJOB_MIXED_SUMMARY` (the format `scripts/fault-table` reads):
/// `dup` and `miss` count every duplicate and miss, `java_dup` and
/// `java_miss` those that are Java's own.
pub fn summary(name: &str, entries: &[Entry], report: &Report) {
    use std::io::Write;
    let runs = entries.iter().filter(|e| e.phase == "end").count();
    let line = format!(
        "SCENARIO {name} runs={runs} dup={} java_dup={} miss={} java_miss={} recovery_ms=-1 excused={} unattributed={}\n",
        report.duplicates.len(),
        java_only_duplicates(report, entries),
        report.misses.len(),
        java_only_misses(report, entries),
        report.excused.len(),
        report.unattributed_runs
    );
    print!("{line}");
    if let Ok(path) = std::env::var("ELASTICJOB_MIXED_SUMMARY") {
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = file.write_all(line.as_bytes());
        }
    }
}

/// The ledger lines around each miss and duplicate of `report` (the same
/// item, 3 s either side of the fire, and every line of that fire), for a
/// failure message.
pub fn explain(report: &Report, entries: &[Entry]) -> String {
    let keys = report.misses.iter().copied().chain(report.duplicates.iter().map(|(key, _)| *key));
    let mut out = String::new();
    for (item, fire) in keys {
        out.push_str(&format!("\n(item {item}, fire {fire}):"));
        for e in entries.iter().filter(|e| e.item == item && ((e.at - fire).abs() <= 3000 || e.fire == fire)) {
            out.push_str(&format!("\n  {} fire {} at {:+} ms {} {}", e.phase, e.fire, e.at - fire, e.lang, e.instance));
        }
    }
    out
}
