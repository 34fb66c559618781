//! f) Trigger requests with a time in the future and with garbage data
//! must not disturb the scheduled fires.

use cluster_tests::ledger::{check_with, CheckOptions};
use cluster_tests::workers::{fires_between, now_millis};
use fault_tests::cluster::{leak_problems, wait_registered, Cluster, EVERY_SECOND};
use fault_tests::measure::{head, silent_since, summary};
use fault_tests::Direct;
use std::time::Duration;
use zk_harness::ZkServer;

/// Two workers, 4 items, a fire every second, handlers 100 ms. A direct
/// client writes `trigger/{first}` = `9999999999999` and `trigger/{second}`
/// = now + 60000, and 3 s later `trigger/{first}` = `garbage\xff`. Every
/// scheduled fire from 1 s after ready to 1.5 s before the end runs every
/// item exactly once (no window excused), every trigger request runs its
/// instance's items once, and both workers keep running.
#[test]
fn f_future_and_garbage_triggers_leave_scheduled_fires_alone() {
    let zk = ZkServer::start();
    let cluster = Cluster::new("f-triggers");
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let items = 4;
    let mut workers: Vec<_> = (0..2)
        .map(|n| cluster.spawn(&format!("w{n}"), &zk.connect_string(), items, EVERY_SECOND, &[("sleep-ms", "100")], &[]))
        .collect();
    let ready = now_millis();
    let ids: Vec<String> = workers.iter().map(|w| w.instance_id.clone()).collect();
    assert!(cluster.wait_until(Duration::from_secs(15), |e| silent_since(e, &ids, ready).is_empty()), "not both fired");
    let before = direct.count();
    let trigger = |id: &str| format!("/{}/trigger/{id}", cluster.job);
    direct.put(&trigger(&ids[0]), b"9999999999999");
    direct.put(&trigger(&ids[1]), (now_millis() + 60_000).to_string().as_bytes());
    std::thread::sleep(Duration::from_millis(3000));
    direct.put(&trigger(&ids[0]), b"garbage\xff");
    let garbage_at = now_millis();
    std::thread::sleep(Duration::from_millis(6000));
    let end = now_millis();
    let exited: Vec<String> = workers.iter_mut().filter_map(|w| w.has_exited().then(|| w.name.clone())).collect();
    let missing = wait_registered(&direct, &cluster.job, &ids, Duration::from_secs(1));
    let after = direct.count();
    let left = after.under(&format!("/{}/trigger", cluster.job)).len();
    for w in &mut workers {
        w.terminate(Duration::from_secs(8));
    }
    let entries = cluster.entries();
    let unscheduled = entries.iter().filter(|e| e.phase == "start" && e.fire % 1000 != 0).count();
    let fires = fires_between(ready + 1000, end - 1500, 1000);
    let report = check_with(&entries, &cluster.job, items, &fires, &CheckOptions::default());
    let leaks = leak_problems(&before, &after, &cluster.job);
    summary("f-future-garbage-triggers", &entries, &report, None, &format!("unscheduled_runs={unscheduled} triggers_left={left}"));
    assert!(exited.is_empty(), "workers died: {exited:?}");
    // Three requests, each running its instance's two items once (after
    // them if they were busy): a trigger is never dropped.
    assert_eq!(unscheduled, 6, "triggered runs");
    assert!(report.duplicates.is_empty(), "duplicates: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "scheduled fires missed: {}", head(&report.misses));
    assert!(missing.is_empty(), "not registered: {missing:?}");
    assert!(silent_since(&entries, &ids, garbage_at + 1000).is_empty(), "a worker stopped firing after the garbage trigger");
    assert!(leaks.is_empty(), "{leaks:?}");
}
