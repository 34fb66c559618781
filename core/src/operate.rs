//! The lifecycle API: what an operator (console, CLI, script) does to jobs
//! that run elsewhere, purely by writing the registry nodes the instances
//! watch, as Java ElasticJob's operate and statistics APIs do.

use crate::config::JobConfig;
use crate::election;
use crate::error::{Error, Result};
use crate::execution::LastFire;
use crate::overlap::OverlapPolicy;
use crate::pause::{self, PauseNote};
use crate::paths::JobPaths;
use crate::registry::{CreateMode, Registry, RegistryCenter};
use crate::sharding::service::{self as sharding, children_or_empty, SERVER_DISABLED, SERVER_ENABLED};
use crate::trigger::TriggerRequest;
use std::sync::Arc;

/// Health of a job as a whole, as ElasticJob's console shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobStatus {
    /// Instances are live and every item is owned by one of them.
    Ok,
    /// No live instance, and the last one did not leave gracefully (or
    /// it was a Java instance, which does not say).
    Crashed,
    /// No live instance: the last one left gracefully (shut down). Ours
    /// only; Java ElasticJob's console shows such a job as `CRASHED`.
    Stopped,
    /// Every server of the job is disabled.
    Disabled,
    /// Paused ([`JobOperator::pause`]); ours only (Java instances ignore a pause).
    Paused,
    /// Resharding is pending, or an item is owned by an instance that is gone.
    ShardingFlag,
}

impl JobStatus {
    /// The name Java ElasticJob's console uses (`OK`, `CRASHED`, `DISABLED`, `SHARDING_FLAG`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Ok => "OK",
            JobStatus::Crashed => "CRASHED",
            JobStatus::Stopped => "STOPPED",
            JobStatus::Disabled => "DISABLED",
            JobStatus::Paused => "PAUSED",
            JobStatus::ShardingFlag => "SHARDING_FLAG",
        }
    }
}

/// A job in the namespace.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JobBrief {
    /// Its configuration as stored in the registry.
    pub config: JobConfig,
    /// Its health.
    pub status: JobStatus,
    /// How many instances are live.
    pub instance_count: usize,
    /// The note of a pause in force, if any.
    pub pause: Option<PauseNote>,
}

/// A live instance of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstanceBrief {
    /// `{ip}@-@{pid}`.
    pub instance_id: String,
    /// Its host.
    pub server_ip: String,
    /// Whether it is the job's leader.
    pub leader: bool,
    /// Whether its host is enabled.
    pub enabled: bool,
}

/// State of one item, as ElasticJob's console shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ItemState {
    /// Running now.
    Running,
    /// Waiting for its next fire.
    Pending,
    /// Disabled by an operator.
    Disabled,
    /// Its owner is gone; resharding will give it to a live instance.
    ShardingFlag,
}

impl ItemState {
    /// The name Java ElasticJob's console uses (`RUNNING`, `PENDING`, `DISABLED`, `SHARDING_FLAG`).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Running => "RUNNING",
            ItemState::Pending => "PENDING",
            ItemState::Disabled => "DISABLED",
            ItemState::ShardingFlag => "SHARDING_FLAG",
        }
    }
}

/// One item of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ItemBrief {
    /// The item.
    pub item: u32,
    /// Its owner, if assigned.
    pub instance_id: Option<String>,
    /// Its state.
    pub state: ItemState,
    /// The instance running it in place of a crashed one, if any.
    pub failover_instance: Option<String>,
    /// Which fire it runs (when running), epoch milliseconds.
    pub running_fire: Option<i64>,
}

/// Writes a trigger request (`trigger/{instanceId}`) for every live
/// instance of the job, as Java's `triggerAllInstances` does (operators'
/// trigger and `OneOffJobBootstrap.execute`). Each instance takes its own
/// request once and runs its items; a request that already waits is one
/// run, not two. Creating twice is harmless, so connection loss is retried.
pub(crate) async fn trigger_all_instances(session: &dyn Registry, paths: &JobPaths, request: TriggerRequest) -> Result<()> {
    let now = request.to_bytes(chrono::Utc::now().timestamp_millis());
    let root = paths.instances();
    let instances = crate::resolve::retry(|| children_or_empty(session, &root)).await?;
    for id in instances {
        let path = paths.trigger(&id);
        match crate::resolve::retry(|| session.create_with_parents(&path, &now, CreateMode::Persistent)).await {
            Ok(_) | Err(Error::NodeExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Operates the jobs of one namespace.
#[derive(Clone, Debug)]
pub struct JobOperator {
    center: RegistryCenter,
}

impl JobOperator {
    /// An operator on the namespace of `center`.
    pub fn new(center: RegistryCenter) -> Self {
        JobOperator { center }
    }

    async fn session(&self) -> Result<Arc<dyn Registry>> {
        self.center.session().await
    }

    async fn existing_job(&self, job_name: &str) -> Result<(Arc<dyn Registry>, JobPaths)> {
        let session = self.session().await?;
        let paths = JobPaths::new(job_name);
        if job_name.is_empty() || job_name.contains('/') || session.exists(&paths.config()).await?.is_none() {
            return Err(Error::invalid("jobName", job_name, "no such job in this namespace"));
        }
        Ok((session, paths))
    }

    /// Asks every live instance of the job to run its items now; an item
    /// still running runs once more when it ends.
    pub async fn trigger(&self, job_name: &str) -> Result<()> {
        self.trigger_with(job_name, None).await
    }

    /// [`Self::trigger`], with `overlap` deciding instead what happens to
    /// items still running: `SKIP` leaves them out, `CANCEL_OTHER` tells
    /// their runs to stop and runs them once they returned, `BUFFER_ONE`
    /// and `BUFFER_ALL` run them once more when they end. A request that
    /// still waits for an instance is not replaced.
    pub async fn trigger_with(&self, job_name: &str, overlap: Option<OverlapPolicy>) -> Result<()> {
        let (session, paths) = self.existing_job(job_name).await?;
        trigger_all_instances(&*session, &paths, TriggerRequest { overlap }).await
    }

    /// Disables the job on one server, or on every server when `server_ip` is `None`.
    pub async fn disable(&self, job_name: &str, server_ip: Option<&str>) -> Result<()> {
        self.set_servers(job_name, server_ip, SERVER_DISABLED).await
    }

    /// Enables the job on one server, or on every server when `server_ip` is `None`.
    pub async fn enable(&self, job_name: &str, server_ip: Option<&str>) -> Result<()> {
        self.set_servers(job_name, server_ip, SERVER_ENABLED).await
    }

    async fn set_servers(&self, job_name: &str, server_ip: Option<&str>, status: &str) -> Result<()> {
        let (session, paths) = self.existing_job(job_name).await?;
        let servers = match server_ip {
            Some(ip) => vec![ip.to_string()],
            None => children_or_empty(&*session, &paths.servers()).await?,
        };
        if status == SERVER_ENABLED {
            let mut was_disabled = false;
            for ip in &servers {
                was_disabled |= session.get_string(&paths.server(ip)).await?.as_deref() == Some(SERVER_DISABLED);
            }
            // Before the enable: no instance may catch up what the disable skipped.
            if was_disabled {
                crate::enablement::note_enabled(&*session, &paths).await?;
            }
        }
        for ip in servers {
            session.put(&paths.server(&ip), status.as_bytes()).await?;
        }
        Ok(())
    }

    /// Pauses the job on every instance of ours from its next fire on,
    /// with a note saying who, why and (with `until`) when it resumes by
    /// itself. Fires a pause skips are never caught up; triggers still run.
    /// A pause in force is replaced.
    pub async fn pause(&self, job_name: &str, note: &PauseNote) -> Result<()> {
        let (session, paths) = self.existing_job(job_name).await?;
        pause::pause(&*session, &paths, note).await
    }

    /// Resumes a paused job: it fires again from its next fire, and every
    /// item's failure streak starts again. Returns whether it was paused.
    pub async fn resume(&self, job_name: &str) -> Result<bool> {
        let (session, paths) = self.existing_job(job_name).await?;
        pause::resume(&*session, &paths).await
    }

    /// The note of the job's pause in force, if it is paused.
    pub async fn pause_note(&self, job_name: &str) -> Result<Option<PauseNote>> {
        let (session, paths) = self.existing_job(job_name).await?;
        in_force(&*session, &paths).await
    }

    /// Runs the job for every fire of its cron in `[from, to)` (epoch ms;
    /// `to` not in the future), on every item, oldest first per item, each
    /// (item, fire) once cluster-wide; returns the backfill's id. It runs
    /// on the instances of ours beside the schedule, paused or not.
    /// `overlap` says what a fire does to an item still running when its
    /// turn comes: wait (`None` or `BUFFER_ALL`), or leave it out (`SKIP`).
    pub async fn backfill(&self, job_name: &str, from: i64, to: i64, by: &str, overlap: Option<OverlapPolicy>) -> Result<String> {
        let (session, paths) = self.existing_job(job_name).await?;
        let config = load_config(&*session, &paths).await?;
        let overlap = overlap.unwrap_or(OverlapPolicy::BufferAll);
        let at = chrono::Utc::now().timestamp_millis();
        let request = crate::backfill::BackfillRequest { from, to, by: by.trim().to_string(), at, overlap };
        crate::backfill::request(&*session, &paths, &config, &request).await
    }

    /// The job's backfills with each item's progress, oldest first.
    pub async fn backfills(&self, job_name: &str) -> Result<Vec<crate::backfill::Backfill>> {
        let (session, paths) = self.existing_job(job_name).await?;
        let config = load_config(&*session, &paths).await?;
        crate::backfill::list(&*session, &paths, &config).await
    }

    /// Forgets a backfill (a finished one, or to stop one: runs in flight
    /// finish, no more start). An unknown id is an error naming it.
    pub async fn cancel_backfill(&self, job_name: &str, id: &str) -> Result<()> {
        let (session, paths) = self.existing_job(job_name).await?;
        if crate::backfill::seq_of(id).is_none() {
            return Err(Error::invalid("id", id, "is not a backfill id (bf-0000000001, …)"));
        }
        crate::backfill::cancel(&*session, &paths, id).await
    }

    /// Stops one item from running until enabled again.
    pub async fn disable_item(&self, job_name: &str, item: u32) -> Result<()> {
        let (session, paths) = self.existing_job(job_name).await?;
        self.check_item(&*session, &paths, job_name, item).await?;
        session.put(&paths.item_disabled(item), b"").await
    }

    /// Lets a disabled item run again.
    pub async fn enable_item(&self, job_name: &str, item: u32) -> Result<()> {
        let (session, paths) = self.existing_job(job_name).await?;
        self.check_item(&*session, &paths, job_name, item).await?;
        if session.exists(&paths.item_disabled(item)).await?.is_some() {
            crate::enablement::note_enabled(&*session, &paths).await?;
        }
        match session.delete(&paths.item_disabled(item), None).await {
            Ok(()) | Err(Error::NoNode(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn check_item(&self, session: &dyn Registry, paths: &JobPaths, job_name: &str, item: u32) -> Result<()> {
        let config = load_config(session, paths).await?;
        if item >= config.item_count() {
            return Err(Error::invalid(
                "item",
                item,
                format!("job `{job_name}` has items 0..{}", config.sharding_total_count),
            ));
        }
        Ok(())
    }

    /// Shuts down the job's instances on one server, or all of them: each
    /// instance sees its node go, finishes its running items and stops.
    pub async fn shutdown(&self, job_name: &str, server_ip: Option<&str>) -> Result<()> {
        let (session, paths) = self.existing_job(job_name).await?;
        for id in children_or_empty(&*session, &paths.instances()).await? {
            if server_ip.map_or(true, |ip| id.split(crate::instance::DELIMITER).next() == Some(ip)) {
                match session.delete(&paths.instance(&id), None).await {
                    Ok(()) | Err(Error::NoNode(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Removes a server from the job, or the whole job when `server_ip` is
    /// `None`. Refuses while instances of it are live: shut them down first.
    pub async fn remove(&self, job_name: &str, server_ip: Option<&str>) -> Result<()> {
        let (session, paths) = self.existing_job(job_name).await?;
        let live: Vec<String> = children_or_empty(&*session, &paths.instances())
            .await?
            .into_iter()
            .filter(|id| server_ip.map_or(true, |ip| id.split(crate::instance::DELIMITER).next() == Some(ip)))
            .collect();
        if !live.is_empty() {
            return Err(Error::IllegalState(format!(
                "job `{job_name}` still has live instances {live:?}: shut them down before removing"
            )));
        }
        match server_ip {
            Some(ip) => session.delete_recursive(&paths.server(ip)).await,
            None => session.delete_recursive(paths.root()).await,
        }
    }

    /// Replaces the job's configuration; live instances pick it up.
    pub async fn update_config(&self, config: &JobConfig) -> Result<()> {
        config.validate()?;
        let (session, paths) = self.existing_job(&config.job_name).await?;
        if let Some(deps) = crate::dependency::Dependencies::from_props(&config.job_name, &config.props)? {
            crate::dependency::check_no_cycle(&*session, &config.job_name, &deps.upstream).await?;
        }
        session.put(&paths.config(), config.to_yaml()?.as_bytes()).await
    }

    /// The job's configuration as stored in the registry.
    pub async fn config(&self, job_name: &str) -> Result<JobConfig> {
        let (session, paths) = self.existing_job(job_name).await?;
        load_config(&*session, &paths).await
    }

    /// Every job of the namespace with its health.
    pub async fn jobs(&self) -> Result<Vec<JobBrief>> {
        let session = self.session().await?;
        let mut jobs = Vec::new();
        for name in children_or_empty(&*session, "/").await? {
            let paths = JobPaths::new(&name);
            let Some(yaml) = session.get_string(&paths.config()).await? else { continue };
            let Ok(config) = JobConfig::from_registry_yaml(&yaml) else { continue };
            let instances = children_or_empty(&*session, &paths.instances()).await?;
            let pause = in_force(&*session, &paths).await?;
            let mut status = job_status(&*session, &paths, &config, &instances).await?;
            if pause.is_some() && matches!(status, JobStatus::Ok | JobStatus::ShardingFlag) {
                status = JobStatus::Paused;
            }
            jobs.push(JobBrief { config, status, instance_count: instances.len(), pause });
        }
        Ok(jobs)
    }

    /// The live instances of a job.
    pub async fn instances(&self, job_name: &str) -> Result<Vec<InstanceBrief>> {
        let (session, paths) = self.existing_job(job_name).await?;
        let leader = election::leader(&*session, &paths).await?;
        let mut instances = Vec::new();
        for id in children_or_empty(&*session, &paths.instances()).await? {
            let ip = id.split(crate::instance::DELIMITER).next().unwrap_or_default().to_string();
            instances.push(InstanceBrief {
                leader: leader.as_deref() == Some(id.as_str()),
                enabled: sharding::is_server_enabled(&*session, &paths, &ip).await?,
                instance_id: id,
                server_ip: ip,
            });
        }
        Ok(instances)
    }

    /// Every item of a job with its owner and state.
    pub async fn items(&self, job_name: &str) -> Result<Vec<ItemBrief>> {
        let (session, paths) = self.existing_job(job_name).await?;
        let config = load_config(&*session, &paths).await?;
        let live = children_or_empty(&*session, &paths.instances()).await?;
        let mut items = Vec::new();
        for (item, owner) in sharding::owners(&*session, &paths, config.item_count()).await? {
            let instance_id = owner.map(|(id, _)| id);
            let running = session.exists(&paths.item_running(item)).await?;
            let state = if session.exists(&paths.item_disabled(item)).await?.is_some() {
                ItemState::Disabled
            } else if running.is_some() {
                ItemState::Running
            } else if instance_id.as_ref().map_or(true, |id| !live.contains(id)) {
                ItemState::ShardingFlag
            } else {
                ItemState::Pending
            };
            items.push(ItemBrief {
                item,
                instance_id,
                state,
                failover_instance: session.get_string(&paths.item_failover(item)).await?,
                running_fire: match running {
                    Some(_) => session.get(&paths.item_fired(item)).await?.and_then(|(d, _)| LastFire::parse(&d)).map(|l| l.fire_time),
                    None => None,
                },
            });
        }
        Ok(items)
    }
}

/// The job's pause note while it is in force (one past its end is not).
async fn in_force(session: &dyn Registry, paths: &JobPaths) -> Result<Option<PauseNote>> {
    let now = chrono::Utc::now().timestamp_millis();
    Ok(pause::read(session, paths).await?.map(|(note, _)| note).filter(|note| note.in_force(now)))
}

async fn load_config(session: &dyn Registry, paths: &JobPaths) -> Result<JobConfig> {
    let yaml = session.get_string(&paths.config()).await?.ok_or_else(|| Error::NoNode(paths.config()))?;
    JobConfig::from_registry_yaml(&yaml)
}

async fn job_status(session: &dyn Registry, paths: &JobPaths, config: &JobConfig, instances: &[String]) -> Result<JobStatus> {
    if instances.is_empty() {
        let stopped = session.exists(&paths.stopped()).await?.is_some();
        return Ok(if stopped { JobStatus::Stopped } else { JobStatus::Crashed });
    }
    let servers = children_or_empty(session, &paths.servers()).await?;
    let mut all_disabled = !servers.is_empty();
    for ip in &servers {
        all_disabled &= !sharding::is_server_enabled(session, paths, ip).await?;
    }
    if all_disabled {
        return Ok(JobStatus::Disabled);
    }
    if sharding::is_pending(session, paths).await?
        || sharding::has_orphaned_items(session, paths, config.item_count()).await?
    {
        return Ok(JobStatus::ShardingFlag);
    }
    Ok(JobStatus::Ok)
}
