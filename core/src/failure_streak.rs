//! Pause-on-failure (our extension to ElasticJob; Temporal's
//! `pauseOnFailure`): the prop `pauseAfterFailedFires` = N pauses the job
//! ([`crate::pause`]) once one item's runs failed N fires in a row.
//!
//! Each item's streak is the node `polyglot/failed-fires/{item}`, written
//! by the instance that ran the item's last attempt for a fire, so it
//! follows the item across instances and outlives a crash. A success
//! deletes it; a resume (or a pause's end) deletes them all. A failed run
//! whose retry is pending has not failed its fire yet; a cancelled run
//! (shutdown, moved item, superseded) neither fails nor succeeds one.

use crate::error::{Error, Result};
use crate::paths::JobPaths;
use crate::registry::{CreateMode, Registry};
use crate::resolve::retry;
use std::collections::BTreeMap;

/// Prop: after how many failed fires in a row of one item the job pauses.
pub const PAUSE_AFTER_FAILED_FIRES_PROP: &str = "pauseAfterFailedFires";
/// The largest `pauseAfterFailedFires` accepted.
pub const MAX_FAILED_FIRES: u32 = 1_000;

/// Reads `pauseAfterFailedFires`; an error names the prop and its value.
pub fn limit_from_props(props: &BTreeMap<String, String>) -> Result<Option<u32>> {
    let Some(value) = props.get(PAUSE_AFTER_FAILED_FIRES_PROP) else { return Ok(None) };
    match value.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_FAILED_FIRES).contains(&n) => Ok(Some(n)),
        _ => Err(Error::invalid(
            PAUSE_AFTER_FAILED_FIRES_PROP,
            value,
            format!("must be a whole number from 1 to {MAX_FAILED_FIRES}"),
        )),
    }
}

/// How one item's fire settled: its last attempt succeeded, or failed with no retry to come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The fire's run succeeded.
    Succeeded,
    /// The fire's last attempt failed, with this error.
    Failed(String),
}

/// An item's failed fires in a row, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Streak {
    /// How many fires in a row failed.
    pub count: u32,
    /// The latest of them.
    pub fire: i64,
    /// Its error.
    pub error: String,
}

/// Applies settled fires `(item, fire time, how)`, in order, to their
/// items' streaks; returns the first item whose streak reached `limit`,
/// with its streak.
pub async fn record(
    session: &dyn Registry,
    paths: &JobPaths,
    settled: &[(u32, i64, Settled)],
    limit: u32,
) -> Result<Option<(u32, Streak)>> {
    let mut reached = None;
    for (item, fire_time, outcome) in settled {
        let path = paths.failed_fires(*item);
        let current = retry(|| session.get(&path)).await?;
        match outcome {
            Settled::Succeeded => {
                if let Some((_, stat)) = current {
                    match retry(|| session.delete(&path, Some(stat.version))).await {
                        Ok(()) | Err(Error::NoNode(_)) | Err(Error::BadVersion(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Settled::Failed(error) => {
                let before = current.as_ref().and_then(|(data, _)| serde_json::from_slice::<Streak>(data).ok());
                // A fire counts once (a run written twice after a lost reply).
                let count = match &before {
                    Some(streak) if streak.fire == *fire_time => streak.count,
                    Some(streak) => streak.count + 1,
                    None => 1,
                };
                let streak = Streak { count, fire: *fire_time, error: error.clone() };
                let data = serde_json::to_vec(&streak).expect("a streak serializes");
                let written = match &current {
                    Some((_, stat)) => session.set(&path, &data, Some(stat.version)).await.map(|_| ()),
                    None => session.create_with_parents(&path, &data, CreateMode::Persistent).await.map(|_| ()),
                };
                match written {
                    // Only the item's runner writes its streak: a conflict
                    // is our own write whose reply was lost.
                    Ok(()) | Err(Error::BadVersion(_)) | Err(Error::NodeExists(_)) | Err(Error::ConnectionLoss) => {}
                    Err(e) => return Err(e),
                }
                if count >= limit && reached.is_none() {
                    reached = Some((*item, streak));
                }
            }
        }
    }
    Ok(reached)
}

/// Every item's streak starts again.
pub async fn clear_all(session: &dyn Registry, paths: &JobPaths) -> Result<()> {
    let root = paths.failed_fires_root();
    retry(|| session.delete_recursive(&root)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_a_positive_number_and_bad_ones_name_the_prop() {
        let props = |v: &str| BTreeMap::from([(PAUSE_AFTER_FAILED_FIRES_PROP.to_string(), v.to_string())]);
        assert_eq!(limit_from_props(&BTreeMap::new()).unwrap(), None);
        assert_eq!(limit_from_props(&props("3")).unwrap(), Some(3));
        for bad in ["0", "-1", "three", "1001"] {
            let error = limit_from_props(&props(bad)).unwrap_err().to_string();
            assert!(error.contains(PAUSE_AFTER_FAILED_FIRES_PROP) && error.contains(bad), "{error}");
        }
    }
}
