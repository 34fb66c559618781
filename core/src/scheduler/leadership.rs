//! The leader's duties: election, resharding, self-diagnosis.
//!
//! Resharding waits for running items (invariant 3), but never without
//! bound (invariant 2): a mark whose runner is gone is an orphan (queued
//! for failover, not waited for); a mark of this instance that it is not
//! running is stale and cleared; anything still running after
//! `max_reshard_wait` is reported as stuck and the new assignment is written
//! anyway — the stuck run keeps its `running` mark, so its item's new owner
//! starts it only once it really ends, and the epoch bumped before the wait
//! fences off every start that read the old assignment.

use super::Inner;
use crate::cancel::CancelReason;
use crate::election;
use crate::error::{Error, Result};
use crate::event::JobEvent;
use crate::failover;
use crate::reconcile;
use crate::registry::Registry;
use crate::resolve::retry;
use crate::sharding::service::{self as sharding, ShardingPlan};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

impl Inner {
    pub(super) async fn is_leader(&self, session: &dyn Registry) -> Result<bool> {
        Ok(retry(|| election::leader(session, &self.paths)).await?.as_deref() == Some(self.instance.as_str()))
    }

    /// Runs for leader (after the leader left); a new leader reshards, as
    /// instances may have changed while there was none.
    pub(super) async fn run_for_leader(&self, session: &dyn Registry) -> Result<()> {
        let elected = match election::elect(session, &self.paths, self.instance.as_str()).await {
            Ok(elected) => elected,
            // Unknown outcome: the node says who won.
            Err(Error::ConnectionLoss) => self.is_leader(session).await?,
            Err(e) => return Err(e),
        };
        if elected {
            tracing::info!(job = %self.job_name, instance = %self.instance, "elected leader");
            retry(|| sharding::set_necessary(session, &self.paths)).await?;
        }
        Ok(())
    }

    /// The leader flags resharding when instances or servers change, unless
    /// the job keeps its assignment (`staticSharding`) and has one already.
    pub(super) async fn flag_resharding_as_leader(&self, session: &dyn Registry) -> Result<()> {
        if !self.is_leader(session).await? {
            return Ok(());
        }
        let path = self.paths.item_instance(0);
        if self.config().static_sharding && retry(|| session.exists(&path)).await?.is_some() {
            return Ok(());
        }
        retry(|| sharding::set_necessary(session, &self.paths)).await
    }

    pub(super) fn reshard_in_background(self: &Arc<Self>, session: Arc<dyn Registry>) {
        let inner = self.clone();
        tokio::spawn(async move {
            if let Err(e) = inner.reshard_when_idle(&*session).await {
                // Leaving ends a resharding under way: no failure to report.
                if !inner.stopping() {
                    inner.fail("resharding failed", e);
                }
            }
        });
    }

    /// Before a fire: makes sure the assignment is settled. Waits while
    /// resharding is flagged or under way; the leader's wait is bounded, and
    /// a lost leader's node goes with its session, so this ends.
    pub(super) async fn ensure_sharded(self: &Arc<Self>, session: &Arc<dyn Registry>) -> Result<()> {
        loop {
            if !retry(|| sharding::is_pending(&**session, &self.paths)).await? {
                return Ok(());
            }
            if retry(|| election::leader(&**session, &self.paths)).await?.is_none() {
                self.run_for_leader(&**session).await?;
            }
            if self.is_leader(&**session).await? {
                self.reshard_when_idle(&**session).await?;
                let path = self.paths.sharding_necessary();
                if retry(|| session.exists(&path)).await?.is_some()
                    && retry(|| sharding::available_instances(&**session, &self.paths)).await?.is_empty()
                {
                    return Ok(());
                }
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if self.stopping() {
                return Err(Error::IllegalState("shutting down".into()));
            }
            if !session.is_alive() {
                return Err(Error::SessionExpired);
            }
        }
    }

    /// As leader: bumps the epoch, waits (bounded) for running items, then reshards.
    pub(super) async fn reshard_when_idle(&self, session: &dyn Registry) -> Result<()> {
        let _one_at_a_time = self.reshard_lock.lock().await;
        // Items found stuck in an earlier round of this resharding are not
        // waited for again when the flag comes up meanwhile (a join).
        let mut stuck = BTreeMap::new();
        loop {
            if !self.is_leader(session).await? {
                return Ok(());
            }
            let began = tokio::time::Instant::now();
            // Resolved before anything changes: a leader without the strategy
            // leaves the flag up and the registry untouched.
            let strategy = self.strategies.resolve(self.config().sharding_strategy_type())?;
            let Some(flag_version) = retry(|| sharding::begin(session, &self.paths)).await? else { return Ok(()) };
            self.wait_for_running_items(session, &mut stuck).await?;
            tracing::debug!(job = %self.job_name, waited_ms = began.elapsed().as_millis() as u64, "resharding: running items settled");
            let config = self.config();
            let plan = ShardingPlan { job_name: &config.job_name, total_count: config.item_count(), strategy };
            match sharding::finish(session, &self.paths, &plan, flag_version).await {
                Ok(Some(assignment)) => {
                    tracing::info!(job = %config.job_name, took_ms = began.elapsed().as_millis() as u64, ?assignment, "resharded");
                    self.emit(JobEvent::Sharded(assignment));
                    return Ok(());
                }
                Ok(None) => return Ok(()),
                // The flag was raised again (an instance came or went), or
                // the outcome is unknown: begin again.
                Err(e @ (Error::BadVersion(_) | Error::NoNode(_) | Error::ConnectionLoss)) => {
                    tracing::debug!(job = %config.job_name, took_ms = began.elapsed().as_millis() as u64, "resharding again: {e}");
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until no live instance runs an item, at most `max_reshard_wait`;
    /// runs already in `stuck` are not waited for, and those still running
    /// at the limit are added to it.
    async fn wait_for_running_items(&self, session: &dyn Registry, stuck: &mut BTreeMap<u32, String>) -> Result<()> {
        let started = tokio::time::Instant::now();
        let failover_on = self.config().failover;
        let mut queued_orphans = BTreeSet::new();
        loop {
            let count = self.item_count();
            let marks = retry(|| sharding::running_marks(session, &self.paths, count)).await?;
            let path = self.paths.instances();
            let live: BTreeSet<String> =
                retry(|| sharding::children_or_empty(session, &path)).await?.into_iter().collect();
            let mut waiting: BTreeMap<u32, String> = BTreeMap::new();
            for (item, runner) in marks {
                if !live.contains(&runner) {
                    // An orphan: its runner is gone and will never clear it.
                    if failover_on && queued_orphans.insert(runner.clone()) {
                        failover::queue_lost_items(session, &self.paths, &runner, count).await?;
                    }
                    continue;
                }
                if stuck.get(&item) != Some(&runner) {
                    waiting.insert(item, runner);
                }
            }
            if waiting.values().any(|runner| runner == self.instance.as_str()) {
                self.clear_own_stale_marks(session).await?;
            }
            if waiting.is_empty() {
                return Ok(());
            }
            let limit = self.max_reshard_wait.unwrap_or_else(|| (session.session_timeout() * 2).max(super::MIN_RESHARD_WAIT));
            if started.elapsed() >= limit {
                tracing::warn!(
                    job = %self.job_name, items = ?waiting, waited_ms = started.elapsed().as_millis() as u64,
                    "items still running after the resharding wait: resharding anyway, they keep their marks until they end"
                );
                stuck.extend(waiting.clone());
                self.emit(JobEvent::StuckItems { items: waiting, waited: started.elapsed() });
                return Ok(());
            }
            if self.stopping() {
                return Err(Error::IllegalState("shutting down".into()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Deletes `running` marks that name this instance for items it is not
    /// running (left by a completion whose outcome was unknown, or by an
    /// earlier session): nobody else would ever clear them.
    pub(super) async fn clear_own_stale_marks(&self, session: &dyn Registry) -> Result<()> {
        let _marks = self.runs.marks.lock().await;
        let in_flight = self.runs.in_flight();
        let count = self.item_count();
        let mine = crate::execution::marks_of(session, &self.paths, self.instance.as_str(), count).await?;
        for (item, stat) in mine.into_iter().filter(|(item, _)| !in_flight.contains(item)) {
            let path = self.paths.item_running(item);
            match retry(|| session.delete(&path, Some(stat.version))).await {
                Ok(()) => tracing::info!(job = %self.job_name, item, "cleared a stale running mark of this instance"),
                Err(Error::NoNode(_)) | Err(Error::BadVersion(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// After resharding: runs of items that moved to another instance are told to stop.
    pub(super) async fn stop_moved_runs(&self, session: &dyn Registry) -> Result<()> {
        // A take-over runs an item it does not own; its `running` mark keeps
        // the item's new owner off until it ends.
        let in_flight = self.runs.owned_in_flight();
        if in_flight.is_empty() {
            return Ok(());
        }
        let items: Vec<u32> = in_flight.into_iter().collect();
        let owners: Vec<String> = items.iter().map(|&item| self.paths.item_instance(item)).collect();
        let found = retry(|| session.get_many(&owners)).await?;
        let moved: BTreeSet<u32> = items
            .into_iter()
            .zip(found)
            .filter(|(_, owner)| owner.as_ref().is_some_and(|(data, _)| data != self.instance.as_str().as_bytes()))
            .map(|(item, _)| item)
            .collect();
        if !moved.is_empty() {
            let told = self.runs.cancel_where(CancelReason::ItemMoved, |item, _| moved.contains(&item));
            if !told.is_empty() {
                tracing::warn!(job = %self.job_name, items = ?told, "items moved to another instance: their runs here were told to stop");
            }
        }
        Ok(())
    }

    /// One self-diagnosis pass (see [`reconcile`]).
    pub(super) async fn reconcile(&self, session: &dyn Registry) -> Result<()> {
        reconcile::run(session, &self.paths, &self.config(), self.instance.as_str()).await.map(|_| ())
    }
}
