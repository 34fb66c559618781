//! A Rust test worker: joins a job on a real ZooKeeper and records every
//! item run in the execution ledger. Cluster tests start several of these
//! (and the Python, Node and C equivalents) as separate processes.
//!
//! Usage: `rust-worker --zk HOST:PORT --namespace NS --job NAME --items N
//!   --cron EXPR --ledger FILE [--sleep-ms MS] [--session-timeout-ms MS]
//!   [--failover true|false] [--misfire true|false] [--fail-item N]
//!   [--config-yaml FILE]` (the YAML replaces job, items, cron and flags).
//! Prints `ready <instance-id>` once registered; SIGTERM shuts down gracefully.

use cluster_tests::ledger::{self, Entry};
use elasticjob::registry::{RegistryCenter, ZookeeperOptions};
use elasticjob::{Job, JobConfig, JobScheduler};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ELASTICJOB_LOG"))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = HashMap::new();
    for pair in args.chunks(2) {
        let key = pair[0].trim_start_matches("--").to_string();
        let value = pair.get(1).cloned().unwrap_or_default();
        opts.insert(key, value);
    }
    let get = |k: &str| opts.get(k).cloned().unwrap_or_else(|| panic!("missing --{k}"));
    let opt = |k: &str, d: &str| opts.get(k).cloned().unwrap_or_else(|| d.to_string());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let options = ZookeeperOptions::new(get("zk"), get("namespace"))
            .session_timeout(Duration::from_millis(opt("session-timeout-ms", "2000").parse().unwrap()));
        let config = match opts.get("config-yaml") {
            Some(file) => JobConfig::from_yaml(&std::fs::read_to_string(file).expect("read --config-yaml"))
                .expect("valid --config-yaml"),
            None => {
                let mut config = JobConfig::new(&get("job"), &get("cron"), get("items").parse().unwrap());
                config.failover = opt("failover", "true") == "true";
                config.misfire = opt("misfire", "true") == "true";
                config.overwrite = true;
                config
            }
        };
        let ledger_path = PathBuf::from(get("ledger"));
        let sleep_ms: u64 = opt("sleep-ms", "100").parse().unwrap();
        let fail_item: Option<u32> = opts.get("fail-item").map(|v| v.parse().unwrap());
        let instance = format!("{}@-@{}", elasticjob::instance::local_ip(), std::process::id());
        let me = instance.clone();
        let job = Job::from_fn(move |ctx| {
            let ledger_path = ledger_path.clone();
            let me = me.clone();
            async move {
                let record = |phase: &str| Entry {
                    phase: phase.into(),
                    job: ctx.job_name.clone(),
                    item: ctx.sharding_item,
                    fire: ctx.fire_time,
                    instance: me.clone(),
                    lang: "rust".into(),
                    at: cluster_tests::workers::now_millis(),
                };
                ledger::append(&ledger_path, &record("start"))?;
                tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
                if fail_item == Some(ctx.sharding_item) {
                    panic!("planted failure in item {}", ctx.sharding_item);
                }
                ledger::append(&ledger_path, &record("end"))?;
                Ok(())
            }
        });
        let scheduler = JobScheduler::builder(RegistryCenter::zookeeper(options), config, job)
            .build()
            .expect("valid worker configuration");
        scheduler.start().await.expect("worker registers");
        println!("ready {}", scheduler.instance_id());
        std::io::stdout().flush().unwrap();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        scheduler.shutdown().await;
    });
}
