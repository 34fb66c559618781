//! Running handlers (invariants 1 and 4).
//!
//! Every run holds its item's slot ([`super::runs`]) from the moment its
//! start is committed until its handler has really returned and it is
//! completed, so a timed-out or cancelled handler that is still running (a
//! Python thread, a C call) is never doubled, and the parallelism bound
//! holds. A run is
//! told to stop through its [`Cancellation`] (timeout, session lost, item
//! moved, shutdown); a Rust future is dropped as well. Panics and errors are
//! reported as failed executions; nothing a handler does stops other items,
//! later fires or the session.

use super::{now_millis, Inner};
use crate::cancel::{CancelReason, Cancellation};
use crate::config::JobConfig;
use crate::error::Error;
use crate::event::{Execution, JobEvent, Outcome};
use crate::execution::{self, Finished};
use crate::failover;
use crate::failure_streak::Settled;
use crate::job::{Job, JobSettings, ShardingContext};
use crate::notify::{ErrorHandler, Failure};
use crate::overlap::OverlapPolicy;
use crate::retries::{PendingRetry, RetryPolicy};
use crate::registry::Registry;
use crate::sharding::balance;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// How long a Rust handler told to stop may take to return by itself
/// (and report what it did) before its future is dropped.
const CANCEL_GRACE: Duration = Duration::from_millis(500);

/// How long completions wait for more runs to end, so they share a write.
const COMPLETION_BATCH_WINDOW: Duration = Duration::from_millis(20);

/// One item to run: the fires to run it for, in order, and its token.
pub(super) struct RunPlan {
    pub item: u32,
    pub fires: Vec<i64>,
    /// False for a take-over whose fire is unknown (see [`ShardingContext::fire_time_known`]).
    pub fire_time_known: bool,
    pub fencing_token: i64,
    /// Which attempt its fires' runs are (1 but for a retry).
    pub attempt: u32,
    pub cancellation: Cancellation,
}

/// How the runs were started, which decides how they are completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RunKind {
    /// Through the start fence; completion deletes the marks (`marked`:
    /// the start wrote them, i.e. `monitorExecution` was on).
    Owned {
        /// Whether the runs have `running` marks to clear.
        marked: bool,
        /// What they run for.
        origin: Origin,
    },
    /// Taken over from a lost instance (failover).
    Takeover,
}

/// What owned runs run for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// A scheduled fire (cron, its re-runs, an upstream job's fire) or a retry of one.
    Schedule,
    /// A trigger: its fire time is when each instance took it.
    Trigger,
    /// A backfill's fire: an operator's re-run of the past, which neither
    /// pauses the job on failure nor tells dependents of a fire.
    Backfill,
}

impl Inner {
    /// Runs the planned items in the background, completes each as it ends
    /// (batching those that end together), re-queues misfired fires, and
    /// then, with failover on, looks for items to take over.
    /// With listeners, `listening` is the fire's: its before-listeners run
    /// before any handler, and holding it until every run ended is what
    /// makes the after-listeners wait for them.
    pub(super) fn spawn_runs(
        self: &Arc<Self>,
        session: Arc<dyn Registry>,
        plans: Vec<RunPlan>,
        kind: RunKind,
        listening: Option<Arc<super::listening::FireListening>>,
    ) {
        if plans.is_empty() {
            return;
        }
        if let Some(listening) = &listening {
            listening.add(plans.iter().map(|p| p.item));
        }
        let inner = self.clone();
        tokio::spawn(async move {
            if let Some(listening) = &listening {
                listening.before().await;
            }
            let (config, settings, errors) = inner.snapshot();
            let retry_policy = inner.state_read().retry_policy.clone();
            let config = Arc::new(config);
            let parameters = Arc::new(config.sharding_item_parameters_map().unwrap_or_default());
            let pool = inner.runs.pool.permits();
            let mut runs = JoinSet::new();
            // Which item each run task is, so even a run that panicked frees its slot.
            let mut tasks = std::collections::HashMap::new();
            for plan in plans {
                let run = ItemRun {
                    job: inner.job.clone(),
                    pool: pool.clone(),
                    config: config.clone(),
                    settings: settings.clone(),
                    parameters: parameters.clone(),
                    instance: inner.instance.to_string(),
                    failover: kind == RunKind::Takeover,
                    metrics: inner.metrics.clone(),
                };
                let finished = Finished { item: plan.item, fencing_token: plan.fencing_token };
                let cancellation = plan.cancellation.clone();
                let id = runs.spawn(run.run(plan)).id();
                tasks.insert(id, (finished, cancellation));
            }
            while let Some(first) = runs.join_next_with_id().await {
                // Each completion is a registry write (a disk sync on the
                // server): gather the runs that end shortly after this one.
                if !runs.is_empty() {
                    tokio::time::sleep(COMPLETION_BATCH_WINDOW).await;
                }
                let mut ended = vec![first];
                while let Some(more) = runs.try_join_next_with_id() {
                    ended.push(more);
                }
                let ended: Vec<(Finished, Vec<Execution>, Cancellation)> = ended
                    .into_iter()
                    .filter_map(|joined| match joined {
                        Ok((id, (finished, executions))) => {
                            let (_, cancellation) = tasks.remove(&id)?;
                            Some((finished, executions, cancellation))
                        }
                        Err(e) => {
                            let (finished, cancellation) = tasks.remove(&e.id())?;
                            inner.fail(&format!("the run of item {} failed", finished.item), Error::IllegalState(e.to_string()));
                            Some((finished, Vec::new(), cancellation))
                        }
                    })
                    .collect();
                let retries = match (&retry_policy, kind) {
                    (Some(policy), RunKind::Owned { .. }) => retries_of(policy, ended.iter().map(|(_, executions, _)| executions)),
                    _ => Vec::new(),
                };
                // Under ALLOW_ALL runs end under the marks lock, so no run
                // joins a mark that is being cleared.
                let joinable = inner.state_read().config.overlap_policy() == OverlapPolicy::AllowAll
                    || ended.iter().any(|(finished, _, _)| inner.runs.shared(finished.item));
                let _marks = match joinable {
                    true => Some(inner.runs.marks.lock().await),
                    false => None,
                };
                let last: Vec<bool> =
                    ended.iter().map(|(finished, _, cancellation)| inner.runs.end_run(finished.item, cancellation)).collect();
                let clear: Vec<Finished> = ended.iter().zip(&last).filter(|(_, last)| **last).map(|((f, _, _), _)| *f).collect();
                let completed = inner.complete(&session, &clear, kind, &retries).await;
                drop(_marks);
                let ended: Vec<(Finished, Vec<Execution>)> =
                    ended.into_iter().map(|(finished, executions, _)| (finished, executions)).collect();
                let settled = settled_fires(&ended, &retries);
                let pause_after = inner.state_read().pause_after_failed_fires;
                let backfill = matches!(kind, RunKind::Owned { origin: Origin::Backfill, .. });
                if let (Some(limit), false) = (pause_after, backfill) {
                    inner.track_failure_streaks(&*session, &settled, limit).await;
                }
                if matches!(kind, RunKind::Owned { origin: Origin::Schedule, .. } | RunKind::Takeover) {
                    inner.record_completions(&*session, &settled).await;
                }
                if completed {
                    inner.schedule_retries(retries);
                }
                // Items that buffered the same fires re-run together.
                let mut misfired: BTreeMap<Vec<i64>, Vec<u32>> = BTreeMap::new();
                let mut triggered = Vec::new();
                let mut retry_waiting = false;
                for ((finished, executions), last) in ended.into_iter().zip(last) {
                    for execution in executions {
                        inner.report(&errors, execution);
                    }
                    if !last {
                        continue;
                    }
                    let released = inner.runs.release(finished.item);
                    if !released.buffered.is_empty() {
                        misfired.entry(released.buffered).or_default().push(finished.item);
                    }
                    if released.triggered {
                        triggered.push(finished.item);
                    }
                    retry_waiting |= released.retry_waiting;
                }
                if retry_waiting {
                    inner.look_for_retries_soon(Duration::ZERO);
                }
                // Its items are free for a backfill's next fire.
                if backfill {
                    inner.look_at_backfills();
                } else {
                    inner.backfill_item_freed();
                }
                if !triggered.is_empty() {
                    inner.request_fire(super::fire::FireRequest::trigger_items(triggered));
                }
                // Their marks stay until the re-run starts: an item that
                // moved meanwhile runs it on its new owner (see `misfire_marks`).
                for (fires, items) in misfired {
                    inner.request_fire(super::fire::FireRequest::misfire(fires, items));
                }
            }
            drop(listening);
            if inner.config().failover {
                inner.take_over_if_queued(session);
            }
        });
    }

    /// Clears the marks of the runs that were their slots' last (`clear`)
    /// and records the ended runs' `retries` (with the mark of their run,
    /// when it is cleared now); returns whether that succeeded.
    async fn complete(&self, session: &Arc<dyn Registry>, clear: &[Finished], kind: RunKind, retries: &[PendingRetry]) -> bool {
        let (with_mark, alone): (Vec<PendingRetry>, Vec<PendingRetry>) =
            retries.iter().partition(|r| matches!(kind, RunKind::Owned { marked: true, .. }) && clear.iter().any(|f| f.item == r.item));
        let result = match kind {
            RunKind::Owned { marked: false, .. } => Ok(()),
            RunKind::Owned { marked: true, .. } => {
                execution::complete_items(&**session, &self.paths, self.instance.as_str(), clear, &with_mark).await
            }
            RunKind::Takeover => {
                let mut result = Ok(());
                for finished in clear {
                    result = result.and(failover::complete(&**session, &self.paths, self.instance.as_str(), finished.item).await);
                }
                result
            }
        };
        let result = match result {
            Ok(()) => execution::record_retries(&**session, &self.paths, &alone).await,
            failed => failed,
        };
        if let Err(e) = result {
            self.runs.note_stale_hint();
            // Named, since failover may run them again (at-least-once).
            let items: Vec<u32> = clear.iter().map(|f| f.item).collect();
            self.fail(&format!("completing finished items {items:?} failed"), e);
            return false;
        }
        if matches!(kind, RunKind::Owned { .. }) && balance::rotates(&self.config()) && clear.iter().any(|f| f.item == 0) {
            match balance::hand_on(&**session, &self.paths, self.instance.as_str(), self.instance.ip()).await {
                Ok(Some(next)) => tracing::debug!(job = %self.job_name, %next, "item 0 handed on (SINGLE_SHARDING_BALANCE)"),
                Ok(None) => {}
                Err(e) => self.fail("handing item 0 on (SINGLE_SHARDING_BALANCE) failed", e),
            }
        }
        true
    }

    /// Reports a finished run, and hands a failure to the job's error
    /// handler. A run the scheduler cancelled (shutdown, session lost, item
    /// moved) is logged but is no failure of the job: it is not thrown or
    /// notified.
    fn report(&self, errors: &ErrorHandler, execution: Execution) {
        match &execution.outcome {
            Outcome::Succeeded => {}
            // The job asked for it (overlap policy CANCEL_OTHER).
            Outcome::Cancelled(CancelReason::Superseded) => tracing::info!(
                job = %execution.job_name, item = execution.item, fire_time = execution.fire_time,
                "run stopped: a newer fire superseded it"
            ),
            outcome if errors.logs() => tracing::error!(
                job = %execution.job_name, item = execution.item, fire_time = execution.fire_time,
                error = %outcome, "job execution failed"
            ),
            _ => {}
        }
        let failure = Failure::of(&execution);
        self.emit(JobEvent::Executed(execution));
        let Some(failure) = failure else { return };
        match errors {
            ErrorHandler::Throw => self.emit(JobEvent::Thrown(failure.execution)),
            ErrorHandler::Notify(notifier) => self.notifications.submit(notifier.clone(), failure),
            ErrorHandler::Log | ErrorHandler::Ignore => {}
        }
    }
}

/// What one item's run needs, detached from the scheduler.
struct ItemRun {
    job: Job,
    pool: Arc<Semaphore>,
    config: Arc<JobConfig>,
    settings: Arc<JobSettings>,
    parameters: Arc<BTreeMap<u32, String>>,
    instance: String,
    failover: bool,
    metrics: Arc<crate::metrics::job::JobMetrics>,
}

impl ItemRun {
    /// Runs the item for each of its fires in order, until told to stop.
    async fn run(self, plan: RunPlan) -> (Finished, Vec<Execution>) {
        let _permit = self.pool.clone().acquire_owned().await.expect("the pool is never closed");
        let mut executions = Vec::with_capacity(plan.fires.len());
        for fire_time in plan.fires {
            if plan.cancellation.is_cancelled() {
                break;
            }
            if plan.fire_time_known {
                if let Some(reason) = released_at(self.due(fire_time), &plan.cancellation).await {
                    executions.push(self.stopped_before_release(plan.item, fire_time, plan.fencing_token, plan.attempt, reason));
                    break;
                }
            }
            let ctx = ShardingContext {
                job_name: self.config.job_name.clone(),
                task_id: format!(
                    "{}@-@{}@-@{}@-@{}",
                    self.config.job_name,
                    plan.item,
                    if self.failover { "FAILOVER" } else { "READY" },
                    self.instance
                ),
                sharding_total_count: self.config.item_count(),
                job_parameter: self.config.job_parameter.clone(),
                sharding_item: plan.item,
                sharding_parameter: self.parameters.get(&plan.item).cloned().unwrap_or_default(),
                fire_time,
                fire_time_known: plan.fire_time_known,
                failover: self.failover,
                fencing_token: plan.fencing_token,
                attempt: plan.attempt,
                cancellation: plan.cancellation.clone(),
                output: Default::default(),
            };
            executions.push(self.execute(ctx).await);
        }
        (Finished { item: plan.item, fencing_token: plan.fencing_token }, executions)
    }

    /// When a fire's handlers are due: its time plus the job's jitter for it.
    fn due(&self, fire_time: i64) -> i64 {
        fire_time + crate::jitter::offset(&self.config.job_name, fire_time, self.config.jitter()).as_millis() as i64
    }

    /// A reserved run told to stop before its fire instant: its handler
    /// never started, and the run is reported as cancelled.
    fn stopped_before_release(&self, item: u32, fire_time: i64, fencing_token: i64, attempt: u32, reason: CancelReason) -> Execution {
        self.metrics.cancelled_before_start();
        let now = now_millis();
        Execution {
            job_name: self.config.job_name.clone(),
            item,
            fire_time,
            instance_id: self.instance.clone(),
            failover: self.failover,
            fencing_token,
            attempt,
            started_at: now,
            finished_at: now,
            outcome: Outcome::Cancelled(reason),
            output: None,
        }
    }

    /// One handler call in a task of its own, so a panic is caught; told to
    /// stop on timeout or cancellation, and waited for until it returns.
    async fn execute(&self, ctx: ShardingContext) -> Execution {
        let started_at = now_millis();
        let began = std::time::Instant::now();
        if ctx.fire_time_known {
            // Microseconds: a healthy lag is a few milliseconds.
            // From the instant the run was due.
            let lag_micros = chrono::Utc::now().timestamp_micros() - self.due(ctx.fire_time).saturating_mul(1000);
            self.metrics.handler_started(Duration::from_micros(lag_micros.max(0) as u64));
        }
        let cancellation = ctx.cancellation.clone();
        let mut handler = tokio::spawn(self.job.run(ctx.clone(), &self.settings));
        let timeout = self.config.execution_timeout();
        let timed_out = async {
            match timeout {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            joined = &mut handler => outcome_of(joined),
            _ = timed_out => {
                cancellation.cancel(CancelReason::TimedOut);
                self.stop(handler).await;
                Outcome::TimedOut
            }
            reason = cancellation.cancelled() => {
                self.stop(handler).await;
                Outcome::Cancelled(reason)
            }
        };
        self.metrics.handler_finished(&outcome, began.elapsed());
        Execution {
            job_name: ctx.job_name,
            item: ctx.sharding_item,
            fire_time: ctx.fire_time,
            instance_id: self.instance.clone(),
            failover: ctx.failover,
            fencing_token: ctx.fencing_token,
            attempt: ctx.attempt,
            started_at,
            finished_at: now_millis(),
            outcome,
            output: ctx.output.take(),
        }
    }

    /// After the stop signal: a Rust future that does not return within
    /// [`CANCEL_GRACE`] is dropped; in every case the run ends only when the
    /// handler has really returned.
    async fn stop(&self, mut handler: tokio::task::JoinHandle<crate::job::HandlerResult>) {
        if self.job.is_abortable() {
            if tokio::time::timeout(CANCEL_GRACE, &mut handler).await.is_ok() {
                return;
            }
            handler.abort();
        }
        let _ = handler.await;
    }
}

/// The retries the ended runs' failures call for under `policy`: one per
/// failed (item, fire) with attempts left.
/// The fires ended runs settled `(item, fire time, how)`: a failed run
/// with a retry in `retries` has not settled its fire, a cancelled one
/// neither succeeded nor failed it.
fn settled_fires(ended: &[(Finished, Vec<Execution>)], retries: &[PendingRetry]) -> Vec<(u32, i64, Settled)> {
    ended
        .iter()
        .flat_map(|(_, executions)| executions)
        .filter_map(|e| match &e.outcome {
            Outcome::Succeeded => Some((e.item, e.fire_time, Settled::Succeeded)),
            Outcome::Cancelled(_) => None,
            _ if retries.iter().any(|r| r.item == e.item && r.fire_time == e.fire_time) => None,
            failed => Some((e.item, e.fire_time, Settled::Failed(failed.to_string()))),
        })
        .collect()
}

fn retries_of<'a>(policy: &RetryPolicy, executions: impl Iterator<Item = &'a Vec<Execution>>) -> Vec<PendingRetry> {
    let now = now_millis();
    executions
        .flatten()
        .filter_map(|e| policy.after(&e.job_name, e.item, e.fire_time, e.attempt, &e.outcome, now))
        .collect()
}

/// Waits for a reserved fire's instant plus its jitter, `release` (at once
/// for one in the past); returns why the run was told to stop, if it was, meanwhile.
async fn released_at(release: i64, cancellation: &Cancellation) -> Option<CancelReason> {
    let wait_micros = release.saturating_mul(1000) - chrono::Utc::now().timestamp_micros();
    if wait_micros <= 0 {
        return None;
    }
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_micros(wait_micros as u64)) => None,
        reason = cancellation.cancelled() => Some(reason),
    }
}

fn outcome_of(joined: Result<crate::job::HandlerResult, tokio::task::JoinError>) -> Outcome {
    match joined {
        Ok(Ok(())) => Outcome::Succeeded,
        Ok(Err(e)) => Outcome::Failed(e.to_string()),
        Err(join) => Outcome::Failed(panic_message(join)),
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    if join.is_cancelled() {
        return "handler was cancelled".into();
    }
    format!("handler panicked: {}", crate::runtime::panic_text(join))
}
