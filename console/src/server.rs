//! Starting and stopping a console: check the options, load the users,
//! open the history, bind the socket, then run the registry watcher, the
//! history feed and the HTTP server until told to stop. Stopping is one
//! broadcast (a `watch` channel) that every task and every event stream
//! listens to, as in mini-redis; then the registry session is closed.

use crate::api;
use crate::audit::Auditor;
use crate::auth::sessions::Sessions;
use crate::auth::verifier::Verifier;
use crate::auth::Users;
use crate::error::ConsoleError;
use crate::history_feed::HistoryFeed;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::options::ConsoleOptions;
use crate::state::{AppState, Auth, Inner};
use crate::watcher::Watcher;
use elasticjob::trace::HistoryUrl;
use elasticjob::{HistoryStore, JobOperator, RegistryCenter};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// A running console.
pub struct Console {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    center: RegistryCenter,
    history: Option<HistoryStore>,
}

impl Console {
    /// Starts a console; it serves until [`Console::shutdown`].
    pub async fn start(options: ConsoleOptions) -> Result<Console, ConsoleError> {
        options.check()?;
        let users = options.auth_file.as_deref().map(Users::load).transpose()?;
        let history = match &options.history {
            Some(url) => Some(open_history(url).await?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|e| ConsoleError::Listen {
                addr: options.listen.to_string(),
                reason: e.to_string(),
            })?;
        let addr = listener.local_addr().map_err(|e| ConsoleError::Listen {
            addr: options.listen.to_string(),
            reason: e.to_string(),
        })?;

        let (stop, shutdown) = watch::channel(false);
        let metrics = Arc::new(Metrics::default());
        let hub = Arc::new(Hub::new(history.is_some()));
        let operator = JobOperator::new(options.center.clone());
        let history_kick = Arc::new(Notify::new());
        let state = AppState(Arc::new(Inner {
            operator: operator.clone(),
            history: history.clone(),
            auth: users.map(|users| Auth {
                verifier: Verifier::new(users),
                sessions: Sessions::new(options.login_idle),
            }),
            hub: hub.clone(),
            metrics: metrics.clone(),
            auditor: Auditor::new(history.clone(), metrics.clone()),
            timelines: Default::default(),
            shutdown: shutdown.clone(),
        }));

        let mut tasks = Vec::new();
        let watcher = Watcher {
            center: options.center.clone(),
            operator,
            hub: hub.clone(),
            metrics: metrics.clone(),
            history_kick: history_kick.clone(),
            debounce: options.debounce,
        };
        tasks.push(tokio::spawn(watcher.run(shutdown.clone())));
        if let Some(store) = &history {
            let feed = HistoryFeed {
                store: store.clone(),
                hub,
                metrics,
                kick: history_kick,
                delay: options.history_delay,
                interval: options.history_interval,
            };
            tasks.push(tokio::spawn(feed.run(shutdown.clone())));
        }
        let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let mut stopping = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let stopped = async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(%error, "console: the HTTP server failed");
            }
        }));
        Ok(Console {
            addr,
            stop,
            tasks,
            center: options.center,
            history,
        })
    }

    /// Where it listens (the port chosen when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving, ends every event stream and closes the registry session.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.center.close().await;
        if let Some(store) = self.history {
            store.close().await;
        }
    }
}

/// Opens the history and creates or upgrades its schema (the audit table
/// included). A SQLite file that does not exist yet is created, with a
/// warning: the console writes the audit log there, but an empty history
/// often means a mistyped path.
async fn open_history(url: &str) -> Result<HistoryStore, ConsoleError> {
    let url = HistoryUrl::parse(url)?;
    if let Some(file) = url.sqlite_file().filter(|f| !f.exists()) {
        tracing::warn!(file = %file.display(), "console: the history file does not exist yet; it is created (check the path if you expected runs in it)");
    }
    let store = HistoryStore::open(&url)?;
    if let Err(error) = store.migrate().await {
        // A database that is down now may be up later: the console runs,
        // and its pages say what the history answered.
        tracing::warn!(%error, "console: the history is not reachable yet");
    }
    Ok(store)
}

/// Runs a console until Ctrl-C or SIGTERM; `on_start` hears where it listens.
pub async fn run(
    options: ConsoleOptions,
    on_start: impl FnOnce(SocketAddr),
) -> Result<(), ConsoleError> {
    let console = Console::start(options).await?;
    on_start(console.local_addr());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| ConsoleError::Listen {
            addr: console.local_addr().to_string(),
            reason: format!("cannot watch SIGTERM: {e}"),
        })?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    console.shutdown().await;
    Ok(())
}
