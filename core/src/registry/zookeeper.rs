//! The production registry: Apache ZooKeeper through the `zookeeper-client` crate.
//!
//! The client is rooted (chroot) at `/{namespace}`, which is created on
//! connect, exactly as Curator's namespace does for Java ElasticJob.
//!
//! Two behaviours of `zookeeper-client` 0.11.2 are evened out here so that
//! this backend matches the embedded model the scheduler is tested against:
//! - While the client is disconnected it keeps new requests in its queue
//!   until it has reconnected (up to 1.4 session timeouts later; failed
//!   reconnect attempts do not fail them, unlike the Java client) and then
//!   sends them, possibly long after the caller gave up. We fail them at
//!   once with [`Error::ConnectionLoss`] instead, so that a caller waits no
//!   longer than a reconnect and a write it abandoned does not land behind
//!   its back.
//! - On reconnect it re-sends one-shot watches but not persistent ones
//!   (`resend_watches` never selects `SetWatches2`), so a recursive watch
//!   would go silent after the first connection loss. We add every live
//!   recursive watch again before reporting [`SessionEvent::Connected`];
//!   events between the loss and that moment are not replayed (ZooKeeper
//!   does not replay them for persistent watches either), which is why
//!   [`SessionEvent::Connected`] means "re-read what you watch".
//!
//! Access control follows Java ElasticJob (Curator with `digest`): with
//! credentials, every node this client creates, the namespace included, is
//! `CREATOR_ALL_ACL` (all rights for the `auth` identity, i.e. whoever holds
//! the same `user:password`, nothing for anyone else); without credentials
//! nodes stay world-open, since there is no identity to restrict them to.
//! A refusal by those ACLs is [`Error::NotAuthorized`].

use super::{
    reach, read_chunks, CreateMode, EventKind, Op, OpResult, OneshotWatch, RecursiveWatch, Registry, SessionEvent, Stat,
    WatchEvent, NAMESPACE_ALLOWANCE,
};
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use zookeeper_client as zk;

/// How to reach a ZooKeeper ensemble.
#[derive(Debug, Clone)]
pub struct ZookeeperOptions {
    /// Connect string, e.g. `127.0.0.1:2181,10.0.0.2:2181`.
    pub servers: String,
    /// Root node of all jobs of this cluster (ElasticJob's `namespace`).
    pub namespace: String,
    /// Session timeout: how long after losing contact an instance counts as dead.
    pub session_timeout: Duration,
    /// How long connecting may take in all (resolving, reaching a server,
    /// getting a session) before it fails with [`Error::Unreachable`].
    pub connection_timeout: Duration,
    /// `user:password` for ZooKeeper digest authentication. With it, every
    /// node this client creates is readable and writable only by clients
    /// authenticated as the same user (`CREATOR_ALL_ACL`, as Java ElasticJob
    /// does); without it, nodes are world-open.
    pub digest: Option<String>,
    /// Fail with [`Error::InvalidConfig`] naming the namespace (and the
    /// ones that exist) when it does not exist yet, instead of creating it:
    /// for operator tools, where a typo must not leave a node behind.
    pub existing_namespace: bool,
}

impl ZookeeperOptions {
    /// Options with a 60 s session timeout (ElasticJob's) and a 5 s
    /// connection timeout (ElasticJob waits 15 s; an unreachable server is
    /// told at once either way, see [`ZookeeperRegistry::connect`]).
    pub fn new(servers: impl Into<String>, namespace: impl Into<String>) -> Self {
        ZookeeperOptions {
            servers: servers.into(),
            namespace: namespace.into(),
            session_timeout: Duration::from_secs(60),
            connection_timeout: Duration::from_secs(5),
            digest: None,
            existing_namespace: false,
        }
    }

    /// Sets the session timeout.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// Sets the connection timeout.
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// Requires the namespace to exist (see [`ZookeeperOptions::existing_namespace`]).
    pub fn existing_namespace(mut self) -> Self {
        self.existing_namespace = true;
        self
    }

    /// Sets digest credentials (`user:password`): the session authenticates
    /// with them and creates every node creator-only (see [`ZookeeperOptions::digest`]).
    pub fn digest(mut self, digest: impl Into<String>) -> Self {
        self.digest = Some(digest.into());
        self
    }

    /// Checks the options before any connection is tried; the error names the
    /// field and value. Timeouts have stated bounds: the session timeout is
    /// 100 ms to 10 minutes (ZooKeeper itself caps it at 20 ticks, 40 s by
    /// default, and a longer one only delays failover), the connection
    /// timeout 1 ms to 10 minutes. Bindings call it when options are made,
    /// so bad input fails at once instead of at the first connection.
    pub fn validate(&self) -> Result<()> {
        const MAX_TIMEOUT: Duration = Duration::from_secs(600);
        if self.servers.trim().is_empty() {
            return Err(Error::invalid("serverLists", &self.servers, "must name at least one host:port"));
        }
        reach::parse_servers(&self.servers)?;
        let ns = self.namespace.trim_matches('/');
        if ns.is_empty() || ns.contains("//") || ns.split('/').any(|s| s == "." || s == "..") {
            return Err(Error::invalid("namespace", &self.namespace, "must be a non-empty ZooKeeper path"));
        }
        // Request sizes are estimated with this much room for the prefix the
        // server sees; a longer namespace could push a packed multi over
        // ZooKeeper's limit.
        if ns.len() + 1 > NAMESPACE_ALLOWANCE {
            return Err(Error::invalid(
                "namespace",
                &self.namespace,
                format!("must be shorter than {NAMESPACE_ALLOWANCE} bytes"),
            ));
        }
        if let Some(digest) = &self.digest {
            // The format of ZooKeeper's digest scheme and of ElasticJob's
            // `digest`. A value without a user (a password alone, say) would
            // quietly become an identity no other client shares, locking
            // everyone else out of the nodes it creates.
            if !digest.split_once(':').is_some_and(|(user, _)| !user.is_empty()) {
                return Err(Error::invalid("digest", "<hidden>", "must be `user:password`"));
            }
        }
        if self.session_timeout < Duration::from_millis(100) || self.session_timeout > MAX_TIMEOUT {
            return Err(Error::invalid(
                "sessionTimeoutMilliseconds",
                self.session_timeout.as_millis(),
                "must be at least 100 ms and at most 600000 ms (10 minutes)",
            ));
        }
        if self.connection_timeout < Duration::from_millis(1) || self.connection_timeout > MAX_TIMEOUT {
            return Err(Error::invalid(
                "connectionTimeoutMilliseconds",
                self.connection_timeout.as_millis(),
                "must be at least 1 ms and at most 600000 ms (10 minutes)",
            ));
        }
        Ok(())
    }
}

/// The session's client, shared with the task that follows its state; taken
/// out (dropped) on close, which ends the session, so nobody else may keep a
/// clone of the client for longer than one request.
type ClientSlot = Arc<RwLock<Option<zk::Client>>>;

/// A live recursive watch, to be added again after each reconnect.
struct Rearm {
    path: String,
    /// Hands the forwarding task its new watcher (it drops the old one).
    swap: mpsc::UnboundedSender<zk::PersistentWatcher>,
}

/// A ZooKeeper session, implementing [`Registry`].
pub struct ZookeeperRegistry {
    client: ClientSlot,
    /// The ACL of every node this session creates: creator-only with a
    /// digest, world-open without (see the module doc).
    acls: zk::Acls<'static>,
    session_id: i64,
    session_timeout: Duration,
    events: broadcast::Sender<SessionEvent>,
    recursive: Arc<Mutex<Vec<Rearm>>>,
}

impl std::fmt::Debug for ZookeeperRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZookeeperRegistry").field("session", &self.session_id).finish()
    }
}

impl ZookeeperRegistry {
    /// Connects, creates the namespace node if needed, and starts reporting session events.
    ///
    /// Fails within the connection timeout with [`Error::Unreachable`],
    /// naming each server's cause: refused and unresolvable servers are
    /// told at once, not after the client's retries.
    ///
    /// The client's own tasks (its connection, pings and session events)
    /// run on the registry's dedicated runtime ([`crate::runtime::registry_io`]),
    /// never on the caller's: a handler that blocks the caller's threads
    /// cannot starve the session keep-alive (invariant 5).
    pub async fn connect(options: ZookeeperOptions) -> Result<Self> {
        options.validate()?;
        crate::runtime::registry_io()
            .spawn(Self::connect_here(options))
            .await
            .map_err(|e| Error::Registry(format!("the registry runtime failed: {e}")))?
    }

    async fn connect_here(options: ZookeeperOptions) -> Result<Self> {
        let servers = reach::parse_servers(&options.servers)?;
        let unreachable = |cause: String| Error::Unreachable { servers: options.servers.clone(), cause };
        // The connection timeout bounds the whole connect, probe included.
        let deadline = tokio::time::Instant::now() + options.connection_timeout;
        reach::reach(&servers, options.connection_timeout).await.map_err(unreachable)?;
        let mut connector = zk::Client::connector()
            .with_session_timeout(options.session_timeout)
            .with_connection_timeout(options.connection_timeout);
        if let Some(digest) = &options.digest {
            connector = connector.with_auth("digest", digest.as_bytes());
        }
        let root = match tokio::time::timeout_at(deadline, connector.connect(&reach::connect_string(&servers))).await {
            Ok(Ok(root)) => root,
            Ok(Err(e @ (zk::Error::Timeout | zk::Error::NoHosts))) => return Err(unreachable(e.to_string())),
            Ok(Err(other)) => return Err(convert(other, "")),
            Err(_) => {
                return Err(unreachable(format!(
                    "a server accepts connections but gave no session within the connection timeout ({} ms): is it a ZooKeeper server, with a quorum?",
                    options.connection_timeout.as_millis()
                )))
            }
        };
        let namespace = format!("/{}", options.namespace.trim_matches('/'));
        let acls = if options.digest.is_some() { zk::Acls::creator_all() } else { zk::Acls::anyone_all() };
        // A namespace that already exists keeps the ACL it has: one created
        // world-open by an older or credential-less client stays usable.
        if options.existing_namespace && root.check_stat(&namespace).await.map_err(|e| convert(e, &namespace))?.is_none() {
            let mut known = root.list_children("/").await.map_err(|e| convert(e, "/"))?;
            known.retain(|name| name != "zookeeper");
            known.sort();
            let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            return Err(Error::invalid(
                "namespace",
                &options.namespace,
                format!("does not exist on `{}` (namespaces there: {known})", options.servers),
            ));
        }
        let create = zk::CreateMode::Persistent.with_acls(acls);
        match root.mkdir(&namespace, &create).await {
            Ok(()) | Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(convert(e, &namespace)),
        }
        let client = root
            .chroot(namespace.clone())
            .map_err(|_| Error::invalid("namespace", &options.namespace, "is not a valid ZooKeeper path"))?;
        let (events, _) = broadcast::channel(64);
        let watcher = client.state_watcher();
        let registry = ZookeeperRegistry {
            acls,
            session_id: client.session_id().0,
            session_timeout: client.session_timeout(),
            client: Arc::new(RwLock::new(Some(client))),
            events,
            recursive: Arc::default(),
        };
        tokio::spawn(follow_state(watcher, registry.events.clone(), registry.client.clone(), registry.recursive.clone()));
        Ok(registry)
    }

    /// A handle on the connected client for one request:
    /// [`Error::ConnectionLoss`] while disconnected (see the module doc),
    /// [`Error::SessionExpired`] once expired or closed.
    fn client(&self) -> Result<zk::Client> {
        let client = self.client.read().unwrap_or_else(|p| p.into_inner()).clone().ok_or(Error::SessionExpired)?;
        match client.state() {
            zk::SessionState::Disconnected => Err(Error::ConnectionLoss),
            state if state.is_terminated() => Err(Error::SessionExpired),
            _ => Ok(client),
        }
    }
}

/// The stat of a node a multi just created, for servers that answer a
/// create inside a multi without it (ZOOKEEPER-4026, ZOOKEEPER-4667).
/// Read back, `czxid` is still the creating transaction unless the node
/// was deleted and created anew in between, which yields a later zxid:
/// a fencing token stays monotonic either way. If the node is already
/// gone (or cannot be read now), `czxid` and `mzxid` are `-1`: whoever
/// removed it has taken over, and no token of this creation can win.
async fn read_back_created(client: &zk::Client, path: &str) -> Stat {
    match client.check_stat(path).await {
        Ok(Some(s)) => stat(&s),
        _ => Stat { czxid: -1, mzxid: -1, pzxid: -1, ..Stat::default() },
    }
}

/// Turns the client's state changes into [`SessionEvent`]s, adding the
/// recursive watches again after every reconnect before saying so.
async fn follow_state(
    mut watcher: zk::StateWatcher,
    events: broadcast::Sender<SessionEvent>,
    client: ClientSlot,
    recursive: Arc<Mutex<Vec<Rearm>>>,
) {
    let mut last = zk::SessionState::SyncConnected;
    loop {
        let state = watcher.changed().await;
        let event = match state {
            zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly => {
                // The client reports a state only when it changes, so seeing
                // "connected" again means a disconnection came and went
                // between two polls: report it too, lest anyone miss that
                // events may have been lost.
                if matches!(last, zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly) {
                    let _ = events.send(SessionEvent::Suspended);
                }
                rearm(&client, &recursive).await;
                SessionEvent::Connected
            }
            zk::SessionState::Disconnected => SessionEvent::Suspended,
            zk::SessionState::Expired | zk::SessionState::AuthFailed => SessionEvent::Expired,
            zk::SessionState::Closed => SessionEvent::Closed,
        };
        last = state;
        let _ = events.send(event);
        if state.is_terminated() {
            recursive.lock().unwrap_or_else(|p| p.into_inner()).clear();
            break;
        }
    }
}

/// Adds every live recursive watch again on the new connection. A failure
/// (the connection dropped again) is left to the next reconnect.
async fn rearm(client: &ClientSlot, recursive: &Mutex<Vec<Rearm>>) {
    let Some(client) = client.read().unwrap_or_else(|p| p.into_inner()).clone() else { return };
    let watches: Vec<(String, mpsc::UnboundedSender<zk::PersistentWatcher>)> = {
        let mut live = recursive.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|r| !r.swap.is_closed());
        live.iter().map(|r| (r.path.clone(), r.swap.clone())).collect()
    };
    for (path, swap) in watches {
        if !matches!(client.state(), zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly) {
            // Lost again: a request now would wait for the next reconnect,
            // which re-arms everything anyway.
            return;
        }
        match client.watch(&path, zk::AddWatchMode::PersistentRecursive).await {
            Ok(watcher) => {
                let _ = swap.send(watcher);
            }
            Err(e) => {
                tracing::debug!(path, error = %e, "could not add a recursive watch again; next reconnect will");
                return;
            }
        }
    }
}

/// Maps a client error to ours, naming the path where it matters.
///
/// What matters most is telling apart the three kinds of failure:
/// - the server refused the request (nothing applied): the node errors, and
///   [`Error::Registry`] for the rest;
/// - the session is over ([`Error::SessionExpired`]): expiry, close, failed
///   authentication, no host left to try;
/// - anything else the client can return for a request whose answer never
///   came is a lost connection with an unknown outcome
///   ([`Error::ConnectionLoss`]). `zookeeper-client` fails every in-flight
///   request with whatever broke the connection: `ConnectionLoss` for a
///   closed socket, a message-only error for "no response from connection
///   in N ms" or an I/O error, `UnexpectedError`/`UnmarshalError` for a
///   garbled stream, `SessionMoved` when another server owns the session
///   now; `Timeout` ends a request that waited for a reconnect. Mapping any
///   of them to [`Error::Registry`] would let a caller believe a write that
///   may have been applied was not.
fn convert(error: zk::Error, path: &str) -> Error {
    match error {
        zk::Error::NoNode => Error::NoNode(path.to_string()),
        zk::Error::NodeExists => Error::NodeExists(path.to_string()),
        zk::Error::BadVersion => Error::BadVersion(path.to_string()),
        zk::Error::NotEmpty => Error::NotEmpty(path.to_string()),
        zk::Error::NoChildrenForEphemerals => Error::NoChildrenForEphemerals(path.to_string()),
        zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::AuthFailed | zk::Error::NoHosts => {
            Error::SessionExpired
        }
        zk::Error::ConnectionLoss
        | zk::Error::Timeout
        | zk::Error::SessionMoved
        | zk::Error::Custom(_)
        | zk::Error::UnexpectedError(_)
        | zk::Error::UnmarshalError { .. } => Error::ConnectionLoss,
        zk::Error::BadArguments(reason) => Error::invalid("path", path, *reason),
        zk::Error::NoAuth => Error::NotAuthorized(path.to_string()),
        // Refusals by the server (InvalidAcl, NotReadOnly, Throttled,
        // QuotaExceeded, MarshallingError, Unimplemented, ...): nothing was applied.
        other => Error::Registry(format!("{other} (at `{path}`)")),
    }
}

fn stat(s: &zk::Stat) -> Stat {
    Stat {
        version: s.version,
        ephemeral_owner: s.ephemeral_owner,
        czxid: s.czxid,
        mzxid: s.mzxid,
        pzxid: s.pzxid,
        ctime: s.ctime,
        mtime: s.mtime,
        num_children: s.num_children,
    }
}

fn mode(mode: CreateMode) -> zk::CreateMode {
    match mode {
        CreateMode::Persistent => zk::CreateMode::Persistent,
        CreateMode::Ephemeral => zk::CreateMode::Ephemeral,
        CreateMode::PersistentSequential => zk::CreateMode::PersistentSequential,
        CreateMode::EphemeralSequential => zk::CreateMode::EphemeralSequential,
    }
}

fn event(e: &zk::WatchedEvent) -> Option<WatchEvent> {
    let kind = match e.event_type {
        zk::EventType::NodeCreated => EventKind::Created,
        zk::EventType::NodeDeleted => EventKind::Deleted,
        zk::EventType::NodeDataChanged => EventKind::DataChanged,
        zk::EventType::NodeChildrenChanged => EventKind::ChildrenChanged,
        zk::EventType::Session => return None,
    };
    Some(WatchEvent { kind, path: if e.path.is_empty() { "/".into() } else { e.path.clone() } })
}

/// Forwards a client one-shot watcher into ours.
fn forward(watcher: zk::OneshotWatcher) -> OneshotWatch {
    let (sender, receiver) = oneshot::channel();
    tokio::spawn(async move {
        let fired = watcher.changed().await;
        let _ = sender.send(event(&fired).ok_or(Error::SessionExpired));
    });
    OneshotWatch(receiver)
}

#[async_trait]
impl Registry for ZookeeperRegistry {
    async fn create(&self, path: &str, data: &[u8], create_mode: CreateMode) -> Result<String> {
        let options = mode(create_mode).with_acls(self.acls);
        let (_, sequence) = self.client()?.create(path, data, &options).await.map_err(|e| convert(e, path))?;
        Ok(if create_mode.is_sequential() { format!("{path}{sequence}") } else { path.to_string() })
    }

    async fn get(&self, path: &str) -> Result<Option<(Vec<u8>, Stat)>> {
        match self.client()?.get_data(path).await {
            Ok((data, s)) => Ok(Some((data, stat(&s)))),
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(convert(e, path)),
        }
    }

    async fn get_many(&self, paths: &[String]) -> Result<Vec<Option<(Vec<u8>, Stat)>>> {
        let client = self.client()?;
        let mut found = Vec::with_capacity(paths.len());
        for chunk in read_chunks(paths) {
            let mut reader = client.new_multi_reader();
            for path in chunk {
                reader.add_get_data(path).map_err(|e| convert(e, path))?;
            }
            let results = reader.commit().await.map_err(|e| convert(e, &chunk[0]))?;
            for (result, path) in results.into_iter().zip(chunk) {
                found.push(match result {
                    zk::MultiReadResult::Data { data, stat: s } => Some((data, stat(&s))),
                    zk::MultiReadResult::Error { err: zk::Error::NoNode } => None,
                    zk::MultiReadResult::Error { err } => return Err(convert(err, path)),
                    _ => return Err(Error::Registry(format!("unexpected answer to a data read of `{path}`"))),
                });
            }
        }
        Ok(found)
    }

    async fn set(&self, path: &str, data: &[u8], version: Option<i32>) -> Result<Stat> {
        self.client()?.set_data(path, data, version).await.map(|s| stat(&s)).map_err(|e| convert(e, path))
    }

    async fn delete(&self, path: &str, version: Option<i32>) -> Result<()> {
        self.client()?.delete(path, version).await.map_err(|e| convert(e, path))
    }

    async fn exists(&self, path: &str) -> Result<Option<Stat>> {
        self.client()?.check_stat(path).await.map(|s| s.as_ref().map(stat)).map_err(|e| convert(e, path))
    }

    async fn children(&self, path: &str) -> Result<Vec<String>> {
        let mut children = self.client()?.list_children(path).await.map_err(|e| convert(e, path))?;
        children.sort();
        Ok(children)
    }

    async fn multi(&self, ops: Vec<Op>) -> Result<Vec<OpResult>> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client()?;
        let mut writer = client.new_multi_writer();
        for op in &ops {
            let added = match op {
                Op::Check { path, version } => writer.add_check_version(path, *version),
                Op::Create { path, data, mode: m } => {
                    writer.add_create(path, data, &mode(*m).with_acls(self.acls))
                }
                Op::Set { path, data, version } => writer.add_set_data(path, data, Some(*version)),
                Op::Delete { path, version } => writer.add_delete(path, Some(*version)),
            };
            added.map_err(|e| convert(e, op.path()))?;
        }
        let results = writer.commit().await.map_err(|e| match e {
            zk::MultiWriteError::OperationFailed { index, source } => {
                convert(source, ops.get(index).map(Op::path).unwrap_or(""))
            }
            zk::MultiWriteError::RequestFailed { source } => convert(source, ""),
        })?;
        // A multi is one transaction: every node it creates has its zxid.
        // Servers with ZOOKEEPER-4026 answer creates without a stat; then the
        // zxid comes from a set in the same multi, or one node read back,
        // never one read per created node.
        let mut transaction = results.iter().find_map(|r| match r {
            zk::MultiWriteResult::SetData { stat: s } => Some(stat(s)),
            zk::MultiWriteResult::Create { stat: s, .. } if !s.is_invalid() => Some(stat(s)),
            _ => None,
        });
        let mut converted = Vec::with_capacity(results.len());
        for (result, op) in results.into_iter().zip(&ops) {
            converted.push(match result {
                zk::MultiWriteResult::Check => OpResult::Check,
                zk::MultiWriteResult::Delete => OpResult::Delete,
                zk::MultiWriteResult::Create { path, stat: s } if s.is_invalid() => {
                    let known = match transaction {
                        Some(known) => known,
                        None => {
                            let mut read = read_back_created(&client, &path).await;
                            (read.mzxid, read.mtime) = (read.czxid, read.ctime);
                            *transaction.insert(read)
                        }
                    };
                    let ephemeral = matches!(op, Op::Create { mode, .. } if mode.is_ephemeral());
                    let stat = Stat {
                        version: 0,
                        ephemeral_owner: if ephemeral { self.session_id } else { 0 },
                        czxid: known.mzxid,
                        mzxid: known.mzxid,
                        pzxid: known.mzxid,
                        ctime: known.mtime,
                        mtime: known.mtime,
                        num_children: 0,
                    };
                    OpResult::Create { path, stat }
                }
                zk::MultiWriteResult::Create { path, stat: s } => OpResult::Create { path, stat: stat(&s) },
                zk::MultiWriteResult::SetData { stat: s } => OpResult::Set(stat(&s)),
                // Applied, but the answer cannot be read: as good as lost.
                _ => return Err(Error::ConnectionLoss),
            });
        }
        Ok(converted)
    }

    async fn get_and_watch(&self, path: &str) -> Result<(Option<(Vec<u8>, Stat)>, OneshotWatch)> {
        loop {
            match self.client()?.get_and_watch_data(path).await {
                Ok((data, s, watcher)) => return Ok((Some((data, stat(&s))), forward(watcher))),
                Err(zk::Error::NoNode) => {}
                Err(e) => return Err(convert(e, path)),
            }
            // Missing: watch for its creation instead. If it appeared in
            // between, read it again.
            let (found, watcher) = self.client()?.check_and_watch_stat(path).await.map_err(|e| convert(e, path))?;
            if found.is_none() {
                return Ok((None, forward(watcher)));
            }
        }
    }

    async fn children_and_watch(&self, path: &str) -> Result<(Vec<String>, OneshotWatch)> {
        let (mut children, watcher) =
            self.client()?.list_and_watch_children(path).await.map_err(|e| convert(e, path))?;
        children.sort();
        Ok((children, forward(watcher)))
    }

    async fn watch_recursive(&self, path: &str) -> Result<RecursiveWatch> {
        let mut watcher =
            self.client()?.watch(path, zk::AddWatchMode::PersistentRecursive).await.map_err(|e| convert(e, path))?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let (swap, mut swapped) = mpsc::unbounded_channel();
        self.recursive.lock().unwrap_or_else(|p| p.into_inner()).push(Rearm { path: path.to_string(), swap });
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(again) = swapped.recv() => watcher = again,
                    fired = watcher.changed() => {
                        let delivered = match event(&fired) {
                            Some(e) => sender.send(e).is_ok(),
                            None => !fired.session_state.is_terminated(),
                        };
                        if !delivered {
                            break;
                        }
                    }
                    _ = sender.closed() => break,
                }
            }
        });
        Ok(RecursiveWatch(receiver))
    }

    fn session_events(&self) -> broadcast::Receiver<SessionEvent> {
        self.events.subscribe()
    }

    fn session_id(&self) -> i64 {
        self.session_id
    }

    fn session_timeout(&self) -> Duration {
        self.session_timeout
    }

    fn is_alive(&self) -> bool {
        // Not `client()`: a disconnected session is still alive, and taking
        // it for dead would make a registry center open a second session.
        let slot = self.client.read().unwrap_or_else(|p| p.into_inner());
        slot.as_ref().is_some_and(|c| !c.state().is_terminated())
    }

    async fn close(&self) {
        // The session ends (and the server drops its ephemeral nodes at
        // once) when the last handle on the client is dropped.
        let mut events = self.events.subscribe();
        let taken = self.client.write().unwrap_or_else(|p| p.into_inner()).take();
        if taken.is_none() {
            return;
        }
        drop(taken);
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(event) = events.recv().await {
                if matches!(event, SessionEvent::Closed | SessionEvent::Expired) {
                    break;
                }
            }
        })
        .await;
    }
}
