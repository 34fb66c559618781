//! `SINGLE_SHARDING_BALANCE` between reshardings: the one item moves on to
//! the next instance after every run.
//!
//! Java ElasticJob (3.0.5, `SingleShardingJobFacade`) does this for a job
//! with `shardingTotalCount` 1 and this strategy: when an instance has run
//! the item it writes the server IP of the next available instance (the one
//! after the first instance with its own IP, in ElasticJob's order, wrapping
//! around) to the ephemeral node `next-job-instance-ip`, and at each fire an
//! instance runs the item when that IP is its own, ignoring the owner node.
//! The state lives in ZooKeeper, written by the last *runner*, so a change
//! of leader loses nothing; it goes with the runner's session.
//!
//! We keep the rotation but express it as ownership, so the start fence
//! (owner node version) still holds: the runner sets the item's owner node
//! to the next instance, conditionally on the version it read, and moves
//! the sharding epoch with it. The leader's
//! resharding (the time-based rotation of [`super::strategy`]) still wins:
//! nothing is handed on while resharding is flagged or under way, and a
//! resharding that wrote the owner meanwhile makes the set fail.

use super::service::{available_instances, is_pending};
use crate::config::JobConfig;
use crate::error::{Error, Result};
use crate::paths::JobPaths;
use crate::registry::{Op, Registry};
use crate::resolve::retry;

/// The `jobShardingStrategyType` value.
pub const TYPE_NAME: &str = "SINGLE_SHARDING_BALANCE";

/// Whether the item rotates after every run (Java: one item and this strategy).
pub fn rotates(config: &JobConfig) -> bool {
    config.sharding_total_count == 1 && config.sharding_strategy_type() == TYPE_NAME
}

/// The instance that runs next after one on `runner_ip`, by Java's rule:
/// the instance after the first one with that IP, wrapping around; `None`
/// when no available instance has that IP (Java then writes nothing).
pub fn next_after<'a>(available: &'a [String], runner_ip: &str) -> Option<&'a String> {
    let ip_of = |id: &String| id.split(crate::instance::DELIMITER).next().unwrap_or_default().to_string();
    let index = available.iter().position(|id| ip_of(id) == runner_ip)?;
    available.get((index + 1) % available.len())
}

/// After `runner` (on `runner_ip`) ran the item: makes the next instance
/// its owner. Returns the new owner, `None` if nothing was handed on.
pub async fn hand_on(registry: &dyn Registry, paths: &JobPaths, runner: &str, runner_ip: &str) -> Result<Option<String>> {
    if retry(|| is_pending(registry, paths)).await? {
        return Ok(None);
    }
    let owner_path = paths.item_instance(0);
    let Some((owner, stat)) = retry(|| registry.get(&owner_path)).await? else { return Ok(None) };
    if owner != runner.as_bytes() {
        return Ok(None);
    }
    let available = retry(|| available_instances(registry, paths)).await?;
    let Some(next) = next_after(&available, runner_ip).filter(|next| *next != runner) else { return Ok(None) };
    // The epoch moves with the owner, as in a resharding: a start that read
    // the old one fails, and instances that keep the owners they read
    // between reshardings ([`super::view::OwnedItems`]) read them again.
    let ops = vec![
        Op::Set { path: owner_path.clone(), data: next.as_bytes().to_vec(), version: stat.version },
        Op::Set { path: paths.sharding(), data: Vec::new(), version: -1 },
    ];
    match registry.multi(ops).await {
        Ok(_) => Ok(Some(next.clone())),
        // The leader reassigned the item meanwhile: its assignment stands.
        Err(Error::BadVersion(_) | Error::NoNode(_)) => Ok(None),
        // Unknown outcome: either owner is a valid state; say which it is.
        Err(Error::ConnectionLoss) => {
            let owner = retry(|| registry.get(&owner_path)).await?;
            Ok(owner.filter(|(data, _)| data == next.as_bytes()).map(|_| next.clone()))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{CreateMode, EmbeddedServer};
    use crate::sharding::service::{reshard, set_necessary, ShardingPlan};
    use crate::sharding::{ShardingAlgorithm, Strategy};

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_next_instance_follows_javas_rule() {
        // ElasticJob's order (reverse sorted): the runner's first match, then the next, wrapping.
        let available = ids(&["10.0.0.3@-@c", "10.0.0.2@-@b", "10.0.0.1@-@a"]);
        assert_eq!(next_after(&available, "10.0.0.3").unwrap(), "10.0.0.2@-@b");
        assert_eq!(next_after(&available, "10.0.0.2").unwrap(), "10.0.0.1@-@a");
        assert_eq!(next_after(&available, "10.0.0.1").unwrap(), "10.0.0.3@-@c");
        assert_eq!(next_after(&available, "10.0.0.9"), None, "a disabled or gone host hands nothing on");
        // Two instances on one host: Java matches the host's first instance.
        let shared = ids(&["10.0.0.2@-@9", "10.0.0.2@-@1", "10.0.0.1@-@5"]);
        assert_eq!(next_after(&shared, "10.0.0.2").unwrap(), "10.0.0.2@-@1");
    }

    #[test]
    fn only_one_item_jobs_of_this_type_rotate() {
        let mut config = JobConfig::new("job", "", 1);
        assert!(!rotates(&config));
        config.job_sharding_strategy_type = Some(TYPE_NAME.into());
        assert!(rotates(&config));
        config.sharding_total_count = 2;
        assert!(!rotates(&config), "with more items Java shards as usual");
    }

    #[tokio::test]
    async fn the_runner_hands_the_item_on_unless_resharding_is_pending_or_it_lost_the_item() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        for id in ["10.0.0.1@-@a", "10.0.0.2@-@b"] {
            r.create_with_parents(&paths.instance(id), b"", CreateMode::Ephemeral).await.unwrap();
        }
        set_necessary(&r, &paths).await.unwrap();
        let plan = ShardingPlan { job_name: "job", total_count: 1, strategy: Strategy::BuiltIn(ShardingAlgorithm::AverageAllocation) };
        reshard(&r, &paths, &plan).await.unwrap().unwrap();
        // Reverse order: 10.0.0.2@-@b owns item 0.
        assert_eq!(hand_on(&r, &paths, "10.0.0.1@-@a", "10.0.0.1").await.unwrap(), None, "not the owner");
        assert_eq!(hand_on(&r, &paths, "10.0.0.2@-@b", "10.0.0.2").await.unwrap().as_deref(), Some("10.0.0.1@-@a"));
        assert_eq!(r.get_string(&paths.item_instance(0)).await.unwrap().as_deref(), Some("10.0.0.1@-@a"));
        assert_eq!(hand_on(&r, &paths, "10.0.0.1@-@a", "10.0.0.1").await.unwrap().as_deref(), Some("10.0.0.2@-@b"));
        set_necessary(&r, &paths).await.unwrap();
        assert_eq!(hand_on(&r, &paths, "10.0.0.2@-@b", "10.0.0.2").await.unwrap(), None, "the leader decides now");
    }
}
