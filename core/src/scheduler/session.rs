//! One registry session's life (invariants 2 and 6).
//!
//! A session is one "incarnation" of the instance: register, watch the
//! job's nodes, react to their changes, and after *any* reconnect re-read
//! everything a missed event could have announced (a full resync: watches
//! are re-armed by the client, but what changed while it was away is not
//! replayed). Only an expired or closed session ends an incarnation — a
//! connection loss or a failing call never does. When it ends, the runs
//! started under it are told to stop (a survivor may re-run them; their
//! fencing tokens are stale) and the instance registers anew, keeping what
//! an operator decided (a `DISABLED` server stays disabled).

use super::{Inner, Shared};
use crate::cancel::CancelReason;
use crate::config::JobConfig;
use crate::error::{Error, Result};
use crate::event::JobEvent;
use crate::failover;
use crate::instance::InstanceNode;
use crate::metrics::SessionState;
use crate::paths::{JobNode, JobPaths};
use crate::registry::{CreateMode, EventKind, RecursiveWatch, Registry, SessionEvent, WatchEvent};
use crate::resolve::retry;
use crate::sharding::service as sharding;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How serving one session ended.
enum SessionEnd {
    Stopped,
    Lost,
}

/// How often serving looks at how long the connection has been gone.
const CONNECTION_CHECK: Duration = Duration::from_millis(250);

impl Inner {
    /// Publishes config, server and instance nodes, elects, flags
    /// resharding, and clears this instance's stale marks.
    pub(super) async fn register(&self, session: &Arc<dyn Registry>, first: bool) -> Result<()> {
        let session = &**session;
        let paths = &self.paths;
        let local = self.config();
        let config_path = paths.config();
        let remote = retry(|| session.get_string(&config_path)).await?;
        match remote {
            Some(yaml) if !(first && local.overwrite) => match JobConfig::from_registry_yaml(&yaml) {
                Ok(config) => {
                    self.apply_config(config)?;
                }
                Err(e) if first => return Err(e),
                Err(e) => tracing::warn!(job = %self.job_name, "the registry's config is invalid, keeping the one in force: {e}"),
            },
            _ => {
                let (path, yaml) = (paths.config(), local.to_yaml()?);
                retry(|| session.put(&path, yaml.as_bytes())).await?
            }
        }
        let config = self.config();
        let dependencies = self.state_read().dependencies.clone();
        if let Some(deps) = dependencies {
            crate::dependency::check_no_cycle(session, &self.job_name, &deps.upstream).await?;
        }
        // Marked as ours before anything that makes the leader look at the
        // instances (the server node write below does).
        self.announce_ours(session).await?;
        let status = if config.disabled { sharding::SERVER_DISABLED } else { sharding::SERVER_ENABLED };
        let server = paths.server(self.instance.ip());
        if first {
            // Enabling a server an operator disabled is an enable like the operator's.
            if status == sharding::SERVER_ENABLED
                && retry(|| session.get_string(&server)).await?.as_deref() == Some(sharding::SERVER_DISABLED)
            {
                crate::enablement::note_enabled(session, paths).await?;
            }
            retry(|| session.put(&server, status.as_bytes())).await?;
        } else {
            // Registering again (after an expiry) keeps what an operator set.
            match retry(|| session.create_with_parents(&server, status.as_bytes(), CreateMode::Persistent)).await {
                Ok(_) | Err(Error::NodeExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // Which instances are Java's is read by the resync that follows (it
        // may wait to confirm one); nothing is caught up before that.
        // A live instance again: the job is no longer stopped.
        let stopped = paths.stopped();
        match retry(|| session.delete(&stopped, None)).await {
            Ok(()) | Err(Error::NoNode(_)) => {}
            Err(e) => return Err(e),
        }
        self.create_instance_node(session, &config).await?;
        self.run_for_leader(session).await?;
        retry(|| sharding::set_necessary(session, paths)).await?;
        if first {
            let start = super::now_millis();
            self.clock_start.store(start, std::sync::atomic::Ordering::Relaxed);
            self.remember_fire_joined_in(session, start).await?;
        }
        self.clear_own_stale_marks(session).await?;
        tracing::info!(job = %config.job_name, instance = %self.instance, session = session.session_id(), "registered");
        Ok(())
    }

    async fn create_instance_node(&self, session: &dyn Registry, config: &JobConfig) -> Result<()> {
        let node = InstanceNode::new(&self.instance, config.label.clone());
        let yaml = serde_yaml_ng::to_string(&node).map_err(|e| Error::Registry(e.to_string()))?;
        let path = self.paths.instance(self.instance.as_str());
        for _ in 0..3 {
            match session.create_with_parents(&path, yaml.as_bytes(), CreateMode::Ephemeral).await {
                Ok(_) => return Ok(()),
                Err(Error::ConnectionLoss) | Err(Error::NodeExists(_)) => {}
                Err(e) => return Err(e),
            }
            let Some(stat) = retry(|| session.exists(&path)).await? else { continue };
            if stat.ephemeral_owner == session.session_id() {
                return Ok(());
            }
            let ours = self.past_sessions.lock().unwrap_or_else(|p| p.into_inner()).contains(&stat.ephemeral_owner);
            if !ours {
                return Err(Error::IllegalState(format!(
                    "instance id `{}` is already registered by another live process for job `{}`",
                    self.instance, config.job_name
                )));
            }
            // Left by one of our own earlier sessions, which the server has
            // not expired yet (e.g. just after quorum came back): replace it.
            match retry(|| session.delete(&path, Some(stat.version))).await {
                Ok(()) | Err(Error::NoNode(_)) | Err(Error::BadVersion(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Err(Error::IllegalState(format!("could not register instance `{}`", self.instance)))
    }

    fn apply_config(&self, config: JobConfig) -> Result<bool> {
        let shared = Shared::parse(config, self.job.kind())?;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let changed = state.config.cron != shared.config.cron
            || state.config.time_zone != shared.config.time_zone
            || state.bounds != shared.bounds;
        self.runs.pool.resize(self.max_parallel.unwrap_or_else(|| shared.config.executor_type().pool_size()));
        *state = shared;
        drop(state);
        if changed {
            self.schedule_changed.notify_one();
        }
        Ok(changed)
    }

    /// The scheduler's life: one incarnation per registry session until stopped.
    pub(super) async fn run(self: Arc<Self>, first: Arc<dyn Registry>) {
        tokio::spawn(self.clone().cron_clock());
        tokio::spawn(self.clone().follow_upstream());
        tokio::spawn(self.clone().follow_backfills());
        let mut firing = Some(tokio::spawn(self.clone().fire_loop()));
        let mut next = Some(first);
        loop {
            if self.stopping() {
                break;
            }
            let session = match next.take() {
                Some(s) => s,
                None => match self.reconnect().await {
                    Some(s) => {
                        self.metrics.registered_again();
                        s
                    }
                    None => {
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                            _ = self.stopped() => break,
                        }
                    }
                },
            };
            self.current.send_replace(Some(session.clone()));
            self.metrics.set_session(SessionState::Connected);
            let end = self.clone().serve(session.clone()).await;
            self.current.send_replace(None);
            // A change made while no watch was live is read under the next session.
            self.forget_pause_note();
            match end {
                SessionEnd::Stopped => {
                    // The fire being started when the stop came is finished
                    // (its items have nobody else to run them for it now);
                    // no later one starts, and none may once leaving has
                    // begun: past the patience it is abandoned.
                    if let Some(mut firing) = firing.take() {
                        let patience = self.shutdown_timeout.max(super::fire::RESERVE_AHEAD * 2);
                        if tokio::time::timeout(patience, &mut firing).await.is_err() {
                            firing.abort();
                            let _ = firing.await;
                        }
                    }
                    self.leave(&*session).await;
                    break;
                }
                SessionEnd::Lost => {
                    self.metrics.set_session(SessionState::Lost);
                    self.metrics.set_items_owned(0);
                    self.session_ended(&session).await;
                }
            }
        }
        self.metrics.set_session(SessionState::Closed);
        self.metrics.set_items_owned(0);
        self.emit(JobEvent::Stopped);
    }

    /// An incarnation ended: tell its runs, forget its session.
    async fn session_ended(&self, session: &Arc<dyn Registry>) {
        let id = session.session_id();
        let told = self.runs.cancel_where(CancelReason::SessionLost, |_, run_session| run_session == id);
        tracing::warn!(
            job = %self.job_name, instance = %self.instance, session = id, cancelled = ?told,
            "registry session lost: runs under it told to stop, registering again"
        );
        self.past_sessions.lock().unwrap_or_else(|p| p.into_inner()).push(id);
        self.center.discard(id).await;
    }

    async fn reconnect(&self) -> Option<Arc<dyn Registry>> {
        let session = match self.center.session().await {
            Ok(s) => s,
            Err(e) => {
                self.emit(JobEvent::Error(format!("cannot reach the registry: {e}")));
                return None;
            }
        };
        match self.register(&session, false).await {
            Ok(()) => Some(session),
            Err(e) => {
                self.emit(JobEvent::Error(format!("cannot register: {e}")));
                None
            }
        }
    }

    /// Serves one session: watch events, session changes, reconcile, and
    /// freezes of the process. Returns only when stopped or the session is gone.
    async fn serve(self: Arc<Self>, session: Arc<dyn Registry>) -> SessionEnd {
        let mut session_events = session.session_events();
        let Some(mut watch) = self.arm_watch(&session).await else {
            return if self.stopping() { SessionEnd::Stopped } else { SessionEnd::Lost };
        };
        self.clone().resync(session.clone());
        let mut reconcile_tick = self
            .reconcile_interval()
            .map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
        let mut freezes = crate::freeze::freezes();
        let mut connection_check = tokio::time::interval(CONNECTION_CHECK);
        let mut suspended_since: Option<std::time::Instant> = None;
        let timeout = session.session_timeout();
        loop {
            tokio::select! {
                _ = self.stopped() => return SessionEnd::Stopped,
                event = watch.next() => match event {
                    Some(event) => self.clone().on_event(session.clone(), event),
                    None => {
                        if !session.is_alive() {
                            return SessionEnd::Lost;
                        }
                        let Some(rearmed) = self.arm_watch(&session).await else {
                            return if self.stopping() { SessionEnd::Stopped } else { SessionEnd::Lost };
                        };
                        watch = rearmed;
                        self.clone().resync(session.clone());
                    }
                },
                change = session_events.recv() => match change {
                    Ok(SessionEvent::Expired) | Ok(SessionEvent::Closed) | Err(broadcast::error::RecvError::Closed) => {
                        return SessionEnd::Lost;
                    }
                    Ok(SessionEvent::Suspended) => {
                        tracing::warn!(job = %self.job_name, "registry connection lost; the session may still be alive");
                        suspended_since.get_or_insert_with(std::time::Instant::now);
                        self.metrics.set_session(SessionState::Suspended);
                    }
                    Ok(SessionEvent::Connected) => {
                        if suspended_since.take().is_some() {
                            tracing::info!(job = %self.job_name, "registry connection back: resyncing");
                            self.metrics.reconnected();
                            self.metrics.set_session(SessionState::Connected);
                        }
                        self.clone().resync(session.clone());
                    }
                    // Events were dropped: look again.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.clone().resync(session.clone()),
                },
                _ = self.session_lost.notified() => {
                    if !session.is_alive() || session.exists(self.paths.root()).await == Err(Error::SessionExpired) {
                        return SessionEnd::Lost;
                    }
                }
                freeze = freezes.recv() => {
                    // A process frozen for longer than the session timeout
                    // has lost its session on the server, whatever the
                    // client believes: stop its runs at once. Missed
                    // notices (lag) may have hidden such a freeze.
                    let frozen = match freeze {
                        Ok(freeze) => freeze.length,
                        Err(broadcast::error::RecvError::Lagged(_)) => Duration::MAX,
                        Err(broadcast::error::RecvError::Closed) => unreachable!("the freeze clock lives as long as the process"),
                    };
                    if frozen > timeout {
                        tracing::warn!(job = %self.job_name, frozen_ms = frozen.as_millis() as u64,
                            "the process stood still for longer than the session timeout: the session is lost");
                        return SessionEnd::Lost;
                    }
                }
                _ = connection_check.tick() => {
                    if suspended_since.is_some_and(|since| since.elapsed() > timeout) {
                        tracing::warn!(job = %self.job_name,
                            "disconnected from the registry for longer than the session timeout: the session is lost");
                        return SessionEnd::Lost;
                    }
                }
                _ = tick_or_never(&mut reconcile_tick) => {
                    let inner = self.clone();
                    let session = session.clone();
                    tokio::spawn(async move {
                        if let Err(e) = inner.reconcile(&*session).await {
                            inner.fail("reconcile failed", e);
                        }
                    });
                }
            }
        }
    }

    /// Watches the job's subtrees, retrying through connection loss;
    /// `None` when the session is gone or the scheduler stops.
    async fn arm_watch(&self, session: &Arc<dyn Registry>) -> Option<RecursiveWatch> {
        loop {
            match watch_job(&**session, &self.paths).await {
                Ok(watch) => return Some(watch),
                Err(Error::SessionExpired) => return None,
                Err(e) => tracing::warn!(job = %self.job_name, "cannot watch the job yet, retrying: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = self.stopped() => return None,
            }
            if !session.is_alive() {
                return None;
            }
        }
    }

    fn reconcile_interval(&self) -> Option<Duration> {
        reconcile_period(self.state_read().config.reconcile_interval_minutes)
    }

    /// Re-reads everything a missed event could have announced: config,
    /// own registration, leader, departed owners, failover queue, trigger,
    /// stale marks and moved items.
    fn resync(self: Arc<Self>, session: Arc<dyn Registry>) {
        tokio::spawn(async move {
            let result: Result<()> = async {
                let paths = &self.paths;
                self.reload_config(&*session).await?;
                let config = self.config();
                let node = paths.instance(self.instance.as_str());
                if retry(|| session.exists(&node)).await?.is_none() {
                    tracing::warn!(job = %self.job_name, "instance node missing after a reconnect: registering it again");
                    self.announce_ours(&*session).await?;
                    self.create_instance_node(&*session, &config).await?;
                    retry(|| sharding::set_necessary(&*session, paths)).await?;
                }
                self.refresh_java_peers(&*session).await?;
                if retry(|| crate::election::leader(&*session, paths)).await?.is_none() {
                    self.run_for_leader(&*session).await?;
                }
                if self.is_leader(&*session).await? {
                    // A resharding already flagged repairs orphans too: raising
                    // the flag again would only make it begin again (at start-up,
                    // when no item has an owner yet, every job did).
                    let count = self.item_count();
                    let pending = retry(|| sharding::is_pending(&*session, paths)).await?;
                    let orphaned = !pending
                        && !config.static_sharding
                        && retry(|| sharding::has_orphaned_items(&*session, paths, count)).await?;
                    if orphaned {
                        retry(|| sharding::set_necessary(&*session, paths)).await?;
                    }
                    if pending || orphaned {
                        self.reshard_in_background(session.clone());
                    }
                }
                self.look_for_retries(&*session).await?;
                self.refresh_enabled_at(&*session).await?;
                self.refresh_pause_note(&*session).await?;
                self.refresh_dependents(&*session).await?;
                self.catch_up_items_moved_in();
                if config.failover {
                    failover::queue_orphaned_items(&*session, paths, self.item_count()).await?;
                    self.take_over(session.clone());
                }
                self.take_trigger(&session).await?;
                self.look_at_backfills();
                self.clear_own_stale_marks(&*session).await?;
                self.stop_moved_runs(&*session).await?;
                self.rerun_misfires_moved_in(&session).await?;
                self.check_a_java_leaders_assignment(&*session).await
            }
            .await;
            if let Err(e) = result {
                self.fail("resyncing with the registry failed", e);
            }
        });
    }

    /// Applies the registry's configuration if it changed.
    async fn reload_config(&self, session: &dyn Registry) -> Result<()> {
        let path = self.paths.config();
        let Some(yaml) = retry(|| session.get_string(&path)).await? else { return Ok(()) };
        let config = JobConfig::from_registry_yaml(&yaml)?;
        if config == self.config() {
            return Ok(());
        }
        let count_changed = config.sharding_total_count != self.config().sharding_total_count;
        if self.apply_config(config)? {
            tracing::info!(job = %self.job_name, cron = %self.config().cron, "schedule changed");
        }
        if count_changed && self.is_leader(session).await? {
            retry(|| sharding::set_necessary(session, &self.paths)).await?;
        }
        Ok(())
    }

    /// Records in the history whether this server is now disabled or enabled
    /// (an operator's `disable`/`enable`). Only a record: sharding acts on it.
    async fn record_server_status(&self, session: &dyn Registry, ip: &str) {
        if self.history_writer.get().is_none() {
            return;
        }
        match sharding::is_server_enabled(session, &self.paths, ip).await {
            Ok(true) => self.record_status(crate::trace::StatusState::Enabled, &[], &format!("server {ip} enabled")),
            Ok(false) => self.record_status(crate::trace::StatusState::Disabled, &[], &format!("server {ip} disabled")),
            Err(e) => tracing::debug!("reading server {ip}'s status for the history failed: {e}"),
        }
    }

    /// Reacts to one change under the job, in the background.
    fn on_event(self: Arc<Self>, session: Arc<dyn Registry>, event: WatchEvent) {
        tokio::spawn(async move {
            if let Err(e) = self.handle_event(&session, &event).await {
                self.fail(&format!("handling {:?} of {} failed", event.kind, event.path), e);
            }
        });
    }

    async fn handle_event(self: &Arc<Self>, session: &Arc<dyn Registry>, event: &WatchEvent) -> Result<()> {
        let Some(node) = self.paths.classify(&event.path) else { return Ok(()) };
        let me = self.instance.as_str();
        match (node, event.kind) {
            (JobNode::Instance(id), EventKind::Deleted) if id == me => {
                // The end of our own session deletes the node too (and the
                // event can arrive before the client learns its session
                // expired); only a node removed under a live session is an
                // operator's shutdown.
                if session.is_alive() && session.exists(self.paths.root()).await.is_ok() {
                    tracing::info!(instance = %me, "instance removed by an operator: shutting down");
                    self.stop.send_replace(true);
                } else {
                    self.session_lost.notify_one();
                }
            }
            (JobNode::Instance(id), kind) if id != me && kind != EventKind::DataChanged => {
                // A departed Java instance must be known before its items
                // move (no catch-up of what it may have run); a joining one
                // may take a confirmation wait, which must not delay resharding.
                let departed = kind == EventKind::Deleted;
                if departed {
                    self.refresh_java_peers(&**session).await?;
                    if self.config().failover {
                        failover::queue_lost_items(&**session, &self.paths, id, self.item_count()).await?;
                    }
                }
                self.flag_resharding_as_leader(&**session).await?;
                if !departed {
                    self.refresh_java_peers(&**session).await?;
                }
            }
            (JobNode::Server(ip), kind) => {
                if ip == self.instance.ip() && kind != EventKind::Deleted {
                    self.record_server_status(&**session, ip).await;
                }
                self.flag_resharding_as_leader(&**session).await?
            }
            (JobNode::Leader, EventKind::Deleted) => self.run_for_leader(&**session).await?,
            (JobNode::ShardingNecessary, EventKind::Created | EventKind::DataChanged) => {
                // An instance whose completion failed clears its stale marks
                // so the leader's wait ends.
                if self.runs.take_stale_hint() {
                    self.clear_own_stale_marks(&**session).await?;
                }
                if self.is_leader(&**session).await? {
                    self.reshard_in_background(session.clone());
                }
            }
            (JobNode::ShardingProcessing, EventKind::Deleted) => {
                self.stop_moved_runs(&**session).await?;
                // Items that came here may have retries pending; an enable may have settled it.
                self.look_for_retries(&**session).await?;
                self.refresh_enabled_at(&**session).await?;
                self.catch_up_items_moved_in();
                self.look_at_backfills();
                self.rerun_misfires_moved_in(session).await?;
                self.check_a_java_leaders_assignment(&**session).await?;
            }
            (JobNode::FailoverItem(_), EventKind::Created) if self.config().failover => self.take_over(session.clone()),
            (JobNode::Trigger(id), EventKind::Created) if id == me => self.take_trigger(session).await?,
            (JobNode::Config, EventKind::DataChanged | EventKind::Created) => self.reload_config(&**session).await?,
            (JobNode::JavaSeen, EventKind::DataChanged | EventKind::Created) => self.refresh_java_peers(&**session).await?,
            (JobNode::EnabledAt, EventKind::DataChanged | EventKind::Created) => self.refresh_enabled_at(&**session).await?,
            (JobNode::Paused, _) => self.refresh_pause_note(&**session).await?,
            (JobNode::Dependent(_), _) => self.refresh_dependents(&**session).await?,
            (JobNode::Backfill(_), EventKind::Created) => self.look_at_backfills(),
            _ => {}
        }
        Ok(())
    }

    /// Graceful leave: waits for running items (then tells them to stop),
    /// gives up leadership and removes this instance.
    async fn leave(&self, session: &dyn Registry) {
        // Runs reserved for a fire still to come are owed to that fire
        // (its fence is taken): even a zero timeout waits for their release.
        let patience = self.shutdown_timeout.max(super::fire::RESERVE_AHEAD * 2);
        if !self.runs.wait_idle(patience).await {
            let told = self.runs.cancel_where(CancelReason::Shutdown, |_, _| true);
            tracing::warn!(job = %self.job_name, items = ?told, "shutdown timeout passed: running items told to stop");
            self.runs.wait_idle(Duration::from_secs(5)).await;
        }
        self.finish_listeners(self.shutdown_timeout).await;
        let _ = crate::election::resign(session, &self.paths, self.instance.as_str()).await;
        self.note_if_last(session).await;
        let path = self.paths.instance(self.instance.as_str());
        match retry(|| session.delete(&path, None)).await {
            Ok(()) | Err(Error::NoNode(_)) => {}
            Err(e) => self.emit(JobEvent::Error(format!("removing the instance node failed: {e}"))),
        }
        self.withdraw_ours(session).await;
        tracing::info!(instance = %self.instance, "left the cluster");
    }
}

impl Inner {
    /// Leaving as the only live instance: says so (`polyglot/stopped`), so
    /// the job reads as stopped rather than crashed. Two instances leaving
    /// at once may both see the other and say nothing: the job then reads
    /// as crashed, the safe side.
    async fn note_if_last(&self, session: &dyn Registry) {
        let me = self.instance.as_str();
        let alone = matches!(session.children(&self.paths.instances()).await, Ok(live) if live.iter().all(|id| id == me));
        if alone {
            let path = self.paths.stopped();
            if let Err(e) = retry(|| session.put(&path, me.as_bytes())).await {
                tracing::debug!(job = %self.job_name, "could not note the job as stopped: {e}");
            }
        }
    }
}

/// `reconcileIntervalMinutes` as a period: `0` turns self-diagnosis off,
/// as in ElasticJob (resyncs after every reconnect still run).
fn reconcile_period(minutes: i32) -> Option<Duration> {
    (minutes > 0).then(|| Duration::from_secs(minutes as u64 * 60))
}

/// The next tick of an interval, or never when there is none.
async fn tick_or_never(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// One stream of the events under every subtree an instance follows.
async fn watch_job(session: &dyn Registry, paths: &JobPaths) -> Result<RecursiveWatch> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    for path in paths.watched() {
        let mut watch = session.watch_recursive(&path).await?;
        let sender = sender.clone();
        tokio::spawn(async move {
            while let Some(event) = watch.next().await {
                if sender.send(event).is_err() {
                    break;
                }
            }
        });
    }
    Ok(RecursiveWatch(receiver))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconcile_interval_of_zero_turns_self_diagnosis_off() {
        assert_eq!(reconcile_period(0), None);
        assert_eq!(reconcile_period(10), Some(Duration::from_secs(600)));
    }
}
