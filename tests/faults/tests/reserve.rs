//! l) A cron fire is reserved ahead of its instant (the fenced start and the
//! `running` marks are written early, the handlers released at the
//! instant). A worker killed between its reservation and the instant owes
//! that fire: failover must run the reserved items for it, once, and no
//! handler anywhere may start before its fire time.

use cluster_tests::ledger::{check_with, CheckOptions};
use cluster_tests::workers::{fires_between, now_millis};
use fault_tests::cluster::{leak_problems, sleep_until, wait_registered, Cluster, SESSION_TIMEOUT_MS};
use fault_tests::measure::{head, recovery_ms, summary};
use fault_tests::Direct;
use std::time::Duration;
use zk_harness::ZkServer;

/// Two workers (victim, survivor), 4 items, cron `0/3 * * * * ?`, failover
/// on, handlers sleeping 300 ms. The victim is killed (SIGKILL) 30 ms before
/// a fire instant; the items whose `fired` fence names that fire and the
/// victim are its reservation. Required: it started no
/// handler for that fire; the survivor ran each reserved item for it
/// exactly once; every start of the run is at or after its fire time.
/// Excused: kill → kill + session timeout + 3 s, except the reserved fire,
/// which must complete.
#[test]
fn l_killed_between_reservation_and_release() {
    let name = "l-killed-between-reservation-and-release";
    let zk = ZkServer::start();
    let cluster = Cluster::new(name);
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let items = 4;
    let period = 3000;
    let cron = "0/3 * * * * ?";
    let flags = [("sleep-ms", "300"), ("failover", "true")];
    let mut victim = cluster.spawn("victim", &zk.connect_string(), items, cron, &flags, &[]);
    let mut survivor = cluster.spawn("survivor", &zk.connect_string(), items, cron, &flags, &[]);
    let ready = now_millis();
    let (vid, sid) = (victim.instance_id.clone(), survivor.instance_id.clone());
    let both_run = cluster.wait_until(Duration::from_secs(20), |entries| {
        [&vid, &sid].iter().all(|id| entries.iter().any(|e| &e.instance == *id && e.phase == "end" && e.at > ready))
    });
    assert!(both_run, "both workers run items before the fault");
    let before = direct.count();

    let mut fire = (now_millis() / period + 1) * period;
    if fire - now_millis() < 500 {
        fire += period;
    }
    sleep_until(fire - 30);
    victim.kill9();
    let killed_at = now_millis();
    // The fences are persistent: read after the kill (the next fire is 3 s away).
    let fence = format!("{fire} {vid}");
    let reserved: Vec<u32> = (0..items)
        .filter(|item| {
            let path = format!("/{}/sharding/{item}/fired", cluster.job);
            direct.get_string(&path).is_some_and(|text| text.trim() == fence)
        })
        .collect();

    std::thread::sleep(Duration::from_millis((SESSION_TIMEOUT_MS + 9000) as u64));
    let end = now_millis();
    let missing = wait_registered(&direct, &cluster.job, std::slice::from_ref(&sid), Duration::from_secs(1));
    let after = direct.count();
    survivor.terminate(Duration::from_secs(8));
    let entries = cluster.entries();

    let victim_released: Vec<_> = entries.iter().filter(|e| e.instance == vid && e.fire == fire).collect();
    let reserved_runs: Vec<(u32, Vec<&str>)> = reserved
        .iter()
        .map(|&item| {
            let starters =
                entries.iter().filter(|e| e.item == item && e.fire == fire && e.phase == "start").map(|e| e.instance.as_str());
            (item, starters.collect())
        })
        .collect();
    let early: Vec<_> = entries.iter().filter(|e| e.phase == "start" && e.fire > 0 && e.at < e.fire).collect();
    let fires = fires_between(ready + period, end - 3500, period);
    let windows = [(killed_at, killed_at + SESSION_TIMEOUT_MS + 3000)];
    let catch_up = [fire];
    let options = CheckOptions { windows: &windows, catch_up: &catch_up, crashed: &[vid.as_str()] };
    let report = check_with(&entries, &cluster.job, items, &fires, &options);
    let recovery = recovery_ms(&entries, items, &fires, killed_at);
    let leaks = leak_problems(&before, &after, &cluster.job);
    summary(name, &entries, &report, recovery, &format!("reserved_items={reserved:?} fire={fire} killed_ms_before={}", fire - killed_at));

    assert!(killed_at < fire, "the kill came {} ms after the fire instant: the test ran late", killed_at - fire);
    assert!(!reserved.is_empty(), "the victim had not reserved fire {fire} 30 ms before its instant");
    assert!(victim_released.is_empty(), "the victim started handlers for the fire it was killed before: {victim_released:?}");
    for (item, starters) in &reserved_runs {
        assert_eq!(starters, &vec![sid.as_str()], "reserved item {item} of fire {fire} must run once, by the survivor");
    }
    assert!(early.is_empty(), "handlers started before their fire time: {}", head(&early));
    assert!(report.duplicates.is_empty(), "completed or started twice: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "misses outside {windows:?} (or the reserved fire): {}", head(&report.misses));
    assert!(missing.is_empty(), "the survivor is not registered at the end");
    assert!(leaks.is_empty(), "{leaks:?}");
}
