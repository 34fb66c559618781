//! The figures of one scheduler: counters and histograms the scheduler's
//! parts bump where they decide things (the fire path, the runner, the
//! take-over, resharding, the session), and the typed snapshot every
//! binding hands out. Everything here is a relaxed atomic: a fire pays a
//! few uncontended adds, never a lock.

use super::histogram::{Histogram, HistogramSnapshot, FIRE_LAG_BOUNDS, HANDLER_DURATION_BOUNDS};
use crate::event::Outcome;
use crate::trace::HistoryStats;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

/// What made a fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireKind {
    /// The cron schedule.
    Cron,
    /// An operator's or the API's trigger.
    Trigger,
    /// The re-run of items that were busy at a cron fire.
    Misfire,
}

/// The state of a scheduler's registry session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum SessionState {
    /// Not started yet, or shut down: no session.
    #[default]
    Closed = 0,
    /// Registered, and the connection is up.
    Connected = 1,
    /// The connection is lost; the session may still be alive on the server.
    Suspended = 2,
    /// The session expired (or the process stood still past its timeout):
    /// runs under it were told to stop and the instance is registering again.
    Lost = 3,
}

impl SessionState {
    /// Every state, in the order the exporter lists them.
    pub const ALL: [SessionState; 4] =
        [SessionState::Connected, SessionState::Suspended, SessionState::Lost, SessionState::Closed];

    /// The `state` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Closed => "closed",
            SessionState::Connected => "connected",
            SessionState::Suspended => "suspended",
            SessionState::Lost => "lost",
        }
    }

    fn from_u8(n: u8) -> Self {
        match n {
            1 => SessionState::Connected,
            2 => SessionState::Suspended,
            3 => SessionState::Lost,
            _ => SessionState::Closed,
        }
    }
}

/// Fires that started at least one item on this instance, by what fired them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FireCounts {
    /// Cron fires (missed fires caught up with one are part of it).
    pub cron: u64,
    /// Triggers.
    pub trigger: u64,
    /// Misfire re-runs.
    pub misfire: u64,
}

/// Finished item runs by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExecutionCounts {
    /// The handler returned normally.
    pub succeeded: u64,
    /// It returned an error or panicked.
    pub failed: u64,
    /// It outlived the execution timeout.
    pub timed_out: u64,
    /// It was told to stop (session lost, item moved, shutdown) and returned.
    pub cancelled: u64,
}

impl ExecutionCounts {
    /// All finished runs.
    pub fn total(&self) -> u64 {
        self.succeeded + self.failed + self.timed_out + self.cancelled
    }
}

/// Times the registry came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReconnectCounts {
    /// The connection came back within the session timeout (same session).
    pub connection: u64,
    /// The session had expired and the instance registered with a new one.
    pub session: u64,
}

/// One scheduler's figures at one moment (see [`crate::JobScheduler::metrics`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// The job.
    pub job_name: String,
    /// Fires that started items here.
    pub fires: FireCounts,
    /// Finished item runs by outcome.
    pub executions: ExecutionCounts,
    /// From a run's scheduled fire time to its handler's start, for every
    /// run whose fire time is known (all but take-overs of a Java
    /// instance's items).
    pub fire_lag: HistogramSnapshot,
    /// How long handlers ran, for every finished run.
    pub handler_duration: HistogramSnapshot,
    /// Item fires missed because the item was still running (each is run
    /// once more later, the latest one per item).
    pub misfires: u64,
    /// Items taken over from lost instances (failover).
    pub failovers_taken: u64,
    /// New assignments this instance wrote as leader.
    pub reshards: u64,
    /// Failures outside handlers (registry trouble, clock skew, ...).
    pub errors: u64,
    /// Items assigned to this instance at its latest fire.
    pub items_owned: u64,
    /// Item runs in flight here now (take-overs included).
    pub items_running: u64,
    /// The registry session's state.
    pub session_state: SessionState,
    /// Times the registry came back.
    pub reconnects: ReconnectCounts,
    /// The execution history's counters, if one is kept.
    pub history: Option<HistoryStats>,
}

/// The live counters of one scheduler.
#[derive(Debug)]
pub(crate) struct JobMetrics {
    fires: [AtomicU64; 3],
    executions: [AtomicU64; 4],
    fire_lag: Histogram,
    handler_duration: Histogram,
    misfires: AtomicU64,
    failovers_taken: AtomicU64,
    reshards: AtomicU64,
    errors: AtomicU64,
    items_owned: AtomicU64,
    session_state: AtomicU8,
    reconnects: [AtomicU64; 2],
}

impl Default for JobMetrics {
    fn default() -> Self {
        JobMetrics {
            fires: Default::default(),
            executions: Default::default(),
            fire_lag: Histogram::new(FIRE_LAG_BOUNDS),
            handler_duration: Histogram::new(HANDLER_DURATION_BOUNDS),
            misfires: AtomicU64::new(0),
            failovers_taken: AtomicU64::new(0),
            reshards: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            items_owned: AtomicU64::new(0),
            session_state: AtomicU8::new(SessionState::Closed as u8),
            reconnects: Default::default(),
        }
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl JobMetrics {
    pub(crate) fn fired(&self, kind: FireKind) {
        add(&self.fires[kind as usize], 1);
    }

    /// A handler starts `lag` after its fire's scheduled time.
    pub(crate) fn handler_started(&self, lag: Duration) {
        self.fire_lag.observe(lag);
    }

    /// A handler returned after `took`, with `outcome`.
    pub(crate) fn handler_finished(&self, outcome: &Outcome, took: Duration) {
        self.handler_duration.observe(took);
        let index = match outcome {
            Outcome::Succeeded => 0,
            Outcome::Failed(_) => 1,
            Outcome::TimedOut => 2,
            Outcome::Cancelled(_) => 3,
        };
        add(&self.executions[index], 1);
    }

    /// A reserved run told to stop before its fire instant: a cancelled
    /// execution whose handler never started (no duration, no lag).
    pub(crate) fn cancelled_before_start(&self) {
        add(&self.executions[3], 1);
    }

    pub(crate) fn misfired(&self, items: usize) {
        add(&self.misfires, items as u64);
    }

    pub(crate) fn taken_over(&self, items: usize) {
        add(&self.failovers_taken, items as u64);
    }

    pub(crate) fn resharded(&self) {
        add(&self.reshards, 1);
    }

    pub(crate) fn failed(&self) {
        add(&self.errors, 1);
    }

    pub(crate) fn set_items_owned(&self, items: usize) {
        self.items_owned.store(items as u64, Ordering::Relaxed);
    }

    pub(crate) fn set_session(&self, state: SessionState) {
        self.session_state.store(state as u8, Ordering::Relaxed);
    }

    /// The session state now.
    pub(crate) fn session(&self) -> SessionState {
        SessionState::from_u8(self.session_state.load(Ordering::Relaxed))
    }

    /// The connection came back within the session.
    pub(crate) fn reconnected(&self) {
        add(&self.reconnects[0], 1);
    }

    /// Registered again with a new session after the old one was lost.
    pub(crate) fn registered_again(&self) {
        add(&self.reconnects[1], 1);
    }

    /// The figures now; `items_running` and `history` are the scheduler's to give.
    pub(crate) fn snapshot(&self, job_name: &str, items_running: usize, history: Option<HistoryStats>) -> MetricsSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MetricsSnapshot {
            job_name: job_name.to_string(),
            fires: FireCounts { cron: read(&self.fires[0]), trigger: read(&self.fires[1]), misfire: read(&self.fires[2]) },
            executions: ExecutionCounts {
                succeeded: read(&self.executions[0]),
                failed: read(&self.executions[1]),
                timed_out: read(&self.executions[2]),
                cancelled: read(&self.executions[3]),
            },
            fire_lag: self.fire_lag.snapshot(),
            handler_duration: self.handler_duration.snapshot(),
            misfires: read(&self.misfires),
            failovers_taken: read(&self.failovers_taken),
            reshards: read(&self.reshards),
            errors: read(&self.errors),
            items_owned: read(&self.items_owned),
            items_running: items_running as u64,
            session_state: self.session(),
            reconnects: ReconnectCounts { connection: read(&self.reconnects[0]), session: read(&self.reconnects[1]) },
            history,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::CancelReason;

    #[test]
    fn outcomes_and_fires_are_counted_apart() {
        let metrics = JobMetrics::default();
        metrics.fired(FireKind::Cron);
        metrics.fired(FireKind::Cron);
        metrics.fired(FireKind::Misfire);
        metrics.handler_finished(&Outcome::Succeeded, Duration::from_millis(5));
        metrics.handler_finished(&Outcome::Failed("no".into()), Duration::from_millis(5));
        metrics.handler_finished(&Outcome::Cancelled(CancelReason::Shutdown), Duration::from_millis(5));
        metrics.set_session(SessionState::Suspended);
        let snapshot = metrics.snapshot("j", 2, None);
        assert_eq!(snapshot.fires, FireCounts { cron: 2, trigger: 0, misfire: 1 });
        assert_eq!(snapshot.executions, ExecutionCounts { succeeded: 1, failed: 1, timed_out: 0, cancelled: 1 });
        assert_eq!(snapshot.handler_duration.count, snapshot.executions.total());
        assert_eq!((snapshot.items_running, snapshot.session_state), (2, SessionState::Suspended));
    }
}
