//! Keeps the history side of the view fresh: one grouped query for every
//! job's counts over the last day, and each job's newest runs read again
//! only when its counts moved. It runs shortly after each registry change
//! (runs end with registry changes; their records arrive in the next
//! batch, within about half a second) and every few seconds otherwise, for
//! records that arrive late. Browsers never query for it themselves.

use crate::hub::{HistoryPart, Hub, JobHistory, RecentRun};
use crate::metrics::Metrics;
use elasticjob::trace::{ExecutionQuery, HistoryStore};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Newest runs kept per job.
const RECENT: u32 = 20;
/// The window of the counts.
const WINDOW_HOURS: u32 = 24;

/// What the feed needs.
pub struct HistoryFeed {
    /// The history.
    pub store: HistoryStore,
    /// Where the view goes.
    pub hub: Arc<Hub>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Told after registry changes.
    pub kick: Arc<Notify>,
    /// How long after a registry change to read.
    pub delay: Duration,
    /// How often to read otherwise.
    pub interval: Duration,
}

impl HistoryFeed {
    /// Reads until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            self.read().await;
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(self.interval) => {}
                _ = self.kick.notified() => {
                    tokio::select! {
                        _ = shutdown.changed() => return,
                        _ = tokio::time::sleep(self.delay) => {}
                    }
                }
            }
        }
    }

    async fn read(&self) {
        let previous = self.hub.history();
        let since = chrono::Utc::now().timestamp_millis() - i64::from(WINDOW_HOURS) * 3_600_000;
        let part = match self.store.summaries(since).await {
            Ok(summaries) => {
                let mut jobs = BTreeMap::new();
                let mut error = None;
                for summary in summaries {
                    let known = previous.jobs.get(&summary.job_name);
                    let unchanged = known.is_some_and(|k| {
                        (k.total, k.failed, k.last_start)
                            == (summary.total, summary.failed, summary.last_start)
                    });
                    let recent = match known {
                        Some(k) if unchanged => k.recent.clone(),
                        _ => match self.recent(&summary.job_name).await {
                            Ok(recent) => recent,
                            Err(e) => {
                                error = Some(e.to_string());
                                known.map(|k| k.recent.clone()).unwrap_or_default()
                            }
                        },
                    };
                    let history = JobHistory {
                        total: summary.total,
                        failed: summary.failed,
                        failover: summary.failover,
                        last_start: summary.last_start,
                        recent,
                    };
                    jobs.insert(summary.job_name, history);
                }
                HistoryPart {
                    configured: true,
                    window_hours: WINDOW_HOURS,
                    jobs,
                    error,
                }
            }
            Err(error) => {
                tracing::warn!(%error, "console: reading the history failed");
                HistoryPart {
                    error: Some(error.to_string()),
                    ..(*previous).clone()
                }
            }
        };
        if part.error.is_some() {
            self.metrics.history_read_failed();
        } else {
            self.metrics.history_read();
        }
        self.hub.set_history(part);
    }

    async fn recent(&self, job: &str) -> elasticjob::Result<Vec<RecentRun>> {
        let query = ExecutionQuery {
            job_name: Some(job.to_string()),
            limit: RECENT,
            ..Default::default()
        };
        Ok(self
            .store
            .executions(&query)
            .await?
            .into_iter()
            .map(|r| RecentRun {
                item: r.sharding_item,
                instance_id: r.instance_id,
                outcome: r.outcome,
                start_time: r.start_time,
                complete_time: r.complete_time,
                failover: r.failover,
            })
            .collect())
    }
}
