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
