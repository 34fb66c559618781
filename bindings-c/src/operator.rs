//! `ej_operator`: the lifecycle API for jobs running anywhere in the namespace.

use crate::registry::ej_registry;
use crate::runtime;
use crate::status::*;
use elasticjob::JobOperator;
use std::ffi::{c_char, c_int};

/// Operates the jobs of one namespace (opaque).
pub struct ej_operator {
    inner: JobOperator,
}

/// An operator on the registry's namespace.
///
/// # Safety
/// `registry` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ej_operator_new(registry: *const ej_registry, out: *mut *mut ej_operator) -> ej_status {
    guard(|| {
        let inner = JobOperator::new(object(registry, "registry")?.center.clone());
        put(out, ej_operator { inner }, "out")
    })
}

/// Which lifecycle operation [`ej_operator_apply`] performs.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ej_operation {
    /// Run every live instance's items now.
    EJ_TRIGGER = 0,
    /// Disable the job on `server_ip`, or everywhere when NULL.
    EJ_DISABLE = 1,
    /// Enable the job on `server_ip`, or everywhere when NULL.
    EJ_ENABLE = 2,
    /// Shut down the job's instances on `server_ip`, or all when NULL.
    EJ_SHUTDOWN = 3,
    /// Remove `server_ip` from the job, or the whole job when NULL.
    EJ_REMOVE = 4,
}

impl ej_operation {
    /// C passes enums as plain integers; any value may arrive, so it is
    /// checked, never transmuted.
    fn from_c(value: c_int) -> Result<Self, Failure> {
        Ok(match value {
            0 => ej_operation::EJ_TRIGGER,
            1 => ej_operation::EJ_DISABLE,
            2 => ej_operation::EJ_ENABLE,
            3 => ej_operation::EJ_SHUTDOWN,
            4 => ej_operation::EJ_REMOVE,
            other => {
                return Err(invalid(
                    &format!("operation `{other}`"),
                    "must be an ej_operation: EJ_TRIGGER (0), EJ_DISABLE (1), EJ_ENABLE (2), EJ_SHUTDOWN (3) or EJ_REMOVE (4)",
                ))
            }
        })
    }
}

/// Applies a lifecycle operation to a job. `operation` is an
/// `ej_operation` value; any other value is `EJ_INVALID_ARGUMENT`.
///
/// # Safety
/// `op` is live; `job_name` is NUL-terminated; `server_ip` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ej_operator_apply(
    op: *const ej_operator,
    operation: c_int,
    job_name: *const c_char,
    server_ip: *const c_char,
) -> ej_status {
    guard(|| {
        let operation = ej_operation::from_c(operation)?;
        let op = &object(op, "operator")?.inner;
        let job = text(job_name, "job_name")?;
        let ip = optional_text(server_ip, "server_ip")?;
        runtime().block_on(async {
            match operation {
                ej_operation::EJ_TRIGGER => op.trigger(job).await,
                ej_operation::EJ_DISABLE => op.disable(job, ip).await,
                ej_operation::EJ_ENABLE => op.enable(job, ip).await,
                ej_operation::EJ_SHUTDOWN => op.shutdown(job, ip).await,
                ej_operation::EJ_REMOVE => op.remove(job, ip).await,
            }
        })?;
        Ok(())
    })
}

/// `EJ_TRIGGER` with an override of the job's overlap policy for items
/// still running: `overlap` is "SKIP" (left out), "CANCEL_OTHER" (their
/// runs told to stop, then run once they returned), "BUFFER_ONE" or
/// "BUFFER_ALL" (run once more when they end, as without an override), or
/// NULL for no override.
///
/// # Safety
/// `op` is live; `job_name` is NUL-terminated; `overlap` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ej_operator_trigger_with(op: *const ej_operator, job_name: *const c_char, overlap: *const c_char) -> ej_status {
    guard(|| {
        let op = &object(op, "operator")?.inner;
        let job = text(job_name, "job_name")?;
        let overlap = optional_text(overlap, "overlap")?.map(elasticjob::OverlapPolicy::parse).transpose()?;
        runtime().block_on(op.trigger_with(job, overlap))?;
        Ok(())
    })
}

/// Pauses the job on every instance of ours from its next fire, with a
/// note: `by` who pauses it, `reason` why (NULL: none), `until_ms` when it
/// resumes by itself (epoch milliseconds; 0: when resumed). Fires a pause
/// holds are never caught up; triggers still run.
///
/// # Safety
/// `op` is live; `job_name` and `by` are NUL-terminated; `reason` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ej_operator_pause(
    op: *const ej_operator,
    job_name: *const c_char,
    by: *const c_char,
    reason: *const c_char,
    until_ms: i64,
) -> ej_status {
    guard(|| {
        let op = &object(op, "operator")?.inner;
        let job = text(job_name, "job_name")?;
        let by = text(by, "by")?;
        let reason = optional_text(reason, "reason")?.unwrap_or_default();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let until = (until_ms != 0).then_some(until_ms);
        let note = elasticjob::PauseNote::new(by, reason, now, until)?;
        runtime().block_on(op.pause(job, &note))?;
        Ok(())
    })
}

/// Runs the job for every fire of its cron in `[from_ms, to_ms)` (epoch
/// milliseconds; `to_ms` not in the future) on every item, oldest first per
/// item, each (item, fire) once, beside the schedule; `by` says who asks.
/// An item still running when a fire's turn comes is waited for (`overlap`
/// NULL or "BUFFER_ALL"), or left out of that fire ("SKIP"). `id` receives
/// the backfill's id (free it with `ej_string_free`).
///
/// # Safety
/// `op` is live; `job_name` and `by` are NUL-terminated; `overlap` is NULL or NUL-terminated; `id` is writable.
#[no_mangle]
pub unsafe extern "C" fn ej_operator_backfill(
    op: *const ej_operator,
    job_name: *const c_char,
    from_ms: i64,
    to_ms: i64,
    by: *const c_char,
    overlap: *const c_char,
    id: *mut *mut c_char,
) -> ej_status {
    guard(|| {
        let op = &object(op, "operator")?.inner;
        let job = text(job_name, "job_name")?;
        let by = text(by, "by")?;
        let overlap = optional_text(overlap, "overlap")?.map(elasticjob::OverlapPolicy::parse).transpose()?;
        if id.is_null() {
            return Err(invalid("id", "must not be NULL"));
        }
        let made = runtime().block_on(op.backfill(job, from_ms, to_ms, by, overlap))?;
        *id = std::ffi::CString::new(made).map_err(|_| invalid("id", "contains a NUL byte"))?.into_raw();
        Ok(())
    })
}

/// How far a backfill went: `started` of `total` (item, fire) runs
/// (either pointer may be NULL). An unknown id is `EJ_INVALID_ARGUMENT`.
///
/// # Safety
/// `op` is live; `job_name` and `id` are NUL-terminated; `started` and `total` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ej_operator_backfill_progress(
    op: *const ej_operator,
    job_name: *const c_char,
    id: *const c_char,
    started: *mut usize,
    total: *mut usize,
) -> ej_status {
    guard(|| {
        let op = &object(op, "operator")?.inner;
        let job = text(job_name, "job_name")?;
        let id = text(id, "id")?;
        let backfills = runtime().block_on(op.backfills(job))?;
        let found = backfills.iter().find(|b| b.id == id).ok_or_else(|| elasticjob::Error::invalid("id", id, "is not a backfill of this job"))?;
        let (done, all) = found.started();
        if !started.is_null() {
            *started = done;
        }
        if !total.is_null() {
            *total = all;
        }
        Ok(())
    })
}

/// Forgets a backfill: its runs in flight finish, no more start.
///
/// # Safety
/// `op` is live; `job_name` and `id` are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ej_operator_cancel_backfill(op: *const ej_operator, job_name: *const c_char, id: *const c_char) -> ej_status {
    guard(|| {
        let op = &object(op, "operator")?.inner;
        let job = text(job_name, "job_name")?;
        let id = text(id, "id")?;
        runtime().block_on(op.cancel_backfill(job, id))?;
        Ok(())
    })
}

/// Resumes a paused job from its next fire; `was_paused` (NULL: not
/// wanted) tells whether it was paused.
///
/// # Safety
/// `op` is live; `job_name` is NUL-terminated; `was_paused` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ej_operator_resume(op: *const ej_operator, job_name: *const c_char, was_paused: *mut bool) -> ej_status {
    guard(|| {
        let op = &object(op, "operator")?.inner;
        let job = text(job_name, "job_name")?;
        let was = runtime().block_on(op.resume(job))?;
        if !was_paused.is_null() {
            *was_paused = was;
        }
        Ok(())
    })
}

/// Disables (`disabled` true) or enables one item of a job.
///
/// # Safety
/// `op` is live; `job_name` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ej_operator_set_item_disabled(
    op: *const ej_operator,
    job_name: *const c_char,
    item: u32,
    disabled: bool,
) -> ej_status {
    guard(|| {
        let op = &object(op, "operator")?.inner;
        let job = text(job_name, "job_name")?;
        runtime().block_on(async {
            if disabled {
                op.disable_item(job, item).await
            } else {
                op.enable_item(job, item).await
            }
        })?;
        Ok(())
    })
}

/// Frees an operator (NULL is fine).
///
/// # Safety
/// `op` is null or from `ej_operator_new` and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ej_operator_free(op: *mut ej_operator) {
    if !op.is_null() {
        drop(Box::from_raw(op));
    }
}
