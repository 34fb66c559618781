//! Misfires that follow their item to another instance.
//!
//! An item busy at a cron fire carries ElasticJob's `misfire` mark (the
//! fire's time) and runs for that fire once its run ends. The instance
//! that ran it knows when that is; but a resharding that gave up waiting
//! for a long run moves the item while it still runs, and its next owner
//! finds it `running` elsewhere. So the mark, not the memory of the
//! instance that set it, says what is owed: whoever owns a marked item
//! watches its `running` mark and re-runs the marked fire once the run it
//! waited for has ended, and only a re-run that started (or found the fire
//! already run) clears the mark. The `fired` fence keeps that re-run once
//! per fire, whichever instance gets to it first. Across such a move the
//! buffered fires come down to the latest, as under `BUFFER_ONE`.

use super::fire::FireRequest;
use super::Inner;
use crate::error::Result;
use crate::event::JobEvent;
use crate::execution;
use crate::registry::Registry;
use crate::resolve::retry;
use std::collections::BTreeMap;
use std::sync::Arc;

impl Inner {
    /// Items another instance still runs at a cron fire, under a policy that
    /// runs them later: marked, and re-run here for that fire once that run ends.
    pub(super) async fn buffer_behind_runs_elsewhere(self: &Arc<Self>, session: &Arc<dyn Registry>, items: &[u32], fire_time: i64) {
        if items.is_empty() {
            return;
        }
        tracing::info!(
            job = %self.job_name, ?items, fire_time,
            "items still run on another instance (a run that outlived resharding): they run for this fire once it ends"
        );
        if self.mark_misfired(session, items, fire_time).await {
            self.rerun_when_runs_end(session, items.to_vec());
        }
    }

    /// Counts `items` as having missed the fire at `fire_time`, marks them
    /// (`misfire`) and says so (`Misfired`); returns whether the marks were written.
    pub(super) async fn mark_misfired(&self, session: &Arc<dyn Registry>, items: &[u32], fire_time: i64) -> bool {
        self.metrics.misfired(items.len());
        match execution::set_misfire(&**session, &self.paths, items, fire_time).await {
            Ok(()) => {
                self.emit(JobEvent::Misfired { items: items.to_vec(), fire_time });
                true
            }
            Err(e) => {
                self.fail("marking misfire failed", e);
                false
            }
        }
    }

    /// After a resharding settled (or a reconnect): items that came here
    /// with a `misfire` mark run for it, once whatever runs them now has ended.
    pub(super) async fn rerun_misfires_moved_in(self: &Arc<Self>, session: &Arc<dyn Registry>) -> Result<()> {
        if self.one_off || self.stopping() || !self.config().overlap_policy().runs_later() {
            return Ok(());
        }
        let count = self.item_count();
        let owned = self.owned_items.fire_view(&**session, &self.paths, self.instance.as_str(), self.instance.ip(), count, None).await?;
        if owned.pending {
            // The next settled resharding looks again.
            return Ok(());
        }
        let items: Vec<u32> = owned.owned.into_iter().map(|(item, _)| item).collect();
        let marks: Vec<String> = items.iter().map(|&item| self.paths.item_misfire(item)).collect();
        let found = retry(|| session.get_many(&marks)).await?;
        let marked: Vec<u32> = items.into_iter().zip(found).filter(|(_, mark)| mark.is_some()).map(|(item, _)| item).collect();
        if !marked.is_empty() {
            self.rerun_when_runs_end(session, marked);
        }
        Ok(())
    }

    /// Waits, item by item, until no `running` mark is left, then re-runs
    /// the marked fires (one waiter per item; a lost session ends them, and
    /// the resync after it looks again).
    fn rerun_when_runs_end(self: &Arc<Self>, session: &Arc<dyn Registry>, items: Vec<u32>) {
        for item in items {
            if !self.misfire_waiters.lock().unwrap_or_else(|p| p.into_inner()).insert(item) {
                continue;
            }
            let (inner, session) = (self.clone(), session.clone());
            tokio::spawn(async move {
                let ended = inner.run_ended(&*session, item).await;
                inner.misfire_waiters.lock().unwrap_or_else(|p| p.into_inner()).remove(&item);
                match ended {
                    Ok(true) => {
                        if let Err(e) = inner.rerun_marked(&*session, &[item]).await {
                            inner.fail("re-running a marked misfire failed", e);
                        }
                    }
                    Ok(false) => {}
                    Err(e) if inner.stopping() || !session.is_alive() => tracing::debug!(job = %inner.job_name, item, "misfire wait ended: {e}"),
                    Err(e) => inner.fail("waiting for a run to end failed", e),
                }
            });
        }
    }

    /// Resolves once `item` has no `running` mark: `true`; `false` when
    /// this process runs it as its owner (the end of that run re-runs what
    /// it buffered) or the scheduler stops. A failover run here is waited
    /// for like any other: it buffers nothing.
    async fn run_ended(&self, session: &dyn Registry, item: u32) -> Result<bool> {
        let path = self.paths.item_running(item);
        loop {
            if self.stopping() || self.runs.owned_in_flight().contains(&item) {
                return Ok(false);
            }
            let (found, watch) = session.get_and_watch(&path).await?;
            if found.is_none() {
                return Ok(true);
            }
            tokio::select! {
                changed = watch.changed() => { changed?; }
                _ = self.stopped() => return Ok(false),
            }
        }
    }

    /// Queues a misfire re-run of each of `items` for the fire its mark holds.
    async fn rerun_marked(&self, session: &dyn Registry, items: &[u32]) -> Result<()> {
        let marks: Vec<String> = items.iter().map(|&item| self.paths.item_misfire(item)).collect();
        let found = retry(|| session.get_many(&marks)).await?;
        let mut by_fire: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for (&item, mark) in items.iter().zip(found) {
            let Some((data, _)) = mark else { continue };
            // Java ElasticJob's marks carry no time: its own instances re-run them.
            match String::from_utf8_lossy(&data).trim().parse::<i64>() {
                Ok(fire_time) => by_fire.entry(fire_time).or_default().push(item),
                Err(_) => tracing::debug!(job = %self.job_name, item, "a misfire mark without a fire time: left to Java"),
            }
        }
        for (fire_time, items) in by_fire {
            self.request_fire(FireRequest::misfire(vec![fire_time], items));
        }
        Ok(())
    }
}
