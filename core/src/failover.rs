//! Failover: items whose instance died while running them are run again,
//! once, by a survivor (invariant 2).
//!
//! With failover on, `running` marks are persistent (as in Java ElasticJob
//! 3.x), so they outlive a crashed owner and name it; the item's `fired`
//! node says which fire it was running. Survivors that see an
//! instance go queue each of its marked items under `leader/failover/items`
//! (conditional on the mark being unchanged, so a slow survivor cannot
//! queue an item twice); a free instance claims a queued item in one multi
//! that dequeues it, takes over the mark and records itself in
//! `sharding/{item}/failover`; then it runs the item for the original fire.

use crate::error::{Error, Result};
use crate::execution::LastFire;
use crate::paths::JobPaths;
use crate::registry::{CreateMode, Op, Registry, Stat};
use crate::sharding::service::children_or_empty;

/// Queues the items that `lost_instance` was running when it died.
/// Returns the queued items.
pub async fn queue_lost_items(
    registry: &dyn Registry,
    paths: &JobPaths,
    lost_instance: &str,
    count: u32,
) -> Result<Vec<u32>> {
    let mut queued = Vec::new();
    for (item, (data, stat)) in running_marks(registry, paths, count).await? {
        if data != lost_instance.as_bytes() {
            continue;
        }
        let fire_time = registry
            .get(&paths.item_fired(item))
            .await?
            .and_then(|(fired, _)| LastFire::parse(&fired))
            .map_or(0, |last| last.fire_time);
        registry.ensure_path(&paths.failover_items()).await?;
        let ops = vec![
            Op::Check { path: paths.item_running(item), version: stat.version },
            Op::Create {
                path: paths.failover_item(item),
                data: fire_time.to_string().into_bytes(),
                mode: CreateMode::Persistent,
            },
        ];
        match registry.multi(ops).await {
            Ok(_) => queued.push(item),
            Err(Error::NodeExists(_)) | Err(Error::BadVersion(_)) | Err(Error::NoNode(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(queued)
}

/// Queues the marked items of every instance that is no longer live (a
/// crash nobody was there to see, e.g. when the whole cluster went down).
pub async fn queue_orphaned_items(registry: &dyn Registry, paths: &JobPaths, count: u32) -> Result<Vec<u32>> {
    let live = children_or_empty(registry, &paths.instances()).await?;
    let mut dead = Vec::new();
    for (_, (data, _)) in running_marks(registry, paths, count).await? {
        let runner = String::from_utf8_lossy(&data).into_owned();
        if !runner.is_empty() && !live.contains(&runner) && !dead.contains(&runner) {
            dead.push(runner);
        }
    }
    let mut queued = Vec::new();
    for instance in dead {
        queued.extend(queue_lost_items(registry, paths, &instance, count).await?);
    }
    Ok(queued)
}

/// The `running` nodes that exist, by item.
async fn running_marks(registry: &dyn Registry, paths: &JobPaths, count: u32) -> Result<Vec<(u32, (Vec<u8>, Stat))>> {
    let marks: Vec<String> = (0..count).map(|item| paths.item_running(item)).collect();
    Ok(registry.get_many(&marks).await?.into_iter().zip(0..).filter_map(|(mark, item)| mark.map(|m| (item, m))).collect())
}

/// An item this instance has claimed and must now run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedItem {
    /// The item.
    pub item: u32,
    /// The fire the crashed instance was running.
    pub fire_time: i64,
}

/// Claims at most `limit` queued items for `instance_id`.
pub async fn claim(registry: &dyn Registry, paths: &JobPaths, instance_id: &str, limit: usize) -> Result<Vec<ClaimedItem>> {
    let mut claimed = Vec::new();
    for name in children_or_empty(registry, &paths.failover_items()).await? {
        if claimed.len() >= limit {
            break;
        }
        let Ok(item) = name.parse::<u32>() else { continue };
        let Some((queued, queued_stat)) = registry.get(&paths.failover_item(item)).await? else { continue };
        let fire_time: i64 = String::from_utf8_lossy(&queued).trim().parse().unwrap_or(0);
        let Some((_, running)) = registry.get(&paths.item_running(item)).await? else {
            // The mark is gone (cleaned up by hand?): nothing left to take over.
            let _ = registry.delete(&paths.failover_item(item), Some(queued_stat.version)).await;
            continue;
        };
        let me = instance_id.as_bytes().to_vec();
        let failovering = match registry.exists(&paths.item_failovering(item)).await? {
            Some(stat) => Op::Set { path: paths.item_failovering(item), data: me.clone(), version: stat.version },
            None => Op::Create { path: paths.item_failovering(item), data: me.clone(), mode: CreateMode::Persistent },
        };
        let ops = vec![
            Op::Delete { path: paths.failover_item(item), version: queued_stat.version },
            Op::Set { path: paths.item_running(item), data: me.clone(), version: running.version },
            Op::Create { path: paths.item_failover(item), data: me, mode: CreateMode::Ephemeral },
            failovering,
        ];
        match registry.multi(ops).await {
            Ok(_) => claimed.push(ClaimedItem { item, fire_time }),
            Err(Error::NodeExists(_)) | Err(Error::BadVersion(_)) | Err(Error::NoNode(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(claimed)
}

/// Clears a finished failover run: its running mark (if still ours) and the
/// `failover` and `failovering` nodes.
pub async fn complete(registry: &dyn Registry, paths: &JobPaths, instance_id: &str, item: u32) -> Result<()> {
    if let Some((data, stat)) = registry.get(&paths.item_running(item)).await? {
        if data == instance_id.as_bytes() {
            match registry.delete(&paths.item_running(item), Some(stat.version)).await {
                Ok(()) | Err(Error::NoNode(_)) | Err(Error::BadVersion(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    for path in [paths.item_failover(item), paths.item_failovering(item)] {
        match registry.delete(&path, None).await {
            Ok(()) | Err(Error::NoNode(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::{start_items, OwnedItem};
    use crate::registry::MemoryServer;
    use std::collections::BTreeSet;

    #[tokio::test]
    async fn a_crashed_instances_running_item_is_run_once_by_one_survivor() {
        let server = MemoryServer::new();
        let crashed = server.connect("ns").unwrap();
        let (s1, s2) = (server.connect("ns").unwrap(), server.connect("ns").unwrap());
        let paths = JobPaths::new("job");
        crashed.put(&paths.item_instance(0), b"x@-@1").await.unwrap();
        crashed.put(&paths.item_instance(1), b"x@-@1").await.unwrap();
        let items = [OwnedItem { item: 0, owner_version: 0 }];
        start_items(&crashed, &paths, "x@-@1", &items, 7000, CreateMode::Persistent, &BTreeSet::new()).await.unwrap();
        server.expire(crashed.session_id());

        // Both survivors see the crash; the item is queued once.
        assert_eq!(queue_lost_items(&s1, &paths, "x@-@1", 2).await.unwrap(), vec![0]);
        assert_eq!(queue_lost_items(&s2, &paths, "x@-@1", 2).await.unwrap(), Vec::<u32>::new());
        let first = claim(&s1, &paths, "s1@-@2", 8).await.unwrap();
        let second = claim(&s2, &paths, "s2@-@3", 8).await.unwrap();
        assert_eq!(first, vec![ClaimedItem { item: 0, fire_time: 7000 }]);
        assert!(second.is_empty());
        // A late survivor cannot queue it again once it was taken over.
        assert!(queue_lost_items(&s2, &paths, "x@-@1", 2).await.unwrap().is_empty());
        assert_eq!(s2.get_string(&paths.item_failover(0)).await.unwrap().as_deref(), Some("s1@-@2"));
        assert_eq!(s2.get_string(&paths.item_failovering(0)).await.unwrap().as_deref(), Some("s1@-@2"));
        complete(&s1, &paths, "s1@-@2", 0).await.unwrap();
        assert!(s1.exists(&paths.item_running(0)).await.unwrap().is_none());
        assert!(s1.exists(&paths.item_failover(0)).await.unwrap().is_none());
        assert!(s1.exists(&paths.item_failovering(0)).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn orphaned_marks_of_dead_instances_are_found() {
        let server = MemoryServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        r.create_with_parents(&paths.item_running(3), b"gone@-@9", CreateMode::Persistent).await.unwrap();
        assert_eq!(queue_orphaned_items(&r, &paths, 4).await.unwrap(), vec![3]);
    }
}
