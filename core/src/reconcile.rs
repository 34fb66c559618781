//! Self-diagnosis, run every `reconcileIntervalMinutes`: the leader flags
//! resharding when an item is owned by an instance that is gone or by
//! nobody (as Java ElasticJob's ReconcileService does), and, with failover
//! on, running marks left by dead instances are queued for a survivor.

use crate::config::JobConfig;
use crate::election;
use crate::error::Result;
use crate::failover;
use crate::paths::JobPaths;
use crate::registry::Registry;
use crate::sharding::service as sharding;

/// What one reconcile pass found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// Resharding was flagged because the assignment was inconsistent.
    pub flagged_resharding: bool,
    /// Items of dead instances queued for failover.
    pub queued_failover: Vec<u32>,
}

/// Runs one reconcile pass as `instance_id`.
pub async fn run(registry: &dyn Registry, paths: &JobPaths, config: &JobConfig, instance_id: &str) -> Result<Diagnosis> {
    let mut diagnosis = Diagnosis::default();
    let count = config.item_count();
    let is_leader = election::leader(registry, paths).await?.as_deref() == Some(instance_id);
    if is_leader
        && !config.static_sharding
        && !sharding::is_pending(registry, paths).await?
        && sharding::has_orphaned_items(registry, paths, count).await?
    {
        sharding::set_necessary(registry, paths).await?;
        diagnosis.flagged_resharding = true;
    }
    if config.failover {
        diagnosis.queued_failover = failover::queue_orphaned_items(registry, paths, count).await?;
    }
    Ok(diagnosis)
}
