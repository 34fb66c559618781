//! m) The catch-up window: fires that nothing could run at their time (the
//! only instance was killed) run late when an instance comes back only if
//! they are younger than the job's window; older ones are skipped, never run.
//! Fires an operator's disable skipped are never caught up at all.

use cluster_tests::ledger::{check_with, CheckOptions, Entry};
use cluster_tests::workers::{fires_between, now_millis};
use fault_tests::cluster::{sleep_until, Cluster, EVERY_SECOND, SESSION_TIMEOUT_MS};
use fault_tests::measure::{head, summary};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use zk_harness::ZkServer;

/// A run counts as a catch-up when it started this late after its fire.
const CATCH_UP_LATENESS_MS: i64 = 900;

/// One worker runs 2 items every second (failover off, handlers 100 ms),
/// is killed (SIGKILL) between two fires, and the job stays down for 6 s;
/// then a new worker starts. Its first scheduled fire F catches up exactly
/// the fires t between the victim's last fire and F with F − t ≤ the
/// window (none when the window is one period, the default, or 0); every
/// other fire in between runs nowhere; nothing runs twice.
fn catch_up(name: &str, window_seconds: Option<u32>) {
    let zk = ZkServer::start();
    let cluster = Cluster::new(name);
    let items = 2;
    let window = window_seconds.map(|s| s.to_string());
    let mut flags = vec![("sleep-ms", "100"), ("failover", "false")];
    if let Some(seconds) = &window {
        flags.push(("catch-up-window-s", seconds.as_str()));
    }
    let mut victim = cluster.spawn("victim", &zk.connect_string(), items, EVERY_SECOND, &flags, &[]);
    let vid = victim.instance_id.clone();
    let ready = now_millis();
    assert!(
        cluster.wait_until(Duration::from_secs(20), |e| e.iter().filter(|e| e.instance == vid && e.at > ready).count() >= 6),
        "the victim runs fires"
    );
    sleep_until((now_millis() / 1000 + 1) * 1000 + 500);
    victim.kill9();
    std::thread::sleep(Duration::from_millis(6000));
    let mut newcomer = cluster.spawn("newcomer", &zk.connect_string(), items, EVERY_SECOND, &flags, &[]);
    let nid = newcomer.instance_id.clone();
    std::thread::sleep(Duration::from_millis(4000 + SESSION_TIMEOUT_MS as u64));
    let end = now_millis();
    newcomer.terminate(Duration::from_secs(8));
    let entries: Vec<Entry> = cluster.entries().into_iter().filter(|e| e.phase == "start").collect();

    let last_of_victim = entries.iter().filter(|e| e.instance == vid).map(|e| e.fire).max().expect("victim ran");
    let (caught_up, scheduled): (Vec<&Entry>, Vec<&Entry>) =
        entries.iter().filter(|e| e.instance == nid).partition(|e| e.at - e.fire >= CATCH_UP_LATENESS_MS);
    let first = scheduled.iter().map(|e| e.fire).min().expect("the newcomer fires");
    let expected: BTreeSet<i64> = match window_seconds {
        Some(seconds) => {
            let window = i64::from(seconds) * 1000;
            ((last_of_victim + 1000)..first).step_by(1000).filter(|t| first - t <= window).collect()
        }
        None => BTreeSet::new(),
    };
    let mut by_item: BTreeMap<u32, BTreeSet<i64>> = BTreeMap::new();
    for e in &caught_up {
        by_item.entry(e.item).or_default().insert(e.fire);
    }
    let in_gap: Vec<&Entry> = entries.iter().filter(|e| e.fire > last_of_victim && e.fire < first).collect();
    let mut seen = BTreeSet::new();
    let duplicates: Vec<&Entry> = entries.iter().filter(|e| !seen.insert((e.item, e.fire))).collect();
    // The ledger's judgement: the gap is excused except the fires the
    // window admits, which must have run.
    let all = cluster.entries();
    let fires = fires_between(ready + 2000, end - 2500, 1000);
    let windows = [(last_of_victim + 1, first - 1)];
    let must_run: Vec<i64> = expected.iter().copied().collect();
    let options = CheckOptions { windows: &windows, catch_up: &must_run, crashed: &[vid.as_str()] };
    let report = check_with(&all, &cluster.job, items, &fires, &options);
    summary(name, &all, &report, None, &format!("window_s={window:?} down=({last_of_victim},{first}) caught_up={by_item:?}"));

    assert!(first - last_of_victim >= 6000, "the job was down for at least 6 fires: {last_of_victim} → {first}");
    assert!(duplicates.is_empty() && report.duplicates.is_empty(), "ran twice: {duplicates:?} {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "misses outside the down time: {}", head(&report.misses));
    for item in 0..items {
        let got = by_item.get(&item).cloned().unwrap_or_default();
        assert_eq!(got, expected, "item {item}: caught-up fires (window {window:?}, down from {last_of_victim} to {first})");
    }
    assert_eq!(in_gap.len(), expected.len() * items as usize, "only the admitted fires of the gap ran: {in_gap:?}");
}

#[test]
fn m_catch_up_window_three_seconds_runs_only_the_younger_missed_fires() {
    catch_up("m-catch-up-window-3s", Some(3));
}

#[test]
fn m_catch_up_window_default_one_period_runs_no_missed_fire() {
    catch_up("m-catch-up-window-default", None);
}

/// m) Fires an operator's disable skipped are never caught up, however wide
/// the window and though the items change hands meanwhile: two workers run
/// 2 items every second with a 300 s window; the job is disabled through
/// the `JobOperator`, one worker is killed (SIGKILL) while it is disabled,
/// then the job is enabled. The survivor, which now owns the dead worker's
/// items too, runs none of the disabled time's fires, and every fire from
/// 2.5 s after the enable runs once.
///
/// Windows stated up front: the fire in flight when the disable is written
/// (1.5 s after it) and the resharding after the enable (2.5 s) are not judged.
#[test]
fn m_fires_skipped_by_an_operator_disable_are_never_caught_up() {
    use elasticjob::{JobOperator, RegistryCenter, ZookeeperOptions};
    let zk = ZkServer::start();
    let name = "m-disable-no-catch-up";
    let cluster = Cluster::new(name);
    let items = 2;
    let flags = [("sleep-ms", "100"), ("failover", "false"), ("catch-up-window-s", "300")];
    let mut victim = cluster.spawn("victim", &zk.connect_string(), items, EVERY_SECOND, &flags, &[]);
    let mut survivor = cluster.spawn("survivor", &zk.connect_string(), items, EVERY_SECOND, &flags, &[]);
    let (vid, sid) = (victim.instance_id.clone(), survivor.instance_id.clone());
    let ready = now_millis();
    assert!(
        cluster.wait_until(Duration::from_secs(20), |e| [&vid, &sid].iter().all(|id| e.iter().any(|e| &e.instance == *id && e.at > ready))),
        "both workers run items"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let operator = JobOperator::new(RegistryCenter::zookeeper(ZookeeperOptions::new(zk.connect_string(), cluster.namespace.clone())));
    let disabled_at = now_millis();
    runtime.block_on(operator.disable(&cluster.job, None)).unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    victim.kill9();
    std::thread::sleep(Duration::from_millis(SESSION_TIMEOUT_MS as u64 + 3000));
    let enabled_at = now_millis();
    runtime.block_on(operator.enable(&cluster.job, None)).unwrap();
    std::thread::sleep(Duration::from_millis(8000));
    let end = now_millis();
    survivor.terminate(Duration::from_secs(8));

    let all = cluster.entries();
    let caught_up: Vec<&Entry> =
        all.iter().filter(|e| e.phase == "start" && e.fire > disabled_at + 1500 && e.fire < enabled_at).collect();
    let fires = fires_between(enabled_at + 2500, end - 1500, 1000);
    let report = check_with(&all, &cluster.job, items, &fires, &CheckOptions { crashed: &[vid.as_str()], ..CheckOptions::default() });
    summary(name, &all, &report, None, &format!("disabled=({disabled_at},{enabled_at}) caught_up={}", caught_up.len()));
    assert!(caught_up.is_empty(), "fires of the disabled time ran after the enable: {caught_up:?}");
    assert!(fires.len() >= 3, "{} fires judged", fires.len());
    assert!(report.is_clean(), "after the enable: {report:?}");
    for item in 0..items {
        assert!(all.iter().any(|e| e.instance == sid && e.item == item && e.fire >= enabled_at), "the survivor runs item {item} after the enable");
    }
}
