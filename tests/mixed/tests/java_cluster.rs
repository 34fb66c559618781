//! Our workers beside a real Apache ElasticJob-Lite 3.0.4 worker (Java, from
//! Maven Central) on one job and one ZooKeeper, with the execution ledger.
//!
//! A Java run's ledger fire is the scheduled time of the Quartz trigger
//! that started it (the worker listens on the job's Quartz scheduler), so a
//! Java run held up by a resharding is judged like any other; a failover
//! run cannot name its fire and is written as unknown, and the checker
//! matches it to the crashed run it re-ran, or counts it apart as
//! unattributed.
//! Each scenario writes a `SCENARIO` line to `$ELASTICJOB_MIXED_SUMMARY`.

use cluster_tests::ledger::{self, CheckOptions, Report};
use cluster_tests::workers::{fires_between, now_millis, Worker};
use mixed_language_tests::{assignment, clean_but_java, explain, start, summary, Lang, WorkerSpec};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;
use zk_harness::ZkServer;

const SESSION_TIMEOUT_MS: u32 = 2000;

fn sleep_until_offset_in_second(offset_ms: i64) {
    let now = now_millis();
    let target = (now / 1000 + 1) * 1000 + offset_ms;
    std::thread::sleep(Duration::from_millis((target - now) as u64));
}

/// Crash scenarios run once, or 10 times with `scripts/test-all --long`.
fn rounds() -> usize {
    if std::env::var_os("ELASTICJOB_LONG").is_some() { 10 } else { 1 }
}

fn spec<'a>(connect: &'a str, name: &'a str, ledger: &'a Path, items: u32, sleep_ms: u32) -> WorkerSpec<'a> {
    WorkerSpec {
        zk: connect,
        namespace: name,
        job: name,
        items,
        cron: "* * * * * ?",
        ledger,
        sleep_ms,
        session_timeout_ms: SESSION_TIMEOUT_MS,
        config_yaml: None,
    }
}

/// Java starts first (it is the leader and shards), then two Rust workers
/// join; the assignment Java's leader wrote is the one our strategy code
/// computes for the same instance list. After 12 s the Java worker leaves
/// with SIGTERM between fires and one of ours leads; its assignment is
/// again what Java's strategy gives. Every (item, fire) from two seconds
/// after the joins runs exactly once, and both languages ran items.
#[test]
fn java_and_our_workers_share_a_job_exactly_once() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let connect = zk.connect_string();
    let spec = spec(&connect, "java-mixed", &ledger_path, 7, 100);
    let mut java = start(Lang::Java, &spec);
    let mut ours: Vec<Worker> = (0..2).map(|_| start(Lang::Rust, &spec)).collect();
    let ready = now_millis();
    // Java reshards at its next execution, once no item runs anywhere:
    // wait for an assignment of the three, 6 s at least, 20 s at most.
    std::thread::sleep(Duration::from_secs(6));
    let first_look = now_millis();
    let (instances, owners) = loop {
        let (instances, owners) = assignment(&connect, "java-mixed", "java-mixed", 7);
        let settled = instances.len() == 3 && owners == java_average_allocation(&instances, 7);
        if settled || now_millis() > first_look + 14_000 {
            break (instances, owners);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!("the Java leader's assignment of the three came {} ms after the first look (6 s after the joins)", now_millis() - first_look);
    assert_eq!(instances.len(), 3, "{instances:?}");
    assert_eq!(owners, java_average_allocation(&instances, 7), "the Java leader's assignment");
    std::thread::sleep(Duration::from_secs(6));
    // Java stops firing when its leave begins and removes its instance at
    // the end; a fire in between is lost for its items (Java records no
    // `fired`, so nobody can tell it was not run). Leave between fires.
    sleep_until_offset_in_second(200);
    java.terminate(Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(6));
    let (instances, owners) = assignment(&connect, "java-mixed", "java-mixed", 7);
    assert_eq!(instances.len(), 2, "{instances:?}");
    assert_eq!(owners, java_average_allocation(&instances, 7), "our leader's assignment");
    let done = now_millis();
    for w in &mut ours {
        w.terminate(Duration::from_secs(15));
    }
    let entries = ledger::read(&ledger_path);
    let fires = fires_between(ready + 2000, done - 1500, 1000);
    let report = ledger::check(&entries, "java-mixed", 7, &fires, &[]);
    summary("java-steady", &entries, &report);
    let languages: BTreeSet<String> = entries.iter().map(|e| e.lang.clone()).collect();
    assert!(clean_but_java(&report, &entries), "{report:?}{}", explain(&report, &entries));
    assert!(languages.contains("java") && languages.contains("rust"), "{languages:?}");
}

/// Java's average allocation (`AverageAllocationJobShardingStrategy`),
/// item → owner, for instances in Java's order, through our strategy code
/// (whose unit tests pin it to Java's results).
fn java_average_allocation(instances: &[String], items: u32) -> Vec<String> {
    use elasticjob::sharding::strategy::{assign, ShardingAlgorithm};
    let mut owners = vec![String::new(); items as usize];
    for (instance, assigned) in assign(ShardingAlgorithm::AverageAllocation, "java-mixed", instances, items, 0) {
        for item in assigned {
            owners[item as usize] = instance.clone();
        }
    }
    owners
}

/// One crash round: the `survivors` and a `victim` share a job of 4 items
/// (300 ms handlers, a fire every second); after 8 s the victim is killed
/// with kill -9 as soon as it has started an item of a fire; the survivors
/// run on for 10 s. Fires from the kill's second until the session timeout
/// plus 1 s plus `recovery_ms` after the kill are excused (the dead worker's items
/// are still assigned to it until its session expires; a Java survivor
/// reshards only at its next fire, after waiting for running items); the
/// items it was running must be re-run once. Returns the report, the
/// ledger and the items it was running.
fn crash_round(name: &str, victim: Lang, survivors: &[Lang], recovery_ms: i64) -> (Report, Vec<ledger::Entry>, Vec<u32>) {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let connect = zk.connect_string();
    // Java runs a fire's items on a pool of 2 × CPUs threads: with more
    // items than that, or handlers near a second, its fires pile up into
    // misfires, which this scenario is not about.
    let spec = spec(&connect, name, &ledger_path, 4, 300);
    let mut victim = start(victim, &spec);
    let mut alive: Vec<Worker> = survivors.iter().map(|&lang| start(lang, &spec)).collect();
    let ready = now_millis();
    std::thread::sleep(Duration::from_secs(8));
    sleep_until_offset_in_second(0);
    let killed = victim.instance_id.clone();
    let second = now_millis() / 1000 * 1000;
    while now_millis() < second + 500
        && !ledger::read(&ledger_path).iter().any(|e| e.instance == killed && e.phase == "start" && e.at >= second)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    victim.kill9();
    let killed_at = now_millis();
    std::thread::sleep(Duration::from_secs(10));
    let done = now_millis();
    for w in &mut alive {
        w.terminate(Duration::from_secs(15));
    }
    let entries = ledger::read(&ledger_path);
    let fires = fires_between(ready + 2000, done - 1500, 1000);
    let window = [(second, killed_at + SESSION_TIMEOUT_MS as i64 + 1000 + recovery_ms)];
    let options = CheckOptions { crashed: &[&killed], windows: &window, catch_up: &[] };
    let report = ledger::check_with(&entries, name, 4, &fires, &options);
    let in_flight: Vec<u32> = entries
        .iter()
        .filter(|e| e.instance == killed && e.phase == "start" && e.at >= killed_at - 1000)
        .filter(|s| !entries.iter().any(|e| e.phase == "end" && e.instance == killed && e.item == s.item && e.fire == s.fire))
        .map(|e| e.item)
        .collect();
    (report, entries, in_flight)
}

/// Runs [`crash_round`] [`rounds`] times; every round must be clean and
/// must have killed the victim mid-run; `check` adds the scenario's own.
fn crash_scenario(
    name: &str,
    victim: Lang,
    survivors: &[Lang],
    recovery_ms: i64,
    check: impl Fn(&Report, &[ledger::Entry], &[u32]),
) {
    let mut all = Vec::new();
    let mut total = Report::default();
    for round in 0..rounds() {
        let (report, entries, in_flight) = crash_round(&format!("{name}-{round}"), victim, survivors, recovery_ms);
        println!("{name} round {round}: killed mid-run: items {in_flight:?}; {report:?}{}", explain(&report, &entries));
        assert!(!in_flight.is_empty(), "round {round}: the victim was not killed mid-run");
        assert!(clean_but_java(&report, &entries), "round {round}: {report:?}{}", explain(&report, &entries));
        check(&report, &entries, &in_flight);
        total.duplicates.extend(report.duplicates);
        total.misses.extend(report.misses);
        total.excused.extend(report.excused);
        total.exactly_once += report.exactly_once;
        total.unattributed_runs += report.unattributed_runs;
        total.cancelled += report.cancelled;
        all.extend(entries);
    }
    summary(name, &all, &total);
}

/// kill -9 of a Java worker mid-fire; only ours survive. Ours queue and
/// re-run exactly the items it was running (each take-over of an unknown
/// fire is one of them), and no take-over is told to stop when the dead
/// worker's items are reassigned meanwhile.
#[test]
fn ours_take_over_a_crashed_java_workers_running_items() {
    crash_scenario("java-killed-ours-survive", Lang::Java, &[Lang::Rust, Lang::Rust], 0, |report, entries, in_flight| {
        let takeovers =
            entries.iter().filter(|e| e.lang == "rust" && e.phase == "end" && e.fire == ledger::UNKNOWN_FIRE).count();
        assert_eq!(takeovers, in_flight.len(), "our take-overs re-ran something that was not running");
        assert_eq!(report.cancelled, 0, "a take-over was told to stop");
    });
}

/// kill -9 of one of ours mid-fire; only a Java worker survives. Java
/// queues and re-runs each of its running items (failover runs, which
/// cannot name their fire and are matched to the crashed runs).
#[test]
fn java_takes_over_a_crashed_rust_workers_running_items() {
    crash_scenario("rust-killed-java-survives", Lang::Rust, &[Lang::Java], 3000, |_, entries, _| {
        let taken_over = entries.iter().filter(|e| e.lang == "java" && e.fire == ledger::UNKNOWN_FIRE).count();
        assert!(taken_over > 0, "Java re-ran nothing of the crashed worker");
    });
}

/// kill -9 of a Java worker mid-fire with a Java worker and one of ours
/// surviving: whichever takes an item over (both wait in Java's failover
/// latch), each running item is re-run once.
#[test]
fn mixed_survivors_take_over_a_crashed_java_workers_items_once() {
    crash_scenario("java-killed-mixed-survive", Lang::Java, &[Lang::Java, Lang::Rust], 3000, |_, _, _| {});
}

/// A rolling migration: three Java workers run the job; one by one, each
/// is joined by a replacement in another language (Python, Node, C) and
/// then leaves with SIGTERM between fires, while the job fires every
/// second; a Rust worker joins at the start. Every (item, fire) from two
/// seconds after the Java cluster is up to the end runs exactly once, but
/// for Java's own misses and duplicates (see `java_only_misses` and
/// `java_only_duplicates`: a resharding that lands mid-fire, with a Java
/// instance on one side), which are counted apart in the summary, and the
/// fires during a join or a leave (from a second before it to a second
/// after), which may be lost for the items that move since nothing is
/// caught up while Java is present; those are counted as excused. Every
/// run is judged: a Java fire held up by a resharding starts late but
/// carries its Quartz trigger's scheduled time.
///
/// Java takes any instance that leaves for crashed: a Java survivor queues
/// every item the leaver owned for failover, running or not, and a Java
/// worker or one of ours re-runs it once with no fire to name (the leaver's
/// last fire had ended). Java also runs items under one-shot triggers (the
/// failover hand-off) and re-runs them for misfire flags such runs raised,
/// with no cron fire behind them. Those runs are counted as unattributed:
/// Java's are reported; each of ours must be a take-over of an item the
/// leaver ran, within 5 s of its leave.
#[test]
fn a_java_fleet_is_replaced_instance_by_instance_without_a_gap() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let connect = zk.connect_string();
    let spec = spec(&connect, "migration", &ledger_path, 6, 100);
    let mut java: Vec<Worker> = (0..3).map(|_| start(Lang::Java, &spec)).collect();
    let ready = now_millis();
    let mut ours = vec![start(Lang::Rust, &spec)];
    let mut leaves = Vec::new();
    // While a Java instance is present nothing is caught up (Java records
    // no `fired`), so a fire during which a join or a leave reshards the
    // job may be lost for the items that move (docs/java-interop.md): the
    // fire at each membership change is excused, and counted.
    let mut changes = Vec::new();
    for (old, lang) in java.iter_mut().zip([Lang::Python, Lang::Node, Lang::C]) {
        std::thread::sleep(Duration::from_secs(3));
        let joining = now_millis();
        ours.push(start(lang, &spec));
        changes.push((joining - 1000, now_millis() + 1000));
        std::thread::sleep(Duration::from_secs(3));
        sleep_until_offset_in_second(200);
        let signalled = now_millis();
        old.terminate(Duration::from_secs(20));
        leaves.push((old.instance_id.clone(), signalled, now_millis()));
        changes.push((signalled - 1000, now_millis() + 1000));
    }
    std::thread::sleep(Duration::from_secs(5));
    let done = now_millis();
    for w in &mut ours {
        w.terminate(Duration::from_secs(15));
    }
    let entries = ledger::read(&ledger_path);
    let fires = fires_between(ready + 2000, done - 1500, 1000);
    let report = ledger::check_with(&entries, "migration", 6, &fires, &CheckOptions { crashed: &[], windows: &changes, catch_up: &[] });
    summary("java-migration", &entries, &report);
    let languages: BTreeSet<String> = entries.iter().map(|e| e.lang.clone()).collect();
    let late_java = entries.iter().filter(|e| e.lang == "java" && e.phase == "start" && e.at - e.fire >= 250).count();
    println!("Java runs that started 250 ms or more after their fire (judged like the rest): {late_java}");
    let requeued = |e: &ledger::Entry| {
        leaves.iter().any(|(leaver, signalled, gone)| {
            *signalled <= e.at
                && e.at <= gone + 5000
                && entries.iter().any(|r| &r.instance == leaver && r.item == e.item && r.at >= signalled - 1500)
        })
    };
    let unknown = |java: bool| {
        entries.iter().filter(move |e| e.fire == ledger::UNKNOWN_FIRE && e.phase == "start" && (e.lang == "java") == java)
    };
    println!("Java runs with no cron fire (failover, one-shot, misfire re-runs of those): {}", unknown(true).count());
    println!("our take-overs of a departed Java worker's items: {}", unknown(false).count());
    let stray: Vec<&ledger::Entry> = unknown(false).filter(|e| !requeued(e)).collect();
    assert!(clean_but_java(&report, &entries), "{report:?}{}", explain(&report, &entries));
    assert!(stray.is_empty(), "our runs with no fire that are not take-overs of a leaver's items: {stray:?}");
    assert_eq!(languages.len(), 5, "every language ran items: {languages:?}");
    let last_java = entries.iter().filter(|e| e.lang == "java").map(|e| e.at).max().unwrap_or(0);
    assert!(last_java < done - 4000, "a Java worker still ran items after it left");
}
