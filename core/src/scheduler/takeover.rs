//! Taking over a lost instance's running items (failover, invariant 2).
//! The registry side — queueing and claiming — is [`crate::failover`]; this
//! is the instance's side: claim what the free handler slots allow, run
//! each item once for the fire it was running, and look again.

use super::runner::{RunKind, RunPlan};
use super::runs::Holder;
use super::{now_millis, Inner};
use crate::failover;
use crate::registry::Registry;
use std::sync::Arc;

impl Inner {
    /// After runs ended, when the last look did not find the failover
    /// queue empty: items it could not take then may wait (an item queued
    /// later raises a watch event, which looks at once). Spares a read per
    /// fire while no instance was lost.
    pub(super) fn take_over_if_queued(self: &Arc<Self>, session: Arc<dyn Registry>) {
        if self.failover_may_be_queued.load(std::sync::atomic::Ordering::SeqCst) {
            self.take_over(session);
        }
    }

    /// Claims queued failover items (at most the free handler slots) and
    /// runs each once; when they end, looks for more.
    pub(super) fn take_over(self: &Arc<Self>, session: Arc<dyn Registry>) {
        let inner = self.clone();
        tokio::spawn(async move {
            if inner.stopping() || !inner.config().failover {
                return;
            }
            let free = inner.runs.free_permits().max(1);
            let claimed = {
                let _marks = inner.runs.marks.lock().await;
                if inner.stopping() {
                    return;
                }
                let in_flight = inner.runs.in_flight();
                match failover::claim(&*session, &inner.paths, inner.instance.as_str(), free, &in_flight).await {
                    Ok(claim) => {
                        inner.failover_may_be_queued.store(!claim.queue_was_empty, std::sync::atomic::Ordering::SeqCst);
                        claim
                            .items
                            .into_iter()
                            .map(|c| (c, inner.runs.occupy(c.item, session.session_id(), c.fencing_token, Holder::Takeover)))
                            .collect::<Vec<_>>()
                    }
                    Err(e) => return inner.fail("claiming failover items failed", e),
                }
            };
            if claimed.is_empty() {
                return;
            }
            let items: Vec<u32> = claimed.iter().map(|(c, _)| c.item).collect();
            inner.metrics.taken_over(items.len());
            inner.record_status(crate::trace::StatusState::FailoverTaken, &items, "taken over from a lost instance");
            let plans: Vec<RunPlan> = claimed
                .into_iter()
                .map(|(c, cancellation)| {
                    let fire_time = c.fire_time.unwrap_or_else(|| {
                        tracing::info!(item = c.item, "the lost runner did not record its fire (a Java instance never does): running it as of now");
                        now_millis()
                    });
                    tracing::info!(job = %inner.job_name, item = c.item, fire_time, "taking over a lost instance's item");
                    RunPlan {
                        item: c.item,
                        fires: vec![fire_time],
                        fire_time_known: c.fire_time.is_some(),
                        fencing_token: c.fencing_token,
                        attempt: 1,
                        cancellation,
                    }
                })
                .collect();
            let fire_time = plans.iter().flat_map(|p: &RunPlan| p.fires.iter().copied()).min().unwrap_or_else(now_millis);
            let listening = inner.listening(&session, fire_time, None);
            inner.spawn_runs(session, plans, RunKind::Takeover, listening);
        });
    }
}
