//! When an operator last enabled the job again (our extension to
//! ElasticJob): `polyglot/enabled-at`, epoch milliseconds. Fires skipped
//! while a server or an item was disabled are the operator's decision, not
//! a failure, so they are never caught up: no catch-up window reaches
//! back past the last enable.
//!
//! A pause's end is an enable too ([`crate::pause`]).
//!
//! Written, before the enable itself, by [`crate::JobOperator`]'s enables
//! (so by `ejob` and the console) and by an instance of ours that registers
//! with its server enabled over a server an operator had disabled. An
//! enable written straight into the registry by another tool (ElasticJob's
//! own console) is not seen.

use crate::error::Result;
use crate::paths::JobPaths;
use crate::registry::Registry;
use crate::resolve::retry;

/// Records that the job was enabled again now (the latest enable wins).
pub async fn note_enabled(session: &dyn Registry, paths: &JobPaths) -> Result<()> {
    note_enabled_at(session, paths, chrono::Utc::now().timestamp_millis()).await
}

/// Records that the job was enabled again at `at` (epoch ms), unless a later enable is recorded.
pub async fn note_enabled_at(session: &dyn Registry, paths: &JobPaths, at: i64) -> Result<()> {
    let path = paths.enabled_at();
    if enabled_at(session, paths).await? >= at {
        return Ok(());
    }
    let stamp = at.to_string();
    retry(|| session.put(&path, stamp.as_bytes())).await
}

/// When the job was last enabled again (epoch ms; 0: never).
pub async fn enabled_at(session: &dyn Registry, paths: &JobPaths) -> Result<i64> {
    let path = paths.enabled_at();
    Ok(retry(|| session.get_string(&path)).await?.and_then(|t| t.trim().parse().ok()).unwrap_or(0))
}
