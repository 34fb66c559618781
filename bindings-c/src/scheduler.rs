//! `ej_scheduler`: one job in this process with C callbacks. Callbacks run
//! on the library's blocking worker threads, several at once; the error
//! callback (`THROW`) runs on one of them, one call at a time.

use crate::config::ej_job_config;
use crate::context::ej_cancellation;
use crate::listener::ej_listeners;
use crate::registry::ej_registry;
use crate::runtime;
use crate::status::*;
use elasticjob::{DataflowJob, HandlerResult, Job, JobEvent, JobScheduler, Outcome, ShardingContext};
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// What a callback receives for one item. Strings are valid during the call only.
#[repr(C)]
pub struct ej_sharding_context {
    /// The job's name.
    pub job_name: *const c_char,
    /// This execution's id.
    pub task_id: *const c_char,
    /// How many items the job has.
    pub sharding_total_count: u32,
    /// The job-wide parameter.
    pub job_parameter: *const c_char,
    /// The item to run.
    pub sharding_item: u32,
    /// The item's parameter ("" if none).
    pub sharding_parameter: *const c_char,
    /// The fire this run belongs to, epoch milliseconds.
    pub fire_time: i64,
    /// False when this run took over an item whose crashed runner did not
    /// record its fire (a Java ElasticJob instance never does): then
    /// `fire_time` is the take-over time.
    pub fire_time_known: bool,
    /// Whether this run takes over a crashed instance's item.
    pub failover: bool,
    /// Grows with every start of this item anywhere in the cluster; see
    /// `ej_sharding_context_fencing_token`.
    pub fencing_token: i64,
    /// This run's stop signal; use `ej_sharding_context_is_cancelled`,
    /// `ej_sharding_context_wait_cancelled` and `ej_sharding_context_cancel_reason`.
    pub cancellation: *const ej_cancellation,
    /// Which attempt at this item's fire the run is: 1, then 2 for the
    /// first retry of a failed run (props `retryMaxAttempts`), and so on.
    pub attempt: u32,
}

/// Runs one item; returns 0 on success, anything else on failure (see `ej_set_failure_message`).
pub type ej_execute_fn = Option<unsafe extern "C" fn(ctx: *const ej_sharding_context, user_data: *mut c_void) -> c_int>;

/// Fetches the next batch for an item into `items` (with `ej_items_push`); 0 on success.
pub type ej_fetch_fn =
    Option<unsafe extern "C" fn(ctx: *const ej_sharding_context, items: *mut ej_items, user_data: *mut c_void) -> c_int>;

/// Processes a fetched batch (the pointers pushed by fetch, which it now owns); 0 on success.
pub type ej_process_fn = Option<
    unsafe extern "C" fn(ctx: *const ej_sharding_context, items: *const *mut c_void, count: usize, user_data: *mut c_void) -> c_int,
>;

/// A batch under construction in a fetch callback (opaque).
pub struct ej_items {
    items: Vec<*mut c_void>,
}

/// Appends one item (any pointer; the library never dereferences it) to a fetch batch.
///
/// # Safety
/// `items` is the pointer a fetch callback received.
#[no_mangle]
pub unsafe extern "C" fn ej_items_push(items: *mut ej_items, item: *mut c_void) -> ej_status {
    guard(|| {
        let items = items.as_mut().ok_or_else(|| invalid("items", "must not be NULL"))?;
        items.items.push(item);
        Ok(())
    })
}

/// Optional settings for a scheduler (pass NULL for defaults).
#[repr(C)]
pub struct ej_scheduler_options {
    /// Instance id (NULL = "{ip}@-@{pid}"); set it only to run several instances in one process.
    pub instance_id: *const c_char,
    /// How many items may run at once here (0 = as `jobExecutorServiceHandlerType`
    /// says: twice the CPU count for `CPU`, the default, 1 for `SINGLE_THREAD`).
    pub max_parallel: u32,
    /// Sharding strategies of your own (copied; NULL if the count is 0).
    pub sharding_strategies: *const crate::strategy::ej_sharding_strategy,
    /// How many entries `sharding_strategies` has.
    pub sharding_strategy_count: usize,
    /// Job listeners (NULL = none); copied, so they may be freed after the call.
    pub listeners: *const ej_listeners,
    /// A one-off job (ElasticJob's `OneOffJobBootstrap`): no cron (a cron is
    /// rejected); it runs when `ej_scheduler_execute` is called.
    pub one_off: bool,
    /// Execution history URL (NULL = none): `sqlite:///path/history.db` or
    /// `postgres://user@host:port/db`. Writes never delay a fire; see
    /// `ej_scheduler_history_stats`.
    pub history: *const c_char,
    /// Serve the metrics of every scheduler of this process as Prometheus
    /// text on `http://IP:PORT/metrics` (NULL = no endpoint; port 0 picks a
    /// free one, see `ej_scheduler_metrics_port`). One endpoint per
    /// process: the same address is shared, another is refused. Read-only
    /// and unauthenticated: beyond loopback anyone who reaches it reads job
    /// names and counts. The snapshot (`ej_scheduler_metrics`) needs none.
    pub metrics_listen: *const c_char,
}

/// What a scheduler's execution history wrote, lost and holds.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ej_history_stats {
    /// Records stored.
    pub written: u64,
    /// Records lost while the database could not take them (the buffer is
    /// bounded) or because the history fell behind the scheduler's events.
    pub dropped: u64,
    /// Records waiting to be written.
    pub pending: u64,
    /// Writes that failed (each is retried).
    pub failed_writes: u64,
}

impl From<&elasticjob::HistoryStats> for ej_history_stats {
    fn from(stats: &elasticjob::HistoryStats) -> Self {
        ej_history_stats {
            written: stats.written,
            dropped: stats.dropped,
            pending: stats.pending,
            failed_writes: stats.failed_writes,
        }
    }
}

/// The caller's `user_data`, handed back to callbacks on worker threads.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);
// The header documents that user_data is used from several threads.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

/// Owned C strings and the stop signal behind an `ej_sharding_context`.
struct ContextStrings {
    job_name: CString,
    task_id: CString,
    job_parameter: CString,
    sharding_parameter: CString,
    cancellation: ej_cancellation,
}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl ContextStrings {
    fn new(ctx: &ShardingContext) -> Self {
        ContextStrings {
            job_name: c_string(&ctx.job_name),
            task_id: c_string(&ctx.task_id),
            job_parameter: c_string(&ctx.job_parameter),
            sharding_parameter: c_string(&ctx.sharding_parameter),
            cancellation: ej_cancellation { inner: ctx.cancellation.clone() },
        }
    }

    fn context(&self, ctx: &ShardingContext) -> ej_sharding_context {
        ej_sharding_context {
            job_name: self.job_name.as_ptr(),
            task_id: self.task_id.as_ptr(),
            sharding_total_count: ctx.sharding_total_count,
            job_parameter: self.job_parameter.as_ptr(),
            sharding_item: ctx.sharding_item,
            sharding_parameter: self.sharding_parameter.as_ptr(),
            fire_time: ctx.fire_time,
            fire_time_known: ctx.fire_time_known,
            failover: ctx.failover,
            fencing_token: ctx.fencing_token,
            cancellation: &self.cancellation,
            attempt: ctx.attempt,
        }
    }
}

/// Calls a C callback on a blocking thread and turns its return code into a result.
pub(crate) async fn call_c<T: Send + 'static>(
    what: &'static str,
    call: impl FnOnce() -> (c_int, T) + Send + 'static,
) -> HandlerResult<T> {
    let joined = tokio::task::spawn_blocking(move || {
        take_failure_message();
        let (code, value) = call();
        (code, value, take_failure_message())
    })
    .await;
    match joined {
        Ok((0, value, _)) => Ok(value),
        Ok((code, _, message)) => Err(message.unwrap_or_else(|| format!("{what} callback returned {code}")).into()),
        Err(e) => Err(format!("{what} callback thread failed: {e}").into()),
    }
}

fn simple_job(execute: unsafe extern "C" fn(*const ej_sharding_context, *mut c_void) -> c_int, user_data: UserData) -> Job {
    Job::from_fn(move |ctx| async move {
        call_c("execute", move || {
            let strings = ContextStrings::new(&ctx);
            let c_ctx = strings.context(&ctx);
            let data = user_data;
            (unsafe { execute(&c_ctx, data.0) }, ())
        })
        .await
    })
    .signal_only()
}

/// A batch item: a pointer owned by the C program.
struct Item(*mut c_void);
unsafe impl Send for Item {}

struct CDataflow {
    fetch: unsafe extern "C" fn(*const ej_sharding_context, *mut ej_items, *mut c_void) -> c_int,
    process: unsafe extern "C" fn(*const ej_sharding_context, *const *mut c_void, usize, *mut c_void) -> c_int,
    user_data: UserData,
}

#[async_trait::async_trait]
impl DataflowJob for CDataflow {
    type Item = Item;

    async fn fetch(&self, ctx: &ShardingContext) -> HandlerResult<Vec<Item>> {
        let (fetch, data, ctx) = (self.fetch, self.user_data, ctx.clone());
        call_c("fetch", move || {
            let strings = ContextStrings::new(&ctx);
            let c_ctx = strings.context(&ctx);
            let mut batch = ej_items { items: Vec::new() };
            let data = data;
            let code = unsafe { fetch(&c_ctx, &mut batch, data.0) };
            (code, batch.items.into_iter().map(Item).collect())
        })
        .await
    }

    async fn process(&self, ctx: &ShardingContext, items: Vec<Item>) -> HandlerResult {
        let (process, data, ctx) = (self.process, self.user_data, ctx.clone());
        call_c("process", move || {
            let strings = ContextStrings::new(&ctx);
            let c_ctx = strings.context(&ctx);
            let pointers: Vec<*mut c_void> = items.into_iter().map(|i| i.0).collect();
            let data = data;
            (unsafe { process(&c_ctx, pointers.as_ptr(), pointers.len(), data.0) }, ())
        })
        .await
    }
}

/// A failed item run of a job whose `jobErrorHandlerType` is `THROW`.
/// Strings are valid during the callback only.
#[repr(C)]
pub struct ej_job_error {
    /// The job's name.
    pub job_name: *const c_char,
    /// The item that failed.
    pub item: u32,
    /// The fire it belongs to, epoch milliseconds.
    pub fire_time: i64,
    /// The instance that ran it.
    pub instance_id: *const c_char,
    /// Whether it ran in place of a crashed instance.
    pub failover: bool,
    /// Why it failed (the handler's message, the HTTP status, "timed out", ...).
    pub message: *const c_char,
}

/// Receives the failures of a `THROW` job (see `ej_scheduler_set_error_handler`).
pub type ej_error_fn = Option<unsafe extern "C" fn(error: *const ej_job_error, user_data: *mut c_void)>;

/// The registered error callback; locked while it runs, so freeing the
/// scheduler waits for a call in progress and no call starts after.
type ErrorSlot = Arc<Mutex<Option<(unsafe extern "C" fn(*const ej_job_error, *mut c_void), UserData)>>>;

/// One job of this process (opaque).
pub struct ej_scheduler {
    pub(crate) inner: Arc<JobScheduler>,
    events: Mutex<broadcast::Receiver<JobEvent>>,
    instance_id: CString,
    errors: ErrorSlot,
    /// Delivers `Thrown` events to the error callback, once one is set.
    error_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

unsafe fn build(
    registry: *const ej_registry,
    config: *const ej_job_config,
    options: *const ej_scheduler_options,
    job: Job,
    out: *mut *mut ej_scheduler,
) -> Result<(), Failure> {
    let registry = object(registry, "registry")?;
    let config = object(config, "config")?;
    let options = options.as_ref();
    let mut builder = if options.is_some_and(|o| o.one_off) {
        JobScheduler::one_off(registry.center.clone(), config.inner.clone(), job)
    } else {
        JobScheduler::builder(registry.center.clone(), config.inner.clone(), job)
    }
    .binding("c");
    if let Some(options) = options {
        if let Some(listeners) = options.listeners.as_ref() {
            builder = listeners.register(builder)?;
        }
        if let Some(id) = optional_text(options.instance_id, "options.instance_id")? {
            builder = builder.instance_id(id);
        }
        if options.max_parallel > 0 {
            builder = builder.max_parallel(options.max_parallel as usize);
        }
        for (name, strategy) in crate::strategy::strategies(options.sharding_strategies, options.sharding_strategy_count)? {
            builder = builder.sharding_strategy(&name, strategy);
        }
        if let Some(url) = optional_text(options.history, "options.history")? {
            builder = builder.history(url);
        }
        if let Some(address) = optional_text(options.metrics_listen, "options.metrics_listen")? {
            builder = builder.metrics_listen(address);
        }
    }
    let _entered = runtime().enter();
    let inner = builder.build()?;
    let events = Mutex::new(inner.events());
    let instance_id = c_string(inner.instance_id());
    let scheduler = ej_scheduler { inner: Arc::new(inner), events, instance_id, errors: Arc::default(), error_task: Mutex::default() };
    put(out, scheduler, "out")
}

/// A scheduler for a simple job: `execute` runs once per item and fire.
///
/// # Safety
/// Pointers are live or NULL where allowed; `user_data` stays valid until the scheduler is freed.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_new_simple(
    registry: *const ej_registry,
    config: *const ej_job_config,
    execute: ej_execute_fn,
    user_data: *mut c_void,
    options: *const ej_scheduler_options,
    out: *mut *mut ej_scheduler,
) -> ej_status {
    guard(|| {
        let execute = execute.ok_or_else(|| invalid("execute", "must not be NULL"))?;
        build(registry, config, options, simple_job(execute, UserData(user_data)), out)
    })
}

/// A scheduler for a dataflow job: `fetch` then `process`, repeated while
/// fetch finds data when the prop `streaming.process` is true.
///
/// # Safety
/// As for `ej_scheduler_new_simple`.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_new_dataflow(
    registry: *const ej_registry,
    config: *const ej_job_config,
    fetch: ej_fetch_fn,
    process: ej_process_fn,
    user_data: *mut c_void,
    options: *const ej_scheduler_options,
    out: *mut *mut ej_scheduler,
) -> ej_status {
    guard(|| {
        let fetch = fetch.ok_or_else(|| invalid("fetch", "must not be NULL"))?;
        let process = process.ok_or_else(|| invalid("process", "must not be NULL"))?;
        let job = Job::dataflow(CDataflow { fetch, process, user_data: UserData(user_data) }).signal_only();
        build(registry, config, options, job, out)
    })
}

/// A scheduler for a script job: runs the prop `script.command.line` per item.
///
/// # Safety
/// As for `ej_scheduler_new_simple`.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_new_script(
    registry: *const ej_registry,
    config: *const ej_job_config,
    options: *const ej_scheduler_options,
    out: *mut *mut ej_scheduler,
) -> ej_status {
    guard(|| build(registry, config, options, Job::script(), out))
}

/// A scheduler for an HTTP job: one request per item, configured by the
/// props `http.uri`, `http.method` (both required), `http.data`,
/// `http.content.type`, `http.connect.timeout.milliseconds` and
/// `http.read.timeout.milliseconds`; the sharding context travels as JSON in
/// the `shardingContext` header, and a non-2xx answer fails the run.
///
/// # Safety
/// As for `ej_scheduler_new_simple`.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_new_http(
    registry: *const ej_registry,
    config: *const ej_job_config,
    options: *const ej_scheduler_options,
    out: *mut *mut ej_scheduler,
) -> ej_status {
    guard(|| build(registry, config, options, Job::http(), out))
}

/// Sets the callback that receives every failed or timed-out item run when
/// the job's `jobErrorHandlerType` is `THROW` (NULL removes it). Set it
/// before `ej_scheduler_start` to miss nothing. It is called on a library
/// thread, one failure at a time, and must not free the scheduler; once
/// `ej_scheduler_free` returns it is never called again.
///
/// # Safety
/// `scheduler` is live; `user_data` stays valid until the scheduler is freed
/// or another callback is set.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_set_error_handler(
    scheduler: *const ej_scheduler,
    handler: ej_error_fn,
    user_data: *mut c_void,
) -> ej_status {
    guard(|| {
        let scheduler = object(scheduler, "scheduler")?;
        *scheduler.errors.lock().unwrap_or_else(|p| p.into_inner()) = handler.map(|f| (f, UserData(user_data)));
        let mut task = scheduler.error_task.lock().unwrap_or_else(|p| p.into_inner());
        if task.is_none() {
            let events = scheduler.inner.events();
            *task = Some(runtime().spawn(deliver_errors(events, scheduler.errors.clone())));
        }
        Ok(())
    })
}

/// Hands each `Thrown` event to the error callback, on a blocking thread.
async fn deliver_errors(mut events: broadcast::Receiver<JobEvent>, slot: ErrorSlot) {
    loop {
        let execution = match events.recv().await {
            Ok(JobEvent::Thrown(execution)) => execution,
            Ok(JobEvent::Stopped) | Err(broadcast::error::RecvError::Closed) => return,
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
        };
        let slot = slot.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let handler = slot.lock().unwrap_or_else(|p| p.into_inner());
            let Some((call, data)) = *handler else { return };
            let message = match execution.outcome {
                Outcome::Failed(text) => text,
                Outcome::TimedOut => "timed out".into(),
                other => format!("{other:?}"),
            };
            let (job_name, instance_id, message) = (c_string(&execution.job_name), c_string(&execution.instance_id), c_string(&message));
            let error = ej_job_error {
                job_name: job_name.as_ptr(),
                item: execution.item,
                fire_time: execution.fire_time,
                instance_id: instance_id.as_ptr(),
                failover: execution.failover,
                message: message.as_ptr(),
            };
            unsafe { call(&error, data.0) };
        })
        .await;
    }
}

/// Registers this instance and starts firing.
///
/// # Safety
/// `scheduler` is live.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_start(scheduler: *const ej_scheduler) -> ej_status {
    guard(|| {
        let inner = object(scheduler, "scheduler")?.inner.clone();
        runtime().block_on(inner.start())?;
        Ok(())
    })
}

/// Runs the job once now on every live instance, each running its own
/// items (one-off jobs' `execute`: a trigger request per instance).
///
/// # Safety
/// `scheduler` is live.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_execute(scheduler: *const ej_scheduler) -> ej_status {
    guard(|| {
        let inner = object(scheduler, "scheduler")?.inner.clone();
        runtime().block_on(inner.execute())?;
        Ok(())
    })
}

/// Runs this instance's items once, now.
///
/// # Safety
/// `scheduler` is live.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_trigger(scheduler: *const ej_scheduler) -> ej_status {
    guard(|| {
        let inner = object(scheduler, "scheduler")?.inner.clone();
        runtime().block_on(inner.trigger())?;
        Ok(())
    })
}

/// Finishes running items, gives up leadership and leaves the cluster.
///
/// # Safety
/// `scheduler` is live.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_shutdown(scheduler: *const ej_scheduler) -> ej_status {
    guard(|| {
        let inner = object(scheduler, "scheduler")?.inner.clone();
        runtime().block_on(inner.shutdown());
        Ok(())
    })
}

/// This instance's id, valid until the scheduler is freed (NULL if `scheduler` is NULL).
///
/// # Safety
/// `scheduler` is null or live.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_instance_id(scheduler: *const ej_scheduler) -> *const c_char {
    scheduler.as_ref().map_or(std::ptr::null(), |s| s.instance_id.as_ptr())
}

/// Fills `out` with the execution history's counters. `EJ_ILLEGAL_STATE`
/// when the scheduler keeps no history (`options.history` was NULL).
///
/// # Safety
/// `scheduler` is null or live; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_history_stats(scheduler: *const ej_scheduler, out: *mut ej_history_stats) -> ej_status {
    guard(|| {
        let out = out.as_mut().ok_or_else(|| invalid("out", "must not be NULL"))?;
        *out = ej_history_stats::default();
        let scheduler = object(scheduler, "scheduler")?;
        let stats = scheduler
            .inner
            .history_stats()
            .ok_or_else(|| Failure(ej_status::EJ_ILLEGAL_STATE, "this scheduler keeps no execution history".into()))?;
        *out = ej_history_stats::from(&stats);
        Ok(())
    })
}

/// Kinds of [`ej_event`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ej_event_type {
    /// No event within the timeout.
    EJ_EVENT_NONE = 0,
    /// An item run finished (`success`, `message` on failure).
    EJ_EVENT_EXECUTION = 1,
    /// This instance, as leader, resharded the job.
    EJ_EVENT_SHARDING = 2,
    /// A fire came while `item` still ran.
    EJ_EVENT_MISFIRE = 3,
    /// A failure outside handlers (`message`).
    EJ_EVENT_ERROR = 4,
    /// The scheduler stopped.
    EJ_EVENT_STOPPED = 5,
    /// An item run failed and the job's `jobErrorHandlerType` is `THROW`
    /// (`item`, `fire_time`, `message`); also given to the error callback.
    EJ_EVENT_THROWN = 6,
}

/// Something the scheduler reports. Clear with `ej_event_clear`.
#[repr(C)]
pub struct ej_event {
    /// What happened.
    pub kind: ej_event_type,
    /// The item (executions, misfires).
    pub item: u32,
    /// The fire, epoch milliseconds (executions, misfires).
    pub fire_time: i64,
    /// Whether the execution succeeded.
    pub success: bool,
    /// Whether the execution took over a crashed instance's item.
    pub failover: bool,
    /// Failure or error text, or NULL; owned by the event.
    pub message: *mut c_char,
    /// What the run printed (executions of a script job: the ends of its
    /// stdout and stderr, labelled `--- stdout ---` and `--- stderr ---`,
    /// each cut to its last 2,000 characters), or NULL; owned by the event.
    pub output: *mut c_char,
    /// Which attempt at its item's fire the run was (executions; see
    /// `ej_sharding_context.attempt`).
    pub attempt: u32,
}

/// Waits up to `timeout_ms` for the next event; `out->kind` is `EJ_EVENT_NONE` on timeout.
///
/// # Safety
/// `scheduler` is live; `out` is writable (and cleared of an earlier event).
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_next_event(scheduler: *const ej_scheduler, timeout_ms: u32, out: *mut ej_event) -> ej_status {
    guard(|| {
        let scheduler = object(scheduler, "scheduler")?;
        let out = out.as_mut().ok_or_else(|| invalid("out", "must not be NULL"))?;
        let mut events = scheduler.events.lock().unwrap_or_else(|p| p.into_inner());
        let event = runtime().block_on(async {
            loop {
                match tokio::time::timeout(Duration::from_millis(timeout_ms as u64), events.recv()).await {
                    Ok(Ok(event)) => return Some(event),
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                    _ => return None,
                }
            }
        });
        *out = ej_event {
            kind: ej_event_type::EJ_EVENT_NONE,
            item: 0,
            fire_time: 0,
            success: false,
            failover: false,
            message: std::ptr::null_mut(),
            output: std::ptr::null_mut(),
            attempt: 0,
        };
        let message = |text: String| c_string(&text).into_raw();
        match event {
            None => {}
            Some(JobEvent::Executed(e)) => {
                out.kind = ej_event_type::EJ_EVENT_EXECUTION;
                out.item = e.item;
                out.fire_time = e.fire_time;
                out.failover = e.failover;
                out.attempt = e.attempt;
                if let Some(output) = e.output {
                    out.output = message(output);
                }
                match e.outcome {
                    Outcome::Succeeded => out.success = true,
                    Outcome::Failed(text) => out.message = message(text),
                    other => out.message = message(other.to_string()),
                }
            }
            Some(JobEvent::Sharded(_)) => out.kind = ej_event_type::EJ_EVENT_SHARDING,
            Some(JobEvent::Misfired { items, fire_time }) => {
                out.kind = ej_event_type::EJ_EVENT_MISFIRE;
                out.item = items.first().copied().unwrap_or_default();
                out.fire_time = fire_time;
            }
            Some(JobEvent::Error(text)) => {
                out.kind = ej_event_type::EJ_EVENT_ERROR;
                out.message = message(text);
            }
            Some(JobEvent::Stopped) => out.kind = ej_event_type::EJ_EVENT_STOPPED,
            Some(JobEvent::Thrown(e)) => {
                out.kind = ej_event_type::EJ_EVENT_THROWN;
                out.item = e.item;
                out.fire_time = e.fire_time;
                out.failover = e.failover;
                out.message = message(match e.outcome {
                    Outcome::Failed(text) => text,
                    Outcome::TimedOut => "timed out".into(),
                    other => format!("{other:?}"),
                });
            }
            Some(JobEvent::StuckItems { items, waited }) => {
                out.kind = ej_event_type::EJ_EVENT_ERROR;
                out.item = items.keys().next().copied().unwrap_or_default();
                out.message = message(format!("items still running after {} ms of resharding wait: {items:?}", waited.as_millis()));
            }
            // An event kind newer than this binding: reported, not dropped.
            Some(other) => {
                out.kind = ej_event_type::EJ_EVENT_ERROR;
                out.message = message(format!("event not known to this binding: {other:?}"));
            }
        }
        Ok(())
    })
}

/// Frees an event's message and output (safe to call on a cleared event).
///
/// # Safety
/// `event` is null or was filled by `ej_scheduler_next_event`.
#[no_mangle]
pub unsafe extern "C" fn ej_event_clear(event: *mut ej_event) {
    if let Some(event) = event.as_mut() {
        ej_string_free(event.message);
        event.message = std::ptr::null_mut();
        ej_string_free(event.output);
        event.output = std::ptr::null_mut();
    }
}

/// Shuts the scheduler down if it runs, then frees it (NULL is fine).
///
/// # Safety
/// `scheduler` is null or from this library and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_free(scheduler: *mut ej_scheduler) {
    if scheduler.is_null() {
        return;
    }
    let scheduler = Box::from_raw(scheduler);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime().block_on(scheduler.inner.shutdown())));
    // Waits for an error callback in progress; none starts after this.
    scheduler.errors.lock().unwrap_or_else(|p| p.into_inner()).take();
    let task = scheduler.error_task.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(task) = task {
        task.abort();
    }
}
