//! Retries survive a crash across languages: a Python and a Rust worker
//! share a job whose item fails its first two attempts (3 attempts, 3 s
//! apart); each worker owns one of its two items, and a test fails each in
//! turn, so each language loses its retry once. The worker that ran attempt 1 is killed (SIGKILL) while the
//! retry waits in the registry; the other worker, in the other language,
//! becomes the item's owner, finds the pending retry and runs attempts 2
//! and 3 at their times, once each.

use cluster_tests::ledger::{self, Entry};
use cluster_tests::workers::{now_millis, Worker};
use elasticjob::registry::{Registry, ZookeeperOptions, ZookeeperRegistry};
use mixed_language_tests::{start_with, Lang, WorkerSpec};
use std::time::Duration;
use zk_harness::ZkServer;

const WAIT_MS: i64 = 3000;

#[test]
fn a_pending_retry_of_item_0_is_run_by_its_next_owner_in_another_language() {
    crash_during_backoff(0);
}

#[test]
fn a_pending_retry_of_item_1_is_run_by_its_next_owner_in_another_language() {
    crash_during_backoff(1);
}

fn crash_during_backoff(failing: u32) {
    let other = 1 - failing;
    let namespace = format!("mixed-retries-{failing}");
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let connect = zk.connect_string();
    let yaml = dir.path().join("job.yaml");
    std::fs::write(
        &yaml,
        format!(
            "jobName: retried\ncron: '0/10 * * * * ?'\nshardingTotalCount: 2\nfailover: true\noverwrite: true\n\
             props:\n  retryMaxAttempts: '3'\n  retryInitialIntervalMillis: '{WAIT_MS}'\n  retryBackoffCoefficient: '1'\n"
        ),
    )
    .unwrap();
    let spec = WorkerSpec {
        zk: &connect,
        namespace: &namespace,
        job: "retried",
        items: 2,
        cron: "0/10 * * * * ?",
        ledger: &ledger_path,
        sleep_ms: 100,
        session_timeout_ms: 2000,
        config_yaml: Some(&yaml),
    };
    let failing_flag = failing.to_string();
    let fail = ["--fail-item", failing_flag.as_str(), "--fail-attempts", "2"];
    let mut workers: Vec<Worker> = [Lang::Python, Lang::Rust].iter().map(|&lang| start_with(lang, &spec, &fail)).collect();
    let langs = ["python", "rust"];

    // Attempt 1 at the first fire; wait until its retry is recorded.
    let first = ledger::wait_for(&ledger_path, Duration::from_secs(25), |e| e.item == failing && e.phase == "start" && e.attempt == 1);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let recorded = runtime.block_on(async {
        let registry = ZookeeperRegistry::connect(ZookeeperOptions::new(connect.clone(), namespace.clone())).await.unwrap();
        for _ in 0..100 {
            if registry.children("/retried/retries").await.unwrap_or_default() == vec![format!("{failing}@{}", first.fire)] {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    });
    assert!(recorded, "the failed attempt left its retry in the registry");
    let victim = workers.iter().position(|w| w.instance_id == first.instance).expect("a worker of ours ran it");
    let killed_at = now_millis();
    workers[victim].kill9();
    let survivor = workers[1 - victim].instance_id.clone();

    let third = ledger::wait_for(&ledger_path, Duration::from_secs(20), |e| e.item == failing && e.fire == first.fire && e.attempt == 3 && e.phase == "end");
    for w in &mut workers {
        w.terminate(Duration::from_secs(10));
    }
    let runs: Vec<Entry> =
        ledger::read(&ledger_path).into_iter().filter(|e| e.item == failing && e.fire == first.fire && e.phase == "start").collect();
    let attempts: Vec<(u32, &str)> = runs.iter().map(|e| (e.attempt, e.lang.as_str())).collect();
    let survivor_lang = langs[1 - victim];
    assert_eq!(
        attempts,
        vec![(1, langs[victim]), (2, survivor_lang), (3, survivor_lang)],
        "each attempt once, the retries by the other language's worker: {runs:?}"
    );
    assert!(runs[1..].iter().all(|e| e.instance == survivor));
    let second_at = runs[1].at;
    assert_eq!(third.instance, survivor);
    assert!(second_at - first.at >= WAIT_MS - 50, "attempt 2 waited its interval: {} ms", second_at - first.at);
    assert!(second_at - killed_at < WAIT_MS + 4000, "and was not held up long by the crash: {} ms after the kill", second_at - killed_at);
    assert!(runs[2].at - second_at >= WAIT_MS - 50, "attempt 3 waited its interval: {} ms", runs[2].at - second_at);
    let others: Vec<Entry> =
        ledger::read(&ledger_path).into_iter().filter(|e| e.item == other && e.fire == first.fire && e.phase == "end").collect();
    assert_eq!(others.len(), 1, "item {other} ran once for the fire, without retries: {others:?}");
    println!(
        "retries across a crash: attempt 1 ({}) at +0, killed at +{} ms, attempt 2 ({survivor_lang}) at +{} ms, attempt 3 at +{} ms",
        langs[victim],
        killed_at - first.at,
        second_at - first.at,
        runs[2].at - first.at
    );
}
