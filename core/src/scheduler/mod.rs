//! `JobScheduler`: one job in one instance — the public handle, and the
//! state its parts share. The parts, one idea each:
//! - `session`: one registry session's life — register, watch, a full
//!   resync after any reconnect, and registering again after expiry;
//! - `fire`: the cron clock and the fire queue — triggers, misfires and
//!   catch-up, and starting a fire's items through the fence;
//! - `runner`: running handlers — parallelism, timeouts, cancellation,
//!   fencing tokens, completion and reports;
//! - `leadership`: the leader's duties — election, resharding with a
//!   bounded wait for running items, self-diagnosis;
//! - `takeover`: taking over a lost instance's running items (failover);
//! - `listening`: job listeners around this instance's part of a fire;
//! - `java_peers`: recognising Java ElasticJob instances (no catch-up of
//!   fires they may have run);
//! - `java_leader`: asking a Java leader again when its resharding missed
//!   an instance that joined or left meanwhile;
//! - `history`: feeding the execution history from the scheduler's events;
//! - `metrics`: this scheduler's figures for the process's metrics registry.

mod backfilling;
mod dependencies;
mod fire;
mod history;
mod java_leader;
mod java_peers;
mod leadership;
mod listening;
mod metrics;
mod misfire_marks;
mod pausing;
mod retrying;
mod runner;
mod runs;
mod session;
mod takeover;

use crate::config::JobConfig;
use crate::bounds::ScheduleBounds;
use crate::cron::CronSchedule;
use crate::error::{Error, Result};
use crate::event::JobEvent;
use crate::instance::InstanceId;
use crate::job::{Job, JobSettings};
use crate::listener::{JobListener, Listeners, OnceListener};
use crate::notify::{ErrorHandler, NotificationStats, Notifications};
use crate::paths::JobPaths;
use crate::registry::{CreateMode, Registry, RegistryCenter};
use crate::sharding::{ShardingStrategy, Strategies};
use crate::trace::{HistoryOptions, HistoryStats, HistoryUrl, HistoryWriter};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch, Notify};

/// Builds a [`JobScheduler`].
pub struct JobSchedulerBuilder {
    center: RegistryCenter,
    config: JobConfig,
    job: Job,
    instance_id: Option<String>,
    max_parallel: Option<usize>,
    shutdown_timeout: Duration,
    max_reshard_wait: Option<Duration>,
    /// Registered by [`JobSchedulerBuilder::sharding_strategy`]; checked by `build`.
    strategies: Vec<(String, Arc<dyn ShardingStrategy>)>,
    one_off: bool,
    listeners: Vec<Arc<dyn JobListener>>,
    once_listeners: Vec<OnceListener>,
    listener_timeout: Duration,
    history: Option<String>,
    history_options: HistoryOptions,
    binding: String,
    metrics_listen: Option<String>,
}

impl JobSchedulerBuilder {
    /// Overrides the instance id (default `{ip}@-@{pid}`); needed only to run
    /// several instances of one job in a single process, as the demo does.
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance_id = Some(id.into());
        self
    }

    /// How many items of this instance may run at once. Wins over
    /// `jobExecutorServiceHandlerType` (which gives twice the CPU count for
    /// `CPU`, the default, and 1 for `SINGLE_THREAD`).
    pub fn max_parallel(mut self, n: usize) -> Self {
        self.max_parallel = Some(n.max(1));
        self
    }

    /// How long `shutdown` waits for running items before it cancels them
    /// and leaves anyway (default 60 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How long this instance, as leader, waits for running items before it
    /// reshards anyway (default: twice the registry's session timeout, at
    /// least [`MIN_RESHARD_WAIT`]). Items still running then are reported,
    /// told to stop if they move, and keep their `running` mark until their
    /// handler returns, so nobody starts them twice.
    pub fn max_reshard_wait(mut self, wait: Duration) -> Self {
        self.max_reshard_wait = Some(wait);
        self
    }

    /// Registers a sharding strategy of your own under `name`; a job whose
    /// `jobShardingStrategyType` is `name` is sharded by it. Only the leader
    /// runs it, so register it in every instance: a leader without it (or a
    /// strategy that fails or answers wrongly) refuses to reshard, reports
    /// [`Error::ShardingStrategy`] as an error event and leaves the
    /// assignment as it was. A built-in name cannot be taken.
    pub fn sharding_strategy(mut self, name: &str, strategy: impl ShardingStrategy) -> Self {
        self.strategies.push((name.to_string(), Arc::new(strategy)));
        self
    }

    /// Adds an ElasticJob `ElasticJobListener`: called on this instance
    /// before its first handler and after its last one of every fire it
    /// starts items for, once each with all of those items.
    pub fn listener(mut self, listener: impl JobListener) -> Self {
        self.listeners.push(Arc::new(listener));
        self
    }

    /// [`JobSchedulerBuilder::listener`] for a listener already shared.
    pub fn listener_arc(mut self, listener: Arc<dyn JobListener>) -> Self {
        self.listeners.push(listener);
        self
    }

    /// Adds the distributed-once listener (ElasticJob's
    /// `AbstractDistributeOnceElasticJobListener`): its hooks run once per
    /// fire across the cluster. At most one per job: its `guarantee` nodes
    /// are shared.
    pub fn once_listener(mut self, listener: OnceListener) -> Self {
        self.once_listeners.push(listener);
        self
    }

    /// How long a plain listener call may take before the job goes on
    /// without it (default 60 s); it is reported.
    pub fn listener_timeout(mut self, timeout: Duration) -> Self {
        self.listener_timeout = timeout;
        self
    }

    /// Keeps an execution history in `url` (`sqlite://PATH` or
    /// `postgres://USER@HOST:PORT/DB`): a row per item run and per status
    /// change, written in the background so a fire never waits on the
    /// database (see [`crate::trace`]). A database that is down fails
    /// nothing: records wait in a bounded buffer, and what overflows is
    /// counted in [`JobScheduler::history_stats`].
    pub fn history(mut self, url: impl Into<String>) -> Self {
        self.history = Some(url.into());
        self
    }

    /// How the history is batched, buffered and trimmed (defaults: 256
    /// records or 500 ms per write, 10,000 buffered, 7 days / 1,000,000 rows kept).
    pub fn history_options(mut self, options: HistoryOptions) -> Self {
        self.history_options = options;
        self
    }

    /// The language the handler is written in, as the history records it
    /// (default `rust`; each binding sets its own).
    pub fn binding(mut self, name: impl Into<String>) -> Self {
        self.binding = name.into();
        self
    }

    /// Serves the metrics of every scheduler of this process as Prometheus
    /// text on `http://{address}/metrics` (`IP:PORT`; port 0 picks a free
    /// one, see [`JobScheduler::metrics_address`]). One endpoint per
    /// process: a scheduler asking for the address already served shares
    /// it, another address is refused. It listens from `build` on, until
    /// the last scheduler that asked for it is dropped. It is read-only and
    /// unauthenticated: bind it beyond loopback only where job names and
    /// counts may be read (see [`crate::metrics::exporter`]).
    pub fn metrics_listen(mut self, address: impl Into<String>) -> Self {
        self.metrics_listen = Some(address.into());
        self
    }

    /// Validates everything and builds the (not yet started) scheduler.
    pub fn build(self) -> Result<JobScheduler> {
        let shared = Shared::parse(self.config, self.job.kind())?;
        let mut strategies = Strategies::default();
        for (name, strategy) in self.strategies {
            strategies.register(&name, strategy)?;
        }
        // A typo in this instance's own configuration fails here, not at the
        // first resharding; a name from the registry is resolved by the leader.
        strategies.resolve(shared.config.sharding_strategy_type()).map_err(|_| {
            Error::invalid(
                "jobShardingStrategyType",
                shared.config.sharding_strategy_type(),
                "is neither a built-in strategy (AVG_ALLOCATION, ODEVITY, ROUND_ROBIN, SINGLE_SHARDING_BALANCE) nor one registered with sharding_strategy()",
            )
        })?;
        if self.one_off && !shared.config.cron.trim().is_empty() {
            return Err(Error::invalid(
                "cron",
                &shared.config.cron,
                "must be empty for a one-off job: it runs only when execute() is called",
            ));
        }
        if self.once_listeners.len() > 1 {
            return Err(Error::invalid(
                "onceListeners",
                self.once_listeners.len(),
                "at most one distributed-once listener per job: they would share its guarantee nodes",
            ));
        }
        let history = self.history.as_deref().map(HistoryUrl::parse).transpose()?;
        let metrics_address = self.metrics_listen.as_deref().map(crate::metrics::exporter::parse_address).transpose()?;
        let instance = match self.instance_id {
            Some(id) => InstanceId::parse(&id)?,
            None => InstanceId::local(),
        };
        let parallel = self.max_parallel.unwrap_or_else(|| shared.config.executor_type().pool_size());
        let (events, _) = broadcast::channel(1024);
        let (stop, _) = watch::channel(false);
        let (current, _) = watch::channel(None);
        let (fire_requests, fire_queue) = mpsc::unbounded_channel();
        let scheduler = JobScheduler {
            inner: Arc::new(Inner {
                job_name: shared.config.job_name.clone(),
                center: self.center,
                paths: JobPaths::new(&shared.config.job_name),
                instance,
                job: self.job,
                state: RwLock::new(shared),
                events,
                notifications: Notifications::default(),
                runs: runs::Runs::new(parallel),
                fire_requests,
                fire_queue: Mutex::new(Some(fire_queue)),
                schedule_changed: Notify::new(),
                backfills_changed: Notify::new(),
                backfill_waits: std::sync::atomic::AtomicBool::new(false),
                backfill_skipped: Mutex::new(std::collections::BTreeSet::new()),
                clock_start: std::sync::atomic::AtomicI64::new(0),
                recent_cron_fires: Mutex::new(std::collections::VecDeque::new()),
                owned_items: Default::default(),
                failover_may_be_queued: std::sync::atomic::AtomicBool::new(true),
                has_dependents: std::sync::atomic::AtomicBool::new(false),
                upstream_fires_handled: Mutex::new(std::collections::BTreeSet::new()),
                current,
                reshard_lock: tokio::sync::Mutex::new(()),
                stop,
                shutdown_timeout: self.shutdown_timeout,
                max_reshard_wait: self.max_reshard_wait,
                max_parallel: self.max_parallel,
                strategies,
                one_off: self.one_off,
                listeners: Listeners { plain: self.listeners, once: self.once_listeners.into_iter().next() },
                listener_timeout: self.listener_timeout,
                listener_phases: Mutex::new(tokio::task::JoinSet::new()),
                listenings_alive: std::sync::atomic::AtomicUsize::new(0),
                session_lost: Notify::new(),
                past_sessions: Mutex::new(Vec::new()),
                enabled_at: std::sync::atomic::AtomicI64::new(0),
                pause_note: Mutex::new(None),
                retry_timers: Mutex::new(std::collections::BTreeSet::new()),
                misfire_waiters: Mutex::new(std::collections::BTreeSet::new()),
                java_peers: Mutex::new(java_peers::JavaPeers::default()),
                java_leader_complaint: Mutex::new(None),
                history: history.map(|url| (url, self.history_options)),
                history_writer: std::sync::OnceLock::new(),
                binding: self.binding,
                metrics: Arc::default(),
            }),
            task: tokio::sync::Mutex::new(None),
            history_task: tokio::sync::Mutex::new(None),
            exporter: metrics_address.map(crate::metrics::exporter::serve).transpose()?,
        };
        scheduler.inner.register_metrics();
        Ok(scheduler)
    }
}

/// The shortest default wait of a leader for running items before it
/// reshards anyway (the default is twice the session timeout).
pub const MIN_RESHARD_WAIT: Duration = Duration::from_secs(5);

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
    /// The history's feed and writer, while started.
    history_task: tokio::sync::Mutex<Option<history::HistoryTasks>>,
    /// The process's metrics endpoint, if this scheduler asked for it.
    exporter: Option<Arc<crate::metrics::exporter::Exporter>>,
}

/// The configuration in force and what is parsed from it once: the cron
/// and its bounds, the job type's settings, the error handler.
struct Shared {
    config: JobConfig,
    cron: Option<CronSchedule>,
    bounds: ScheduleBounds,
    retry_policy: Option<crate::retries::RetryPolicy>,
    /// `pauseAfterFailedFires` ([`crate::failure_streak`]).
    pause_after_failed_fires: Option<u32>,
    /// `dependsOn` and its options ([`crate::dependency`]).
    dependencies: Option<crate::dependency::Dependencies>,
    settings: Arc<JobSettings>,
    errors: ErrorHandler,
}

impl Shared {
    /// Validates `config` for a job of `kind` and parses it.
    fn parse(config: JobConfig, kind: crate::job::JobKind) -> Result<Shared> {
        config.validate()?;
        let cron = parse_cron(&config)?;
        let bounds = match &cron {
            Some(cron) => ScheduleBounds::from_props(&config.props)?.with_fire_limit(|t| {
                cron.next_after(chrono::DateTime::from_timestamp_millis(t)?).map(|next| next.timestamp_millis())
            }),
            None => ScheduleBounds::from_props(&config.props)?,
        };
        let retry_policy = crate::retries::RetryPolicy::from_props(&config.props)?;
        let pause_after_failed_fires = crate::failure_streak::limit_from_props(&config.props)?;
        let dependencies = crate::dependency::Dependencies::from_props(&config.job_name, &config.props)?;
        let settings = Arc::new(JobSettings::from_config(&config, kind)?);
        let errors = ErrorHandler::from_config(&config)?;
        Ok(Shared { config, cron, bounds, retry_policy, pause_after_failed_fires, dependencies, settings, errors })
    }
}

/// What the parts of one scheduler share.
struct Inner {
    job_name: String,
    center: RegistryCenter,
    paths: JobPaths,
    instance: InstanceId,
    job: Job,
    state: RwLock<Shared>,
    events: broadcast::Sender<JobEvent>,
    /// Failures on their way to the error notifier.
    notifications: Notifications,
    /// Runs in flight in this process, across sessions.
    runs: runs::Runs,
    /// Fires to start, in order (cron ticks, triggers, misfire re-runs).
    fire_requests: mpsc::UnboundedSender<fire::FireRequest>,
    /// The receiving end, taken by the fire loop when it starts.
    fire_queue: Mutex<Option<mpsc::UnboundedReceiver<fire::FireRequest>>>,
    /// Wakes the cron clock when the schedule changed.
    schedule_changed: Notify,
    /// Wakes the backfill loop ([`backfilling`]).
    backfills_changed: Notify,
    /// The backfill loop left an item that was busy here.
    backfill_waits: std::sync::atomic::AtomicBool,
    /// (backfill, item) that skipped a fire while busy (`SKIP`): the item's
    /// next turn waits until it is free.
    backfill_skipped: Mutex<std::collections::BTreeSet<(String, u32)>>,
    /// When the first registration raised the resharding flag (epoch ms, 0
    /// before): the cron clock counts fires from there, not from when it
    /// started. A fire in between may be resharded to this instance (the
    /// others wait for the resharding the flag asks for), and no one else
    /// would run it; Java peers write no `fired` to catch it up by.
    clock_start: std::sync::atomic::AtomicI64,
    /// The latest scheduled fires queued (by the cron clock, or upstream
    /// jobs finishing theirs), oldest first.
    recent_cron_fires: Mutex<std::collections::VecDeque<i64>>,
    /// This instance's items as the last fire read them (see [`crate::sharding::view`]).
    owned_items: crate::sharding::view::OwnedItems,
    /// The failover queue may hold items for this instance: the last look
    /// did not find it empty ([`Inner::take_over_if_queued`]).
    failover_may_be_queued: std::sync::atomic::AtomicBool,
    /// Whether other jobs depend on this one (its runs then record their ends).
    has_dependents: std::sync::atomic::AtomicBool,
    /// Upstream fires this instance already fired for or skipped.
    upstream_fires_handled: Mutex<std::collections::BTreeSet<i64>>,
    /// The registered, live session, if any.
    current: watch::Sender<Option<Arc<dyn Registry>>>,
    /// One resharding at a time in this process.
    reshard_lock: tokio::sync::Mutex<()>,
    stop: watch::Sender<bool>,
    shutdown_timeout: Duration,
    /// `None`: twice the session timeout, at least [`MIN_RESHARD_WAIT`].
    max_reshard_wait: Option<Duration>,
    /// The builder's `max_parallel`, which wins over the executor type.
    max_parallel: Option<usize>,
    /// User sharding strategies, by name.
    strategies: Strategies,
    /// A one-off job never fires by a cron, even one stored in the registry.
    one_off: bool,
    listeners: Listeners,
    /// Bound of a plain listener call.
    listener_timeout: Duration,
    /// After-listener phases in flight (a graceful shutdown waits for them).
    listener_phases: Mutex<tokio::task::JoinSet<()>>,
    /// Fires whose listening has not ended (its after-listeners not started).
    listenings_alive: std::sync::atomic::AtomicUsize,
    /// Raised when a registry call finds the session expired, in case the
    /// client has not announced it (yet).
    session_lost: Notify,
    /// Ids of this scheduler's earlier sessions: an instance node one of
    /// them still holds is ours, not another process's.
    past_sessions: Mutex<Vec<i64>>,
    /// When an operator last enabled the job again (epoch ms, 0: never):
    /// no fire before it is caught up ([`crate::enablement`]).
    enabled_at: std::sync::atomic::AtomicI64,
    /// The job's pause note as last read ([`pausing`]); `None`: not read
    /// under this session yet.
    pause_note: Mutex<Option<Option<(crate::pause::PauseNote, i32)>>>,
    /// Pending retries this process has a timer for: (item, fire, attempt).
    retry_timers: Mutex<std::collections::BTreeSet<(u32, i64, u32)>>,
    /// Marked items waiting here for another run of theirs to end ([`misfire_marks`]).
    misfire_waiters: Mutex<std::collections::BTreeSet<u32>>,
    /// Which live instances are Java ElasticJob's, and since when catch-up is safe.
    java_peers: Mutex<java_peers::JavaPeers>,
    /// What this instance last found wrong with a Java leader's assignment ([`java_leader`]).
    java_leader_complaint: Mutex<Option<java_leader::Complaint>>,
    /// Where the history goes and how, if it is kept.
    history: Option<(HistoryUrl, HistoryOptions)>,
    /// The history writer, made when the scheduler starts (it needs the runtime).
    history_writer: std::sync::OnceLock<HistoryWriter>,
    /// The handler's language, for the history.
    binding: String,
    /// This scheduler's counters (see [`crate::metrics`]).
    metrics: Arc<crate::metrics::job::JobMetrics>,
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
            max_reshard_wait: None,
            strategies: Vec::new(),
            one_off: false,
            listeners: Vec::new(),
            once_listeners: Vec::new(),
            listener_timeout: Duration::from_secs(60),
            history: None,
            history_options: HistoryOptions::default(),
            binding: "rust".to_string(),
            metrics_listen: None,
        }
    }

    /// Starts building a *one-off* job, ElasticJob's `OneOffJobBootstrap`:
    /// no cron (a non-empty `cron` is rejected at `build`, and a cron stored
    /// in the registry is ignored); it runs only when [`JobScheduler::execute`]
    /// is called, on every live instance, each running its own items once.
    pub fn one_off(center: RegistryCenter, config: JobConfig, job: Job) -> JobSchedulerBuilder {
        JobSchedulerBuilder { one_off: true, ..Self::builder(center, config, job) }
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
        // The history listens before anything happens, so it misses nothing.
        let history = self.inner.start_history()?;
        let session = match self.inner.center.session().await {
            Ok(session) => session,
            Err(e) => {
                if let Some(history) = history {
                    history.abort();
                }
                return Err(e);
            }
        };
        if let Err(e) = self.inner.register(&session, true).await {
            if let Some(history) = history {
                history.abort();
            }
            return Err(e);
        }
        *self.history_task.lock().await = history;
        let inner = self.inner.clone();
        *task = Some(tokio::spawn(async move { inner.run(session).await }));
        Ok(())
    }

    /// Runs the job once now on **every** live instance, each running its
    /// own items (ElasticJob's `OneOffJobBootstrap.execute`, i.e.
    /// `triggerAllInstances`): a trigger request per instance under
    /// `trigger/`. Returns once the requests are written; the runs go
    /// through the trigger fence and report as usual. An item still running
    /// somewhere runs once more when it ends. Works for scheduled jobs too.
    pub async fn execute(&self) -> Result<()> {
        if self.task.lock().await.is_none() {
            return Err(Error::IllegalState(format!("job `{}` is not running: start it first", self.job_name())));
        }
        let Some(session) = self.inner.live_session().await else {
            return Err(Error::IllegalState(format!("job `{}` was shut down", self.job_name())));
        };
        crate::operate::trigger_all_instances(&*session, &self.inner.paths, crate::trigger::TriggerRequest::default()).await
    }

    /// Runs this instance's items once, now (outside the cron schedule).
    pub async fn trigger(&self) -> Result<()> {
        if self.task.lock().await.is_none() {
            return Err(Error::IllegalState(format!("job `{}` is not running: start it first", self.job_name())));
        }
        self.inner.request_fire(fire::FireRequest::trigger());
        self.inner.record_status(crate::trace::StatusState::Triggered, &[], "triggered through the API");
        Ok(())
    }

    /// Stops firing, waits for running items (up to the shutdown timeout,
    /// then tells them to stop), gives up leadership and leaves the cluster.
    /// Once it returns no resharding is under way, so no user sharding
    /// strategy is being called (bindings free their callbacks then). A
    /// start under way is waited for and undone; every call returns only
    /// once the scheduler has left, also when several shut it down at once.
    pub async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        // The lock is held until the task ended: a concurrent call waits here.
        let mut task = self.task.lock().await;
        if let Some(running) = task.take() {
            let _ = running.await;
        }
        drop(task);
        drop(self.inner.reshard_lock.lock().await);
        if let Some(history) = self.history_task.lock().await.take() {
            history.finish().await;
        }
    }

    /// What the execution history wrote, lost and holds (`None` without a history).
    pub fn history_stats(&self) -> Option<HistoryStats> {
        self.inner.history_writer.get().map(HistoryWriter::stats)
    }

    /// What this scheduler did so far: fires, executions by outcome, fire
    /// lag and handler duration, misfires, take-overs, reshards, items
    /// owned and running, the session's state and reconnects, and the
    /// history's counters (see [`crate::metrics`]; every scheduler of the
    /// process at once: [`crate::metrics::gather`]).
    pub fn metrics(&self) -> crate::metrics::MetricsSnapshot {
        self.inner.metrics_now()
    }

    /// Where the process's metrics endpoint listens, if this scheduler asked for one.
    pub fn metrics_address(&self) -> Option<std::net::SocketAddr> {
        self.exporter.as_ref().map(|e| e.address())
    }

    /// Subscribes to what the scheduler reports.
    pub fn events(&self) -> broadcast::Receiver<JobEvent> {
        self.inner.events.subscribe()
    }

    /// How many error notifications were sent, failed or dropped.
    pub fn notification_stats(&self) -> NotificationStats {
        self.inner.notifications.stats()
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
        self.inner.config()
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

    /// The configuration in force with its job settings and error handler,
    /// read together.
    fn snapshot(&self) -> (JobConfig, Arc<JobSettings>, ErrorHandler) {
        let state = self.state_read();
        (state.config.clone(), state.settings.clone(), state.errors.clone())
    }

    fn item_count(&self) -> u32 {
        self.state_read().config.item_count()
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves once the scheduler is stopping, also when it already was
    /// (a task that subscribes late still sees it).
    async fn stopped(&self) {
        let mut stop = self.stop.subscribe();
        let _ = stop.wait_for(|stopping| *stopping).await;
    }

    /// Reports a failure; an expired session also makes the scheduler register anew.
    fn fail(&self, context: &str, error: Error) {
        if error == Error::SessionExpired {
            self.session_lost.notify_one();
        }
        self.emit(JobEvent::Error(format!("{context}: {error}")));
    }

    fn emit(&self, event: JobEvent) {
        match &event {
            JobEvent::Error(message) => {
                self.metrics.failed();
                tracing::error!(job = %self.paths.root(), instance = %self.instance, "{message}");
            }
            JobEvent::Sharded(_) => self.metrics.resharded(),
            _ => {}
        }
        let _ = self.events.send(event);
    }

    /// How `running` marks live: with failover on they must outlive a
    /// crashed runner; with `monitorExecution: false` there are none.
    fn running_mode(&self) -> Option<CreateMode> {
        let state = self.state_read();
        match (state.config.monitor_execution, state.config.failover) {
            (false, _) => None,
            (true, true) => Some(CreateMode::Persistent),
            (true, false) => Some(CreateMode::Ephemeral),
        }
    }

    fn request_fire(&self, request: fire::FireRequest) {
        let _ = self.fire_requests.send(request);
    }

    /// The live registered session, waiting for one (`None` once stopping).
    async fn live_session(&self) -> Option<Arc<dyn Registry>> {
        let mut current = self.current.subscribe();
        loop {
            if self.stopping() {
                return None;
            }
            if let Some(session) = current.borrow_and_update().clone().filter(|s| s.is_alive()) {
                return Some(session);
            }
            tokio::select! {
                changed = current.changed() => if changed.is_err() { return None },
                _ = self.stopped() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    fn next_fire_after(&self, after_millis: i64) -> Option<i64> {
        if self.one_off {
            return None;
        }
        let state = self.state_read();
        let cron = state.cron.as_ref()?;
        state.bounds.next_fire(after_millis, |t| {
            cron.next_after(chrono::DateTime::from_timestamp_millis(t)?).map(|next| next.timestamp_millis())
        })
    }
}
