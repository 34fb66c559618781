//! A Rust handler that blocks its runtime thread (invariant 5): the
//! registry session's keep-alive runs on the core's own thread, so the
//! session survives and nothing is run twice.

use cluster_tests::ledger::{check_with, CheckOptions};
use cluster_tests::workers::{fires_between, now_millis, Worker};
use fault_tests::cluster::{wait_registered, Cluster, EVERY_SECOND, SESSION_TIMEOUT_MS};
use fault_tests::measure::{head, summary};
use fault_tests::Direct;
use std::time::Duration;
use zk_harness::ZkServer;

/// Two workers, 4 items, a fire every second, handlers 100 ms; item 0's
/// handler blocks its tokio worker thread with `std::thread::sleep` for
/// 2.5 × the session timeout at every run. For 12 s: no session may be
/// lost, no (item, fire) may run twice, and items 1..3 run every fire.
/// Item 0 misses fires while its blocked run lasts (misfire re-runs it
/// once), which is the handler's doing, not the scheduler's.
#[test]
fn a_handler_blocking_its_runtime_thread_does_not_cost_the_session() {
    let zk = ZkServer::start();
    let cluster = Cluster::new("block-runtime");
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let items = 4;
    let block_ms = (SESSION_TIMEOUT_MS * 5 / 2).to_string();
    let flags = [("sleep-ms", "100"), ("block-runtime-item", "0"), ("block-ms", block_ms.as_str())];
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
    let item0_runs = entries.iter().filter(|e| e.item == 0 && e.phase == "end").count();
    report.misses.retain(|&(item, _)| item != 0);
    summary("block-runtime", &entries, &report, None, &format!("sessions_lost={lost} item0_runs={item0_runs}"));
    assert_eq!(lost, 0, "a blocked runtime thread cost a session");
    assert!(report.duplicates.is_empty(), "duplicates: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "items 1..3 missed fires: {}", head(&report.misses));
    assert!(item0_runs >= 2, "the blocking item ran {item0_runs} times");
    assert!(missing.is_empty(), "not registered: {missing:?}");
}
