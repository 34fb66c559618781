//! The scheduler's side of job dependencies ([`crate::dependency`]): an
//! upstream job records its items' ended fires while it has dependents; a
//! dependent job follows its upstream jobs' finished fires and fires for
//! each that every upstream finished (as it allows), at the upstream's
//! fire time, through the same fenced fire path as a cron fire.

use super::fire::FireRequest;
use super::{now_millis, Inner};
use crate::dependency::{self, Dependencies, FireOutcome};
use crate::error::Result;
use crate::failure_streak::Settled;
use crate::paths::JobPaths;
use crate::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// How often a dependent job re-reads its upstream jobs' finished fires
/// besides the watch (a missed event, a changed `dependsOn`).
const RECHECK: Duration = Duration::from_secs(5);

impl Inner {
    /// Upstream side: records the settled fires of ended runs
    /// `(item, fire time, how)`, while the job has dependents.
    pub(super) async fn record_completions(&self, session: &dyn Registry, settled: &[(u32, i64, Settled)]) {
        if settled.is_empty() || !self.has_dependents.load(Ordering::SeqCst) {
            return;
        }
        let mut by_fire: BTreeMap<i64, Vec<(u32, bool)>> = BTreeMap::new();
        for (item, fire, how) in settled {
            by_fire.entry(*fire).or_default().push((*item, *how == Settled::Succeeded));
        }
        let count = self.item_count();
        for (fire, ended) in by_fire {
            match dependency::record_completions(session, &self.paths, fire, &ended, count).await {
                Ok(Some(outcome)) => {
                    tracing::debug!(job = %self.job_name, fire, ?outcome, "fire ended on every item: its dependent jobs may fire")
                }
                Ok(None) => {}
                Err(e) => self.fail("recording ended fires for dependent jobs failed", e),
            }
        }
    }

    /// Re-reads whether the job has dependent jobs.
    pub(super) async fn refresh_dependents(&self, session: &dyn Registry) -> Result<()> {
        let has = dependency::has_dependents(session, &self.paths).await?;
        self.has_dependents.store(has, Ordering::SeqCst);
        Ok(())
    }

    /// Dependent side, for the scheduler's life: watches the upstream jobs'
    /// finished fires (re-armed per session and when `dependsOn` changes).
    pub(super) async fn follow_upstream(self: Arc<Self>) {
        loop {
            let Some(session) = self.live_session().await else { return };
            let Some(deps) = self.dependencies() else {
                tokio::select! {
                    _ = tokio::time::sleep(RECHECK) => continue,
                    _ = self.stopped() => return,
                }
            };
            let (sender, mut events) = tokio::sync::mpsc::unbounded_channel();
            let mut armed = true;
            for upstream in &deps.upstream {
                if let Err(e) = dependency::mark_dependent(&*session, upstream, &self.job_name).await {
                    armed = false;
                    tracing::warn!(job = %self.job_name, upstream, "cannot mark this job as a dependent yet, retrying: {e}");
                    break;
                }
                match session.watch_recursive(&JobPaths::new(upstream).fires_done()).await {
                    Ok(mut watch) => {
                        let sender = sender.clone();
                        tokio::spawn(async move {
                            while watch.next().await.is_some() {
                                if sender.send(()).is_err() {
                                    break;
                                }
                            }
                        });
                    }
                    Err(e) => {
                        armed = false;
                        tracing::warn!(job = %self.job_name, upstream, "cannot watch the upstream job yet, retrying: {e}");
                        break;
                    }
                }
            }
            drop(sender);
            loop {
                if armed {
                    if let Err(e) = self.fire_for_finished_upstream(&*session, &deps).await {
                        if !self.stopping() {
                            tracing::warn!(job = %self.job_name, "reading the upstream jobs' finished fires failed: {e}");
                        }
                    }
                }
                tokio::select! {
                    event = events.recv(), if armed => if event.is_none() { break },
                    _ = tokio::time::sleep(RECHECK) => {
                        if !armed || !session.is_alive() || self.dependencies().as_ref() != Some(&deps) {
                            break;
                        }
                    }
                    _ = self.stopped() => return,
                }
            }
        }
    }

    /// Fires for every upstream fire that all upstream jobs finished, as
    /// `dependsOnOutcome` allows and within `dependsOnTimeoutSeconds`; none
    /// from before this instance first registered or an operator's last enable.
    async fn fire_for_finished_upstream(&self, session: &dyn Registry, deps: &Dependencies) -> Result<()> {
        let mut finished: Option<BTreeMap<i64, Vec<FireOutcome>>> = None;
        for upstream in &deps.upstream {
            let done = dependency::fires_done(session, upstream).await?;
            finished = Some(match finished {
                None => done.into_iter().map(|(fire, outcome)| (fire, vec![outcome])).collect(),
                Some(mut so_far) => {
                    so_far.retain(|fire, _| done.contains_key(fire));
                    for (fire, outcomes) in so_far.iter_mut() {
                        outcomes.push(done[fire]);
                    }
                    so_far
                }
            });
        }
        let floor = self.clock_start.load(Ordering::Relaxed).max(self.enabled_at.load(Ordering::SeqCst) + 1);
        let now = now_millis();
        let mut handled = self.upstream_fires_handled.lock().unwrap_or_else(|p| p.into_inner());
        handled.retain(|&fire| now - fire <= deps.timeout_ms);
        for (fire, outcomes) in finished.unwrap_or_default() {
            if fire < floor || now - fire > deps.timeout_ms || !handled.insert(fire) {
                continue;
            }
            if !deps.any_outcome && outcomes.contains(&FireOutcome::Failed) {
                tracing::warn!(
                    job = %self.job_name, fire, upstream = ?deps.upstream,
                    "an upstream item failed this fire: the dependent fire is skipped (dependsOnOutcome SUCCESS)"
                );
                continue;
            }
            tracing::debug!(job = %self.job_name, fire, upstream = ?deps.upstream, "upstream fire ended on every item: firing");
            self.note_recent_fire(fire);
            self.request_fire(FireRequest::upstream(fire));
        }
        Ok(())
    }

    /// The job's dependencies, if it has upstream jobs.
    fn dependencies(&self) -> Option<Dependencies> {
        self.state_read().dependencies.clone()
    }
}
