//! The execution history end to end: a real scheduler on a real ZooKeeper
//! writing into SQLite and into a real PostgreSQL (started by the harness),
//! a database that goes down or was never there, retention, and queries.

use elasticjob::registry::ZookeeperOptions;
use elasticjob::trace::{ExecutionQuery, HistoryRecord, StatusQuery, StatusRecord, StatusState};
use elasticjob::{
    Execution, HistoryOptions, HistoryStore, Job, JobConfig, JobEvent, JobOperator, JobScheduler, Outcome, RegistryCenter,
    Retention,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::broadcast;
use zk_harness::{closed_port, PgServer, ZkServer};

static NAMESPACE: AtomicUsize = AtomicUsize::new(0);

fn center() -> RegistryCenter {
    static SERVER: OnceLock<ZkServer> = OnceLock::new();
    let connect = SERVER.get_or_init(ZkServer::start).connect_string();
    let namespace = format!("history-{}-{}", std::process::id(), NAMESPACE.fetch_add(1, Ordering::SeqCst));
    RegistryCenter::zookeeper(ZookeeperOptions::new(connect, namespace).session_timeout(Duration::from_millis(1500)))
}

/// Every second, two items; item 1 always fails with a recognisable message.
fn scheduler(history: &str, options: HistoryOptions) -> JobScheduler {
    scheduler_on(center(), history, options)
}

fn scheduler_on(center: RegistryCenter, history: &str, options: HistoryOptions) -> JobScheduler {
    let job = Job::from_fn(|ctx| async move {
        if ctx.sharding_item == 1 {
            return Err("item one broke on purpose".into());
        }
        Ok(())
    });
    JobScheduler::builder(center, JobConfig::new("traced", "* * * * * ?", 2), job)
        .history(history)
        .history_options(options)
        .shutdown_timeout(Duration::from_secs(5))
        .build()
        .expect("valid scheduler")
}

/// Collects executions until `until` is true of them or `limit` passes.
async fn executions_until(
    events: &mut broadcast::Receiver<JobEvent>,
    limit: Duration,
    mut until: impl FnMut(&[Execution]) -> bool,
) -> Vec<Execution> {
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        while !until(&seen) {
            match events.recv().await {
                Ok(JobEvent::Executed(e)) => seen.push(e),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    })
    .await;
    seen
}

fn all() -> ExecutionQuery {
    ExecutionQuery { limit: 100_000, ..Default::default() }
}

/// A cron fire's item starts well within a second of its fire time, whatever the history database does.
fn assert_on_time(executions: &[Execution]) {
    for e in executions {
        let late = e.started_at - e.fire_time;
        assert!(late < 900, "item {} of fire {} started {late} ms late", e.item, e.fire_time);
    }
}

async fn records_every_execution(url: &str) {
    let center = center();
    let scheduler = scheduler_on(center.clone(), url, HistoryOptions { flush_interval: Duration::from_millis(100), ..Default::default() });
    let mut events = scheduler.events();
    scheduler.start().await.unwrap();
    let mut executions = executions_until(&mut events, Duration::from_secs(20), |seen| seen.len() >= 6).await;
    scheduler.trigger().await.unwrap();
    let operator = JobOperator::new(center);
    let ip = scheduler.instance_id().split("@-@").next().unwrap().to_string();
    operator.disable("traced", Some(&ip)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    operator.enable("traced", Some(&ip)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    scheduler.shutdown().await;
    while let Ok(event) = events.try_recv() {
        if let JobEvent::Executed(e) = event {
            executions.push(e);
        }
    }
    assert!(executions.len() >= 6, "{executions:?}");
    let stats = scheduler.history_stats().expect("a history is kept");
    assert_eq!((stats.dropped, stats.pending), (0, 0), "{stats:?}");

    let store = HistoryStore::open_url(url).unwrap();
    let stored = store.executions(&all()).await.unwrap();
    assert_eq!(stored.len(), executions.len(), "one row per execution");
    for e in &executions {
        let row = stored
            .iter()
            .find(|r| r.sharding_item == e.item && r.fire_time == e.fire_time && r.fencing_token == e.fencing_token)
            .unwrap_or_else(|| panic!("no row for {e:?}"));
        assert_eq!((row.instance_id.as_str(), row.binding.as_str()), (scheduler.instance_id(), "rust"));
        assert!(!row.hostname.is_empty() && scheduler.instance_id().starts_with(&row.ip), "{row:?}");
        assert_eq!((row.start_time, row.complete_time), (e.started_at, e.finished_at));
        assert_eq!(row.is_success, e.item == 0);
        if e.item == 1 {
            assert_eq!(row.outcome, "FAILED");
            assert!(row.failure_cause.as_deref().unwrap_or_default().contains("item one broke on purpose"), "{row:?}");
        }
    }
    let failed = store
        .executions(&ExecutionQuery { outcome: Some("failed".into()), item: Some(1), ..all() })
        .await
        .unwrap();
    assert_eq!(failed.len(), executions.iter().filter(|e| e.item == 1).count());

    let statuses = store.statuses(&StatusQuery { job_name: Some("traced".into()), ..Default::default() }).await.unwrap();
    let states: Vec<&str> = statuses.iter().map(|s| s.state.as_str()).collect();
    for expected in ["RESHARDED", "TRIGGERED", "DISABLED", "ENABLED", "STOPPED"] {
        assert!(states.contains(&expected), "{expected} missing from {states:?}");
    }
    let rows = stored.len() + statuses.len();
    assert_eq!(stats.written, rows as u64, "{stats:?}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_history_has_a_row_per_execution_and_status_change() {
    let dir = tempfile::tempdir().unwrap();
    records_every_execution(&format!("sqlite://{}", dir.path().join("history.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_history_has_a_row_per_execution_and_status_change() {
    let pg = PgServer::start();
    records_every_execution(&pg.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_down_never_blocks_a_fire_counts_the_loss_and_stores_after_it_returns() {
    let mut pg = PgServer::start();
    let options = HistoryOptions { flush_interval: Duration::from_millis(100), buffer_capacity: 4, ..Default::default() };
    let scheduler = scheduler(&pg.url(), options);
    let mut events = scheduler.events();
    scheduler.start().await.unwrap();
    let before = executions_until(&mut events, Duration::from_secs(20), |seen| seen.len() >= 2).await;
    assert_on_time(&before);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while scheduler.history_stats().unwrap().written == 0 {
        assert!(std::time::Instant::now() < deadline, "nothing written while the database was up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        pg
    })
    .await
    .unwrap();
    // Five seconds of fires while it is down: more than the buffer holds,
    // and longer than a write waits for a connection.
    let during = executions_until(&mut events, Duration::from_secs(20), |seen| seen.len() >= 10).await;
    assert!(during.len() >= 10, "fires went on: {during:?}");
    assert_on_time(&during);
    let stats = scheduler.history_stats().unwrap();
    assert!(stats.dropped > 0 && stats.failed_writes > 0, "{stats:?}");
    assert!(stats.pending <= 4, "the buffer is bounded: {stats:?}");
    assert!(stats.last_error.as_deref().unwrap_or_default().contains(&format!("127.0.0.1:{}", pg.port())), "{stats:?}");

    pg = tokio::task::spawn_blocking(move || {
        pg.restart();
        pg
    })
    .await
    .unwrap();
    let back = chrono::Utc::now().timestamp_millis();
    let after = executions_until(&mut events, Duration::from_secs(20), |seen| seen.len() >= 4).await;
    assert_on_time(&after);
    scheduler.shutdown().await;
    let stats = scheduler.history_stats().unwrap();
    assert_eq!(stats.pending, 0, "{stats:?}");
    assert!(stats.last_error.is_none(), "{stats:?}");

    let store = HistoryStore::open_url(&pg.url()).unwrap();
    let stored_after = store.executions(&ExecutionQuery { since: Some(back), ..all() }).await.unwrap();
    assert!(stored_after.len() >= after.len(), "records after the restart are stored: {stored_after:?}");
    let rows = store.executions(&all()).await.unwrap().len() + store.statuses(&StatusQuery { limit: 100_000, ..Default::default() }).await.unwrap().len();
    assert_eq!(stats.written, rows as u64, "{stats:?}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_never_blocks_a_fire_and_its_loss_is_counted() {
    let url = format!("postgres://ej@127.0.0.1:{}/nothing", closed_port());
    let options = HistoryOptions { flush_interval: Duration::from_millis(50), buffer_capacity: 3, ..Default::default() };
    let scheduler = scheduler(&url, options);
    let mut events = scheduler.events();
    scheduler.start().await.unwrap();
    let executions = executions_until(&mut events, Duration::from_secs(20), |seen| seen.len() >= 6).await;
    assert!(executions.len() >= 6, "fires went on: {executions:?}");
    assert_on_time(&executions);
    let started = std::time::Instant::now();
    scheduler.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(15), "shutdown waited {:?}", started.elapsed());
    let stats = scheduler.history_stats().unwrap();
    assert_eq!(stats.written, 0);
    assert!(stats.dropped >= 3 && stats.pending <= 3 && stats.failed_writes > 0, "{stats:?}");
    assert!(stats.last_error.as_deref().unwrap_or_default().contains("execution history"), "{stats:?}");
}

#[test]
fn a_bad_history_url_fails_the_build_naming_the_field() {
    let job = Job::from_fn(|_| async { Ok(()) });
    let error = JobScheduler::builder(RegistryCenter::embedded("history-bad-url"), JobConfig::new("j", "* * * * * ?", 1), job)
        .history("mysql://root:hunter2@db/x")
        .build()
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("history") && error.contains("mysql://root:***@db/x") && !error.contains("hunter2"), "{error}");
}

fn status(job: &str, state: StatusState, at: i64) -> HistoryRecord {
    let mut record = StatusRecord::new(job, "10.0.0.1@-@1", state, &[0], "m");
    record.creation_time = at;
    HistoryRecord::Status(record)
}

fn execution(job: &str, item: u32, at: i64, outcome: Outcome) -> HistoryRecord {
    let mut execution = Execution::new(job, item, at, &format!("10.0.0.{item}@-@1"), outcome);
    execution.fencing_token = at;
    execution.finished_at = at + 5;
    HistoryRecord::Execution(elasticjob::trace::ExecutionRecord::from_execution(&execution, "rust"))
}

/// Retention and queries straight on a store.
async fn retention_and_queries(store: &HistoryStore) {
    let now = chrono::Utc::now().timestamp_millis();
    let hour = 3_600_000;
    let mut records = Vec::new();
    for n in 0..10 {
        records.push(execution("a", n % 2, now - (10 - i64::from(n)) * 1000, if n % 2 == 0 { Outcome::Succeeded } else { Outcome::Failed("x".into()) }));
    }
    records.push(execution("b", 0, now - 3 * hour, Outcome::Succeeded));
    records.push(status("a", StatusState::Misfired, now - 3 * hour));
    records.push(status("a", StatusState::Triggered, now));
    store.insert(&records).await.unwrap();

    let page = store.executions(&ExecutionQuery { job_name: Some("a".into()), limit: 3, offset: 2, ..Default::default() }).await.unwrap();
    let times: Vec<i64> = page.iter().map(|r| r.start_time).collect();
    assert_eq!(times, vec![now - 3000, now - 4000, now - 5000], "newest first, paged");
    let item1 = store.executions(&ExecutionQuery { item: Some(1), instance_id: Some("10.0.0.1@-@1".into()), ..all() }).await.unwrap();
    assert_eq!(item1.len(), 5);
    let window = store.executions(&ExecutionQuery { since: Some(now - 5000), until: Some(now - 2000), ..all() }).await.unwrap();
    assert_eq!(window.len(), 3);

    let retention = Retention { max_age: Some(Duration::from_secs(3600)), max_rows: Some(4), interval: Duration::from_secs(1) };
    let deleted = store.purge(&retention, now).await.unwrap();
    // By age: b's run and the misfire. By count: 10 runs of a, newest 4 kept.
    assert_eq!(deleted, 2 + 6);
    let kept = store.executions(&all()).await.unwrap();
    assert_eq!(kept.iter().map(|r| r.start_time).collect::<Vec<_>>(), vec![now - 1000, now - 2000, now - 3000, now - 4000]);
    let statuses = store.statuses(&StatusQuery::default()).await.unwrap();
    assert_eq!(statuses.iter().map(|s| s.state.as_str()).collect::<Vec<_>>(), vec!["TRIGGERED"]);

    // A run's output (a script's) in its own nullable column.
    let HistoryRecord::Execution(mut printed) = execution("c", 0, now, Outcome::Failed("exit 2".into())) else { unreachable!() };
    let output = "--- stdout ---\nline one\nline two\n--- stderr ---\nbad";
    printed.output = Some(output.into());
    store.insert(&[HistoryRecord::Execution(printed)]).await.unwrap();
    let rows = store.executions(&all()).await.unwrap();
    let outputs: Vec<(&str, Option<&str>)> = rows.iter().map(|r| (r.job_name.as_str(), r.output.as_deref())).collect();
    assert_eq!(outputs, vec![("c", Some(output)), ("a", None), ("a", None), ("a", None), ("a", None)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_retention_by_age_and_count_and_filtered_paged_queries() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::open_url(&format!("sqlite://{}", dir.path().join("h.db").display())).unwrap();
    retention_and_queries(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_retention_by_age_and_count_and_filtered_paged_queries() {
    let pg = PgServer::start();
    let store = HistoryStore::open_url(&pg.url()).unwrap();
    retention_and_queries(&store).await;
    store.close().await;
}

/// A script job's output reaches its execution event and its row; its
/// failure stays one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_s_output_is_in_its_execution_and_its_history_row() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("script.db").display());
    let mut config = JobConfig::new("printing", "", 2);
    config.props.insert(
        "script.command.line".into(),
        "sh -c 'echo \"printed by $0\"; case \"$1\" in *\"shardingItem\\\":1,\"*) echo failing >&2; exit 3;; esac' script".into(),
    );
    let scheduler = JobScheduler::builder(RegistryCenter::embedded("history-script"), config, Job::script())
        .history(&url)
        .build()
        .unwrap();
    let mut events = scheduler.events();
    scheduler.start().await.unwrap();
    scheduler.trigger().await.unwrap();
    let mut runs = executions_until(&mut events, Duration::from_secs(20), |seen| seen.len() >= 2).await;
    scheduler.shutdown().await;
    runs.sort_by_key(|e| e.item);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!((&runs[0].outcome, runs[0].output.as_deref()), (&Outcome::Succeeded, Some("--- stdout ---\nprinted by script")));
    let Outcome::Failed(why) = &runs[1].outcome else { panic!("{runs:?}") };
    assert!(why.ends_with("exit status: 3: failing") && !why.contains('\n'), "{why}");
    assert_eq!(runs[1].output.as_deref(), Some("--- stdout ---\nprinted by script\n--- stderr ---\nfailing"));

    let store = HistoryStore::open_url(&url).unwrap();
    let mut rows = store.executions(&all()).await.unwrap();
    rows.sort_by_key(|r| r.sharding_item);
    let stored: Vec<Option<&str>> = rows.iter().map(|r| r.output.as_deref()).collect();
    assert_eq!(stored, runs.iter().map(|e| e.output.as_deref()).collect::<Vec<_>>());
    assert_eq!(rows[1].failure_cause.as_deref(), Some(why.as_str()));
}

/// A survivor that takes over a crashed instance's item records the take-over
/// and the failover run (embedded registry: its sessions can be expired at will).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_take_over_and_its_run_are_recorded() {
    let server = elasticjob::EmbeddedServer::new();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("failover.db").display());
    let mut config = JobConfig::new("taken", "0/3 * * * * ?", 2);
    config.failover = true;
    let survivor_job = Job::from_fn(|_| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    });
    let survivor = JobScheduler::builder(RegistryCenter::embedded_on(&server, "history-failover"), config.clone(), survivor_job)
        .instance_id("127.0.0.1@-@survivor")
        .history(&url)
        .build()
        .unwrap();
    survivor.start().await.unwrap();
    let started = std::sync::Arc::new(tokio::sync::Notify::new());
    let notify = started.clone();
    let victim_job = Job::from_fn(move |_| {
        let notify = notify.clone();
        async move {
            notify.notify_one();
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    let victim_center = RegistryCenter::embedded_on(&server, "history-failover");
    let victim = JobScheduler::builder(victim_center.clone(), config, victim_job)
        .instance_id("127.0.0.1@-@victim")
        .shutdown_timeout(Duration::from_millis(10))
        .build()
        .unwrap();
    victim.start().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), started.notified()).await.expect("the victim started an item");
    server.expire(victim_center.session().await.unwrap().session_id());
    drop(victim);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    survivor.shutdown().await;

    let store = HistoryStore::open_url(&url).unwrap();
    let taken = store.statuses(&StatusQuery { state: Some("FAILOVER_TAKEN".into()), ..Default::default() }).await.unwrap();
    assert!(!taken.is_empty(), "the take-over is recorded");
    let failover_runs: Vec<_> = store.executions(&all()).await.unwrap().into_iter().filter(|r| r.failover).collect();
    assert!(!failover_runs.is_empty(), "the failover run is recorded");
    for run in &failover_runs {
        assert_eq!((run.execution_source.as_str(), run.instance_id.as_str()), ("FAILOVER", "127.0.0.1@-@survivor"));
        assert!(taken.iter().any(|t| t.sharding_item.split(',').any(|i| i == run.sharding_item.to_string())), "{taken:?} {run:?}");
    }
}
