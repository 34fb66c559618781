//! Scheduling behaviour with several instances in one process. Every test
//! runs on the embedded registry and again on a real ZooKeeper server
//! (started by the harness), so both backends drive the same scheduler.

use elasticjob::paths::JobPaths;
use elasticjob::registry::{CreateMode, Op, Registry, ZookeeperOptions};
use elasticjob::{
    Job, JobConfig, JobEvent, JobOperator, JobScheduler, EmbeddedServer, Outcome, PauseNote, RegistryCenter,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use zk_harness::ZkServer;

/// (item, fire time, instance) of every completed run.
type Runs = Arc<Mutex<Vec<(u32, i64, String)>>>;

/// Where the instances of one test meet.
#[derive(Clone)]
enum Cluster {
    Embedded(EmbeddedServer),
    Zookeeper(String),
}

static NAMESPACE: AtomicUsize = AtomicUsize::new(0);

impl Cluster {
    fn center(&self, namespace: &str) -> RegistryCenter {
        match self {
            Cluster::Embedded(server) => RegistryCenter::embedded_on(server, namespace),
            Cluster::Zookeeper(connect) => RegistryCenter::zookeeper(
                ZookeeperOptions::new(connect.clone(), namespace).session_timeout(Duration::from_millis(1500)),
            ),
        }
    }
}

fn zookeeper() -> Cluster {
    static SERVER: OnceLock<ZkServer> = OnceLock::new();
    Cluster::Zookeeper(SERVER.get_or_init(ZkServer::start).connect_string())
}

fn namespace() -> String {
    format!("sched-{}-{}", std::process::id(), NAMESPACE.fetch_add(1, Ordering::SeqCst))
}

fn recording_job(runs: &Runs, name: &str, sleep: Duration) -> Job {
    let runs = runs.clone();
    let name = name.to_string();
    Job::from_fn(move |ctx| {
        let runs = runs.clone();
        let name = name.clone();
        async move {
            tokio::time::sleep(sleep).await;
            runs.lock().unwrap().push((ctx.sharding_item, ctx.fire_time, name));
            Ok(())
        }
    })
}

async fn start(cluster: &Cluster, ns: &str, config: &JobConfig, n: usize, runs: &Runs, sleep: Duration) -> JobScheduler {
    let name = format!("127.0.0.1@-@test-{n}");
    let scheduler = JobScheduler::builder(cluster.center(ns), config.clone(), recording_job(runs, &name, sleep))
        .instance_id(name)
        .build()
        .unwrap();
    scheduler.start().await.unwrap();
    scheduler
}

/// Per fire: how many times each item ran.
fn by_fire(runs: &Runs) -> BTreeMap<i64, BTreeMap<u32, usize>> {
    let mut fires: BTreeMap<i64, BTreeMap<u32, usize>> = BTreeMap::new();
    for (item, fire, _) in runs.lock().unwrap().iter() {
        *fires.entry(*fire).or_default().entry(*item).or_default() += 1;
    }
    fires
}

/// Fires (other than the first and last, which may be partial) in which every item ran exactly once.
fn assert_exactly_once(runs: &Runs, items: u32, min_fires: usize) {
    let fires = by_fire(runs);
    let inner: Vec<_> = fires.iter().skip(1).take(fires.len().saturating_sub(2)).collect();
    assert!(inner.len() >= min_fires, "only {} complete fires: {fires:?}", inner.len());
    for (fire, counts) in inner {
        let expected: BTreeMap<u32, usize> = (0..items).map(|i| (i, 1)).collect();
        assert_eq!(counts, &expected, "fire {fire} did not run every item exactly once");
    }
    for (fire, counts) in &fires {
        assert!(counts.values().all(|&c| c == 1), "duplicate in fire {fire}: {counts:?}");
    }
}

async fn items_share_exactly_once(cluster: Cluster) {
    let ns = namespace();
    let runs: Runs = Default::default();
    let config = JobConfig::new("share", "* * * * * ?", 10);
    let mut instances = Vec::new();
    for n in 0..3 {
        instances.push(start(&cluster, &ns, &config, n, &runs, Duration::from_millis(50)).await);
    }
    tokio::time::sleep(Duration::from_millis(5500)).await;
    for s in &instances {
        s.shutdown().await;
    }
    assert_exactly_once(&runs, 10, 3);
    let instances_used: BTreeSet<String> = runs.lock().unwrap().iter().map(|r| r.2.clone()).collect();
    assert_eq!(instances_used.len(), 3, "every instance got items");
}

async fn a_joining_instance_gets_items_and_a_leaving_one_hands_them_over(cluster: Cluster) {
    let ns = namespace();
    let runs: Runs = Default::default();
    let config = JobConfig::new("elastic", "* * * * * ?", 4);
    let first = start(&cluster, &ns, &config, 0, &runs, Duration::from_millis(20)).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let second = start(&cluster, &ns, &config, 1, &runs, Duration::from_millis(20)).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let joined_at = runs.lock().unwrap().iter().filter(|r| r.2.ends_with("test-1")).map(|r| r.1).min();
    assert!(joined_at.is_some(), "the joining instance ran nothing: {:?}", runs.lock().unwrap());
    second.shutdown().await;
    let left = chrono_now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    first.shutdown().await;
    let after: Vec<_> = runs.lock().unwrap().iter().filter(|r| r.1 > left + 1000).cloned().collect();
    assert!(after.iter().all(|r| r.2.ends_with("test-0")), "{after:?}");
    let items: BTreeSet<u32> = after.iter().map(|r| r.0).collect();
    assert_eq!(items, (0..4).collect(), "the remaining instance runs every item after the leave");
    for (fire, counts) in by_fire(&runs) {
        assert!(counts.values().all(|&c| c == 1), "duplicate in fire {fire}: {counts:?}");
    }
}

async fn a_panicking_handler_fails_one_item_only(cluster: Cluster) {
    let ns = namespace();
    let runs: Runs = Default::default();
    let config = JobConfig::new("panics", "* * * * * ?", 3);
    let recorded = runs.clone();
    let job = Job::from_fn(move |ctx| {
        let runs = recorded.clone();
        async move {
            if ctx.sharding_item == 1 {
                panic!("boom in item 1");
            }
            if ctx.sharding_item == 2 {
                return Err("item 2 says no".into());
            }
            runs.lock().unwrap().push((ctx.sharding_item, ctx.fire_time, "x".into()));
            Ok(())
        }
    });
    let scheduler = JobScheduler::builder(cluster.center(&ns), config, job).build().unwrap();
    let mut events = scheduler.events();
    scheduler.start().await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    scheduler.shutdown().await;
    let mut failures = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let JobEvent::Executed(e) = event {
            if let Outcome::Failed(message) = e.outcome {
                failures.push((e.item, message));
            }
        }
    }
    assert!(failures.iter().any(|(i, m)| *i == 1 && m.contains("boom in item 1")), "{failures:?}");
    assert!(failures.iter().any(|(i, m)| *i == 2 && m.contains("item 2 says no")), "{failures:?}");
    let fires_of_item_0 = runs.lock().unwrap().iter().filter(|r| r.0 == 0).count();
    assert!(fires_of_item_0 >= 3, "later fires still run item 0: {fires_of_item_0}");
}

async fn a_long_run_misfires_and_reruns_once(cluster: Cluster) {
    let ns = namespace();
    let runs: Runs = Default::default();
    let config = JobConfig::new("misfire", "* * * * * ?", 1);
    let scheduler = start(&cluster, &ns, &config, 0, &runs, Duration::from_millis(2300)).await;
    let mut events = scheduler.events();
    tokio::time::sleep(Duration::from_millis(6000)).await;
    scheduler.shutdown().await;
    let mut misfired = 0;
    while let Ok(event) = events.try_recv() {
        if let JobEvent::Misfired { .. } = event {
            misfired += 1;
        }
    }
    assert!(misfired >= 2, "fires during the long run were marked as misfires");
    let runs = runs.lock().unwrap().clone();
    // A 2.3 s run with fires every second: each run is followed by exactly
    // one re-run for the misfires it caused, never one per missed fire.
    assert!(runs.len() >= 2 && runs.len() <= 3, "{runs:?}");
    let fires: BTreeSet<i64> = runs.iter().map(|r| r.1).collect();
    assert_eq!(fires.len(), runs.len(), "each run belongs to a different fire: {runs:?}");
}

/// `startAt` / `endAt`: two instances run every fire in `[start, end)`
/// once per item, none before the start, none from the end on, and an
/// operator's change of `endAt` in the registry takes effect at once.
async fn a_schedule_fires_only_between_start_and_end(cluster: Cluster) {
    let ns = namespace();
    let runs: Runs = Default::default();
    let rfc3339 = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339();
    let start_at = (chrono_now() / 1000 + 3) * 1000;
    let mut config = JobConfig::new("bounded", "* * * * * ?", 2);
    config.props.insert("startAt".into(), rfc3339(start_at));
    config.props.insert("endAt".into(), rfc3339(start_at + 60_000));
    let instances = vec![
        start(&cluster, &ns, &config, 0, &runs, Duration::from_millis(20)).await,
        start(&cluster, &ns, &config, 1, &runs, Duration::from_millis(20)).await,
    ];
    // The end moves to 3 s after the start, before the start comes.
    let end_at = start_at + 3000;
    let operator = elasticjob::JobOperator::new(cluster.center(&ns));
    let mut changed = operator.config("bounded").await.unwrap();
    changed.props.insert("endAt".into(), rfc3339(end_at));
    operator.update_config(&changed).await.unwrap();
    tokio::time::sleep(Duration::from_millis((end_at + 2500 - chrono_now()).max(0) as u64)).await;
    for s in &instances {
        s.shutdown().await;
    }
    let fires = by_fire(&runs);
    let expected: BTreeMap<i64, BTreeMap<u32, usize>> =
        [start_at, start_at + 1000, start_at + 2000].into_iter().map(|f| (f, BTreeMap::from([(0, 1), (1, 1)]))).collect();
    assert_eq!(fires, expected, "every item once per fire in [start, end), nothing else");
}

/// `maxFires` with `startAt`: the cron fires exactly that many times,
/// counted from the start alike on both instances, then never again.
async fn max_fires_ends_the_schedule_after_that_many_fires(cluster: Cluster) {
    let ns = namespace();
    let runs: Runs = Default::default();
    let start_at = (chrono_now() / 1000 + 2) * 1000;
    let mut config = JobConfig::new("limited", "* * * * * ?", 2);
    config.props.insert("startAt".into(), chrono::DateTime::from_timestamp_millis(start_at).unwrap().to_rfc3339());
    config.props.insert("maxFires".into(), "2".into());
    let instances = vec![
        start(&cluster, &ns, &config, 0, &runs, Duration::from_millis(20)).await,
        start(&cluster, &ns, &config, 1, &runs, Duration::from_millis(20)).await,
    ];
    tokio::time::sleep(Duration::from_millis((start_at + 4500 - chrono_now()).max(0) as u64)).await;
    for s in &instances {
        s.shutdown().await;
    }
    let expected: BTreeMap<i64, BTreeMap<u32, usize>> =
        [start_at, start_at + 1000].into_iter().map(|f| (f, BTreeMap::from([(0, 1), (1, 1)]))).collect();
    assert_eq!(by_fire(&runs), expected, "two fires from the start, each item once, then none");
}

/// Retries: item 0 fails its first two attempts at every fire, item 1
/// fails every attempt; with 3 attempts and waits of 300 ms then 600 ms,
/// item 0 succeeds at its third attempt and item 1 stops after its third,
/// each attempt carrying the fire's time and its number.
async fn failed_runs_are_retried_with_backoff(cluster: Cluster) {
    let ns = namespace();
    let mut config = JobConfig::new("retried", "0/4 * * * * ?", 2);
    config.props.insert("retryMaxAttempts".into(), "3".into());
    config.props.insert("retryInitialIntervalMillis".into(), "300".into());
    config.props.insert("retryBackoffCoefficient".into(), "2".into());
    // (item, fire, attempt, started at) of every run.
    let runs: Arc<Mutex<Vec<(u32, i64, u32, i64)>>> = Default::default();
    let job = {
        let runs = runs.clone();
        Job::from_fn(move |ctx| {
            let runs = runs.clone();
            async move {
                runs.lock().unwrap().push((ctx.sharding_item, ctx.fire_time, ctx.attempt, chrono_now()));
                if ctx.sharding_item == 1 || ctx.attempt < 3 {
                    return Err(format!("attempt {} fails", ctx.attempt).into());
                }
                Ok(())
            }
        })
    };
    let scheduler = JobScheduler::builder(cluster.center(&ns), config, job).build().unwrap();
    let mut events = scheduler.events();
    scheduler.start().await.unwrap();
    // The first fire is at most 4 s away, its retries 0.9 s after it.
    for _ in 0..200 {
        if runs.lock().unwrap().iter().any(|r| r.2 == 3 && r.0 == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    scheduler.shutdown().await;
    let runs = runs.lock().unwrap().clone();
    let fire = runs.iter().map(|r| r.1).min().unwrap();
    for item in [0, 1] {
        let attempts: Vec<&(u32, i64, u32, i64)> = runs.iter().filter(|r| r.0 == item && r.1 == fire).collect();
        assert_eq!(attempts.iter().map(|r| r.2).collect::<Vec<_>>(), vec![1, 2, 3], "item {item}: {runs:?}");
        let waits: Vec<i64> = attempts.windows(2).map(|w| w[1].3 - w[0].3).collect();
        assert!(waits[0] >= 300 && waits[0] < 700, "first wait {waits:?}");
        assert!(waits[1] >= 600 && waits[1] < 1000, "second wait {waits:?}");
    }
    let mut failed_attempts = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let JobEvent::Executed(e) = event {
            if e.fire_time == fire && !e.outcome.is_success() {
                failed_attempts.push((e.item, e.attempt));
            }
        }
    }
    failed_attempts.sort();
    assert_eq!(failed_attempts, vec![(0, 1), (0, 2), (1, 1), (1, 2), (1, 3)], "the execution records carry the attempt");
}

/// Cron fires are reserved ahead and released at their instant: no
/// handler starts before its fire time, and an item still busy when its
/// fire was reserved, but free at the instant, runs for it (misfire off:
/// without the re-check it would skip a fire it used to run).
async fn reserved_fires_start_at_their_instant(cluster: Cluster) {
    let ns = namespace();
    let mut config = JobConfig::new("reserved", "* * * * * ?", 1);
    config.misfire = false;
    // (fire time, wall-clock start in microseconds) of every run.
    let starts: Arc<Mutex<Vec<(i64, i64)>>> = Default::default();
    let first_started = Arc::new(tokio::sync::Notify::new());
    let release_first = Arc::new(tokio::sync::Notify::new());
    let job = {
        let (starts, first_started, release_first) = (starts.clone(), first_started.clone(), release_first.clone());
        Job::from_fn(move |ctx| {
            let (starts, first_started, release_first) = (starts.clone(), first_started.clone(), release_first.clone());
            async move {
                let first = {
                    let mut starts = starts.lock().unwrap();
                    starts.push((ctx.fire_time, chrono_now_micros()));
                    starts.len() == 1
                };
                if first {
                    first_started.notify_one();
                    release_first.notified().await;
                }
                Ok(())
            }
        })
    };
    let scheduler = JobScheduler::builder(cluster.center(&ns), config, job).build().unwrap();
    scheduler.start().await.unwrap();
    first_started.notified().await;
    let first_fire = starts.lock().unwrap()[0].0;
    // Busy through the next fire's reservation (80 ms ahead), free 40 ms
    // before its instant.
    let release_at = first_fire + 1000 - 40;
    tokio::time::sleep(Duration::from_millis((release_at - chrono_now()).max(0) as u64)).await;
    release_first.notify_one();
    tokio::time::sleep(Duration::from_millis(3200)).await;
    scheduler.shutdown().await;
    let starts = starts.lock().unwrap().clone();
    let fires: Vec<i64> = starts.iter().map(|s| s.0).collect();
    assert!(fires.contains(&(first_fire + 1000)), "the fire after the long run did not run though its item was free in time: {fires:?}");
    let early: Vec<_> = starts.iter().filter(|(fire, at)| *at < fire * 1000).collect();
    assert!(early.is_empty(), "handlers started before their fire time: {early:?}");
    let lags: Vec<i64> = starts.iter().map(|(fire, at)| (at - fire * 1000) / 1000).collect();
    assert!(starts.len() >= 4 && lags.iter().skip(1).all(|&ms| ms < 200), "fire-to-start lags (ms): {lags:?}");
}

/// An instance leaves just after another reserved a fire with its old
/// items: the leaver's last run ends 50 ms before the fire, so its items
/// move after the survivor's reservation (80 ms ahead). The survivor still
/// runs them for that fire, once (the leaver's clock had stopped, so
/// without the offer after resharding nobody would).
async fn items_handed_over_after_a_reservation_still_run_for_that_fire(cluster: Cluster) {
    let ns = namespace();
    let config = JobConfig::new("handover", "* * * * * ?", 2);
    let runs: Runs = Default::default();
    let survivor = start(&cluster, &ns, &config, 0, &runs, Duration::from_millis(10)).await;
    let slow = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow_started = Arc::new(tokio::sync::Notify::new());
    let job = {
        let (runs, slow, slow_started) = (runs.clone(), slow.clone(), slow_started.clone());
        Job::from_fn(move |ctx| {
            let (runs, slow, slow_started) = (runs.clone(), slow.clone(), slow_started.clone());
            async move {
                runs.lock().unwrap().push((ctx.sharding_item, ctx.fire_time, "leaver".to_string()));
                if slow.swap(false, Ordering::SeqCst) {
                    slow_started.notify_one();
                    let until = ctx.fire_time + 950;
                    tokio::time::sleep(Duration::from_millis((until - chrono_now()).max(0) as u64)).await;
                }
                Ok(())
            }
        })
    };
    let leaver = JobScheduler::builder(cluster.center(&ns), config, job).instance_id("127.0.0.1@-@test-1").build().unwrap();
    leaver.start().await.unwrap();
    wait_until(|| runs.lock().unwrap().iter().filter(|r| r.2 == "leaver").count() >= 2).await;
    slow.store(true, Ordering::SeqCst);
    slow_started.notified().await;
    let last_fire = runs.lock().unwrap().iter().filter(|r| r.2 == "leaver").map(|r| r.1).max().unwrap();
    let leaving = tokio::spawn(async move { leaver.shutdown().await });
    tokio::time::sleep(Duration::from_millis(2500)).await;
    leaving.await.unwrap();
    survivor.shutdown().await;
    let fires = by_fire(&runs);
    let next = last_fire + 1000;
    let expected: BTreeMap<u32, usize> = [(0, 1), (1, 1)].into_iter().collect();
    assert_eq!(fires.get(&next), Some(&expected), "the fire after the leave: {fires:?}; runs: {:?}", runs.lock().unwrap());
    for (fire, counts) in &fires {
        assert!(counts.values().all(|&c| c == 1), "duplicate in fire {fire}: {counts:?}");
    }
}

/// A resharding that gave up waiting for a long run moves its item while
/// it still runs; the fire that came meanwhile (a misfire, buffered behind
/// that run) still runs once the run ends, on the item's new owner, once.
/// The first instance's runs of one fire last 2.6 s and ignore being told
/// to stop; the second instance joins 1.3 s into them, and the leader waits
/// 300 ms for the runs before it moves an item anyway.
async fn a_misfire_follows_an_item_moved_while_its_run_lasts(cluster: Cluster) {
    let ns = namespace();
    let config = JobConfig::new("follow", "* * * * * ?", 2);
    let runs: Runs = Default::default();
    let slow_fire: Arc<Mutex<Option<i64>>> = Default::default();
    let slow = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let job = {
        let (runs, slow, slow_fire) = (runs.clone(), slow.clone(), slow_fire.clone());
        Job::from_fn(move |ctx| {
            let (runs, slow, slow_fire) = (runs.clone(), slow.clone(), slow_fire.clone());
            async move {
                let this_fire = {
                    let mut fire = slow_fire.lock().unwrap();
                    if slow.load(Ordering::SeqCst) && fire.is_none_or(|f| f == ctx.fire_time) {
                        *fire = Some(ctx.fire_time);
                    }
                    *fire == Some(ctx.fire_time)
                };
                if this_fire {
                    let until = ctx.fire_time + 2600;
                    tokio::time::sleep(Duration::from_millis((until - chrono_now()).max(0) as u64)).await;
                }
                runs.lock().unwrap().push((ctx.sharding_item, ctx.fire_time, "test-0".to_string()));
                Ok(())
            }
        })
        // Told to stop when its item moves, as a binding's handler may, it runs on.
        .signal_only()
    };
    let first = JobScheduler::builder(cluster.center(&ns), config.clone(), job)
        .instance_id("127.0.0.1@-@test-0")
        .max_reshard_wait(Duration::from_millis(300))
        .build()
        .unwrap();
    first.start().await.unwrap();
    wait_until(|| runs.lock().unwrap().len() >= 2).await;
    slow.store(true, Ordering::SeqCst);
    wait_until(|| slow_fire.lock().unwrap().is_some()).await;
    let f0 = slow_fire.lock().unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis((f0 + 1300 - chrono_now()).max(0) as u64)).await;
    let second = start(&cluster, &ns, &config, 1, &runs, Duration::from_millis(10)).await;
    tokio::time::sleep(Duration::from_millis((f0 + 3700 - chrono_now()).max(0) as u64)).await;
    second.shutdown().await;
    first.shutdown().await;
    let all = runs.lock().unwrap().clone();
    let fires = by_fire(&runs);
    let both: BTreeMap<u32, usize> = [(0, 1), (1, 1)].into_iter().collect();
    assert_eq!(fires.get(&f0), Some(&both), "the long runs: {all:?}");
    // Buffered behind the long runs: the fires 1 s and 2 s after, one re-run for the latest.
    assert_eq!(fires.get(&(f0 + 1000)), None, "{all:?}");
    assert_eq!(fires.get(&(f0 + 2000)), Some(&both), "each item re-ran for the latest fire it missed: {all:?}");
    let moved: Vec<&(u32, i64, String)> = all.iter().filter(|r| r.1 == f0 + 2000 && r.2 == "127.0.0.1@-@test-1").collect();
    assert_eq!(moved.len(), 1, "the moved item re-ran on its new owner: {all:?}");
    assert_eq!(fires.get(&(f0 + 3000)), Some(&both), "and the next fire ran as usual: {all:?}");
    for (fire, counts) in &fires {
        assert!(counts.values().all(|&c| c == 1), "duplicate in fire {fire}: {counts:?}");
    }
}

/// Owner nodes edited by hand, with no resharding: the instance that lost
/// items finds their starts refused and asks for a resharding, so the one
/// given them (which keeps the owners it read until the assignment
/// changes) learns it too; from the fire after, every item runs every
/// fire, once.
async fn owners_edited_by_hand_bring_a_resharding(cluster: Cluster) {
    let ns = namespace();
    let config = JobConfig::new("edited", "* * * * * ?", 4);
    let runs: Runs = Default::default();
    let first = start(&cluster, &ns, &config, 0, &runs, Duration::from_millis(10)).await;
    let second = start(&cluster, &ns, &config, 1, &runs, Duration::from_millis(10)).await;
    wait_until(|| by_fire(&runs).values().filter(|counts| counts.len() == 4).count() >= 2).await;
    let session = cluster.center(&ns).session().await.unwrap();
    let paths = elasticjob::paths::JobPaths::new("edited");
    let mut given = Vec::new();
    for item in 0..4 {
        let owner = session.get_string(&paths.item_instance(item)).await.unwrap();
        if owner.as_deref() == Some("127.0.0.1@-@test-0") {
            session.set(&paths.item_instance(item), b"127.0.0.1@-@test-1", None).await.unwrap();
            given.push(item);
        }
    }
    assert!(!given.is_empty(), "the first instance owned items");
    let edited_at = chrono_now();
    tokio::time::sleep(Duration::from_millis(4500)).await;
    second.shutdown().await;
    first.shutdown().await;
    let fires = by_fire(&runs);
    let all: BTreeMap<u32, usize> = (0..4).map(|item| (item, 1)).collect();
    let after: Vec<(&i64, &BTreeMap<u32, usize>)> = fires.range(edited_at + 2000..edited_at + 4000).collect();
    assert_eq!(after.len(), 2, "{fires:?}");
    for (fire, counts) in after {
        assert_eq!(counts, &all, "fire {fire}, after items {given:?} were given away by hand: {fires:?}");
    }
    for (fire, counts) in &fires {
        assert!(counts.values().all(|&c| c == 1), "duplicate in fire {fire}: {counts:?}");
    }
}

/// A resharding as Java ElasticJob 3.0.4's leader writes it, with the
/// owners it computed from the instance list it read before waiting for
/// running items: `processing`, the owner nodes, then `necessary` and
/// `processing` deleted in one transaction.
async fn reshard_as_java(session: &dyn Registry, paths: &JobPaths, owners: &[&str]) {
    session.create_with_parents(&paths.sharding_processing(), b"", CreateMode::Ephemeral).await.unwrap();
    for (item, owner) in owners.iter().enumerate() {
        session.put(&paths.item_instance(item as u32), owner.as_bytes()).await.unwrap();
    }
    let done = vec![
        Op::Delete { path: paths.sharding_necessary(), version: -1 },
        Op::Delete { path: paths.sharding_processing(), version: -1 },
    ];
    session.multi(done).await.unwrap();
}

/// Whether `necessary` is up within `within`.
async fn flagged_within(session: &dyn Registry, paths: &JobPaths, within: Duration) -> bool {
    let until = std::time::Instant::now() + within;
    while std::time::Instant::now() < until {
        if session.exists(&paths.sharding_necessary()).await.unwrap().is_some() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A Java leader reads the instances before it waits for running items and
/// takes the resharding flag down after: an instance that joined in between
/// is left out of its assignment, one that left keeps items. Ours raise the
/// flag again, once per change (the test plays the Java leader, whose
/// instance has no `polyglot` mark); without that, nothing would reshard
/// until the next change of members.
async fn a_java_leaders_resharding_that_missed_a_change_is_asked_again(cluster: Cluster) {
    const JAVA: &str = "127.0.0.1@-@java";
    const GONE: &str = "127.0.0.1@-@gone";
    let ns = namespace();
    let config = JobConfig::new("java-led", "* * * * * ?", 4);
    let runs: Runs = Default::default();
    let session = cluster.center(&ns).session().await.unwrap();
    let paths = JobPaths::new("java-led");
    session.create_with_parents(&paths.leader_instance(), JAVA.as_bytes(), CreateMode::Ephemeral).await.unwrap();
    let node = format!("jobInstanceId: {JAVA}\nserverIp: 127.0.0.1\n");
    session.create_with_parents(&paths.instance(JAVA), node.as_bytes(), CreateMode::Ephemeral).await.unwrap();
    let first = start(&cluster, &ns, &config, 0, &runs, Duration::from_millis(10)).await;
    let a = "127.0.0.1@-@test-0";
    assert!(flagged_within(&*session, &paths, Duration::from_secs(5)).await, "the first instance flags a resharding");
    reshard_as_java(&*session, &paths, &[JAVA, JAVA, a, a]).await;
    wait_until(|| runs.lock().unwrap().iter().any(|(item, _, _)| *item == 2)).await;
    // The second joins while the leader "waits for running items" with the list it read before.
    let second = start(&cluster, &ns, &config, 1, &runs, Duration::from_millis(10)).await;
    let b = "127.0.0.1@-@test-1";
    assert!(flagged_within(&*session, &paths, Duration::from_secs(5)).await, "the second instance flags a resharding");
    reshard_as_java(&*session, &paths, &[JAVA, JAVA, a, a]).await;
    assert!(flagged_within(&*session, &paths, Duration::from_secs(5)).await, "the instance left out asks again");
    reshard_as_java(&*session, &paths, &[JAVA, JAVA, a, b]).await;
    wait_until(|| runs.lock().unwrap().iter().any(|(item, _, by)| *item == 3 && by == b)).await;
    // The leader answers the same again (a different strategy, say): not asked forever.
    session.put(&paths.sharding_necessary(), b"").await.unwrap();
    reshard_as_java(&*session, &paths, &[JAVA, JAVA, a, a]).await;
    assert!(flagged_within(&*session, &paths, Duration::from_secs(3)).await, "a new answer, a new complaint");
    reshard_as_java(&*session, &paths, &[JAVA, JAVA, a, a]).await;
    assert!(!flagged_within(&*session, &paths, Duration::from_secs(3)).await, "the same answer is not complained about twice");
    // An instance that left during the wait keeps items in the stale list.
    session.put(&paths.sharding_necessary(), b"").await.unwrap();
    reshard_as_java(&*session, &paths, &[JAVA, GONE, a, b]).await;
    assert!(flagged_within(&*session, &paths, Duration::from_secs(5)).await, "an item of a departed instance is complained about");
    second.shutdown().await;
    first.shutdown().await;
}

/// Many jobs starting at once on one session (as one process's jobs do)
/// each reshard once: a job's first resharding (at its first fire, or
/// when its resync finds the flag up) is not made to begin again by a
/// second raise of the flag for items that have no owner yet. The epoch
/// (the `sharding` node's version) counts how often a resharding began.
async fn jobs_starting_together_reshard_once_each(cluster: Cluster) {
    const JOBS: usize = 100;
    let ns = namespace();
    let center = cluster.center(&ns);
    let ran: Arc<Mutex<BTreeSet<usize>>> = Default::default();
    let mut schedulers = Vec::new();
    for n in 0..JOBS {
        let ran = ran.clone();
        let job = Job::from_fn(move |_| {
            ran.lock().unwrap().insert(n);
            async { Ok(()) }
        });
        let config = JobConfig::new(&format!("together-{n}"), "* * * * * ?", 1);
        let scheduler = JobScheduler::builder(center.clone(), config, job).instance_id("127.0.0.1@-@together").build().unwrap();
        schedulers.push(Arc::new(scheduler));
    }
    let mut starts = tokio::task::JoinSet::new();
    for scheduler in &schedulers {
        let scheduler = scheduler.clone();
        starts.spawn(async move { scheduler.start().await.unwrap() });
    }
    while let Some(started) = starts.join_next().await {
        started.unwrap();
    }
    for _ in 0..300 {
        if ran.lock().unwrap().len() == JOBS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ran.lock().unwrap().len(), JOBS, "every job ran within 15 s");
    let session = center.session().await.unwrap();
    let mut began = BTreeMap::new();
    for n in 0..JOBS {
        let epoch = session.exists(&JobPaths::new(&format!("together-{n}")).sharding()).await.unwrap().map(|stat| stat.version);
        *began.entry(epoch).or_insert(0) += 1;
    }
    for scheduler in &schedulers {
        scheduler.shutdown().await;
    }
    assert_eq!(began, BTreeMap::from([(Some(1), JOBS)]), "jobs by how often their resharding began");
}

fn chrono_now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64
}

/// `jitterMillis`: each fire's handlers start after a deterministic offset
/// (at most the bound) that every instance computes alike, so one fire's
/// items still start together; fires and jobs get different offsets.
async fn jitter_delays_a_fire_alike_on_every_instance(cluster: Cluster) {
    let ns = namespace();
    // (job, fire time, start in wall-clock ms) of every run.
    let starts: Arc<Mutex<Vec<(String, i64, i64)>>> = Default::default();
    let mut schedulers = Vec::new();
    for (job, n) in [("jittered", 0), ("jittered", 1), ("also-jittered", 0)] {
        let mut config = JobConfig::new(job, "* * * * * ?", 2);
        config.props.insert(elasticjob::config::JITTER_PROP.into(), "400".into());
        let starts = starts.clone();
        let handler = Job::from_fn(move |ctx| {
            let starts = starts.clone();
            async move {
                starts.lock().unwrap().push((ctx.job_name.clone(), ctx.fire_time, chrono_now()));
                Ok(())
            }
        });
        let scheduler = JobScheduler::builder(cluster.center(&ns), config, handler)
            .instance_id(format!("127.0.0.1@-@{job}-{n}"))
            .build()
            .unwrap();
        scheduler.start().await.unwrap();
        schedulers.push(scheduler);
    }
    tokio::time::sleep(Duration::from_millis(7000)).await;
    for scheduler in &schedulers {
        scheduler.shutdown().await;
    }
    let starts = starts.lock().unwrap().clone();
    let mut offsets: BTreeMap<(String, i64), Vec<i64>> = BTreeMap::new();
    for (job, fire, at) in &starts {
        offsets.entry((job.clone(), *fire)).or_default().push(at - fire);
    }
    // Whole fires of both jobs after the start-up (two items each).
    let whole: Vec<_> = offsets.iter().filter(|(_, o)| o.len() == 2).skip(2).collect();
    assert!(whole.len() >= 6, "{offsets:?}");
    for ((job, fire), o) in &whole {
        assert!(o.iter().all(|&ms| (0..=400 + 150).contains(&ms)), "{job} {fire}: offsets {o:?} within the bound");
        assert!((o[0] - o[1]).abs() < 60, "{job} {fire}: both items (two instances for `jittered`) start together: {o:?}");
    }
    let distinct: BTreeSet<i64> = whole.iter().map(|(_, o)| o[0] / 40).collect();
    assert!(distinct.len() >= 3, "offsets differ between fires and jobs: {whole:?}");
}

/// A trigger's overlap override for an item still running: `SKIP` adds
/// no run, `CANCEL_OTHER` stops the running one (`superseded`) and runs
/// the item once it returned, never two at once.
async fn a_trigger_can_override_the_overlap_policy(cluster: Cluster) {
    let ns = namespace();
    // (started at, finished at, how it ended) of every run.
    let runs: Arc<Mutex<Vec<(i64, i64, String)>>> = Default::default();
    let job = {
        let runs = runs.clone();
        Job::from_fn(move |ctx| {
            let runs = runs.clone();
            async move {
                let started = chrono_now();
                let first = runs.lock().unwrap().is_empty();
                let how = if first {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(5)) => "ended".to_string(),
                        reason = ctx.cancellation.cancelled() => reason.to_string(),
                    }
                } else {
                    "ended".to_string()
                };
                runs.lock().unwrap().push((started, chrono_now(), how));
                Ok(())
            }
        })
    };
    let scheduler = JobScheduler::builder(cluster.center(&ns), JobConfig::new("override", "", 1), job).build().unwrap();
    scheduler.start().await.unwrap();
    let operator = JobOperator::new(cluster.center(&ns));
    operator.trigger("override").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    operator.trigger_with("override", Some(elasticjob::OverlapPolicy::Skip)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let superseded_at = chrono_now();
    operator.trigger_with("override", Some(elasticjob::OverlapPolicy::CancelOther)).await.unwrap();
    for _ in 0..100 {
        if runs.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    scheduler.shutdown().await;
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 2, "the long run and the CANCEL_OTHER trigger's, none for SKIP: {runs:?}");
    assert_eq!(runs[0].2, "superseded", "{runs:?}");
    assert!(runs[0].1 - superseded_at < 1000, "stopped at the trigger: {runs:?}");
    assert!(runs[1].0 >= runs[0].1, "then the trigger's run, not alongside: {runs:?}");
}

/// A pause with a note holds every instance's cron fires until it ends by
/// itself, and a pause without an end until it is resumed; the fires either
/// held are never caught up, even with a 5-minute catch-up window.
async fn a_paused_job_skips_its_fires_and_never_catches_them_up(cluster: Cluster) {
    let ns = namespace();
    let runs: Runs = Default::default();
    let mut config = JobConfig::new("paused", "* * * * * ?", 3);
    config.props.insert("catchUpWindowSeconds".into(), "300".into());
    let mut instances = vec![
        start(&cluster, &ns, &config, 0, &runs, Duration::from_millis(20)).await,
        start(&cluster, &ns, &config, 1, &runs, Duration::from_millis(20)).await,
    ];
    let operator = JobOperator::new(cluster.center(&ns));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // A pause that ends by itself 2.5 s later.
    let paused_at = chrono_now();
    let until = paused_at + 2500;
    let note = PauseNote::new("ops", "table migration", paused_at, Some(until)).unwrap();
    operator.pause("paused", &note).await.unwrap();
    assert_eq!(operator.pause_note("paused").await.unwrap(), Some(note.clone()));
    let brief = operator.jobs().await.unwrap().into_iter().find(|j| j.config.job_name == "paused").unwrap();
    assert_eq!((brief.status.as_str(), brief.pause.as_ref()), ("PAUSED", Some(&note)));
    tokio::time::sleep(Duration::from_millis(5500)).await;
    assert_eq!(operator.pause_note("paused").await.unwrap(), None, "over at its end");
    // A pause until resumed.
    let second_at = chrono_now();
    operator.pause("paused", &PauseNote::new("ops", "", second_at, None).unwrap()).await.unwrap();
    // A joiner moves items: their new owners would catch up what the pause held.
    instances.push(start(&cluster, &ns, &config, 2, &runs, Duration::from_millis(20)).await);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let resumed_at = chrono_now();
    assert!(operator.resume("paused").await.unwrap(), "it was paused");
    assert!(!operator.resume("paused").await.unwrap(), "no longer paused");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for s in &instances {
        s.shutdown().await;
    }
    let fires = by_fire(&runs);
    // A fire reserved (80 ms ahead) before the pause was written still runs.
    let held = |fire: i64| (fire > paused_at + 100 && fire < until) || (fire > second_at + 100 && fire < resumed_at);
    let ran_held: Vec<_> = fires.keys().filter(|&&fire| held(fire)).collect();
    assert!(ran_held.is_empty(), "fires ran while paused: {ran_held:?} of {fires:?}");
    let after = |from: i64| fires.keys().filter(|&&fire| fire >= from + 100).count();
    assert!(after(until) - after(second_at) >= 2, "fires between the two pauses: {fires:?}");
    assert!(after(resumed_at) >= 2, "fires after the resume: {fires:?}");
    for (fire, counts) in &fires {
        assert!(counts.values().all(|&c| c == 1), "duplicate in fire {fire}: {counts:?}");
    }
}

/// `pauseAfterFailedFires`: one item failing two fires in a row pauses
/// the job with a note naming it; a resume starts its count again.
async fn failed_fires_in_a_row_pause_the_job(cluster: Cluster) {
    let ns = namespace();
    let mut config = JobConfig::new("fragile", "* * * * * ?", 2);
    config.props.insert("pauseAfterFailedFires".into(), "2".into());
    let runs: Runs = Default::default();
    let job = {
        let runs = runs.clone();
        Job::from_fn(move |ctx| {
            let runs = runs.clone();
            async move {
                runs.lock().unwrap().push((ctx.sharding_item, ctx.fire_time, String::new()));
                match ctx.sharding_item {
                    1 => Err("the downstream service refused".into()),
                    _ => Ok(()),
                }
            }
        })
    };
    let scheduler = JobScheduler::builder(cluster.center(&ns), config, job).build().unwrap();
    scheduler.start().await.unwrap();
    let operator = JobOperator::new(cluster.center(&ns));
    let mut note = None;
    for _ in 0..100 {
        note = operator.pause_note("fragile").await.unwrap();
        if note.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let note = note.expect("paused within 5 s");
    assert_eq!(note.by, "pause-on-failure");
    assert!(note.reason.contains("item 1 failed 2 fires in a row") && note.reason.contains("downstream service refused"), "{note:?}");
    let fires_at_pause: BTreeSet<i64> = runs.lock().unwrap().iter().filter(|r| r.0 == 1).map(|r| r.1).collect();
    assert_eq!(fires_at_pause.len(), 2, "{fires_at_pause:?}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let latest = runs.lock().unwrap().iter().map(|r| r.1).max().unwrap();
    assert!(latest <= note.at + 100, "a fire ran after the pause: {:?}", runs.lock().unwrap());
    assert!(operator.resume("fragile").await.unwrap());
    // Two more failed fires pause it again: the count started anew.
    let resumed_at = chrono_now();
    let mut again = None;
    for _ in 0..100 {
        again = operator.pause_note("fragile").await.unwrap();
        if again.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    scheduler.shutdown().await;
    let again = again.expect("paused again within 5 s");
    let failed_since: usize = runs.lock().unwrap().iter().filter(|r| r.0 == 1 && r.1 > resumed_at).count();
    assert_eq!(failed_since, 2, "paused again after two new failures: {:?}", runs.lock().unwrap());
    assert!(again.at > resumed_at);
}

/// `dependsOn`: two dependent jobs follow an upstream job of 3 items run
/// by two instances, whose item 1 fails every other fire. `load` (outcome
/// SUCCESS) fires only for the upstream fires every item succeeded, `audit`
/// (outcome ANY) for every upstream fire; each starts its items only after
/// the upstream fire's last item ended, once per fire. A cycle is refused.
async fn dependent_jobs_fire_when_their_upstream_fire_ended_on_every_item(cluster: Cluster) {
    let ns = namespace();
    // (job, item, fire, started, ended) of every run.
    let runs: Arc<Mutex<Vec<(String, u32, i64, i64, i64)>>> = Default::default();
    let recording = |job: &str| {
        let (runs, job) = (runs.clone(), job.to_string());
        Job::from_fn(move |ctx| {
            let (runs, job) = (runs.clone(), job.clone());
            async move {
                let started = chrono_now();
                tokio::time::sleep(Duration::from_millis(if job == "extract" { 150 } else { 20 })).await;
                runs.lock().unwrap().push((job.clone(), ctx.sharding_item, ctx.fire_time, started, chrono_now()));
                match job == "extract" && ctx.sharding_item == 1 && (ctx.fire_time / 1000) % 2 == 1 {
                    true => Err("planted failure".into()),
                    false => Ok(()),
                }
            }
        })
    };
    let upstream = JobConfig::new("extract", "* * * * * ?", 3);
    let mut schedulers = Vec::new();
    for n in 0..2 {
        let s = JobScheduler::builder(cluster.center(&ns), upstream.clone(), recording("extract"))
            .instance_id(format!("127.0.0.1@-@up-{n}"))
            .build()
            .unwrap();
        s.start().await.unwrap();
        schedulers.push(s);
    }
    for (name, outcome) in [("load", "SUCCESS"), ("audit", "ANY")] {
        let mut config = JobConfig::new(name, "", 2);
        config.props.insert("dependsOn".into(), "extract".into());
        config.props.insert("dependsOnOutcome".into(), outcome.into());
        let s = JobScheduler::builder(cluster.center(&ns), config, recording(name)).build().unwrap();
        s.start().await.unwrap();
        schedulers.push(s);
    }
    let ready = chrono_now();
    tokio::time::sleep(Duration::from_millis(6500)).await;
    // A cycle through the registry's configurations is refused by name.
    let operator = JobOperator::new(cluster.center(&ns));
    let mut report = JobConfig::new("report", "", 1);
    report.props.insert("dependsOn".into(), "load".into());
    let reporter = JobScheduler::builder(cluster.center(&ns), report, recording("report")).build().unwrap();
    reporter.start().await.unwrap();
    let mut cyclic = operator.config("load").await.unwrap();
    cyclic.props.insert("dependsOn".into(), "extract,report".into());
    let refused = operator.update_config(&cyclic).await.unwrap_err().to_string();
    assert!(refused.contains("dependsOn") && refused.contains("load → report → load"), "{refused}");
    let mut hourly = operator.config("load").await.unwrap();
    hourly.cron = "0 0 * * * ?".into();
    assert!(operator.update_config(&hourly).await.unwrap_err().to_string().contains("leave cron empty"));
    reporter.shutdown().await;
    let done = chrono_now();
    for s in &schedulers {
        s.shutdown().await;
    }
    let runs = runs.lock().unwrap().clone();
    // Upstream fires after both dependents registered, ended well before the stop.
    let upstream_fires: BTreeSet<i64> =
        runs.iter().filter(|r| r.0 == "extract" && r.2 > ready + 500 && r.2 < done - 1500).map(|r| r.2).collect();
    assert!(upstream_fires.len() >= 4, "{runs:?}");
    for fire in &upstream_fires {
        let last_end = runs.iter().filter(|r| r.0 == "extract" && r.2 == *fire).map(|r| r.4).max().unwrap();
        let failed = (fire / 1000) % 2 == 1;
        for (job, runs_it) in [("load", !failed), ("audit", true)] {
            let of: Vec<_> = runs.iter().filter(|r| r.0 == job && r.2 == *fire).collect();
            let items: BTreeSet<u32> = of.iter().map(|r| r.1).collect();
            match runs_it {
                true => assert!(of.len() == 2 && items.len() == 2, "{job} ran items {items:?} for fire {fire}: {runs:?}"),
                false => assert!(of.is_empty(), "{job} ran for failed fire {fire}: {of:?}"),
            }
            assert!(of.iter().all(|r| r.3 >= last_end), "{job} started before upstream fire {fire} ended: {of:?}");
        }
    }
}

async fn operator_lifecycle(cluster: Cluster) {
    let ns = namespace();
    let runs: Runs = Default::default();
    // No cron: the job only runs when triggered.
    let config = JobConfig::new("manual", "", 2);
    let scheduler = start(&cluster, &ns, &config, 0, &runs, Duration::from_millis(10)).await;
    let operator = JobOperator::new(cluster.center(&ns));
    let jobs = operator.jobs().await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].config.job_name, "manual");

    operator.trigger("manual").await.unwrap();
    wait_until(|| runs.lock().unwrap().len() == 2).await;

    operator.disable_item("manual", 1).await.unwrap();
    operator.trigger("manual").await.unwrap();
    wait_until(|| runs.lock().unwrap().len() == 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs.lock().unwrap().iter().filter(|r| r.0 == 1).count(), 1, "disabled item did not run");
    let items = operator.items("manual").await.unwrap();
    assert_eq!(items[1].state, elasticjob::operate::ItemState::Disabled);
    operator.enable_item("manual", 1).await.unwrap();

    operator.disable("manual", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    operator.trigger("manual").await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(runs.lock().unwrap().len(), 3, "a disabled server runs nothing");
    assert_eq!(operator.jobs().await.unwrap()[0].status, elasticjob::operate::JobStatus::Disabled);

    operator.enable("manual", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    operator.trigger("manual").await.unwrap();
    wait_until(|| runs.lock().unwrap().len() == 5).await;

    assert!(operator.remove("manual", None).await.is_err(), "cannot remove a job with live instances");
    operator.shutdown("manual", None).await.unwrap();
    wait_until(|| scheduler.is_shut_down()).await;
    scheduler.shutdown().await;
    operator.remove("manual", None).await.unwrap();
    assert!(operator.jobs().await.unwrap().is_empty());
    let err = operator.trigger("manual").await.unwrap_err().to_string();
    assert!(err.contains("jobName") && err.contains("manual"), "{err}");
}

async fn a_hung_item_times_out_and_later_fires_still_run(cluster: Cluster) {
    let ns = namespace();
    let mut config = JobConfig::new("hangs", "* * * * * ?", 2);
    config.props.insert("executionTimeoutMillis".into(), "300".into());
    let finished = Arc::new(AtomicUsize::new(0));
    let counter = finished.clone();
    let job = Job::from_fn(move |ctx| {
        let counter = counter.clone();
        async move {
            if ctx.sharding_item == 0 {
                std::future::pending::<()>().await;
            }
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let scheduler = JobScheduler::builder(cluster.center(&ns), config, job).build().unwrap();
    let mut events = scheduler.events();
    scheduler.start().await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    scheduler.shutdown().await;
    let mut timed_out = 0;
    while let Ok(event) = events.try_recv() {
        if let JobEvent::Executed(e) = event {
            if e.outcome == Outcome::TimedOut {
                assert_eq!(e.item, 0);
                timed_out += 1;
            }
        }
    }
    assert!(timed_out >= 2, "each fire's hung item timed out: {timed_out}");
    assert!(finished.load(Ordering::SeqCst) >= 3, "item 1 ran on every fire");
}

async fn wait_until(condition: impl Fn() -> bool) {
    for _ in 0..100 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(condition(), "condition not met within 5 s");
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Failover on the embedded registry: the session of an instance running
/// an item is expired mid-run; a survivor runs the item for that fire, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_failover_runs_a_crashed_instances_item_once() {
    let server = EmbeddedServer::new();
    let cluster = Cluster::Embedded(server.clone());
    let ns = namespace();
    let runs: Runs = Default::default();
    let mut config = JobConfig::new("failover", "0/3 * * * * ?", 2);
    config.failover = true;
    let survivor = start(&cluster, &ns, &config, 0, &runs, Duration::from_millis(100)).await;
    let mut events = survivor.events();
    // The victim's handler never finishes by itself: it is "killed" mid-run.
    let victim_center = cluster.center(&ns);
    let started = Arc::new(tokio::sync::Notify::new());
    let notify = started.clone();
    let victim_job = Job::from_fn(move |_ctx| {
        let notify = notify.clone();
        async move {
            notify.notify_one();
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    let victim = JobScheduler::builder(victim_center.clone(), config.clone(), victim_job)
        .instance_id("127.0.0.1@-@victim")
        .shutdown_timeout(Duration::from_millis(10))
        .build()
        .unwrap();
    victim.start().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), started.notified()).await.expect("victim started an item");
    let session = victim_center.session().await.unwrap();
    let crash_at = chrono_now();
    server.expire(session.session_id());
    drop(victim);
    // The take-over of the crashed run: at once on the embedded server, with room for a loaded host.
    let victim_fire = {
        let deadline = chrono_now() + 5000;
        loop {
            // `<=`: the victim's handler starts at its fire's instant, and the
            // crash can come within that same millisecond.
            let done = runs.lock().unwrap().iter().filter(|r| r.1 <= crash_at).map(|r| r.1).max();
            if done.is_some_and(|fire| runs.lock().unwrap().iter().filter(|r| r.1 == fire).count() == 2) || chrono_now() > deadline {
                break done;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    survivor.shutdown().await;
    let runs = runs.lock().unwrap().clone();
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(format!("{event:?}"));
    }
    let per_key: BTreeMap<(u32, i64), usize> = runs.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry((r.0, r.1)).or_default() += 1;
        m
    });
    assert!(per_key.values().all(|&c| c == 1), "no (item, fire) ran twice: {runs:?}");
    let fire = victim_fire.unwrap_or_else(|| panic!("the crashed fire was re-run: crashed at {crash_at}, runs {runs:?}, events {seen:?}"));
    let items_of_fire: BTreeSet<u32> = runs.iter().filter(|r| r.1 == fire).map(|r| r.0).collect();
    assert_eq!(items_of_fire, [0, 1].into(), "both items of the crashed fire completed: {runs:?}");
}

/// An expired session deletes the instance's own node, and the deletion
/// event can reach the instance before it learns its session is gone: that
/// is not an operator's shutdown. The instance registers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_an_expired_session_is_not_an_operator_shutdown() {
    let server = EmbeddedServer::new();
    let cluster = Cluster::Embedded(server.clone());
    let ns = namespace();
    let runs: Runs = Default::default();
    let center = cluster.center(&ns);
    let scheduler = JobScheduler::builder(center.clone(), JobConfig::new("survives", "* * * * * ?", 1), recording_job(&runs, "x", Duration::ZERO))
        .build()
        .unwrap();
    scheduler.start().await.unwrap();
    let observer = server.connect(&ns).unwrap();
    use elasticjob::registry::Registry;
    // The order in which the scheduler sees the deletion and the expiry
    // varies: expire it several times.
    for round in 0..6 {
        let session = center.session().await.unwrap();
        server.expire(session.session_id());
        let mut registered_again = false;
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let instances = observer.children("/survives/instances").await.unwrap();
            if instances == vec![scheduler.instance_id().to_string()] {
                registered_again = true;
                break;
            }
        }
        assert!(!scheduler.is_shut_down(), "round {round}: the scheduler kept running");
        assert!(registered_again, "round {round}: it registered again");
    }
    let expired_at = chrono_now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(runs.lock().unwrap().iter().any(|r| r.1 > expired_at), "and runs its item again");
    scheduler.shutdown().await;
}

/// A job whose last instance shut down reads `STOPPED`; one whose last
/// instance vanished without leaving (here: a session that just ended)
/// reads `CRASHED`; a new instance makes it `OK` again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_stopped_job_is_told_from_a_crashed_one() {
    use elasticjob::operate::JobStatus;
    use elasticjob::registry::{CreateMode, Registry};
    let server = EmbeddedServer::new();
    let cluster = Cluster::Embedded(server.clone());
    let ns = namespace();
    let runs: Runs = Default::default();
    let operator = JobOperator::new(cluster.center(&ns));
    // Polls: right after a join the job reads SHARDING_FLAG for a moment.
    let status = |wanted: JobStatus| {
        let operator = &operator;
        async move {
            let mut last = None;
            for _ in 0..100 {
                let now = operator.jobs().await.unwrap()[0].status;
                if now == wanted {
                    return now;
                }
                last = Some(now);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            last.unwrap()
        }
    };

    let first = start(&cluster, &ns, &JobConfig::new("lifecycle", "", 1), 0, &runs, Duration::ZERO).await;
    assert_eq!(status(JobStatus::Ok).await, JobStatus::Ok);
    first.shutdown().await;
    assert_eq!(status(JobStatus::Stopped).await, JobStatus::Stopped, "its only instance shut down");

    let second = start(&cluster, &ns, &JobConfig::new("lifecycle", "", 1), 1, &runs, Duration::ZERO).await;
    assert_eq!(status(JobStatus::Ok).await, JobStatus::Ok, "a registration clears the stopped mark");
    // A second instance that dies without leaving: its session ends.
    let doomed = server.connect(&ns).unwrap();
    doomed.create("/lifecycle/instances/127.0.0.9@-@1", b"", CreateMode::Ephemeral).await.unwrap();
    second.shutdown().await;
    // Only a stand-in is live, which never reshards: the job waits for it.
    let live = operator.jobs().await.unwrap()[0].status;
    assert!(matches!(live, JobStatus::Ok | JobStatus::ShardingFlag), "another instance is live: {live:?}");
    doomed.close().await;
    assert_eq!(status(JobStatus::Crashed).await, JobStatus::Crashed, "the last instance left without a word");
    assert_eq!(JobStatus::Stopped.as_str(), "STOPPED");
}

/// A backfill of eight past fires on four items, while an instance joins:
/// every (item, fire) of the range runs once, each item oldest first;
/// the schedule goes on beside it; bad ranges are refused naming the value.
async fn a_backfill_runs_each_fire_of_its_range_once_per_item(cluster: Cluster) {
    let ns = namespace();
    let runs: Runs = Default::default();
    let config = JobConfig::new("nightly", "* * * * * ?", 4);
    let operator = JobOperator::new(cluster.center(&ns));
    let mut instances = vec![
        start(&cluster, &ns, &config, 0, &runs, Duration::from_millis(100)).await,
        start(&cluster, &ns, &config, 1, &runs, Duration::from_millis(100)).await,
    ];
    let now = chrono_now();
    let from = now - now % 1000 - 20_000;
    let to = from + 8000;
    let future = operator.backfill("nightly", from, now + 60_000, "ops", None).await.unwrap_err().to_string();
    assert!(future.contains("invalid to") && future.contains("must not be in the future"), "{future}");
    let id = operator.backfill("nightly", from, to, "ops", None).await.unwrap();
    instances.push(start(&cluster, &ns, &config, 2, &runs, Duration::from_millis(100)).await);
    let mut listed = Vec::new();
    for _ in 0..300 {
        listed = operator.backfills("nightly").await.unwrap();
        if listed.iter().all(|b| b.is_done()) && runs.lock().unwrap().iter().filter(|r| r.1 < to).count() >= 32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for s in &instances {
        s.shutdown().await;
    }
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.as_str(), listed[0].started(), listed[0].request.by.as_str()), (id.as_str(), (32, 32), "ops"));
    let fires = by_fire(&runs);
    let backfilled: Vec<(&i64, &BTreeMap<u32, usize>)> = fires.range(..to).collect();
    let expected: Vec<i64> = (0..8).map(|n| from + n * 1000).collect();
    assert_eq!(backfilled.iter().map(|(fire, _)| **fire).collect::<Vec<_>>(), expected, "the range's fires, no other");
    for (fire, counts) in &backfilled {
        assert_eq!(*counts, &(0..4).map(|i| (i, 1)).collect::<BTreeMap<u32, usize>>(), "fire {fire}: every item once");
    }
    for item in 0..4 {
        let order: Vec<i64> = runs.lock().unwrap().iter().filter(|r| r.0 == item && r.1 < to).map(|r| r.1).collect();
        assert_eq!(order, expected, "item {item} ran its backfill fires oldest first");
    }
    let scheduled: Vec<_> = fires.range(to..).collect();
    assert!(scheduled.len() >= 2, "the schedule went on: {fires:?}");
    assert!(scheduled.iter().all(|(_, counts)| counts.values().all(|&c| c == 1)), "{fires:?}");
    operator.cancel_backfill("nightly", &id).await.unwrap();
    assert!(operator.backfills("nightly").await.unwrap().is_empty());
    let unknown = operator.cancel_backfill("nightly", &id).await.unwrap_err().to_string();
    assert!(unknown.contains(&id) && unknown.contains("is not a backfill of this job"), "{unknown}");
}

/// A backfill with overlap `SKIP` of three midnights of a daily job: item 0
/// is busy with a long triggered run when the backfill comes, so its turn
/// for the first midnight is left out and its next turns wait until it is
/// free (one skipped fire per busy spell); the idle item 1 runs them all;
/// the listing counts the skipped fire as passed.
async fn a_backfill_with_skip_leaves_out_the_fires_of_a_busy_item(cluster: Cluster) {
    let ns = namespace();
    let runs: Runs = Default::default();
    let began = chrono_now();
    let job = {
        let runs = runs.clone();
        Job::from_fn(move |ctx| {
            let runs = runs.clone();
            async move {
                if ctx.sharding_item == 0 && ctx.fire_time >= began {
                    tokio::time::sleep(Duration::from_millis(4000)).await;
                }
                runs.lock().unwrap().push((ctx.sharding_item, ctx.fire_time, String::new()));
                Ok(())
            }
        })
    };
    let scheduler = JobScheduler::builder(cluster.center(&ns), JobConfig::new("busy", "0 0 0 * * ?", 2), job).build().unwrap();
    scheduler.start().await.unwrap();
    let operator = JobOperator::new(cluster.center(&ns));
    scheduler.trigger().await.unwrap();
    // Item 1's triggered run ended and was completed: item 0's is under way for 4 s.
    for _ in 0..200 {
        let items = operator.items("busy").await.unwrap();
        if runs.lock().unwrap().iter().any(|r| r.0 == 1) && items[1].state.as_str() != "RUNNING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    const DAY: i64 = 86_400_000;
    let to = began - began % DAY;
    let id = operator.backfill("busy", to - 3 * DAY, to, "ops", Some(elasticjob::OverlapPolicy::Skip)).await.unwrap();
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = operator.backfills("busy").await.unwrap();
        let ran = |item| runs.lock().unwrap().iter().filter(|r| r.0 == item && r.1 < to).count();
        if listed[0].is_done() && ran(1) == 3 && ran(0) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    scheduler.shutdown().await;
    assert_eq!((listed[0].id.as_str(), listed[0].request.overlap, listed[0].started()), (id.as_str(), elasticjob::OverlapPolicy::Skip, (6, 6)));
    let backfilled = |item: u32| runs.lock().unwrap().iter().filter(|r| r.0 == item && r.1 < to).map(|r| r.1).collect::<Vec<_>>();
    assert_eq!(backfilled(1), (1..=3).rev().map(|days| to - days * DAY).collect::<Vec<_>>(), "item 1 ran every fire");
    assert_eq!(backfilled(0), (1..=2).rev().map(|days| to - days * DAY).collect::<Vec<_>>(), "item 0 skipped the first, then waited");
    let refused = operator.backfill("busy", to - DAY, to, "ops", Some(elasticjob::OverlapPolicy::CancelOther)).await.unwrap_err();
    assert!(refused.to_string().contains("invalid overlap `CANCEL_OTHER`"), "{refused}");
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Cluster::Embedded(elasticjob::EmbeddedServer::new())).await;
                }
            )*
        }
        mod zookeeper {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::zookeeper()).await;
                }
            )*
        }
    };
}

on_both_backends!(
    items_share_exactly_once,
    a_joining_instance_gets_items_and_a_leaving_one_hands_them_over,
    a_panicking_handler_fails_one_item_only,
    a_long_run_misfires_and_reruns_once,
    reserved_fires_start_at_their_instant,
    a_schedule_fires_only_between_start_and_end,
    failed_runs_are_retried_with_backoff,
    max_fires_ends_the_schedule_after_that_many_fires,
    jitter_delays_a_fire_alike_on_every_instance,
    operator_lifecycle,
    a_trigger_can_override_the_overlap_policy,
    a_hung_item_times_out_and_later_fires_still_run,
    items_handed_over_after_a_reservation_still_run_for_that_fire,
    a_misfire_follows_an_item_moved_while_its_run_lasts,
    owners_edited_by_hand_bring_a_resharding,
    a_java_leaders_resharding_that_missed_a_change_is_asked_again,
    jobs_starting_together_reshard_once_each,
    a_paused_job_skips_its_fires_and_never_catches_them_up,
    failed_fires_in_a_row_pause_the_job,
    dependent_jobs_fire_when_their_upstream_fire_ended_on_every_item,
    a_backfill_runs_each_fire_of_its_range_once_per_item,
    a_backfill_with_skip_leaves_out_the_fires_of_a_busy_item,
);
