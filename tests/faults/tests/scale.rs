//! e) Many items: every item of every fire runs and completes, with one
//! worker owning 10,000 items and with two sharing 20,000.

use cluster_tests::ledger::{check_with, CheckOptions, Entry};
use cluster_tests::workers::{now_millis, Worker};
use fault_tests::cluster::{leak_problems, wait_registered, Cluster};
use fault_tests::measure::{completed, head, summary};
use fault_tests::Direct;
use std::time::{Duration, Instant};
use zk_harness::ZkServer;

/// `workers` workers share `items` items, cron `0/10 * * * * ?` (room for
/// a debug build on 2 shared cores to run 10,000 items a worker), handlers
/// ~0 ms. The first fire after ready is a warm-up (its sharding writes
/// thousands of nodes); the three fires after it must each complete every
/// item exactly once, within 75 s of ready.
fn many_items(name: &str, workers: usize, items: u32) {
    let zk = ZkServer::start();
    let cluster = Cluster::new(name);
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let flags = [("sleep-ms", "0")];
    let cron = "0/10 * * * * ?";
    let mut running: Vec<Worker> =
        (0..workers).map(|n| cluster.spawn(&format!("w{n}"), &zk.connect_string(), items, cron, &flags, &[])).collect();
    let ready = now_millis();
    let first = (ready / 10_000 + 1) * 10_000;
    let fires: Vec<i64> = (1..=3).map(|n| first + n * 10_000).collect();
    let deadline = Instant::now() + Duration::from_secs(75);
    let mut before = None;
    let mut entries: Vec<Entry>;
    loop {
        std::thread::sleep(Duration::from_millis(1000));
        entries = cluster.entries();
        let done = completed(&entries);
        if before.is_none() && fires.iter().take(1).all(|&f| (0..items).all(|i| done.contains(&(i, f)))) {
            before = Some(direct.count());
        }
        if fires.iter().all(|&f| (0..items).all(|i| done.contains(&(i, f)))) || Instant::now() > deadline {
            break;
        }
    }
    let elapsed = now_millis() - ready;
    let ids: Vec<String> = running.iter().map(|w| w.instance_id.clone()).collect();
    let missing = wait_registered(&direct, &cluster.job, &ids, Duration::from_secs(1));
    let after = direct.count();
    for w in &mut running {
        w.terminate(Duration::from_secs(10));
    }
    let entries = cluster.entries();
    let report = check_with(&entries, &cluster.job, items, &fires, &CheckOptions::default());
    let leaks = before.as_ref().map(|b| leak_problems(b, &after, &cluster.job));
    let last_done = fires
        .iter()
        .map(|&f| entries.iter().filter(|e| e.fire == f && e.phase == "end").map(|e| e.at - f).max().unwrap_or(-1))
        .collect::<Vec<_>>();
    summary(name, &entries, &report, None, &format!("elapsed_ms={elapsed} fire_to_last_end_ms={last_done:?} znodes={}", after.total()));
    assert!(report.duplicates.is_empty(), "duplicates: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "(item, fire) not completed within 75 s: {}", head(&report.misses));
    assert!(missing.is_empty(), "not registered: {missing:?}");
    let leaks = leaks.expect("the first checked fire never completed: no znode baseline");
    assert!(leaks.is_empty(), "{leaks:?}");
}

#[test]
fn e_one_worker_ten_thousand_items() {
    many_items("e-10k-one-worker", 1, 10_000);
}

#[test]
fn e_two_workers_twenty_thousand_items() {
    many_items("e-20k-two-workers", 2, 20_000);
}
