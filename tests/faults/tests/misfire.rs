//! p) A worker killed while it holds a fire buffered behind a long run: the
//! registry (the `misfire` mark, the `fired` fence), not the dead worker's
//! memory, says what is owed, so the item's new owner runs it, once.

use cluster_tests::ledger::{check_with, CheckOptions, Entry};
use cluster_tests::workers::{fires_between, now_millis};
use fault_tests::cluster::{leak_problems, wait_registered, Cluster, EVERY_SECOND, SESSION_TIMEOUT_MS};
use fault_tests::measure::{head, summary};
use fault_tests::Direct;
use std::time::Duration;
use zk_harness::ZkServer;

/// How the item's long run is arranged in a variant.
struct Variant {
    name: &'static str,
    failover: bool,
    cron: &'static str,
    period: i64,
    slow_ms: i64,
}

/// Failover on (the default): the survivor takes the crashed run over and,
/// once it ended, runs item 0 at once for the latest fire that came while
/// the item was busy (the victim's marked fire M or a later one: under
/// `BUFFER_ONE` one run pays for all of them).
#[test]
fn p_killed_with_a_fire_buffered_failover_on() {
    let seen = killed_with_a_fire_buffered(&Variant {
        name: "p-killed-with-a-fire-buffered-failover-on",
        failover: true,
        cron: EVERY_SECOND,
        period: 1000,
        slow_ms: 2500,
    });
    let taken_over: Vec<&Entry> = seen.item0.iter().filter(|e| e.phase == "start" && e.fire == seen.crashed_fire).collect();
    assert!(
        taken_over.len() == 2 && taken_over[1].instance == seen.survivor,
        "the crashed run of item 0 (fire {}) is taken over once, by the survivor: {}",
        seen.crashed_fire,
        seen.runs()
    );
    let takeover_end = seen
        .item0
        .iter()
        .find(|e| e.phase != "start" && e.fire == seen.crashed_fire && e.instance == seen.survivor)
        .unwrap_or_else(|| panic!("the take-over of fire {} ended: {}", seen.crashed_fire, seen.runs()))
        .at;
    let next = seen
        .item0
        .iter()
        .find(|e| e.phase == "start" && e.instance == seen.survivor && e.at >= takeover_end)
        .unwrap_or_else(|| panic!("item 0 ran again after the take-over: {}", seen.runs()));
    assert!(
        next.fire >= seen.marked && next.fire <= takeover_end && next.at - takeover_end < 1000,
        "once the take-over ended, item 0 runs at once for a fire from {} (the marked one) on that came while it was busy: {}",
        seen.marked,
        seen.runs()
    );
}

/// Failover off: nobody re-runs the crashed run, and no fire comes for the
/// item between the victim's session ending and the resharding that gives
/// it to the survivor (a fire every 4 s). Fire M is owed twice over: by the
/// `misfire` mark, and as a fire the item's earlier owner missed (`fired`
/// names an older one; the catch-up window is one period). The survivor
/// runs item 0 for M once, right after that resharding: the `fired` fence
/// keeps the two to one run.
#[test]
fn p_killed_with_a_fire_buffered_failover_off() {
    let seen = killed_with_a_fire_buffered(&Variant {
        name: "p-killed-with-a-fire-buffered-failover-off",
        failover: false,
        cron: "0/4 * * * * ?",
        period: 4000,
        slow_ms: 4500,
    });
    let owed: Vec<&str> = seen.item0.iter().filter(|e| e.phase == "start" && e.fire == seen.marked).map(|e| e.instance.as_str()).collect();
    assert_eq!(owed, vec![seen.survivor.as_str()], "fire {}, buffered by the victim, runs once, on the survivor: {}", seen.marked, seen.runs());
    assert!(
        !seen.item0.iter().any(|e| e.instance == seen.survivor && e.fire == seen.crashed_fire),
        "failover off: the crashed run is not re-run: {}",
        seen.runs()
    );
}

/// What a variant's run left, for its own assertions.
struct Seen {
    item0: Vec<Entry>,
    crashed_fire: i64,
    marked: i64,
    killed_at: i64,
    victim: String,
    survivor: String,
}

impl Seen {
    /// Item 0's ledger lines: who, what, fire (last 5 digits) @ ms after the kill.
    fn runs(&self) -> String {
        let lines: Vec<String> = self
            .item0
            .iter()
            .map(|e| {
                let who = if e.instance == self.victim { "victim" } else { "survivor" };
                format!("{who} {} {}@{:+}", e.phase, e.fire % 100_000, e.at - self.killed_at)
            })
            .collect();
        format!("{lines:?}")
    }
}

/// Two workers, 2 items, misfire on (`BUFFER_ONE`); item 0 runs longer than
/// the period, item 1 100 ms. Once item 0's owner has a run of it under
/// way and a later fire buffered (its `misfire` mark names fire M), the
/// owner is killed (SIGKILL). Common requirements: item 0 never runs twice
/// for a fire, nor two runs at once on the survivor; item 1 runs every fire
/// once. Item 0's fires are not judged as misses (it is busy for most of
/// them); the summary counts them as excused. Excused for item 1: kill →
/// kill + session timeout + 3 s.
fn killed_with_a_fire_buffered(variant: &Variant) -> Seen {
    let name = variant.name;
    let zk = ZkServer::start();
    let cluster = Cluster::new(name);
    let direct = Direct::connect(&zk.connect_string(), &cluster.namespace);
    let slow_ms = variant.slow_ms.to_string();
    let flags = [
        ("sleep-ms", "100"),
        ("slow-item", "0"),
        ("slow-ms", slow_ms.as_str()),
        ("failover", if variant.failover { "true" } else { "false" }),
    ];
    let mut workers = vec![
        cluster.spawn("w0", &zk.connect_string(), 2, variant.cron, &flags, &[]),
        cluster.spawn("w1", &zk.connect_string(), 2, variant.cron, &flags, &[]),
    ];
    let ready = now_millis();
    let mark_path = format!("/{}/sharding/0/misfire", cluster.job);
    // A run of item 0 that began after both joined, and a mark written during it.
    let run = cluster
        .wait_for(Duration::from_secs(20), |e| e.item == 0 && e.phase == "start" && e.at > ready + 2000)
        .expect("item 0 runs");
    let marked = wait_for_mark(&direct, &mark_path, run.fire, Duration::from_millis(variant.period as u64 + 1000));
    let victim_at = workers.iter().position(|w| w.instance_id == run.instance).expect("item 0's runner is one of ours");
    let before = direct.count();
    let mut victim = workers.remove(victim_at);
    let mut survivor = workers.remove(0);
    victim.kill9();
    let killed_at = now_millis();
    let (vid, sid) = (victim.instance_id.clone(), survivor.instance_id.clone());
    let marked = marked.unwrap_or_else(|| panic!("no misfire mark for a fire after {} while its run lasted", run.fire));
    assert!(
        !cluster.entries().iter().any(|e| e.instance == vid && e.item == 0 && e.phase == "end" && e.fire == run.fire),
        "the victim's run of item 0 ended before the kill: the test ran late"
    );

    std::thread::sleep(Duration::from_millis((SESSION_TIMEOUT_MS + 4000) as u64));
    let end = now_millis();
    let missing = wait_registered(&direct, &cluster.job, std::slice::from_ref(&sid), Duration::from_secs(1));
    let after = direct.count();
    // Graceful: the survivor's runs end (and write their ledger lines) before it leaves.
    survivor.terminate(Duration::from_secs(10));
    let entries = cluster.entries();

    let item0: Vec<Entry> = entries.iter().filter(|e| e.item == 0).cloned().collect();
    let survivor_fires: Vec<i64> = item0.iter().filter(|e| e.phase == "start" && e.instance == sid).map(|e| e.fire).collect();
    let twice: Vec<i64> = survivor_fires.iter().filter(|f| survivor_fires.iter().filter(|g| g == f).count() > 1).copied().collect();
    let overlapping = overlapping_runs(&item0, &sid);
    let fires = fires_between(ready + 3000, end - 3500, variant.period);
    let windows = [(killed_at, killed_at + SESSION_TIMEOUT_MS + 3000)];
    let options = CheckOptions { windows: &windows, catch_up: &[], crashed: &[vid.as_str()] };
    let mut report = check_with(&entries, &cluster.job, 2, &fires, &options);
    // Item 0's fires are judged by the variants' assertions, not as misses.
    let (not_judged, misses): (Vec<_>, Vec<_>) = report.misses.into_iter().partition(|(item, _)| *item == 0);
    report.misses = misses;
    report.excused.extend(not_judged);
    let leaks = leak_problems(&before, &after, &cluster.job);
    let owed_at = item0.iter().find(|e| e.phase == "start" && e.instance == sid && e.fire >= marked && e.fire != run.fire).map(|e| e.at - killed_at);
    summary(
        name,
        &entries,
        &report,
        owed_at,
        &format!("crashed_fire={} marked_fire={marked} item0_runs_on_survivor={}", run.fire, survivor_fires.len()),
    );
    let seen = Seen { item0, crashed_fire: run.fire, marked, killed_at, victim: vid, survivor: sid };
    assert!(twice.is_empty(), "item 0 ran twice for fires {twice:?}: {}", seen.runs());
    assert!(overlapping.is_empty(), "item 0 ran twice at once on the survivor: {overlapping:?}: {}", seen.runs());
    assert!(report.duplicates.is_empty(), "completed or started twice: {}", head(&report.duplicates));
    assert!(report.misses.is_empty(), "item 1 missed fires outside {windows:?}: {}", head(&report.misses));
    assert!(missing.is_empty(), "the survivor is not registered at the end");
    assert!(leaks.is_empty(), "{leaks:?}");
    seen
}

/// The fire named by item 0's `misfire` mark once it names one after
/// `after`, polled for at most `within`.
fn wait_for_mark(direct: &Direct, path: &str, after: i64, within: Duration) -> Option<i64> {
    let until = now_millis() + within.as_millis() as i64;
    while now_millis() < until {
        if let Some(fire) = direct.get_string(path).and_then(|text| text.trim().parse::<i64>().ok()) {
            if fire > after {
                return Some(fire);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Pairs of `instance`'s runs of item 0 that overlapped in time.
fn overlapping_runs(item0: &[Entry], instance: &str) -> Vec<(i64, i64)> {
    let mut runs: Vec<(i64, i64, i64)> = item0
        .iter()
        .filter(|e| e.phase == "start" && e.instance == instance)
        .filter_map(|start| {
            let finish = item0.iter().find(|e| e.phase != "start" && e.instance == instance && e.fire == start.fire && e.token == start.token)?;
            Some((start.at, finish.at, start.fire))
        })
        .collect();
    runs.sort();
    runs.windows(2).filter(|w| w[1].0 < w[0].1).map(|w| (w[0].2, w[1].2)).collect()
}
