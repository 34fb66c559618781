//! Where a scheduler gets its registry session from. A [`RegistryCenter`]
//! knows how to connect and hands every job of the process the same live
//! session (as one Curator client serves every job of a Java process); once
//! that session has expired, the next caller gets a fresh one.

use super::counted::{Counted, Counters, RequestCounts};
use super::{EmbeddedServer, Registry, ZookeeperOptions, ZookeeperRegistry};
use crate::error::Result;
use std::sync::Arc;
use tokio::sync::Mutex;

/// A source of registry sessions: a ZooKeeper ensemble or the embedded registry.
#[derive(Clone)]
pub struct RegistryCenter {
    inner: Arc<Inner>,
}

enum Backend {
    Zookeeper(ZookeeperOptions),
    Embedded { server: EmbeddedServer, namespace: String },
}

struct Inner {
    backend: Backend,
    current: Mutex<Option<Arc<dyn Registry>>>,
    counters: Arc<Counters>,
    /// Shared by the jobs on this center: see [`super::clock`].
    clock: super::clock::ClockReadings,
}

impl std::fmt::Debug for RegistryCenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner.backend {
            Backend::Zookeeper(o) => write!(f, "RegistryCenter(zookeeper {} /{})", o.servers, o.namespace),
            Backend::Embedded { namespace, .. } => write!(f, "RegistryCenter(embedded /{namespace})"),
        }
    }
}

impl RegistryCenter {
    fn with(backend: Backend) -> Self {
        RegistryCenter {
            inner: Arc::new(Inner { backend, current: Mutex::new(None), counters: Arc::default(), clock: Default::default() }),
        }
    }

    /// Sessions on a ZooKeeper ensemble.
    pub fn zookeeper(options: ZookeeperOptions) -> Self {
        Self::with(Backend::Zookeeper(options))
    }

    /// Sessions on an embedded server shared with other centers (several
    /// "instances" in one process, each with its own center).
    pub fn embedded_on(server: &EmbeddedServer, namespace: &str) -> Self {
        Self::with(Backend::Embedded { server: server.clone(), namespace: namespace.to_string() })
    }

    /// Sessions on a fresh embedded server of its own: zero set-up, one process.
    pub fn embedded(namespace: &str) -> Self {
        Self::embedded_on(&EmbeddedServer::new(), namespace)
    }

    /// The live session, connecting (again) if there is none.
    pub async fn session(&self) -> Result<Arc<dyn Registry>> {
        let mut current = self.inner.current.lock().await;
        if let Some(session) = current.as_ref().filter(|s| s.is_alive()) {
            return Ok(session.clone());
        }
        let session: Arc<dyn Registry> = match &self.inner.backend {
            Backend::Zookeeper(options) => Arc::new(ZookeeperRegistry::connect(options.clone()).await?),
            Backend::Embedded { server, namespace } => Arc::new(server.connect(namespace)?),
        };
        let session: Arc<dyn Registry> = Arc::new(Counted { inner: session, counters: self.inner.counters.clone() });
        *current = Some(session.clone());
        Ok(session)
    }

    /// This process's readings of the registry's clock.
    pub(crate) fn clock(&self) -> &super::clock::ClockReadings {
        &self.inner.clock
    }

    /// Requests sent through this center's sessions so far.
    pub fn request_counts(&self) -> RequestCounts {
        self.inner.counters.snapshot()
    }

    /// Forgets a session that failed (expired under its client's feet), so
    /// the next [`RegistryCenter::session`] connects anew. Other sessions are
    /// kept. The old client is closed in the background: a client that
    /// cannot reach the server would otherwise hold up the new session.
    pub async fn discard(&self, session_id: i64) {
        let old = {
            let mut current = self.inner.current.lock().await;
            if current.as_ref().is_some_and(|s| s.session_id() == session_id) {
                current.take()
            } else {
                None
            }
        };
        if let Some(old) = old {
            tokio::spawn(async move { old.close().await });
        }
    }

    /// Closes the current session, if any: its ephemeral nodes go at once.
    pub async fn close(&self) {
        if let Some(session) = self.inner.current.lock().await.take() {
            session.close().await;
        }
    }
}
