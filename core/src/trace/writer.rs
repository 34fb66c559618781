//! The history writer: takes records from the scheduler without ever making
//! a fire wait, and writes them in batches (up to `batch_size` records or
//! every `flush_interval`). When the database is down, records wait in the
//! bounded `Buffer` and the write is retried with a growing pause; what
//! overflows is dropped, counted, logged and readable as
//! `HistoryStats::dropped`. Retention is enforced on the same task.

use super::buffer::Buffer;
use super::record::HistoryRecord;
use super::retention::Retention;
use super::store::HistoryStore;
use crate::error::Result;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// How the writer batches, buffers and trims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryOptions {
    /// Records per write (default 256).
    pub batch_size: usize,
    /// The longest a record waits before a write is attempted (default 500 ms).
    pub flush_interval: Duration,
    /// The most records held while the database cannot take them (default 10,000).
    pub buffer_capacity: usize,
    /// What the store keeps.
    pub retention: Retention,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        HistoryOptions {
            batch_size: 256,
            flush_interval: Duration::from_millis(500),
            buffer_capacity: 10_000,
            retention: Retention::default(),
        }
    }
}

/// What the writer did so far.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HistoryStats {
    /// Records stored.
    pub written: u64,
    /// Records lost: dropped from a full buffer, or missed because the
    /// scheduler's event stream outran the writer.
    pub dropped: u64,
    /// Records waiting to be written.
    pub pending: u64,
    /// Writes that failed (each is retried).
    pub failed_writes: u64,
    /// The last write error, cleared by the next successful write.
    pub last_error: Option<String>,
}

/// Longest pause between retries while the database is down.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A handle to one writer; clones share it.
#[derive(Clone, Debug)]
pub struct HistoryWriter {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    store: HistoryStore,
    options: HistoryOptions,
    buffer: Mutex<Buffer>,
    /// Records the event stream skipped (a lagged receiver).
    lagged: AtomicU64,
    written: AtomicU64,
    failed_writes: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Raised when a full batch is waiting.
    batch_ready: Notify,
    /// Serialises writes: the background task and an explicit flush.
    writing: tokio::sync::Mutex<()>,
}

impl HistoryWriter {
    /// A writer into `store`; nothing is written until [`HistoryWriter::run`] or [`HistoryWriter::flush`].
    pub fn new(store: HistoryStore, options: HistoryOptions) -> Self {
        HistoryWriter {
            shared: Arc::new(Shared {
                buffer: Mutex::new(Buffer::new(options.buffer_capacity)),
                store,
                options,
                lagged: AtomicU64::new(0),
                written: AtomicU64::new(0),
                failed_writes: AtomicU64::new(0),
                last_error: Mutex::new(None),
                batch_ready: Notify::new(),
                writing: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.shared.buffer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a record; returns at once, whatever the database's state.
    pub fn record(&self, record: HistoryRecord) {
        let full_batch = {
            let mut buffer = self.buffer();
            buffer.push(record);
            buffer.len() >= self.shared.options.batch_size
        };
        if full_batch {
            self.shared.batch_ready.notify_one();
        }
    }

    /// Counts `n` records the event stream skipped.
    pub fn lost(&self, n: u64) {
        self.shared.lagged.fetch_add(n, Ordering::Relaxed);
        tracing::warn!(lost = n, "the execution history fell behind the scheduler's events: {n} records lost");
    }

    /// The counters.
    pub fn stats(&self) -> HistoryStats {
        let (pending, dropped) = {
            let buffer = self.buffer();
            (buffer.len() as u64, buffer.dropped())
        };
        HistoryStats {
            written: self.shared.written.load(Ordering::Relaxed),
            dropped: dropped + self.shared.lagged.load(Ordering::Relaxed),
            pending,
            failed_writes: self.shared.failed_writes.load(Ordering::Relaxed),
            last_error: self.shared.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// The store written to.
    pub fn store(&self) -> &HistoryStore {
        &self.shared.store
    }

    /// Writes everything queued now, batch by batch; stops at the first
    /// failure (the batch goes back to the buffer) and returns it.
    pub async fn flush(&self) -> Result<()> {
        let _writing = self.shared.writing.lock().await;
        loop {
            let batch = self.buffer().take(self.shared.options.batch_size);
            if batch.is_empty() {
                return Ok(());
            }
            let count = batch.len() as u64;
            match self.shared.store.insert(&batch).await {
                Ok(()) => {
                    self.shared.written.fetch_add(count, Ordering::Relaxed);
                    *self.shared.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
                Err(error) => {
                    self.buffer().restore(batch);
                    self.shared.failed_writes.fetch_add(1, Ordering::Relaxed);
                    *self.shared.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
                    return Err(error);
                }
            }
        }
    }

    /// Writes in batches and enforces retention until `stop` turns true,
    /// then makes a last attempt to write what is queued.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let options = self.shared.options;
        let mut backoff = options.flush_interval;
        let mut down = false;
        let mut reported_dropped = 0;
        let mut next_purge = tokio::time::Instant::now();
        loop {
            let pause = if down { backoff } else { options.flush_interval };
            // A dropped sender (the scheduler was dropped unstopped) means stop too.
            let stopping = tokio::select! {
                _ = self.shared.batch_ready.notified(), if !down => false,
                _ = tokio::time::sleep(pause) => false,
                changed = stop.changed() => changed.is_err(),
            } || *stop.borrow();
            match self.flush().await {
                Ok(()) => {
                    if down {
                        tracing::info!(store = %self.store().url(), "the execution history store is reachable again");
                    }
                    down = false;
                    backoff = options.flush_interval;
                }
                Err(error) => {
                    if !down {
                        tracing::warn!(
                            "{error}; buffering up to {} history records, older ones will be dropped and counted",
                            options.buffer_capacity
                        );
                    }
                    down = true;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            let dropped = self.stats().dropped;
            if dropped > reported_dropped {
                tracing::warn!(dropped, "execution history records dropped: {} since the last report, {dropped} in all", dropped - reported_dropped);
                reported_dropped = dropped;
            }
            if stopping {
                let pending = self.stats().pending;
                if pending > 0 {
                    tracing::warn!(pending, "stopping with {pending} execution history records not written");
                }
                return;
            }
            if !down && tokio::time::Instant::now() >= next_purge {
                next_purge = tokio::time::Instant::now() + options.retention.interval;
                match self.shared.store.purge(&options.retention, chrono::Utc::now().timestamp_millis()).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::debug!(deleted, "history retention deleted {deleted} rows"),
                    Err(error) => tracing::warn!("{error}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::record::{StatusRecord, StatusState};

    fn record(n: u32) -> HistoryRecord {
        HistoryRecord::Status(StatusRecord::new("j", "i", StatusState::Triggered, &[n], ""))
    }

    async fn until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !done() {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    #[tokio::test]
    async fn a_full_batch_is_written_at_once_a_partial_one_waits_and_stopping_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::open_url(&format!("sqlite://{}", dir.path().join("h.db").display())).unwrap();
        let options = HistoryOptions { batch_size: 10, flush_interval: Duration::from_secs(3600), ..Default::default() };
        let writer = HistoryWriter::new(store, options);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(writer.clone().run(stopped));
        // The first pass (at start) finds nothing; then only a full batch wakes the writer.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (0..10).for_each(|n| writer.record(record(n)));
        assert!(until(Duration::from_secs(10), || writer.stats().written == 10).await, "{:?}", writer.stats());
        (10..15).for_each(|n| writer.record(record(n)));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!((writer.stats().written, writer.stats().pending), (10, 5), "a partial batch waits for the interval");
        stop.send_replace(true);
        task.await.unwrap();
        let stats = writer.stats();
        assert_eq!((stats.written, stats.pending, stats.dropped), (15, 0, 0));
    }

    #[tokio::test]
    async fn records_skipped_by_a_lagging_event_stream_count_as_dropped() {
        let store = HistoryStore::open_url("sqlite:///nonexistent-dir/never-written.db").unwrap();
        let writer = HistoryWriter::new(store, HistoryOptions::default());
        writer.lost(7);
        writer.record(record(1));
        assert_eq!((writer.stats().dropped, writer.stats().pending), (7, 1));
    }
}
