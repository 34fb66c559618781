//! `JobScheduler`: one job in one instance. It registers the instance, keeps
//! a recursive watch on the job's nodes, fires on the cron schedule, and
//! wires the services (election, sharding, execution, failover, reconcile)
//! together. Each registry session is one "incarnation": when a session
//! expires the scheduler registers again with a fresh one, and everything
//! still running on the old session is fenced off by it.

use crate::config::JobConfig;
use crate::cron::CronSchedule;
use crate::election;
use crate::error::{Error, Result};
use crate::event::{Execution, JobEvent, Outcome};
use crate::execution::{self, OwnedItem};
use crate::failover;
use crate::instance::{InstanceId, InstanceNode};
use crate::job::{Job, JobSettings, ShardingContext};
use crate::paths::{JobNode, JobPaths};
use crate::reconcile;
use crate::registry::{CreateMode, EventKind, Registry, RegistryCenter, SessionEvent, WatchEvent};
use crate::sharding::service::{self as sharding, ShardingPlan};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, watch, Semaphore};
use tokio::task::JoinSet;

/// Builds a [`JobScheduler`].
pub struct JobSchedulerBuilder {
    center: RegistryCenter,
    config: JobConfig,
    job: Job,
    instance_id: Option<String>,
    max_parallel: Option<usize>,
    shutdown_timeout: Duration,
}

impl JobSchedulerBuilder {
    /// Overrides the instance id (default `{ip}@-@{pid}`); needed only to run
    /// several instances of one job in a single process, as the demo does.
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance_id = Some(id.into());
        self
    }

    /// How many items of this instance may run at once (default: twice the CPU count).
    pub fn max_parallel(mut self, n: usize) -> Self {
        self.max_parallel = Some(n.max(1));
        self
    }

    /// How long `shutdown` waits for running items before leaving anyway (default 60 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Validates everything and builds the (not yet started) scheduler.
    pub fn build(self) -> Result<JobScheduler> {
        self.config.validate()?;
        let cron = parse_cron(&self.config)?;
        let instance = match self.instance_id {
            Some(id) => InstanceId::parse(&id)?,
            None => InstanceId::local(),
        };
        let parallel = self.max_parallel.unwrap_or_else(|| {
            std::thread::available_parallelism().map(|n| n.get() * 2).unwrap_or(4)
        });
        let (events, _) = broadcast::channel(1024);
        let (stop, _) = watch::channel(false);
        Ok(JobScheduler {
            inner: Arc::new(Inner {
                job_name: self.config.job_name.clone(),
                center: self.center,
                paths: JobPaths::new(&self.config.job_name),
                instance,
                job: self.job,
                state: RwLock::new(Shared { config: self.config, cron }),
                events,
                pool: Arc::new(Semaphore::new(parallel)),
                local: Mutex::new(LocalRuns::default()),
                reshard_lock: tokio::sync::Mutex::new(()),
                stop,
                shutdown_timeout: self.shutdown_timeout,
                session_lost: tokio::sync::Notify::new(),
            }),
            task: tokio::sync::Mutex::new(None),
        })
    }
}

fn parse_cron(config: &JobConfig) -> Result<Option<CronSchedule>> {
    if config.cron.trim().is_empty() {
        return Ok(None);
    }
    CronSchedule::parse(&config.cron, config.time_zone.as_deref()).map(Some)
}

/// One job scheduled in this process.
pub struct JobScheduler {
    inner: Arc<Inner>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The configuration in force and its parsed cron.
struct Shared {
    config: JobConfig,
    cron: Option<CronSchedule>,
}

/// What this process is running right now.
#[derive(Default)]
struct LocalRuns {
    /// A scheduled/triggered fire is in progress.
    fire_in_progress: bool,
    /// Items of the fire in progress (for misfire marks).
    fire_items: Vec<u32>,
    /// Every item running here, fires and failovers alike.
    items: BTreeSet<u32>,
    /// Failover runs in progress.
    failovers: usize,
}

struct Inner {
    job_name: String,
    center: RegistryCenter,
    paths: JobPaths,
    instance: InstanceId,
    job: Job,
    state: RwLock<Shared>,
    events: broadcast::Sender<JobEvent>,
    pool: Arc<Semaphore>,
    local: Mutex<LocalRuns>,
    /// One resharding at a time in this process.
    reshard_lock: tokio::sync::Mutex<()>,
    stop: watch::Sender<bool>,
    shutdown_timeout: Duration,
    /// Raised when a registry call finds the session expired, in case the
    /// client has not announced it (yet).
    session_lost: tokio::sync::Notify,
}

/// Why a fire happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FireKind {
    Scheduled,
    Triggered,
}

impl JobScheduler {
    /// Starts building a scheduler for `job` with `config` on `center`.
    pub fn builder(center: RegistryCenter, config: JobConfig, job: Job) -> JobSchedulerBuilder {
        JobSchedulerBuilder {
            center,
            config,
            job,
            instance_id: None,
            max_parallel: None,
            shutdown_timeout: Duration::from_secs(60),
        }
    }

    /// Registers this instance and starts firing. Returns once registered.
    pub async fn start(&self) -> Result<()> {
        let mut task = self.task.lock().await;
        if task.is_some() {
            return Err(Error::IllegalState(format!("job `{}` is already started", self.job_name())));
        }
        if *self.inner.stop.borrow() {
            return Err(Error::IllegalState(format!("job `{}` was shut down", self.job_name())));
        }
        let session = self.inner.center.session().await?;
        self.inner.register(&*session).await?;
        let inner = self.inner.clone();
        *task = Some(tokio::spawn(async move { inner.run(Some(session)).await }));
        Ok(())
    }

    /// Runs this instance's items once, now (outside the cron schedule).
    pub async fn trigger(&self) -> Result<()> {
        if self.task.lock().await.is_none() {
            return Err(Error::IllegalState(format!("job `{}` is not running: start it first", self.job_name())));
        }
        let session = self.inner.center.session().await?;
        self.inner.clone().launch_fire(session, now_millis(), FireKind::Triggered);
        Ok(())
    }

    /// Stops firing, waits for running items (up to the shutdown timeout),
    /// gives up leadership and removes this instance from the cluster.
    pub async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }

    /// Subscribes to what the scheduler reports.
    pub fn events(&self) -> broadcast::Receiver<JobEvent> {
        self.inner.events.subscribe()
    }

    /// This instance's id.
    pub fn instance_id(&self) -> &str {
        self.inner.instance.as_str()
    }

    /// The job's name.
    pub fn job_name(&self) -> &str {
        &self.inner.job_name
    }

    /// The configuration in force (the registry's, if it was not overwritten).
    pub fn config(&self) -> JobConfig {
        self.inner.state_read().config.clone()
    }

    /// Whether `shutdown` was called or an operator shut this instance down.
    pub fn is_shut_down(&self) -> bool {
        *self.inner.stop.borrow()
    }
}

impl Drop for JobScheduler {
    fn drop(&mut self) {
        self.inner.stop.send_replace(true);
    }
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Inner {
    fn state_read(&self) -> std::sync::RwLockReadGuard<'_, Shared> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn config(&self) -> JobConfig {
        self.state_read().config.clone()
    }

    fn local(&self) -> std::sync::MutexGuard<'_, LocalRuns> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reports a failure; an expired session also makes the scheduler register anew.
    fn fail(&self, context: &str, error: Error) {
        if error == Error::SessionExpired {
            self.session_lost.notify_one();
        }
        self.emit(JobEvent::Error(format!("{context}: {error}")));
    }

    fn emit(&self, event: JobEvent) {
        if let JobEvent::Error(message) = &event {
            tracing::error!(job = %self.paths.root(), instance = %self.instance, "{message}");
        }
        let _ = self.events.send(event);
    }

    fn running_mode(&self) -> CreateMode {
        // Failover needs the mark to outlive a crashed owner.
        if self.config().failover {
            CreateMode::Persistent
        } else {
            CreateMode::Ephemeral
        }
    }

    fn plan_count(&self) -> u32 {
        self.state_read().config.item_count()
    }

    /// Publishes config, server and instance nodes, elects, and flags resharding.
    async fn register(&self, session: &dyn Registry) -> Result<()> {
        let paths = &self.paths;
        let local = self.config();
        let remote = session.get_string(&paths.config()).await?;
        match remote {
            Some(yaml) if !local.overwrite => {
                let config = JobConfig::from_yaml(&yaml)?;
                let cron = parse_cron(&config)?;
                *self.state.write().unwrap_or_else(|p| p.into_inner()) = Shared { config, cron };
            }
            _ => session.put(&paths.config(), local.to_yaml()?.as_bytes()).await?,
        }
        let config = self.config();
        let server_status = if config.disabled { sharding::SERVER_DISABLED } else { sharding::SERVER_ENABLED };
        session.put(&paths.server(self.instance.ip()), server_status.as_bytes()).await?;
        let node = InstanceNode::new(&self.instance, config.label.clone());
        let yaml = serde_yaml_ng::to_string(&node).map_err(|e| Error::Registry(e.to_string()))?;
        match session.create_with_parents(&paths.instance(self.instance.as_str()), yaml.as_bytes(), CreateMode::Ephemeral).await {
            Ok(_) => {}
            Err(Error::NodeExists(path)) => {
                let owner = session.exists(&path).await?.map(|s| s.ephemeral_owner);
                if owner != Some(session.session_id()) {
                    return Err(Error::IllegalState(format!(
                        "instance id `{}` is already registered by another live process for job `{}`",
                        self.instance, config.job_name
                    )));
                }
            }
            Err(e) => return Err(e),
        }
        election::elect(session, paths, self.instance.as_str()).await?;
        sharding::set_necessary(session, paths).await?;
        tracing::info!(job = %config.job_name, instance = %self.instance, "registered");
        Ok(())
    }

    /// The scheduler's life: one loop per registry session until stopped.
    async fn run(self: Arc<Self>, mut first: Option<Arc<dyn Registry>>) {
        let mut stop = self.stop.subscribe();
        loop {
            if *stop.borrow() {
                break;
            }
            let session = match first.take() {
                Some(s) => s,
                None => match self.reconnect().await {
                    Some(s) => s,
                    None => {
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                            _ = stop.changed() => break,
                        }
                    }
                },
            };
            match self.clone().serve(session.clone(), &mut stop).await {
                SessionEnd::Stopped => {
                    self.leave(&*session).await;
                    break;
                }
                SessionEnd::Lost => {
                    tracing::warn!(job = %self.paths.root(), instance = %self.instance, "registry session lost, registering again");
                    self.center.discard(session.session_id()).await;
                }
            }
        }
        self.emit(JobEvent::Stopped);
    }

    async fn reconnect(&self) -> Option<Arc<dyn Registry>> {
        let session = match self.center.session().await {
            Ok(s) => s,
            Err(e) => {
                self.emit(JobEvent::Error(format!("cannot reach the registry: {e}")));
                return None;
            }
        };
        match self.register(&*session).await {
            Ok(()) => Some(session),
            Err(e) => {
                self.emit(JobEvent::Error(format!("cannot register: {e}")));
                None
            }
        }
    }

    /// Serves one session: cron fires, watch events, reconcile.
    async fn serve(self: Arc<Self>, session: Arc<dyn Registry>, stop: &mut watch::Receiver<bool>) -> SessionEnd {
        let mut watch = match watch_job(&*session, &self.paths).await {
            Ok(w) => w,
            Err(e) => {
                self.emit(JobEvent::Error(format!("cannot watch the job: {e}")));
                return SessionEnd::Lost;
            }
        };
        let mut session_events = session.session_events();
        self.clone().catch_up(session.clone());
        let mut next_fire = self.next_fire_after(now_millis());
        let reconcile_every = self.reconcile_interval();
        let mut reconcile_tick = tokio::time::interval_at(tokio::time::Instant::now() + reconcile_every, reconcile_every);
        loop {
            let sleep_for = next_fire.map(|t| Duration::from_millis((t - now_millis()).max(0) as u64));
            tokio::select! {
                _ = stop.changed() => return SessionEnd::Stopped,
                _ = sleep_or_never(sleep_for) => {
                    let fire_time = next_fire.expect("sleep only when a fire is due");
                    self.clone().launch_fire(session.clone(), fire_time, FireKind::Scheduled);
                    next_fire = self.next_fire_after(fire_time);
                }
                event = watch.next() => match event {
                    Some(event) => {
                        if self.clone().on_event(&session, event).await {
                            next_fire = self.next_fire_after(now_millis());
                        }
                        if *stop.borrow() {
                            return SessionEnd::Stopped;
                        }
                    }
                    None => return SessionEnd::Lost,
                },
                change = session_events.recv() => match change {
                    Ok(SessionEvent::Expired) | Ok(SessionEvent::Closed) | Err(broadcast::error::RecvError::Closed) => {
                        return SessionEnd::Lost;
                    }
                    // Events may have been missed while disconnected: look again.
                    Ok(SessionEvent::Connected) => self.clone().catch_up(session.clone()),
                    Ok(SessionEvent::Suspended) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                },
                _ = self.session_lost.notified() => {
                    if !session.is_alive() || session.exists(self.paths.root()).await == Err(Error::SessionExpired) {
                        return SessionEnd::Lost;
                    }
                }
                _ = reconcile_tick.tick() => {
                    let inner = self.clone();
                    let session = session.clone();
                    tokio::spawn(async move {
                        if let Err(e) = reconcile::run(&*session, &inner.paths, &inner.config(), inner.instance.as_str()).await {
                            inner.fail("reconcile failed", e);
                        }
                    });
                }
            }
        }
    }

    fn reconcile_interval(&self) -> Duration {
        let minutes = self.state_read().config.reconcile_interval_minutes;
        // Disabled (0 or less) still checks hourly that nothing is stuck.
        Duration::from_secs(if minutes > 0 { minutes as u64 * 60 } else { 3600 })
    }

    fn next_fire_after(&self, after_millis: i64) -> Option<i64> {
        let state = self.state_read();
        let cron = state.cron.as_ref()?;
        let after = chrono::DateTime::from_timestamp_millis(after_millis)?;
        cron.next_after(after).map(|t| t.timestamp_millis())
    }

    /// Looks at everything a missed event could have announced.
    fn catch_up(self: Arc<Self>, session: Arc<dyn Registry>) {
        tokio::spawn(async move {
            let paths = &self.paths;
            let result: Result<()> = async {
                if election::leader(&*session, paths).await?.is_none() {
                    self.run_for_leader(&*session).await?;
                }
                if self.is_leader(&*session).await? && sharding::is_pending(&*session, paths).await? {
                    self.clone().reshard_in_background(session.clone());
                }
                if self.config().failover {
                    failover::queue_orphaned_items(&*session, paths, self.plan_count()).await?;
                    self.clone().take_failover(session.clone());
                }
                if session.exists(&paths.trigger(self.instance.as_str())).await?.is_some() {
                    self.clone().take_trigger(session.clone());
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                self.fail("catching up with the registry failed", e);
            }
        });
    }

    async fn is_leader(&self, session: &dyn Registry) -> Result<bool> {
        Ok(election::leader(session, &self.paths).await?.as_deref() == Some(self.instance.as_str()))
    }

    /// Reacts to one change under the job. Returns whether the schedule changed.
    async fn on_event(self: Arc<Self>, session: &Arc<dyn Registry>, event: WatchEvent) -> bool {
        let Some(node) = self.paths.classify(&event.path) else { return false };
        let result: Result<bool> = async {
            let me = self.instance.as_str();
            match (node, event.kind) {
                (JobNode::Instance(id), EventKind::Deleted) if id == me => {
                    // The end of our own session deletes the node too (and the
                    // event can arrive before the client learns its session
                    // expired); only a node removed under a live session is an
                    // operator's shutdown.
                    if session.is_alive() && session.exists(self.paths.root()).await.is_ok() {
                        tracing::info!(instance = %me, "instance removed by an operator: shutting down");
                        self.stop.send_replace(true);
                    } else {
                        self.session_lost.notify_one();
                    }
                }
                (JobNode::Instance(id), kind) if id != me && kind != EventKind::DataChanged => {
                    if kind == EventKind::Deleted && self.config().failover {
                        failover::queue_lost_items(&**session, &self.paths, id, self.plan_count()).await?;
                    }
                    self.flag_resharding_as_leader(session).await?;
                }
                (JobNode::Server(_), _) => self.flag_resharding_as_leader(session).await?,
                (JobNode::Leader, EventKind::Deleted) => self.run_for_leader(&**session).await?,
                (JobNode::ShardingNecessary, EventKind::Created | EventKind::DataChanged) => {
                    self.clone().reshard_if_leader(session.clone());
                }
                (JobNode::FailoverItem(_), EventKind::Created) if self.config().failover => {
                    self.clone().take_failover(session.clone());
                }
                (JobNode::Trigger(id), EventKind::Created) if id == me => self.clone().take_trigger(session.clone()),
                (JobNode::Config, EventKind::DataChanged | EventKind::Created) => return self.reload_config(session).await,
                _ => {}
            }
            Ok(false)
        }
        .await;
        result.unwrap_or_else(|e| {
            self.fail(&format!("handling {:?} of {} failed", event.kind, event.path), e);
            false
        })
    }

    /// Runs for leader after the leader left; a new leader reshards, as
    /// instances may have changed while there was none.
    async fn run_for_leader(&self, session: &dyn Registry) -> Result<()> {
        if election::elect(session, &self.paths, self.instance.as_str()).await? {
            tracing::info!(instance = %self.instance, "elected leader");
            sharding::set_necessary(session, &self.paths).await?;
        }
        Ok(())
    }

    /// The leader flags resharding when instances or servers change, unless
    /// the job keeps its assignment (`staticSharding`) and has one already.
    async fn flag_resharding_as_leader(&self, session: &Arc<dyn Registry>) -> Result<()> {
        if !self.is_leader(&**session).await? {
            return Ok(());
        }
        if self.config().static_sharding && session.exists(&self.paths.item_instance(0)).await?.is_some() {
            return Ok(());
        }
        sharding::set_necessary(&**session, &self.paths).await
    }

    /// Applies a configuration changed in the registry. Returns whether the cron changed.
    async fn reload_config(&self, session: &Arc<dyn Registry>) -> Result<bool> {
        let Some(yaml) = session.get_string(&self.paths.config()).await? else { return Ok(false) };
        let config = JobConfig::from_yaml(&yaml)?;
        let cron = parse_cron(&config)?;
        let (schedule_changed, count_changed) = {
            let state = self.state_read();
            (
                state.config.cron != config.cron || state.config.time_zone != config.time_zone,
                state.config.sharding_total_count != config.sharding_total_count,
            )
        };
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = Shared { config, cron };
        if count_changed && self.is_leader(&**session).await? {
            sharding::set_necessary(&**session, &self.paths).await?;
        }
        Ok(schedule_changed)
    }

    fn reshard_if_leader(self: Arc<Self>, session: Arc<dyn Registry>) {
        tokio::spawn(async move {
            match self.is_leader(&*session).await {
                Ok(true) => self.reshard_in_background(session),
                Ok(false) => {}
                Err(e) => self.fail("checking leadership failed", e),
            }
        });
    }

    fn reshard_in_background(self: Arc<Self>, session: Arc<dyn Registry>) {
        tokio::spawn(async move {
            if let Err(e) = self.reshard_when_idle(&*session).await {
                self.fail("resharding failed", e);
            }
        });
    }

    /// As leader: waits until no item runs anywhere, then reshards.
    async fn reshard_when_idle(&self, session: &dyn Registry) -> Result<()> {
        let _one_at_a_time = self.reshard_lock.lock().await;
        loop {
            if !self.is_leader(session).await? || session.exists(&self.paths.sharding_necessary()).await?.is_none() {
                return Ok(());
            }
            let config = self.config();
            if !sharding::running_items(session, &self.paths, config.item_count()).await?.is_empty() {
                if *self.stop.borrow() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            let plan = ShardingPlan {
                job_name: &config.job_name,
                total_count: config.item_count(),
                algorithm: config.sharding_algorithm(),
            };
            match sharding::reshard(session, &self.paths, &plan).await {
                Ok(Some(assignment)) => {
                    tracing::info!(job = %config.job_name, ?assignment, "resharded");
                    self.emit(JobEvent::Sharded(assignment));
                    return Ok(());
                }
                Ok(None) => return Ok(()),
                Err(Error::BadVersion(_)) | Err(Error::NoNode(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Before a fire: makes sure the assignment is settled.
    async fn ensure_sharded(&self, session: &dyn Registry) -> Result<()> {
        loop {
            if !sharding::is_pending(session, &self.paths).await? {
                return Ok(());
            }
            if election::leader(session, &self.paths).await?.is_none() {
                election::elect(session, &self.paths, self.instance.as_str()).await?;
            }
            if self.is_leader(session).await? {
                self.reshard_when_idle(session).await?;
                if session.exists(&self.paths.sharding_necessary()).await?.is_some()
                    && sharding::available_instances(session, &self.paths).await?.is_empty()
                {
                    return Ok(());
                }
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if *self.stop.borrow() {
                return Err(Error::IllegalState("shutting down".into()));
            }
        }
    }

    fn take_trigger(self: Arc<Self>, session: Arc<dyn Registry>) {
        tokio::spawn(async move {
            let path = self.paths.trigger(self.instance.as_str());
            let taken = async {
                let Some((data, stat)) = session.get(&path).await? else { return Ok(None) };
                match session.delete(&path, Some(stat.version)).await {
                    Ok(()) => Ok(Some(String::from_utf8_lossy(&data).trim().parse().unwrap_or_else(|_| now_millis()))),
                    Err(Error::NoNode(_)) | Err(Error::BadVersion(_)) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            .await;
            match taken {
                Ok(Some(fire_time)) => self.launch_fire(session, fire_time, FireKind::Triggered),
                Ok(None) => {}
                Err(e) => self.fail("taking the trigger request failed", e),
            }
        });
    }

    /// Starts a fire in the background, or marks a misfire if one is still running here.
    fn launch_fire(self: Arc<Self>, session: Arc<dyn Registry>, fire_time: i64, kind: FireKind) {
        let busy_items = {
            let mut local = self.local();
            if local.fire_in_progress {
                Some(local.fire_items.clone())
            } else {
                local.fire_in_progress = true;
                None
            }
        };
        tokio::spawn(async move {
            if let Some(items) = busy_items {
                if self.config().misfire && !items.is_empty() {
                    match execution::set_misfire(&*session, &self.paths, &items, fire_time).await {
                        Ok(()) => self.emit(JobEvent::Misfired { items, fire_time }),
                        Err(e) => self.fail("marking misfire failed", e),
                    }
                }
                return;
            }
            tracing::debug!(?kind, fire_time, "fire");
            let mut fire_time = fire_time;
            loop {
                let result = self.fire(&session, fire_time).await;
                let again = match result {
                    Ok(items) if self.config().misfire => match execution::take_misfire(&*session, &self.paths, &items).await {
                        Ok(missed) => missed,
                        Err(e) => {
                            self.fail("reading misfire marks failed", e);
                            None
                        }
                    },
                    Ok(_) => None,
                    Err(e) => {
                        if !*self.stop.borrow() {
                            self.fail(&format!("fire at {fire_time} failed"), e);
                        }
                        None
                    }
                };
                match again {
                    Some(missed) if !*self.stop.borrow() => fire_time = missed,
                    _ => break,
                }
            }
            {
                let mut local = self.local();
                local.fire_in_progress = false;
                local.fire_items.clear();
            }
            if self.config().failover {
                self.take_failover(session);
            }
        });
    }

    /// One fire: settle sharding, start owned items fenced, run them, complete them.
    /// Returns the items this instance owned.
    async fn fire(&self, session: &Arc<dyn Registry>, fire_time: i64) -> Result<Vec<u32>> {
        self.check_clock(&**session).await?;
        let mut owned_items = Vec::new();
        for _attempt in 0..5 {
            self.ensure_sharded(&**session).await?;
            let count = self.plan_count();
            let owned: Vec<OwnedItem> =
                sharding::local_items(&**session, &self.paths, self.instance.as_str(), self.instance.ip(), count)
                    .await?
                    .into_iter()
                    .map(|(item, owner_version)| OwnedItem { item, owner_version })
                    .collect();
            owned_items = owned.iter().map(|o| o.item).collect();
            self.local().fire_items = owned_items.clone();
            if owned.is_empty() {
                return Ok(owned_items);
            }
            let locally_running = self.local().items.clone();
            let outcome = execution::start_items(
                &**session,
                &self.paths,
                self.instance.as_str(),
                &owned,
                fire_time,
                self.running_mode(),
                &locally_running,
            )
            .await?;
            if !outcome.still_running.is_empty() && self.config().misfire {
                execution::set_misfire(&**session, &self.paths, &outcome.still_running, fire_time).await?;
                self.emit(JobEvent::Misfired { items: outcome.still_running.clone(), fire_time });
            }
            let mut missed = self.fires_missed_by_lost_owners(&**session, &outcome.previous, fire_time).await?;
            let runs: Vec<(u32, Vec<i64>)> = outcome
                .started
                .iter()
                .map(|&item| {
                    let mut fires = missed.remove(&item).unwrap_or_default();
                    fires.push(fire_time);
                    (item, fires)
                })
                .collect();
            self.run_items(&runs, false).await;
            execution::complete_items(&**session, &self.paths, &outcome.started).await?;
            if outcome.moved.is_empty() {
                break;
            }
        }
        Ok(owned_items)
    }

    /// Fires that items' previous owners never started because they were
    /// lost (crashed, paused or cut off) before resharding moved the items:
    /// with misfire on, the new owner runs them first. The `fired` CAS moved
    /// over them atomically, so nobody else can run them. Only fires of the
    /// last [`CATCH_UP_WINDOW_MS`], at most [`CATCH_UP_LIMIT`] per item.
    async fn fires_missed_by_lost_owners(
        &self,
        session: &dyn Registry,
        previous: &std::collections::BTreeMap<u32, execution::LastFire>,
        fire_time: i64,
    ) -> Result<std::collections::BTreeMap<u32, Vec<i64>>> {
        let mut missed = std::collections::BTreeMap::new();
        let me = self.instance.as_str();
        let foreign: Vec<_> = previous.iter().filter(|(_, last)| last.instance != me).collect();
        if foreign.is_empty() || !self.config().misfire {
            return Ok(missed);
        }
        let live = sharding::children_or_empty(session, &self.paths.instances()).await?;
        let oldest = fire_time - CATCH_UP_WINDOW_MS;
        for (&item, last) in foreign {
            if live.contains(&last.instance) {
                continue;
            }
            let mut fires = Vec::new();
            let mut next = self.next_fire_after(last.fire_time.max(oldest - 1));
            while let Some(t) = next.filter(|&t| t < fire_time) {
                fires.push(t);
                next = self.next_fire_after(t);
            }
            if fires.len() > CATCH_UP_LIMIT {
                fires.drain(..fires.len() - CATCH_UP_LIMIT);
            }
            if !fires.is_empty() {
                tracing::info!(item, ?fires, lost = %last.instance, "running fires missed by a lost owner");
                missed.insert(item, fires);
            }
        }
        Ok(missed)
    }

    /// `maxTimeDiffSeconds`: refuses to fire when this clock and the registry's disagree too much.
    async fn check_clock(&self, session: &dyn Registry) -> Result<()> {
        let max = self.state_read().config.max_time_diff_seconds;
        if max < 0 {
            return Ok(());
        }
        let before = now_millis();
        session.put(&self.paths.system_time(), b"").await?;
        let registry_time = session.exists(&self.paths.system_time()).await?.map(|s| s.mtime).unwrap_or(before);
        let diff = (registry_time - before).abs() / 1000;
        if diff > max as i64 {
            return Err(Error::IllegalState(format!(
                "clock differs from the registry's by {diff} s, more than maxTimeDiffSeconds `{max}`"
            )));
        }
        Ok(())
    }

    /// Runs items in parallel on the bounded pool (each item's fires in
    /// order) and reports each outcome.
    async fn run_items(&self, runs: &[(u32, Vec<i64>)], failover: bool) {
        if runs.is_empty() {
            return;
        }
        self.local().items.extend(runs.iter().map(|(item, _)| *item));
        let config = Arc::new(self.config());
        let parameters = Arc::new(config.sharding_item_parameters_map().unwrap_or_default());
        let settings = JobSettings {
            streaming: config.props.get("streaming.process").is_some_and(|v| v.trim() == "true"),
            script_command: config.props.get("script.command.line").cloned(),
        };
        let mut tasks = JoinSet::new();
        for (item, fires) in runs.iter().cloned() {
            let pool = self.pool.clone();
            let job = self.job.clone();
            let settings = settings.clone();
            let instance = self.instance.to_string();
            let config = config.clone();
            let parameters = parameters.clone();
            tasks.spawn(async move {
                let _permit = pool.acquire_owned().await.expect("pool never closes");
                let mut done = Vec::with_capacity(fires.len());
                for fire_time in fires {
                    let ctx = ShardingContext {
                        job_name: config.job_name.clone(),
                        task_id: format!(
                            "{}@-@{item}@-@{}@-@{instance}",
                            config.job_name,
                            if failover { "FAILOVER" } else { "READY" }
                        ),
                        sharding_total_count: config.item_count(),
                        job_parameter: config.job_parameter.clone(),
                        sharding_item: item,
                        sharding_parameter: parameters.get(&item).cloned().unwrap_or_default(),
                        fire_time,
                        failover,
                        fencing_token: 0,
                        cancellation: crate::cancel::Cancellation::new(),
                    };
                    done.push(run_one(&job, ctx, &settings, config.execution_timeout(), &instance).await);
                }
                (item, done)
            });
        }
        while let Some(finished) = tasks.join_next().await {
            let Ok((item, executions)) = finished else { continue };
            self.local().items.remove(&item);
            for execution in executions {
                self.report(&config, execution);
            }
        }
    }

    fn report(&self, config: &JobConfig, execution: Execution) {
        if !execution.outcome.is_success() && config.job_error_handler_type.as_deref() != Some("IGNORE") {
            tracing::error!(
                job = %execution.job_name, item = execution.item, fire_time = execution.fire_time,
                "job execution failed: {:?}", execution.outcome
            );
        }
        self.emit(JobEvent::Executed(execution));
    }

    /// Claims queued failover items (at most the pool size) and runs each once.
    fn take_failover(self: Arc<Self>, session: Arc<dyn Registry>) {
        tokio::spawn(async move {
            if *self.stop.borrow() {
                return;
            }
            let free = self.pool.available_permits().max(1);
            let claimed = match failover::claim(&*session, &self.paths, self.instance.as_str(), free).await {
                Ok(c) => c,
                Err(e) => return self.fail("claiming failover items failed", e),
            };
            if claimed.is_empty() {
                return;
            }
            self.local().failovers += 1;
            let mut by_fire: Vec<(i64, Vec<u32>)> = Vec::new();
            for c in &claimed {
                match by_fire.iter_mut().find(|(t, _)| *t == c.fire_time) {
                    Some((_, items)) => items.push(c.item),
                    None => by_fire.push((c.fire_time, vec![c.item])),
                }
            }
            for (fire_time, items) in by_fire {
                tracing::info!(?items, fire_time, "running failover items");
                let runs: Vec<(u32, Vec<i64>)> = items.iter().map(|&item| (item, vec![fire_time])).collect();
                self.run_items(&runs, true).await;
                for item in items {
                    if let Err(e) = failover::complete(&*session, &self.paths, self.instance.as_str(), item).await {
                        self.fail(&format!("completing failover of item {item} failed"), e);
                    }
                }
            }
            self.local().failovers -= 1;
            // More may have been queued meanwhile.
            self.take_failover(session);
        });
    }

    /// Graceful leave: waits for running items, then removes this instance.
    async fn leave(&self, session: &dyn Registry) {
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        while tokio::time::Instant::now() < deadline {
            let busy = {
                let local = self.local();
                local.fire_in_progress || local.failovers > 0 || !local.items.is_empty()
            };
            if !busy {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = election::resign(session, &self.paths, self.instance.as_str()).await;
        match session.delete(&self.paths.instance(self.instance.as_str()), None).await {
            Ok(()) | Err(Error::NoNode(_)) => {}
            Err(e) => self.emit(JobEvent::Error(format!("removing the instance node failed: {e}"))),
        }
        tracing::info!(instance = %self.instance, "left the cluster");
    }
}

/// One stream of the events under every subtree an instance follows.
async fn watch_job(session: &dyn Registry, paths: &JobPaths) -> Result<crate::registry::RecursiveWatch> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    for path in paths.watched() {
        let mut watch = session.watch_recursive(&path).await?;
        let sender = sender.clone();
        tokio::spawn(async move {
            while let Some(event) = watch.next().await {
                if sender.send(event).is_err() {
                    break;
                }
            }
        });
    }
    Ok(crate::registry::RecursiveWatch(receiver))
}

/// How serving one session ended.
enum SessionEnd {
    Stopped,
    Lost,
}

async fn sleep_or_never(duration: Option<Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// How far back fires missed by a lost owner are caught up.
const CATCH_UP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// At most this many missed fires are caught up per item.
const CATCH_UP_LIMIT: usize = 16;

/// Runs one handler call in a task of its own, so a panic is caught, and
/// within the execution timeout if one is set.
async fn run_one(
    job: &Job,
    ctx: ShardingContext,
    settings: &JobSettings,
    timeout: Option<Duration>,
    instance: &str,
) -> Execution {
    let started_at = now_millis();
    let handler = tokio::spawn(job.run(ctx.clone(), settings));
    let abort = handler.abort_handle();
    let joined = match timeout {
        Some(limit) => tokio::time::timeout(limit, handler).await.map_err(|_| abort.abort()),
        None => Ok(handler.await),
    };
    let outcome = match joined {
        Err(()) => Outcome::TimedOut,
        Ok(Ok(Ok(()))) => Outcome::Succeeded,
        Ok(Ok(Err(e))) => Outcome::Failed(e.to_string()),
        Ok(Err(join)) => Outcome::Failed(panic_message(join)),
    };
    Execution {
        job_name: ctx.job_name,
        item: ctx.sharding_item,
        fire_time: ctx.fire_time,
        instance_id: instance.to_string(),
        failover: ctx.failover,
        fencing_token: ctx.fencing_token,
        started_at,
        finished_at: now_millis(),
        outcome,
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    if join.is_cancelled() {
        return "handler was cancelled".into();
    }
    let payload = join.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".into());
    format!("handler panicked: {text}")
}
