//! The console's one registry session, watched. A persistent recursive
//! watch on the namespace root reports every change of every job; changes
//! are gathered for a short debounce and then the whole state is read
//! again through `JobOperator` (never patched from events, which carry no
//! data and may be missed). After any reconnection the state is re-read as
//! well, since events during the outage are lost; when the session expires
//! the watcher gets a new one from the same `RegistryCenter`, which the
//! operations use too: the console holds one session however many browsers
//! watch it.

use crate::dto::{InstanceJson, ItemJson, JobJson, ServerJson};
use crate::hub::{Hub, JobView, RegistryPart};
use crate::metrics::Metrics;
use elasticjob::paths::JobPaths;
use elasticjob::registry::{Registry, SessionEvent};
use elasticjob::sharding::service::{children_or_empty, is_server_enabled};
use elasticjob::{Error, JobOperator, RegistryCenter};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch, Notify};
use tokio::time::Instant;

/// How long a failed read waits before it is tried again.
const RETRY: Duration = Duration::from_secs(1);
/// The longest wait between attempts to get a session.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the watcher needs.
pub struct Watcher {
    /// Where sessions come from (shared with the operations).
    pub center: RegistryCenter,
    /// Reads jobs, instances and items.
    pub operator: JobOperator,
    /// Where the view goes.
    pub hub: Arc<Hub>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Told after every successful read, so the history is read again too.
    pub history_kick: Arc<Notify>,
    /// How long changes are gathered before a read.
    pub debounce: Duration,
}

/// Why the watch of one session stopped.
enum End {
    /// The console is stopping.
    Shutdown,
    /// The session expired or was closed: get a new one.
    SessionGone,
    /// The watch could not be armed on a live session: try again.
    Retry,
}

/// The session's state and history as the view shows it.
struct Status {
    state: &'static str,
    session_id: String,
    reconnects: u64,
    error: Option<String>,
}

impl Watcher {
    /// Watches until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut status = Status {
            state: "CONNECTING",
            session_id: String::new(),
            reconnects: 0,
            error: None,
        };
        let mut backoff = Duration::from_millis(100);
        while !*shutdown.borrow() {
            let session = match self.center.session().await {
                Ok(session) => session,
                Err(error) => {
                    status.state = "CONNECTING";
                    status.error = Some(format!("cannot connect: {error}"));
                    self.publish_status(&status);
                    if sleep_or_shutdown(backoff, &mut shutdown).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            status.session_id = format!("0x{:x}", session.session_id());
            match self
                .watch_session(&*session, &mut status, &mut shutdown)
                .await
            {
                End::Shutdown => return,
                End::Retry => {
                    if sleep_or_shutdown(RETRY, &mut shutdown).await {
                        return;
                    }
                    continue;
                }
                End::SessionGone => {}
            }
            status.reconnects += 1;
            status.state = if session.is_alive() {
                "CONNECTING"
            } else {
                "EXPIRED"
            };
            self.metrics.session_lost();
            self.publish_status(&status);
            self.center.discard(session.session_id()).await;
        }
    }

    /// Follows one session until it ends, shutdown, or a failure to arm the watch.
    async fn watch_session(
        &self,
        session: &dyn Registry,
        status: &mut Status,
        shutdown: &mut watch::Receiver<bool>,
    ) -> End {
        let mut session_events = session.session_events();
        let mut watch = match session.watch_recursive("/").await {
            Ok(watch) => watch,
            Err(error) => {
                status.error = Some(format!("cannot watch the namespace: {error}"));
                self.publish_status(status);
                return if session.is_alive() {
                    End::Retry
                } else {
                    End::SessionGone
                };
            }
        };
        status.state = "CONNECTED";
        // The watch is armed: whatever changes from here on is seen, so a
        // full read now misses nothing.
        let mut due = Some(Instant::now());
        let mut clock = tokio::time::interval(Duration::from_secs(1));
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let wait = due.map(tokio::time::sleep_until);
            tokio::select! {
                biased;
                _ = shutdown.changed() => return End::Shutdown,
                event = watch.next() => match event {
                    Some(_) => {
                        self.metrics.watch_event();
                        due.get_or_insert_with(|| Instant::now() + self.debounce);
                    }
                    None => return End::SessionGone,
                },
                event = session_events.recv() => match event {
                    Ok(SessionEvent::Connected) => {
                        // Events during the outage are lost: read everything again.
                        status.state = "CONNECTED";
                        due = Some(Instant::now());
                    }
                    Ok(SessionEvent::Suspended) => {
                        status.state = "SUSPENDED";
                        self.publish_status(status);
                    }
                    Ok(SessionEvent::Expired) | Ok(SessionEvent::Closed) | Err(broadcast::error::RecvError::Closed) => {
                        return End::SessionGone
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => due = Some(Instant::now()),
                },
                _ = clock.tick() => {
                    self.hub.advance_next_fires(now_millis());
                }
                _ = async { wait.expect("guarded").await }, if due.is_some() => {
                    due = None;
                    let started = std::time::Instant::now();
                    match read_jobs(&self.operator, session).await {
                        Ok(jobs) => {
                            self.metrics.registry_read(started.elapsed());
                            status.error = None;
                            self.hub.set_registry(RegistryPart {
                                state: status.state,
                                session_id: status.session_id.clone(),
                                reconnects: status.reconnects,
                                error: None,
                                jobs,
                                read_at: now_millis(),
                            });
                            self.history_kick.notify_one();
                        }
                        Err(error) => {
                            self.metrics.registry_read_failed();
                            tracing::warn!(%error, "console: reading the registry failed; trying again");
                            status.error = Some(format!("reading the registry failed: {error}"));
                            self.publish_status(status);
                            if !session.is_alive() {
                                return End::SessionGone;
                            }
                            due = Some(Instant::now() + RETRY);
                        }
                    }
                }
            }
        }
    }

    /// Publishes a session state change, keeping the jobs last read.
    fn publish_status(&self, status: &Status) {
        let last = self.hub.registry();
        self.hub.set_registry(RegistryPart {
            state: status.state,
            session_id: status.session_id.clone(),
            reconnects: status.reconnects,
            error: status.error.clone(),
            jobs: last.jobs.clone(),
            read_at: last.read_at,
        });
    }
}

/// Sleeps `duration`; `true` if shutdown came first.
async fn sleep_or_shutdown(duration: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(duration) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Every job with its instances, items and servers. A job removed while
/// it is read is left out; any other failure fails the whole read, so a
/// view is never half old and half new.
pub async fn read_jobs(
    operator: &JobOperator,
    session: &dyn Registry,
) -> elasticjob::Result<Vec<JobView>> {
    let now = now_millis();
    let mut jobs = operator.jobs().await?;
    jobs.sort_by(|a, b| a.config.job_name.cmp(&b.config.job_name));
    let mut views = Vec::with_capacity(jobs.len());
    for job in jobs {
        let name = job.config.job_name.clone();
        let gone =
            |e: &Error| matches!(e, Error::InvalidConfig { field, .. } if field == "jobName");
        let instances = match operator.instances(&name).await {
            Ok(instances) => instances,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(e),
        };
        let items = match operator.items(&name).await {
            Ok(items) => items,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(e),
        };
        let paths = JobPaths::new(&name);
        let mut servers = Vec::new();
        for ip in children_or_empty(session, &paths.servers()).await? {
            servers.push(ServerJson {
                enabled: is_server_enabled(session, &paths, &ip).await?,
                instance_count: instances.iter().filter(|i| i.server_ip == ip).count(),
                ip,
            });
        }
        views.push(JobView {
            job: JobJson::of(&job, now),
            instances: instances.iter().map(InstanceJson::from).collect(),
            items: items.iter().map(ItemJson::from).collect(),
            servers,
        });
    }
    Ok(views)
}
