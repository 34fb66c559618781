//! `elasticjob-bench`: measures the scheduler on a real ZooKeeper it starts
//! itself, prints the tables and writes the figures as JSON
//! (`bench/results.json`, which `scripts/bench-readme` turns into the
//! README's Performance section).
//!
//! Run with `scripts/bench` (release builds of every binding first). For a
//! part alone while working on it: `elasticjob-bench --only
//! latency,failover,leave,cost,scale --json /tmp/part.json` (`scale` is
//! `scale-big,scale-jobs,scale-fifty`).

use elasticjob_bench::{cost, failover, java, latency, machine, scale, table};
use serde_json::{json, Value};
use std::time::Instant;
use zk_harness::{Jvm, ZkServer};

/// How the benchmark's ZooKeeper servers run (the README says so).
const BENCH_JVM: Jvm = Jvm::Throughput;

fn main() {
    // The in-process instances log through this: `ELASTICJOB_LOG=info` to
    // see what the scheduler did during a measurement.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ELASTICJOB_LOG"))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned());
    let json_path = flag("--json").unwrap_or_else(|| "bench/results.json".into());
    let only: Option<Vec<String>> = flag("--only").map(|s| s.split(',').map(String::from).collect());
    // `scale` selects every `scale-…` part.
    let wanted = |part: &str| {
        only.as_ref().is_none_or(|o| o.iter().any(|p| p == part || part.split('-').next() == Some(p.as_str())))
    };
    // When `scripts/bench` started (epoch seconds), so the JSON holds the
    // whole run's time, builds included.
    // Only these languages in the latency part (`--langs rust,java`).
    let langs: Option<Vec<String>> = flag("--langs").map(|s| s.split(',').map(String::from).collect());
    let script_started: Option<i64> = flag("--started-at").and_then(|s| s.parse().ok());

    let measuring = Instant::now();
    // A production-like server: see [`Jvm::Throughput`].
    let zk = ZkServer::start_with(BENCH_JVM);
    let connect = zk.connect_string();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut results = serde_json::Map::new();
    let mut sections = serde_json::Map::new();
    results.insert("machine".into(), machine::describe(zk.port(), BENCH_JVM));
    let mut section = |name: &str, part: &str, measure: &mut dyn FnMut() -> Value, results: &mut serde_json::Map<String, Value>| {
        if !wanted(part) {
            return;
        }
        eprintln!("== {name}");
        let started = Instant::now();
        results.insert(name.into(), measure());
        sections.insert(name.into(), json!(started.elapsed().as_secs()));
    };
    section("registry_create_delete", "cost", &mut || runtime.block_on(cost::registry_round_trip(&connect)), &mut results);
    section("languages", "latency", &mut || latency::run(&connect, langs.as_deref()), &mut results);
    section("failover", "failover", &mut || failover::crash(&connect), &mut results);
    section("graceful_leave", "leave", &mut || failover::graceful_leave(&connect), &mut results);
    let mut big_cost_row = Value::Null;
    section(
        "zookeeper_cost_per_fire",
        "cost",
        &mut || runtime.block_on(cost::up_to_a_thousand_items(&connect)),
        &mut results,
    );
    let mut scale_results = serde_json::Map::new();
    section(
        "scale_items_10000",
        "scale-big",
        &mut || {
            let (row, figures) = runtime.block_on(scale::big_job(&connect));
            big_cost_row = row;
            figures
        },
        &mut scale_results,
    );
    // On a ZooKeeper of its own: the shared one carries every earlier
    // part's nodes and sessions, and this part is the one that saturates it.
    section(
        "scale_jobs_1000",
        "scale-jobs",
        &mut || {
            let fresh = ZkServer::start_with(BENCH_JVM);
            runtime.block_on(scale::thousand_jobs(&fresh.connect_string()))
        },
        &mut scale_results,
    );
    section("scale_instances_50", "scale-fifty", &mut || runtime.block_on(scale::fifty_instances(&connect)), &mut scale_results);
    if !big_cost_row.is_null() {
        if let Some(rows) = results.get_mut("zookeeper_cost_per_fire").and_then(Value::as_array_mut) {
            rows.push(big_cost_row);
        } else {
            results.insert("zookeeper_cost_per_fire".into(), json!([big_cost_row]));
        }
    }
    if !scale_results.is_empty() {
        results.insert(
            "scale".into(),
            json!({
                "items_10000": scale_results.remove("scale_items_10000"),
                "jobs_1000": scale_results.remove("scale_jobs_1000"),
                "instances_50_items_10000": scale_results.remove("scale_instances_50"),
            }),
        );
    }
    let measure_seconds = measuring.elapsed().as_secs();
    let now = cluster_tests::workers::now_millis() / 1000;
    let total_seconds = script_started.map(|s| now - s);
    let mut results = Value::Object(results);
    results["machine"]["load_average_at_end"] = json!(machine::load_average());
    results["java_vs_rust"] = java::ratios(&results);
    results["timing"] = json!({
        "measure_seconds": measure_seconds,
        "total_seconds": total_seconds,
        "builds_seconds": total_seconds.map(|t| t - measure_seconds as i64),
        "sections_seconds": sections,
        "parts": only,
        "langs": langs,
    });
    println!("{}", table::to_text(&table::tables(&results)));
    println!(
        "\nMeasurements took {measure_seconds} s{}.",
        total_seconds.map(|t| format!("; the whole run, builds included, {t} s")).unwrap_or_default()
    );
    std::fs::write(&json_path, serde_json::to_string_pretty(&results).expect("results serialize") + "\n")
        .expect("write JSON results");
    println!("JSON written to {json_path}");
}
