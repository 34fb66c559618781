//! Library threads and interpreter exit. Native threads (log forwarding,
//! asyncio callbacks, handler calls) take the GIL on their own; one that
//! still holds it, or takes it, while the interpreter finalizes crashes the
//! process (`PyGILState_Release ... finalizing`). So every such call goes
//! through `attach`, and the package's last `atexit` hook calls `_exiting`,
//! which refuses new calls and lets the ones under way finish first.

use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static EXITING: AtomicBool = AtomicBool::new(false);

/// Library threads inside `attach` right now.
static INSIDE: AtomicUsize = AtomicUsize::new(0);

/// The longest `_exiting` lets calls under way finish (a handler that
/// ignores its shutdown is not waited for past this).
const DRAIN: Duration = Duration::from_secs(2);

/// Runs `f` with the GIL on a library thread; None once the interpreter exits.
pub(crate) fn attach<R>(f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    INSIDE.fetch_add(1, Ordering::SeqCst);
    let result = (!EXITING.load(Ordering::SeqCst)).then(|| Python::attach(f));
    INSIDE.fetch_sub(1, Ordering::SeqCst);
    result
}

/// Called from `atexit` once every scheduler shut down: no library thread
/// calls into Python from now on, and those inside have left when it returns.
#[pyfunction]
pub(crate) fn _exiting(py: Python<'_>) {
    EXITING.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + DRAIN;
    py.detach(|| {
        while INSIDE.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
}
