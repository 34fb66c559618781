//! i) Churn: workers join, leave (SIGTERM) and die (kill -9) while the job
//! fires every second; one long-lived worker watches it all.

use cluster_tests::ledger::{check_with, CheckOptions};
use cluster_tests::workers::{fires_between, now_millis, Worker};
use fault_tests::cluster::{leak_problems, long, wait_registered, Cluster, EVERY_SECOND, SESSION_TIMEOUT_MS};
use fault_tests::measure::{head, recovery_ms, silent_since, summary};
use fault_tests::Direct;
use std::time::Duration;
use zk_harness::ZkServer;

/// 8 items, handlers 200 ms, failover on, a fire every second, for 60 s
/// (5 minutes with `ELASTICJOB_LONG=1`). Every 5 s one of: join, SIGTERM
/// one, join, kill -9 one (never the long-lived worker). Misses are excused
/// only inside failover windows (kill → kill + session timeout + 3 s) and
/// even those fires must be caught up by the end (catch-up window 300 s); 0 duplicates; the last
/// 8 s are quiet and every live worker fires in them; the lasting znodes
/// match the start; the long-lived worker's RSS stays within first + 50 %
/// (or + 20 MiB).
#[test]
fn i_churn_join_leave_die() {
    let zk = ZkServer::start();
    let cluster = Cluster::new("i-churn");
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let items = 8;
    // Fires in a crash window are caught up: a catch-up window wide enough.
    let flags = [("sleep-ms", "200"), ("failover", "true"), ("catch-up-window-s", "300")];
    let duration_ms: i64 = if long() { 300_000 } else { 60_000 };
    let mut elder = cluster.spawn("elder", &zk.connect_string(), items, EVERY_SECOND, &flags, &[]);
    let mut others: Vec<Worker> = vec![cluster.spawn("w0", &zk.connect_string(), items, EVERY_SECOND, &flags, &[])];
    let ready = now_millis();
    std::thread::sleep(Duration::from_millis(4000));
    let before = direct.count();
    let rss_first = elder.rss_kib().unwrap_or(0);
    let mut windows = Vec::new();
    let mut crashed = Vec::new();
    let mut spawned = 1;
    let mut step = 0;
    while now_millis() - ready < duration_ms - 8000 {
        match step % 4 {
            0 | 2 if others.len() < 4 => {
                spawned += 1;
                others.push(cluster.spawn(&format!("w{spawned}"), &zk.connect_string(), items, EVERY_SECOND, &flags, &[]));
            }
            1 if others.len() > 1 => {
                let mut w = others.remove(0);
                w.terminate(Duration::from_secs(8));
            }
            3 if others.len() > 1 => {
                let mut w = others.remove(0);
                let at = now_millis();
                w.kill9();
                crashed.push(w.instance_id.clone());
                windows.push((at, at + SESSION_TIMEOUT_MS + 3000));
            }
            _ => {}
        }
        step += 1;
        std::thread::sleep(Duration::from_millis(5000));
    }
    let quiet_from = now_millis();
    std::thread::sleep(Duration::from_millis(8000));
    let end = now_millis();
    let rss_last = elder.rss_kib().unwrap_or(0);
    let mut ids: Vec<String> = others.iter().map(|w| w.instance_id.clone()).collect();
    ids.push(elder.instance_id.clone());
    let missing = wait_registered(&direct, &cluster.job, &ids, Duration::from_secs(1));
    let after = direct.count();
    let entries = cluster.entries();
    let silent = silent_since(&entries, &ids, quiet_from + 3000);
    for w in &mut others {
        w.terminate(Duration::from_secs(8));
    }
    elder.terminate(Duration::from_secs(8));
    let entries = cluster.entries();
    let fires = fires_between(ready + 2000, end - 1500, 1000);
    let catch_up: Vec<i64> = fires.iter().copied().filter(|f| windows.iter().any(|&(a, b)| a <= *f && *f <= b)).collect();
    let crashed_refs: Vec<&str> = crashed.iter().map(String::as_str).collect();
    let options = CheckOptions { crashed: &crashed_refs, windows: &windows, catch_up: &catch_up };
    let report = check_with(&entries, &cluster.job, items, &fires, &options);
    let recovery = windows.last().and_then(|w| recovery_ms(&entries, items, &fires, w.0));
    let leaks = leak_problems(&before, &after, &cluster.job);
    summary(
        "i-churn",
        &entries,
        &report,
        recovery,
        &format!("duration_s={} kills={} rss_first_kib={rss_first} rss_last_kib={rss_last}", duration_ms / 1000, crashed.len()),
    );
    assert!(report.duplicates.is_empty(), "duplicates: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "misses (outside failover windows, or not caught up): {}", head(&report.misses));
    assert!(missing.is_empty(), "not registered: {missing:?}");
    assert!(silent.is_empty(), "live workers that did not fire in the quiet end: {silent:?}");
    assert!(leaks.is_empty(), "{leaks:?}");
    assert!(rss_last <= rss_first + (rss_first / 2).max(20 * 1024), "RSS grew from {rss_first} KiB to {rss_last} KiB");
}
