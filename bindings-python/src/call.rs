//! `Call`: a core operation running on the shared runtime, that Python
//! either waits for or is told about. `wait` blocks with the GIL released
//! and lets Ctrl-C (and any other signal handler) through every 50 ms, so a
//! connect to a silent server never holds an interpreter hostage; `then`
//! hands the outcome to a callback on a library thread, which is how the
//! asyncio API awaits without blocking its loop. Either way the operation
//! runs to its end: a caller that stops waiting only stops listening (the
//! Python layer decides what to undo, e.g. a start that was interrupted).

use crate::exit::attach;
use crate::runtime;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::future::Future;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How often a blocked `wait` takes the GIL back to run signal handlers.
pub(crate) const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// The outcome of an operation, turned into a Python value once the GIL is held.
pub(crate) type Answer = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// The answer of an operation that returns nothing.
pub(crate) fn unit(result: PyResult<()>) -> Answer {
    Box::new(move |py| result.map(|()| py.None()))
}

enum Slot {
    /// Still running; the callback to call when it ends, if one was given.
    Running(Option<Py<PyAny>>),
    /// Ended, nobody took the answer yet.
    Done(Answer),
    /// The answer went to a waiter or a callback.
    Taken,
}

struct Shared {
    slot: Mutex<Slot>,
    ended: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finish(&self, answer: Answer) {
        let mut slot = self.lock();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Running(Some(callback)) => {
                drop(slot);
                // Never take the GIL on a runtime worker (invariant 5).
                runtime().spawn_blocking(move || attach(|py| deliver(py, callback, answer)));
            }
            _ => {
                *slot = Slot::Done(answer);
                self.ended.notify_all();
            }
        }
    }
}

/// Calls `callback(value, None)` or `callback(None, exception)`.
fn deliver(py: Python<'_>, callback: Py<PyAny>, answer: Answer) {
    let (value, error) = match answer(py) {
        Ok(value) => (value, py.None()),
        Err(error) => (py.None(), error.into_value(py).into_any()),
    };
    if let Err(error) = callback.call1(py, (value, error)) {
        error.write_unraisable(py, None);
    }
}

/// A running core operation (`start`, `shutdown`, `trigger`, `next_event`, ...).
#[pyclass(frozen, module = "elasticjob._native")]
pub struct Call {
    shared: Arc<Shared>,
}

impl Call {
    /// Runs `operation` on the shared runtime. It runs as a task of its
    /// own, so that even a panic in it ends the call (as a `RuntimeError`)
    /// instead of leaving a waiter waiting forever.
    pub(crate) fn spawn(operation: impl Future<Output = Answer> + Send + 'static) -> Call {
        let shared = Arc::new(Shared { slot: Mutex::new(Slot::Running(None)), ended: Condvar::new() });
        let done = shared.clone();
        runtime().spawn(async move {
            let answer = match tokio::spawn(operation).await {
                Ok(answer) => answer,
                Err(failed) => unit(Err(PyRuntimeError::new_err(format!("elasticjob operation failed: {failed}")))),
            };
            done.finish(answer);
        });
        Call { shared }
    }

    /// Runs `operation` and waits for it (the blocking API's way).
    pub(crate) fn block(py: Python<'_>, operation: impl Future<Output = Answer> + Send + 'static) -> PyResult<Py<PyAny>> {
        Call::spawn(operation).wait(py)
    }
}

#[pymethods]
impl Call {
    /// Blocks until the operation ends and returns its value or raises its
    /// error. The GIL is released meanwhile; signal handlers run every 50 ms
    /// on the main thread, so Ctrl-C interrupts the wait (not the operation).
    fn wait(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        loop {
            let answer = py.detach(|| {
                let slot = self.shared.lock();
                let (mut slot, _) = self
                    .shared
                    .ended
                    .wait_timeout_while(slot, SIGNAL_CHECK_INTERVAL, |s| matches!(s, Slot::Running(_)))
                    .unwrap_or_else(|p| p.into_inner());
                match std::mem::replace(&mut *slot, Slot::Taken) {
                    Slot::Done(answer) => Some(Ok(answer)),
                    Slot::Taken => Some(Err(())),
                    running => {
                        *slot = running;
                        None
                    }
                }
            });
            match answer {
                Some(Ok(answer)) => return answer(py),
                Some(Err(())) => return Err(PyRuntimeError::new_err("this call's outcome was already taken")),
                None => py.check_signals()?,
            }
        }
    }

    /// Calls `callback(value, error)` once the operation ended (at once if it
    /// has), on a library thread: for asyncio, whose callback hands the
    /// outcome to its loop with `call_soon_threadsafe`.
    fn then(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        let mut slot = self.shared.lock();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Running(None) => {
                *slot = Slot::Running(Some(callback));
                Ok(())
            }
            Slot::Done(answer) => {
                drop(slot);
                deliver(py, callback, answer);
                Ok(())
            }
            other => {
                *slot = other;
                Err(PyRuntimeError::new_err("this call's outcome was already taken"))
            }
        }
    }
}
