//! Feeding the execution history: a task that turns the scheduler's
//! broadcast events into records for the [`HistoryWriter`], and direct
//! status records for what the events do not carry (triggers, failover
//! take-overs, a server disabled or enabled). Both only queue: a fire never
//! waits on the database. A feed that falls behind the broadcast loses the
//! events it skipped, and that loss is counted like a full buffer's.

use super::Inner;
use crate::error::Result;
use crate::event::JobEvent;
use crate::trace::{HistoryRecord, HistoryStore, HistoryWriter, StatusRecord, StatusState};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// How long shutdown waits for the last events to be queued, and then for
/// the last write: a database that is down must not hold shutdown up.
const FINISH_WAIT: Duration = Duration::from_secs(10);

/// The running history tasks of one started scheduler.
pub(super) struct HistoryTasks {
    feed: JoinHandle<()>,
    writer: JoinHandle<()>,
    stop_writer: watch::Sender<bool>,
}

impl HistoryTasks {
    /// Stops both at once (the scheduler did not start after all).
    pub(super) fn abort(self) {
        self.feed.abort();
        self.writer.abort();
    }

    /// After the scheduler stopped: lets the feed queue the last events
    /// (it ends at [`JobEvent::Stopped`]), then the writer write them.
    pub(super) async fn finish(self) {
        let feed = self.feed.abort_handle();
        if tokio::time::timeout(FINISH_WAIT, self.feed).await.is_err() {
            feed.abort();
        }
        self.stop_writer.send_replace(true);
        let writer = self.writer.abort_handle();
        if tokio::time::timeout(FINISH_WAIT, self.writer).await.is_err() {
            tracing::warn!("the execution history's last write did not end in {FINISH_WAIT:?}: abandoned");
            writer.abort();
        }
    }
}

impl Inner {
    /// Starts the history's feed and writer, if a history is configured.
    pub(super) fn start_history(&self) -> Result<Option<HistoryTasks>> {
        let Some((url, options)) = &self.history else { return Ok(None) };
        let writer = match self.history_writer.get() {
            Some(writer) => writer.clone(),
            None => {
                let writer = HistoryWriter::new(HistoryStore::open(url)?, *options);
                self.history_writer.get_or_init(|| writer).clone()
            }
        };
        let events = self.events.subscribe();
        let (stop_writer, stop) = watch::channel(false);
        let feed = tokio::spawn(feed(
            events,
            writer.clone(),
            self.job_name.clone(),
            self.instance.as_str().to_string(),
            self.binding.clone(),
        ));
        let writer = tokio::spawn(writer.run(stop));
        Ok(Some(HistoryTasks { feed, writer, stop_writer }))
    }

    /// Queues a status record, if a history is kept.
    pub(super) fn record_status(&self, state: StatusState, items: &[u32], message: &str) {
        if let Some(writer) = self.history_writer.get() {
            writer.record(HistoryRecord::Status(StatusRecord::new(
                &self.job_name,
                self.instance.as_str(),
                state,
                items,
                message,
            )));
        }
    }
}

/// Queues a record for every event worth keeping until the scheduler stops.
async fn feed(
    mut events: broadcast::Receiver<JobEvent>,
    writer: HistoryWriter,
    job_name: String,
    instance_id: String,
    binding: String,
) {
    loop {
        match events.recv().await {
            Ok(event) => {
                if let Some(record) = HistoryRecord::from_event(&event, &job_name, &instance_id, &binding) {
                    writer.record(record);
                }
                if event == JobEvent::Stopped {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(skipped)) => writer.lost(skipped),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::HistoryOptions;

    #[tokio::test]
    async fn a_feed_that_falls_behind_counts_the_skipped_events_as_lost() {
        let store = HistoryStore::open_url("sqlite:///nonexistent-dir/never-written.db").unwrap();
        let writer = HistoryWriter::new(store, HistoryOptions::default());
        let (events, receiver) = broadcast::channel(4);
        for fire_time in 0..10 {
            events.send(JobEvent::Misfired { items: vec![0], fire_time }).unwrap();
        }
        events.send(JobEvent::Stopped).unwrap();
        feed(receiver, writer.clone(), "j".into(), "i".into(), "rust".into()).await;
        // Eleven events, four kept by the channel: seven lost, the rest queued, Stopped ends the feed.
        let stats = writer.stats();
        assert_eq!((stats.dropped, stats.pending), (7, 4), "{stats:?}");
    }
}
