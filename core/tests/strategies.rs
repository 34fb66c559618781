//! User sharding strategies on a real ZooKeeper server: the registered
//! strategy decides who runs what across schedulers; a wrong answer, or a
//! leader that lacks the strategy, is reported and never applied.

use elasticjob::registry::ZookeeperOptions;
use elasticjob::{Assignment, HandlerError, Job, JobConfig, JobEvent, JobScheduler, RegistryCenter};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use zk_harness::ZkServer;

/// (item, instance) of every run.
type Runs = Arc<Mutex<Vec<(u32, String)>>>;

fn center(namespace: &str) -> RegistryCenter {
    static SERVER: OnceLock<ZkServer> = OnceLock::new();
    let connect = SERVER.get_or_init(ZkServer::start).connect_string();
    RegistryCenter::zookeeper(ZookeeperOptions::new(connect, namespace).session_timeout(Duration::from_millis(1500)))
}

fn namespace() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("strategy-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst))
}

fn recording_job(runs: &Runs, name: &str) -> Job {
    let (runs, name) = (runs.clone(), name.to_string());
    Job::from_fn(move |ctx| {
        runs.lock().unwrap().push((ctx.sharding_item, name.clone()));
        async { Ok(()) }
    })
}

/// Every item to the instance whose id ends in `-1`: no built-in strategy
/// would ever give all items of a three-instance job to the middle one.
fn all_to_one(instances: &[String], total: u32, _job: &str) -> Result<Assignment, HandlerError> {
    let chosen = instances.iter().find(|id| id.ends_with("-1")).ok_or("no instance ending in -1")?;
    Ok(BTreeMap::from([(chosen.clone(), (0..total).collect())]))
}

/// Gives item 0 twice: must be refused.
fn twice(instances: &[String], _total: u32, _job: &str) -> Result<Assignment, HandlerError> {
    Ok(instances.iter().map(|id| (id.clone(), vec![0, 0])).collect())
}

fn config(strategy: &str) -> JobConfig {
    let mut config = JobConfig::new("custom", "* * * * * ?", 4);
    config.job_sharding_strategy_type = Some(strategy.to_string());
    config.overwrite = true;
    config
}

/// Error events of a scheduler, gathered in the background.
fn errors_of(scheduler: &JobScheduler) -> Arc<Mutex<Vec<String>>> {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let (mut events, sink) = (scheduler.events(), errors.clone());
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let JobEvent::Error(message) = event {
                sink.lock().unwrap().push(message);
            }
        }
    });
    errors
}

async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_strategy_decides_the_assignment_across_schedulers() {
    let ns = namespace();
    let runs: Runs = Default::default();
    let mut schedulers = Vec::new();
    for n in 0..3 {
        let id = format!("127.0.0.1@-@worker-{n}");
        let scheduler = JobScheduler::builder(center(&ns), config("ALL_TO_ONE"), recording_job(&runs, &id))
            .instance_id(&id)
            .sharding_strategy("ALL_TO_ONE", all_to_one)
            .build()
            .unwrap();
        scheduler.start().await.unwrap();
        schedulers.push(scheduler);
    }
    // Once all three are in, every item runs on worker-1 only.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    runs.lock().unwrap().clear();
    wait_until("every item ran", || runs.lock().unwrap().iter().map(|r| r.0).collect::<BTreeSet<_>>().len() == 4).await;
    for scheduler in &schedulers {
        scheduler.shutdown().await;
    }
    let runners: BTreeSet<String> = runs.lock().unwrap().iter().map(|r| r.1.clone()).collect();
    assert_eq!(runners, BTreeSet::from(["127.0.0.1@-@worker-1".to_string()]), "{:?}", runs.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_answer_is_reported_and_nothing_runs() {
    let ns = namespace();
    let runs: Runs = Default::default();
    let id = "127.0.0.1@-@alone";
    let scheduler = JobScheduler::builder(center(&ns), config("TWICE"), recording_job(&runs, id))
        .instance_id(id)
        .sharding_strategy("TWICE", twice)
        .build()
        .unwrap();
    let errors = errors_of(&scheduler);
    scheduler.start().await.unwrap();
    wait_until("the refusal was reported", || {
        errors.lock().unwrap().iter().any(|e| e.contains("sharding strategy `TWICE`") && e.contains("item 0 twice"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    scheduler.shutdown().await;
    assert!(runs.lock().unwrap().is_empty(), "a refused assignment runs nothing: {:?}", runs.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_without_the_strategy_reports_it_and_a_leader_with_it_reshards() {
    let ns = namespace();
    let runs: Runs = Default::default();
    // The first instance leads with the default strategy and knows no other.
    let plain = "127.0.0.1@-@plain";
    let leader = JobScheduler::builder(center(&ns), config("AVG_ALLOCATION"), recording_job(&runs, plain))
        .instance_id(plain)
        .build()
        .unwrap();
    let leader_errors = errors_of(&leader);
    leader.start().await.unwrap();
    wait_until("the first leader ran items", || !runs.lock().unwrap().is_empty()).await;
    // The second overwrites the configuration with a strategy the leader
    // lacks (a configuration change alone does not reshard, as in Java).
    let knowing = "127.0.0.1@-@worker-1";
    let follower = JobScheduler::builder(center(&ns), config("ALL_TO_ONE"), recording_job(&runs, knowing))
        .instance_id(knowing)
        .sharding_strategy("ALL_TO_ONE", all_to_one)
        .build()
        .unwrap();
    follower.start().await.unwrap();
    wait_until("the leader read the new type", || leader.config().sharding_strategy_type() == "ALL_TO_ONE").await;
    // A third joins: the leader must reshard, and cannot.
    let third = "127.0.0.1@-@worker-2";
    let joining = JobScheduler::builder(center(&ns), config("ALL_TO_ONE"), recording_job(&runs, third))
        .instance_id(third)
        .sharding_strategy("ALL_TO_ONE", all_to_one)
        .build()
        .unwrap();
    joining.start().await.unwrap();
    wait_until("the leader reported the missing strategy", || {
        leader_errors.lock().unwrap().iter().any(|e| e.contains("`ALL_TO_ONE`") && e.contains("nor registered in this instance"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        !runs.lock().unwrap().iter().any(|r| r.1 == third),
        "the joining instance got nothing while the leader could not reshard"
    );
    // The leader leaves: the one with the strategy leads and applies it.
    leader.shutdown().await;
    wait_until("the new leader's strategy runs every item on it", || {
        runs.lock().unwrap().iter().filter(|r| r.1 == knowing).map(|r| r.0).collect::<BTreeSet<_>>().len() == 4
    })
    .await;
    follower.shutdown().await;
    joining.shutdown().await;
}

#[test]
fn a_built_in_name_or_an_unknown_type_fails_the_build() {
    let job = || Job::from_fn(|_| async { Ok(()) });
    let memory = elasticjob::EmbeddedServer::new();
    let err = JobScheduler::builder(RegistryCenter::embedded_on(&memory, "ns"), config("ODEVITY"), job())
        .sharding_strategy("ODEVITY", all_to_one)
        .build()
        .err()
        .expect("a built-in name cannot be taken");
    assert!(err.to_string().contains("jobShardingStrategyType") && err.to_string().contains("ODEVITY"), "{err}");
    let err = JobScheduler::builder(RegistryCenter::embedded_on(&memory, "ns"), config("ALL_TO_ONE_TYPO"), job())
        .sharding_strategy("ALL_TO_ONE", all_to_one)
        .build()
        .err()
        .expect("an unknown type fails the build");
    assert!(err.to_string().contains("jobShardingStrategyType") && err.to_string().contains("ALL_TO_ONE_TYPO"), "{err}");
    JobScheduler::builder(RegistryCenter::embedded_on(&memory, "ns"), config("SINGLE_SHARDING_BALANCE"), job()).build().unwrap();
}

/// SINGLE_SHARDING_BALANCE with one item: after every run the item moves on
/// to the next instance in ElasticJob's order (Java's
/// `SingleShardingJobFacade`), here through the owner node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sharding_balance_moves_the_item_on_after_every_run() {
    let ns = namespace();
    let fires: Arc<Mutex<Vec<(i64, String)>>> = Default::default();
    let mut config = JobConfig::new("balanced", "* * * * * ?", 1);
    config.job_sharding_strategy_type = Some("SINGLE_SHARDING_BALANCE".into());
    let ids = ["10.0.0.1@-@a", "10.0.0.2@-@b", "10.0.0.3@-@c"];
    let mut schedulers = Vec::new();
    for id in ids {
        let (fires, name) = (fires.clone(), id.to_string());
        let job = Job::from_fn(move |ctx| {
            fires.lock().unwrap().push((ctx.fire_time, name.clone()));
            async { Ok(()) }
        });
        let scheduler = JobScheduler::builder(center(&ns), config.clone(), job).instance_id(id).build().unwrap();
        scheduler.start().await.unwrap();
        schedulers.push(scheduler);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    fires.lock().unwrap().clear();
    wait_until("five fires ran", || fires.lock().unwrap().len() >= 5).await;
    for scheduler in &schedulers {
        scheduler.shutdown().await;
    }
    let mut runs = fires.lock().unwrap().clone();
    runs.sort();
    // ElasticJob's order is reverse-sorted: c, b, a; each run hands on to the next.
    let available: Vec<String> = ids.iter().rev().map(|s| s.to_string()).collect();
    for pair in runs.windows(2) {
        let ip = pair[0].1.split("@-@").next().unwrap();
        let expected = elasticjob::sharding::balance::next_after(&available, ip).unwrap();
        assert_eq!(&pair[1].1, expected, "after {} ran, the next fire belongs to the next instance: {runs:?}", pair[0].1);
        assert!(pair[1].0 > pair[0].0, "one run per fire: {runs:?}");
    }
}
