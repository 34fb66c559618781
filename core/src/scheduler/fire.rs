//! The fire path: the cron clock, the fire queue, and starting a fire's
//! items through the fence.
//!
//! Fires are queued and started in order by one loop, so a fire held up
//! (by resharding, or while no session is live) delays the next one
//! instead of dropping it. Starting only *launches* the items: a fire does
//! not wait for its handlers, so a slow or hung item never holds up the
//! other items of later fires. An item still running when its next fire
//! comes is handled by the job's overlap policy ([`crate::overlap`]):
//! skipped for that fire, run for it once the run ends (the latest such
//! fire, or every one), or its run told to stop first. Triggers run
//! through the same loop but never move the cron fence.
//!
//! A cron fire is *reserved* [`RESERVE_AHEAD`] before its time: the reads
//! and the fenced start (the `fired` fence, the `running` marks) happen
//! then, and the handlers are released at the fire instant, so the
//! registry's round trips are not on the fire's critical path. A reserved
//! run is a running item like any other: if its instance dies before the
//! instant, failover covers it; a graceful shutdown waits for it.

use super::runner::{Origin, RunKind, RunPlan};
use super::runs::Holder;
use super::{now_millis, Inner};
use crate::error::{Error, Result};
use crate::cancel::{CancelReason, Cancellation};
use crate::execution::{self, Fence, OwnedItem, StartRequest, Started};
use crate::overlap::OverlapPolicy;
use crate::registry::Registry;
use crate::sharding::service as sharding;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Why a fire happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FireKind {
    /// The cron schedule's fire at its time.
    Cron,
    /// An operator's or the API's trigger.
    Trigger,
    /// Items that were busy at a cron fire, run once for it now.
    Misfire,
    /// A failed run's next attempt ([`crate::retries`]).
    Retry,
    /// A recent cron fire offered to items a resharding brought here
    /// after this instance had started that fire with its old items.
    CatchUp,
    /// A dependent job's fire: its upstream jobs finished their fire at
    /// this time ([`crate::dependency`]).
    Upstream,
}

/// One fire to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FireRequest {
    kind: FireKind,
    /// The fire time (for triggers, when the trigger was taken).
    time: i64,
    /// Only these items (misfire re-runs); all owned items otherwise.
    items: Option<Vec<u32>>,
    /// Earlier fires the items run for first, in the same run (fires an
    /// overlap policy of `BUFFER_ALL` buffered, or a catch-up's older
    /// recent fires); fenced by `time`, the latest.
    earlier: Vec<i64>,
    /// The attempt the runs are (1 but for a retry).
    attempt: u32,
    /// A trigger's override of the overlap policy for items still running.
    overlap: Option<OverlapPolicy>,
}

impl FireRequest {
    fn cron(time: i64) -> Self {
        FireRequest { kind: FireKind::Cron, time, items: None, earlier: Vec::new(), attempt: 1, overlap: None }
    }

    /// A dependent job's fire for the upstream fire at `time`.
    pub(super) fn upstream(time: i64) -> Self {
        FireRequest { kind: FireKind::Upstream, time, items: None, earlier: Vec::new(), attempt: 1, overlap: None }
    }

    /// A trigger, now.
    pub(super) fn trigger() -> Self {
        FireRequest { kind: FireKind::Trigger, time: now_millis(), items: None, earlier: Vec::new(), attempt: 1, overlap: None }
    }

    /// A trigger of `items` only: they were busy when the trigger came.
    pub(super) fn trigger_items(items: Vec<u32>) -> Self {
        FireRequest { kind: FireKind::Trigger, time: now_millis(), items: Some(items), earlier: Vec::new(), attempt: 1, overlap: None }
    }

    /// The next attempt of a failed run, now.
    pub(super) fn retry(pending: &crate::retries::PendingRetry) -> Self {
        FireRequest {
            kind: FireKind::Retry,
            time: pending.fire_time,
            items: Some(vec![pending.item]),
            earlier: Vec::new(),
            attempt: pending.attempt,
            overlap: None,
        }
    }

    /// Recent cron fires (`fires`: oldest first, never empty), offered to
    /// those of `items` this instance owns: each item runs those after its
    /// fence, fenced by the latest.
    fn catch_up(mut fires: Vec<i64>, items: Vec<u32>) -> Self {
        let time = fires.pop().expect("a catch-up is of at least one fire");
        FireRequest { kind: FireKind::CatchUp, time, items: Some(items), earlier: fires, attempt: 1, overlap: None }
    }

    /// A misfire re-run of `items` for the cron fires they buffered while
    /// busy (`fires`: oldest first, never empty).
    pub(super) fn misfire(mut fires: Vec<i64>, items: Vec<u32>) -> Self {
        let time = fires.pop().expect("a re-run is for at least one fire");
        FireRequest { kind: FireKind::Misfire, time, items: Some(items), earlier: fires, attempt: 1, overlap: None }
    }
}

/// Fires queued while the scheduler could not start them (no live session,
/// resharding) run later, in order, if the job's catch-up window admits
/// them ([`crate::config::CatchUpWindow`]), and only the latest
/// [`QUEUE_LIMIT`]: a guard against a wide window on a fast cron.
const QUEUE_LIMIT: usize = 100;
/// At most this many fires missed by a lost owner are caught up per item
/// (the latest), whatever the window: the same guard.
const CATCH_UP_LIMIT: usize = 100;
/// How long before its time a cron fire is reserved. It covers the fire
/// path's round trips (clock check, sharding reads, the fenced start) with
/// room for a busy registry; a later reservation only makes the handlers
/// start late, as they did before reservations.
pub(super) const RESERVE_AHEAD: Duration = Duration::from_millis(80);
/// How many of the latest queued cron fires the clock remembers for
/// [`Inner::catch_up_items_moved_in`]: the current one and a reserved next one.
const RECENT_FIRES: usize = 2;

impl Inner {
    /// The cron clock: queues each fire [`RESERVE_AHEAD`] before its time,
    /// for the scheduler's life.
    pub(super) async fn cron_clock(self: Arc<Self>) {
        let mut last = match self.clock_start.load(std::sync::atomic::Ordering::Relaxed) {
            0 => now_millis(),
            registered => registered,
        };
        // The latest fire queued: a schedule change must not queue it again.
        let mut queued = i64::MIN;
        let ahead = RESERVE_AHEAD.as_millis() as i64;
        loop {
            if self.stopping() {
                return;
            }
            let next = self.next_fire_after(last);
            let sleep_for = next.map(|t| Duration::from_millis((t - ahead - now_millis()).max(0) as u64));
            tokio::select! {
                _ = self.stopped() => return,
                _ = self.schedule_changed.notified() => last = now_millis().max(queued),
                _ = sleep_or_never(sleep_for) => {
                    let time = next.expect("the clock sleeps only when a fire is due");
                    self.request_fire(FireRequest::cron(time));
                    self.note_recent_fire(time);
                    queued = time;
                    last = time;
                }
            }
        }
    }

    /// Remembers a scheduled fire just queued for [`Self::catch_up_items_moved_in`].
    pub(super) fn note_recent_fire(&self, time: i64) {
        let mut recent = self.recent_cron_fires.lock().unwrap_or_else(|p| p.into_inner());
        recent.push_back(time);
        if recent.len() > RECENT_FIRES {
            recent.pop_front();
        }
    }

    /// Joining a live cluster at `start`: the latest fire at or before it is
    /// the cluster's, not this instance's, but an owner still starting it
    /// when this registration asked for a resharding starts only the items
    /// it keeps. Remembered as a recent fire, it is offered to the items
    /// moved here once the resharding settles
    /// ([`Self::catch_up_items_moved_in`]); the `fired` fence runs only
    /// those nobody started. Only when another live instance registered by
    /// the fire before that one, so it surely had the fire in its schedule
    /// (which begins at its registration): a cluster that was down, or
    /// that is starting up together with this instance, catches nothing up.
    pub(super) async fn remember_fire_joined_in(&self, session: &dyn Registry, start: i64) -> Result<()> {
        let Some(fire) = self.latest_fire_at_or_before(start) else { return Ok(()) };
        let Some(before) = self.latest_fire_at_or_before(fire - 1) else { return Ok(()) };
        let path = self.paths.instances();
        let others: Vec<String> = crate::resolve::retry(|| sharding::children_or_empty(session, &path))
            .await?
            .into_iter()
            .filter(|id| id != self.instance.as_str())
            .map(|id| self.paths.instance(&id))
            .collect();
        let registered = crate::resolve::retry(|| session.get_many(&others)).await?;
        if registered.into_iter().flatten().any(|(_, stat)| stat.ctime <= before) {
            self.note_recent_fire(fire);
        }
        Ok(())
    }

    /// The schedule's latest fire at or before `time`, looked for up to a
    /// day back (a longer period has nothing the catch-up window admits
    /// soon after it anyway).
    fn latest_fire_at_or_before(&self, time: i64) -> Option<i64> {
        const LOOK_BACK_MS: [i64; 5] = [1_000, 60_000, 3_600_000, 21_600_000, 86_400_000];
        for back in LOOK_BACK_MS {
            let mut latest = None;
            let mut next = self.next_fire_after(time - back);
            while let Some(fire) = next.filter(|&fire| fire <= time) {
                latest = Some(fire);
                next = self.next_fire_after(fire);
            }
            if latest.is_some() {
                return latest;
            }
        }
        None
    }

    /// The fire loop: starts queued fires in order, for the scheduler's life.
    pub(super) async fn fire_loop(self: Arc<Self>) {
        let Some(mut queue) = self.fire_queue.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
        loop {
            let first = tokio::select! {
                request = queue.recv() => match request { Some(r) => r, None => return },
                _ = self.stopped() => return,
            };
            let mut batch = vec![first];
            while let Ok(more) = queue.try_recv() {
                batch.push(more);
            }
            let window = self.state_read().config.catch_up_window();
            let now = now_millis();
            for request in due(batch, |time| window.admits(time, now, self.next_fire_after(time))) {
                let Some(session) = self.live_session().await else { return };
                if let Err(e) = self.fire(&session, &request).await {
                    if !self.stopping() {
                        self.fail(&format!("{:?} fire at {} failed", request.kind, request.time), e);
                    }
                }
            }
        }
    }

    /// Starts one fire's items and launches their runs.
    async fn fire(self: &Arc<Self>, session: &Arc<dyn Registry>, request: &FireRequest) -> Result<()> {
        let catch_up;
        let request = match request.kind {
            FireKind::CatchUp => match self.catch_up_now(&**session, request).await? {
                Some(now) => {
                    catch_up = now;
                    &catch_up
                }
                None => return Ok(()),
            },
            _ => request,
        };
        let of_cron = matches!(request.kind, FireKind::Cron | FireKind::Misfire | FireKind::CatchUp | FireKind::Upstream);
        let whole_fire = matches!(request.kind, FireKind::Cron | FireKind::Upstream) && request.items.is_none();
        if of_cron && self.paused_for(&**session, request.time, whole_fire).await? {
            if request.kind == FireKind::Misfire {
                // Skipped like the fire it stands for: nobody runs it later.
                self.clear_misfire_marks(session, request.items.as_deref().unwrap_or_default()).await;
            }
            return Ok(());
        }
        if request.kind == FireKind::Cron {
            self.check_clock(&**session).await?;
        }
        let fence = match request.kind {
            FireKind::Cron | FireKind::Misfire | FireKind::CatchUp | FireKind::Upstream => Fence::Cron(request.time),
            FireKind::Trigger => Fence::Trigger,
            FireKind::Retry => Fence::Retry { fire_time: request.time, attempt: request.attempt },
        };
        let mut only: Option<BTreeSet<u32>> = request.items.as_ref().map(|items| items.iter().copied().collect());
        // Whole fires take part in distributed-once rounds, keyed by the
        // fire time every instance agrees on (a trigger has none: empty, as Java writes).
        let once_key = match (request.items.is_some(), fence) {
            (true, _) => None,
            (false, Fence::Cron(time)) => Some(time.to_string()),
            (false, Fence::Trigger) => Some(String::new()),
            (false, Fence::Retry { .. } | Fence::Backfill { .. }) => None,
        };
        let listening = self.listening(session, request.time, once_key);
        // A re-check of a reserved fire's busy items is part of that fire.
        let mut counted = (request.kind == FireKind::Cron && request.items.is_some()) || request.kind == FireKind::CatchUp;
        // The assignment a start found an owner changed in, if one did.
        let mut failed_under = None;
        for _ in 0..8 {
            let count = self.item_count();
            let read_view = || {
                self.owned_items.fire_view(&**session, &self.paths, self.instance.as_str(), self.instance.ip(), count, only.as_ref())
            };
            let mut view = crate::resolve::retry(read_view).await?;
            if view.pending {
                self.ensure_sharded(session).await?;
                view = crate::resolve::retry(read_view).await?;
            }
            if failed_under == Some(view.stamp) {
                self.owners_changed_outside_a_resharding(&**session, only.as_ref()).await?;
            }
            let Some(epoch) = view.epoch else { return Ok(()) };
            let owned: Vec<OwnedItem> =
                view.owned.into_iter().map(|(item, owner_version)| OwnedItem { item, owner_version }).collect();
            if request.items.is_none() && only.is_none() {
                self.metrics.set_items_owned(owned.len());
            }
            if owned.is_empty() {
                return Ok(());
            }
            let running_mode = self.running_mode();
            let (outcome, signals) = {
                // A stop that came meanwhile does not abandon this fire: its
                // instant has come, and its items would miss it (the leave
                // waits for it, see `Inner::run`).
                let _marks = self.runs.marks.lock().await;
                let in_flight = self.runs.in_flight();
                let allow_all = self.state_read().config.overlap_policy() == OverlapPolicy::AllowAll;
                let joinable = if allow_all && of_cron { self.runs.joinable() } else { BTreeMap::new() };
                let start = StartRequest {
                    runner: self.instance.as_str(),
                    fence,
                    epoch,
                    running_mode,
                    in_flight: &in_flight,
                    joinable: &joinable,
                };
                let mut outcome = execution::start_items(&**session, &self.paths, &start, &owned).await?;
                let mut signals = Vec::with_capacity(outcome.started.len());
                for started in std::mem::take(&mut outcome.started) {
                    let signal = match started.joined {
                        true => self.runs.join(started.item),
                        false => Some(self.runs.occupy(started.item, session.session_id(), started.fencing_token, Holder::Owner)),
                    };
                    match signal {
                        Some(signal) => {
                            signals.push(signal);
                            outcome.started.push(started);
                        }
                        // Cannot happen while `marks` is held; if it did, the fire runs when the item ends.
                        None => outcome.still_running.push(started.item),
                    }
                }
                (outcome, signals)
            };
            if !counted && !outcome.started.is_empty() {
                counted = true;
                // A retry is no fire: its runs count among the executions.
                let kind = match request.kind {
                    FireKind::Cron | FireKind::Upstream => Some(crate::metrics::job::FireKind::Cron),
                    FireKind::Trigger => Some(crate::metrics::job::FireKind::Trigger),
                    FireKind::Misfire => Some(crate::metrics::job::FireKind::Misfire),
                    FireKind::Retry | FireKind::CatchUp => None,
                };
                if let Some(kind) = kind {
                    self.metrics.fired(kind);
                }
            }
            let skipped_elsewhere = |items: &[u32]| {
                if !items.is_empty() {
                    tracing::warn!(
                        job = %self.job_name, ?items, fire_time = request.time,
                        "items still run on another instance (a run that outlived resharding): skipped for this fire"
                    );
                }
            };
            if request.kind == FireKind::Retry {
                // Due while the item still runs: it runs when the item is
                // free (at once if its run ended since the start looked).
                let ended = outcome.still_running.iter().filter(|&&item| !self.runs.note_retry_waiting(item)).count();
                if ended > 0 {
                    self.look_for_retries_soon(Duration::ZERO);
                }
                if !outcome.busy_elsewhere.is_empty() {
                    self.look_for_retries_later();
                }
            } else if request.kind == FireKind::Trigger {
                self.trigger_found_busy(&outcome.still_running, request.overlap);
                skipped_elsewhere(&outcome.busy_elsewhere);
            } else if request.kind == FireKind::CatchUp {
                // Items busy here were here at the fire: its own start judged them.
                skipped_elsewhere(&outcome.busy_elsewhere);
            } else {
                let policy = self.state_read().config.overlap_policy();
                if request.kind == FireKind::Misfire {
                    // Run, or found run by another: the mark is settled.
                    // Items still busy keep it, as do those no longer ours.
                    let unsettled = [&outcome.still_running, &outcome.busy_elsewhere, &outcome.moved];
                    let settled: Vec<u32> =
                        owned.iter().map(|o| o.item).filter(|item| !unsettled.iter().any(|l| l.contains(item))).collect();
                    self.clear_misfire_marks(session, &settled).await;
                }
                if policy == OverlapPolicy::CancelOther && request.kind == FireKind::Cron {
                    self.supersede_at_fire_time(request.time, &outcome.still_running);
                }
                if policy.runs_later() {
                    self.misfired(session, &outcome.still_running, request.time, policy).await;
                    self.buffer_behind_runs_elsewhere(session, &outcome.busy_elsewhere, request.time).await;
                } else {
                    if request.kind == FireKind::Cron && request.items.is_none() {
                        self.look_again_at_fire_time(request.time, &outcome.still_running);
                    }
                    skipped_elsewhere(&outcome.busy_elsewhere);
                }
            }
            let missed = match fence {
                Fence::Cron(time) => self.fires_missed(&outcome.started, time),
                Fence::Trigger | Fence::Retry { .. } | Fence::Backfill { .. } => BTreeMap::new(),
            };
            let plans = outcome
                .started
                .iter()
                .zip(signals)
                .map(|(started, cancellation)| {
                    // Never a fire the item's fence already passed (a
                    // catch-up's earlier fires may be), each fire once, oldest first.
                    let after = started.previous.as_ref().map_or(i64::MIN, |last| last.fire_time);
                    let mut fires: Vec<i64> = missed.get(&started.item).cloned().unwrap_or_default();
                    fires.extend(request.earlier.iter().copied().filter(|&t| t > after));
                    fires.push(request.time);
                    fires.sort_unstable();
                    fires.dedup();
                    RunPlan {
                        item: started.item,
                        fires,
                        fire_time_known: true,
                        fencing_token: started.fencing_token,
                        attempt: request.attempt,
                        cancellation,
                    }
                })
                .collect();
            tracing::debug!(
                job = %self.job_name, fire_time = request.time, kind = ?request.kind, started = outcome.started.len(),
                late_ms = super::now_millis() - request.time, "items started"
            );
            if request.items.is_none() {
                // Items this instance owns but skips for this fire (still
                // busy) never start for it: they take part in its
                // distributed-once rounds as done, or the rounds would wait
                // for them until their timeout, holding the other items
                // until they too are busy at the next fire (a cycle).
                let skipped = outcome.still_running.iter().chain(&outcome.busy_elsewhere).copied();
                super::listening::FireListening::skip(&listening, skipped, outcome.started.is_empty());
            }
            self.spawn_runs(session.clone(), plans, RunKind::Owned { marked: running_mode.is_some(), origin: if request.kind == FireKind::Trigger { Origin::Trigger } else { Origin::Schedule } }, listening.clone());
            if outcome.moved.is_empty() {
                return Ok(());
            }
            // The assignment changed under us: settle it, then start what is still ours.
            self.owned_items.forget();
            failed_under = Some(view.stamp);
            only = Some(outcome.moved.into_iter().collect());
        }
        Err(Error::IllegalState(format!("fire at {} could not settle the sharding", request.time)))
    }

    /// Items busy here when a cron fire came, under a policy that runs
    /// them for it later: they run when they end, and carry ElasticJob's
    /// `misfire` mark meanwhile.
    async fn misfired(&self, session: &Arc<dyn Registry>, items: &[u32], fire_time: i64, policy: OverlapPolicy) {
        if items.is_empty() {
            return;
        }
        // Runs that ended since the start found them busy (a big fire's
        // start takes a while) took no note of this fire: it runs now.
        let mut ended = Vec::new();
        for &item in items {
            match self.runs.note_misfire(item, fire_time, policy) {
                Ok(None) => {}
                Ok(Some(dropped)) => tracing::warn!(
                    job = %self.job_name, item, dropped_fire = dropped, limit = crate::overlap::BUFFER_ALL_LIMIT,
                    "too many fires buffered behind a busy item (BUFFER_ALL): the oldest is dropped"
                ),
                Err(()) => ended.push(item),
            }
        }
        self.mark_misfired(session, items, fire_time).await;
        if !ended.is_empty() {
            self.request_fire(FireRequest::misfire(vec![fire_time], ended));
        }
    }

    /// Owner nodes changed with no resharding in between (no epoch write,
    /// no flag came or went): written by hand. An instance given items
    /// that way would not know it until the next resharding (it keeps the
    /// owners it read), so one is asked for: every instance then reads the
    /// owners again, and the leader writes a whole assignment.
    async fn owners_changed_outside_a_resharding(&self, session: &dyn Registry, items: Option<&BTreeSet<u32>>) -> Result<()> {
        tracing::warn!(
            job = %self.job_name, ?items,
            "owner nodes changed outside a resharding (edited by hand?): asking for a resharding"
        );
        crate::resolve::retry(|| sharding::set_necessary(session, &self.paths)).await
    }

    /// Clears the `misfire` marks of items whose re-run is settled.
    async fn clear_misfire_marks(&self, session: &Arc<dyn Registry>, items: &[u32]) {
        if items.is_empty() {
            return;
        }
        if let Err(e) = execution::clear_misfires(&**session, &self.paths, items).await {
            self.fail("clearing misfire marks failed", e);
        }
    }

    /// Items still running when a trigger came: by default they run once
    /// more when they end; a trigger's overlap override may skip them, or
    /// stop their runs first.
    fn trigger_found_busy(&self, items: &[u32], overlap: Option<OverlapPolicy>) {
        if items.is_empty() {
            return;
        }
        if overlap == Some(OverlapPolicy::Skip) {
            tracing::info!(job = %self.job_name, ?items, "trigger skips items still running (overlap SKIP)");
            return;
        }
        // Runs that ended since the start found them busy took no note of
        // the trigger: it runs for those now.
        let mut ended = Vec::new();
        for &item in items {
            if overlap == Some(OverlapPolicy::CancelOther) {
                if let Some(run) = self.runs.cancellation_of(item) {
                    self.runs.cancel_run(item, &run, CancelReason::Superseded);
                }
            }
            if !self.runs.note_trigger(item) {
                ended.push(item);
            }
        }
        if !ended.is_empty() {
            self.request_fire(FireRequest::trigger_items(ended));
        }
    }

    /// `CANCEL_OTHER`: the runs of the items busy at a cron fire are told
    /// to stop at its instant (not at its reservation, which would cut them
    /// short early); the item runs for the fire once its run has returned.
    fn supersede_at_fire_time(self: &Arc<Self>, fire_time: i64, busy: &[u32]) {
        let runs: Vec<(u32, Cancellation)> =
            busy.iter().filter_map(|&item| self.runs.cancellation_of(item).map(|c| (item, c))).collect();
        if runs.is_empty() {
            return;
        }
        let inner = self.clone();
        tokio::spawn(async move {
            let wait = fire_time - now_millis();
            if wait > 0 {
                tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            }
            let told: Vec<u32> = runs
                .iter()
                .filter(|(item, cancellation)| inner.runs.cancel_run(*item, cancellation, CancelReason::Superseded))
                .map(|(item, _)| *item)
                .collect();
            if !told.is_empty() {
                tracing::info!(
                    job = %inner.job_name, items = ?told, fire_time,
                    "runs told to stop: a newer fire supersedes them (overlap policy CANCEL_OTHER)"
                );
            }
        });
    }

    /// Items busy when a cron fire was reserved, with no misfire to run
    /// them later: one that ends before the fire instant still runs for it,
    /// as it would have without the reservation. A re-check at the instant.
    fn look_again_at_fire_time(self: &Arc<Self>, fire_time: i64, busy: &[u32]) {
        let wait = fire_time - now_millis();
        if busy.is_empty() || wait <= 0 {
            return;
        }
        let inner = self.clone();
        let items = busy.to_vec();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            inner.request_fire(FireRequest { kind: FireKind::Cron, time: fire_time, items: Some(items), earlier: Vec::new(), attempt: 1, overlap: None });
        });
    }

    /// Cron fires that started items' previous starters never ran (they
    /// were lost, or the items moved to this instance in between): with
    /// misfire on, this instance runs those the catch-up window admits
    /// first, at most [`CATCH_UP_LIMIT`] per item. The `fired` fence moved
    /// over them atomically, so nobody else can run them. None a Java
    /// instance may have run (see [`super::java_peers`]), none from before
    /// an operator last enabled the job ([`crate::enablement`]).
    fn fires_missed(&self, started: &[Started], fire_time: i64) -> BTreeMap<u32, Vec<i64>> {
        let mut missed = BTreeMap::new();
        let window = {
            let config = &self.state_read().config;
            if !config.misfire {
                return missed;
            }
            config.catch_up_window()
        };
        // Java instances run fires without recording them: none from
        // before the last time one came or went, and none while one is here.
        let Some(catch_up_from) = self.java_peers.lock().unwrap_or_else(|p| p.into_inner()).catch_up_from() else {
            return missed;
        };
        let me = self.instance.as_str();
        // Judged as of this fire's instant (a reserved fire is started ahead of it).
        let reference = now_millis().max(fire_time);
        let oldest = match window {
            crate::config::CatchUpWindow::OnePeriod => fire_time,
            crate::config::CatchUpWindow::Fixed(width) => reference - width.as_millis() as i64,
        };
        // Nor any a disable skipped: the last enable bounds them all.
        let enabled_at = self.enabled_at.load(std::sync::atomic::Ordering::SeqCst);
        let oldest = oldest.max(catch_up_from).max(enabled_at + 1);
        for s in started {
            let Some(last) = s.previous.as_ref().filter(|last| last.instance != me) else { continue };
            let mut fires = Vec::new();
            let mut next = self.next_fire_after(last.fire_time.max(oldest - 1));
            while let Some(t) = next.filter(|&t| t < fire_time) {
                let after = self.next_fire_after(t);
                if window.admits(t, reference, after) {
                    fires.push(t);
                }
                next = after;
            }
            if fires.len() > CATCH_UP_LIMIT {
                fires.drain(..fires.len() - CATCH_UP_LIMIT);
            }
            if !fires.is_empty() {
                tracing::info!(item = s.item, ?fires, previous = %last.instance, "running fires its previous owner missed");
                missed.insert(s.item, fires);
            }
        }
        missed
    }

    /// After a resharding settles. This instance may have started (reserved)
    /// a fire with its old items just before the flag went up, while the
    /// items' previous owner saw the flag, waited, and then no longer owned
    /// them: nobody would run those items for that fire. So the recent
    /// fires the catch-up window still admits are offered to every item
    /// owned now; the `fired` fence starts only those no one started for
    /// them. Not while a Java instance is here (it writes no `fired`), and
    /// none from before an operator's last enable.
    pub(super) fn catch_up_items_moved_in(&self) {
        if self.one_off || self.stopping() {
            return;
        }
        let recent: Vec<i64> = self.recent_cron_fires.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect();
        let admitted = self.still_admitted(recent);
        if !admitted.is_empty() {
            // One request: separate ones would find the items busy with the first.
            self.request_fire(FireRequest::catch_up(admitted, (0..self.item_count()).collect()));
        }
    }

    /// Those of `fires` a catch-up may still run now: inside the window,
    /// none from before an operator's last enable (or a pause's hold), none
    /// while a Java instance is here (it writes no `fired`).
    fn still_admitted(&self, fires: Vec<i64>) -> Vec<i64> {
        let Some(catch_up_from) = self.java_peers.lock().unwrap_or_else(|p| p.into_inner()).catch_up_from() else {
            return Vec::new();
        };
        let floor = catch_up_from.max(self.enabled_at.load(std::sync::atomic::Ordering::SeqCst) + 1);
        let window = self.state_read().config.catch_up_window();
        let now = now_millis();
        fires.into_iter().filter(|&time| time >= floor && window.admits(time, now, self.next_fire_after(time))).collect()
    }

    /// A catch-up as it may run now (an enable, a pause or the window's end
    /// may have come since it was offered); `None` when nothing is left, or
    /// while a resharding is pending: the next settled one offers again (a
    /// catch-up that waited for it would itself start a resharding round
    /// while no server is enabled, and each round's end would offer again).
    async fn catch_up_now(&self, session: &dyn Registry, request: &FireRequest) -> Result<Option<FireRequest>> {
        if crate::resolve::retry(|| sharding::is_pending(session, &self.paths)).await? {
            return Ok(None);
        }
        let mut fires = request.earlier.clone();
        fires.push(request.time);
        let admitted = self.still_admitted(fires);
        Ok((!admitted.is_empty()).then(|| FireRequest::catch_up(admitted, request.items.clone().unwrap_or_default())))
    }

    /// Re-reads when an operator last enabled the job again.
    pub(super) async fn refresh_enabled_at(&self, session: &dyn Registry) -> Result<()> {
        let at = crate::enablement::enabled_at(session, &self.paths).await?;
        self.enabled_at.fetch_max(at, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// `maxTimeDiffSeconds`: refuses to fire when this clock and the
    /// registry's disagree too much (a reading serves the process's jobs
    /// for a while: [`crate::registry::clock`]).
    async fn check_clock(&self, session: &dyn Registry) -> Result<()> {
        let max = self.state_read().config.max_time_diff_seconds;
        if max < 0 {
            return Ok(());
        }
        let diff = self.center.clock().skew_ms(session, &self.paths.system_time()).await?.abs() / 1000;
        if diff > max as i64 {
            return Err(Error::IllegalState(format!(
                "clock differs from the registry's by {diff} s, more than maxTimeDiffSeconds `{max}`"
            )));
        }
        Ok(())
    }

    /// Takes this instance's trigger request, if any, and queues a trigger
    /// fire. The request's content is never used as a fire time.
    pub(super) async fn take_trigger(&self, session: &Arc<dyn Registry>) -> Result<()> {
        let path = self.paths.trigger(self.instance.as_str());
        let Some((data, stat)) = crate::resolve::retry(|| session.get(&path)).await? else { return Ok(()) };
        let request = crate::trigger::TriggerRequest::parse(&data).unwrap_or_else(|problem| {
            tracing::warn!(job = %self.job_name, %problem, "trigger request carries unreadable data: ignored, triggering now");
            crate::trigger::TriggerRequest::default()
        });
        let taken = match session.delete(&path, Some(stat.version)).await {
            Ok(()) => true,
            Err(Error::NoNode(_)) | Err(Error::BadVersion(_)) => false,
            // Unknown outcome: gone means taken (only this instance takes its own requests).
            Err(Error::ConnectionLoss) => crate::resolve::retry(|| session.exists(&path)).await?.is_none(),
            Err(e) => return Err(e),
        };
        if taken {
            self.request_fire(FireRequest { overlap: request.overlap, ..FireRequest::trigger() });
            self.record_status(crate::trace::StatusState::Triggered, &[], "triggered by an operator");
        }
        Ok(())
    }
}

/// The queued requests that still run, in order: every trigger and misfire
/// re-run (those for the same fire merged into one: a big job's runs end in
/// many small batches), the re-checks of reserved fires, and the latest
/// [`QUEUE_LIMIT`] whole cron fires that `admitted` (the catch-up window) lets run.
fn due(batch: Vec<FireRequest>, admitted: impl Fn(i64) -> bool) -> Vec<FireRequest> {
    let whole_cron = |r: &FireRequest| r.kind == FireKind::Cron && r.items.is_none();
    let crons = batch.iter().filter(|r| whole_cron(r)).count();
    let mut skip = crons.saturating_sub(QUEUE_LIMIT);
    let mut merged: Vec<FireRequest> = Vec::with_capacity(batch.len());
    for request in batch {
        let same = merged.iter_mut().find(|m| {
            !matches!(request.kind, FireKind::Cron | FireKind::Retry) && m.kind == request.kind && m.items.is_some() && request.items.is_some()
                && (m.kind == FireKind::Trigger || (m.time == request.time && m.earlier == request.earlier))
        });
        match (same, request.items) {
            (Some(m), Some(items)) => m.items.get_or_insert_with(Vec::new).extend(items),
            (_, items) => merged.push(FireRequest { items, ..request }),
        }
    }
    merged
        .into_iter()
        .filter(|r| {
            if !whole_cron(r) {
                return true;
            }
            if skip > 0 || !admitted(r.time) {
                skip = skip.saturating_sub(1);
                tracing::warn!(fire_time = r.time, "fire skipped: it could not start in time and the catch-up window is past");
                return false;
            }
            true
        })
        .collect()
}

async fn sleep_or_never(duration: Option<Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_fires_keep_order_and_drop_only_the_too_many_or_those_out_of_the_window() {
        let now = 10_000_000;
        let window = 30_000;
        let mut batch: Vec<FireRequest> = (0..(QUEUE_LIMIT as i64 + 4)).map(|n| FireRequest::cron(now - 20_000 + n * 100)).collect();
        batch.insert(3, FireRequest::misfire(vec![now - 40_000], vec![1]));
        batch.push(FireRequest::cron(now - window - 1));
        batch.insert(5, FireRequest::misfire(vec![now - 40_000], vec![2]));
        batch.insert(7, FireRequest::misfire(vec![now - 39_000], vec![3]));
        batch.insert(8, FireRequest::misfire(vec![now - 41_000, now - 40_000], vec![5]));
        batch.push(FireRequest { kind: FireKind::Cron, time: now - 50_000, items: Some(vec![4]), earlier: Vec::new(), attempt: 1, overlap: None });
        let kept = due(batch, |time| now - time <= window);
        let misfires: Vec<&FireRequest> = kept.iter().filter(|r| r.kind == FireKind::Misfire).collect();
        assert_eq!(misfires.len(), 3, "re-runs of the same fires are merged, whatever their age");
        assert_eq!(misfires[0].items, Some(vec![1, 2]));
        assert_eq!((misfires[2].time, &misfires[2].earlier, &misfires[2].items), (now - 40_000, &vec![now - 41_000], &Some(vec![5])));
        assert!(kept.iter().any(|r| r.items == Some(vec![4])), "a reserved fire's re-check is never dropped");
        let crons: Vec<i64> = kept.iter().filter(|r| r.kind == FireKind::Cron && r.items.is_none()).map(|r| r.time).collect();
        assert_eq!(crons.len(), QUEUE_LIMIT - 1, "the oldest over the limit and the one out of the window are dropped");
        assert!(crons.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(*crons.last().unwrap(), now - 20_000 + (QUEUE_LIMIT as i64 + 3) * 100);
    }
}
