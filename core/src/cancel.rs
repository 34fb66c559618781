//! Telling a running handler to stop.
//!
//! A handler may outlive its right to run: the instance's registry session
//! expires (a survivor may already re-run the item), the item moves to
//! another instance, the execution timeout passes, or the scheduler shuts
//! down. The core cannot stop foreign code (a Python thread, a Node
//! promise, a C function), so it *tells* it: every run gets a
//! [`Cancellation`] that a handler can poll, await, block on, or hook a
//! callback to. Bindings map it to their language's own signal
//! (`threading.Event`-like flag and asyncio task cancellation in Python, an
//! `AbortSignal` in Node, `ej_context_is_cancelled` in C).

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Why a run was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelReason {
    /// The instance lost its registry session: another instance may run the
    /// item now, and this run's fencing token is stale.
    SessionLost,
    /// Resharding gave the item to another instance.
    ItemMoved,
    /// The run exceeded the job's execution timeout.
    TimedOut,
    /// The scheduler is shutting down and its shutdown timeout passed.
    Shutdown,
    /// A newer fire of the item came and the job's overlap policy is
    /// `CANCEL_OTHER`: the item runs for that fire once this run returned.
    Superseded,
}

impl CancelReason {
    /// A short stable name, used in logs, events and bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::SessionLost => "session-lost",
            CancelReason::ItemMoved => "item-moved",
            CancelReason::TimedOut => "timed-out",
            CancelReason::Shutdown => "shutdown",
            CancelReason::Superseded => "superseded",
        }
    }
}

impl std::fmt::Display for CancelReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

type Callback = Box<dyn FnOnce(CancelReason) + Send>;

#[derive(Default)]
struct State {
    reason: Option<CancelReason>,
    callbacks: Vec<Callback>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes threads blocked in [`Cancellation::wait_timeout`].
    blocked: Condvar,
    /// Wakes tasks awaiting [`Cancellation::cancelled`].
    notify: tokio::sync::Notify,
}

/// The stop signal of one run. Cloning gives another handle on the same signal.
#[derive(Clone, Default)]
pub struct Cancellation {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Cancellation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancellation").field("reason", &self.reason()).finish()
    }
}

/// Two handles are equal when they are the same signal.
impl PartialEq for Cancellation {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Eq for Cancellation {}

impl Cancellation {
    /// A fresh signal, not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the run was told to stop.
    pub fn is_cancelled(&self) -> bool {
        self.state().reason.is_some()
    }

    /// Why the run was told to stop, if it was.
    pub fn reason(&self) -> Option<CancelReason> {
        self.state().reason
    }

    /// Resolves once the run is told to stop (at once if it already was).
    pub async fn cancelled(&self) -> CancelReason {
        loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(reason) = self.reason() {
                return reason;
            }
            notified.await;
        }
    }

    /// Blocks the calling thread until the run is told to stop or `timeout`
    /// passes; returns whether it was told. For handlers on plain threads.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let state = self.state();
        let (state, _) = self
            .shared
            .blocked
            .wait_timeout_while(state, timeout, |s| s.reason.is_none())
            .unwrap_or_else(|p| p.into_inner());
        state.reason.is_some()
    }

    /// Calls `callback` once when the run is told to stop; at once (on this
    /// thread) if it already was. Bindings use it to raise their own signal.
    pub fn on_cancel(&self, callback: impl FnOnce(CancelReason) + Send + 'static) {
        let mut state = self.state();
        match state.reason {
            Some(reason) => {
                drop(state);
                callback(reason);
            }
            None => state.callbacks.push(Box::new(callback)),
        }
    }

    /// Tells the run to stop. The first reason wins; later calls do nothing.
    pub fn cancel(&self, reason: CancelReason) {
        let callbacks = {
            let mut state = self.state();
            if state.reason.is_some() {
                return;
            }
            state.reason = Some(reason);
            std::mem::take(&mut state.callbacks)
        };
        self.shared.blocked.notify_all();
        self.shared.notify.notify_waiters();
        for callback in callbacks {
            callback(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn every_kind_of_waiter_hears_the_first_reason_once() {
        let signal = Cancellation::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        signal.on_cancel(move |reason| {
            assert_eq!(reason, CancelReason::TimedOut);
            counted.fetch_add(1, Ordering::SeqCst);
        });
        let waiter = tokio::spawn({
            let signal = signal.clone();
            async move { signal.cancelled().await }
        });
        let blocked = std::thread::spawn({
            let signal = signal.clone();
            move || signal.wait_timeout(Duration::from_secs(10))
        });
        assert!(!signal.is_cancelled());
        tokio::time::sleep(Duration::from_millis(20)).await;
        signal.cancel(CancelReason::TimedOut);
        signal.cancel(CancelReason::SessionLost);
        assert_eq!(waiter.await.unwrap(), CancelReason::TimedOut);
        assert!(blocked.join().unwrap());
        assert_eq!(signal.reason(), Some(CancelReason::TimedOut));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let late = Arc::new(AtomicUsize::new(0));
        let counted = late.clone();
        signal.on_cancel(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(late.load(Ordering::SeqCst), 1, "a late hook runs at once");
    }

    #[test]
    fn waiting_times_out_when_nobody_cancels() {
        assert!(!Cancellation::new().wait_timeout(Duration::from_millis(10)));
    }
}
