//! The production registry: Apache ZooKeeper through the `zookeeper-client` crate.
//!
//! The client is rooted (chroot) at `/{namespace}`, which is created on
//! connect, exactly as Curator's namespace does for Java ElasticJob.

use super::{
    CreateMode, EventKind, Op, OpResult, OneshotWatch, RecursiveWatch, Registry, SessionEvent, Stat, WatchEvent,
    MULTI_READ_CHUNK,
};
use crate::error::{Error, Result};
use async_trait::async_trait;
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
    /// How long to wait for the first connection.
    pub connection_timeout: Duration,
    /// `user:password` for ZooKeeper digest authentication, if the ensemble needs it.
    pub digest: Option<String>,
}

impl ZookeeperOptions {
    /// Options with ElasticJob's defaults: 60 s session timeout, 15 s connection timeout.
    pub fn new(servers: impl Into<String>, namespace: impl Into<String>) -> Self {
        ZookeeperOptions {
            servers: servers.into(),
            namespace: namespace.into(),
            session_timeout: Duration::from_secs(60),
            connection_timeout: Duration::from_secs(15),
            digest: None,
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

    /// Sets digest credentials (`user:password`).
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
        let ns = self.namespace.trim_matches('/');
        if ns.is_empty() || ns.contains("//") || ns.split('/').any(|s| s == "." || s == "..") {
            return Err(Error::invalid("namespace", &self.namespace, "must be a non-empty ZooKeeper path"));
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

/// A ZooKeeper session, implementing [`Registry`].
pub struct ZookeeperRegistry {
    /// The session's client; taken out (dropped) on close, which ends the session.
    client: std::sync::RwLock<Option<zk::Client>>,
    session_id: i64,
    session_timeout: Duration,
    events: broadcast::Sender<SessionEvent>,
}

impl std::fmt::Debug for ZookeeperRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZookeeperRegistry").field("session", &self.session_id).finish()
    }
}

impl ZookeeperRegistry {
    /// Connects, creates the namespace node if needed, and starts reporting session events.
    pub async fn connect(options: ZookeeperOptions) -> Result<Self> {
        options.validate()?;
        let mut connector = zk::Client::connector()
            .with_session_timeout(options.session_timeout)
            .with_connection_timeout(options.connection_timeout);
        if let Some(digest) = &options.digest {
            connector = connector.with_auth("digest", digest.as_bytes());
        }
        let root = connector.connect(&options.servers).await.map_err(|e| match e {
            zk::Error::Timeout | zk::Error::NoHosts => {
                Error::Registry(format!("cannot connect to ZooKeeper at `{}`: {e}", options.servers))
            }
            other => convert(other, ""),
        })?;
        let namespace = format!("/{}", options.namespace.trim_matches('/'));
        let create = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        match root.mkdir(&namespace, &create).await {
            Ok(()) | Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(convert(e, &namespace)),
        }
        let client = root
            .chroot(namespace.clone())
            .map_err(|_| Error::invalid("namespace", &options.namespace, "is not a valid ZooKeeper path"))?;
        let (events, _) = broadcast::channel(64);
        let mut watcher = client.state_watcher();
        let sender = events.clone();
        tokio::spawn(async move {
            loop {
                let state = watcher.changed().await;
                let event = match state {
                    zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly => SessionEvent::Connected,
                    zk::SessionState::Disconnected => SessionEvent::Suspended,
                    zk::SessionState::Expired | zk::SessionState::AuthFailed => SessionEvent::Expired,
                    zk::SessionState::Closed => SessionEvent::Closed,
                };
                let _ = sender.send(event);
                if state.is_terminated() {
                    break;
                }
            }
        });
        Ok(ZookeeperRegistry {
            session_id: client.session_id().0,
            session_timeout: client.session_timeout(),
            client: std::sync::RwLock::new(Some(client)),
            events,
        })
    }

    /// The session timeout the server granted.
    pub fn session_timeout(&self) -> Duration {
        self.session_timeout
    }

    /// A handle on the live client, or [`Error::SessionExpired`] once closed.
    fn client(&self) -> Result<zk::Client> {
        self.client.read().unwrap_or_else(|p| p.into_inner()).clone().ok_or(Error::SessionExpired)
    }
}

/// Maps a client error to ours, naming the path where it matters.
fn convert(error: zk::Error, path: &str) -> Error {
    match error {
        zk::Error::NoNode => Error::NoNode(path.to_string()),
        zk::Error::NodeExists => Error::NodeExists(path.to_string()),
        zk::Error::BadVersion => Error::BadVersion(path.to_string()),
        zk::Error::NotEmpty => Error::NotEmpty(path.to_string()),
        zk::Error::NoChildrenForEphemerals => Error::NoChildrenForEphemerals(path.to_string()),
        zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::AuthFailed => Error::SessionExpired,
        zk::Error::ConnectionLoss | zk::Error::Timeout => Error::ConnectionLoss,
        zk::Error::BadArguments(reason) => Error::invalid("path", path, *reason),
        other => Error::Registry(format!("{other} (at `{path}`)")),
    }
}

fn stat(s: &zk::Stat) -> Stat {
    Stat {
        version: s.version,
        ephemeral_owner: s.ephemeral_owner,
        czxid: s.czxid,
        mzxid: s.mzxid,
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
        let options = mode(create_mode).with_acls(zk::Acls::anyone_all());
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
        for chunk in paths.chunks(MULTI_READ_CHUNK) {
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
                    writer.add_create(path, data, &mode(*m).with_acls(zk::Acls::anyone_all()))
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
        Ok(results
            .into_iter()
            .map(|r| match r {
                zk::MultiWriteResult::Check => OpResult::Check,
                zk::MultiWriteResult::Delete => OpResult::Delete,
                zk::MultiWriteResult::Create { path, .. } => OpResult::Create(path),
                zk::MultiWriteResult::SetData { stat: s } => OpResult::Set(stat(&s)),
                _ => OpResult::Check,
            })
            .collect())
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
        tokio::spawn(async move {
            loop {
                tokio::select! {
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

    fn is_alive(&self) -> bool {
        self.client().map(|c| !c.state().is_terminated()).unwrap_or(false)
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
