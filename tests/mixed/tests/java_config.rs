//! The `config` node round trip between our workers and a real Apache
//! ElasticJob-Lite 3.0.4 worker: what ours writes, Java loads and runs, and
//! the reverse, with every field set away from its default (an IANA time
//! zone on our side included).

use cluster_tests::ledger;
use cluster_tests::workers::Worker;
use elasticjob::JobConfig;
use mixed_language_tests::{start, Lang, WorkerSpec};
use std::time::Duration;
use zk_harness::ZkServer;

/// Reads `/{namespace}/{job}/config` with a plain client.
fn config_node(zk: &ZkServer, namespace: &str, job: &str) -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let options = elasticjob::ZookeeperOptions::new(zk.connect_string(), namespace);
        let registry = elasticjob::registry::ZookeeperRegistry::connect(options).await.unwrap();
        use elasticjob::registry::Registry;
        let yaml = registry.get_string(&format!("/{job}/config")).await.unwrap().expect("a config node");
        registry.close().await;
        yaml
    })
}

fn wait_for_runs(ledger_path: &std::path::Path, lang: &str) -> usize {
    for _ in 0..40 {
        let runs = ledger::read(ledger_path).iter().filter(|e| e.lang == lang && e.phase == "end").count();
        if runs >= 2 {
            return runs;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    0
}

/// Ours writes a configuration with every field set (time zone
/// `Asia/Shanghai`); a Java worker started with `overwrite: false` loads
/// it without error and runs items under it.
#[test]
fn java_loads_and_runs_the_config_ours_wrote() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let yaml_path = dir.path().join("config.yaml");
    std::fs::write(
        &yaml_path,
        "jobName: ours-first\ncron: '* * * * * ?'\nshardingTotalCount: 2\ndescription: written by ours\n\
         jobParameter: our-parameter\nshardingItemParameters: 0=Beijing,1=Shanghai\ntimeZone: Asia/Shanghai\n\
         failover: true\nmisfire: true\nmonitorExecution: true\noverwrite: true\nmaxTimeDiffSeconds: 30\n\
         reconcileIntervalMinutes: 5\nstaticSharding: false\ndisabled: false\njobShardingStrategyType: ODEVITY\n\
         jobExecutorServiceHandlerType: SINGLE_THREAD\njobErrorHandlerType: IGNORE\nprops:\n  custom.key: custom value\n",
    )
    .unwrap();
    let connect = zk.connect_string();
    let spec = WorkerSpec {
        zk: &connect,
        namespace: "config-ours",
        job: "ours-first",
        items: 2,
        cron: "* * * * * ?",
        ledger: &ledger_path,
        sleep_ms: 50,
        session_timeout_ms: 4000,
        config_yaml: Some(&yaml_path),
    };
    let mut ours = start(Lang::Rust, &spec);
    let written = config_node(&zk, "config-ours", "ours-first");
    assert!(written.contains("timeZone: GMT+08:00"), "the zone is written as Java reads it:\n{written}");
    let mut java_command = std::process::Command::new("java");
    java_command
        .arg("-jar")
        .arg(mixed_language_tests::java_worker_jar())
        .args(["--zk", &connect, "--namespace", "config-ours", "--job", "ours-first", "--items", "7"])
        .args(["--cron", "0 0 0 1 1 ? 2099", "--ledger", ledger_path.to_str().unwrap(), "--overwrite", "false"]);
    let mut java = Worker::spawn("java", java_command);
    let java_runs = wait_for_runs(&ledger_path, "java");
    assert_eq!(config_node(&zk, "config-ours", "ours-first"), written, "Java kept the registry's config");
    java.terminate(Duration::from_secs(20));
    ours.terminate(Duration::from_secs(15));
    assert!(java_runs >= 2, "Java did not run items under our config (its own cron would never fire)");
}

/// A Java worker writes a configuration with every field set; our worker
/// started with `overwrite: false` reads it, keeps every value, and runs
/// items under it.
#[test]
fn ours_loads_and_runs_the_config_java_wrote() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let connect = zk.connect_string();
    let mut java_command = std::process::Command::new("java");
    java_command
        .arg("-jar")
        .arg(mixed_language_tests::java_worker_jar())
        .args(["--zk", &connect, "--namespace", "config-java", "--job", "java-first", "--items", "2"])
        .args(["--cron", "* * * * * ?", "--ledger", ledger_path.to_str().unwrap(), "--full-config", "true"]);
    let mut java = Worker::spawn("java", java_command);
    let written = config_node(&zk, "config-java", "java-first");
    let config = JobConfig::from_registry_yaml(&written).unwrap_or_else(|e| panic!("{e}\n{written}"));
    assert_eq!(config.description, "written by Java");
    assert_eq!(config.job_parameter, "java-parameter");
    assert_eq!(config.sharding_item_parameters, "0=Beijing,1=Shanghai");
    assert_eq!(config.time_zone.as_deref(), Some("GMT+08:00"));
    assert_eq!((config.max_time_diff_seconds, config.reconcile_interval_minutes), (30, 5));
    assert_eq!(config.sharding_strategy_type(), "ODEVITY");
    assert_eq!(config.executor_type(), elasticjob::ExecutorType::SingleThread);
    assert_eq!(config.job_error_handler_type.as_deref(), Some("IGNORE"));
    assert_eq!(config.props.get("custom.key").map(String::as_str), Some("custom value"));
    assert_eq!(config.to_yaml().unwrap(), written, "ours writes back exactly what Java wrote");

    let spec = WorkerSpec {
        zk: &connect,
        namespace: "config-java",
        job: "java-first",
        items: 7,
        cron: "0 0 0 1 1 ? 2099",
        ledger: &ledger_path,
        sleep_ms: 50,
        session_timeout_ms: 4000,
        config_yaml: None,
    };
    let mut ours = mixed_language_tests::start_with(Lang::Rust, &spec, &["--overwrite", "false"]);
    let our_runs = wait_for_runs(&ledger_path, "rust");
    ours.terminate(Duration::from_secs(15));
    java.terminate(Duration::from_secs(20));
    assert!(our_runs >= 2, "ours did not run items under Java's config (its own cron would never fire)");
}
