//! The scheduler's side of pausing ([`crate::pause`]): each fire checks the
//! pause note, the first fire after a pause's end removes it, and ended
//! runs feed pause-on-failure's streaks ([`crate::failure_streak`]).
//!
//! The note is kept as last read, and read again when the watch reports a
//! change of it and whenever the session (re)starts, so a fire costs no
//! registry read: a pause holds from the first fire reserved after its
//! watch event came (milliseconds after it was written).

use super::{now_millis, Inner};
use crate::error::Result;
use crate::failure_streak::{self, Settled, PAUSE_AFTER_FAILED_FIRES_PROP};
use crate::pause::{self, PauseNote, PAUSED_ON_FAILURE_BY};
use crate::registry::Registry;
use crate::trace::StatusState;
use std::sync::atomic::Ordering;

impl Inner {
    /// Reads the pause note again (its node changed, or a session started).
    pub(super) async fn refresh_pause_note(&self, session: &dyn Registry) -> Result<()> {
        let note = pause::read(session, &self.paths).await?;
        *self.pause_note.lock().unwrap_or_else(|p| p.into_inner()) = Some(note);
        Ok(())
    }

    /// Forgets the note read under a session that ended.
    pub(super) fn forget_pause_note(&self) {
        *self.pause_note.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Whether a pause holds the fire at `fire_time`, on every instance
    /// from its next fire on. Nothing up to a held fire is ever caught up.
    pub(super) async fn paused_for(&self, session: &dyn Registry, fire_time: i64, whole_fire: bool) -> Result<bool> {
        let known = self.pause_note.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let found = match known {
            Some(found) => found,
            None => {
                self.refresh_pause_note(session).await?;
                self.pause_note.lock().unwrap_or_else(|p| p.into_inner()).clone().flatten()
            }
        };
        let Some((note, version)) = found else { return Ok(false) };
        if note.in_force(fire_time) {
            self.enabled_at.fetch_max(fire_time, Ordering::SeqCst);
            if whole_fire {
                tracing::info!(job = %self.job_name, fire_time, pause = %note.describe(), "fire skipped: the job is paused");
            }
            return Ok(true);
        }
        if let Some(until) = note.until {
            self.enabled_at.fetch_max(until, Ordering::SeqCst);
            pause::end_expired(session, &self.paths, &note, version).await?;
            self.refresh_pause_note(session).await?;
            tracing::info!(job = %self.job_name, pause = %note.describe(), "pause over: the job fires again");
        }
        Ok(false)
    }

    /// Pause-on-failure: applies the fires ended runs settled to their
    /// items' streaks, and pauses the job when one reaches `limit`.
    pub(super) async fn track_failure_streaks(&self, session: &dyn Registry, settled: &[(u32, i64, Settled)], limit: u32) {
        if settled.is_empty() {
            return;
        }
        let (item, streak) = match failure_streak::record(session, &self.paths, settled, limit).await {
            Ok(Some(reached)) => reached,
            Ok(None) => return,
            Err(e) => return self.fail("recording the items' failed fires failed", e),
        };
        let reason = format!(
            "item {item} failed {} fires in a row ({PAUSE_AFTER_FAILED_FIRES_PROP} is {limit}); the last, fire {}, with: {}",
            streak.count, streak.fire, streak.error
        );
        let note = PauseNote { by: PAUSED_ON_FAILURE_BY.to_string(), reason: reason.clone(), at: now_millis(), until: None };
        match pause::pause_unless_paused(session, &self.paths, &note).await {
            Ok(true) => {
                tracing::warn!(job = %self.job_name, item, %reason, "job paused: resume it once the cause is fixed");
                self.record_status(StatusState::Paused, &[item], &reason);
            }
            Ok(false) => {}
            Err(e) => self.fail("pausing the job after failed fires failed", e),
        }
    }
}
