//! The registry: the only shared state of a cluster.
//!
//! [`Registry`] is an async trait over exactly what ZooKeeper offers, so that
//! everything above it is written once and runs on either backend:
//! [`ZookeeperRegistry`] for production and [`MemoryRegistry`] (an in-process
//! model with sessions, ephemeral nodes and watches) for demos and tests.
//! Paths are absolute *inside the namespace*: `/myJob/config`, never
//! `/namespace/myJob/config`.

mod center;
mod counted;
mod memory;
mod zookeeper;

pub use center::RegistryCenter;
pub use counted::RequestCounts;
pub use memory::{MemoryRegistry, MemoryServer};
pub use zookeeper::{ZookeeperOptions, ZookeeperRegistry};

use crate::error::{Error, Result};
use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc, oneshot};

/// How a node lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateMode {
    /// Stays until deleted.
    Persistent,
    /// Removed when the session that created it ends.
    Ephemeral,
    /// Persistent, with a 10-digit increasing suffix appended to the name.
    PersistentSequential,
    /// Ephemeral, with a 10-digit increasing suffix appended to the name.
    EphemeralSequential,
}

impl CreateMode {
    /// Whether the node goes away with its session.
    pub fn is_ephemeral(self) -> bool {
        matches!(self, CreateMode::Ephemeral | CreateMode::EphemeralSequential)
    }

    /// Whether a sequence suffix is appended.
    pub fn is_sequential(self) -> bool {
        matches!(self, CreateMode::PersistentSequential | CreateMode::EphemeralSequential)
    }
}

/// Node metadata, the part of ZooKeeper's `Stat` the scheduler uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    /// Data version, incremented on every set.
    pub version: i32,
    /// Session id of the owner for ephemeral nodes, 0 otherwise.
    pub ephemeral_owner: i64,
    /// Transaction id that created the node.
    pub czxid: i64,
    /// Transaction id that last modified the node.
    pub mzxid: i64,
    /// Creation time, milliseconds since the epoch.
    pub ctime: i64,
    /// Last modification time, milliseconds since the epoch.
    pub mtime: i64,
    /// Number of children.
    pub num_children: i32,
}

/// One operation of an atomic [`Registry::multi`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Fails the whole multi unless the node exists with this version.
    Check {
        /// The node.
        path: String,
        /// Expected version (`-1` = any version).
        version: i32,
    },
    /// Creates a node.
    Create {
        /// The node (a prefix for sequential modes).
        path: String,
        /// Its data.
        data: Vec<u8>,
        /// How it lives.
        mode: CreateMode,
    },
    /// Sets a node's data if its version matches.
    Set {
        /// The node.
        path: String,
        /// The new data.
        data: Vec<u8>,
        /// Expected version (`-1` = any version).
        version: i32,
    },
    /// Deletes a node if its version matches.
    Delete {
        /// The node.
        path: String,
        /// Expected version (`-1` = any version).
        version: i32,
    },
}

impl Op {
    /// The path the operation applies to.
    pub fn path(&self) -> &str {
        match self {
            Op::Check { path, .. } | Op::Create { path, .. } | Op::Set { path, .. } | Op::Delete { path, .. } => path,
        }
    }
}

/// What a successful operation of a multi produced, in the same order as the ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// A check passed.
    Check,
    /// A node was created at this path.
    Create(String),
    /// A node's data was set; its new metadata.
    Set(Stat),
    /// A node was deleted.
    Delete,
}

/// What happened to a watched node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The node was created.
    Created,
    /// The node was deleted.
    Deleted,
    /// The node's data changed.
    DataChanged,
    /// A child was added or removed.
    ChildrenChanged,
}

/// A node event delivered by a watch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchEvent {
    /// What happened.
    pub kind: EventKind,
    /// Path of the node inside the namespace.
    pub path: String,
}

/// A one-shot watch: resolves with the first event on the node, or with an
/// error when the session ends first.
pub struct OneshotWatch(pub(crate) oneshot::Receiver<Result<WatchEvent>>);

impl OneshotWatch {
    /// Waits for the event.
    pub async fn changed(self) -> Result<WatchEvent> {
        self.0.await.unwrap_or(Err(Error::SessionExpired))
    }
}

/// A persistent recursive watch: every event on a node and all its
/// descendants, until dropped or the session ends (then `next` gives `None`).
pub struct RecursiveWatch(pub(crate) mpsc::UnboundedReceiver<WatchEvent>);

impl RecursiveWatch {
    /// The next event, or `None` once the session has ended.
    pub async fn next(&mut self) -> Option<WatchEvent> {
        self.0.recv().await
    }
}

/// Changes of a client's session, as ZooKeeper reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// Connected (or re-connected within the session timeout).
    Connected,
    /// Connection lost; the session may still be alive on the server.
    Suspended,
    /// The session expired: its ephemeral nodes are gone and the client is dead.
    Expired,
    /// The client closed its session.
    Closed,
}

/// An async view of a ZooKeeper-like store, bound to one client session and one namespace.
#[async_trait]
pub trait Registry: Send + Sync + 'static {
    /// Creates a node; its parent must exist. Returns the created path
    /// (with the sequence suffix for sequential modes).
    async fn create(&self, path: &str, data: &[u8], mode: CreateMode) -> Result<String>;

    /// Data and metadata of a node, `None` if it does not exist.
    async fn get(&self, path: &str) -> Result<Option<(Vec<u8>, Stat)>>;

    /// Replaces a node's data if `version` matches (`None` = any version).
    async fn set(&self, path: &str, data: &[u8], version: Option<i32>) -> Result<Stat>;

    /// Deletes a childless node if `version` matches (`None` = any version).
    async fn delete(&self, path: &str, version: Option<i32>) -> Result<()>;

    /// Metadata of a node, `None` if it does not exist.
    async fn exists(&self, path: &str) -> Result<Option<Stat>>;

    /// Data and metadata of many nodes (`None` where missing), read in as
    /// few requests as the backend allows: one per [`MULTI_READ_CHUNK`]
    /// paths on ZooKeeper.
    async fn get_many(&self, paths: &[String]) -> Result<Vec<Option<(Vec<u8>, Stat)>>> {
        let mut found = Vec::with_capacity(paths.len());
        for path in paths {
            found.push(self.get(path).await?);
        }
        Ok(found)
    }

    /// Names (not paths) of a node's children, sorted.
    async fn children(&self, path: &str) -> Result<Vec<String>>;

    /// Runs all operations atomically: either all succeed or none is applied,
    /// and the error is the first failing operation's.
    async fn multi(&self, ops: Vec<Op>) -> Result<Vec<OpResult>>;

    /// Reads a node and leaves a one-shot watch on its data (creation, change, deletion).
    async fn get_and_watch(&self, path: &str) -> Result<(Option<(Vec<u8>, Stat)>, OneshotWatch)>;

    /// Lists children and leaves a one-shot watch on the child list (or the node's deletion).
    async fn children_and_watch(&self, path: &str) -> Result<(Vec<String>, OneshotWatch)>;

    /// Watches a node and all its descendants until the watch is dropped.
    async fn watch_recursive(&self, path: &str) -> Result<RecursiveWatch>;

    /// A stream of this client's session changes.
    fn session_events(&self) -> broadcast::Receiver<SessionEvent>;

    /// The id of this client's session.
    fn session_id(&self) -> i64;

    /// Whether the session can still be used (not expired, not closed).
    fn is_alive(&self) -> bool;

    /// How long the server keeps the session without hearing from the
    /// client; past it, a disconnected client must assume it is gone.
    fn session_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }

    /// Closes the session: its ephemeral nodes are removed at once.
    async fn close(&self);

    /// Creates a node and any missing parents (as empty persistent nodes).
    /// An existing node at `path` is an error ([`Error::NodeExists`]).
    async fn create_with_parents(&self, path: &str, data: &[u8], mode: CreateMode) -> Result<String> {
        match self.create(path, data, mode).await {
            Err(Error::NoNode(_)) => {
                self.ensure_path(parent_of(path)).await?;
                self.create(path, data, mode).await
            }
            other => other,
        }
    }

    /// Makes sure a persistent node exists at `path`, creating parents as needed.
    async fn ensure_path(&self, path: &str) -> Result<()> {
        if path == "/" || path.is_empty() {
            return Ok(());
        }
        let mut prefix = String::new();
        for part in path.trim_start_matches('/').split('/') {
            prefix.push('/');
            prefix.push_str(part);
            if self.exists(&prefix).await?.is_some() {
                continue;
            }
            match self.create(&prefix, b"", CreateMode::Persistent).await {
                Ok(_) | Err(Error::NodeExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sets a persistent node's data, creating it (and its parents) if missing.
    async fn put(&self, path: &str, data: &[u8]) -> Result<()> {
        match self.set(path, data, None).await {
            Ok(_) => Ok(()),
            Err(Error::NoNode(_)) => match self.create_with_parents(path, data, CreateMode::Persistent).await {
                Ok(_) => Ok(()),
                Err(Error::NodeExists(_)) => self.set(path, data, None).await.map(|_| ()),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Deletes a node and everything below it; a missing node is not an error.
    async fn delete_recursive(&self, path: &str) -> Result<()> {
        let children = match self.children(path).await {
            Ok(c) => c,
            Err(Error::NoNode(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        for child in children {
            self.delete_recursive(&join(path, &child)).await?;
        }
        match self.delete(path, None).await {
            Ok(()) | Err(Error::NoNode(_)) => Ok(()),
            Err(Error::NotEmpty(_)) => Box::pin(self.delete_recursive(path)).await,
            Err(e) => Err(e),
        }
    }

    /// The data of a node as UTF-8 text, `None` if the node does not exist.
    async fn get_string(&self, path: &str) -> Result<Option<String>> {
        Ok(self.get(path).await?.map(|(data, _)| String::from_utf8_lossy(&data).into_owned()))
    }
}

/// How many paths one batched read ([`Registry::get_many`]) asks for at once.
pub const MULTI_READ_CHUNK: usize = 500;

/// The parent of an absolute path (`/a/b` → `/a`, `/a` → `/`).
pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// Checks that a path is absolute, has no empty or relative segments and no trailing slash.
pub fn validate_path(path: &str) -> Result<()> {
    let bad = |reason: &str| Err(Error::invalid("path", path, reason));
    if !path.starts_with('/') {
        return bad("must start with `/`");
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return bad("must not end with `/`");
    }
    for segment in path[1..].split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return bad("has an empty, `.` or `..` segment");
        }
    }
    Ok(())
}

/// Largest request the scheduler sends in one call. ZooKeeper refuses a
/// request over `jute.maxbuffer` (1 MiB - 1 by default) by dropping the
/// connection, which would disturb every job sharing the session; the
/// headroom covers the request header and our size estimate's slack.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024 - 64 * 1024;

/// An upper estimate of one op's size inside a serialized multi request:
/// header, path, data, one ACL entry and the mode/version fields.
pub fn op_size(op: &Op) -> usize {
    const HEADER: usize = 16;
    const ACL: usize = 64;
    let path = 4 + op.path().len();
    HEADER
        + path
        + match op {
            Op::Check { .. } | Op::Delete { .. } => 4,
            Op::Create { data, .. } => 4 + data.len() + ACL + 4,
            Op::Set { data, .. } => 4 + data.len() + 4,
        }
}

/// Packs groups of ops into as few multis as possible, each under `limit`
/// bytes, never splitting a group (a group is what must stay atomic, e.g.
/// one item's start). A group larger than `limit` goes alone.
pub fn pack_groups(groups: Vec<Vec<Op>>, limit: usize) -> Vec<Vec<Op>> {
    let mut packed: Vec<Vec<Op>> = Vec::new();
    let mut current = Vec::new();
    let mut size = 0;
    for group in groups {
        let group_size: usize = group.iter().map(op_size).sum();
        if !current.is_empty() && size + group_size > limit {
            packed.push(std::mem::take(&mut current));
            size = 0;
        }
        size += group_size;
        current.extend(group);
    }
    if !current.is_empty() {
        packed.push(current);
    }
    packed
}
