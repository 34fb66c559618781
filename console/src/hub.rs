//! The latest view of the cluster and its fan-out to browsers. The
//! registry watcher and the history feed each hand in their part; the hub
//! publishes a new snapshot only when a part really changed, serialised
//! once and shared by every browser through a broadcast channel. A browser
//! that falls behind is simply given the newest snapshot: each one is
//! complete, so skipping intermediate ones loses nothing.

use crate::dto::{next_fire, InstanceJson, ItemJson, JobJson, ServerJson};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::broadcast;

/// How many snapshots a slow browser may be behind before it skips to the newest.
const CHANNEL_CAPACITY: usize = 16;

/// One job with everything the registry says about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobView {
    /// Name, status, cron, next fire.
    #[serde(flatten)]
    pub job: JobJson,
    /// Live instances.
    pub instances: Vec<InstanceJson>,
    /// Items with owner and state.
    pub items: Vec<ItemJson>,
    /// Servers, live or not, with their enabled flag.
    pub servers: Vec<ServerJson>,
}

/// The registry's side of the view: the session and the jobs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistryPart {
    /// `CONNECTING`, `CONNECTED`, `SUSPENDED` (connection lost, session may live) or `EXPIRED`.
    pub state: &'static str,
    /// The console's one ZooKeeper session, in hex (empty before the first).
    pub session_id: String,
    /// Sessions lost and replaced since the console started.
    pub reconnects: u64,
    /// Why the last read failed, if it did (the jobs are then the last ones read).
    pub error: Option<String>,
    /// Every job, by name.
    pub jobs: Vec<JobView>,
    /// When the jobs were last read, epoch milliseconds (not compared for changes).
    #[serde(skip)]
    pub read_at: i64,
}

impl RegistryPart {
    fn same_as(&self, other: &RegistryPart) -> bool {
        (
            self.state,
            &self.session_id,
            self.reconnects,
            &self.error,
            &self.jobs,
        ) == (
            other.state,
            &other.session_id,
            other.reconnects,
            &other.error,
            &other.jobs,
        )
    }
}

/// A recent run of a job, for the overview's strip of outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentRun {
    /// The item.
    pub item: u32,
    /// Who ran it.
    pub instance_id: String,
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `CANCELLED`.
    pub outcome: String,
    /// Start, epoch milliseconds.
    pub start_time: i64,
    /// End, epoch milliseconds.
    pub complete_time: i64,
    /// Whether it ran in place of a lost instance.
    pub failover: bool,
}

/// One job's last day of runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobHistory {
    /// Runs in the window.
    pub total: i64,
    /// Of which not successful.
    pub failed: i64,
    /// Of which failovers.
    pub failover: i64,
    /// Latest start, epoch milliseconds.
    pub last_start: i64,
    /// The newest runs, newest first.
    pub recent: Vec<RecentRun>,
}

/// The history's side of the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryPart {
    /// Whether the console has a history (`--history`).
    pub configured: bool,
    /// The window the counts cover, hours back from now.
    pub window_hours: u32,
    /// Per job.
    pub jobs: BTreeMap<String, JobHistory>,
    /// Why the last read failed, if it did.
    pub error: Option<String>,
}

/// A published view.
pub struct Snapshot {
    /// Grows with every publication.
    pub version: u64,
    /// The view as sent to browsers.
    pub json: Arc<str>,
    /// The registry part, for metrics.
    pub registry: Arc<RegistryPart>,
    /// The history part, for metrics.
    pub history: Arc<HistoryPart>,
}

#[derive(Serialize)]
struct Wire<'a> {
    version: u64,
    registry: &'a RegistryPart,
    history: &'a HistoryPart,
}

/// The latest snapshot and its subscribers.
pub struct Hub {
    parts: Mutex<(Arc<RegistryPart>, Arc<HistoryPart>, u64)>,
    current: RwLock<Arc<Snapshot>>,
    sender: broadcast::Sender<Arc<Snapshot>>,
}

impl Hub {
    /// A hub with nothing read yet.
    pub fn new(history_configured: bool) -> Self {
        let registry = Arc::new(RegistryPart {
            state: "CONNECTING",
            session_id: String::new(),
            reconnects: 0,
            error: None,
            jobs: Vec::new(),
            read_at: 0,
        });
        let history = Arc::new(HistoryPart {
            configured: history_configured,
            window_hours: 24,
            jobs: BTreeMap::new(),
            error: None,
        });
        let snapshot = Arc::new(render(0, &registry, &history));
        Hub {
            parts: Mutex::new((registry, history, 0)),
            current: RwLock::new(snapshot),
            sender: broadcast::channel(CHANNEL_CAPACITY).0,
        }
    }

    /// The newest snapshot.
    pub fn current(&self) -> Arc<Snapshot> {
        self.current.read().expect("hub").clone()
    }

    /// Snapshots published from now on. Subscribe before reading
    /// [`Hub::current`], so that nothing falls between the two.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Snapshot>> {
        self.sender.subscribe()
    }

    /// Browsers subscribed now.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// The registry part last handed in.
    pub fn registry(&self) -> Arc<RegistryPart> {
        self.parts.lock().expect("hub").0.clone()
    }

    /// The history part last handed in.
    pub fn history(&self) -> Arc<HistoryPart> {
        self.parts.lock().expect("hub").1.clone()
    }

    /// Hands in the registry part; publishes if it changed.
    pub fn set_registry(&self, part: RegistryPart) -> bool {
        let mut parts = self.parts.lock().expect("hub");
        if parts.0.same_as(&part) {
            parts.0 = Arc::new(part);
            return false;
        }
        parts.0 = Arc::new(part);
        self.publish(&mut parts)
    }

    /// Moves each job's next fire time forward once it has passed, without
    /// reading the registry (a job whose fires leave no trace there, one
    /// without instances say, would otherwise show a fire in the past).
    pub fn advance_next_fires(&self, now_millis: i64) -> bool {
        let mut parts = self.parts.lock().expect("hub");
        let due = |j: &JobView| j.job.next_fire_time.is_some_and(|t| t <= now_millis);
        if !parts.0.jobs.iter().any(due) {
            return false;
        }
        let mut next = (*parts.0).clone();
        for job in next.jobs.iter_mut().filter(|j| due(j)) {
            job.job.next_fire_time =
                next_fire(&job.job.cron, job.job.time_zone.as_deref(), now_millis);
        }
        parts.0 = Arc::new(next);
        self.publish(&mut parts)
    }

    /// Hands in the history part; publishes if it changed.
    pub fn set_history(&self, part: HistoryPart) -> bool {
        let mut parts = self.parts.lock().expect("hub");
        if *parts.1 == part {
            return false;
        }
        parts.1 = Arc::new(part);
        self.publish(&mut parts)
    }

    fn publish(&self, parts: &mut (Arc<RegistryPart>, Arc<HistoryPart>, u64)) -> bool {
        parts.2 += 1;
        let snapshot = Arc::new(render(parts.2, &parts.0, &parts.1));
        *self.current.write().expect("hub") = snapshot.clone();
        // No subscriber is not an error: nobody is watching right now.
        let _ = self.sender.send(snapshot);
        true
    }
}

fn render(version: u64, registry: &Arc<RegistryPart>, history: &Arc<HistoryPart>) -> Snapshot {
    let json = serde_json::to_string(&Wire {
        version,
        registry,
        history,
    })
    .expect("views serialise");
    Snapshot {
        version,
        json: json.into(),
        registry: registry.clone(),
        history: history.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(state: &'static str, read_at: i64) -> RegistryPart {
        RegistryPart {
            state,
            session_id: "1".into(),
            reconnects: 0,
            error: None,
            jobs: Vec::new(),
            read_at,
        }
    }

    #[test]
    fn publishes_only_changes_and_subscribers_see_them() {
        let hub = Hub::new(false);
        let mut rx = hub.subscribe();
        assert!(hub.set_registry(registry("CONNECTED", 1)));
        assert!(
            !hub.set_registry(registry("CONNECTED", 2)),
            "a re-read that found the same is not sent"
        );
        assert_eq!(hub.registry().read_at, 2, "but remembered");
        assert!(hub.set_registry(registry("SUSPENDED", 3)));
        let first = rx.try_recv().unwrap();
        let second = rx.try_recv().unwrap();
        assert_eq!((first.version, second.version), (1, 2));
        assert!(second.json.contains("\"SUSPENDED\"") && second.json.starts_with("{\"version\":2"));
        assert!(rx.try_recv().is_err());
        assert_eq!(hub.current().version, 2);
    }

    #[test]
    fn next_fires_move_forward_once_passed() {
        let hub = Hub::new(false);
        let job = |next| JobView {
            job: JobJson {
                job_name: "j".into(),
                status: "CRASHED",
                instance_count: 0,
                sharding_total_count: 1,
                cron: "0/5 * * * * ?".into(),
                time_zone: None,
                next_fire_time: Some(next),
                description: String::new(),
                failover: false,
                misfire: true,
                disabled: false,
                pause: None,
            },
            instances: Vec::new(),
            items: Vec::new(),
            servers: Vec::new(),
        };
        let mut part = registry("CONNECTED", 1);
        part.jobs.push(job(1_700_000_005_000));
        hub.set_registry(part);
        assert!(!hub.advance_next_fires(1_700_000_004_000), "not passed yet");
        assert!(hub.advance_next_fires(1_700_000_005_000));
        assert_eq!(
            hub.registry().jobs[0].job.next_fire_time,
            Some(1_700_000_010_000)
        );
    }
}
