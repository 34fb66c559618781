//! A Rust test worker: joins a job on a real ZooKeeper and records every
//! item run in the execution ledger. Cluster and fault-injection tests start
//! several of these (and the Python, Node and C equivalents) as separate
//! processes.
//!
//! Usage: `rust-worker --zk HOST:PORT --namespace NS --job NAME --items N
//!   --cron EXPR --ledger FILE [--sleep-ms MS] [--session-timeout-ms MS]
//!   [--failover true|false] [--misfire true|false] [--fail-item N]
//!   [--honour-cancel true|false] [--hang-item N] [--block-runtime-item N
//!   --block-ms MS] [--runtime-threads N] [--timeout-ms MS] [--max-parallel N]
//!   [--shutdown-timeout-ms MS] [--overwrite true|false] [--config-yaml FILE]
//!   [--once-listener-ms MS] [--slow-item N --slow-ms MS] [--metrics IP:PORT]
//!   [--history URL] [--linger true|false] [--catch-up-window-s SECONDS]
//!   [--overlap-policy SKIP|BUFFER_ONE|BUFFER_ALL|CANCEL_OTHER|ALLOW_ALL] [--fail-attempts K]
//!   [--props 'key=value;key=value']`
//! (the YAML replaces job, items, cron and flags; `--props` adds job props).
//!
//! The handler writes `start`, sleeps `--sleep-ms` while listening to its
//! cancellation, then writes `end` — or `cancelled` (with the time it
//! noticed and the reason) when told to stop first and `--honour-cancel` is
//! on. `--hang-item` never returns and ignores cancellation;
//! `--block-runtime-item` blocks its tokio thread with `std::thread::sleep`;
//! with `--runtime-threads 1` (default 2) that is every thread the
//! scheduler itself runs on.
//! `--slow-item` sleeps `--slow-ms` instead of `--sleep-ms`.
//! `--metrics` serves the process's metrics there; `--history` keeps an
//! execution history; with `--linger true` the first SIGTERM shuts the
//! scheduler down but the process (and its metrics endpoint) stays until
//! the second. Take-overs are written with `"failover": true`.
//! `--once-listener-ms` adds a distributed-once listener (both timeouts
//! MS) whose hooks write `once-before` / `once-after` lines for the fire.
//! Prints `ready <instance-id>` once registered and, on stderr, one
//! `EVENT <epoch-ms> ...` line per scheduler event other than executions;
//! SIGTERM shuts down gracefully.

use cluster_tests::ledger::{Appender, Entry};
use cluster_tests::workers::now_millis;
use elasticjob::registry::{RegistryCenter, ZookeeperOptions};
use elasticjob::{Job, JobConfig, JobEvent, JobScheduler};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the handler does, from the flags.
#[derive(Clone, Copy)]
struct Behaviour {
    sleep_ms: u64,
    fail_item: Option<u32>,
    honour_cancel: bool,
    hang_item: Option<u32>,
    block_item: Option<u32>,
    block_ms: u64,
    slow_item: Option<u32>,
    slow_ms: u64,
    /// `--fail-item` fails its attempts up to this one (every attempt by default).
    fail_attempts: u32,
}

/// A distributed-once listener that writes each hook's call to the ledger.
struct OnceLedger {
    ledger: Arc<Appender>,
    instance: String,
}

impl OnceLedger {
    fn record(&self, phase: &str, contexts: &elasticjob::ShardingContexts) -> elasticjob::HandlerResult {
        let entry = Entry {
            phase: phase.into(),
            job: contexts.job_name.clone(),
            item: 0,
            fire: contexts.fire_time,
            instance: self.instance.clone(),
            lang: "rust".into(),
            at: now_millis(),
            token: 0,
            reason: None,
            failover: false,
            attempt: 1,
        };
        Ok(self.ledger.append(&entry)?)
    }
}

#[async_trait::async_trait]
impl elasticjob::DistributeOnceJobListener for OnceLedger {
    async fn before_at_last_started(&self, contexts: &elasticjob::ShardingContexts) -> elasticjob::HandlerResult {
        self.record("once-before", contexts)
    }

    async fn after_at_last_completed(&self, contexts: &elasticjob::ShardingContexts) -> elasticjob::HandlerResult {
        self.record("once-after", contexts)
    }
}

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
    let item_flag = |k: &str| opts.get(k).map(|v| v.parse::<u32>().unwrap_or_else(|_| panic!("--{k} is an item")));
    let threads = opt("runtime-threads", "2").parse().expect("--runtime-threads is a number");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().unwrap();
    runtime.block_on(async {
        let options = ZookeeperOptions::new(get("zk"), get("namespace"))
            .session_timeout(Duration::from_millis(opt("session-timeout-ms", "2000").parse().unwrap()));
        let mut config = match opts.get("config-yaml") {
            Some(file) => JobConfig::from_yaml(&std::fs::read_to_string(file).expect("read --config-yaml"))
                .expect("valid --config-yaml"),
            None => {
                let mut config = JobConfig::new(&get("job"), &get("cron"), get("items").parse().unwrap());
                config.failover = opt("failover", "true") == "true";
                config.misfire = opt("misfire", "true") == "true";
                config.overwrite = opt("overwrite", "true") == "true";
                config
            }
        };
        if let Some(ms) = opts.get("timeout-ms") {
            config.props.insert(elasticjob::config::EXECUTION_TIMEOUT_PROP.to_string(), ms.clone());
        }
        if let Some(seconds) = opts.get("catch-up-window-s") {
            config.props.insert(elasticjob::config::CATCH_UP_WINDOW_PROP.to_string(), seconds.clone());
        }
        for pair in opt("props", "").split(';').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').expect("--props holds key=value pairs");
            config.props.insert(key.to_string(), value.to_string());
        }
        if let Some(policy) = opts.get("overlap-policy") {
            config.props.insert(elasticjob::overlap::OVERLAP_POLICY_PROP.to_string(), policy.clone());
        }
        let ledger = Arc::new(Appender::open(&PathBuf::from(get("ledger"))).expect("open --ledger"));
        let once_ledger = ledger.clone();
        let behaviour = Behaviour {
            sleep_ms: opt("sleep-ms", "100").parse().unwrap(),
            fail_item: item_flag("fail-item"),
            honour_cancel: opt("honour-cancel", "true") == "true",
            hang_item: item_flag("hang-item"),
            block_item: item_flag("block-runtime-item"),
            block_ms: opt("block-ms", "3000").parse().unwrap(),
            slow_item: item_flag("slow-item"),
            slow_ms: opt("slow-ms", "3000").parse().unwrap(),
            fail_attempts: opt("fail-attempts", &u32::MAX.to_string()).parse().expect("--fail-attempts is a number"),
        };
        let instance = format!("{}@-@{}", elasticjob::instance::local_ip(), std::process::id());
        let me = instance.clone();
        let job = Job::from_fn(move |ctx| {
            let ledger = ledger.clone();
            let me = me.clone();
            async move {
                let record = |phase: &str, reason: Option<String>| Entry {
                    phase: phase.into(),
                    job: ctx.job_name.clone(),
                    item: ctx.sharding_item,
                    // A take-over of an unknown fire: the checker matches it to the crashed run.
                    fire: if ctx.fire_time_known { ctx.fire_time } else { cluster_tests::ledger::UNKNOWN_FIRE },
                    instance: me.clone(),
                    lang: "rust".into(),
                    at: now_millis(),
                    token: ctx.fencing_token,
                    reason,
                    failover: ctx.failover,
                    attempt: ctx.attempt,
                };
                ledger.append(&record("start", None))?;
                if behaviour.hang_item == Some(ctx.sharding_item) {
                    std::future::pending::<()>().await;
                }
                if behaviour.block_item == Some(ctx.sharding_item) {
                    std::thread::sleep(Duration::from_millis(behaviour.block_ms));
                } else {
                    let ms = if behaviour.slow_item == Some(ctx.sharding_item) { behaviour.slow_ms } else { behaviour.sleep_ms };
                    let sleep = tokio::time::sleep(Duration::from_millis(ms));
                    tokio::select! {
                        _ = sleep => {}
                        reason = ctx.cancellation.cancelled(), if behaviour.honour_cancel => {
                            ledger.append(&record("cancelled", Some(reason.to_string())))?;
                            return Ok(());
                        }
                    }
                }
                if behaviour.fail_item == Some(ctx.sharding_item) && ctx.attempt <= behaviour.fail_attempts {
                    panic!("planted failure in item {} (attempt {})", ctx.sharding_item, ctx.attempt);
                }
                ledger.append(&record("end", None))?;
                Ok(())
            }
        });
        let mut builder = JobScheduler::builder(RegistryCenter::zookeeper(options), config, job);
        if let Some(ms) = opts.get("once-listener-ms") {
            let ms: i64 = ms.parse().expect("--once-listener-ms is a number");
            let listener = OnceLedger { ledger: once_ledger.clone(), instance: instance.clone() };
            builder = builder.once_listener(elasticjob::OnceListener::new(listener, ms, ms).expect("valid timeouts"));
        }
        if let Some(n) = opts.get("max-parallel") {
            builder = builder.max_parallel(n.parse().expect("--max-parallel is a number"));
        }
        if let Some(ms) = opts.get("shutdown-timeout-ms") {
            builder = builder.shutdown_timeout(Duration::from_millis(ms.parse().expect("--shutdown-timeout-ms")));
        }
        if let Some(address) = opts.get("metrics") {
            builder = builder.metrics_listen(address.clone());
        }
        if let Some(url) = opts.get("history") {
            builder = builder.history(url.clone());
        }
        let scheduler = builder.build().expect("valid worker configuration");
        let mut events = scheduler.events();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(JobEvent::Executed(_)) => {}
                    Ok(event) => eprintln!("EVENT {} {event:?}", now_millis()),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("EVENT {} lagged {n}", now_millis())
                    }
                    Err(_) => break,
                }
            }
        });
        scheduler.start().await.expect("worker registers");
        println!("ready {}", scheduler.instance_id());
        std::io::stdout().flush().unwrap();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        scheduler.shutdown().await;
        if opt("linger", "false") == "true" {
            // Shut down, the scheduler still exists: its final figures stay
            // on the metrics endpoint until the next SIGTERM.
            eprintln!("EVENT {} lingering", now_millis());
            term.recv().await;
        }
    });
}
