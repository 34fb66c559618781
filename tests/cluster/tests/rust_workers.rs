//! Several Rust worker *processes* share a job on a real ZooKeeper; the
//! execution ledger proves each (item, fire) ran exactly once, also when a
//! worker is killed mid-fire or paused past its session timeout.

mod common;

use cluster_tests::ledger;
use cluster_tests::workers::{fires_between, now_millis, Worker};
use common::{entries, Setup, SESSION_TIMEOUT_MS};
use std::time::Duration;

/// Three worker processes, 10 items, a fire every second for 23 s: every
/// (item, fire) runs exactly once, and the distributed-once listener's
/// hooks run exactly once per fire across the three processes.
///
/// Window stated up front: a join that lands during a fire holds that
/// fire's distributed-once round, which waits for every item of the
/// cluster to start, until the listener's timeout (2 s): the joiner's items
/// wait for the resharding its join asked for, and the leader's resharding
/// waits for the items held in the round. Fires until one listener timeout
/// plus a second after the last join are not counted (measured here: the
/// two fires after the joins were lost in about one run in four).
#[test]
fn three_workers_ten_items_twenty_fires_exactly_once() {
    let setup = Setup::new("share");
    let flags = [("sleep-ms", "50"), ("once-listener-ms", "2000")];
    let mut workers: Vec<Worker> =
        (0..3).map(|n| setup.worker(&format!("rust-{n}"), "share", 10, "* * * * * ?", &flags)).collect();
    let ready = now_millis();
    std::thread::sleep(Duration::from_millis(23_000));
    let done = now_millis();
    for w in &mut workers {
        w.terminate(Duration::from_secs(10));
    }
    // Every fire from a listener timeout and a second after all joined to
    // the one before stopping.
    let fires = fires_between(ready + 3000, done - 1500, 1000);
    assert!(fires.len() >= 18, "{} fires", fires.len());
    let report = ledger::check(&entries(&setup.ledger(), "share"), "share", 10, &fires, &[]);
    assert!(report.is_clean(), "{report:?}");
    let instances: std::collections::BTreeSet<String> =
        entries(&setup.ledger(), "share").into_iter().map(|e| e.instance).collect();
    assert_eq!(instances.len(), 3, "each worker ran items");
    for phase in ["once-before", "once-after"] {
        let calls: Vec<i64> =
            entries(&setup.ledger(), "share").into_iter().filter(|e| e.phase == phase).map(|e| e.fire).collect();
        for fire in &fires {
            let n = calls.iter().filter(|&&f| f == *fire).count();
            assert_eq!(n, 1, "{phase} ran {n} times for fire {fire} across the three processes");
        }
    }
}

#[test]
fn kill_dash_nine_mid_fire_fails_over_once_within_the_session_timeout() {
    let setup = Setup::new("failover");
    // Fires missed before resharding are caught up (a 5-minute catch-up window).
    let slow = [("sleep-ms", "3000"), ("failover", "true"), ("catch-up-window-s", "300")];
    let mut survivors: Vec<Worker> =
        (0..2).map(|n| setup.worker(&format!("rust-{n}"), "failover", 6, "0/5 * * * * ?", &slow)).collect();
    let mut victim = setup.worker("victim", "failover", 6, "0/5 * * * * ?", &slow);
    let victim_id = victim.instance_id.clone();
    // Wait until the victim is in the middle of a fire, then kill it.
    let started = ledger::wait_for(&setup.ledger(), Duration::from_secs(30), |e| {
        e.instance == victim_id && e.phase == "start"
    });
    std::thread::sleep(Duration::from_millis(500));
    let killed_at = now_millis();
    victim.kill9();
    let fire = started.fire;
    let victim_items: Vec<u32> = entries(&setup.ledger(), "failover")
        .iter()
        .filter(|e| e.instance == victim_id && e.fire == fire)
        .map(|e| e.item)
        .collect();
    assert!(!victim_items.is_empty());
    // Each of its items is re-run by a survivor for the same fire.
    let mut first_takeover = i64::MAX;
    for &item in &victim_items {
        let taken = ledger::wait_for(&setup.ledger(), Duration::from_secs(15), |e| {
            e.item == item && e.fire == fire && e.phase == "end" && e.instance != victim_id
        });
        let start = entries(&setup.ledger(), "failover")
            .into_iter()
            .find(|e| e.item == item && e.fire == fire && e.phase == "start" && e.instance == taken.instance)
            .unwrap();
        first_takeover = first_takeover.min(start.at);
    }
    let delay = first_takeover - killed_at;
    assert!(
        delay <= SESSION_TIMEOUT_MS + 1000,
        "failover started {delay} ms after the kill (session timeout {SESSION_TIMEOUT_MS} ms)"
    );
    std::thread::sleep(Duration::from_millis(6000));
    let done = now_millis();
    for w in &mut survivors {
        w.terminate(Duration::from_secs(10));
    }
    // Zero misses: the crashed fire failed over, and fires the victim's items
    // missed before resharding were caught up by their new owners.
    let fires = fires_between(fire - 1, done - 4000, 5000);
    let report = ledger::check(&entries(&setup.ledger(), "failover"), "failover", 6, &fires, &[&victim_id]);
    assert!(report.is_clean(), "{report:?}");
    println!("failover started {delay} ms after kill -9 (session timeout {SESSION_TIMEOUT_MS} ms)");
}

#[test]
fn a_paused_worker_starts_nothing_it_no_longer_owns() {
    let setup = Setup::new("pause");
    // Fires missed while paused are caught up (a 5-minute catch-up window).
    let opts = [("sleep-ms", "100"), ("failover", "true"), ("catch-up-window-s", "300")];
    let mut workers: Vec<Worker> =
        (0..3).map(|n| setup.worker(&format!("rust-{n}"), "pause", 6, "* * * * * ?", &opts)).collect();
    let ready = now_millis();
    std::thread::sleep(Duration::from_millis(3000));
    // Pause right after a fire's items finished, past the session timeout.
    let second = (now_millis() / 1000 + 1) * 1000;
    std::thread::sleep(Duration::from_millis((second + 400 - now_millis()).max(0) as u64));
    let paused_at = now_millis();
    workers[2].pause();
    std::thread::sleep(Duration::from_millis(SESSION_TIMEOUT_MS as u64 * 2 + 1000));
    workers[2].resume();
    let resumed_at = now_millis();
    let paused_id = workers[2].instance_id.clone();
    // It registers again with a new session and gets items from a later fire.
    let rejoined = ledger::wait_for(&setup.ledger(), Duration::from_secs(20), |e| {
        e.instance == paused_id && e.phase == "start" && e.at > resumed_at
    });
    std::thread::sleep(Duration::from_millis(2000));
    let done = now_millis();
    for w in &mut workers {
        w.terminate(Duration::from_secs(10));
    }
    let all = entries(&setup.ledger(), "pause");
    // Zero duplicates and zero misses over the whole run: the fires the
    // paused worker's items missed are caught up by their new owners.
    let fires = fires_between(ready + 1000, done - 1500, 1000);
    let report = ledger::check(&all, "pause", 6, &fires, &[]);
    assert!(report.is_clean(), "paused at {paused_at}: {report:?}");
    println!("paused worker ran again {} ms after it was resumed", rejoined.at - resumed_at);
}
