//! A Rust handler that blocks its runtime thread (invariant 5): the
//! registry session's keep-alive and the freeze clock run on the core's own
//! thread, so the session survives and nothing is run twice.

use cluster_tests::ledger::{check_with, CheckOptions, Entry};
use cluster_tests::workers::{fires_between, now_millis, Worker};
use fault_tests::cluster::{wait_registered, Cluster, EVERY_SECOND, SESSION_TIMEOUT_MS};
use fault_tests::measure::{head, summary};
use fault_tests::Direct;
use std::time::Duration;
use zk_harness::ZkServer;

/// Two workers, 4 items, a fire every second, handlers 100 ms; item 0's
/// handler blocks its tokio worker thread with `std::thread::sleep` for
/// 2.5 × the session timeout at every run; the other of the worker's two
/// threads stays free. For 12 s: no session may be lost, no (item, fire)
/// may run twice, and items 1..3 run every fire. Item 0 misses fires while
/// its blocked run lasts (misfire re-runs it once), which is the handler's
/// doing, not the scheduler's.
#[test]
fn a_handler_blocking_one_of_its_runtime_threads_does_not_cost_the_session() {
    run_blocking("block-runtime", 2, |_| vec![0]);
}

/// The same with a worker runtime of **one** thread: item 0's handler stalls
/// everything the scheduler runs on in that process (its fire loop, its
/// session's watch handling) for 2.5 × the session timeout at every run.
/// Only the ZooKeeper client and the freeze clock keep running, on the
/// core's registry thread. No session may be lost and nothing may run
/// twice; the blocked worker's items miss the fires its stalls cover
/// (excused: the default catch-up window, one period, skips them; each of
/// those items still runs at least twice), the other worker's items run
/// every fire.
#[test]
fn a_handler_blocking_every_runtime_thread_does_not_cost_the_session() {
    run_blocking("block-every-thread", 1, |entries| {
        let blocker = entries.iter().find(|e| e.item == 0).map(|e| e.instance.clone()).expect("item 0 ran");
        let mut items: Vec<u32> = entries.iter().filter(|e| e.instance == blocker).map(|e| e.item).collect();
        items.sort_unstable();
        items.dedup();
        items
    });
}

/// Runs two workers with `runtime_threads` tokio threads each, item 0
/// blocking its thread, for 12 s. Misses of the items `excused_items` picks
/// from the ledger are excused; every other item runs every fire. No
/// session may be lost, nothing may run twice, every worker stays
/// registered; item 0 and excused items run at least twice, the others at
/// least 3 times.
fn run_blocking(name: &str, runtime_threads: u32, excused_items: impl Fn(&[Entry]) -> Vec<u32>) {
    let zk = ZkServer::start();
    let cluster = Cluster::new(name);
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let items = 4;
    let block_ms = (SESSION_TIMEOUT_MS * 5 / 2).to_string();
    let threads = runtime_threads.to_string();
    let flags = [
        ("sleep-ms", "100"),
        ("block-runtime-item", "0"),
        ("block-ms", block_ms.as_str()),
        ("runtime-threads", threads.as_str()),
    ];
    let mut workers: Vec<Worker> =
        (0..2).map(|n| cluster.spawn(&format!("w{n}"), &zk.connect_string(), items, EVERY_SECOND, &flags, &[])).collect();
    let ready = now_millis();
    std::thread::sleep(Duration::from_millis(12_000));
    let end = now_millis();
    let ids: Vec<String> = workers.iter().map(|w| w.instance_id.clone()).collect();
    let missing = wait_registered(&direct, &cluster.job, &ids, Duration::from_secs(1));
    let lost: usize = ["w0", "w1"].iter().map(|n| cluster.log_lines(n, "session lost").len()).sum();
    for w in &mut workers {
        w.terminate(Duration::from_secs(10));
    }
    let entries = cluster.entries();
    let fires = fires_between(ready + 2000, end - 1500, 1000);
    let mut report = check_with(&entries, &cluster.job, items, &fires, &CheckOptions::default());
    let excused = excused_items(&entries);
    let (excused_misses, misses): (Vec<_>, Vec<_>) = report.misses.iter().partition(|(item, _)| excused.contains(item));
    report.misses = misses;
    report.excused.extend(excused_misses);
    let runs = |item: u32| entries.iter().filter(|e| e.item == item && e.phase == "end").count();
    summary(name, &entries, &report, None, &format!("sessions_lost={lost} item0_runs={}", runs(0)));
    assert_eq!(lost, 0, "a blocked runtime thread cost a session");
    assert!(report.duplicates.is_empty(), "duplicates: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "items not excused ({excused:?}) missed fires: {}", head(&report.misses));
    assert!(runs(0) >= 2, "the blocking item ran {} times", runs(0));
    for item in 1..items {
        let least = if excused.contains(&item) { 2 } else { 3 };
        assert!(runs(item) >= least, "item {item} ran only {} times", runs(item));
    }
    assert!(missing.is_empty(), "not registered: {missing:?}");
}
