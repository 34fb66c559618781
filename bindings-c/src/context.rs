//! Functions on the `ej_sharding_context` a callback receives: whether its
//! run was told to stop (and why), waiting for that, and the run's fencing
//! token. A C handler cannot be stopped from outside, so a long one polls
//! `ej_sharding_context_is_cancelled` or blocks in
//! `ej_sharding_context_wait_cancelled` and returns early.

use crate::status::*;
use elasticjob::{CancelReason, Cancellation};
use std::ffi::{c_char, c_int, CStr};
use std::time::Duration;

/// The stop signal of one run (opaque); reach it through the
/// `ej_sharding_context_*` functions.
pub struct ej_cancellation {
    pub(crate) inner: Cancellation,
}

/// The context's signal, or the failure to report.
///
/// # Safety
/// `ctx` is null or a context the library passed to a running callback.
unsafe fn signal<'a>(ctx: *const crate::ej_sharding_context) -> Result<&'a Cancellation, Failure> {
    let ctx = object(ctx, "ctx")?;
    let signal = object(ctx.cancellation, "ctx->cancellation")?;
    Ok(&signal.inner)
}

fn reason_text(reason: CancelReason) -> &'static CStr {
    match reason {
        CancelReason::SessionLost => c"session-lost",
        CancelReason::ItemMoved => c"item-moved",
        CancelReason::TimedOut => c"timed-out",
        CancelReason::Shutdown => c"shutdown",
        CancelReason::Superseded => c"superseded",
        _ => c"cancelled",
    }
}

/// Whether the run was told to stop (execution timeout passed, registry
/// session lost, item moved to another instance, shutdown timed out):
/// 1 if it was, 0 if not, -1 if `ctx` is NULL (see `ej_last_error()`).
/// A handler that sees 1 should return soon; the item stays marked running
/// until it does. Callable from any thread while the callback runs.
///
/// # Safety
/// `ctx` is null or the context of a callback that has not returned yet.
#[no_mangle]
pub unsafe extern "C" fn ej_sharding_context_is_cancelled(ctx: *const crate::ej_sharding_context) -> c_int {
    guard_value(-1, || Ok(c_int::from(signal(ctx)?.is_cancelled())))
}

/// Blocks the calling thread until the run is told to stop or `timeout_ms`
/// milliseconds pass: 1 if it was told, 0 on timeout, -1 if `ctx` is NULL.
/// Use it instead of sleeping in a handler.
///
/// # Safety
/// `ctx` is null or the context of a callback that has not returned yet.
#[no_mangle]
pub unsafe extern "C" fn ej_sharding_context_wait_cancelled(ctx: *const crate::ej_sharding_context, timeout_ms: u32) -> c_int {
    guard_value(-1, || {
        let signal = signal(ctx)?;
        Ok(c_int::from(signal.wait_timeout(Duration::from_millis(u64::from(timeout_ms)))))
    })
}

/// Why the run was told to stop: "timed-out", "session-lost",
/// "item-moved", "shutdown" or "superseded" (a newer fire, overlap policy
/// CANCEL_OTHER); NULL while it was not (or if `ctx` is NULL).
/// A static string: do not free it.
///
/// # Safety
/// `ctx` is null or the context of a callback that has not returned yet.
#[no_mangle]
pub unsafe extern "C" fn ej_sharding_context_cancel_reason(ctx: *const crate::ej_sharding_context) -> *const c_char {
    guard_value(std::ptr::null(), || Ok(signal(ctx)?.reason().map_or(std::ptr::null(), |r| reason_text(r).as_ptr())))
}

/// The run's fencing token (also `ctx->fencing_token`): it grows with every
/// start of the item anywhere in the cluster, so a store that remembers the
/// highest token it accepted can refuse a stale writer. 0 if `ctx` is NULL.
///
/// # Safety
/// `ctx` is null or the context of a callback that has not returned yet.
#[no_mangle]
pub unsafe extern "C" fn ej_sharding_context_fencing_token(ctx: *const crate::ej_sharding_context) -> i64 {
    guard_value(0, || Ok(object(ctx, "ctx")?.fencing_token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ej_sharding_context;
    use std::ffi::CStr;

    fn context(signal: &ej_cancellation) -> ej_sharding_context {
        ej_sharding_context {
            job_name: c"j".as_ptr(),
            task_id: c"t".as_ptr(),
            sharding_total_count: 1,
            job_parameter: c"".as_ptr(),
            sharding_item: 0,
            sharding_parameter: c"".as_ptr(),
            fire_time: 0,
            fire_time_known: true,
            failover: false,
            fencing_token: 42,
            cancellation: signal,
            attempt: 1,
        }
    }

    #[test]
    fn a_blocked_handler_wakes_with_the_reason_when_its_run_is_cancelled() {
        let signal = ej_cancellation { inner: Cancellation::new() };
        let ctx = context(&signal);
        unsafe {
            assert_eq!(ej_sharding_context_is_cancelled(&ctx), 0);
            assert!(ej_sharding_context_cancel_reason(&ctx).is_null());
            assert_eq!(ej_sharding_context_wait_cancelled(&ctx, 10), 0);
            assert_eq!(ej_sharding_context_fencing_token(&ctx), 42);
        }
        let canceller = signal.inner.clone();
        let started = std::time::Instant::now();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            canceller.cancel(CancelReason::TimedOut);
        });
        unsafe {
            assert_eq!(ej_sharding_context_wait_cancelled(&ctx, 10_000), 1);
            assert!(started.elapsed() < Duration::from_secs(5));
            assert_eq!(ej_sharding_context_is_cancelled(&ctx), 1);
            assert_eq!(CStr::from_ptr(ej_sharding_context_cancel_reason(&ctx)).to_str().unwrap(), "timed-out");
        }
        thread.join().unwrap();
    }

    #[test]
    fn a_context_without_a_signal_is_an_error_not_a_crash() {
        let signal = ej_cancellation { inner: Cancellation::new() };
        let mut ctx = context(&signal);
        ctx.cancellation = std::ptr::null();
        unsafe {
            assert_eq!(ej_sharding_context_is_cancelled(&ctx), -1);
            let message = CStr::from_ptr(crate::ej_last_error()).to_str().unwrap();
            assert!(message.contains("ctx->cancellation"), "{message}");
            assert_eq!(ej_sharding_context_wait_cancelled(std::ptr::null(), 1), -1);
        }
    }
}
