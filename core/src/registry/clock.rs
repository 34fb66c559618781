//! This host's clock against the registry's (`maxTimeDiffSeconds`).
//!
//! The registry's time is read back as the modification time of a node
//! just written, which costs a write and a read. Clocks drift by far less
//! than a second in [`REUSE_FOR`], so one reading per session serves every
//! job of the process for that long: a process of 1,000 jobs firing every
//! second would otherwise spend two of its requests per fire on it.

use super::Registry;
use crate::error::Result;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long a reading stands for a session.
pub const REUSE_FOR: Duration = Duration::from_secs(10);

/// The latest reading of one process's sessions; shared by the jobs of a
/// [`super::RegistryCenter`].
#[derive(Debug, Default)]
pub struct ClockReadings {
    /// Held while reading, so jobs firing together read once.
    last: Mutex<Option<Reading>>,
}

#[derive(Debug, Clone, Copy)]
struct Reading {
    session: i64,
    at: Instant,
    /// Registry time minus this host's, ms.
    skew_ms: i64,
}

impl ClockReadings {
    /// The registry's time minus this host's, in ms: a reading of
    /// `session` younger than [`REUSE_FOR`], or a new one that writes
    /// `probe` (any node of the caller's job) and reads its modification time.
    pub async fn skew_ms(&self, session: &dyn Registry, probe: &str) -> Result<i64> {
        let mut last = self.last.lock().await;
        if let Some(reading) = last.filter(|r| r.session == session.session_id() && r.at.elapsed() < REUSE_FOR) {
            return Ok(reading.skew_ms);
        }
        let before = chrono::Utc::now().timestamp_millis();
        crate::resolve::retry(|| session.put(probe, b"")).await?;
        let registry_time = crate::resolve::retry(|| session.exists(probe)).await?.map_or(before, |stat| stat.mtime);
        let reading = Reading { session: session.session_id(), at: Instant::now(), skew_ms: registry_time - before };
        *last = Some(reading);
        Ok(reading.skew_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RegistryCenter;

    #[tokio::test]
    async fn one_reading_serves_a_session_until_it_is_old_and_a_new_session_reads_again() {
        let center = RegistryCenter::embedded("clock");
        let readings = ClockReadings::default();
        let session = center.session().await.unwrap();
        let skew = readings.skew_ms(&*session, "/a/systemTime/current").await.unwrap();
        assert!(skew.abs() < 1_000, "the embedded registry keeps this host's time: {skew}");
        let writes = center.request_counts().writes;
        readings.skew_ms(&*session, "/b/systemTime/current").await.unwrap();
        assert_eq!(center.request_counts().writes, writes, "a young reading is reused, whatever job asks");
        assert!(session.exists("/b/systemTime/current").await.unwrap().is_none());

        readings.last.lock().await.as_mut().unwrap().at -= REUSE_FOR;
        readings.skew_ms(&*session, "/a/systemTime/current").await.unwrap();
        assert_eq!(center.request_counts().writes, writes + 1, "an old reading is taken again");

        readings.last.lock().await.as_mut().unwrap().session += 1;
        readings.skew_ms(&*session, "/a/systemTime/current").await.unwrap();
        assert_eq!(center.request_counts().writes, writes + 2, "another session's reading is not this one's");
    }
}
