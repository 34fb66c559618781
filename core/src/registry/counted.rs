//! Counting registry requests: every session a [`super::RegistryCenter`]
//! hands out is wrapped, so operators and benchmarks can see how many reads
//! and writes the scheduler costs ZooKeeper. A multi is one write request;
//! a batched read counts one request per chunk, as ZooKeeper receives it.

use super::{read_chunks, CreateMode, Op, OpResult, OneshotWatch, RecursiveWatch, Registry, SessionEvent, Stat};
use crate::error::Result;
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Requests sent to the registry so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestCounts {
    /// Reads: get, exists, children and watch registrations.
    pub reads: u64,
    /// Writes: create, set, delete, and each multi as one.
    pub writes: u64,
}

/// Shared counters of one registry center.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    reads: AtomicU64,
    writes: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> RequestCounts {
        RequestCounts { reads: self.reads.load(Ordering::Relaxed), writes: self.writes.load(Ordering::Relaxed) }
    }

    fn read(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    fn reads(&self, n: u64) {
        self.reads.fetch_add(n, Ordering::Relaxed);
    }

    fn write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
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
        self.counters.reads(read_chunks(paths).len() as u64);
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
        self.counters.write();
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
