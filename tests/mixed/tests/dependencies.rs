//! Job dependencies across languages: `extract` (2 items, every second)
//! runs on a Python and a Rust worker; `load` (2 items, `dependsOn:
//! extract`, no cron) runs on a Node and a C worker. The ledger shows
//! `load` running each item exactly once for every `extract` fire, at that
//! fire's time, and never before the fire's last `extract` item ended.
//!
//! Windows stated up front: `extract` fires from the start until 2 s after
//! all four workers are ready and from 2.5 s before the stop are not judged.

use cluster_tests::ledger::{self, Entry};
use cluster_tests::workers::{fires_between, now_millis, Worker};
use mixed_language_tests::{start, Lang, WorkerSpec};
use std::path::Path;
use std::time::Duration;
use zk_harness::ZkServer;

#[test]
fn a_node_and_a_c_job_fire_after_each_fire_of_a_python_and_rust_job() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let connect = zk.connect_string();
    let yaml = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let extract_yaml = yaml("extract.yaml", "jobName: extract\ncron: '* * * * * ?'\nshardingTotalCount: 2\noverwrite: true\n");
    let load_yaml =
        yaml("load.yaml", "jobName: load\ncron: ''\nshardingTotalCount: 2\noverwrite: true\nprops:\n  dependsOn: extract\n");
    let spec = |job, cron, config| worker_spec(&connect, &ledger_path, job, cron, config);
    let mut workers: Vec<Worker> = vec![
        start(Lang::Node, &spec("load", "", &load_yaml)),
        start(Lang::C, &spec("load", "", &load_yaml)),
        start(Lang::Python, &spec("extract", "* * * * * ?", &extract_yaml)),
        start(Lang::Rust, &spec("extract", "* * * * * ?", &extract_yaml)),
    ];
    let ready = now_millis();
    std::thread::sleep(Duration::from_millis(9000));
    let done = now_millis();
    // The dependent job's workers stop last: the final extract fires still get their load.
    for w in workers.iter_mut().rev() {
        w.terminate(Duration::from_secs(15));
    }
    let all = ledger::read(&ledger_path);
    let of = |job: &str| -> Vec<&Entry> { all.iter().filter(|e| e.job == job).collect() };
    let (extract, load) = (of("extract"), of("load"));
    let fires = fires_between(ready + 2000, done - 2500, 1000);
    assert!(fires.len() >= 4, "{} fires judged", fires.len());
    for fire in &fires {
        let ends: Vec<&&Entry> = extract.iter().filter(|e| e.fire == *fire && e.phase == "end").collect();
        assert_eq!(ends.len(), 2, "extract ran both items once for fire {fire}: {extract:?}");
        let last_end = ends.iter().map(|e| e.at).max().unwrap();
        let starts: Vec<&&Entry> = load.iter().filter(|e| e.fire == *fire && e.phase == "start").collect();
        let mut items: Vec<u32> = starts.iter().map(|e| e.item).collect();
        items.sort_unstable();
        assert_eq!(items, vec![0, 1], "load ran each item once for extract fire {fire}: {starts:?}; all load entries: {load:?}");
        assert!(starts.iter().all(|e| e.at >= last_end), "load started before extract fire {fire} ended at {last_end}: {starts:?}");
    }
    let languages: std::collections::BTreeSet<&str> = all.iter().map(|e| e.lang.as_str()).collect();
    assert_eq!(languages.len(), 4, "{languages:?}");
    println!("dependencies: load ran after each of {} extract fires, across Python, Rust, Node and C", fires.len());
}

fn worker_spec<'a>(connect: &'a str, ledger: &'a Path, job: &'a str, cron: &'a str, config: &'a Path) -> WorkerSpec<'a> {
    WorkerSpec {
        zk: connect,
        namespace: "mixed-dependencies",
        job,
        items: 2,
        cron,
        ledger,
        sleep_ms: 300,
        session_timeout_ms: 2000,
        config_yaml: Some(config),
    }
}
