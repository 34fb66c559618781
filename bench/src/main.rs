//! `elasticjob-bench`: measures the scheduler on a real ZooKeeper it starts
//! itself, prints a table and writes the figures as JSON.
//!
//! Run with `scripts/bench` (release builds of every binding), or
//! `cargo run --release -p elasticjob-bench -- [--json FILE]` for the Rust-only
//! parts when `ELASTICJOB_PYTHON` or the Node build is missing.

use cluster_tests::ledger;
use cluster_tests::workers::{now_millis, rss_kib, Worker};
use cluster_tests::ledger::UNKNOWN_FIRE;
use elasticjob::registry::{Registry, ZookeeperOptions, ZookeeperRegistry};
use elasticjob::{Job, JobConfig, JobScheduler, RegistryCenter};
use mixed_language_tests::{start, Lang, WorkerSpec, ALL};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use zk_harness::ZkServer;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json_path = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| "bench-results.json".into());
    let zk = ZkServer::start();
    let connect = zk.connect_string();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut results = serde_json::Map::new();
    let started = Instant::now();

    results.insert("registry_create_delete".into(), runtime.block_on(registry_round_trip(&connect)));
    results.insert("languages".into(), per_language(&connect));
    results.insert("failover".into(), failover(&connect));
    results.insert("graceful_leave".into(), graceful_leave(&connect, &runtime));
    results.insert("zookeeper_requests_per_fire".into(), runtime.block_on(requests_per_fire(&connect)));
    results.insert("scale".into(), runtime.block_on(scale(&connect)));
    results.insert("total_seconds".into(), json!(started.elapsed().as_secs()));

    let results = Value::Object(results);
    print_table(&results);
    std::fs::write(&json_path, serde_json::to_string_pretty(&results).unwrap()).expect("write JSON results");
    println!("\nJSON written to {json_path}");
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return -1;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn spec<'a>(connect: &'a str, namespace: &'a str, ledger: &'a std::path::Path, items: u32, cron: &'a str, sleep_ms: u32, timeout: u32) -> WorkerSpec<'a> {
    WorkerSpec { zk: connect, namespace, job: "bench", items, cron, ledger, sleep_ms, session_timeout_ms: timeout, config_yaml: None }
}

/// Median and p99 of a create + delete through the registry, in microseconds.
async fn registry_round_trip(connect: &str) -> Value {
    let zookeeper = ZookeeperRegistry::connect(ZookeeperOptions::new(connect, "bench-registry")).await.unwrap();
    let memory = elasticjob::EmbeddedServer::new().connect("bench-registry").unwrap();
    let mut out = serde_json::Map::new();
    for (name, registry) in [("zookeeper", &zookeeper as &dyn Registry), ("memory", &memory as &dyn Registry)] {
        let mut micros = Vec::with_capacity(2000);
        for n in 0..2000 {
            let path = format!("/node-{n}");
            let started = Instant::now();
            registry.create(&path, b"x", elasticjob::registry::CreateMode::Persistent).await.unwrap();
            registry.delete(&path, None).await.unwrap();
            micros.push(started.elapsed().as_micros() as i64);
        }
        micros.sort_unstable();
        out.insert(name.into(), json!({ "p50_us": percentile(&micros, 0.5), "p99_us": percentile(&micros, 0.99), "samples": micros.len() }));
    }
    Value::Object(out)
}

/// Whether the Java ElasticJob worker is built (`scripts/bench` builds it).
fn java_built() -> bool {
    std::path::Path::new("tests/java-worker/target/java-worker.jar").exists()
}

/// Fire-to-handler latency, start-up time, memory and CPU of one worker per
/// language, and of a real Java ElasticJob-Lite 3.0.4 worker measured the
/// same way in the same run. A Java handler gets no fire time: the Java
/// worker writes the scheduled time of the Quartz trigger that started the
/// run, so its latency is measured from the same instant as ours.
fn per_language(connect: &str) -> Value {
    let mut out = serde_json::Map::new();
    let java = java_built().then_some(Lang::Java);
    for lang in ALL.into_iter().chain(java) {
        if (lang == Lang::Python && std::env::var_os("ELASTICJOB_PYTHON").is_none())
            || (lang == Lang::Node && !std::path::Path::new("bindings-node/elasticjob.linux-x64-gnu.node").exists())
        {
            eprintln!("skipping {lang:?}: binding not built (run scripts/bench)");
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let ledger_path = dir.path().join("ledger.jsonl");
        let namespace = format!("bench-latency-{lang:?}").to_lowercase();
        // Idle: registered, no cron (Java needs one: a fire in 2099).
        let idle_cron = if lang == Lang::Java { "0 0 0 1 1 ? 2099" } else { "" };
        let spawn_started = Instant::now();
        let mut idle = start(lang, &spec(connect, &namespace, &ledger_path, 10, idle_cron, 10, 6000));
        let startup_ms = spawn_started.elapsed().as_millis() as i64;
        std::thread::sleep(Duration::from_millis(1500));
        let idle_rss = idle.rss_kib().unwrap_or(0);
        idle.terminate(Duration::from_secs(10));
        // Busy: ten items every second.
        let busy_ns = format!("{namespace}-busy");
        let mut busy = start(lang, &spec(connect, &busy_ns, &ledger_path, 10, "* * * * * ?", 10, 6000));
        let cpu_before = busy.cpu_seconds().unwrap_or(0.0);
        std::thread::sleep(Duration::from_millis(5500));
        let busy_rss = busy.rss_kib().unwrap_or(0);
        std::thread::sleep(Duration::from_millis(5000));
        let busy_cpu = busy.cpu_seconds().unwrap_or(0.0) - cpu_before;
        busy.terminate(Duration::from_secs(10));
        let entries = ledger::read(&ledger_path);
        let first_fire = entries.iter().map(|e| e.fire).filter(|&f| f != UNKNOWN_FIRE).min().unwrap_or(0);
        let mut latencies: Vec<i64> =
            entries.iter().filter(|e| e.phase == "start" && e.fire > first_fire).map(|e| e.at - e.fire).collect();
        latencies.sort_unstable();
        out.insert(
            format!("{lang:?}").to_lowercase(),
            json!({
                "samples": latencies.len(),
                "fire_latency_ms": { "p50": percentile(&latencies, 0.5), "p99": percentile(&latencies, 0.99), "max": latencies.last().copied().unwrap_or(-1) },
                "startup_to_registration_ms": startup_ms,
                "idle_rss_kib": idle_rss,
                "busy_rss_kib": busy_rss,
                "busy_cpu_seconds_in_10_5_s": busy_cpu,
                // Runs that could not name their fire (one-shot triggers; not in the latencies).
                "late_runs_not_counted": entries.iter().filter(|e| e.phase == "start" && e.fire == UNKNOWN_FIRE).count(),
            }),
        );
    }
    let mut bare = std::process::Command::new("node").args(["-e", "setInterval(() => {}, 1000)"]).spawn();
    if let Ok(child) = &mut bare {
        std::thread::sleep(Duration::from_millis(800));
        out.insert("bare_node_rss_kib".into(), json!(rss_kib(child.id()).unwrap_or(0)));
        let _ = child.kill();
        let _ = child.wait();
    }
    Value::Object(out)
}

/// kill -9 of an instance mid-fire until its items start elsewhere: three
/// Rust workers at two session timeouts, and three Java ElasticJob workers
/// at the first (a Java failover run's fire is unknown: it counts when it
/// starts after the kill).
fn failover(connect: &str) -> Value {
    let mut out = Vec::new();
    let java = java_built().then_some((Lang::Java, 2000u32));
    for (lang, timeout_ms) in [(Lang::Rust, 2000u32), (Lang::Rust, 6000)].into_iter().chain(java) {
        let dir = tempfile::tempdir().unwrap();
        let ledger_path = dir.path().join("ledger.jsonl");
        let namespace = format!("bench-failover-{lang:?}-{timeout_ms}").to_lowercase();
        let s = spec(connect, &namespace, &ledger_path, 6, "0/5 * * * * ?", 8000, timeout_ms);
        let mut survivors: Vec<Worker> = (0..2).map(|_| start(lang, &s)).collect();
        let mut victim = start(lang, &s);
        let victim_id = victim.instance_id.clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        let fire = loop {
            if let Some(e) = ledger::read(&ledger_path).into_iter().find(|e| e.instance == victim_id) {
                break e.fire;
            }
            assert!(Instant::now() < deadline, "victim never started");
            std::thread::sleep(Duration::from_millis(10));
        };
        std::thread::sleep(Duration::from_millis(300));
        let killed_at = now_millis();
        victim.kill9();
        let deadline = Instant::now() + Duration::from_secs(30);
        let taken_at = loop {
            let taken = ledger::read(&ledger_path)
                .into_iter()
                .filter(|e| (e.fire == fire || e.fire == UNKNOWN_FIRE) && e.phase == "start" && e.instance != victim_id && e.at > killed_at)
                .map(|e| e.at)
                .min();
            if let Some(t) = taken {
                break t;
            }
            assert!(Instant::now() < deadline, "no failover within 30 s");
            std::thread::sleep(Duration::from_millis(10));
        };
        for w in &mut survivors {
            w.kill9();
        }
        let ms = taken_at - killed_at;
        out.push(json!({ "worker": format!("{lang:?}").to_lowercase(), "session_timeout_ms": timeout_ms, "failover_ms": ms, "ratio_to_session_timeout": ms as f64 / timeout_ms as f64 }));
    }
    Value::Array(out)
}

/// SIGTERM of an idle instance until no item is owned by it.
fn graceful_leave(connect: &str, runtime: &tokio::runtime::Runtime) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let s = spec(connect, "bench-leave", &ledger_path, 6, "0 0 0 1 1 ? 2099", 10, 6000);
    let mut workers: Vec<Worker> = (0..3).map(|_| start(Lang::Rust, &s)).collect();
    let registry = runtime.block_on(ZookeeperRegistry::connect(ZookeeperOptions::new(connect, "bench-leave"))).unwrap();
    let owners = |r: &ZookeeperRegistry| -> Vec<String> {
        runtime.block_on(async {
            let mut owners = Vec::new();
            for i in 0..6 {
                owners.push(r.get_string(&format!("/bench/sharding/{i}/instance")).await.unwrap().unwrap_or_default());
            }
            owners
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while owners(&registry).iter().collect::<std::collections::BTreeSet<_>>().len() < 3 {
        assert!(Instant::now() < deadline, "assignment never covered three instances");
        std::thread::sleep(Duration::from_millis(20));
    }
    let leaving = workers.remove(0);
    let leaving_id = leaving.instance_id.clone();
    let asked = Instant::now();
    let mut leaving = leaving;
    std::thread::spawn(move || leaving.terminate(Duration::from_secs(10)));
    while owners(&registry).contains(&leaving_id) || owners(&registry).iter().any(|o| o.is_empty()) {
        assert!(asked.elapsed() < Duration::from_secs(20), "items never left the leaving instance");
        std::thread::sleep(Duration::from_millis(5));
    }
    let ms = asked.elapsed().as_millis();
    for w in &mut workers {
        w.kill9();
    }
    json!({ "shutdown_to_items_owned_by_others_ms": ms })
}

/// Registry requests per fire per instance for 1, 10 and 100 items.
async fn requests_per_fire(connect: &str) -> Value {
    let mut runs = Vec::new();
    for items in [1, 10, 100] {
        let center = RegistryCenter::zookeeper(ZookeeperOptions::new(connect, format!("bench-ops-{items}")));
        let config = JobConfig::new("ops", "* * * * * ?", items);
        let scheduler = JobScheduler::builder(center.clone(), config, Job::from_fn(|_| async { Ok(()) })).build().unwrap();
        scheduler.start().await.unwrap();
        runs.push((items, center, scheduler));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let before: Vec<_> = runs.iter().map(|(_, c, _)| c.request_counts()).collect();
    let fires = 6;
    tokio::time::sleep(Duration::from_millis(fires * 1000)).await;
    let mut out = Vec::new();
    for ((items, center, scheduler), before) in runs.into_iter().zip(before) {
        let after = center.request_counts();
        scheduler.shutdown().await;
        out.push(json!({
            "items": items,
            "writes_per_fire": (after.writes - before.writes) as f64 / fires as f64,
            "reads_per_fire": (after.reads - before.reads) as f64 / fires as f64,
        }));
    }
    Value::Array(out)
}

fn own_rss() -> u64 {
    rss_kib(std::process::id()).unwrap_or(0)
}

/// 1,000 jobs in one process; one job with 50 instances and 10,000 items.
async fn scale(connect: &str) -> Value {
    let before = own_rss();
    let center = RegistryCenter::zookeeper(ZookeeperOptions::new(connect, "bench-many-jobs"));
    let started = Instant::now();
    let mut jobs = Vec::new();
    for n in 0..1000 {
        let config = JobConfig::new(&format!("job-{n}"), "0 0 0 1 1 ? 2099", 2);
        let scheduler = JobScheduler::builder(center.clone(), config, Job::from_fn(|_| async { Ok(()) })).build().unwrap();
        scheduler.start().await.unwrap();
        jobs.push(scheduler);
    }
    let thousand_ms = started.elapsed().as_millis();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let thousand_rss = own_rss().saturating_sub(before);
    for job in &jobs {
        job.shutdown().await;
    }
    drop(jobs);

    let before = own_rss();
    let mut instances = Vec::new();
    let config = JobConfig::new("big", "0 0 0 1 1 ? 2099", 10_000);
    for n in 0..50 {
        let center = RegistryCenter::zookeeper(ZookeeperOptions::new(connect, "bench-big"));
        let scheduler = JobScheduler::builder(center, config.clone(), Job::from_fn(|_| async { Ok(()) }))
            .instance_id(format!("127.0.0.1@-@bench-{n}"))
            .build()
            .unwrap();
        scheduler.start().await.unwrap();
        instances.push(scheduler);
    }
    let observer = ZookeeperRegistry::connect(ZookeeperOptions::new(connect, "bench-big")).await.unwrap();
    let settle = Instant::now();
    wait_for_stable_assignment(&observer, 50).await;
    let first_ms = settle.elapsed().as_millis();
    let fifty_rss = own_rss().saturating_sub(before);
    // One instance leaves: time until the leader has written the new assignment.
    let leaving = instances.pop().unwrap();
    let mut events: Vec<_> = instances.iter().map(|s| s.events()).collect();
    let reshard = Instant::now();
    leaving.shutdown().await;
    let resharded = async {
        loop {
            for events in &mut events {
                while let Ok(event) = events.try_recv() {
                    if let elasticjob::JobEvent::Sharded(assignment) = event {
                        if assignment.len() == 49 {
                            return;
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), resharded).await.expect("resharding after a leave");
    let reshard_ms = reshard.elapsed().as_millis();
    for s in &instances {
        s.shutdown().await;
    }
    json!({
        "jobs_1000": { "start_all_ms": thousand_ms, "rss_growth_kib": thousand_rss },
        "instances_50_items_10000": {
            "settle_after_start_ms": first_ms,
            "reshard_after_leave_ms": reshard_ms,
            "rss_growth_kib_all_50_in_one_process": fifty_rss,
        },
    })
}

/// Waits until no resharding is pending and the owners are exactly `instances` live ones.
async fn wait_for_stable_assignment(registry: &ZookeeperRegistry, instances: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pending = registry.exists("/big/leader/sharding/necessary").await.unwrap().is_some();
        let live = registry.children("/big/instances").await.unwrap_or_default();
        if !pending && live.len() == instances {
            let sample = registry.get_string("/big/sharding/9999/instance").await.unwrap().unwrap_or_default();
            if live.contains(&sample) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "assignment did not settle");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn print_table(results: &Value) {
    println!("\n== elasticjob benchmark (real ZooKeeper on loopback, 2 cores)");
    let rt = &results["registry_create_delete"];
    println!(
        "\nRegistry create + delete: ZooKeeper p50 {} us, p99 {} us; embedded p50 {} us",
        rt["zookeeper"]["p50_us"], rt["zookeeper"]["p99_us"], rt["memory"]["p50_us"]
    );
    println!("\nPer language (job of 10 items firing every second):");
    println!(
        "{:<8} {:>8} {:>8} {:>8} {:>12} {:>10} {:>10} {:>9}",
        "lang", "p50 ms", "p99 ms", "max ms", "startup ms", "idle MiB", "busy MiB", "busy CPU"
    );
    if let Some(langs) = results["languages"].as_object() {
        for (lang, r) in langs {
            if !r.is_object() {
                continue;
            }
            let n = |v: &Value| v.as_i64().unwrap_or(-1);
            println!(
                "{:<8} {:>8} {:>8} {:>8} {:>12} {:>10.1} {:>10.1} {:>8.2}s",
                lang,
                n(&r["fire_latency_ms"]["p50"]),
                n(&r["fire_latency_ms"]["p99"]),
                n(&r["fire_latency_ms"]["max"]),
                n(&r["startup_to_registration_ms"]),
                r["idle_rss_kib"].as_u64().unwrap_or(0) as f64 / 1024.0,
                r["busy_rss_kib"].as_u64().unwrap_or(0) as f64 / 1024.0,
                r["busy_cpu_seconds_in_10_5_s"].as_f64().unwrap_or(0.0)
            );
        }
        if let Some(bare) = langs.get("bare_node_rss_kib") {
            println!("(bare node process: {:.1} MiB)", bare.as_u64().unwrap_or(0) as f64 / 1024.0);
        }
    }
    println!("\nCrash failover (kill -9 mid-fire to first start elsewhere):");
    for r in results["failover"].as_array().into_iter().flatten() {
        println!(
            "  {:<5} session timeout {:>5} ms: {:>5} ms ({:.2}x the timeout)",
            r["worker"].as_str().unwrap_or("rust"),
            r["session_timeout_ms"],
            r["failover_ms"],
            r["ratio_to_session_timeout"].as_f64().unwrap_or(0.0)
        );
    }
    println!("\nGraceful leave (shutdown to items owned by others): {} ms", results["graceful_leave"]["shutdown_to_items_owned_by_others_ms"]);
    println!("\nZooKeeper requests per fire per instance:");
    for r in results["zookeeper_requests_per_fire"].as_array().into_iter().flatten() {
        println!("  {:>4} items: {:>5.2} writes, {:>7.1} reads", r["items"], r["writes_per_fire"].as_f64().unwrap_or(0.0), r["reads_per_fire"].as_f64().unwrap_or(0.0));
    }
    let scale = &results["scale"];
    println!("\nScale:");
    println!("  1,000 jobs in one process: started in {} ms, +{:.1} MiB", scale["jobs_1000"]["start_all_ms"], scale["jobs_1000"]["rss_growth_kib"].as_u64().unwrap_or(0) as f64 / 1024.0);
    let big = &scale["instances_50_items_10000"];
    println!(
        "  50 instances x 10,000 items: settled {} ms after the last start, resharded {} ms after one left, +{:.1} MiB for all 50",
        big["settle_after_start_ms"], big["reshard_after_leave_ms"], big["rss_growth_kib_all_50_in_one_process"].as_u64().unwrap_or(0) as f64 / 1024.0
    );
    println!("\nTotal: {} s", results["total_seconds"]);
}
