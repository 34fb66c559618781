//! One cluster, four languages: a Rust, a Python, a Node and a C worker
//! share jobs on a real ZooKeeper, and the execution ledger proves every
//! (item, fire) ran exactly once, through crashes, pauses and scaling.

use cluster_tests::ledger;
use cluster_tests::workers::{fires_between, now_millis, Worker};
use elasticjob::registry::{Registry, ZookeeperOptions, ZookeeperRegistry};
use mixed_language_tests::{start, Lang, WorkerSpec, ALL};
use std::collections::BTreeSet;
use std::time::Duration;
use zk_harness::ZkServer;

const SESSION_TIMEOUT_MS: u32 = 2000;

fn sleep_until_offset_in_second(offset_ms: i64) {
    let now = now_millis();
    let target = (now / 1000 + 1) * 1000 + offset_ms;
    std::thread::sleep(Duration::from_millis((target - now) as u64));
}

#[test]
fn four_languages_share_a_job_through_a_crash_and_a_pause() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let connect = zk.connect_string();
    // Fires the crashed and the paused worker's items missed are caught up
    // by their new owners: a catch-up window of 5 minutes (one period is the default).
    let yaml = dir.path().join("job.yaml");
    std::fs::write(
        &yaml,
        "jobName: mixed\ncron: '* * * * * ?'\nshardingTotalCount: 8\nfailover: true\nmisfire: true\noverwrite: true\n\
         props:\n  catchUpWindowSeconds: '300'\n",
    )
    .unwrap();
    let spec = WorkerSpec {
        zk: &connect,
        namespace: "mixed",
        job: "mixed",
        items: 8,
        cron: "* * * * * ?",
        ledger: &ledger_path,
        sleep_ms: 300,
        session_timeout_ms: SESSION_TIMEOUT_MS,
        config_yaml: Some(&yaml),
    };
    let mut workers: Vec<Worker> = ALL.iter().map(|&lang| start(lang, &spec)).collect();
    let ready = now_millis();
    std::thread::sleep(Duration::from_secs(21));

    // kill -9 the Node worker while its items run.
    sleep_until_offset_in_second(120);
    let killed = workers[2].instance_id.clone();
    workers[2].kill9();
    std::thread::sleep(Duration::from_secs(4));

    // Pause the Python worker between fires, past its session timeout.
    sleep_until_offset_in_second(600);
    workers[1].pause();
    std::thread::sleep(Duration::from_millis(SESSION_TIMEOUT_MS as u64 * 2 + 1000));
    workers[1].resume();
    std::thread::sleep(Duration::from_secs(6));
    let done = now_millis();
    for w in &mut workers {
        w.terminate(Duration::from_secs(15));
    }

    let entries = ledger::read(&ledger_path);
    let fires = fires_between(ready + 1000, done - 1500, 1000);
    assert!(fires.len() >= 30, "{} fires", fires.len());
    let report = ledger::check(&entries, "mixed", 8, &fires, &[&killed]);
    assert!(report.is_clean(), "{report:?}");
    let languages: BTreeSet<String> = entries.iter().map(|e| e.lang.clone()).collect();
    assert_eq!(languages.len(), 4, "every language ran items: {languages:?}");
    println!("mixed cluster: {} (item, fire) pairs exactly once over {} fires", report.exactly_once, fires.len());
}

#[test]
fn workers_join_and_leave_without_overlap_or_gaps() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let connect = zk.connect_string();
    let spec = WorkerSpec {
        zk: &connect,
        namespace: "scale",
        job: "scale",
        items: 6,
        cron: "* * * * * ?",
        ledger: &ledger_path,
        sleep_ms: 100,
        session_timeout_ms: SESSION_TIMEOUT_MS,
        config_yaml: None,
    };
    let mut workers = vec![start(Lang::Rust, &spec)];
    let ready = now_millis();
    for lang in [Lang::Python, Lang::Node, Lang::C] {
        std::thread::sleep(Duration::from_secs(3));
        workers.push(start(lang, &spec));
    }
    for _ in 0..3 {
        std::thread::sleep(Duration::from_secs(3));
        let mut leaving = workers.remove(0);
        leaving.terminate(Duration::from_secs(15));
    }
    std::thread::sleep(Duration::from_secs(3));
    let done = now_millis();
    for w in &mut workers {
        w.terminate(Duration::from_secs(15));
    }
    let entries = ledger::read(&ledger_path);
    let fires = fires_between(ready + 1000, done - 1500, 1000);
    let report = ledger::check(&entries, "scale", 6, &fires, &[]);
    assert!(report.is_clean(), "{report:?}");
    let languages: BTreeSet<String> = entries.iter().map(|e| e.lang.clone()).collect();
    assert_eq!(languages.len(), 4, "{languages:?}");
}

#[test]
fn one_yaml_gives_the_same_config_node_in_every_language() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("job.yaml");
    std::fs::write(
        &yaml,
        "jobName: shared\ncron: 0 0/5 * * * ?\nshardingTotalCount: 3\nshardingItemParameters: 0=a,1=b,2=c\n\
         jobParameter: p\nfailover: true\nmisfire: false\nmaxTimeDiffSeconds: 30\nreconcileIntervalMinutes: 5\n\
         jobShardingStrategyType: ODEVITY\ndescription: one job, four languages\noverwrite: true\n\
         timeZone: Asia/Shanghai\nprops:\n  streaming.process: 'true'\njobExtraConfigurations: []\n",
    )
    .unwrap();
    let ledger_path = dir.path().join("unused.jsonl");
    let connect = zk.connect_string();
    let mut stored = Vec::new();
    for lang in ALL {
        let namespace = format!("yaml-{lang:?}").to_lowercase();
        let spec = WorkerSpec {
            zk: &connect,
            namespace: &namespace,
            job: "ignored",
            items: 1,
            cron: "",
            ledger: &ledger_path,
            sleep_ms: 10,
            session_timeout_ms: SESSION_TIMEOUT_MS,
            config_yaml: Some(&yaml),
        };
        let mut worker = start(lang, &spec);
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let node = runtime.block_on(async {
            let registry = ZookeeperRegistry::connect(ZookeeperOptions::new(connect.clone(), namespace.clone())).await.unwrap();
            registry.get_string("/shared/config").await.unwrap().expect("config node written")
        });
        worker.terminate(Duration::from_secs(15));
        stored.push((lang, node));
    }
    for (lang, node) in &stored[1..] {
        assert_eq!(node, &stored[0].1, "{lang:?} stored a different config than {:?}", stored[0].0);
    }
    // The zone is written as Java ElasticJob reads it (Asia/Shanghai has no daylight saving).
    assert!(stored[0].1.contains("jobShardingStrategyType: ODEVITY") && stored[0].1.contains("timeZone: GMT+08:00"), "{}", stored[0].1);
}
