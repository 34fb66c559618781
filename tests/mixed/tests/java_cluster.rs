//! Our workers beside a real Apache ElasticJob-Lite 3.0.4 worker (Java, from
//! Maven Central) on one job and one ZooKeeper, with the execution ledger.

use cluster_tests::ledger;
use cluster_tests::workers::{fires_between, now_millis, Worker};
use mixed_language_tests::{start, Lang, WorkerSpec};
use std::collections::BTreeSet;
use std::time::Duration;
use zk_harness::ZkServer;

const SESSION_TIMEOUT_MS: u32 = 2000;

fn sleep_until_offset_in_second(offset_ms: i64) {
    let now = now_millis();
    let target = (now / 1000 + 1) * 1000 + offset_ms;
    std::thread::sleep(Duration::from_millis((target - now) as u64));
}

/// Java starts first (it is the leader and shards), then a Rust and a
/// Python worker join; after 12 s the Java worker leaves with SIGTERM and
/// ours carry on (one of ours leads). Every (item, fire) from the first
/// full second after the joins runs exactly once, both sides run items,
/// and Java's SIGTERM leaves no gap.
#[test]
fn java_and_our_workers_share_a_job_exactly_once() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let connect = zk.connect_string();
    let spec = WorkerSpec {
        zk: &connect,
        namespace: "java-mixed",
        job: "java-mixed",
        items: 6,
        cron: "* * * * * ?",
        ledger: &ledger_path,
        sleep_ms: 100,
        session_timeout_ms: SESSION_TIMEOUT_MS,
        config_yaml: None,
    };
    let mut java = start(Lang::Java, &spec);
    let mut ours: Vec<Worker> = [Lang::Rust, Lang::Rust].iter().map(|&lang| start(lang, &spec)).collect();
    let ready = now_millis();
    std::thread::sleep(Duration::from_secs(12));
    // Java stops firing when its leave begins and removes its instance at
    // the end; a fire in between is lost for its items (Java records no
    // `fired`, so nobody can tell it was not run). Leave between fires.
    sleep_until_offset_in_second(200);
    java.terminate(Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(6));
    let done = now_millis();
    for w in &mut ours {
        w.terminate(Duration::from_secs(15));
    }
    let entries = ledger::read(&ledger_path);
    let fires = fires_between(ready + 2000, done - 1500, 1000);
    let report = ledger::check(&entries, "java-mixed", 6, &fires, &[]);
    let languages: BTreeSet<String> = entries.iter().map(|e| e.lang.clone()).collect();
    println!("java-mixed: {} (item, fire) pairs exactly once over {} fires; {report:?}", report.exactly_once, fires.len());
    assert!(report.is_clean(), "{report:?}");
    assert!(languages.contains("java") && languages.contains("rust"), "{languages:?}");
}

/// A Java worker is killed with kill -9 while its items run; only our
/// workers survive. Each of its running items is re-run once by one of ours
/// (failover), and the job keeps firing: no duplicates, no misses outside
/// the Java worker's own unfinished fire.
#[test]
fn ours_take_over_a_crashed_java_workers_running_items() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let connect = zk.connect_string();
    let spec = WorkerSpec {
        zk: &connect,
        namespace: "java-crash",
        job: "java-crash",
        items: 6,
        cron: "* * * * * ?",
        ledger: &ledger_path,
        // Short enough that a Java run never overlaps the next fire (its
        // ledger fire is the start time floored to the second).
        sleep_ms: 400,
        session_timeout_ms: SESSION_TIMEOUT_MS,
        config_yaml: None,
    };
    let mut java = start(Lang::Java, &spec);
    let mut ours: Vec<Worker> = [Lang::Rust, Lang::Rust].iter().map(|&lang| start(lang, &spec)).collect();
    let ready = now_millis();
    std::thread::sleep(Duration::from_secs(8));
    sleep_until_offset_in_second(200);
    let killed = java.instance_id.clone();
    java.kill9();
    let killed_at = now_millis();
    std::thread::sleep(Duration::from_secs(10));
    let done = now_millis();
    for w in &mut ours {
        w.terminate(Duration::from_secs(15));
    }
    let entries = ledger::read(&ledger_path);
    let fires = fires_between(ready + 2000, done - 1500, 1000);
    // Until the session timeout has passed, the dead worker's items are
    // still assigned to it: those fires are lost (as in Java), and the one
    // it was running is re-run by failover.
    let window = [(killed_at, killed_at + SESSION_TIMEOUT_MS as i64 + 1000)];
    let report = ledger::check_with(&entries, "java-crash", 6, &fires, &ledger::CheckOptions { crashed: &[&killed], windows: &window, catch_up: &[] });
    println!("java-crash: {report:?}");
    let in_flight: Vec<u32> = entries.iter().filter(|e| e.instance == killed && e.phase == "start" && e.at >= killed_at - 1000)
        .filter(|s| !entries.iter().any(|e| e.phase == "end" && e.instance == killed && e.item == s.item && e.fire == s.fire))
        .map(|e| e.item).collect();
    println!("killed mid-run: items {in_flight:?}");
    assert!(!in_flight.is_empty(), "the Java worker was not killed mid-run");
    assert!(report.is_clean(), "{report:?}");
    let takeovers = entries.iter().filter(|e| e.lang == "rust" && e.phase == "end" && e.fire == ledger::UNKNOWN_FIRE).count();
    assert_eq!(takeovers, in_flight.len(), "our take-overs re-ran something that was not running");
}

/// One of our workers is killed with kill -9 while its items run; only a
/// Java worker survives. Java queues and re-runs each of its running items
/// (its failover runs know no fire: the checker matches them to the
/// crashed runs), and keeps firing every item after resharding. Java's
/// late runs while it recovers (misfire re-runs of fires held up by
/// resharding) cannot name their fire and are counted apart; fires missed
/// until the session timeout + 1 s are excused.
#[test]
fn java_takes_over_a_crashed_rust_workers_running_items() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let connect = zk.connect_string();
    let spec = WorkerSpec {
        zk: &connect,
        namespace: "rust-crash",
        job: "rust-crash",
        // Java runs a fire's items on a pool of 2 × CPUs threads; with
        // more items than that its runs of one fire spill into the next
        // second, and its ledger fire (the start time floored) goes wrong.
        items: 4,
        cron: "* * * * * ?",
        ledger: &ledger_path,
        sleep_ms: 300,
        session_timeout_ms: SESSION_TIMEOUT_MS,
        config_yaml: None,
    };
    let mut java = start(Lang::Java, &spec);
    let mut rust = start(Lang::Rust, &spec);
    let ready = now_millis();
    std::thread::sleep(Duration::from_secs(8));
    sleep_until_offset_in_second(200);
    let killed = rust.instance_id.clone();
    rust.kill9();
    let killed_at = now_millis();
    std::thread::sleep(Duration::from_secs(10));
    let done = now_millis();
    java.terminate(Duration::from_secs(15));
    let entries = ledger::read(&ledger_path);
    let fires = fires_between(ready + 2000, done - 1500, 1000);
    let window = [(killed_at, killed_at + SESSION_TIMEOUT_MS as i64 + 1000)];
    let report = ledger::check_with(&entries, "rust-crash", 4, &fires, &ledger::CheckOptions { crashed: &[&killed], windows: &window, catch_up: &[] });
    println!("rust-crash: {report:?}");
    let taken_over = entries.iter().filter(|e| e.lang == "java" && e.fire == ledger::UNKNOWN_FIRE).count();
    assert!(taken_over > 0, "Java re-ran nothing of the crashed worker");
    assert!(report.is_clean(), "{report:?}");
}

/// A rolling migration: three Java workers run the job; one by one, each
/// is joined by a replacement in another language (Python, Node, C) and
/// then leaves with SIGTERM between fires, while the job fires every
/// second; a Rust worker joins at the start. Every (item, fire) from two
/// seconds after the Java cluster is up to the end runs exactly once.
#[test]
fn a_java_fleet_is_replaced_instance_by_instance_without_a_gap() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let connect = zk.connect_string();
    let spec = WorkerSpec {
        zk: &connect,
        namespace: "migration",
        job: "migration",
        items: 6,
        cron: "* * * * * ?",
        ledger: &ledger_path,
        sleep_ms: 100,
        session_timeout_ms: SESSION_TIMEOUT_MS,
        config_yaml: None,
    };
    let mut java: Vec<Worker> = (0..3).map(|_| start(Lang::Java, &spec)).collect();
    let ready = now_millis();
    let mut ours = vec![start(Lang::Rust, &spec)];
    for (old, lang) in java.iter_mut().zip([Lang::Python, Lang::Node, Lang::C]) {
        std::thread::sleep(Duration::from_secs(3));
        ours.push(start(lang, &spec));
        std::thread::sleep(Duration::from_secs(3));
        sleep_until_offset_in_second(200);
        old.terminate(Duration::from_secs(20));
    }
    std::thread::sleep(Duration::from_secs(5));
    let done = now_millis();
    for w in &mut ours {
        w.terminate(Duration::from_secs(15));
    }
    let entries = ledger::read(&ledger_path);
    let fires = fires_between(ready + 2000, done - 1500, 1000);
    let report = ledger::check(&entries, "migration", 6, &fires, &[]);
    let languages: BTreeSet<String> = entries.iter().map(|e| e.lang.clone()).collect();
    println!("migration: {} (item, fire) pairs exactly once over {} fires; {report:?}", report.exactly_once, fires.len());
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.unattributed_runs, 0, "Java runs that could not name their fire: {report:?}");
    assert_eq!(languages.len(), 5, "every language ran items: {languages:?}");
    let last_java = entries.iter().filter(|e| e.lang == "java").map(|e| e.at).max().unwrap_or(0);
    assert!(last_java < done - 4000, "a Java worker still ran items after it left");
}
