//! The embedded registry: an in-process model of a ZooKeeper server.
//!
//! One [`EmbeddedServer`] holds the tree; each [`EmbeddedRegistry`] is a client
//! session on it. Sessions behave as ZooKeeper's do where the scheduler
//! depends on it: ephemeral nodes vanish when their session is closed or
//! expired, a dead session can change nothing, one-shot and recursive
//! watches fire, and `multi` is all-or-nothing. Several instances of a job
//! can therefore share one process (the demo) and failover can be tested
//! without a server.
//!
//! Faults are modelled too, because the scheduler must survive them and
//! should be testable without a server:
//! - **Connection loss.** [`EmbeddedServer::disconnect`] cuts a session off
//!   (every request fails with [`Error::ConnectionLoss`], the session and
//!   its ephemeral nodes live on) until [`EmbeddedServer::reconnect`];
//!   [`EmbeddedServer::inject_fault`] loses the connection around the next
//!   write, before or after applying it, so that callers meet a write whose
//!   outcome they cannot know. Each loss reports [`SessionEvent::Suspended`]
//!   then, on reconnect, [`SessionEvent::Connected`].
//! - **Watches across a loss**, as ZooKeeper 3.6+ does it: on reconnect the
//!   client re-registers its watches with the last zxid it saw. A one-shot
//!   watch whose node changed meanwhile fires then (we hold its first event
//!   and deliver it on reconnect); a persistent recursive watch is simply
//!   re-added, and what happened while disconnected is **not** replayed
//!   (we drop those events). Code above the registry must therefore re-read
//!   the state it watches on every `Connected`.
//! - **The request size limit.** A write whose [`request_size`] (or
//!   [`multi_size`]) exceeds [`ZOOKEEPER_MAX_BUFFER`] is refused the way a
//!   server does it, by dropping the connection: nothing is applied, the
//!   call fails with [`Error::ConnectionLoss`], and the session sees
//!   `Suspended` then `Connected` as its client reconnects.
//! - **Expiry.** [`EmbeddedServer::expire`] ends a session as the server does
//!   after its timeout; its writes fail with [`Error::SessionExpired`].

use super::{
    multi_size, parent_of, request_size, validate_path, CreateMode, EventKind, Op, OpResult, OneshotWatch,
    RecursiveWatch, Registry, SessionEvent, Stat, WatchEvent, ZOOKEEPER_MAX_BUFFER,
};
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, mpsc, oneshot};

/// One node of the tree.
#[derive(Debug, Clone)]
struct Node {
    data: Vec<u8>,
    stat: Stat,
    /// Counter for sequential children (ZooKeeper uses the parent's cversion).
    child_sequence: i32,
}

/// A one-shot watch waiting on a path.
struct PendingWatch {
    session: i64,
    path: String,
    sender: oneshot::Sender<Result<WatchEvent>>,
}

/// A recursive watch on a subtree.
struct SubtreeWatch {
    session: i64,
    path: String,
    sender: mpsc::UnboundedSender<WatchEvent>,
}

/// What the server knows of a session.
struct SessionEntry {
    events: broadcast::Sender<SessionEvent>,
    /// False between [`EmbeddedServer::disconnect`] and [`EmbeddedServer::reconnect`].
    connected: bool,
    /// Faults for the next write requests, in order.
    faults: VecDeque<Fault>,
    /// One-shot watch events that happened while disconnected, delivered on reconnect.
    held: Vec<(oneshot::Sender<Result<WatchEvent>>, WatchEvent)>,
}

impl SessionEntry {
    fn new(events: broadcast::Sender<SessionEvent>) -> Self {
        SessionEntry { events, connected: true, faults: VecDeque::new(), held: Vec::new() }
    }

    fn disconnect(&mut self) {
        if self.connected {
            self.connected = false;
            let _ = self.events.send(SessionEvent::Suspended);
        }
    }

    fn reconnect(&mut self) {
        if !self.connected {
            self.connected = true;
            for (sender, event) in self.held.drain(..) {
                let _ = sender.send(Ok(event));
            }
            let _ = self.events.send(SessionEvent::Connected);
        }
    }
}

/// A connection loss to inject around a session's next write request
/// (create, set, delete or multi), see [`EmbeddedServer::inject_fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request never reaches the server: nothing is applied.
    LoseBeforeApply,
    /// The server applies the request (and fires watches) but the answer is
    /// lost with the connection: the caller cannot tell it from the other.
    LoseAfterApply,
}

#[derive(Default)]
struct ServerState {
    nodes: BTreeMap<String, Node>,
    zxid: i64,
    /// Inside a multi every op gets the same zxid, as in ZooKeeper where a
    /// multi is one transaction; `zxid` is then already that transaction's.
    one_transaction: bool,
    next_session: i64,
    sessions: HashMap<i64, SessionEntry>,
    data_watches: Vec<PendingWatch>,
    child_watches: Vec<PendingWatch>,
    subtree_watches: Vec<SubtreeWatch>,
}

/// The embedded "server": a shared tree that [`EmbeddedRegistry`] sessions connect to.
#[derive(Clone)]
pub struct EmbeddedServer {
    state: Arc<Mutex<ServerState>>,
}

impl Default for EmbeddedServer {
    fn default() -> Self {
        Self::new()
    }
}

impl EmbeddedServer {
    /// An empty tree holding only the root node.
    pub fn new() -> Self {
        let mut state = ServerState { next_session: 0x1000, ..Default::default() };
        state.nodes.insert("/".into(), Node { data: Vec::new(), stat: Stat::default(), child_sequence: 0 });
        EmbeddedServer { state: Arc::new(Mutex::new(state)) }
    }

    /// Opens a new session whose paths live under `/{namespace}`.
    pub fn connect(&self, namespace: &str) -> Result<EmbeddedRegistry> {
        let root = if namespace.is_empty() { String::new() } else { format!("/{}", namespace.trim_matches('/')) };
        if !root.is_empty() {
            validate_path(&root).map_err(|_| Error::invalid("namespace", namespace, "must be a valid path segment"))?;
        }
        let mut state = self.lock();
        let id = state.next_session;
        state.next_session += 1;
        let (events, _) = broadcast::channel(64);
        let _ = events.send(SessionEvent::Connected);
        state.sessions.insert(id, SessionEntry::new(events.clone()));
        let mut prefix = String::new();
        for part in root.split('/').filter(|p| !p.is_empty()) {
            let parent = if prefix.is_empty() { "/".to_string() } else { prefix.clone() };
            prefix = format!("{prefix}/{part}");
            if !state.nodes.contains_key(&prefix) {
                let (_, _, fired) = state.apply_create(&parent, &prefix, b"", CreateMode::Persistent, id)?;
                state.notify(fired);
            }
        }
        Ok(EmbeddedRegistry { server: self.clone(), session: id, root, events })
    }

    /// Expires a session as a ZooKeeper server does after its timeout:
    /// its ephemeral nodes are removed, watchers are told, and the client is dead.
    pub fn expire(&self, session: i64) {
        self.end_session(session, SessionEvent::Expired);
    }

    /// Loses `session`'s connection around its next write request (create,
    /// set, delete or multi; several faults apply to successive writes): the
    /// call fails with [`Error::ConnectionLoss`] and the write was, or was
    /// not, applied. The session reports `Suspended` then `Connected`, as a
    /// client that reconnects at once does. Unknown sessions are ignored.
    pub fn inject_fault(&self, session: i64, fault: Fault) {
        if let Some(entry) = self.lock().sessions.get_mut(&session) {
            entry.faults.push_back(fault);
        }
    }

    /// Cuts `session` off as a network partition would, short of expiry:
    /// every request fails with [`Error::ConnectionLoss`] until
    /// [`EmbeddedServer::reconnect`], its ephemeral nodes stay, and it
    /// receives [`SessionEvent::Suspended`]. See the module doc for what
    /// its watches see meanwhile.
    pub fn disconnect(&self, session: i64) {
        if let Some(entry) = self.lock().sessions.get_mut(&session) {
            entry.disconnect();
        }
    }

    /// Ends [`EmbeddedServer::disconnect`]: the session is usable again, its
    /// one-shot watches fire for what changed meanwhile, and it receives
    /// [`SessionEvent::Connected`].
    pub fn reconnect(&self, session: i64) {
        if let Some(entry) = self.lock().sessions.get_mut(&session) {
            entry.reconnect();
        }
    }

    /// Ids of the sessions that are alive.
    pub fn sessions(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.lock().sessions.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    fn end_session(&self, session: i64, why: SessionEvent) {
        let mut state = self.lock();
        let Some(entry) = state.sessions.remove(&session) else { return };
        let owned: Vec<String> = state
            .nodes
            .iter()
            .filter(|(_, n)| n.stat.ephemeral_owner == session)
            .map(|(p, _)| p.clone())
            .collect();
        for path in owned {
            let fired = state.apply_delete(&path, -1).expect("ephemeral nodes have no children");
            state.notify(fired);
        }
        state.data_watches.retain(|w| w.session != session);
        state.child_watches.retain(|w| w.session != session);
        state.subtree_watches.retain(|w| w.session != session);
        let _ = entry.events.send(why);
    }

    fn lock(&self) -> MutexGuard<'_, ServerState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Events one change fires, before routing to watchers.
type Fired = Vec<WatchEvent>;

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl ServerState {
    /// Whether a request of `session` reaches the server now.
    fn check_session(&self, session: i64) -> Result<()> {
        match self.sessions.get(&session) {
            None => Err(Error::SessionExpired),
            Some(entry) if !entry.connected => Err(Error::ConnectionLoss),
            Some(_) => Ok(()),
        }
    }

    /// The zxid of the next change (the current one inside a multi).
    fn next_zxid(&mut self) -> i64 {
        if !self.one_transaction {
            self.zxid += 1;
        }
        self.zxid
    }

    fn apply_create(
        &mut self,
        parent: &str,
        path: &str,
        data: &[u8],
        mode: CreateMode,
        session: i64,
    ) -> Result<(String, Stat, Fired)> {
        let parent_node = self.nodes.get_mut(parent).ok_or_else(|| Error::NoNode(path.to_string()))?;
        if parent_node.stat.ephemeral_owner != 0 {
            return Err(Error::NoChildrenForEphemerals(path.to_string()));
        }
        let actual = if mode.is_sequential() { format!("{path}{:010}", parent_node.child_sequence) } else { path.to_string() };
        if self.nodes.contains_key(&actual) {
            return Err(Error::NodeExists(actual));
        }
        let (zxid, now) = (self.next_zxid(), now_millis());
        let parent_node = self.nodes.get_mut(parent).expect("checked above");
        parent_node.child_sequence += 1;
        parent_node.stat.num_children += 1;
        parent_node.stat.pzxid = zxid;
        let stat = Stat {
            version: 0,
            ephemeral_owner: if mode.is_ephemeral() { session } else { 0 },
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: now,
            mtime: now,
            num_children: 0,
        };
        self.nodes.insert(actual.clone(), Node { data: data.to_vec(), stat, child_sequence: 0 });
        let fired = vec![
            WatchEvent { kind: EventKind::Created, path: actual.clone() },
            WatchEvent { kind: EventKind::ChildrenChanged, path: parent.to_string() },
        ];
        Ok((actual, stat, fired))
    }

    fn apply_delete(&mut self, path: &str, version: i32) -> Result<Fired> {
        let node = self.nodes.get(path).ok_or_else(|| Error::NoNode(path.to_string()))?;
        if version != -1 && node.stat.version != version {
            return Err(Error::BadVersion(path.to_string()));
        }
        if node.stat.num_children > 0 {
            return Err(Error::NotEmpty(path.to_string()));
        }
        self.nodes.remove(path);
        let parent = parent_of(path);
        let zxid = self.next_zxid();
        if let Some(parent_node) = self.nodes.get_mut(parent) {
            parent_node.stat.num_children -= 1;
            parent_node.stat.pzxid = zxid;
        }
        Ok(vec![
            WatchEvent { kind: EventKind::Deleted, path: path.to_string() },
            WatchEvent { kind: EventKind::ChildrenChanged, path: parent.to_string() },
        ])
    }

    fn apply_set(&mut self, path: &str, data: &[u8], version: i32) -> Result<(Stat, Fired)> {
        let node = self.nodes.get(path).ok_or_else(|| Error::NoNode(path.to_string()))?;
        if version != -1 && node.stat.version != version {
            return Err(Error::BadVersion(path.to_string()));
        }
        let zxid = self.next_zxid();
        let node = self.nodes.get_mut(path).expect("checked above");
        node.data = data.to_vec();
        node.stat.version += 1;
        node.stat.mzxid = zxid;
        node.stat.mtime = now_millis();
        Ok((node.stat, vec![WatchEvent { kind: EventKind::DataChanged, path: path.to_string() }]))
    }

    fn apply_check(&self, path: &str, version: i32) -> Result<()> {
        let node = self.nodes.get(path).ok_or_else(|| Error::NoNode(path.to_string()))?;
        if version != -1 && node.stat.version != version {
            return Err(Error::BadVersion(path.to_string()));
        }
        Ok(())
    }

    /// Routes fired events to the watches that cover them, as ZooKeeper does:
    /// data watches see created/changed/deleted of their node, child watches
    /// see children-changed or deletion of their node, recursive watches see
    /// every event but children-changed below their root. For a
    /// disconnected session, one-shot events are held until it reconnects
    /// and recursive ones are dropped (see the module doc).
    fn notify(&mut self, fired: Fired) {
        let offline: HashSet<i64> = self.sessions.iter().filter(|(_, e)| !e.connected).map(|(id, _)| *id).collect();
        let mut held = Vec::new();
        for event in fired {
            let for_data = !matches!(event.kind, EventKind::ChildrenChanged);
            let for_children = matches!(event.kind, EventKind::ChildrenChanged | EventKind::Deleted);
            let mut keep = Vec::with_capacity(self.data_watches.len());
            for watch in self.data_watches.drain(..) {
                if for_data && watch.path == event.path {
                    if offline.contains(&watch.session) {
                        held.push((watch.session, watch.sender, event.clone()));
                    } else {
                        let _ = watch.sender.send(Ok(event.clone()));
                    }
                } else {
                    keep.push(watch);
                }
            }
            self.data_watches = keep;
            let mut keep = Vec::with_capacity(self.child_watches.len());
            for watch in self.child_watches.drain(..) {
                if for_children && watch.path == event.path {
                    if offline.contains(&watch.session) {
                        held.push((watch.session, watch.sender, event.clone()));
                    } else {
                        let _ = watch.sender.send(Ok(event.clone()));
                    }
                } else {
                    keep.push(watch);
                }
            }
            self.child_watches = keep;
            if event.kind != EventKind::ChildrenChanged {
                self.subtree_watches.retain(|w| {
                    if covers(&w.path, &event.path) && !offline.contains(&w.session) {
                        w.sender.send(event.clone()).is_ok()
                    } else {
                        !w.sender.is_closed()
                    }
                });
            }
        }
        for (session, sender, event) in held {
            if let Some(entry) = self.sessions.get_mut(&session) {
                entry.held.push((sender, event));
            }
        }
    }
}

/// Whether `path` is `root` or below it.
fn covers(root: &str, path: &str) -> bool {
    root == "/" || path == root || (path.starts_with(root) && path.as_bytes().get(root.len()) == Some(&b'/'))
}

/// A client session on a [`EmbeddedServer`], implementing [`Registry`].
pub struct EmbeddedRegistry {
    server: EmbeddedServer,
    session: i64,
    /// `/{namespace}`, or empty for no namespace.
    root: String,
    events: broadcast::Sender<SessionEvent>,
}

impl EmbeddedRegistry {
    /// A session on a fresh, private server: the zero-setup registry for a single process.
    pub fn standalone(namespace: &str) -> Result<Self> {
        EmbeddedServer::new().connect(namespace)
    }

    /// The server this session lives on, to open more sessions or expire one.
    pub fn server(&self) -> &EmbeddedServer {
        &self.server
    }

    fn full(&self, path: &str) -> Result<String> {
        validate_path(path)?;
        Ok(if path == "/" && !self.root.is_empty() { self.root.clone() } else { format!("{}{path}", self.root) })
    }

    fn local(&self, full: &str) -> String {
        strip_root(&self.root, full)
    }

    fn localize(&self, error: Error) -> Error {
        match error {
            Error::NoNode(p) => Error::NoNode(self.local(&p)),
            Error::NodeExists(p) => Error::NodeExists(self.local(&p)),
            Error::BadVersion(p) => Error::BadVersion(self.local(&p)),
            Error::NotEmpty(p) => Error::NotEmpty(self.local(&p)),
            Error::NoChildrenForEphemerals(p) => Error::NoChildrenForEphemerals(self.local(&p)),
            other => other,
        }
    }

    /// Runs `f` on the server state of a live session.
    fn with_state<T>(&self, f: impl FnOnce(&mut ServerState) -> Result<T>) -> Result<T> {
        let mut state = self.server.lock();
        state.check_session(self.session)?;
        f(&mut state).map_err(|e| self.localize(e))
    }

    /// Runs the write `f` on the server state of a live, connected session,
    /// as a request of `size` bytes: refused like ZooKeeper refuses an
    /// oversized request, or hit by the next injected [`Fault`].
    fn write<T>(&self, size: usize, f: impl FnOnce(&mut ServerState) -> Result<T>) -> Result<T> {
        let mut state = self.server.lock();
        state.check_session(self.session)?;
        let entry = state.sessions.get_mut(&self.session).expect("checked above");
        if size > ZOOKEEPER_MAX_BUFFER {
            entry.disconnect();
            entry.reconnect();
            return Err(Error::ConnectionLoss);
        }
        match entry.faults.pop_front() {
            None => f(&mut state).map_err(|e| self.localize(e)),
            Some(Fault::LoseBeforeApply) => {
                entry.disconnect();
                entry.reconnect();
                Err(Error::ConnectionLoss)
            }
            Some(Fault::LoseAfterApply) => {
                // Lost before the answer left: the session's own watches
                // see the change only as a reconnecting client would.
                entry.disconnect();
                let _ = f(&mut state);
                if let Some(entry) = state.sessions.get_mut(&self.session) {
                    entry.reconnect();
                }
                Err(Error::ConnectionLoss)
            }
        }
    }

    /// Registers a one-shot watch whose event is translated back into namespace paths.
    fn pending_watch(&self, path: String) -> (PendingWatch, OneshotWatch) {
        let (sender, receiver) = oneshot::channel::<Result<WatchEvent>>();
        let (local_tx, local_rx) = oneshot::channel();
        let root = self.root.clone();
        tokio::spawn(async move {
            if let Ok(result) = receiver.await {
                let _ = local_tx.send(result.map(|e| WatchEvent { kind: e.kind, path: strip_root(&root, &e.path) }));
            }
        });
        (PendingWatch { session: self.session, path, sender }, OneshotWatch(local_rx))
    }
}

fn strip_root(root: &str, full: &str) -> String {
    match full.strip_prefix(root) {
        Some("") => "/".to_string(),
        Some(rest) if !root.is_empty() => rest.to_string(),
        _ => full.to_string(),
    }
}

#[async_trait]
impl Registry for EmbeddedRegistry {
    async fn create(&self, path: &str, data: &[u8], mode: CreateMode) -> Result<String> {
        let full = self.full(path)?;
        if full == "/" || full == self.root {
            return Err(Error::NodeExists(path.to_string()));
        }
        let size = request_size(&Op::Create { path: path.to_string(), data: data.to_vec(), mode });
        let created = self.write(size, |state| {
            let (created, _, fired) = state.apply_create(parent_of(&full), &full, data, mode, self.session)?;
            state.notify(fired);
            Ok(created)
        })?;
        Ok(self.local(&created))
    }

    async fn get(&self, path: &str) -> Result<Option<(Vec<u8>, Stat)>> {
        let full = self.full(path)?;
        self.with_state(|state| Ok(state.nodes.get(&full).map(|n| (n.data.clone(), n.stat))))
    }

    async fn set(&self, path: &str, data: &[u8], version: Option<i32>) -> Result<Stat> {
        let full = self.full(path)?;
        let version = version.unwrap_or(-1);
        let size = request_size(&Op::Set { path: path.to_string(), data: data.to_vec(), version });
        self.write(size, |state| {
            let (stat, fired) = state.apply_set(&full, data, version)?;
            state.notify(fired);
            Ok(stat)
        })
    }

    async fn delete(&self, path: &str, version: Option<i32>) -> Result<()> {
        let full = self.full(path)?;
        let version = version.unwrap_or(-1);
        let size = request_size(&Op::Delete { path: path.to_string(), version });
        self.write(size, |state| {
            let fired = state.apply_delete(&full, version)?;
            state.notify(fired);
            Ok(())
        })
    }

    async fn exists(&self, path: &str) -> Result<Option<Stat>> {
        let full = self.full(path)?;
        self.with_state(|state| Ok(state.nodes.get(&full).map(|n| n.stat)))
    }

    async fn children(&self, path: &str) -> Result<Vec<String>> {
        let full = self.full(path)?;
        self.with_state(|state| list_children(state, &full))
    }

    async fn multi(&self, ops: Vec<Op>) -> Result<Vec<OpResult>> {
        let mut full_ops = Vec::with_capacity(ops.len());
        for op in &ops {
            full_ops.push(self.full(op.path())?);
        }
        let results = self.write(multi_size(&ops), |state| {
            // Apply on a copy of the touched part of the tree: on failure the
            // original stays as it was; on success the copy replaces it.
            let mut scratch = ScratchState::of(state, &full_ops);
            let mut results = Vec::with_capacity(ops.len());
            let mut fired = Vec::new();
            for (op, full) in ops.iter().zip(&full_ops) {
                let result = match op {
                    Op::Check { version, .. } => scratch.state.apply_check(full, *version).map(|_| OpResult::Check),
                    Op::Create { data, mode, .. } => scratch
                        .state
                        .apply_create(parent_of(full), full, data, *mode, self.session)
                        .map(|(path, stat, f)| {
                            fired.extend(f);
                            OpResult::Create { path, stat }
                        }),
                    Op::Set { data, version, .. } => scratch.state.apply_set(full, data, *version).map(|(s, f)| {
                        fired.extend(f);
                        OpResult::Set(s)
                    }),
                    Op::Delete { version, .. } => scratch.state.apply_delete(full, *version).map(|f| {
                        fired.extend(f);
                        OpResult::Delete
                    }),
                };
                results.push(result?);
            }
            scratch.commit(state);
            state.notify(fired);
            Ok(results)
        })?;
        Ok(results
            .into_iter()
            .map(|r| match r {
                OpResult::Create { path, stat } => OpResult::Create { path: self.local(&path), stat },
                other => other,
            })
            .collect())
    }

    async fn get_and_watch(&self, path: &str) -> Result<(Option<(Vec<u8>, Stat)>, OneshotWatch)> {
        let full = self.full(path)?;
        let (pending, watch) = self.pending_watch(full.clone());
        let value = self.with_state(|state| {
            state.data_watches.push(pending);
            Ok(state.nodes.get(&full).map(|n| (n.data.clone(), n.stat)))
        })?;
        Ok((value, watch))
    }

    async fn children_and_watch(&self, path: &str) -> Result<(Vec<String>, OneshotWatch)> {
        let full = self.full(path)?;
        let (pending, watch) = self.pending_watch(full.clone());
        let children = self.with_state(|state| {
            let children = list_children(state, &full)?;
            state.child_watches.push(pending);
            Ok(children)
        })?;
        Ok((children, watch))
    }

    async fn watch_recursive(&self, path: &str) -> Result<RecursiveWatch> {
        let full = self.full(path)?;
        let (sender, mut receiver) = mpsc::unbounded_channel();
        self.with_state(|state| {
            state.subtree_watches.push(SubtreeWatch { session: self.session, path: full, sender });
            Ok(())
        })?;
        let (local_tx, local_rx) = mpsc::unbounded_channel();
        let root = self.root.clone();
        tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                let event = WatchEvent { kind: event.kind, path: strip_root(&root, &event.path) };
                if local_tx.send(event).is_err() {
                    break;
                }
            }
        });
        Ok(RecursiveWatch(local_rx))
    }

    fn session_events(&self) -> broadcast::Receiver<SessionEvent> {
        self.events.subscribe()
    }

    fn session_id(&self) -> i64 {
        self.session
    }

    fn is_alive(&self) -> bool {
        self.server.lock().sessions.contains_key(&self.session)
    }

    async fn close(&self) {
        self.server.end_session(self.session, SessionEvent::Closed);
    }
}

impl Drop for EmbeddedRegistry {
    fn drop(&mut self) {
        self.server.end_session(self.session, SessionEvent::Closed);
    }
}

fn list_children(state: &ServerState, full: &str) -> Result<Vec<String>> {
    if !state.nodes.contains_key(full) {
        return Err(Error::NoNode(full.to_string()));
    }
    let prefix = if full == "/" { "/".to_string() } else { format!("{full}/") };
    Ok(state
        .nodes
        .range(prefix.clone()..)
        .take_while(|(p, _)| p.starts_with(&prefix))
        .filter(|(p, _)| !p[prefix.len()..].contains('/'))
        .map(|(p, _)| p[prefix.len()..].to_string())
        .collect())
}

/// A copy of the nodes a multi may touch (each op's node and its parent), so
/// that a failed multi changes nothing; nodes it creates land in the copy too.
struct ScratchState {
    state: ServerState,
    touched: Vec<String>,
}

impl ScratchState {
    fn of(state: &ServerState, paths: &[String]) -> Self {
        let mut nodes = BTreeMap::new();
        let mut touched = Vec::new();
        for path in paths {
            for p in [path.as_str(), parent_of(path)] {
                if let Some(node) = state.nodes.get(p) {
                    nodes.insert(p.to_string(), node.clone());
                }
                touched.push(p.to_string());
            }
        }
        // Deletion checks need to know about children of touched nodes, which
        // `num_children` in the copied stat already tells.
        let scratch = ServerState {
            nodes,
            zxid: state.zxid + 1,
            one_transaction: true,
            next_session: state.next_session,
            ..Default::default()
        };
        ScratchState { state: scratch, touched }
    }

    fn commit(self, state: &mut ServerState) {
        for path in &self.touched {
            if !self.state.nodes.contains_key(path) {
                state.nodes.remove(path);
            }
        }
        state.nodes.extend(self.state.nodes);
        state.zxid = self.state.zxid;
    }
}

impl std::fmt::Debug for EmbeddedRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedRegistry").field("session", &self.session).field("root", &self.root).finish()
    }
}
