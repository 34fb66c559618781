//! `CancelSignal`: a run's stop signal as Python sees it (`ctx.cancelled`),
//! shaped like `threading.Event`: `is_set()`, `wait(timeout)` and the
//! `reason`. The core raises it (timeout, session lost, item moved,
//! shutdown); Python code can only read and wait.

use crate::call::SIGNAL_CHECK_INTERVAL;
use crate::exit::attach;
use crate::runtime;
use crate::seconds::{seconds, MAX_WAIT_SECONDS};
use elasticjob::Cancellation;
use pyo3::prelude::*;
use std::time::Instant;

/// Set when the run should stop; like a `threading.Event` that only the scheduler sets.
#[pyclass(frozen, module = "elasticjob")]
pub struct CancelSignal {
    pub(crate) inner: Cancellation,
}

#[pymethods]
impl CancelSignal {
    /// Whether the run was told to stop.
    fn is_set(&self) -> bool {
        self.inner.is_cancelled()
    }

    /// Blocks until the run is told to stop or `timeout` seconds pass (None:
    /// no limit); returns `is_set()`. Releases the GIL while it waits, and
    /// on the main thread a Ctrl-C interrupts it (KeyboardInterrupt).
    /// `timeout` must be finite, from 0 to 86400 (a day).
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let deadline = match timeout {
            Some(t) => Some(Instant::now() + seconds("timeout", t, 0.0, MAX_WAIT_SECONDS)?),
            None => None,
        };
        loop {
            let slice = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()).min(SIGNAL_CHECK_INTERVAL),
                None => SIGNAL_CHECK_INTERVAL,
            };
            if py.detach(|| self.inner.wait_timeout(slice)) {
                return Ok(true);
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(self.inner.is_cancelled());
            }
        }
    }

    /// Why the run was told to stop (`"timed-out"`, `"session-lost"`,
    /// `"item-moved"`, `"shutdown"`, `"superseded"`), or None while it was not.
    #[getter]
    fn reason(&self) -> Option<&'static str> {
        self.inner.reason().map(|r| r.as_str())
    }

    /// Calls `callback(reason)` once when the run is told to stop (at once if
    /// it already was), on a library thread with the GIL taken there, never
    /// on the scheduler's own threads. For the binding's asyncio support.
    fn _on_cancel(&self, callback: Py<PyAny>) {
        self.inner.on_cancel(move |reason| {
            runtime().spawn_blocking(move || {
                attach(|py| {
                    if let Err(error) = callback.call1(py, (reason.as_str(),)) {
                        error.write_unraisable(py, None);
                    }
                })
            });
        });
    }

    fn __repr__(&self) -> String {
        match self.inner.reason() {
            Some(reason) => format!("<CancelSignal set: {reason}>"),
            None => "<CancelSignal unset>".to_string(),
        }
    }
}
