//! k) A handler that never returns must not stall the rest of the job:
//! the other items keep firing and resharding still happens.

use cluster_tests::ledger::{check_with, CheckOptions};
use cluster_tests::workers::{fires_between, now_millis, Worker};
use fault_tests::cluster::{wait_registered, Cluster, EVERY_SECOND, SESSION_TIMEOUT_MS};
use fault_tests::measure::{head, summary};
use fault_tests::Direct;
use std::time::Duration;
use zk_harness::ZkServer;

/// Stated bound for the leader's wait on a hung item: 2 × session timeout + 5 s.
const BOUND_MS: i64 = 2 * SESSION_TIMEOUT_MS + 5000;

/// Two workers, 4 items, a fire every second, handlers 200 ms, item 0's
/// handler never returns (`--hang-item 0`, no execution timeout). Once
/// item 0 hangs, a third worker joins; 6 s later the worker that does not
/// hold the hung item is killed -9. Within [`BOUND_MS`] of the join the
/// joiner must start items (the leader's wait for running items ended),
/// and within [`BOUND_MS`] of the kill the killed worker's items must run
/// elsewhere. Items 1..3 must run every fire except inside join → join +
/// bound and kill → kill + bound; no duplicates.
#[test]
fn k_a_hung_handler_does_not_stall_resharding_or_other_items() {
    let zk = ZkServer::start();
    let cluster = Cluster::new("k-hang");
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let items = 4;
    let flags = [("sleep-ms", "200"), ("hang-item", "0")];
    let mut workers: Vec<Worker> =
        (0..2).map(|n| cluster.spawn(&format!("w{n}"), &zk.connect_string(), items, EVERY_SECOND, &flags, &[])).collect();
    let ready = now_millis();
    let hung = cluster.wait_for(Duration::from_secs(15), |e| e.item == 0 && e.phase == "start").expect("item 0 starts");
    std::thread::sleep(Duration::from_millis(2000));
    let joiner = cluster.spawn("joiner", &zk.connect_string(), items, EVERY_SECOND, &flags, &[]);
    let join_at = now_millis();
    let joiner_id = joiner.instance_id.clone();
    let joiner_first = cluster.wait_for(Duration::from_millis(BOUND_MS as u64 + 2000), |e| e.instance == joiner_id && e.phase == "start");
    std::thread::sleep(Duration::from_millis(join_at as u64 + 6000 - now_millis().min(join_at + 6000) as u64));
    let victim_index = workers.iter().position(|w| w.instance_id != hung.instance).expect("a worker without the hang");
    let victim_id = workers[victim_index].instance_id.clone();
    let kill_at = now_millis();
    workers[victim_index].kill9();
    let victim_items: Vec<u32> = {
        let e = cluster.entries();
        let mut v: Vec<u32> = e.iter().filter(|x| x.instance == victim_id && x.phase == "start" && x.item != 0).map(|x| x.item).collect();
        v.sort();
        v.dedup();
        v
    };
    let taken_over = cluster.wait_until(Duration::from_millis(BOUND_MS as u64 + 2000), |e| {
        victim_items.iter().all(|&i| e.iter().any(|x| x.item == i && x.phase == "start" && x.at > kill_at && x.instance != victim_id))
    });
    let takeover_ms = cluster
        .entries()
        .iter()
        .filter(|x| x.at > kill_at && x.phase == "start" && victim_items.contains(&x.item) && x.instance != victim_id)
        .map(|x| x.at - kill_at)
        .max();
    std::thread::sleep(Duration::from_millis(4000));
    let end = now_millis();
    workers.push(joiner);
    let live: Vec<String> = workers.iter().filter(|w| w.instance_id != victim_id).map(|w| w.instance_id.clone()).collect();
    let missing = wait_registered(&direct, &cluster.job, &live, Duration::from_secs(1));
    let waits: usize = ["w0", "w1", "joiner"].iter().map(|n| cluster.log_lines(n, "wait").len()).sum();
    let stuck_reports: usize =
        ["w0", "w1", "joiner"].iter().map(|n| cluster.log_lines(n, "still running after the resharding wait").len()).sum();
    for w in &mut workers {
        w.terminate(Duration::from_secs(3));
    }
    let entries = cluster.entries();
    let fires = fires_between(ready + 1000, end - 1500, 1000);
    let windows = [(join_at, join_at + BOUND_MS), (kill_at, kill_at + BOUND_MS)];
    let crashed = [victim_id.as_str()];
    let mut report = check_with(&entries, &cluster.job, items, &fires, &CheckOptions { windows: &windows, crashed: &crashed, ..Default::default() });
    report.misses.retain(|&(item, _)| item != 0);
    report.excused.retain(|&(item, _)| item != 0);
    let join_ms = joiner_first.as_ref().map(|e| e.at - join_at);
    summary(
        "k-hung-handler",
        &entries,
        &report,
        takeover_ms.max(join_ms),
        &format!(
            "join_to_first_start_ms={} kill_to_takeover_ms={} bound_ms={BOUND_MS} log_wait_lines={waits} stuck_reports={stuck_reports}",
            join_ms.unwrap_or(-1),
            takeover_ms.unwrap_or(-1)
        ),
    );
    assert!(join_ms.is_some_and(|ms| ms <= BOUND_MS), "the joiner started nothing within {BOUND_MS} ms of joining: the leader still waits on the hung item");
    assert!(taken_over && takeover_ms.is_some_and(|ms| ms <= BOUND_MS), "the killed worker's items {victim_items:?} did not run elsewhere within {BOUND_MS} ms");
    assert!(report.duplicates.is_empty(), "duplicates: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "items 1..3 missed outside {windows:?}: {}", head(&report.misses));
    assert!(missing.is_empty(), "not registered: {missing:?}");
    assert!(stuck_reports > 0, "the leader never reported the hung item");
}
