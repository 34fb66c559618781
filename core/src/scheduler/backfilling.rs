//! Running the backfills of the items this instance owns (see
//! [`crate::backfill`]): each item goes through the backfill's fires
//! oldest first, one run at a time, each started through the backfill's
//! fence. The registry is the record: this instance looks again when a
//! backfill is asked for, when its session starts or a resharding settles
//! (items may have come), when one of its backfill runs ended, and when
//! any run of an item it waits for ended here (a busy cron must not starve
//! a backfill); while an item of its own is not done, every [`RECHECK`] as
//! well (an item busy elsewhere, or a pending resharding). A backfill does not wait for a
//! pause, a disable of the job, or the catch-up window: an operator asked
//! for it. Cron fires that find an item busy with a backfill run are
//! handled by the job's overlap policy, as with any run; an item busy when
//! a backfill fire's turn comes is waited for, or with the backfill's
//! overlap `SKIP` left out of that fire.

use super::runner::{Origin, RunKind, RunPlan};
use super::runs::Holder;
use super::Inner;
use crate::backfill::{self, Progress};
use crate::error::{Error, Result};
use crate::execution::{self, Fence, OwnedItem, StartRequest};
use crate::overlap::OverlapPolicy;
use crate::registry::Registry;
use crate::resolve::retry;
use crate::sharding::service as sharding;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How often an instance with unfinished backfill items looks again
/// without being told to.
const RECHECK: Duration = Duration::from_secs(1);

impl Inner {
    /// Asks the backfill loop to look at the backfills again.
    pub(super) fn look_at_backfills(&self) {
        self.backfills_changed.notify_one();
    }

    /// A run here ended: the backfill loop looks again if it waits for a busy item.
    pub(super) fn backfill_item_freed(&self) {
        if self.backfill_waits.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.look_at_backfills();
        }
    }

    /// The backfill loop, for the scheduler's life.
    pub(super) async fn follow_backfills(self: Arc<Self>) {
        let mut unfinished = false;
        loop {
            let recheck = async {
                match unfinished {
                    true => tokio::time::sleep(RECHECK).await,
                    false => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.stopped() => return,
                _ = self.backfills_changed.notified() => {}
                _ = recheck => {}
            }
            let Some(session) = self.live_session().await else { return };
            match self.advance_backfills(&session).await {
                Ok(more) => unfinished = more,
                Err(e) if !self.stopping() => {
                    unfinished = true;
                    self.fail("running backfills failed", e);
                }
                Err(_) => return,
            }
        }
    }

    /// Starts the next fire of every owned item of every backfill that is
    /// free here; returns whether some owned item is not done yet.
    async fn advance_backfills(self: &Arc<Self>, session: &Arc<dyn Registry>) -> Result<bool> {
        if self.one_off {
            return Ok(false);
        }
        let root = self.paths.backfills();
        let mut ids = match retry(|| session.children(&root)).await {
            Ok(ids) => ids,
            Err(Error::NoNode(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        ids.sort();
        if ids.is_empty() {
            return Ok(false);
        }
        if retry(|| sharding::is_pending(&**session, &self.paths)).await? {
            return Ok(true);
        }
        let config = self.config();
        let owned: Vec<(u32, i32)> = retry(|| {
            self.owned_items.startable(&**session, &self.paths, self.instance.as_str(), self.instance.ip(), config.item_count(), None)
        })
        .await?;
        if owned.is_empty() {
            return Ok(false);
        }
        let mut unfinished = false;
        for id in ids {
            let (Some(seq), Some(found)) = (backfill::seq_of(&id), backfill::read(&**session, &self.paths, &config, &id).await?) else {
                continue;
            };
            let mut due: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
            for &(item, _) in &owned {
                if let Some(Progress::Next(fire)) = found.items.get(item as usize) {
                    due.entry(*fire).or_default().push(item);
                }
            }
            unfinished |= !due.is_empty();
            let (busy, backfilling) = (self.runs.in_flight(), self.runs.backfilling());
            for (fire, items) in due {
                // An item still running a backfill's earlier fire is its own
                // turn in order: waited for, whatever the overlap policy.
                let items: Vec<u32> = items.into_iter().filter(|item| !backfilling.contains(item)).collect();
                let (free, held): (Vec<u32>, Vec<u32>) = items.into_iter().partition(|item| !busy.contains(item));
                self.busy_for_backfill(session, &found, fire, &held).await?;
                {
                    let mut skipped = self.backfill_skipped.lock().unwrap_or_else(|p| p.into_inner());
                    for item in &free {
                        skipped.remove(&(found.id.clone(), *item));
                    }
                }
                if !free.is_empty() {
                    let fence = Fence::Backfill { seq, fire_time: fire, first: found.fires.first() == Some(&fire), next: backfill::after(&found.fires, fire) };
                    let busy = self.start_backfill(session, fence, &free).await?;
                    self.busy_for_backfill(session, &found, fire, &busy).await?;
                }
            }
        }
        Ok(unfinished)
    }

    /// Items busy when `fire`'s turn came: the backfill's overlap policy
    /// leaves the fire out for them (`SKIP`), or waits for them, woken when
    /// a run here ends (a busy cron must not starve the backfill). An item
    /// skips one fire per busy spell: its next turn comes once it is free
    /// (turns follow each other at once, and one cron run must not cost an
    /// item the whole backfill).
    async fn busy_for_backfill(&self, session: &Arc<dyn Registry>, found: &backfill::Backfill, fire: i64, items: &[u32]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.backfill_waits.store(true, std::sync::atomic::Ordering::SeqCst);
        if found.request.overlap != OverlapPolicy::Skip {
            return Ok(());
        }
        let skipping: Vec<u32> = {
            let mut skipped = self.backfill_skipped.lock().unwrap_or_else(|p| p.into_inner());
            items.iter().copied().filter(|&item| skipped.insert((found.id.clone(), item))).collect()
        };
        if skipping.is_empty() {
            return Ok(());
        }
        tracing::info!(job = %self.job_name, backfill = %found.id, fire_time = fire, items = ?skipping, "backfill fire skipped for items still running (overlap SKIP)");
        for &item in &skipping {
            backfill::skip(&**session, &self.paths, &found.id, item, fire, &found.fires).await?;
        }
        Ok(())
    }

    /// Starts `items` for one backfill fire and launches their runs: the
    /// sharding as a cron fire reads it (the epoch before the owners), then
    /// the fenced start (see [`crate::execution`]), which also leaves out
    /// disabled items and creates an item's `backfill-runs` node on its
    /// first backfill. Returns the items found busy.
    async fn start_backfill(self: &Arc<Self>, session: &Arc<dyn Registry>, fence: Fence, items: &[u32]) -> Result<Vec<u32>> {
        let Fence::Backfill { fire_time, .. } = fence else { return Ok(Vec::new()) };
        let running_mode = self.running_mode();
        let asked: std::collections::BTreeSet<u32> = items.iter().copied().collect();
        let read_view = || {
            self.owned_items.fire_view(&**session, &self.paths, self.instance.as_str(), self.instance.ip(), self.item_count(), Some(&asked))
        };
        let view = retry(read_view).await?;
        let Some(epoch) = view.epoch else { return Ok(Vec::new()) };
        let owned: Vec<OwnedItem> = view.owned.into_iter().map(|(item, owner_version)| OwnedItem { item, owner_version }).collect();
        let (started, signals, busy) = {
            let _marks = self.runs.marks.lock().await;
            if self.stopping() {
                return Ok(Vec::new());
            }
            let in_flight = self.runs.in_flight();
            let start = StartRequest {
                runner: self.instance.as_str(),
                fence,
                epoch,
                running_mode,
                in_flight: &in_flight,
                joinable: &BTreeMap::new(),
            };
            let outcome = execution::start_items(&**session, &self.paths, &start, &owned).await?;
            let signals: Vec<_> = outcome
                .started
                .iter()
                .map(|s| self.runs.occupy(s.item, session.session_id(), s.fencing_token, Holder::Backfill))
                .collect();
            let busy: Vec<u32> = outcome.still_running.iter().chain(&outcome.busy_elsewhere).copied().collect();
            (outcome.started, signals, busy)
        };
        if started.is_empty() {
            return Ok(busy);
        }
        tracing::info!(job = %self.job_name, fire_time, items = ?started.iter().map(|s| s.item).collect::<Vec<_>>(), "backfill items started");
        let plans = started
            .into_iter()
            .zip(signals)
            .map(|(started, cancellation)| RunPlan {
                item: started.item,
                fires: vec![fire_time],
                fire_time_known: true,
                fencing_token: started.fencing_token,
                attempt: 1,
                cancellation,
            })
            .collect();
        self.spawn_runs(session.clone(), plans, RunKind::Owned { marked: running_mode.is_some(), origin: Origin::Backfill }, None);
        Ok(busy)
    }
}
