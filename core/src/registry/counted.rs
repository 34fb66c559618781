//! Counting registry requests and operations: every session a
//! [`super::RegistryCenter`] hands out is wrapped, so operators and
//! benchmarks can see what the scheduler costs ZooKeeper.
//!
//! Requests and operations are counted apart because they scale apart: a
//! multi is one write request however many operations it holds (a start
//! of 100 items is one request of 301 operations), and a batched read is
//! one request per chunk of [`read_chunks`], each chunk as many read
//! operations as paths. Counting requests alone would hide that the
//! server's work grows with the item count; counting operations alone would
//! hide that round trips do not.

use super::{read_chunks, CreateMode, Op, OpResult, OneshotWatch, RecursiveWatch, Registry, SessionEvent, Stat};
use crate::error::Result;
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Requests sent to the registry so far, and the operations they held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestCounts {
    /// Read requests: get, exists, children, watch registrations, and each
    /// chunk of a batched read as one.
    pub reads: u64,
    /// Write requests: create, set, delete, and each multi as one.
    pub writes: u64,
    /// Read operations: one per single read, one per path of a batched read.
    pub read_ops: u64,
    /// Write operations: one per single write, one per operation of a multi
    /// (its checks included: the server evaluates each).
    pub write_ops: u64,
}

impl RequestCounts {
    /// What was counted between `earlier` and `self`.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts {
            reads: self.reads - earlier.reads,
            writes: self.writes - earlier.writes,
            read_ops: self.read_ops - earlier.read_ops,
            write_ops: self.write_ops - earlier.write_ops,
        }
    }
}

/// Shared counters of one registry center.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    reads: AtomicU64,
    writes: AtomicU64,
    read_ops: AtomicU64,
    write_ops: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            read_ops: self.read_ops.load(Ordering::Relaxed),
            write_ops: self.write_ops.load(Ordering::Relaxed),
        }
    }

    fn read(&self) {
        self.reads(1, 1);
    }

    fn reads(&self, requests: u64, ops: u64) {
        self.reads.fetch_add(requests, Ordering::Relaxed);
        self.read_ops.fetch_add(ops, Ordering::Relaxed);
    }

    fn write(&self) {
        self.writes(1, 1);
    }

    fn writes(&self, requests: u64, ops: u64) {
        self.writes.fetch_add(requests, Ordering::Relaxed);
        self.write_ops.fetch_add(ops, Ordering::Relaxed);
    }
}

/// A session whose requests are counted.
pub(crate) struct Counted {
    pub(crate) inner: Arc<dyn Registry>,
    pub(crate) counters: Arc<Counters>,
}

#[async_trait]
impl Registry for Counted {
    async fn create(&self, path: &str, data: &[u8], mode: CreateMode) -> Result<String> {
        self.counters.write();
        self.inner.create(path, data, mode).await
    }

    async fn get(&self, path: &str) -> Result<Option<(Vec<u8>, Stat)>> {
        self.counters.read();
        self.inner.get(path).await
    }

    async fn get_many(&self, paths: &[String]) -> Result<Vec<Option<(Vec<u8>, Stat)>>> {
        self.counters.reads(read_chunks(paths).len() as u64, paths.len() as u64);
        self.inner.get_many(paths).await
    }

    async fn set(&self, path: &str, data: &[u8], version: Option<i32>) -> Result<Stat> {
        self.counters.write();
        self.inner.set(path, data, version).await
    }

    async fn delete(&self, path: &str, version: Option<i32>) -> Result<()> {
        self.counters.write();
        self.inner.delete(path, version).await
    }

    async fn exists(&self, path: &str) -> Result<Option<Stat>> {
        self.counters.read();
        self.inner.exists(path).await
    }

    async fn children(&self, path: &str) -> Result<Vec<String>> {
        self.counters.read();
        self.inner.children(path).await
    }

    async fn multi(&self, ops: Vec<Op>) -> Result<Vec<OpResult>> {
        // An empty multi is answered without a request (see the ZooKeeper backend).
        if !ops.is_empty() {
            self.counters.writes(1, ops.len() as u64);
        }
        self.inner.multi(ops).await
    }

    async fn get_and_watch(&self, path: &str) -> Result<(Option<(Vec<u8>, Stat)>, OneshotWatch)> {
        self.counters.read();
        self.inner.get_and_watch(path).await
    }

    async fn children_and_watch(&self, path: &str) -> Result<(Vec<String>, OneshotWatch)> {
        self.counters.read();
        self.inner.children_and_watch(path).await
    }

    async fn watch_recursive(&self, path: &str) -> Result<RecursiveWatch> {
        self.counters.read();
        self.inner.watch_recursive(path).await
    }

    fn session_events(&self) -> broadcast::Receiver<SessionEvent> {
        self.inner.session_events()
    }

    fn session_id(&self) -> i64 {
        self.inner.session_id()
    }

    fn session_timeout(&self) -> std::time::Duration {
        self.inner.session_timeout()
    }

    fn is_alive(&self) -> bool {
        self.inner.is_alive()
    }

    async fn close(&self) {
        self.inner.close().await
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::{CreateMode, Op, RegistryCenter, MULTI_READ_CHUNK};

    #[tokio::test]
    async fn a_multi_is_one_request_of_many_operations_and_a_batched_read_one_per_chunk() {
        let center = RegistryCenter::embedded("counted");
        let session = center.session().await.unwrap();
        let before = center.request_counts();
        session
            .multi(vec![
                Op::Create { path: "/a".into(), data: Vec::new(), mode: CreateMode::Persistent },
                Op::Create { path: "/b".into(), data: Vec::new(), mode: CreateMode::Persistent },
                Op::Check { path: "/a".into(), version: 0 },
            ])
            .await
            .unwrap();
        session.multi(Vec::new()).await.unwrap();
        let paths: Vec<String> = (0..=MULTI_READ_CHUNK).map(|n| format!("/n{n}")).collect();
        session.get_many(&paths).await.unwrap();
        session.get("/a").await.unwrap();
        let counted = center.request_counts().since(&before);
        assert_eq!((counted.writes, counted.write_ops), (1, 3));
        assert_eq!((counted.reads, counted.read_ops), (2 + 1, MULTI_READ_CHUNK as u64 + 1 + 1));
    }
}
