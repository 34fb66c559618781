//! Riding out connection loss (invariant 6).
//!
//! A registry call that fails with [`Error::ConnectionLoss`] may or may not
//! have been applied, and the session may well be alive: ZooKeeper clients
//! reconnect within the session timeout (every ZooKeeper leader change does
//! this to every client). So connection loss is never treated as session
//! loss. Reads are simply retried; a write is retried only where doing it
//! twice is harmless, and otherwise resolved by reading back what it would
//! have changed — each caller knows how to recognise its own write.

use crate::error::{Error, Result};
use std::future::Future;
use std::time::Duration;

/// How long to keep retrying through connection loss before giving up and
/// reporting it. Longer than any session timeout in use: the session
/// expires (and the call fails with [`Error::SessionExpired`]) first.
pub const RETRY_FOR: Duration = Duration::from_secs(120);

/// Calls `attempt` until it gives anything but [`Error::ConnectionLoss`],
/// backing off from 20 ms to 1 s between tries, for at most [`RETRY_FOR`].
/// Only for calls that may safely run twice (reads, or writes whose second
/// run is resolved by the caller).
pub async fn retry<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        match attempt().await {
            Err(Error::ConnectionLoss) if started.elapsed() < RETRY_FOR => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn retries_connection_loss_but_nothing_else() {
        let calls = AtomicUsize::new(0);
        let value = retry(|| async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(Error::ConnectionLoss)
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!((value, calls.load(Ordering::SeqCst)), (Ok(7), 3));
        let calls = AtomicUsize::new(0);
        let expired: Result<()> = retry(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::SessionExpired)
        })
        .await;
        assert_eq!((expired, calls.load(Ordering::SeqCst)), (Err(Error::SessionExpired), 1));
    }
}
