//! One-off jobs and `monitorExecution: false`, with several schedulers on a
//! real ZooKeeper.

use elasticjob::registry::ZookeeperOptions;
use elasticjob::{Job, JobConfig, JobEvent, JobScheduler, RegistryCenter};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use zk_harness::ZkServer;

fn zookeeper() -> String {
    static SERVER: OnceLock<ZkServer> = OnceLock::new();
    SERVER.get_or_init(ZkServer::start).connect_string()
}

static NAMESPACE: AtomicUsize = AtomicUsize::new(0);

fn namespace() -> String {
    format!("options-{}-{}", std::process::id(), NAMESPACE.fetch_add(1, Ordering::SeqCst))
}

fn center(namespace: &str) -> RegistryCenter {
    RegistryCenter::zookeeper(
        ZookeeperOptions::new(zookeeper(), namespace).session_timeout(Duration::from_millis(1500)),
    )
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// (item, fire time, instance, started at) of every run.
type Runs = Arc<Mutex<Vec<(u32, i64, String, i64)>>>;

fn recording_job(runs: &Runs, instance: &str, sleep: Duration) -> Job {
    let runs = runs.clone();
    let instance = instance.to_string();
    Job::from_fn(move |ctx| {
        let runs = runs.clone();
        let instance = instance.clone();
        async move {
            let started = now();
            tokio::time::sleep(sleep).await;
            runs.lock().unwrap().push((ctx.sharding_item, ctx.fire_time, instance, started));
            Ok(())
        }
    })
}

async fn start(builder: fn(RegistryCenter, JobConfig, Job) -> elasticjob::JobSchedulerBuilder, ns: &str, config: &JobConfig, n: usize, runs: &Runs, sleep: Duration) -> JobScheduler {
    let instance = format!("127.0.0.1@-@options-{n}");
    let scheduler = builder(center(ns), config.clone(), recording_job(runs, &instance, sleep))
        .instance_id(instance)
        .build()
        .unwrap();
    scheduler.start().await.unwrap();
    scheduler
}

async fn wait_for_runs(runs: &Runs, count: usize) {
    for _ in 0..100 {
        if runs.lock().unwrap().len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("only {} runs of {count}: {:?}", runs.lock().unwrap().len(), runs.lock().unwrap());
}

fn per_item(runs: &Runs) -> BTreeMap<u32, usize> {
    runs.lock().unwrap().iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.0).or_default() += 1;
        m
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_off_job_runs_every_instances_items_once_per_execute_and_never_by_itself() {
    let ns = namespace();
    let runs: Runs = Default::default();
    let config = JobConfig::new("once-off", "", 4);
    let a = start(JobScheduler::one_off, &ns, &config, 0, &runs, Duration::from_millis(50)).await;
    let b = start(JobScheduler::one_off, &ns, &config, 1, &runs, Duration::from_millis(50)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(runs.lock().unwrap().is_empty(), "nothing runs before execute()");
    a.execute().await.unwrap();
    wait_for_runs(&runs, 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(per_item(&runs), (0..4).map(|i| (i, 1)).collect(), "one execute: every item once, cluster-wide");
    let instances: std::collections::BTreeSet<String> = runs.lock().unwrap().iter().map(|r| r.2.clone()).collect();
    assert_eq!(instances.len(), 2, "both instances ran their own items: {:?}", runs.lock().unwrap());
    b.execute().await.unwrap();
    wait_for_runs(&runs, 8).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(per_item(&runs), (0..4).map(|i| (i, 2)).collect(), "a second execute (from the other instance) runs them once more");
    a.shutdown().await;
    b.shutdown().await;
    let rejected = JobScheduler::one_off(center(&ns), JobConfig::new("once-off", "* * * * * ?", 4), Job::from_fn(|_| async { Ok(()) }))
        .build()
        .err()
        .expect("a cron on a one-off job is rejected");
    let message = rejected.to_string();
    assert!(message.contains("cron") && message.contains("* * * * * ?") && message.contains("one-off"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_monitor_execution_no_running_marks_appear_and_every_item_runs_once_per_fire() {
    let ns = namespace();
    let runs: Runs = Default::default();
    let mut config = JobConfig::new("unmonitored", "* * * * * ?", 4);
    config.monitor_execution = false;
    let a = start(JobScheduler::builder, &ns, &config, 0, &runs, Duration::from_millis(300)).await;
    let b = start(JobScheduler::builder, &ns, &config, 1, &runs, Duration::from_millis(300)).await;
    let observer = center(&ns).session().await.unwrap();
    let running: Vec<String> = (0..4).map(|i| format!("/unmonitored/sharding/{i}/running")).collect();
    let until = now() + 5000;
    let mut looks = 0;
    while now() < until {
        let marks = observer.get_many(&running).await.unwrap();
        assert!(marks.iter().all(Option::is_none), "a running mark appeared: {marks:?}");
        looks += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.shutdown().await;
    b.shutdown().await;
    assert!(looks > 50);
    let mut fires: BTreeMap<i64, BTreeMap<u32, usize>> = BTreeMap::new();
    for (item, fire, _, _) in runs.lock().unwrap().iter() {
        *fires.entry(*fire).or_default().entry(*item).or_default() += 1;
    }
    for (fire, counts) in &fires {
        assert!(counts.values().all(|&c| c == 1), "fire {fire} ran an item twice: {counts:?}");
    }
    let whole = fires.values().filter(|counts| counts.len() == 4).count();
    assert!(whole >= 3, "every item ran in most fires: {fires:?}");
    let instances: std::collections::BTreeSet<String> = runs.lock().unwrap().iter().map(|r| r.2.clone()).collect();
    assert_eq!(instances.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_monitor_execution_a_busy_item_skips_fires_instead_of_misfiring() {
    let ns = namespace();
    let runs: Runs = Default::default();
    let mut config = JobConfig::new("no-misfire", "* * * * * ?", 1);
    config.monitor_execution = false;
    let scheduler = start(JobScheduler::builder, &ns, &config, 0, &runs, Duration::from_millis(2300)).await;
    let mut events = scheduler.events();
    tokio::time::sleep(Duration::from_millis(6500)).await;
    scheduler.shutdown().await;
    while let Ok(event) = events.try_recv() {
        assert!(!matches!(event, JobEvent::Misfired { .. }), "no misfire without monitorExecution: {event:?}");
    }
    let observer = center(&ns).session().await.unwrap();
    assert!(observer.exists("/no-misfire/sharding/0/misfire").await.unwrap().is_none());
    let runs = runs.lock().unwrap().clone();
    assert!(runs.len() >= 2, "{runs:?}");
    // Each run started at its own fire: none is a late re-run of a fire that came while it was busy.
    assert!(runs.iter().all(|(_, fire, _, started)| started - fire < 500), "{runs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_without_monitor_execution_is_rejected_naming_both() {
    let mut config = JobConfig::new("both", "* * * * * ?", 1);
    config.monitor_execution = false;
    config.failover = true;
    let error = JobScheduler::builder(center(&namespace()), config, Job::from_fn(|_| async { Ok(()) })).build().err().unwrap();
    let message = error.to_string();
    assert!(message.contains("monitorExecution `false`") && message.contains("failover"), "{message}");
}
