//! b) ZooKeeper ensemble faults: the leader stops mid-fire, the follower
//! the workers use stops, quorum is lost past the session timeout, and the
//! whole ensemble restarts. The job must fire again soon after each.

use cluster_tests::ledger::{check_with, CheckOptions};
use cluster_tests::workers::{fires_between, now_millis, Worker};
use fault_tests::cluster::{leak_problems, sleep_until, wait_registered, Cluster, EVERY_SECOND, SESSION_TIMEOUT_MS};
use fault_tests::ensemble::Ensemble;
use fault_tests::measure::{completed, head, silent_since, split_lost_completions, summary};
use fault_tests::Direct;
use std::time::Duration;

/// Recovery bound after quorum is back: session timeout + 5 s.
const BOUND_MS: i64 = SESSION_TIMEOUT_MS + 5000;

/// Waits until every worker in `ids` started something at or after `from`
/// and a fire at or after `from` completed every item; ms from `from`.
fn recovered(cluster: &Cluster, ids: &[String], items: u32, from: i64) -> Option<i64> {
    let ok = cluster.wait_until(Duration::from_millis(BOUND_MS as u64 + 3000), |e| {
        let done = completed(e);
        silent_since(e, ids, from).is_empty()
            && fires_between(from - 1, now_millis(), 1000).iter().any(|&f| (0..items).all(|i| done.contains(&(i, f))))
    });
    let e = cluster.entries();
    let first_starts = ids.iter().map(|id| e.iter().filter(|x| &x.instance == id && x.at >= from).map(|x| x.at).min());
    let worst = first_starts.collect::<Option<Vec<i64>>>()?.into_iter().max()?;
    ok.then_some(worst - from)
}

/// Three workers on a 3-node ensemble (6 items, handlers 100 ms, a fire
/// every second). Phases: stop the leader 50 ms into a fire, restart it;
/// stop the follower holding most client connections for 3 s; stop two
/// nodes for 4 s (> session timeout), restore; stop all three, restart.
/// After each, every worker must start an item and some fire must run
/// every item within session timeout + 5 s of quorum. Misses excused from
/// each fault to quorum + session timeout + 5 s; 0 duplicates, except
/// at-least-once re-runs of a run that ended while its instance was cut off
/// and lost its session before recording the end (counted apart).
#[test]
fn b_ensemble_leader_follower_quorum_and_full_restart() {
    let mut zk = Ensemble::start(3);
    let cluster = Cluster::new("b-ensemble");
    let items = 6;
    let mut workers: Vec<Worker> = (0..3)
        .map(|n| cluster.spawn(&format!("w{n}"), &zk.connect_string(), items, EVERY_SECOND, &[("sleep-ms", "100")], &[]))
        .collect();
    let ready = now_millis();
    let ids: Vec<String> = workers.iter().map(|w| w.instance_id.clone()).collect();
    assert!(cluster.wait_until(Duration::from_secs(15), |e| silent_since(e, &ids, ready).is_empty()), "not every worker fired");
    let before = Direct::connect(&zk.connect_string(), &cluster.namespace).count();
    let mut windows = Vec::new();
    let mut phases = Vec::new();
    let wait_quorum = |zk: &Ensemble| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while zk.leader().is_none() {
            assert!(std::time::Instant::now() < deadline, "no quorum within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        now_millis()
    };

    // 1. The leader stops mid-fire and comes back.
    let leader = zk.leader().expect("a leader");
    sleep_until((now_millis() / 1000 + 1) * 1000 + 50);
    let fault_at = now_millis();
    zk.stop_node(leader);
    let quorum_at = wait_quorum(&zk);
    zk.start_node(leader);
    let r = recovered(&cluster, &ids, items, quorum_at);
    phases.push(("leader-stop", r));
    windows.push((fault_at, quorum_at + BOUND_MS));
    assert!(zk.wait_serving(&[0, 1, 2], Duration::from_secs(60)), "the old leader did not rejoin");
    std::thread::sleep(Duration::from_millis(2000));

    // 2. The follower with most client connections stops for 3 s.
    let leader = zk.leader().expect("a leader");
    let follower = (0..3).filter(|&i| i != leader).max_by_key(|&i| zk.connections(i)).unwrap();
    let fault_at = now_millis();
    zk.stop_node(follower);
    let quorum_at = now_millis();
    std::thread::sleep(Duration::from_millis(3000));
    zk.start_node(follower);
    let r = recovered(&cluster, &ids, items, quorum_at);
    phases.push(("follower-stop", r));
    windows.push((fault_at, quorum_at + BOUND_MS));
    assert!(zk.wait_serving(&[0, 1, 2], Duration::from_secs(60)), "the follower did not rejoin");
    std::thread::sleep(Duration::from_millis(2000));

    // 3. Quorum lost for 4 s.
    let leader = zk.leader().expect("a leader");
    let stopped: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let fault_at = now_millis();
    for &i in &stopped {
        zk.stop_node(i);
    }
    std::thread::sleep(Duration::from_millis((SESSION_TIMEOUT_MS + 2000) as u64));
    for &i in &stopped {
        zk.start_node(i);
    }
    let quorum_at = wait_quorum(&zk);
    let r = recovered(&cluster, &ids, items, quorum_at);
    phases.push(("quorum-loss", r));
    windows.push((fault_at, quorum_at + BOUND_MS));
    assert!(zk.wait_serving(&[0, 1, 2], Duration::from_secs(60)), "the ensemble did not heal");
    std::thread::sleep(Duration::from_millis(2000));

    // 4. The whole ensemble restarts.
    let fault_at = now_millis();
    for i in 0..3 {
        zk.stop_node(i);
    }
    std::thread::sleep(Duration::from_millis(1000));
    for i in 0..3 {
        zk.start_node(i);
    }
    let quorum_at = wait_quorum(&zk);
    let r = recovered(&cluster, &ids, items, quorum_at);
    phases.push(("full-restart", r));
    windows.push((fault_at, quorum_at + BOUND_MS));
    std::thread::sleep(Duration::from_millis(4000));
    let end = now_millis();

    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let missing = wait_registered(&direct, &cluster.job, &ids, Duration::from_secs(5));
    let after = direct.count();
    for w in &mut workers {
        w.terminate(Duration::from_secs(8));
    }
    let entries = cluster.entries();
    let fires = fires_between(ready + 1000, end - 1500, 1000);
    let mut report = check_with(&entries, &cluster.job, items, &fires, &CheckOptions { windows: &windows, ..Default::default() });
    // At-least-once with failover: a run whose end its instance could not
    // record before losing its session is re-run by a survivor.
    let lost = cluster.lost_in_flight(&["w0", "w1", "w2"]);
    let (reruns, duplicates) = split_lost_completions(&entries, &report.duplicates, &lost);
    report.duplicates = duplicates;
    let worst = phases.iter().map(|(_, r)| r.unwrap_or(i64::MAX)).max().unwrap();
    let described: Vec<String> = phases.iter().map(|(n, r)| format!("{n}={}", r.unwrap_or(-1))).collect();
    let leaks = leak_problems(&before, &after, &cluster.job);
    summary("b-ensemble", &entries, &report, (worst != i64::MAX).then_some(worst), &format!("{} reruns_after_lost_completion={}", described.join(" "), reruns.len()));
    for (name, r) in &phases {
        assert!(r.is_some_and(|ms| ms <= BOUND_MS), "{name}: not every worker fired again within {BOUND_MS} ms of quorum ({r:?})");
    }
    assert!(report.duplicates.is_empty(), "duplicates: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "misses outside {windows:?}: {}", head(&report.misses));
    assert!(missing.is_empty(), "not registered: {missing:?}");
    assert!(leaks.is_empty(), "{leaks:?}");
}
