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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{CreateMode, EmbeddedServer};
    use crate::sharding::service::{reshard, ShardingPlan};
    use crate::sharding::{ShardingAlgorithm, Strategy};

    #[tokio::test]
    async fn the_leader_flags_resharding_for_items_of_a_vanished_owner() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let config = JobConfig::new("job", "", 2);
        for id in ["10.0.0.1@-@1", "10.0.0.2@-@2"] {
            r.create_with_parents(&paths.instance(id), b"", CreateMode::Ephemeral).await.unwrap();
        }
        election::elect(&r, &paths, "10.0.0.1@-@1").await.unwrap();
        sharding::set_necessary(&r, &paths).await.unwrap();
        let plan = ShardingPlan { job_name: "job", total_count: 2, strategy: Strategy::BuiltIn(ShardingAlgorithm::AverageAllocation) };
        reshard(&r, &paths, &plan).await.unwrap().unwrap();
        assert_eq!(run(&r, &paths, &config, "10.0.0.1@-@1").await.unwrap(), Diagnosis::default());
        // An owner vanishes without the leader noticing (e.g. a missed event).
        r.delete(&paths.instance("10.0.0.2@-@2"), None).await.unwrap();
        assert_eq!(run(&r, &paths, &config, "10.0.0.2@-@2").await.unwrap(), Diagnosis::default(), "only the leader acts");
        let diagnosis = run(&r, &paths, &config, "10.0.0.1@-@1").await.unwrap();
        assert!(diagnosis.flagged_resharding);
        assert!(sharding::is_pending(&r, &paths).await.unwrap());
        let static_config = JobConfig { static_sharding: true, ..config };
        reshard(&r, &paths, &plan).await.unwrap();
        r.delete(&paths.instance("10.0.0.1@-@1"), None).await.unwrap();
        assert!(sharding::has_orphaned_items(&r, &paths, 2).await.unwrap());
        assert!(!run(&r, &paths, &static_config, "10.0.0.1@-@1").await.unwrap().flagged_resharding, "static sharding keeps its assignment");
        assert!(run(&r, &paths, &JobConfig { static_sharding: false, ..static_config }, "10.0.0.1@-@1").await.unwrap().flagged_resharding);
    }
}
