//! `NativeScheduler`: one job in this process with JavaScript handlers.
//! Handlers run on the JS thread through a thread-safe function and may
//! return Promises; the runtime never waits on the JS thread otherwise.

use crate::config;
use crate::registry::NativeRegistry;
use crate::strategy::{JsStrategy, StrategyFunction, StrategySlot};
use crate::to_js;
use elasticjob::{DataflowJob, HandlerResult, Job, JobEvent, JobOperator, JobScheduler, Outcome, RegistryCenter, ShardingContext};
use napi::bindgen_prelude::{BigInt, Promise};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Error, Result, Status};
use napi_derive::napi;
use serde::Deserialize;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// What a handler receives for one item.
#[napi(object)]
#[derive(Clone)]
pub struct JsShardingContext {
    /// The job's name.
    pub job_name: String,
    /// This execution's id.
    pub task_id: String,
    /// How many items the job has.
    pub sharding_total_count: u32,
    /// The job-wide parameter.
    pub job_parameter: String,
    /// The item to run.
    pub sharding_item: u32,
    /// The item's parameter ("" if none).
    pub sharding_parameter: String,
    /// The fire this run belongs to, epoch milliseconds.
    pub fire_time: i64,
    /// False when this run took over an item whose crashed runner did not
    /// record its fire (a Java ElasticJob instance never does): then
    /// `fire_time` is the take-over time.
    pub fire_time_known: bool,
    /// Whether this run takes over a crashed instance's item.
    pub failover: bool,
    /// Grows with every start of this item anywhere in the cluster; a
    /// bigint, since a 64-bit registry transaction id may exceed 2^53.
    pub fencing_token: BigInt,
    /// Which attempt at this item's fire the run is: 1, then 2 for the
    /// first retry of a failed run (props `retryMaxAttempts`), and so on.
    pub attempt: u32,
}

impl From<&ShardingContext> for JsShardingContext {
    fn from(c: &ShardingContext) -> Self {
        JsShardingContext {
            job_name: c.job_name.clone(),
            task_id: c.task_id.clone(),
            sharding_total_count: c.sharding_total_count,
            job_parameter: c.job_parameter.clone(),
            sharding_item: c.sharding_item,
            sharding_parameter: c.sharding_parameter.clone(),
            fire_time: c.fire_time,
            fire_time_known: c.fire_time_known,
            failover: c.failover,
            fencing_token: BigInt::from(c.fencing_token),
            attempt: c.attempt,
        }
    }
}

/// What a listener receives: this instance's part of one fire.
#[napi(object)]
#[derive(Clone)]
pub struct JsShardingContexts {
    /// `{jobName}@-@{items}@-@READY@-@{instanceId}`.
    pub task_id: String,
    /// The job's name.
    pub job_name: String,
    /// How many items the job has.
    pub sharding_total_count: u32,
    /// The job-wide parameter.
    pub job_parameter: String,
    /// This instance's items in the fire (as keys) with their parameters.
    pub sharding_item_parameters: std::collections::HashMap<String, String>,
    /// The fire, epoch milliseconds.
    pub fire_time: i64,
}

impl From<&elasticjob::ShardingContexts> for JsShardingContexts {
    fn from(c: &elasticjob::ShardingContexts) -> Self {
        JsShardingContexts {
            task_id: c.task_id.clone(),
            job_name: c.job_name.clone(),
            sharding_total_count: c.sharding_total_count,
            job_parameter: c.job_parameter.clone(),
            sharding_item_parameters: c.sharding_item_parameters.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            fire_time: c.fire_time,
        }
    }
}

/// One call into JavaScript: which handler, for which item (and batch);
/// or `cancel`: abort the signal of the earlier call with the same `id`;
/// or a listener hook with this instance's part of a fire.
#[napi(object)]
pub struct JsCall {
    /// `execute`, `fetch`, `process`, `cancel`, or a listener hook:
    /// `beforeJobExecuted`, `afterJobExecuted` (plain listener `listener`),
    /// `doBeforeJobExecutedAtLastStarted`, `doAfterJobExecutedAtLastCompleted`
    /// (distributed-once listener `listener`).
    pub kind: String,
    /// Identifies the handler call (its AbortController on the JS side).
    pub id: u32,
    /// The item's context (absent for `cancel`).
    pub ctx: Option<JsShardingContext>,
    /// For `process`: the batch id `fetch` returned.
    pub batch: Option<u32>,
    /// For `cancel`: why (`timed-out`, `session-lost`, `item-moved`, `shutdown`, `superseded`).
    pub reason: Option<String>,
    /// For a listener hook: which listener of its list.
    pub listener: Option<u32>,
    /// For a listener hook: the instance's part of the fire.
    pub contexts: Option<JsShardingContexts>,
}

/// Ids of handler calls; wrapping around after 2^32 calls is harmless, as
/// ids only need to differ among calls running at once.
static NEXT_CALL_ID: AtomicU32 = AtomicU32::new(1);

/// What the JS side answers (JSON): an error with its stack, or a batch id.
#[derive(Deserialize, Default)]
struct JsAnswer {
    error: Option<String>,
    batch: Option<u32>,
}

type Invoke = ThreadsafeFunction<JsCall, Promise<String>, JsCall, Status, false>;
type InvokeSlot = Arc<Mutex<Option<Arc<Invoke>>>>;

/// Calls a JS handler and waits for its answer. The run's cancellation is
/// forwarded as a `cancel` call through the same thread-safe function, so
/// JS always sees it after the call it cancels (the queue is FIFO), and
/// aborts that call's `AbortSignal`.
async fn invoke(slot: &InvokeSlot, kind: &str, ctx: &ShardingContext, batch: Option<u32>) -> HandlerResult<Option<u32>> {
    let function = slot.lock().unwrap_or_else(|p| p.into_inner()).clone().ok_or("the scheduler was shut down")?;
    let id = NEXT_CALL_ID.fetch_add(1, Ordering::Relaxed);
    let call = JsCall { kind: kind.to_string(), id, ctx: Some(ctx.into()), batch, reason: None, listener: None, contexts: None };
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let status = function.call_with_return_value(call, ThreadsafeFunctionCallMode::NonBlocking, move |answer, _| {
        let _ = sender.send(answer);
        Ok(())
    });
    if status != Status::Ok {
        return Err(format!("calling the {kind} handler failed: {status}").into());
    }
    let hook_slot = slot.clone();
    ctx.cancellation.on_cancel(move |reason| {
        let function = hook_slot.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(function) = function {
            let cancel = JsCall {
                kind: "cancel".into(),
                id,
                ctx: None,
                batch: None,
                reason: Some(reason.as_str().into()),
                listener: None,
                contexts: None,
            };
            function.call(cancel, ThreadsafeFunctionCallMode::NonBlocking);
        }
    });
    answer_of(kind, receiver).await.map(|answer| answer.batch)
}

/// Waits for a JS call's Promise and reads its answer.
async fn answer_of(
    kind: &str,
    receiver: tokio::sync::oneshot::Receiver<Result<Promise<String>>>,
) -> HandlerResult<JsAnswer> {
    let promise = receiver
        .await
        .map_err(|_| format!("calling the {kind} handler failed: the call was dropped"))?
        .map_err(|e| format!("calling the {kind} handler failed: {e}"))?;
    let answer = promise.await.map_err(|e| format!("the {kind} handler failed: {e}"))?;
    let answer: JsAnswer = serde_json::from_str(&answer).unwrap_or_default();
    match answer.error {
        Some(error) => Err(error.into()),
        None => Ok(answer),
    }
}

/// A JS listener (plain or distributed-once): its hooks are calls through
/// the scheduler's thread-safe function, naming the listener by index.
struct JsListener {
    slot: InvokeSlot,
    index: u32,
}

impl JsListener {
    async fn call(&self, kind: &str, contexts: &elasticjob::ShardingContexts) -> HandlerResult {
        let function = self.slot.lock().unwrap_or_else(|p| p.into_inner()).clone().ok_or("the scheduler was shut down")?;
        let id = NEXT_CALL_ID.fetch_add(1, Ordering::Relaxed);
        let call = JsCall {
            kind: kind.to_string(),
            id,
            ctx: None,
            batch: None,
            reason: None,
            listener: Some(self.index),
            contexts: Some(contexts.into()),
        };
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let status = function.call_with_return_value(call, ThreadsafeFunctionCallMode::NonBlocking, move |answer, _| {
            let _ = sender.send(answer);
            Ok(())
        });
        if status != Status::Ok {
            return Err(format!("calling the {kind} listener failed: {status}").into());
        }
        answer_of(kind, receiver).await.map(|_| ())
    }
}

#[async_trait::async_trait]
impl elasticjob::JobListener for JsListener {
    async fn before_job_executed(&self, contexts: &elasticjob::ShardingContexts) -> HandlerResult {
        self.call("beforeJobExecuted", contexts).await
    }

    async fn after_job_executed(&self, contexts: &elasticjob::ShardingContexts) -> HandlerResult {
        self.call("afterJobExecuted", contexts).await
    }
}

#[async_trait::async_trait]
impl elasticjob::DistributeOnceJobListener for JsListener {
    async fn before_at_last_started(&self, contexts: &elasticjob::ShardingContexts) -> HandlerResult {
        self.call("doBeforeJobExecutedAtLastStarted", contexts).await
    }

    async fn after_at_last_completed(&self, contexts: &elasticjob::ShardingContexts) -> HandlerResult {
        self.call("doAfterJobExecutedAtLastCompleted", contexts).await
    }
}

/// A dataflow job whose batches stay on the JS side; Rust sees batch ids.
struct JsDataflow {
    slot: InvokeSlot,
}

#[async_trait::async_trait]
impl DataflowJob for JsDataflow {
    type Item = u32;

    async fn fetch(&self, ctx: &ShardingContext) -> HandlerResult<Vec<u32>> {
        Ok(invoke(&self.slot, "fetch", ctx, None).await?.into_iter().collect())
    }

    async fn process(&self, ctx: &ShardingContext, batches: Vec<u32>) -> HandlerResult {
        for batch in batches {
            invoke(&self.slot, "process", ctx, Some(batch)).await?;
        }
        Ok(())
    }
}

/// One job of this process.
#[napi]
pub struct NativeScheduler {
    inner: Arc<JobScheduler>,
    center: RegistryCenter,
    /// The id of the last `start` call that JS aborted (see `start`).
    aborted: watch::Sender<u32>,
    slot: InvokeSlot,
    strategies: StrategySlot,
    events: Arc<tokio::sync::Mutex<broadcast::Receiver<JobEvent>>>,
}

#[napi]
impl NativeScheduler {
    /// `kind` is `simple`, `dataflow`, `script` or `http`; `invoke(call)`
    /// runs handlers and listener hooks; `shard(call)` answers the
    /// strategies registered under `strategy_names`. `listeners` plain
    /// listeners are called by index; `onceTimeoutsMs` holds (started,
    /// completed) timeouts per distributed-once listener; `oneOff` builds a
    /// one-off job.
    #[napi(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        registry: &NativeRegistry,
        config_json: String,
        kind: String,
        #[napi(ts_arg_type = "(call: JsCall) => Promise<string>")] invoke_js: Invoke,
        instance_id: Option<String>,
        max_parallel: Option<u32>,
        strategy_names: Option<Vec<String>>,
        #[napi(ts_arg_type = "(call: JsStrategyCall) => Promise<string>")] shard_js: Option<StrategyFunction>,
        listeners: Option<u32>,
        once_timeouts_ms: Option<Vec<i64>>,
        one_off: Option<bool>,
        history: Option<String>,
        metrics_listen: Option<String>,
    ) -> Result<Self> {
        let config = config::parse(&config_json)?;
        let slot: InvokeSlot = Arc::new(Mutex::new(Some(Arc::new(invoke_js))));
        let job = match kind.as_str() {
            "simple" => {
                let slot = slot.clone();
                Job::from_fn(move |ctx| {
                    let slot = slot.clone();
                    async move { invoke(&slot, "execute", &ctx, None).await.map(|_| ()) }
                })
                .signal_only()
            }
            "dataflow" => Job::dataflow(JsDataflow { slot: slot.clone() }).signal_only(),
            "script" => Job::script(),
            "http" => Job::http(),
            other => return Err(Error::new(Status::InvalidArg, format!("invalid job kind `{other}`"))),
        };
        let mut builder = if one_off.unwrap_or(false) {
            JobScheduler::one_off(registry.center.clone(), config, job)
        } else {
            JobScheduler::builder(registry.center.clone(), config, job)
        }
        .binding("node");
        if let Some(url) = history {
            builder = builder.history(url);
        }
        if let Some(address) = metrics_listen {
            builder = builder.metrics_listen(address);
        }
        for index in 0..listeners.unwrap_or(0) {
            builder = builder.listener(JsListener { slot: slot.clone(), index });
        }
        for (index, timeouts) in once_timeouts_ms.unwrap_or_default().chunks(2).enumerate() {
            let (started, completed) = (timeouts[0], timeouts.get(1).copied().unwrap_or(0));
            let listener = JsListener { slot: slot.clone(), index: index as u32 };
            builder = builder.once_listener(elasticjob::OnceListener::new(listener, started, completed).map_err(to_js)?);
        }
        if let Some(id) = instance_id {
            builder = builder.instance_id(id);
        }
        if let Some(n) = max_parallel {
            builder = builder.max_parallel(n as usize);
        }
        let strategies: StrategySlot = Arc::new(Mutex::new(shard_js.map(Arc::new)));
        for name in strategy_names.unwrap_or_default() {
            builder = builder.sharding_strategy(&name, JsStrategy { name: name.clone(), slot: strategies.clone() });
        }
        let inner = builder.build().map_err(to_js)?;
        let events = Arc::new(tokio::sync::Mutex::new(inner.events()));
        Ok(NativeScheduler {
            inner: Arc::new(inner),
            center: registry.center.clone(),
            aborted: watch::channel(0).0,
            slot,
            strategies,
            events,
        })
    }

    /// Registers this instance and starts firing. `start_id` names this
    /// call for `abort_start`: until the registry session is up (the wait
    /// that can be long) the call gives up when aborted, with status
    /// `Cancelled`; registering itself is a few quick requests and is not
    /// cut short, so an abort never leaves half an instance behind.
    #[napi]
    pub async fn start(&self, start_id: u32) -> Result<()> {
        let mut aborted = self.aborted.subscribe();
        tokio::select! {
            session = self.center.session() => { session.map_err(to_js)?; }
            _ = aborted.wait_for(|id| *id == start_id) => {
                return Err(Error::new(Status::Cancelled, "start aborted"));
            }
        }
        self.inner.start().await.map_err(to_js)
    }

    /// Aborts the `start` call with this id, whether it is waiting already
    /// or not yet running.
    #[napi]
    pub fn abort_start(&self, start_id: u32) {
        self.aborted.send_replace(start_id);
    }

    /// Runs the job once now on every live instance (one-off jobs' `execute`).
    #[napi]
    pub async fn execute_all(&self) -> Result<()> {
        self.inner.execute().await.map_err(to_js)
    }

    /// Runs this instance's items once, now.
    #[napi]
    pub async fn trigger(&self) -> Result<()> {
        self.inner.trigger().await.map_err(to_js)
    }

    /// Finishes running items, leaves the cluster and releases the JS handler
    /// so the process can exit.
    #[napi]
    pub async fn shutdown(&self) -> Result<()> {
        self.inner.shutdown().await;
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.strategies.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(())
    }

    /// The next event as JSON, or null after `timeoutMs`.
    #[napi]
    pub async fn next_event(&self, timeout_ms: u32) -> Result<Option<String>> {
        let mut events = self.events.lock().await;
        loop {
            match tokio::time::timeout(Duration::from_millis(timeout_ms as u64), events.recv()).await {
                Ok(Ok(event)) => return Ok(Some(event_json(event).to_string())),
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => return Ok(None),
            }
        }
    }

    /// This instance's id.
    #[napi(getter)]
    pub fn instance_id(&self) -> String {
        self.inner.instance_id().to_string()
    }

    /// Whether the scheduler stopped.
    #[napi(getter)]
    pub fn is_shut_down(&self) -> bool {
        self.inner.is_shut_down()
    }

    /// What this scheduler did so far, as JSON (see `metrics_json`).
    #[napi]
    pub fn metrics(&self) -> String {
        metrics_json(self.inner.metrics()).to_string()
    }

    /// `IP:PORT` of the process's metrics endpoint, or null if this scheduler did not ask for one.
    #[napi(getter)]
    pub fn metrics_address(&self) -> Option<String> {
        self.inner.metrics_address().map(|a| a.to_string())
    }

    /// The execution history's counters as JSON, or null without a history.
    #[napi]
    pub fn history_stats(&self) -> Option<String> {
        self.inner.history_stats().map(|s| {
            serde_json::json!({
                "written": s.written, "dropped": s.dropped, "pending": s.pending,
                "failedWrites": s.failed_writes, "lastError": s.last_error,
            })
            .to_string()
        })
    }
}

/// The metrics snapshot with the JS names `index.d.ts` declares.
fn metrics_json(m: elasticjob::MetricsSnapshot) -> serde_json::Value {
    let histogram = |h: elasticjob::metrics::HistogramSnapshot| {
        serde_json::json!({ "bounds": h.bounds, "buckets": h.buckets, "count": h.count, "sum": h.sum })
    };
    serde_json::json!({
        "jobName": m.job_name,
        "fires": { "cron": m.fires.cron, "trigger": m.fires.trigger, "misfire": m.fires.misfire },
        "executions": {
            "succeeded": m.executions.succeeded, "failed": m.executions.failed,
            "timedOut": m.executions.timed_out, "cancelled": m.executions.cancelled,
        },
        "fireLag": histogram(m.fire_lag),
        "handlerDuration": histogram(m.handler_duration),
        "misfires": m.misfires,
        "failoversTaken": m.failovers_taken,
        "reshards": m.reshards,
        "errors": m.errors,
        "itemsOwned": m.items_owned,
        "itemsRunning": m.items_running,
        "sessionState": m.session_state.as_str(),
        "reconnects": { "connection": m.reconnects.connection, "session": m.reconnects.session },
        "history": m.history.map(|h| serde_json::json!({
            "written": h.written, "dropped": h.dropped, "pending": h.pending,
            "failedWrites": h.failed_writes, "lastError": h.last_error,
        })),
    })
}

/// How a run ended, for `index.js` to turn into an `Error`: `kind` is
/// `succeeded`, `failed` (with the handler's `message`), `timed-out` or
/// `cancelled` (with the `reason`).
fn outcome_json(outcome: &Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Succeeded => serde_json::json!({ "kind": "succeeded" }),
        Outcome::Failed(message) => serde_json::json!({ "kind": "failed", "message": message }),
        Outcome::TimedOut => serde_json::json!({ "kind": "timed-out" }),
        Outcome::Cancelled(reason) => serde_json::json!({ "kind": "cancelled", "reason": reason.as_str() }),
        // An outcome newer than this binding: a failure with the core's text.
        other => serde_json::json!({ "kind": "failed", "message": other.to_string() }),
    }
}

fn event_json(event: JobEvent) -> serde_json::Value {
    match event {
        JobEvent::Executed(e) => serde_json::json!({
            "type": "execution", "jobName": e.job_name, "item": e.item, "fireTime": e.fire_time,
            "instanceId": e.instance_id, "failover": e.failover, "startedAt": e.started_at, "finishedAt": e.finished_at,
            "success": e.outcome.is_success(), "fencingToken": e.fencing_token.to_string(), "outcome": outcome_json(&e.outcome),
            "attempt": e.attempt, "output": e.output,
        }),
        JobEvent::Thrown(e) => serde_json::json!({
            "type": "thrown", "jobName": e.job_name, "item": e.item, "fireTime": e.fire_time,
            "instanceId": e.instance_id, "failover": e.failover, "fencingToken": e.fencing_token.to_string(),
            "attempt": e.attempt, "outcome": outcome_json(&e.outcome),
        }),
        JobEvent::Sharded(assignment) => serde_json::json!({ "type": "sharding", "assignment": assignment }),
        JobEvent::Misfired { items, fire_time } => serde_json::json!({ "type": "misfire", "items": items, "fireTime": fire_time }),
        JobEvent::Error(message) => serde_json::json!({ "type": "error", "error": message }),
        JobEvent::Stopped => serde_json::json!({ "type": "stopped" }),
        JobEvent::StuckItems { items, waited } => {
            serde_json::json!({ "type": "stuck", "items": items, "waitedMs": waited.as_millis() as u64 })
        }
        // An event kind newer than this binding: reported, not dropped.
        other => serde_json::json!({ "type": "error", "error": format!("event not known to this binding: {other:?}") }),
    }
}

/// The lifecycle API for jobs running anywhere in the namespace.
#[napi]
pub struct NativeOperator {
    inner: JobOperator,
}

#[napi]
impl NativeOperator {
    /// An operator on the registry's namespace.
    #[napi(constructor)]
    pub fn new(registry: &NativeRegistry) -> Self {
        NativeOperator { inner: JobOperator::new(registry.center.clone()) }
    }

    /// `trigger`, `disable`, `enable`, `shutdown` or `remove` (server: one IP
    /// or all; for `trigger`, the overlap override, if any).
    #[napi]
    pub async fn apply(&self, operation: String, job_name: String, server_ip: Option<String>) -> Result<()> {
        let ip = server_ip.as_deref();
        let op = &self.inner;
        match operation.as_str() {
            "trigger" => match ip.map(elasticjob::OverlapPolicy::parse).transpose() {
                Ok(overlap) => op.trigger_with(&job_name, overlap).await,
                Err(e) => Err(e),
            },
            "disable" => op.disable(&job_name, ip).await,
            "enable" => op.enable(&job_name, ip).await,
            "shutdown" => op.shutdown(&job_name, ip).await,
            "remove" => op.remove(&job_name, ip).await,
            other => return Err(Error::new(Status::InvalidArg, format!("invalid operation `{other}`"))),
        }
        .map_err(to_js)
    }

    /// Pauses the job with a note; `until_ms`: epoch ms it resumes by itself.
    #[napi]
    pub async fn pause(&self, job_name: String, by: String, reason: String, until_ms: Option<i64>) -> Result<()> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let note = elasticjob::PauseNote::new(&by, &reason, now, until_ms).map_err(to_js)?;
        self.inner.pause(&job_name, &note).await.map_err(to_js)
    }

    /// Resumes a paused job; whether it was paused.
    #[napi]
    pub async fn resume(&self, job_name: String) -> Result<bool> {
        self.inner.resume(&job_name).await.map_err(to_js)
    }

    /// The note of the job's pause in force, as JSON (`null`: not paused).
    #[napi]
    pub async fn pause_note(&self, job_name: String) -> Result<String> {
        let note = self.inner.pause_note(&job_name).await.map_err(to_js)?;
        Ok(serde_json::to_string(&note).expect("a pause note serializes"))
    }

    /// Backfills the fires of `[from_ms, to_ms)`; the backfill's id.
    #[napi]
    pub async fn backfill(&self, job_name: String, from_ms: i64, to_ms: i64, by: String, overlap: Option<String>) -> Result<String> {
        let overlap = overlap.as_deref().map(elasticjob::OverlapPolicy::parse).transpose().map_err(to_js)?;
        self.inner.backfill(&job_name, from_ms, to_ms, &by, overlap).await.map_err(to_js)
    }

    /// The job's backfills with their progress, as JSON.
    #[napi]
    pub async fn backfills(&self, job_name: String) -> Result<String> {
        let backfills = self.inner.backfills(&job_name).await.map_err(to_js)?;
        let list: Vec<_> = backfills
            .iter()
            .map(|b| {
                let (started, total) = b.started();
                serde_json::json!({
                    "id": b.id, "from": b.request.from, "to": b.request.to, "by": b.request.by, "at": b.request.at,
                    "overlap": b.request.overlap.as_str(),
                    "fires": b.fires.len(), "started": started, "total": total, "done": b.is_done(),
                })
            })
            .collect();
        Ok(serde_json::Value::Array(list).to_string())
    }

    /// Forgets a backfill.
    #[napi]
    pub async fn cancel_backfill(&self, job_name: String, id: String) -> Result<()> {
        self.inner.cancel_backfill(&job_name, &id).await.map_err(to_js)
    }

    /// Disables or enables one item.
    #[napi]
    pub async fn set_item_disabled(&self, job_name: String, item: u32, disabled: bool) -> Result<()> {
        if disabled {
            self.inner.disable_item(&job_name, item).await
        } else {
            self.inner.enable_item(&job_name, item).await
        }
        .map_err(to_js)
    }

    /// Every job of the namespace, as JSON.
    #[napi]
    pub async fn jobs(&self) -> Result<String> {
        let jobs = self.inner.jobs().await.map_err(to_js)?;
        let list: Vec<_> = jobs
            .into_iter()
            .map(|j| serde_json::json!({
                "jobName": j.config.job_name, "cron": j.config.cron,
                "shardingTotalCount": j.config.sharding_total_count, "description": j.config.description,
                "status": j.status.as_str(), "instanceCount": j.instance_count, "pause": j.pause,
            }))
            .collect();
        Ok(serde_json::Value::from(list).to_string())
    }

    /// The items of a job with owner and state, as JSON.
    #[napi]
    pub async fn items(&self, job_name: String) -> Result<String> {
        let items = self.inner.items(&job_name).await.map_err(to_js)?;
        let list: Vec<_> = items
            .into_iter()
            .map(|i| serde_json::json!({
                "item": i.item, "instanceId": i.instance_id, "state": i.state.as_str(),
                "failoverInstance": i.failover_instance,
            }))
            .collect();
        Ok(serde_json::Value::from(list).to_string())
    }

    /// The live instances of a job, as JSON.
    #[napi]
    pub async fn instances(&self, job_name: String) -> Result<String> {
        let instances = self.inner.instances(&job_name).await.map_err(to_js)?;
        let list: Vec<_> = instances
            .into_iter()
            .map(|i| serde_json::json!({
                "instanceId": i.instance_id, "serverIp": i.server_ip, "leader": i.leader, "enabled": i.enabled,
            }))
            .collect();
        Ok(serde_json::Value::from(list).to_string())
    }
}
