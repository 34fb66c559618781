//! Running the pending retries of the items this instance owns (see
//! [`crate::retries`]): a timer per retry queues it when it is due. The
//! registry is the record; timers are only this process's reminders, so
//! the owner looks for its items' pending retries again whenever they may
//! have changed hands: when its session starts, when a resharding settles,
//! and when a retry found its item busy.

use super::fire::FireRequest;
use super::{now_millis, Inner};
use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::resolve::retry;
use crate::retries::PendingRetry;
use std::sync::Arc;
use std::time::Duration;

/// How long a retry whose item runs on another instance waits before it
/// looks again (that run ends by itself, or is told to when it moved).
const BUSY_ELSEWHERE_RECHECK: Duration = Duration::from_secs(1);

impl Inner {
    /// Runs each of `pending` when it is due, unless a timer already waits for it.
    pub(super) fn schedule_retries(self: &Arc<Self>, pending: impl IntoIterator<Item = PendingRetry>) {
        for retry in pending {
            let key = (retry.item, retry.fire_time, retry.attempt);
            if !self.retry_timers.lock().unwrap_or_else(|p| p.into_inner()).insert(key) {
                continue;
            }
            tracing::info!(
                job = %self.job_name, item = retry.item, fire_time = retry.fire_time, attempt = retry.attempt,
                in_ms = retry.due - now_millis(), "retry scheduled"
            );
            let inner = self.clone();
            tokio::spawn(async move {
                let wait = Duration::from_millis((retry.due - now_millis()).max(0) as u64);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = inner.stopped() => {}
                }
                inner.retry_timers.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
                if !inner.stopping() {
                    inner.request_fire(FireRequest::retry(&retry));
                }
            });
        }
    }

    /// Reads the pending retries of the items this instance owns and
    /// schedules those not scheduled yet.
    pub(super) async fn look_for_retries(self: &Arc<Self>, session: &dyn Registry) -> Result<()> {
        let root = self.paths.retries();
        let names = match retry(|| session.children(&root)).await {
            Ok(names) => names,
            Err(Error::NoNode(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let count = self.item_count();
        let found: Vec<(String, u32)> = names
            .into_iter()
            .filter_map(|name| PendingRetry::parse_name(&name).map(|(item, _)| (name, item)))
            .filter(|(_, item)| *item < count)
            .collect();
        if found.is_empty() {
            return Ok(());
        }
        let items: std::collections::BTreeSet<u32> = found.iter().map(|(_, item)| *item).collect();
        let owned: Vec<u32> = retry(|| self.owned_items.startable(session, &self.paths, self.instance.as_str(), self.instance.ip(), count, Some(&items)))
            .await?
            .into_iter()
            .map(|(item, _)| item)
            .collect();
        let mine: Vec<&String> = found.iter().filter(|(_, item)| owned.contains(item)).map(|(name, _)| name).collect();
        let paths: Vec<String> = mine.iter().map(|name| format!("{}/{name}", self.paths.retries())).collect();
        let data = retry(|| session.get_many(&paths)).await?;
        let pending: Vec<PendingRetry> = mine
            .iter()
            .zip(data)
            .filter_map(|(name, node)| node.and_then(|(data, _)| PendingRetry::parse(name, &data)))
            .collect();
        self.schedule_retries(pending);
        Ok(())
    }

    /// [`Self::look_for_retries`] in the background, now or after `delay`.
    pub(super) fn look_for_retries_soon(self: &Arc<Self>, delay: Duration) {
        let inner = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let Some(session) = inner.live_session().await else { return };
            if let Err(e) = inner.look_for_retries(&*session).await {
                if !inner.stopping() {
                    inner.fail("looking for pending retries failed", e);
                }
            }
        });
    }

    /// A retry found its item running on another instance: look again later.
    pub(super) fn look_for_retries_later(self: &Arc<Self>) {
        self.look_for_retries_soon(BUSY_ELSEWHERE_RECHECK);
    }
}
