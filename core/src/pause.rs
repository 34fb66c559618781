//! Pausing a job with a note (our extension to ElasticJob; Temporal's
//! schedule pause, Kubernetes' `suspend`). `polyglot/paused` holds who
//! paused the job, why, when, and optionally until when. While a pause is
//! in force no instance of ours starts a cron fire, nor a buffered re-run
//! or catch-up of one, and the fires it skipped are never caught up: like
//! a disable, a pause is a decision, not a failure. Triggers still run (an
//! operator may run a paused job by hand), and so do the pending retries
//! of runs from before the pause.
//!
//! A pause with an end is over at `until`: the first instance of ours to
//! fire after it removes the note. `pauseAfterFailedFires` pauses the job
//! when one item's runs failed that many fires in a row
//! ([`crate::failure_streak`]).
//!
//! Java ElasticJob instances do not read the note: in a job shared with
//! them, disable the job instead.

use crate::error::{Error, Result};
use crate::paths::JobPaths;
use crate::registry::{CreateMode, Registry};
use crate::resolve::retry;

/// Who paused the job when pause-on-failure did.
pub const PAUSED_ON_FAILURE_BY: &str = "pause-on-failure";

/// Why, by whom and until when a job is paused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseNote {
    /// Who paused it (an operator's name, or [`PAUSED_ON_FAILURE_BY`]).
    pub by: String,
    /// Why.
    pub reason: String,
    /// When (epoch ms).
    pub at: i64,
    /// When it resumes by itself (epoch ms); `None`: when resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

impl PauseNote {
    /// A note written `at`; an `until` not after `at` is refused, naming it.
    pub fn new(by: &str, reason: &str, at: i64, until: Option<i64>) -> Result<PauseNote> {
        if by.trim().is_empty() {
            return Err(Error::invalid("by", by, "must name who pauses the job"));
        }
        if let Some(until) = until.filter(|&until| until <= at) {
            let shown = chrono::DateTime::from_timestamp_millis(until).map_or(until.to_string(), |t| t.to_rfc3339());
            return Err(Error::invalid("until", &shown, "must be in the future"));
        }
        Ok(PauseNote { by: by.trim().to_string(), reason: reason.trim().to_string(), at, until })
    }

    /// Whether the pause holds a fire at `time`.
    pub fn in_force(&self, time: i64) -> bool {
        self.until.map_or(true, |until| time < until)
    }

    /// The node's data.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a pause note serializes")
    }

    /// Reads a note; an unreadable one is an error naming the node's content.
    pub fn parse(data: &[u8]) -> Result<PauseNote> {
        serde_json::from_slice(data).map_err(|e| {
            Error::invalid("polyglot/paused", &String::from_utf8_lossy(data), format!("is not a pause note ({e})"))
        })
    }

    /// One line for logs and listings: `by X: reason (until …)`.
    pub fn describe(&self) -> String {
        let until = match self.until.and_then(chrono::DateTime::from_timestamp_millis) {
            Some(until) => format!(" until {}", until.to_rfc3339()),
            None => String::new(),
        };
        match self.reason.is_empty() {
            true => format!("by {}{until}", self.by),
            false => format!("by {}: {}{until}", self.by, self.reason),
        }
    }
}

/// Reads an `until` as an operator types it: an RFC 3339 instant
/// (`2027-01-01T09:00:00Z`), or a duration from `now` (epoch ms) in
/// seconds, minutes, hours or days (`90s`, `30m`, `2h`, `1d`).
pub fn parse_until(text: &str, now: i64) -> Result<i64> {
    let text = text.trim();
    if let Ok(instant) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(instant.timestamp_millis());
    }
    let unit = |suffix: char| -> Option<i64> {
        let number: i64 = text.strip_suffix(suffix)?.trim().parse().ok().filter(|&n| n > 0)?;
        let ms = match suffix {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            _ => 86_400_000,
        };
        number.checked_mul(ms)?.checked_add(now)
    };
    ['s', 'm', 'h', 'd'].into_iter().find_map(unit).ok_or_else(|| {
        Error::invalid("until", text, "must be an RFC 3339 instant (2027-01-01T09:00:00Z) or a duration such as 90s, 30m, 2h or 1d")
    })
}

/// The job's pause note and its node's version, if it is paused (a note
/// past its `until` included).
pub async fn read(session: &dyn Registry, paths: &JobPaths) -> Result<Option<(PauseNote, i32)>> {
    let path = paths.paused();
    match retry(|| session.get(&path)).await? {
        Some((data, stat)) => Ok(Some((PauseNote::parse(&data)?, stat.version))),
        None => Ok(None),
    }
}

/// Pauses the job (a pause already in force is replaced: the latest note wins).
pub async fn pause(session: &dyn Registry, paths: &JobPaths, note: &PauseNote) -> Result<()> {
    let path = paths.paused();
    let data = note.to_bytes();
    retry(|| session.put(&path, &data)).await
}

/// Resumes the job now: no fire it skipped is caught up, and every item's
/// failure streak starts again. Returns whether it was paused.
pub async fn resume(session: &dyn Registry, paths: &JobPaths) -> Result<bool> {
    let Some((_, version)) = read(session, paths).await? else { return Ok(false) };
    crate::enablement::note_enabled(session, paths).await?;
    crate::failure_streak::clear_all(session, paths).await?;
    delete_note(session, paths, version).await?;
    Ok(true)
}

/// Deletes the note at `version`; gone already, or paused again meanwhile
/// by someone else, theirs stands.
async fn delete_note(session: &dyn Registry, paths: &JobPaths, version: i32) -> Result<()> {
    let path = paths.paused();
    match retry(|| session.delete(&path, Some(version))).await {
        Ok(()) | Err(Error::NoNode(_)) | Err(Error::BadVersion(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes a note whose `until` has passed, after recording its end as
/// the job's last enable (so nothing it skipped is caught up). Another
/// instance doing the same, or a new pause meanwhile, wins.
pub async fn end_expired(session: &dyn Registry, paths: &JobPaths, note: &PauseNote, version: i32) -> Result<()> {
    let Some(until) = note.until else { return Ok(()) };
    crate::enablement::note_enabled_at(session, paths, until).await?;
    crate::failure_streak::clear_all(session, paths).await?;
    delete_note(session, paths, version).await
}

/// Pauses the job unless a pause is already in force (pause-on-failure
/// must not overwrite an operator's note). Returns whether it paused it.
pub async fn pause_unless_paused(session: &dyn Registry, paths: &JobPaths, note: &PauseNote) -> Result<bool> {
    let path = paths.paused();
    let data = note.to_bytes();
    match retry(|| session.create_with_parents(&path, &data, CreateMode::Persistent)).await {
        Ok(_) => Ok(true),
        Err(Error::NodeExists(_)) => match read(session, paths).await? {
            Some((old, version)) if !old.in_force(note.at) => {
                match session.set(&path, &data, Some(version)).await {
                    Ok(_) => Ok(true),
                    Err(Error::BadVersion(_)) | Err(Error::NoNode(_)) => Ok(false),
                    Err(e) => Err(e),
                }
            }
            _ => Ok(false),
        },
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_round_trip_and_bad_ones_name_the_field() {
        let note = PauseNote::new("ops", "migrating the orders table", 1_000, Some(5_000)).unwrap();
        assert_eq!(PauseNote::parse(&note.to_bytes()).unwrap(), note);
        assert!(note.in_force(4_999) && !note.in_force(5_000));
        assert!(PauseNote::new("ops", "", 1_000, None).unwrap().in_force(i64::MAX));
        assert!(note.describe().starts_with("by ops: migrating the orders table until 1970-01-01T00:00:05"));
        let late = PauseNote::new("ops", "x", 5_000, Some(5_000)).unwrap_err().to_string();
        assert!(late.contains("until") && late.contains("future"), "{late}");
        assert!(PauseNote::new(" ", "x", 0, None).unwrap_err().to_string().contains("by"));
        assert_eq!(parse_until("30m", 1_000).unwrap(), 1_801_000);
        assert_eq!(parse_until(" 2h ", 0).unwrap(), 7_200_000);
        assert_eq!(parse_until("1970-01-01T00:00:10Z", 0).unwrap(), 10_000);
        for bad in ["soon", "-5m", "0s", "5w", ""] {
            let error = parse_until(bad, 0).unwrap_err().to_string();
            assert!(error.contains("until") && error.contains(bad), "{error}");
        }
        let garbage = PauseNote::parse(b"paused!").unwrap_err().to_string();
        assert!(garbage.contains("paused!"), "{garbage}");
    }
}
