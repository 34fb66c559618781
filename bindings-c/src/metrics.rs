//! A scheduler's metrics through the C API: `ej_scheduler_metrics` fills a
//! plain struct (histogram buckets in fixed-size arrays, so nothing is
//! allocated or freed), and `ej_scheduler_metrics_port` tells where the
//! process's `/metrics` endpoint listens (`options.metrics_listen`).

use crate::scheduler::{ej_history_stats, ej_scheduler};
use crate::status::*;
use elasticjob::metrics::{HistogramSnapshot, SessionState, FIRE_LAG_BOUNDS, HANDLER_DURATION_BOUNDS};

/// How many bounds the fire lag histogram has.
pub const EJ_FIRE_LAG_BUCKETS: usize = 14;
/// How many bounds the handler duration histogram has.
pub const EJ_HANDLER_DURATION_BUCKETS: usize = 16;
const _: () = assert!(FIRE_LAG_BOUNDS.len() == EJ_FIRE_LAG_BUCKETS && HANDLER_DURATION_BOUNDS.len() == EJ_HANDLER_DURATION_BUCKETS);

/// The state of a scheduler's registry session.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ej_session_state {
    /// Not started, or shut down.
    #[default]
    EJ_SESSION_CLOSED = 0,
    /// Registered and connected.
    EJ_SESSION_CONNECTED = 1,
    /// Connection lost; the session may still be alive.
    EJ_SESSION_SUSPENDED = 2,
    /// The session expired; registering again.
    EJ_SESSION_LOST = 3,
}

/// What a scheduler did so far (see the README's "Metrics"). Histograms
/// are in seconds: `*_buckets[i]` observations were at most `*_bounds[i]`
/// (cumulative); `*_count` is all of them.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ej_metrics {
    /// Cron fires that started items here.
    pub fires_cron: u64,
    /// Triggers that started items here.
    pub fires_trigger: u64,
    /// Misfire re-runs that started items here.
    pub fires_misfire: u64,
    /// Finished runs whose handler returned normally.
    pub executions_succeeded: u64,
    /// Finished runs that failed (non-zero return, crash of the handler).
    pub executions_failed: u64,
    /// Finished runs that outlived the execution timeout.
    pub executions_timed_out: u64,
    /// Finished runs told to stop (session lost, item moved, shutdown).
    pub executions_cancelled: u64,
    /// Upper bounds of the fire lag buckets, seconds.
    pub fire_lag_bounds: [f64; EJ_FIRE_LAG_BUCKETS],
    /// Cumulative fire lag counts per bound.
    pub fire_lag_buckets: [u64; EJ_FIRE_LAG_BUCKETS],
    /// Runs whose fire lag was observed (scheduled fire time to handler start).
    pub fire_lag_count: u64,
    /// Sum of the fire lags, seconds.
    pub fire_lag_sum: f64,
    /// Upper bounds of the handler duration buckets, seconds.
    pub handler_duration_bounds: [f64; EJ_HANDLER_DURATION_BUCKETS],
    /// Cumulative handler duration counts per bound.
    pub handler_duration_buckets: [u64; EJ_HANDLER_DURATION_BUCKETS],
    /// Finished handler calls.
    pub handler_duration_count: u64,
    /// Sum of the handler durations, seconds.
    pub handler_duration_sum: f64,
    /// Item fires missed because the item was still running.
    pub misfires: u64,
    /// Items taken over from lost instances.
    pub failovers_taken: u64,
    /// New assignments written as leader.
    pub reshards: u64,
    /// Failures outside handlers.
    pub errors: u64,
    /// Items assigned here at the latest fire.
    pub items_owned: u64,
    /// Item runs in flight here.
    pub items_running: u64,
    /// The registry session's state.
    pub session_state: ej_session_state,
    /// The connection came back within its session.
    pub reconnects_connection: u64,
    /// Registered again with a new session after one was lost.
    pub reconnects_session: u64,
    /// Whether the scheduler keeps a history (then `history` is filled).
    pub has_history: bool,
    /// The history's counters, as `ej_scheduler_history_stats` gives them.
    pub history: ej_history_stats,
}

fn fill<const N: usize>(h: &HistogramSnapshot, bounds: &mut [f64; N], buckets: &mut [u64; N]) -> (u64, f64) {
    for (slot, bound) in bounds.iter_mut().zip(&h.bounds) {
        *slot = *bound;
    }
    for (slot, count) in buckets.iter_mut().zip(&h.buckets) {
        *slot = *count;
    }
    (h.count, h.sum)
}

/// Fills `out` with what the scheduler did so far (zeroed first).
///
/// # Safety
/// `scheduler` is null or live; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_metrics(scheduler: *const ej_scheduler, out: *mut ej_metrics) -> ej_status {
    guard(|| {
        let out = out.as_mut().ok_or_else(|| invalid("out", "must not be NULL"))?;
        *out = ej_metrics::default();
        let m = object(scheduler, "scheduler")?.inner.metrics();
        let mut filled = ej_metrics {
            fires_cron: m.fires.cron,
            fires_trigger: m.fires.trigger,
            fires_misfire: m.fires.misfire,
            executions_succeeded: m.executions.succeeded,
            executions_failed: m.executions.failed,
            executions_timed_out: m.executions.timed_out,
            executions_cancelled: m.executions.cancelled,
            misfires: m.misfires,
            failovers_taken: m.failovers_taken,
            reshards: m.reshards,
            errors: m.errors,
            items_owned: m.items_owned,
            items_running: m.items_running,
            session_state: match m.session_state {
                SessionState::Closed => ej_session_state::EJ_SESSION_CLOSED,
                SessionState::Connected => ej_session_state::EJ_SESSION_CONNECTED,
                SessionState::Suspended => ej_session_state::EJ_SESSION_SUSPENDED,
                SessionState::Lost => ej_session_state::EJ_SESSION_LOST,
            },
            reconnects_connection: m.reconnects.connection,
            reconnects_session: m.reconnects.session,
            has_history: m.history.is_some(),
            history: m.history.map(|h| ej_history_stats::from(&h)).unwrap_or_default(),
            ..ej_metrics::default()
        };
        (filled.fire_lag_count, filled.fire_lag_sum) =
            fill(&m.fire_lag, &mut filled.fire_lag_bounds, &mut filled.fire_lag_buckets);
        (filled.handler_duration_count, filled.handler_duration_sum) =
            fill(&m.handler_duration, &mut filled.handler_duration_bounds, &mut filled.handler_duration_buckets);
        *out = filled;
        Ok(())
    })
}

/// Writes the port of the process's metrics endpoint to `out` (0 first).
/// `EJ_ILLEGAL_STATE` when the scheduler did not ask for one
/// (`options.metrics_listen` was NULL).
///
/// # Safety
/// `scheduler` is null or live; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn ej_scheduler_metrics_port(scheduler: *const ej_scheduler, out: *mut u16) -> ej_status {
    guard(|| {
        let out = out.as_mut().ok_or_else(|| invalid("out", "must not be NULL"))?;
        *out = 0;
        let address = object(scheduler, "scheduler")?.inner.metrics_address().ok_or_else(|| {
            Failure(ej_status::EJ_ILLEGAL_STATE, "this scheduler serves no metrics (options.metrics_listen was NULL)".into())
        })?;
        *out = address.port();
        Ok(())
    })
}
