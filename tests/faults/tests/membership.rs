//! Membership changes while a fire is being started (its fire path slowed
//! by a busy registry: 50 instances of a 10,000-item job take a second or
//! more to start a fire). The fire's instant has come, and every item is
//! owed to it once.
//!
//! n) A graceful leave: nobody else runs the leaver's items at once (the
//! new owner gets them only after the resharding the leave asks for, and a
//! catch-up is bounded by the job's window), so the leaver starts and runs
//! them before it leaves.
//!
//! o) A join: the owner still starting the fire finds the resharding the
//! joiner asked for and starts only the items it keeps; the joiner, whose
//! own schedule begins after that fire, catches the fire up for the items
//! it got.

use cluster_tests::ledger::{check_with, CheckOptions, Entry, Report};
use cluster_tests::workers::{fires_between, now_millis};
use fault_tests::cluster::{leak_problems, sleep_until, wait_registered, Cluster};
use fault_tests::measure::silent_since;
use fault_tests::measure::{head, recovery_ms, summary};
use fault_tests::Direct;
use std::time::Duration;
use zk_harness::{FreezableProxy, ZkServer};

/// Two workers (leaver behind a proxy, stayer), 4 items, cron every 2 s,
/// failover on, handlers sleeping 200 ms, catch-up window 0 (no catch-up:
/// only the leaver can run its items for the fire it leaves in). The
/// leaver's proxy is frozen from 300 ms before a fire instant F until
/// 400 ms after it, so its start of F is still under way when it gets
/// SIGTERM, 100 ms after F. Required, with no excused window: every item
/// of every fire, F included, runs exactly once; the leaver runs its items
/// of F and then leaves (its process exits, it is no longer registered).
#[test]
fn n_graceful_leave_while_starting_a_fire() {
    let name = "n-graceful-leave-while-starting-a-fire";
    let zk = ZkServer::start();
    let cluster = Cluster::new(name);
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let items = 4;
    let period = 2000;
    let cron = "0/2 * * * * ?";
    let flags = [("sleep-ms", "200"), ("failover", "true"), ("catch-up-window-s", "0")];
    let proxy = FreezableProxy::start(&zk.connect_string());
    let mut leaver = cluster.spawn("leaver", &proxy.connect_string(), items, cron, &flags, &[]);
    let mut stayer = cluster.spawn("stayer", &zk.connect_string(), items, cron, &flags, &[]);
    let ready = now_millis();
    let (lid, sid) = (leaver.instance_id.clone(), stayer.instance_id.clone());
    let both_run = cluster.wait_until(Duration::from_secs(20), |entries| {
        [&lid, &sid].iter().all(|id| entries.iter().any(|e| &e.instance == *id && e.phase == "end" && e.at > ready))
    });
    assert!(both_run, "both workers run items before the fault");
    let before = direct.count();

    let mut fire = (now_millis() / period + 1) * period;
    if fire - now_millis() < 600 {
        fire += period;
    }
    sleep_until(fire - 300);
    proxy.freeze();
    sleep_until(fire + 100);
    leaver.ask_to_stop();
    let asked_at = now_millis();
    sleep_until(fire + 400);
    proxy.thaw();
    let exited = leaver.wait_exit(Duration::from_secs(15));
    let left_ms = now_millis() - asked_at;

    std::thread::sleep(Duration::from_millis(3 * period as u64));
    let end = now_millis();
    let missing = wait_registered(&direct, &cluster.job, std::slice::from_ref(&sid), Duration::from_secs(1));
    let registered: Vec<String> = direct.children(&format!("/{}/instances", cluster.job));
    let after = direct.count();
    stayer.terminate(Duration::from_secs(8));
    let entries = cluster.entries();

    let leavers_of_fire = items_ended_by(&entries, &lid, fire);
    let (report, recovery) = judge(&entries, &cluster.job, items, fires_between(ready + period, end - period, period), asked_at);
    let leaks = leak_problems(&before, &after, &cluster.job);
    summary(name, &entries, &report, recovery, &format!("fire={fire} left_ms={left_ms} leaver_items_of_fire={leavers_of_fire:?}"));

    assert!(exited, "the leaver did not exit within 15 s of SIGTERM");
    assert!(!leavers_of_fire.is_empty(), "the leaver ran none of its items for the fire it left in");
    assert!(report.duplicates.is_empty(), "completed or started twice: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "misses (none excused): {}", head(&report.misses));
    assert!(!registered.contains(&lid), "the leaver is still registered: {registered:?}");
    assert!(missing.is_empty(), "the stayer is not registered at the end");
    assert!(leaks.is_empty(), "{leaks:?}");
}

/// One worker (owner, behind a proxy) runs 4 items, cron every 2 s,
/// failover on, handlers sleeping 200 ms, the default catch-up window (one
/// period). Its proxy is frozen from 300 ms before a fire instant F until
/// 700 ms after it; a second worker (joiner) is started 50 ms after F, so
/// its schedule begins after F and its registration asks for a resharding
/// while the owner's start of F is still under way. Required, with no
/// excused window: every item of every fire, F included, runs exactly
/// once; the joiner runs some items of F (those it got).
#[test]
fn o_join_while_a_fire_is_being_started() {
    let name = "o-join-while-a-fire-is-being-started";
    let zk = ZkServer::start();
    let cluster = Cluster::new(name);
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let items = 4;
    let period = 2000;
    let cron = "0/2 * * * * ?";
    let flags = [("sleep-ms", "200"), ("failover", "true")];
    let proxy = FreezableProxy::start(&zk.connect_string());
    let mut owner = cluster.spawn("owner", &proxy.connect_string(), items, cron, &flags, &[]);
    let ready = now_millis();
    let oid = owner.instance_id.clone();
    assert!(
        cluster.wait_until(Duration::from_secs(20), |e| silent_since(e, std::slice::from_ref(&oid), ready).is_empty()),
        "the owner runs items before the fault"
    );
    let before = direct.count();

    let mut fire = (now_millis() / period + 1) * period;
    if fire - now_millis() < 600 {
        fire += period;
    }
    sleep_until(fire - 300);
    proxy.freeze();
    sleep_until(fire + 50);
    let mut joiner = cluster.spawn("joiner", &zk.connect_string(), items, cron, &flags, &[]);
    let registered_at = now_millis();
    sleep_until(fire + 700);
    proxy.thaw();
    let jid = joiner.instance_id.clone();

    std::thread::sleep(Duration::from_millis(3 * period as u64));
    let end = now_millis();
    let missing = wait_registered(&direct, &cluster.job, &[oid.clone(), jid.clone()], Duration::from_secs(1));
    let after = direct.count();
    joiner.terminate(Duration::from_secs(8));
    owner.terminate(Duration::from_secs(8));
    let entries = cluster.entries();

    let joiners_of_fire = items_ended_by(&entries, &jid, fire);
    let (report, recovery) = judge(&entries, &cluster.job, items, fires_between(ready + period, end - period, period), fire);
    let leaks = leak_problems(&before, &after, &cluster.job);
    summary(
        name,
        &entries,
        &report,
        recovery,
        &format!("fire={fire} joiner_up_ms_after_fire={} joiner_items_of_fire={joiners_of_fire:?}", registered_at - fire),
    );

    assert!(report.duplicates.is_empty(), "completed or started twice: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "misses (none excused): {}", head(&report.misses));
    assert!(!joiners_of_fire.is_empty(), "the joiner ran none of its items for the fire it joined in");
    assert!(missing.is_empty(), "not registered at the end: {missing:?}");
    assert!(leaks.is_empty(), "{leaks:?}");
}

/// The items `instance` ran to the end for `fire`.
fn items_ended_by(entries: &[Entry], instance: &str, fire: i64) -> Vec<u32> {
    entries.iter().filter(|e| e.instance == instance && e.fire == fire && e.phase == "end").map(|e| e.item).collect()
}

/// Every item of every fire of `fires` exactly once, no window excused;
/// and the recovery from `fault`.
fn judge(entries: &[Entry], job: &str, items: u32, fires: Vec<i64>, fault: i64) -> (Report, Option<i64>) {
    let options = CheckOptions { windows: &[], catch_up: &[], crashed: &[] };
    (check_with(entries, job, items, &fires, &options), recovery_ms(entries, items, &fires, fault))
}
