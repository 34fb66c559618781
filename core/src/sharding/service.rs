//! The resharding service: who owns which item, and changing it safely.
//!
//! Resharding is flagged by `leader/sharding/necessary` and done by the
//! leader alone, only while no item of the job runs (invariant 3), in one
//! atomic multi that also removes the flag. Owner nodes are *set*, never
//! deleted and re-created, so their version always moves on: an instance
//! that read an old owner version cannot start the item afterwards.

use super::custom::{Assignment, Strategy};
use crate::error::{Error, Result};
use crate::paths::JobPaths;
use crate::registry::{CreateMode, Op, Registry};
use std::collections::BTreeMap;

/// `servers/{ip}` content that takes a host out of sharding.
pub const SERVER_DISABLED: &str = "DISABLED";
/// `servers/{ip}` content of an enabled host.
pub const SERVER_ENABLED: &str = "ENABLED";

/// Flags that the next fire must reshard first.
pub async fn set_necessary(registry: &dyn Registry, paths: &JobPaths) -> Result<()> {
    registry.put(&paths.sharding_necessary(), b"").await
}

/// Whether resharding is flagged or under way.
pub async fn is_pending(registry: &dyn Registry, paths: &JobPaths) -> Result<bool> {
    Ok(registry.exists(&paths.sharding_necessary()).await?.is_some()
        || registry.exists(&paths.sharding_processing()).await?.is_some())
}

/// Whether a host is enabled (`servers/{ip}` missing or not `DISABLED`).
pub async fn is_server_enabled(registry: &dyn Registry, paths: &JobPaths, ip: &str) -> Result<bool> {
    Ok(registry.get_string(&paths.server(ip)).await?.map_or(true, |status| enables(&status)))
}

/// Whether a `servers/{ip}` node's content leaves the host in sharding.
pub(crate) fn enables(status: &str) -> bool {
    status.trim() != SERVER_DISABLED
}

/// Live instances whose host is enabled, in the order Java ElasticJob lists
/// them (its registry center sorts children in reverse order).
pub async fn available_instances(registry: &dyn Registry, paths: &JobPaths) -> Result<Vec<String>> {
    let mut available = Vec::new();
    for id in children_or_empty(registry, &paths.instances()).await? {
        let ip = id.split(crate::instance::DELIMITER).next().unwrap_or_default();
        if is_server_enabled(registry, paths, ip).await? {
            available.push(id);
        }
    }
    available.sort_by(|a, b| b.cmp(a));
    Ok(available)
}

/// Children of a node, or none if it does not exist.
pub async fn children_or_empty(registry: &dyn Registry, path: &str) -> Result<Vec<String>> {
    match registry.children(path).await {
        Ok(children) => Ok(children),
        Err(Error::NoNode(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// What resharding needs from the job configuration.
#[derive(Debug, Clone)]
pub struct ShardingPlan<'a> {
    /// The job's name (hashed by the odevity and round-robin strategies).
    pub job_name: &'a str,
    /// `shardingTotalCount`.
    pub total_count: u32,
    /// The strategy `jobShardingStrategyType` selects.
    pub strategy: Strategy,
}

/// Reassigns every item at once; the caller must be the leader and must
/// have made sure no item runs. Returns the new assignment, or `None` when
/// resharding was not flagged. Fails with [`Error::BadVersion`] if the flag
/// was raised again meanwhile (an instance came or went): then call again.
pub async fn reshard(
    registry: &dyn Registry,
    paths: &JobPaths,
    plan: &ShardingPlan<'_>,
) -> Result<Option<BTreeMap<String, Vec<u32>>>> {
    let Some(flag_version) = begin(registry, paths).await? else { return Ok(None) };
    finish(registry, paths, plan, flag_version).await
}

/// First step of resharding, when the flag is up: marks it under way
/// (`processing`) and bumps the sharding epoch, which fences off every start
/// that read the old one. Only after this may the leader look for running
/// items: a start that committed before is seen, any later one fails.
/// Returns the flag's version, `None` if resharding is not flagged.
pub async fn begin(registry: &dyn Registry, paths: &JobPaths) -> Result<Option<i32>> {
    let Some((_, flag)) = registry.get(&paths.sharding_necessary()).await? else { return Ok(None) };
    match registry.create_with_parents(&paths.sharding_processing(), b"", CreateMode::Ephemeral).await {
        Ok(_) | Err(Error::NodeExists(_)) => {}
        Err(e) => return Err(e),
    }
    registry.ensure_path(&paths.sharding()).await?;
    registry.set(&paths.sharding(), b"", None).await?;
    Ok(Some(flag.version))
}

/// Last step: computes the assignment, writes it and takes the flags down.
/// Returns `None` (keeping the flag) when no instance is available. A
/// strategy that gives no valid assignment fails it with
/// [`Error::ShardingStrategy`], nothing written and the flag kept.
pub async fn finish(
    registry: &dyn Registry,
    paths: &JobPaths,
    plan: &ShardingPlan<'_>,
    flag_version: i32,
) -> Result<Option<BTreeMap<String, Vec<u32>>>> {
    let instances = available_instances(registry, paths).await?;
    if instances.is_empty() {
        // Nobody to give items to (e.g. every server disabled): keep the flag
        // so the first instance that becomes available reshards.
        abort(registry, paths).await;
        return Ok(None);
    }
    let outcome = match plan.strategy.assign(plan.job_name, &instances, plan.total_count).await {
        Ok(assignment) => write_assignment(registry, paths, plan.total_count, assignment, flag_version).await,
        Err(e) => Err(e),
    };
    if outcome.is_err() {
        abort(registry, paths).await;
    }
    outcome.map(Some)
}

/// Gives up a resharding under way (the flag stays up for the next try).
pub async fn abort(registry: &dyn Registry, paths: &JobPaths) {
    let _ = registry.delete(&paths.sharding_processing(), None).await;
}

/// Running marks, by item: `(item, runner instance id)`.
pub async fn running_marks(registry: &dyn Registry, paths: &JobPaths, count: u32) -> Result<Vec<(u32, String)>> {
    let running: Vec<String> = (0..count).map(|item| paths.item_running(item)).collect();
    Ok(registry
        .get_many(&running)
        .await?
        .into_iter()
        .zip(0..)
        .filter_map(|(node, item)| node.map(|(data, _)| (item, String::from_utf8_lossy(&data).into_owned())))
        .collect())
}

async fn write_assignment(
    registry: &dyn Registry,
    paths: &JobPaths,
    total_count: u32,
    assignment: Assignment,
    flag_version: i32,
) -> Result<Assignment> {
    let mut existing = Vec::new();
    for child in children_or_empty(registry, &paths.sharding()).await? {
        match child.parse::<u32>() {
            Ok(item) if item < total_count => existing.push(item),
            _ => registry.delete_recursive(&format!("{}/{child}", paths.sharding())).await?,
        }
    }
    registry.ensure_path(&paths.sharding()).await?;
    // Fast path: every existing item has an owner node (ours always do). A
    // Java instance may have deleted some; then check each node and retry.
    let assumed = owner_ops(paths, &assignment, |item| {
        let exists = existing.binary_search(&item).is_ok();
        (exists, exists)
    });
    match write_in_chunks(registry, paths, assumed, flag_version).await {
        Err(Error::NoNode(path)) | Err(Error::NodeExists(path)) if path.starts_with(&paths.sharding()) => {}
        other => return other.map(|_| assignment),
    }
    // Batched reads: a large job must not pay one round trip per item here.
    let item_paths: Vec<String> = (0..total_count).map(|item| paths.item(item)).collect();
    let owner_paths: Vec<String> = (0..total_count).map(|item| paths.item_instance(item)).collect();
    let items_found = registry.get_many(&item_paths).await?;
    let owners_found = registry.get_many(&owner_paths).await?;
    let found: BTreeMap<u32, (bool, bool)> = (0..total_count)
        .zip(items_found.iter().zip(&owners_found))
        .map(|(item, (node, owner))| (item, (node.is_some(), owner.is_some())))
        .collect();
    write_in_chunks(registry, paths, owner_ops(paths, &assignment, |item| found[&item]), flag_version).await?;
    Ok(assignment)
}

/// Ops writing every owner node, given whether each item's node and owner node exist.
fn owner_ops(paths: &JobPaths, assignment: &BTreeMap<String, Vec<u32>>, state: impl Fn(u32) -> (bool, bool)) -> Vec<Op> {
    let mut ops = Vec::new();
    for (instance, items) in assignment {
        for &item in items {
            let (item_exists, owner_exists) = state(item);
            if !item_exists {
                ops.push(Op::Create { path: paths.item(item), data: vec![], mode: CreateMode::Persistent });
            }
            let data = instance.as_bytes().to_vec();
            ops.push(if owner_exists {
                Op::Set { path: paths.item_instance(item), data, version: -1 }
            } else {
                Op::Create { path: paths.item_instance(item), data, mode: CreateMode::Persistent }
            });
        }
    }
    ops
}

/// Writes the ops, then takes the resharding flags down in the last multi.
/// ZooKeeper caps a request at 1 MB, so a large job is written in chunks;
/// nobody starts items while the flag is up, so the assignment still
/// appears at once to every instance.
async fn write_in_chunks(registry: &dyn Registry, paths: &JobPaths, mut ops: Vec<Op>, flag_version: i32) -> Result<()> {
    while ops.len() > MAX_OPS_PER_MULTI {
        let rest = ops.split_off(MAX_OPS_PER_MULTI);
        registry.multi(std::mem::replace(&mut ops, rest)).await?;
    }
    ops.push(Op::Delete { path: paths.sharding_necessary(), version: flag_version });
    ops.push(Op::Delete { path: paths.sharding_processing(), version: -1 });
    registry.multi(ops).await.map(|_| ())
}

/// Operations per multi when writing an assignment (well below ZooKeeper's 1 MB request limit).
const MAX_OPS_PER_MULTI: usize = 2000;

/// The owner of every item below `count`: `(item, owner id, owner node version)`.
pub async fn owners(registry: &dyn Registry, paths: &JobPaths, count: u32) -> Result<Vec<(u32, Option<(String, i32)>)>> {
    let owner_paths: Vec<String> = (0..count).map(|item| paths.item_instance(item)).collect();
    Ok(registry
        .get_many(&owner_paths)
        .await?
        .into_iter()
        .zip(0..)
        .map(|(node, item)| (item, node.map(|(data, stat)| (String::from_utf8_lossy(&data).into_owned(), stat.version))))
        .collect())
}

/// Whether some item is owned by an instance that is no longer live, or has
/// no owner at all: the assignment needs repair (used by reconcile).
pub async fn has_orphaned_items(registry: &dyn Registry, paths: &JobPaths, count: u32) -> Result<bool> {
    let live = children_or_empty(registry, &paths.instances()).await?;
    Ok(owners(registry, paths, count).await?.into_iter().any(|(_, owner)| match owner {
        Some((id, _)) => !live.contains(&id),
        None => true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::EmbeddedServer;
    use crate::sharding::view::OwnedItems;
    use crate::sharding::{ShardingAlgorithm, Strategies};

    /// The items below `count` that `id` (on `ip`) may start.
    async fn local_items(r: &dyn Registry, paths: &JobPaths, id: &str, ip: &str, count: u32) -> Result<Vec<(u32, i32)>> {
        OwnedItems::default().startable(r, paths, id, ip, count, None).await
    }

    async fn instance(r: &dyn Registry, paths: &JobPaths, id: &str) {
        r.create_with_parents(&paths.instance(id), b"", CreateMode::Ephemeral).await.unwrap();
    }

    #[tokio::test]
    async fn reshards_only_when_flagged_and_bumps_owner_versions() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let plan = ShardingPlan { job_name: "job", total_count: 3, strategy: Strategy::BuiltIn(ShardingAlgorithm::AverageAllocation) };
        instance(&r, &paths, "10.0.0.1@-@1").await;
        instance(&r, &paths, "10.0.0.2@-@2").await;
        assert_eq!(reshard(&r, &paths, &plan).await.unwrap(), None, "not flagged");
        set_necessary(&r, &paths).await.unwrap();
        let first = reshard(&r, &paths, &plan).await.unwrap().unwrap();
        // Reverse order: 10.0.0.2 first, so it gets items 0 and 2.
        assert_eq!(first["10.0.0.2@-@2"], vec![0, 2]);
        assert_eq!(first["10.0.0.1@-@1"], vec![1]);
        assert!(!is_pending(&r, &paths).await.unwrap());
        let before = local_items(&r, &paths, "10.0.0.1@-@1", "10.0.0.1", 3).await.unwrap();
        assert_eq!(before, vec![(1, 0)]);
        set_necessary(&r, &paths).await.unwrap();
        reshard(&r, &paths, &plan).await.unwrap().unwrap();
        let after = local_items(&r, &paths, "10.0.0.1@-@1", "10.0.0.1", 3).await.unwrap();
        assert_eq!(after, vec![(1, 1)], "same owner, new version");
    }

    #[tokio::test]
    async fn disabled_hosts_and_items_are_left_out_and_extra_items_removed() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        instance(&r, &paths, "10.0.0.1@-@1").await;
        instance(&r, &paths, "10.0.0.2@-@2").await;
        r.put(&paths.server("10.0.0.2"), SERVER_DISABLED.as_bytes()).await.unwrap();
        set_necessary(&r, &paths).await.unwrap();
        let plan = ShardingPlan { job_name: "job", total_count: 4, strategy: Strategy::BuiltIn(ShardingAlgorithm::AverageAllocation) };
        let assignment = reshard(&r, &paths, &plan).await.unwrap().unwrap();
        assert_eq!(assignment.get("10.0.0.1@-@1"), Some(&vec![0, 1, 2, 3]));
        r.put(&paths.item_disabled(2), b"").await.unwrap();
        let mine: Vec<u32> =
            local_items(&r, &paths, "10.0.0.1@-@1", "10.0.0.1", 4).await.unwrap().into_iter().map(|i| i.0).collect();
        assert_eq!(mine, vec![0, 1, 3]);
        assert!(local_items(&r, &paths, "10.0.0.2@-@2", "10.0.0.2", 4).await.unwrap().is_empty());
        set_necessary(&r, &paths).await.unwrap();
        let plan = ShardingPlan { total_count: 2, ..plan };
        reshard(&r, &paths, &plan).await.unwrap().unwrap();
        assert_eq!(r.children(&paths.sharding()).await.unwrap(), vec!["0", "1"]);
    }

    #[tokio::test]
    async fn a_flag_raised_during_resharding_fails_it_so_it_is_redone() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        instance(&r, &paths, "10.0.0.1@-@1").await;
        set_necessary(&r, &paths).await.unwrap();
        let (_, flag) = r.get(&paths.sharding_necessary()).await.unwrap().unwrap();
        set_necessary(&r, &paths).await.unwrap();
        let plan = ShardingPlan { job_name: "job", total_count: 1, strategy: Strategy::BuiltIn(ShardingAlgorithm::AverageAllocation) };
        let only = BTreeMap::from([("10.0.0.1@-@1".to_string(), vec![0])]);
        let stale = write_assignment(&r, &paths, 1, only, flag.version).await;
        assert!(matches!(stale, Err(Error::BadVersion(_))), "{stale:?}");
        assert!(reshard(&r, &paths, &plan).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_wrong_strategy_answer_writes_nothing_and_keeps_the_flag() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        instance(&r, &paths, "10.0.0.1@-@1").await;
        instance(&r, &paths, "10.0.0.2@-@2").await;
        set_necessary(&r, &paths).await.unwrap();
        let plan = ShardingPlan { job_name: "job", total_count: 2, strategy: Strategy::BuiltIn(ShardingAlgorithm::AverageAllocation) };
        reshard(&r, &paths, &plan).await.unwrap().unwrap();
        let before = owners(&r, &paths, 2).await.unwrap();
        let mut strategies = Strategies::default();
        let both_to_one = |_: &[String], _: u32, _: &str| Ok(BTreeMap::from([("10.0.0.1@-@1".to_string(), vec![0, 0])]));
        strategies.register("TWICE", std::sync::Arc::new(both_to_one)).unwrap();
        let plan = ShardingPlan { strategy: strategies.resolve("TWICE").unwrap(), ..plan };
        set_necessary(&r, &paths).await.unwrap();
        let refused = reshard(&r, &paths, &plan).await;
        assert!(matches!(&refused, Err(Error::ShardingStrategy { name, reason }) if name == "TWICE" && reason.contains("item 0 twice")), "{refused:?}");
        assert_eq!(owners(&r, &paths, 2).await.unwrap(), before, "nothing written");
        assert!(r.exists(&paths.sharding_necessary()).await.unwrap().is_some(), "the flag stays up for the next try");
        assert!(r.exists(&paths.sharding_processing()).await.unwrap().is_none(), "not left half under way");
    }

    #[tokio::test]
    async fn an_owner_node_removed_by_a_java_peer_is_recreated() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        instance(&r, &paths, "10.0.0.1@-@1").await;
        let plan = ShardingPlan { job_name: "job", total_count: 2, strategy: Strategy::BuiltIn(ShardingAlgorithm::AverageAllocation) };
        set_necessary(&r, &paths).await.unwrap();
        reshard(&r, &paths, &plan).await.unwrap();
        r.delete(&paths.item_instance(1), None).await.unwrap();
        set_necessary(&r, &paths).await.unwrap();
        reshard(&r, &paths, &plan).await.unwrap().unwrap();
        assert_eq!(r.get_string(&paths.item_instance(1)).await.unwrap().as_deref(), Some("10.0.0.1@-@1"));
        assert!(!is_pending(&r, &paths).await.unwrap());
    }

    #[tokio::test]
    async fn orphaned_items_are_detected() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        instance(&r, &paths, "10.0.0.1@-@1").await;
        set_necessary(&r, &paths).await.unwrap();
        let plan = ShardingPlan { job_name: "job", total_count: 2, strategy: Strategy::BuiltIn(ShardingAlgorithm::AverageAllocation) };
        reshard(&r, &paths, &plan).await.unwrap();
        assert!(!has_orphaned_items(&r, &paths, 2).await.unwrap());
        r.delete(&paths.instance("10.0.0.1@-@1"), None).await.unwrap();
        assert!(has_orphaned_items(&r, &paths, 2).await.unwrap());
    }
}
