//! `JobScheduler`: one job in one instance — the public handle, and the
//! state its parts share. The parts, one idea each:
//! - [`session`]: one registry session's life — register, watch, a full
//!   resync after any reconnect, and registering again after expiry;
//! - [`fire`]: the cron clock and the fire queue — triggers, misfires and
//!   catch-up, and starting a fire's items through the fence;
//! - [`runner`]: running handlers — parallelism, timeouts, cancellation,
//!   fencing tokens, completion and reports;
//! - [`leadership`]: the leader's duties — election, resharding with a
//!   bounded wait for running items, self-diagnosis;
//! - [`takeover`]: taking over a lost instance's running items (failover);
//! - [`history`]: feeding the execution history from the scheduler's events.

mod fire;
mod history;
mod leadership;
mod runner;
mod session;
mod takeover;

use crate::config::JobConfig;
use crate::cron::CronSchedule;
use crate::error::{Error, Result};
use crate::event::JobEvent;
use crate::instance::InstanceId;
use crate::job::{Job, JobSettings};
use crate::notify::{ErrorHandler, NotificationStats, Notifications};
use crate::paths::JobPaths;
use crate::registry::{CreateMode, Registry, RegistryCenter};
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
    history: Option<String>,
    history_options: HistoryOptions,
    binding: String,
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

    /// Validates everything and builds the (not yet started) scheduler.
    pub fn build(self) -> Result<JobScheduler> {
        let shared = Shared::parse(self.config, self.job.kind())?;
        let history = self.history.as_deref().map(HistoryUrl::parse).transpose()?;
        let instance = match self.instance_id {
            Some(id) => InstanceId::parse(&id)?,
            None => InstanceId::local(),
        };
        let parallel = self.max_parallel.unwrap_or_else(|| {
            std::thread::available_parallelism().map(|n| n.get() * 2).unwrap_or(4)
        });
        let (events, _) = broadcast::channel(1024);
        let (stop, _) = watch::channel(false);
        let (current, _) = watch::channel(None);
        let (fire_requests, fire_queue) = mpsc::unbounded_channel();
        Ok(JobScheduler {
            inner: Arc::new(Inner {
                job_name: shared.config.job_name.clone(),
                center: self.center,
                paths: JobPaths::new(&shared.config.job_name),
                instance,
                job: self.job,
                state: RwLock::new(shared),
                events,
                notifications: Notifications::default(),
                runs: runner::Runs::new(parallel),
                fire_requests,
                fire_queue: Mutex::new(Some(fire_queue)),
                schedule_changed: Notify::new(),
                current,
                reshard_lock: tokio::sync::Mutex::new(()),
                stop,
                shutdown_timeout: self.shutdown_timeout,
                max_reshard_wait: self.max_reshard_wait,
                session_lost: Notify::new(),
                past_sessions: Mutex::new(Vec::new()),
                history: history.map(|url| (url, self.history_options)),
                history_writer: std::sync::OnceLock::new(),
                binding: self.binding,
            }),
            task: tokio::sync::Mutex::new(None),
            history_task: tokio::sync::Mutex::new(None),
        })
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
}

/// The configuration in force and what is parsed from it once: the cron,
/// the job type's settings, the error handler.
struct Shared {
    config: JobConfig,
    cron: Option<CronSchedule>,
    settings: Arc<JobSettings>,
    errors: ErrorHandler,
}

impl Shared {
    /// Validates `config` for a job of `kind` and parses it.
    fn parse(config: JobConfig, kind: crate::job::JobKind) -> Result<Shared> {
        config.validate()?;
        let cron = parse_cron(&config)?;
        let settings = Arc::new(JobSettings::from_config(&config, kind)?);
        let errors = ErrorHandler::from_config(&config)?;
        Ok(Shared { config, cron, settings, errors })
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
    runs: runner::Runs,
    /// Fires to start, in order (cron ticks, triggers, misfire re-runs).
    fire_requests: mpsc::UnboundedSender<fire::FireRequest>,
    /// The receiving end, taken by the fire loop when it starts.
    fire_queue: Mutex<Option<mpsc::UnboundedReceiver<fire::FireRequest>>>,
    /// Wakes the cron clock when the schedule changed.
    schedule_changed: Notify,
    /// The registered, live session, if any.
    current: watch::Sender<Option<Arc<dyn Registry>>>,
    /// One resharding at a time in this process.
    reshard_lock: tokio::sync::Mutex<()>,
    stop: watch::Sender<bool>,
    shutdown_timeout: Duration,
    /// `None`: twice the session timeout, at least [`MIN_RESHARD_WAIT`].
    max_reshard_wait: Option<Duration>,
    /// Raised when a registry call finds the session expired, in case the
    /// client has not announced it (yet).
    session_lost: Notify,
    /// Ids of this scheduler's earlier sessions: an instance node one of
    /// them still holds is ours, not another process's.
    past_sessions: Mutex<Vec<i64>>,
    /// Where the history goes and how, if it is kept.
    history: Option<(HistoryUrl, HistoryOptions)>,
    /// The history writer, made when the scheduler starts (it needs the runtime).
    history_writer: std::sync::OnceLock<HistoryWriter>,
    /// The handler's language, for the history.
    binding: String,
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
            history: None,
            history_options: HistoryOptions::default(),
            binding: "rust".to_string(),
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
    pub async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
        if let Some(history) = self.history_task.lock().await.take() {
            history.finish().await;
        }
    }

    /// What the execution history wrote, lost and holds (`None` without a history).
    pub fn history_stats(&self) -> Option<HistoryStats> {
        self.inner.history_writer.get().map(HistoryWriter::stats)
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

    /// With failover on, marks must outlive a crashed runner.
    fn running_mode(&self) -> CreateMode {
        if self.state_read().config.failover {
            CreateMode::Persistent
        } else {
            CreateMode::Ephemeral
        }
    }

    fn request_fire(&self, request: fire::FireRequest) {
        let _ = self.fire_requests.send(request);
    }

    /// The live registered session, waiting for one (`None` once stopping).
    async fn live_session(&self) -> Option<Arc<dyn Registry>> {
        let mut current = self.current.subscribe();
        let mut stop = self.stop.subscribe();
        loop {
            if self.stopping() {
                return None;
            }
            if let Some(session) = current.borrow_and_update().clone().filter(|s| s.is_alive()) {
                return Some(session);
            }
            tokio::select! {
                changed = current.changed() => if changed.is_err() { return None },
                _ = stop.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    fn next_fire_after(&self, after_millis: i64) -> Option<i64> {
        let state = self.state_read();
        let cron = state.cron.as_ref()?;
        let after = chrono::DateTime::from_timestamp_millis(after_millis)?;
        cron.next_after(after).map(|t| t.timestamp_millis())
    }
}
