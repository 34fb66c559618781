//! The registry: the only shared state of a cluster.
//!
//! [`Registry`] is an async trait over exactly what ZooKeeper offers, so that
//! everything above it is written once and runs on either backend:
//! [`ZookeeperRegistry`] for production and [`EmbeddedRegistry`] (an in-process
//! model with sessions, ephemeral nodes, watches and injectable faults) for
//! demos and tests. Paths are absolute *inside the namespace*:
//! `/myJob/config`, never `/namespace/myJob/config`.
//!
//! Every call may fail with [`Error::ConnectionLoss`] (outcome unknown: read
//! back) and every request must stay under ZooKeeper's size limit: build
//! large writes as groups with [`pack_groups`] under [`MAX_REQUEST_BYTES`].

mod center;
pub(crate) mod clock;
mod counted;
mod embedded;
mod reach;
mod zookeeper;

pub use center::RegistryCenter;
pub use counted::RequestCounts;
pub use embedded::{Fault, EmbeddedRegistry, EmbeddedServer};
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
    /// Transaction id that last created or deleted one of its children.
    pub pzxid: i64,
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
    /// A node was created.
    Create {
        /// Its path (with the sequence suffix for sequential modes).
        path: String,
        /// Its metadata right after creation: `czxid` is the transaction
        /// that created it, which grows with every (re-)creation and so
        /// serves as a fencing token for whatever the node marks as started.
        stat: Stat,
    },
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
    /// few requests as the backend allows: one per chunk of [`read_chunks`]
    /// on ZooKeeper.
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
///
/// Chunking by count rather than by the (unknown in advance) size of the
/// answer is enough because what the scheduler batch-reads are marks and
/// owner ids of a few dozen bytes each: 500 of them answer in well under
/// 100 KiB, far from the 1 MiB a client accepts, and a request of 500 paths
/// stays far below [`MAX_REQUEST_BYTES`] too ([`read_chunks`] also cuts by
/// request size for the odd batch of very long paths). Bigger nodes (the job
/// configuration) are read one by one.
pub const MULTI_READ_CHUNK: usize = 500;

/// ZooKeeper's own limit on one request (`jute.maxbuffer`, 1 MiB − 1 byte by
/// default): a server that reads a longer request closes the connection, so
/// the client sees [`Error::ConnectionLoss`], nothing is applied, and every
/// job sharing the session is disturbed. The embedded backend refuses requests
/// whose [`request_size`] exceeds it the same way.
pub const ZOOKEEPER_MAX_BUFFER: usize = 1024 * 1024 - 1;

/// The largest request the scheduler should send: [`ZOOKEEPER_MAX_BUFFER`]
/// minus 64 KiB. The headroom absorbs what [`op_size`] can only bound
/// (credentials-dependent ACLs, a namespace near [`NAMESPACE_ALLOWANCE`])
/// and lets a multi packed by [`pack_groups`] grow by a few small ops
/// (an epoch check, a completion mark) without re-packing; giving up 6 % of
/// a multi costs at most one more request per large fire.
pub const MAX_REQUEST_BYTES: usize = ZOOKEEPER_MAX_BUFFER - 64 * 1024;

/// Bytes counted per path for the namespace prefix the server sees (paths in
/// ops are relative to the namespace). [`ZookeeperOptions`] refuses longer
/// namespaces so that the estimate stays an over-estimate.
pub const NAMESPACE_ALLOWANCE: usize = 128;

/// Bytes counted for the ACL list of a create: one `world:anyone` entry takes
/// 27 bytes and a digest creator-only entry under 100; 256 covers both.
const ACL_ALLOWANCE: usize = 256;

/// A multi's request header (xid, type) and its closing `MultiHeader`.
pub const MULTI_OVERHEAD: usize = 8 + 9;

/// Over-estimate of the jute-serialized size of one op inside a multi:
/// its `MultiHeader` (type, done, err: 9 bytes), the path as a
/// length-prefixed string plus [`NAMESPACE_ALLOWANCE`], data as a
/// length-prefixed buffer, the ACL list, flags, TTL and version fields.
/// Over, never under: a multi packed to a limit by these numbers must not be
/// refused by the server.
pub fn op_size(op: &Op) -> usize {
    let header = 9;
    let path = 4 + op.path().len() + NAMESPACE_ALLOWANCE;
    header
        + path
        + match op {
            Op::Check { .. } | Op::Delete { .. } => 4,
            Op::Set { data, .. } => 4 + data.len() + 4,
            Op::Create { data, .. } => 4 + data.len() + ACL_ALLOWANCE + 4 + 8,
        }
}

/// Over-estimate of the size of a multi request made of `ops`, as the server
/// measures it against [`ZOOKEEPER_MAX_BUFFER`].
pub fn multi_size(ops: &[Op]) -> usize {
    MULTI_OVERHEAD + ops.iter().map(op_size).sum::<usize>()
}

/// Over-estimate of the size of a lone create, set or delete request.
pub fn request_size(op: &Op) -> usize {
    8 + op_size(op)
}

/// Packs groups of ops into as few multis as possible, first fit in the
/// given order, keeping each group whole (a group is what must stay atomic:
/// one item's check + create + delete) and each multi's [`multi_size`]
/// within `limit`. A group that alone exceeds `limit` comes back as a multi
/// of its own, so that its caller gets the error for that item only instead
/// of losing every item packed with it. Groups must not depend on each
/// other, since a later group may land in an earlier multi. Empty groups
/// are dropped.
pub fn pack_groups(groups: Vec<Vec<Op>>, limit: usize) -> Vec<Vec<Op>> {
    let groups: Vec<Vec<Op>> = groups.into_iter().filter(|g| !g.is_empty()).collect();
    pack(groups, limit, |group| group).into_iter().map(|multi| multi.into_iter().flatten().collect()).collect()
}

/// [`pack_groups`] for groups that carry what they are about (an item, a
/// run): packs `groups` into multis of at most `limit` bytes by the ops
/// `ops` gives for each, first fit, never splitting one, and hands back
/// the groups themselves so a caller can tell which multi held what.
pub fn pack<T>(groups: Vec<T>, limit: usize, ops: impl Fn(&T) -> &[Op]) -> Vec<Vec<T>> {
    let mut packed: Vec<(usize, Vec<T>)> = Vec::new();
    for group in groups {
        let size: usize = ops(&group).iter().map(op_size).sum();
        if MULTI_OVERHEAD + size > limit {
            packed.push((MULTI_OVERHEAD + size, vec![group]));
            continue;
        }
        match packed.iter_mut().find(|(used, _)| *used <= limit && used + size <= limit) {
            Some((used, multi)) => {
                *used += size;
                multi.push(group);
            }
            None => packed.push((MULTI_OVERHEAD + size, vec![group])),
        }
    }
    packed.into_iter().map(|(_, multi)| multi).collect()
}

/// Cuts a batched read into requests of at most [`MULTI_READ_CHUNK`] paths
/// and at most [`MAX_REQUEST_BYTES`]: the chunks [`Registry::get_many`]
/// sends, shared with the request counters so that both agree.
pub fn read_chunks(paths: &[String]) -> Vec<&[String]> {
    let mut chunks = Vec::new();
    let (mut start, mut size) = (0, MULTI_OVERHEAD);
    for (i, path) in paths.iter().enumerate() {
        let one = 9 + 4 + path.len() + NAMESPACE_ALLOWANCE + 1;
        if i > start && (i - start == MULTI_READ_CHUNK || size + one > MAX_REQUEST_BYTES) {
            chunks.push(&paths[start..i]);
            (start, size) = (i, MULTI_OVERHEAD);
        }
        size += one;
    }
    if start < paths.len() {
        chunks.push(&paths[start..]);
    }
    chunks
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn create(path: &str, bytes: usize) -> Op {
        Op::Create { path: path.into(), data: vec![0; bytes], mode: CreateMode::Ephemeral }
    }

    /// Exact jute sizes of ops inside a multi, computed by hand from
    /// ZooKeeper's `MultiOperationRecord` for a world:anyone ACL and a
    /// namespace `/ns`: the estimate must never be below them.
    #[test]
    fn op_size_over_estimates_the_jute_encoding() {
        let ns = "/ns".len();
        let world_acl = 4 + 4 + (4 + 5) + (4 + 6);
        let exact_create = 9 + (4 + ns + 6) + (4 + 100) + world_acl + 4;
        let exact_check = 9 + (4 + ns + 6) + 4;
        let exact_set = 9 + (4 + ns + 6) + (4 + 10) + 4;
        assert!(op_size(&create("/a/b/c", 100)) >= exact_create);
        assert!(op_size(&Op::Check { path: "/a/b/c".into(), version: 1 }) >= exact_check);
        assert!(op_size(&Op::Delete { path: "/a/b/c".into(), version: 1 }) >= exact_check);
        assert!(op_size(&Op::Set { path: "/a/b/c".into(), data: vec![1; 10], version: 1 }) >= exact_set);
        // Slightly over, not wildly: data dominates large ops.
        let big = create("/x", 500_000);
        assert!(op_size(&big) < 500_000 + 1024);
        assert_eq!(multi_size(&[]), MULTI_OVERHEAD);
        assert_eq!(multi_size(&[big.clone(), big.clone()]), MULTI_OVERHEAD + 2 * op_size(&big));
    }

    #[test]
    fn max_request_bytes_leaves_headroom_below_the_server_limit() {
        assert_eq!(ZOOKEEPER_MAX_BUFFER, 1_048_575);
        assert_eq!(MAX_REQUEST_BYTES, 1_048_575 - 65_536);
    }

    #[test]
    fn pack_groups_fills_multis_without_splitting_groups() {
        let group = |item: usize| {
            vec![
                Op::Check { path: format!("/job/sharding/{item}/instance"), version: 0 },
                create(&format!("/job/sharding/{item}/running"), 50_000),
            ]
        };
        let groups: Vec<Vec<Op>> = (0..100).map(group).collect();
        let group_size: usize = group(0).iter().map(op_size).sum();
        let per_multi = (MAX_REQUEST_BYTES - MULTI_OVERHEAD) / group_size;
        let packed = pack_groups(groups.clone(), MAX_REQUEST_BYTES);
        assert_eq!(packed.len(), 100_usize.div_ceil(per_multi));
        for multi in &packed {
            assert!(multi_size(multi) <= MAX_REQUEST_BYTES);
            assert_eq!(multi.len() % 2, 0);
            for pair in multi.chunks(2) {
                assert!(pair[1].path().starts_with(parent_of(pair[0].path())), "{pair:?} split");
            }
        }
        let flattened: Vec<Op> = packed.into_iter().flatten().collect();
        assert_eq!(flattened, groups.into_iter().flatten().collect::<Vec<_>>());
    }

    #[test]
    fn pack_groups_fills_gaps_and_isolates_oversized_groups() {
        let big = vec![create("/big", 600_000)];
        let small = vec![create("/small", 10)];
        let huge = vec![create("/huge", 2_000_000)];
        let packed = pack_groups(
            vec![big.clone(), big.clone(), huge.clone(), vec![], small.clone()],
            MAX_REQUEST_BYTES,
        );
        assert_eq!(packed, vec![[big.clone(), small].concat(), big, huge]);
        assert!(pack_groups(Vec::new(), MAX_REQUEST_BYTES).is_empty());
        // A limit below every group: each one alone, none lost.
        let tiny = pack_groups(vec![vec![create("/a", 1)], vec![create("/b", 1)]], 10);
        assert_eq!(tiny.len(), 2);
    }

    #[test]
    fn read_chunks_cut_by_count_and_by_size() {
        let paths: Vec<String> = (0..1001).map(|i| format!("/job/sharding/{i}/running")).collect();
        let chunks = read_chunks(&paths);
        assert_eq!(chunks.iter().map(|c| c.len()).collect::<Vec<_>>(), vec![500, 500, 1]);
        let long: Vec<String> = (0..20).map(|i| format!("/{i}{}", "x".repeat(100_000))).collect();
        let chunks = read_chunks(&long);
        assert!(chunks.len() > 2);
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 20);
        assert!(read_chunks(&[]).is_empty());
    }
}
