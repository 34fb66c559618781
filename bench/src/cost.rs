//! What a fire costs ZooKeeper, counted honestly: requests *and* the
//! operations they hold, per fire and per instance, for three instances of
//! a job with failover on, at several item counts.
//!
//! Requests are what the client waits for; operations are what the server
//! does. A fire's requests are a handful whatever the item count (until a
//! batch outgrows one request: a multi-read holds 500 paths, a multi up to
//! about 1 MB), while its operations grow with the items each instance
//! owns. Counting only requests made an earlier table say "2 writes + 7
//! reads whatever the count" for a start of 100 items that is one multi of
//! 301 operations.
//!
//! The counters are the registry center's ([`elasticjob::registry::RequestCounts`]),
//! read at the same phase of the cron period before and after a window of
//! whole fires, so everything the scheduler sends in that window counts:
//! the fire path, completions, watches re-armed, the leader's work.

use crate::inprocess::{self, instance_id, leader, next_fire, sleep_until, Cluster};
use crate::stats::{self, summarize};
use elasticjob::registry::{CreateMode, Registry, RequestCounts, ZookeeperOptions, ZookeeperRegistry};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Instances per job.
const INSTANCES: usize = 3;
/// Handlers return at once: with a duration, an instance's items pass
/// through its pool of runners (twice the cores) in waves, and what would
/// be measured is how many completion batches that makes, not the fire.
const HANDLER: Duration = Duration::ZERO;
/// Item counts measured together, every 2 s over 5 fires (10,000 items is
/// measured alone, every 5 s: see [`crate::scale::big_job`]).
const SMALL_SIZES: [u32; 4] = [1, 10, 100, 1000];

/// Median and p99 of a create + delete through the registry (ZooKeeper on
/// loopback, and the embedded registry), in microseconds: the floor under
/// every figure here.
pub async fn registry_round_trip(connect: &str) -> Value {
    let zookeeper = ZookeeperRegistry::connect(ZookeeperOptions::new(connect, "bench-registry")).await.expect("connect");
    let memory = elasticjob::EmbeddedServer::new().connect("bench-registry").expect("embedded registry");
    let mut out = serde_json::Map::new();
    for (name, registry) in [("zookeeper", &zookeeper as &dyn Registry), ("memory", &memory as &dyn Registry)] {
        let mut micros = Vec::with_capacity(2000);
        for n in 0..2000 {
            let path = format!("/node-{n}");
            let started = Instant::now();
            registry.create(&path, b"x", CreateMode::Persistent).await.expect("create");
            registry.delete(&path, None).await.expect("delete");
            micros.push(started.elapsed().as_micros() as i64);
        }
        out.insert(name.into(), summarize(micros));
    }
    zookeeper.close().await;
    Value::Object(out)
}

/// One job's measurement: counts per fire per instance, and what its
/// handlers saw.
pub struct Measured {
    /// The JSON row.
    pub row: Value,
    /// The fires of the window.
    pub fires: Vec<i64>,
    /// The cluster, still running (the caller shuts it down).
    pub cluster: Cluster,
}

/// The cost rows of 1 to 1,000 items.
pub async fn up_to_a_thousand_items(connect: &str) -> Value {
    let mut rows = Vec::new();
    for measured in measure(connect, &SMALL_SIZES, 2000, 5).await {
        rows.push(measured.row);
        measured.cluster.shutdown().await;
    }
    Value::Array(rows)
}

/// Starts a job of each of `sizes` items (three instances each, every
/// `period_ms`), lets the assignment settle, counts over `fires` whole
/// fires, and returns each job still running.
pub async fn measure(connect: &str, sizes: &[u32], period_ms: i64, fires: i64) -> Vec<Measured> {
    let cron = format!("0/{} * * * * ?", period_ms / 1000);
    let mut clusters = Vec::new();
    for &items in sizes {
        let mut cluster = Cluster::new(connect, &format!("bench-cost-{items}"), &cron, items, HANDLER);
        cluster.add(INSTANCES, INSTANCES).await;
        clusters.push(cluster);
    }
    let live: Vec<String> = (0..INSTANCES).map(instance_id).collect();
    let mut settled = Vec::new();
    for cluster in &clusters {
        let observer = cluster.observer().await;
        settled.push(inprocess::wait_for_assignment(&observer, cluster.config.item_count(), &live, Duration::from_secs(60)).await);
        observer.close().await;
    }
    // One whole fire under the settled assignment before counting.
    let window_start = next_fire(period_ms) + period_ms + period_ms * 6 / 10;
    let window_end = window_start + fires * period_ms;
    sleep_until(window_start).await;
    let before: Vec<Vec<(usize, RequestCounts)>> = clusters.iter().map(Cluster::counts).collect();
    sleep_until(window_end).await;
    let after: Vec<Vec<(usize, RequestCounts)>> = clusters.iter().map(Cluster::counts).collect();
    let window_fires: Vec<i64> = cluster_tests::workers::fires_between(window_start, window_end, period_ms);
    let mut out = Vec::new();
    for (((cluster, before), after), settled) in clusters.into_iter().zip(before).zip(after).zip(settled) {
        let observer = cluster.observer().await;
        let leader = leader(&observer).await;
        observer.close().await;
        let per_instance: Vec<Value> = before
            .iter()
            .zip(&after)
            .map(|((index, b), (_, a))| {
                let d = a.since(b);
                let per_fire = |n: u64| stats::round2(n as f64 / fires as f64);
                json!({
                    "instance": index,
                    "leader": leader.as_deref() == Some(instance_id(*index).as_str()),
                    "read_requests": per_fire(d.reads),
                    "write_requests": per_fire(d.writes),
                    "requests": per_fire(d.reads + d.writes),
                    "read_ops": per_fire(d.read_ops),
                    "write_ops": per_fire(d.write_ops),
                    "operations": per_fire(d.read_ops + d.write_ops),
                })
            })
            .collect();
        let mean = |key: &str| stats::round2(stats::mean(&per_instance.iter().filter_map(|v| v[key].as_f64()).collect::<Vec<_>>()));
        let max = |key: &str| per_instance.iter().filter_map(|v| v[key].as_f64()).fold(0.0, f64::max);
        let min = |key: &str| per_instance.iter().filter_map(|v| v[key].as_f64()).fold(f64::INFINITY, f64::min);
        let row = json!({
            "items": cluster.config.item_count(),
            "instances": INSTANCES,
            "period_ms": period_ms,
            "fires": fires,
            "handler_ms": HANDLER.as_millis() as i64,
            "assignment_settled": settled,
            "per_instance": per_instance,
            "requests_mean": mean("requests"), "requests_min": min("requests"), "requests_max": max("requests"),
            "operations_mean": mean("operations"), "operations_min": min("operations"), "operations_max": max("operations"),
            "runs": runs_summary(&cluster, &window_fires),
        });
        out.push(Measured { row, fires: window_fires.clone(), cluster });
    }
    out
}

/// Whether every item ran exactly once in every fire of `fires`, and how
/// long each fire took from its scheduled time to its first and last
/// handler start.
pub fn runs_summary(cluster: &Cluster, fires: &[i64]) -> Value {
    let items = cluster.config.item_count();
    let (mut missed, mut doubled) = (0usize, 0usize);
    // Which fires missed items: tells a leave's fire from a late one.
    let mut missed_by_fire = serde_json::Map::new();
    let (mut to_first, mut to_last) = (Vec::new(), Vec::new());
    for &fire in fires {
        let record = cluster.recorder.fire(fire).unwrap_or_default();
        let missed_items: Vec<u32> = (0..items).filter(|i| !record.starts.contains_key(i)).collect();
        if !missed_items.is_empty() {
            // The count, and the first few items to look for in the logs.
            missed_by_fire.insert(fire.to_string(), json!({ "count": missed_items.len(), "first": &missed_items[..missed_items.len().min(10)] }));
        }
        missed += missed_items.len();
        doubled += record.starts.values().filter(|&&n| n > 1).count();
        if !record.starts.is_empty() {
            to_first.push(record.first_ms - fire);
            to_last.push(record.last_ms - fire);
        }
    }
    json!({
        "fires": fires.len(),
        "item_fires_expected": items as usize * fires.len(),
        "item_fires_missed": missed,
        "item_fires_missed_by_fire": missed_by_fire,
        "item_fires_started_twice": doubled,
        "fire_to_first_start_ms": summarize(to_first),
        "fire_to_last_start_ms": summarize(to_last),
    })
}
