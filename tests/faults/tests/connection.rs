//! Connection faults between workers and one ZooKeeper server, injected by
//! a `FreezableProxy` in front of each worker: freezes shorter and longer
//! than the session timeout, severed connections, and what an operator
//! writes while a worker is cut off (a new cron, a disabled server).

use cluster_tests::ledger::{check_with, CheckOptions};
use cluster_tests::workers::{fires_between, now_millis, Worker};
use fault_tests::cluster::{leak_problems, sleep_until, wait_registered, Cluster, Offsets, EVERY_SECOND, SESSION_TIMEOUT_MS};
use fault_tests::measure::{head, recovery_ms, silent_since, summary};
use fault_tests::Direct;
use std::time::Duration;
use zk_harness::{FreezableProxy, ZkServer};

/// What is done to one worker's proxy in one round; returns the excused window.
type Fault = fn(&FreezableProxy) -> (i64, i64);

fn freeze_1200ms(proxy: &FreezableProxy) -> (i64, i64) {
    let from = now_millis();
    proxy.freeze();
    std::thread::sleep(Duration::from_millis(1200));
    proxy.thaw();
    (from, now_millis() + 1500)
}

fn sever(proxy: &FreezableProxy) -> (i64, i64) {
    let from = now_millis();
    proxy.sever();
    (from, now_millis() + 2500)
}

/// Three workers (6 items, handlers 300 ms, a fire every second), each
/// behind its own proxy; five rounds of `fault` at random offsets within a
/// second (rounds 0-2 hit one worker each, 3 two, 4 all), then a fourth
/// worker joins. Excused: each fault's window (freeze → thaw + 1.5 s, or
/// cut → cut + 2.5 s). Every fire from 1 s after the first worker is
/// ready to 1.5 s before the end must otherwise run every item exactly
/// once, and every fire from the join + 3 s must run (no stall).
fn connection_faults(name: &str, fault: Fault) {
    let zk = ZkServer::start();
    let cluster = Cluster::new(name);
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let items = 6;
    let proxies: Vec<FreezableProxy> = (0..3).map(|_| FreezableProxy::start(&zk.connect_string())).collect();
    let mut workers: Vec<Worker> = proxies
        .iter()
        .enumerate()
        .map(|(n, p)| cluster.spawn(&format!("w{n}"), &p.connect_string(), items, EVERY_SECOND, &[("sleep-ms", "300")], &[]))
        .collect();
    let ready = now_millis();
    let ids: Vec<String> = workers.iter().map(|w| w.instance_id.clone()).collect();
    assert!(cluster.wait_until(Duration::from_secs(15), |e| silent_since(e, &ids, ready).is_empty()), "not every worker fired");
    let before = direct.count();
    let mut offsets = Offsets::new();
    let mut windows = Vec::new();
    for round in 0..5 {
        let second = (now_millis() / 1000 + 1) * 1000;
        sleep_until(second + offsets.below(1000) as i64);
        let targets: Vec<usize> = match round {
            0..=2 => vec![round],
            3 => vec![0, 1],
            _ => vec![0, 1, 2],
        };
        std::thread::scope(|scope| {
            let handles: Vec<_> = targets.iter().map(|&t| { let proxy = &proxies[t]; scope.spawn(move || fault(proxy)) }).collect();
            for h in handles {
                windows.push(h.join().unwrap());
            }
        });
        std::thread::sleep(Duration::from_millis(800));
    }
    let last_fault_end = windows.iter().map(|w| w.1).max().unwrap();
    let joined = cluster.spawn("joiner", &zk.connect_string(), items, EVERY_SECOND, &[("sleep-ms", "300")], &[]);
    let join_at = now_millis();
    workers.push(joined);
    let ids: Vec<String> = workers.iter().map(|w| w.instance_id.clone()).collect();
    std::thread::sleep(Duration::from_millis(9000));
    let end = now_millis();
    let missing = wait_registered(&direct, &cluster.job, &ids, Duration::from_secs(1));
    let after = direct.count();
    let entries = cluster.entries();
    let silent = silent_since(&entries, &ids, join_at + 3000);
    for w in &mut workers {
        w.terminate(Duration::from_secs(8));
    }
    let entries = cluster.entries();
    let fires = fires_between(ready + 1000, end - 1500, 1000);
    let report = check_with(&entries, &cluster.job, items, &fires, &CheckOptions { windows: &windows, ..Default::default() });
    let recovery = recovery_ms(&entries, items, &fires, last_fault_end);
    let leaks = leak_problems(&before, &after, &cluster.job);
    summary(name, &entries, &report, recovery, &format!("seed={} join_at={join_at}", offsets.seed()));
    assert!(report.duplicates.is_empty(), "duplicates: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "misses outside the fault windows {windows:?}: {}", head(&report.misses));
    assert!(missing.is_empty(), "not registered at the end: {missing:?}");
    assert!(silent.is_empty(), "workers that never started an item after the join + 3 s: {silent:?}");
    assert!(leaks.is_empty(), "{leaks:?}");
}

#[test]
fn a_frozen_connection_shorter_than_the_session_timeout_then_a_join() {
    connection_faults("a-frozen", freeze_1200ms);
}

#[test]
fn a_severed_connections_then_a_join() {
    connection_faults("a-severed", sever);
}

/// d) One worker, failover on, 3 items, handlers 500 ms, a fire every
/// second; its proxy freezes 100 ms into a run for the session timeout +
/// 1.5 s, so the server expires its session mid-run. Excused: freeze →
/// thaw + 3 s. It must register again, fire again, and run every later fire.
#[test]
fn d_single_worker_session_expiry_mid_run() {
    let zk = ZkServer::start();
    let cluster = Cluster::new("d-expiry");
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let proxy = FreezableProxy::start(&zk.connect_string());
    let items = 3;
    let mut worker = cluster.spawn("solo", &proxy.connect_string(), items, EVERY_SECOND, &[("sleep-ms", "500"), ("failover", "true")], &[]);
    let ready = now_millis();
    let id = worker.instance_id.clone();
    let started = cluster.wait_for(Duration::from_secs(10), |e| e.phase == "start" && e.at > ready + 1500).expect("a run starts");
    let before = direct.count();
    sleep_until(started.at + 100);
    let frozen_at = now_millis();
    proxy.freeze();
    std::thread::sleep(Duration::from_millis((SESSION_TIMEOUT_MS + 1500) as u64));
    proxy.thaw();
    let thawed_at = now_millis();
    let missing = wait_registered(&direct, &cluster.job, std::slice::from_ref(&id), Duration::from_secs(8));
    std::thread::sleep(Duration::from_millis(8000));
    let end = now_millis();
    let after = direct.count();
    worker.terminate(Duration::from_secs(8));
    let entries = cluster.entries();
    let fires = fires_between(ready + 1000, end - 1500, 1000);
    let windows = [(frozen_at, thawed_at + 3000)];
    let report = check_with(&entries, &cluster.job, items, &fires, &CheckOptions { windows: &windows, ..Default::default() });
    let recovery = recovery_ms(&entries, items, &fires, thawed_at);
    let leaks = leak_problems(&before, &after, &cluster.job);
    summary("d-single-worker-expiry", &entries, &report, recovery, "");
    assert!(report.duplicates.is_empty(), "duplicates: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "misses outside {windows:?}: {}", head(&report.misses));
    assert!(missing.is_empty(), "the worker did not register again within 8 s of the thaw");
    assert!(silent_since(&entries, std::slice::from_ref(&id), thawed_at + 3000).is_empty(), "the worker never fired again");
    assert!(leaks.is_empty(), "{leaks:?}");
}

/// g) One worker (2 items, a fire every second, `overwrite` off so only the
/// registry's config counts) behind a proxy frozen for 1 s, during which a
/// direct client rewrites `config` with cron `0/3 * * * * ?`. From thaw +
/// 2 s on, every fire must be on the new cron (a second divisible by 3) and
/// every such fire must run; no duplicates; the config node keeps the new cron.
#[test]
fn g_config_changed_while_the_connection_is_frozen() {
    let zk = ZkServer::start();
    let cluster = Cluster::new("g-config");
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let proxy = FreezableProxy::start(&zk.connect_string());
    let items = 2;
    let mut worker = cluster.spawn("solo", &proxy.connect_string(), items, EVERY_SECOND, &[("sleep-ms", "100"), ("overwrite", "false")], &[]);
    let ready = now_millis();
    let id = worker.instance_id.clone();
    assert!(cluster.wait_until(Duration::from_secs(10), |e| silent_since(e, std::slice::from_ref(&id), ready).is_empty()));
    std::thread::sleep(Duration::from_millis(1500));
    let before = direct.count();
    let config_path = format!("/{}/config", cluster.job);
    let yaml = direct.get_string(&config_path).expect("config node");
    let mut config = elasticjob::JobConfig::from_yaml(&yaml).expect("config parses");
    config.cron = "0/3 * * * * ?".into();
    proxy.freeze();
    std::thread::sleep(Duration::from_millis(200));
    direct.put(&config_path, config.to_yaml().expect("yaml").as_bytes());
    std::thread::sleep(Duration::from_millis(800));
    proxy.thaw();
    let thawed_at = now_millis();
    std::thread::sleep(Duration::from_millis(11_000));
    let end = now_millis();
    let after = direct.count();
    let stored = direct.get_string(&config_path).unwrap_or_default();
    let missing = wait_registered(&direct, &cluster.job, std::slice::from_ref(&id), Duration::from_secs(1));
    worker.terminate(Duration::from_secs(8));
    let entries = cluster.entries();
    let settled = thawed_at + 2000;
    let off_cron: Vec<i64> = {
        let mut f: Vec<i64> = entries.iter().filter(|e| e.fire >= settled && (e.fire / 1000) % 3 != 0).map(|e| e.fire).collect();
        f.dedup();
        f
    };
    let fires = fires_between(settled, end - 1500, 3000);
    let report = check_with(&entries, &cluster.job, items, &fires, &CheckOptions::default());
    let recovery = recovery_ms(&entries, items, &fires, thawed_at);
    let leaks = leak_problems(&before, &after, &cluster.job);
    summary("g-config-while-frozen", &entries, &report, recovery, &format!("off_cron_fires={}", off_cron.len()));
    assert!(stored.contains("0/3 * * * * ?"), "the config node lost the new cron: {stored}");
    assert!(off_cron.is_empty(), "fires on the old cron after the thaw + 2 s: {}", head(&off_cron));
    assert!(report.duplicates.is_empty(), "duplicates: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "fires of the new cron that did not run: {}", head(&report.misses));
    assert!(missing.is_empty(), "the worker is not registered after the thaw");
    assert!(leaks.is_empty(), "{leaks:?}");
}

/// h) Two workers on hosts 127.0.0.2 (behind a proxy) and 127.0.0.3
/// (direct), 4 items, a fire every second. An operator writes
/// `servers/127.0.0.2` = `DISABLED`; once the other host runs every item,
/// the disabled worker's proxy freezes past its session timeout. After it
/// registers again, nothing may start on it and the node must still say
/// `DISABLED`; every fire outside freeze → thaw + 3 s runs on the other host.
#[test]
fn h_a_disabled_server_stays_disabled_across_a_session_expiry() {
    let zk = ZkServer::start();
    let cluster = Cluster::new("h-disabled");
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let proxy = FreezableProxy::start(&zk.connect_string());
    let items = 4;
    let mut disabled =
        cluster.spawn("disabled", &proxy.connect_string(), items, EVERY_SECOND, &[("sleep-ms", "100")], &[("ELASTICJOB_IP", "127.0.0.2")]);
    let mut other =
        cluster.spawn("other", &zk.connect_string(), items, EVERY_SECOND, &[("sleep-ms", "100")], &[("ELASTICJOB_IP", "127.0.0.3")]);
    let ready = now_millis();
    let ids = vec![disabled.instance_id.clone(), other.instance_id.clone()];
    assert!(cluster.wait_until(Duration::from_secs(15), |e| silent_since(e, &ids, ready).is_empty()), "not both fired");
    let server = format!("/{}/servers/127.0.0.2", cluster.job);
    direct.put(&server, b"DISABLED");
    let disabled_at = now_millis();
    let other_id = other.instance_id.clone();
    let all_on_other = cluster.wait_until(Duration::from_secs(10), |e| {
        fires_between(disabled_at, now_millis(), 1000).iter().any(|&f| {
            (0..items).all(|i| e.iter().any(|x| x.phase == "end" && x.item == i && x.fire == f && x.instance == other_id))
        })
    });
    assert!(all_on_other, "the enabled host never ran every item after the disable");
    let before = direct.count();
    let frozen_at = now_millis();
    proxy.freeze();
    std::thread::sleep(Duration::from_millis((SESSION_TIMEOUT_MS + 1500) as u64));
    proxy.thaw();
    let thawed_at = now_millis();
    let missing = wait_registered(&direct, &cluster.job, &ids, Duration::from_secs(8));
    std::thread::sleep(Duration::from_millis(7000));
    let end = now_millis();
    let after = direct.count();
    let state = direct.get_string(&server).unwrap_or_default();
    disabled.terminate(Duration::from_secs(8));
    other.terminate(Duration::from_secs(8));
    let entries = cluster.entries();
    let ran_on_disabled: Vec<(u32, i64)> = entries
        .iter()
        .filter(|e| e.instance == ids[0] && e.phase == "start" && e.at > thawed_at)
        .map(|e| (e.item, e.fire))
        .collect();
    let fires = fires_between(ready + 1000, end - 1500, 1000);
    let windows = [(disabled_at, disabled_at + 3000), (frozen_at, thawed_at + 3000)];
    let report = check_with(&entries, &cluster.job, items, &fires, &CheckOptions { windows: &windows, ..Default::default() });
    let recovery = recovery_ms(&entries, items, &fires, thawed_at);
    let leaks = leak_problems(&before, &after, &cluster.job);
    summary("h-disabled-across-expiry", &entries, &report, recovery, &format!("ran_on_disabled={} server_node={state:?}", ran_on_disabled.len()));
    assert_eq!(state, "DISABLED", "servers/127.0.0.2 after the expiry");
    assert!(ran_on_disabled.is_empty(), "items started on the disabled host after its session expired: {}", head(&ran_on_disabled));
    assert!(report.duplicates.is_empty(), "duplicates: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "misses outside {windows:?}: {}", head(&report.misses));
    assert!(missing.is_empty(), "not registered again: {missing:?}");
    assert!(silent_since(&entries, &ids[1..], thawed_at + 3000).is_empty(), "the enabled host stopped firing");
    assert!(leaks.is_empty(), "{leaks:?}");
}
