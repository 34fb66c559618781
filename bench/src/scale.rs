//! Scale that fires: many jobs in one process, one job with many items,
//! and many instances resharding while the job fires.
//!
//! Earlier scale figures used a cron in the year 2099, so nothing ever
//! fired and they measured registration and resharding alone. Here every
//! job fires, every item's runs are checked against the fires expected,
//! and the resharding times are taken while items run.

use crate::cost;
use crate::inprocess::{instance_id, leader, next_fire, sleep_until, wait_for_assignment, Cluster};
use crate::stats::{self, summarize};
use crate::workers::{bench_config, JOB};
use elasticjob::paths::JobPaths;
use cluster_tests::workers::{cpu_seconds, fires_between, now_millis, rss_kib};
use elasticjob::registry::{Registry, ZookeeperOptions};
use elasticjob::{Job, JobEvent, JobScheduler, RegistryCenter};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Jobs in the one-process measurement.
pub const JOBS: usize = 1000;
/// Seconds the thousand jobs are watched firing, once they all fire.
pub const JOBS_WINDOW_S: i64 = 60;
/// How long the thousand jobs may take from registration until a fire
/// starts every one of them (each job elects a leader and shards first).
const JOBS_SETTLE_LIMIT_S: i64 = 30;

fn own_rss() -> Option<u64> {
    rss_kib(std::process::id())
}

fn own_cpu() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(0.0)
}

/// 1,000 jobs of one item each, every second, in this process on one
/// shared session (as one Curator client serves a Java process's jobs):
/// how long after registration a fire first starts every job, then fire
/// lag (scheduled fire to handler start) over [`JOBS_WINDOW_S`] seconds,
/// with CPU and memory.
pub async fn thousand_jobs(connect: &str) -> Value {
    let rss_before = own_rss();
    let center = RegistryCenter::zookeeper(ZookeeperOptions::new(connect, "bench-many-jobs"));
    let lags: Arc<Mutex<Vec<(usize, i64, i64)>>> = Arc::default();
    let mut schedulers = Vec::with_capacity(JOBS);
    for n in 0..JOBS {
        let lags = lags.clone();
        let job = Job::from_fn(move |ctx| {
            let lags = lags.clone();
            async move {
                lags.lock().unwrap_or_else(|p| p.into_inner()).push((n, ctx.fire_time, now_millis() - ctx.fire_time));
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok(())
            }
        });
        let config = bench_config(&format!("job-{n}"), "* * * * * ?", 1);
        schedulers.push(Arc::new(JobScheduler::builder(center.clone(), config, job).build().expect("valid job")));
    }
    let started = Instant::now();
    // All at once: one session pipelines the registrations.
    let mut starts = tokio::task::JoinSet::new();
    for scheduler in &schedulers {
        let scheduler = scheduler.clone();
        starts.spawn(async move { scheduler.start().await.expect("job registers") });
    }
    while starts.join_next().await.is_some() {}
    let start_all_ms = started.elapsed().as_millis() as i64;
    let registered_at = now_millis();
    let started_by = |fire: i64| lags.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|(_, f, _)| *f == fire).count();
    let mut settled_fire = None;
    let mut fire = (registered_at / 1000 + 1) * 1000;
    while fire < registered_at + JOBS_SETTLE_LIMIT_S * 1000 {
        // A fire that starts later than its successor is not started at all.
        sleep_until(fire + 2000).await;
        if started_by(fire) >= JOBS {
            settled_fire = Some(fire);
            break;
        }
        fire += 1000;
    }
    let from = now_millis() + 100;
    let requests_before = center.request_counts();
    let fires = fires_between(from, from + JOBS_WINDOW_S * 1000, 1000);
    sleep_until(from).await;
    let cpu_before = own_cpu();
    sleep_until(fires[fires.len() / 2] + 500).await;
    let rss = own_rss();
    sleep_until(fires[fires.len() - 1] + 950).await;
    let cpu = own_cpu() - cpu_before;
    let sent = center.request_counts().since(&requests_before);
    let seen: Vec<(usize, i64, i64)> =
        lags.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|(_, fire, _)| fires.contains(fire)).copied().collect();
    let distinct: HashSet<(usize, i64)> = seen.iter().map(|&(job, fire, _)| (job, fire)).collect();
    // Per fire of the window, how many jobs started it: a slow start-up
    // (every job's first resharding) shows as low counts at the beginning.
    let started_per_fire: Vec<usize> = fires.iter().map(|f| distinct.iter().filter(|(_, fire)| fire == f).count()).collect();
    let mut stops = tokio::task::JoinSet::new();
    for scheduler in schedulers {
        stops.spawn(async move { scheduler.shutdown().await });
    }
    while stops.join_next().await.is_some() {}
    center.close().await;
    json!({
        "jobs": JOBS,
        "items_per_job": 1,
        "window_s": JOBS_WINDOW_S,
        "start_all_ms": start_all_ms,
        "every_job_fired_after_registration_ms": settled_fire.map(|f| f - registered_at),
        "job_fires_expected": JOBS * fires.len(),
        "job_fires_started": distinct.len(),
        "job_fires_started_per_fire": started_per_fire,
        "fire_lag_ms": summarize(seen.iter().map(|&(_, _, lag)| lag).collect()),
        // What the one session got through: with fires falling behind,
        // this is the registry's pace, not the jobs' demand.
        "requests_per_second": stats::round2((sent.reads + sent.writes) as f64 / fires.len() as f64),
        "operations_per_second": stats::round2((sent.read_ops + sent.write_ops) as f64 / fires.len() as f64),
        "cpu_seconds": stats::round2(cpu),
        "cpu_share_of_one_core": stats::round2(cpu / fires.len() as f64),
        "rss_growth_kib": rss.zip(rss_before).map(|(a, b)| a.saturating_sub(b)),
    })
}

/// Items of the big job.
pub const BIG_ITEMS: u32 = 10_000;
/// Its period, ms.
pub const BIG_PERIOD_MS: i64 = 5000;

/// One job of 10,000 items on three instances, every 5 s: every item
/// checked in every fire, time from the fire to its last item's start,
/// and the ZooKeeper cost row for 10,000 items.
pub async fn big_job(connect: &str) -> (Value, Value) {
    let mut measured = cost::measure(connect, &[BIG_ITEMS], BIG_PERIOD_MS, 3).await;
    let measured = measured.pop().expect("one job measured");
    // The last fire's runs have had 60% of a period; give the checks a
    // full period.
    sleep_until(measured.fires[measured.fires.len() - 1] + BIG_PERIOD_MS).await;
    let runs = cost::runs_summary(&measured.cluster, &measured.fires);
    measured.cluster.shutdown().await;
    let mut row = measured.row;
    row["runs"] = runs.clone();
    (row, json!({ "items": BIG_ITEMS, "instances": 3, "period_ms": BIG_PERIOD_MS, "runs": runs }))
}

/// Instances of the resharding measurement.
pub const RESHARD_INSTANCES: usize = 50;
/// How long its handlers run: a join or leave 100 ms into a fire finds
/// items running (an instance's 200 items pass through its pool of four
/// runners in about a second), so resharding has to wait for them, and a
/// fire still ends well within the period.
const RESHARD_SLEEP_MS: u64 = 20;

/// 50 instances (in this process, each on its own session) of one job of
/// 10,000 items firing every 5 s; one joins 100 ms into a fire, later one
/// leaves 100 ms into a fire. Measured: until the leader wrote the new
/// assignment, and until the moved items ran under it. Whether the fires
/// keep up at all is in `runs` (fire to last item started, items missed):
/// resharding waits for running items, so a job whose fires fall behind
/// reshards late.
pub async fn fifty_instances(connect: &str) -> Value {
    let rss_before = own_rss();
    let cron = format!("0/{} * * * * ?", BIG_PERIOD_MS / 1000);
    let mut cluster = Cluster::new(connect, "bench-reshard", &cron, BIG_ITEMS, Duration::from_millis(RESHARD_SLEEP_MS));
    let started = Instant::now();
    cluster.add(RESHARD_INSTANCES, 10).await;
    let start_all_ms = started.elapsed().as_millis() as i64;
    let observer = cluster.observer().await;
    let live: Vec<String> = (0..RESHARD_INSTANCES).map(instance_id).collect();
    let settled_at = Instant::now();
    let settled = wait_for_assignment(&observer, BIG_ITEMS, &live, Duration::from_secs(60)).await;
    let settle_ms = settled_at.elapsed().as_millis() as i64;
    let (sharded_tx, mut sharded) = tokio::sync::mpsc::unbounded_channel();
    for instance in cluster.instances.iter().flatten() {
        forward_sharded(&instance.scheduler, sharded_tx.clone());
    }
    let first_fire = next_fire(BIG_PERIOD_MS);

    // A join during a fire.
    let join_fire = first_fire + BIG_PERIOD_MS;
    sleep_until(join_fire + 100).await;
    let joiner = cluster.next_index();
    let join_at = now_millis();
    cluster.add(1, 1).await;
    let registered_ms = now_millis() - join_at;
    if let Some(instance) = &cluster.instances[joiner] {
        forward_sharded(&instance.scheduler, sharded_tx.clone());
    }
    let joined_id = instance_id(joiner);
    let join_assigned = wait_sharded(&mut sharded, |owners| owners.contains(&joined_id), join_at).await;
    let join_first_start = wait_for(|| cluster.recorder.first_start_by(joiner), Duration::from_secs(20)).await;

    // A leave during a fire, of an instance that is not the leader.
    let leader_id = leader(&observer).await.unwrap_or_default();
    let leaver = (1..RESHARD_INSTANCES).find(|&i| instance_id(i) != leader_id).unwrap_or(1);
    // Its items, read before the fire it leaves in (reading 10,000 owners
    // takes a while): nothing reshards in between.
    let leaver_id = instance_id(leaver);
    let owner_paths: Vec<String> = (0..BIG_ITEMS).map(|i| JobPaths::new(JOB).item_instance(i)).collect();
    let leaver_items: Vec<u32> = observer
        .get_many(&owner_paths)
        .await
        .unwrap_or_default()
        .into_iter()
        .zip(0..)
        .filter(|(owner, _)| owner.as_ref().is_some_and(|(id, _)| id == leaver_id.as_bytes()))
        .map(|(_, item)| item)
        .collect();
    let leave_fire = next_fire(BIG_PERIOD_MS);
    sleep_until(leave_fire + 100).await;
    let leave_at = now_millis();
    cluster.leave(leaver).await;
    let shutdown_ms = now_millis() - leave_at;
    let leave_assigned = wait_sharded(&mut sharded, |owners| !owners.contains(&leaver_id), leave_at).await;
    let moved_started =
        wait_for(|| cluster.recorder.all_started_elsewhere(&leaver_items, leaver, leave_at), Duration::from_secs(40)).await;
    // Every fire up to the one that ran the leaver's items elsewhere,
    // judged two periods after the last of them: a fire held up by a
    // resharding starts its items seconds late, and they pass through
    // each instance's runners for a while after that.
    let fires = fires_between(first_fire - 1, now_millis(), BIG_PERIOD_MS);
    sleep_until(fires[fires.len() - 1] + 2 * BIG_PERIOD_MS).await;
    let runs = cost::runs_summary(&cluster, &fires);
    let rss = own_rss();
    observer.close().await;
    cluster.shutdown().await;
    json!({
        "instances": RESHARD_INSTANCES,
        "items": BIG_ITEMS,
        "period_ms": BIG_PERIOD_MS,
        "handler_ms": RESHARD_SLEEP_MS,
        "start_all_ms": start_all_ms,
        "assignment_settled": settled,
        "settle_after_last_start_ms": settle_ms,
        "join": {
            "fire": join_fire,
            "at_ms_into_fire": join_at - join_fire,
            "registration_ms": registered_ms,
            "to_new_assignment_ms": join_assigned.map(|t| t - join_at),
            "to_first_item_started_ms": join_first_start.map(|t| t - join_at),
        },
        "leave": {
            "fire": leave_fire,
            "at_ms_into_fire": leave_at - leave_fire,
            "items_it_owned": leaver_items.len(),
            "shutdown_returned_ms": shutdown_ms,
            "to_new_assignment_ms": leave_assigned.map(|t| t - leave_at),
            "to_its_items_started_elsewhere_ms": moved_started.map(|t| t - leave_at),
        },
        "runs": runs,
        "rss_growth_kib_all_in_one_process": rss.zip(rss_before).map(|(a, b)| a.saturating_sub(b)),
    })
}

/// Forwards the instance ids of each assignment `scheduler` writes as leader.
fn forward_sharded(scheduler: &Arc<JobScheduler>, to: tokio::sync::mpsc::UnboundedSender<(i64, Vec<String>)>) {
    let mut events = scheduler.events();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(JobEvent::Sharded(assignment)) => {
                    let owners = assignment.into_iter().filter(|(_, items)| !items.is_empty()).map(|(id, _)| id).collect();
                    if to.send((now_millis(), owners)).is_err() {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    });
}

/// When the first assignment written after `since` whose owners satisfy
/// `wanted` was written, epoch ms (`None` after 60 s).
async fn wait_sharded(
    sharded: &mut tokio::sync::mpsc::UnboundedReceiver<(i64, Vec<String>)>,
    wanted: impl Fn(&Vec<String>) -> bool,
    since: i64,
) -> Option<i64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (at, owners) = tokio::time::timeout_at(deadline, sharded.recv()).await.ok()??;
        if at >= since && wanted(&owners) {
            return Some(at);
        }
    }
}

/// Polls `probe` every 10 ms until it gives a value (`None` after `timeout`).
async fn wait_for<T>(probe: impl Fn() -> Option<T>, timeout: Duration) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
