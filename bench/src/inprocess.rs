//! Instances as schedulers inside the benchmark process, each on a
//! registry session of its own: what the ZooKeeper-cost and scale
//! measurements need (per-instance request counters, dozens of instances)
//! without a process per instance.
//!
//! Each handler records when it started which (item, fire), so a
//! measurement can check that every item ran every fire and how long a
//! fire took to start its last item.

use crate::workers::{bench_config, JOB};
use cluster_tests::workers::now_millis;
use elasticjob::paths::JobPaths;
use elasticjob::registry::{Registry, RequestCounts, ZookeeperOptions, ZookeeperRegistry};
use elasticjob::{Job, JobConfig, JobScheduler, RegistryCenter};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Item starts seen by the handlers of a job: per fire, per item, how many
/// starts and the latest start time; and per instance, its first start.
#[derive(Default)]
pub struct Recorder {
    fires: Mutex<HashMap<i64, FireRecord>>,
    first_start_by: Mutex<HashMap<usize, i64>>,
    /// Per item, every start: (epoch ms, instance index).
    by_item: Mutex<HashMap<u32, Vec<(i64, usize)>>>,
}

/// The starts of one fire.
#[derive(Debug, Clone, Default)]
pub struct FireRecord {
    /// Starts per item.
    pub starts: HashMap<u32, u32>,
    /// Earliest and latest handler start, epoch ms.
    pub first_ms: i64,
    /// Latest handler start, epoch ms.
    pub last_ms: i64,
    /// Starts per instance index, for (item, fire) pairs the index ran.
    pub by_instance: HashMap<usize, Vec<u32>>,
}

impl Recorder {
    fn record(&self, instance: usize, item: u32, fire: i64, at: i64) {
        let mut fires = self.fires.lock().unwrap_or_else(|p| p.into_inner());
        let record = fires.entry(fire).or_insert_with(|| FireRecord { first_ms: at, last_ms: at, ..FireRecord::default() });
        *record.starts.entry(item).or_default() += 1;
        record.first_ms = record.first_ms.min(at);
        record.last_ms = record.last_ms.max(at);
        record.by_instance.entry(instance).or_default().push(item);
        drop(fires);
        self.first_start_by.lock().unwrap_or_else(|p| p.into_inner()).entry(instance).or_insert(at);
        self.by_item.lock().unwrap_or_else(|p| p.into_inner()).entry(item).or_default().push((at, instance));
    }

    /// When every one of `items` had started on an instance other than
    /// `not_by` after `after` (the latest of their first such starts), if all have.
    pub fn all_started_elsewhere(&self, items: &[u32], not_by: usize, after: i64) -> Option<i64> {
        let by_item = self.by_item.lock().unwrap_or_else(|p| p.into_inner());
        let mut latest = after;
        for item in items {
            let first = by_item.get(item)?.iter().filter(|&&(at, who)| at > after && who != not_by).map(|&(at, _)| at).min()?;
            latest = latest.max(first);
        }
        Some(latest)
    }

    /// The starts of fire `fire`, if any.
    pub fn fire(&self, fire: i64) -> Option<FireRecord> {
        self.fires.lock().unwrap_or_else(|p| p.into_inner()).get(&fire).cloned()
    }

    /// When instance `index` first started an item, epoch ms.
    pub fn first_start_by(&self, index: usize) -> Option<i64> {
        self.first_start_by.lock().unwrap_or_else(|p| p.into_inner()).get(&index).copied()
    }
}

/// A recording handler for instance `index` that runs `sleep`.
fn job(recorder: Arc<Recorder>, index: usize, sleep: Duration) -> Job {
    Job::from_fn(move |ctx| {
        let recorder = recorder.clone();
        async move {
            if ctx.fire_time_known {
                recorder.record(index, ctx.sharding_item, ctx.fire_time, now_millis());
            }
            if !sleep.is_zero() {
                tokio::time::sleep(sleep).await;
            }
            Ok(())
        }
    })
}

/// Instances of one job in this process.
pub struct Cluster {
    /// ZooKeeper connect string.
    pub connect: String,
    /// The job's namespace.
    pub namespace: String,
    /// The job's configuration.
    pub config: JobConfig,
    /// Handler duration.
    pub sleep: Duration,
    /// The instances; `None` once one has left.
    pub instances: Vec<Option<Instance>>,
    /// What the handlers saw.
    pub recorder: Arc<Recorder>,
}

/// One instance: its own registry center (and so its own session and
/// request counters) and its scheduler.
pub struct Instance {
    /// Its registry center.
    pub center: RegistryCenter,
    /// Its scheduler.
    pub scheduler: Arc<JobScheduler>,
}

/// Instance id of instance `index`: one process holds them all, so the
/// default (ip and pid) would give them the same id.
pub fn instance_id(index: usize) -> String {
    format!("127.0.0.1@-@bench-{index}")
}

impl Cluster {
    /// A job of `items` items on `cron` (the bench configuration), no instance yet.
    pub fn new(connect: &str, namespace: &str, cron: &str, items: u32, sleep: Duration) -> Cluster {
        Cluster {
            connect: connect.to_string(),
            namespace: namespace.to_string(),
            config: bench_config(JOB, cron, items),
            sleep,
            instances: Vec::new(),
            recorder: Arc::default(),
        }
    }

    fn build(&self, index: usize) -> Instance {
        let center = RegistryCenter::zookeeper(ZookeeperOptions::new(&self.connect, &self.namespace));
        let scheduler = JobScheduler::builder(center.clone(), self.config.clone(), job(self.recorder.clone(), index, self.sleep))
            .instance_id(instance_id(index))
            .build()
            .expect("valid bench scheduler");
        Instance { center, scheduler: Arc::new(scheduler) }
    }

    /// Starts `count` more instances, `parallel` registrations at a time.
    pub async fn add(&mut self, count: usize, parallel: usize) {
        let first = self.instances.len();
        let built: Vec<Instance> = (first..first + count).map(|i| self.build(i)).collect();
        for batch in built.chunks(parallel.max(1)) {
            let mut starts = tokio::task::JoinSet::new();
            for instance in batch {
                let scheduler = instance.scheduler.clone();
                starts.spawn(async move { scheduler.start().await.expect("bench instance registers") });
            }
            while starts.join_next().await.is_some() {}
        }
        self.instances.extend(built.into_iter().map(Some));
    }

    /// Index of the instance that starts next.
    pub fn next_index(&self) -> usize {
        self.instances.len()
    }

    /// Shuts instance `index` down (gracefully) and forgets it.
    pub async fn leave(&mut self, index: usize) {
        if let Some(instance) = self.instances[index].take() {
            instance.scheduler.shutdown().await;
            instance.center.close().await;
        }
    }

    /// The live instances' request counters, by index.
    pub fn counts(&self) -> Vec<(usize, RequestCounts)> {
        self.instances.iter().enumerate().filter_map(|(i, s)| s.as_ref().map(|s| (i, s.center.request_counts()))).collect()
    }

    /// Shuts every instance down, several at a time.
    pub async fn shutdown(mut self) {
        let mut stops = tokio::task::JoinSet::new();
        for instance in self.instances.drain(..).flatten() {
            stops.spawn(async move {
                instance.scheduler.shutdown().await;
                instance.center.close().await;
            });
        }
        while stops.join_next().await.is_some() {}
    }

    /// A registry session of its own on the job's namespace, for looking.
    pub async fn observer(&self) -> ZookeeperRegistry {
        ZookeeperRegistry::connect(ZookeeperOptions::new(&self.connect, &self.namespace)).await.expect("observer connects")
    }
}

/// Waits until no resharding is pending or under way and every item is
/// owned by one of the `live` instance ids; `false` on `timeout`.
pub async fn wait_for_assignment(registry: &ZookeeperRegistry, items: u32, live: &[String], timeout: Duration) -> bool {
    let paths = JobPaths::new(JOB);
    let deadline = Instant::now() + timeout;
    let owner_paths: Vec<String> = (0..items).map(|i| paths.item_instance(i)).collect();
    loop {
        let pending = elasticjob::sharding::service::is_pending(registry, &paths).await.unwrap_or(true);
        if !pending {
            if let Ok(owners) = registry.get_many(&owner_paths).await {
                let settled = owners
                    .iter()
                    .all(|o| o.as_ref().is_some_and(|(id, _)| live.iter().any(|l| l.as_bytes() == id.as_slice())));
                if settled {
                    return true;
                }
            }
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The instance id of the job's leader, if one is elected.
pub async fn leader(registry: &ZookeeperRegistry) -> Option<String> {
    registry.get_string(&JobPaths::new(JOB).leader_instance()).await.ok().flatten()
}

/// Sleeps until the wall clock reads `epoch_ms`.
pub async fn sleep_until(epoch_ms: i64) {
    let now = now_millis();
    if epoch_ms > now {
        tokio::time::sleep(Duration::from_millis((epoch_ms - now) as u64)).await;
    }
}

/// The next multiple of `period_ms` after now, epoch ms (cron fires of
/// `0/N * * * * ?` with N dividing 60 fall on these).
pub fn next_fire(period_ms: i64) -> i64 {
    (now_millis() / period_ms + 1) * period_ms
}
