//! Notices when the whole process stood still (SIGSTOP, a VM pause, heavy
//! swapping) for longer than a registry session may: the session is then
//! gone on the server, whatever the client believes, and the runs started
//! under it must stop at once.
//!
//! The clock ticks on the registry runtime ([`crate::runtime::registry_io`]),
//! which runs no user code. A handler that blocks the scheduler's own
//! threads therefore does not look like a freeze: the session's keep-alive
//! ran all along on that runtime (invariant 5), so the session is alive.

use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// How often the clock looks at the time.
const TICK: Duration = Duration::from_millis(250);

/// A stretch of time in which the process did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freeze {
    /// How long the process stood still, roughly (to one tick).
    pub length: Duration,
}

/// Every freeze the process thaws from from now on. A receiver that lags
/// has missed some and should assume the worst.
pub fn freezes() -> broadcast::Receiver<Freeze> {
    static CLOCK: OnceLock<broadcast::Sender<Freeze>> = OnceLock::new();
    CLOCK
        .get_or_init(|| {
            let (sender, _) = broadcast::channel(64);
            crate::runtime::registry_io().spawn(tick(sender.clone()));
            sender
        })
        .subscribe()
}

async fn tick(clock: broadcast::Sender<Freeze>) {
    let mut last = Instant::now();
    loop {
        tokio::time::sleep(TICK).await;
        let now = Instant::now();
        if let Some(freeze) = freeze_between(last, now) {
            // No receiver is fine: no session is being served.
            let _ = clock.send(freeze);
        }
        last = now;
    }
}

/// The freeze between two ticks meant to be [`TICK`] apart, if the gap was
/// much longer than that.
fn freeze_between(last: Instant, now: Instant) -> Option<Freeze> {
    let gap = now.saturating_duration_since(last);
    (gap > 2 * TICK).then(|| Freeze { length: gap - TICK })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_tick_is_a_freeze_of_the_extra_time_and_a_punctual_one_is_not() {
        let start = Instant::now();
        assert_eq!(freeze_between(start, start + TICK + Duration::from_millis(20)), None);
        assert_eq!(freeze_between(start, start + Duration::from_secs(3)), Some(Freeze { length: Duration::from_secs(3) - TICK }));
    }
}
