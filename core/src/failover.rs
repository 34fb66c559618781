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
//! `sharding/{item}/failover`; then it runs the item for the original fire
//! (a backfill run's fire, when the mark was a backfill start's: see
//! [`crate::backfill`]).

use crate::error::{Error, Result};
use crate::execution::LastFire;
use crate::latch;
use crate::paths::JobPaths;
use crate::registry::{CreateMode, Op, Registry, Stat};
use crate::resolve::retry;
use crate::sharding::service::children_or_empty;

/// Queues the items that `lost_instance` was running when it died.
/// Returns the queued items. The queue entry holds the fire the item was
/// running when that is known (the `fired` node names the lost instance),
/// and is empty otherwise, as Java ElasticJob writes it.
///
/// An instance id lives on across sessions: the news that it went may come
/// after it registered again. A mark written after its current instance
/// node was created belongs to that live incarnation and is left alone.
pub async fn queue_lost_items(
    registry: &dyn Registry,
    paths: &JobPaths,
    lost_instance: &str,
    count: u32,
) -> Result<Vec<u32>> {
    let mut queued = Vec::new();
    let path = paths.instance(lost_instance);
    let incarnation = retry(|| registry.exists(&path)).await?.map(|stat| stat.czxid);
    for (item, (data, stat)) in running_marks(registry, paths, count).await? {
        if data != lost_instance.as_bytes() || incarnation.is_some_and(|born| stat.mzxid > born) {
            continue;
        }
        let fire_time = match crate::backfill::run_of_mark(registry, paths, item, stat.czxid).await? {
            // A backfill run: its fire, not the item's last cron fire.
            Some(backfill_fire) => backfill_fire.to_string(),
            None => {
                let path = paths.item_fired(item);
                retry(|| registry.get(&path))
                    .await?
                    .and_then(|(fired, _)| LastFire::parse(&fired))
                    .filter(|last| last.instance == lost_instance)
                    .map(|last| last.fire_time.to_string())
                    .unwrap_or_default()
            }
        };
        let path = paths.failover_items();
        retry(|| registry.ensure_path(&path)).await?;
        let ops = vec![
            Op::Check { path: paths.item_running(item), version: stat.version },
            Op::Create { path: paths.failover_item(item), data: fire_time.clone().into_bytes(), mode: CreateMode::Persistent },
        ];
        match registry.multi(ops).await {
            Ok(_) => queued.push(item),
            // Unknown outcome: queued by us or not, the entry exists or the
            // next survivor (or reconcile) queues it; both are fine.
            Err(Error::ConnectionLoss) => {
                let path = paths.failover_item(item);
                if retry(|| registry.exists(&path)).await?.is_some() {
                    queued.push(item);
                }
            }
            Err(Error::NodeExists(_)) | Err(Error::BadVersion(_)) | Err(Error::NoNode(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(queued)
}

/// Queues the marked items of every instance that is no longer live (a
/// crash nobody was there to see, e.g. when the whole cluster went down).
pub async fn queue_orphaned_items(registry: &dyn Registry, paths: &JobPaths, count: u32) -> Result<Vec<u32>> {
    let path = paths.instances();
    let live = retry(|| children_or_empty(registry, &path)).await?;
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
    let found = retry(|| registry.get_many(&marks)).await?;
    Ok(found.into_iter().zip(0..).filter_map(|(mark, item)| mark.map(|m| (item, m))).collect())
}

/// An item this instance has claimed and must now run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedItem {
    /// The item.
    pub item: u32,
    /// The fire the crashed instance was running, when it is known (a Java
    /// instance does not record it).
    pub fire_time: Option<i64>,
    /// The run's fencing token: the zxid that made this instance the item's runner.
    pub fencing_token: i64,
}

/// What a claim took, and whether it found the queue empty (then nothing
/// is left for a later look until an item is queued again).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claim {
    /// The items taken, to run now.
    pub items: Vec<ClaimedItem>,
    /// The queue held nothing at all.
    pub queue_was_empty: bool,
}

/// Claims at most `limit` queued items for `instance_id`, skipping items
/// this process is running right now. Java instances take an item (check,
/// then write, deleting what they replace) inside the Curator latch
/// `leader/failover/latch`; ours claims atomically, inside that latch too,
/// so a Java taker never writes itself over an item ours just took.
pub async fn claim(
    registry: &dyn Registry,
    paths: &JobPaths,
    instance_id: &str,
    limit: usize,
    in_flight: &std::collections::BTreeSet<u32>,
) -> Result<Claim> {
    let path = paths.failover_items();
    if retry(|| children_or_empty(registry, &path)).await?.is_empty() {
        return Ok(Claim { items: Vec::new(), queue_was_empty: true });
    }
    let held = latch::acquire(registry, &paths.failover_latch(), 2 * registry.session_timeout()).await?;
    let claimed = claim_in_latch(registry, paths, instance_id, limit, in_flight).await;
    held.release(registry).await;
    Ok(Claim { items: claimed?, queue_was_empty: false })
}

async fn claim_in_latch(
    registry: &dyn Registry,
    paths: &JobPaths,
    instance_id: &str,
    limit: usize,
    in_flight: &std::collections::BTreeSet<u32>,
) -> Result<Vec<ClaimedItem>> {
    let mut claimed = Vec::new();
    let path = paths.failover_items();
    for name in retry(|| children_or_empty(registry, &path)).await? {
        if claimed.len() >= limit {
            break;
        }
        let Ok(item) = name.parse::<u32>() else { continue };
        if in_flight.contains(&item) {
            continue;
        }
        let path = paths.failover_item(item);
        let Some((queued, queued_stat)) = retry(|| registry.get(&path)).await? else { continue };
        let fire_time = String::from_utf8_lossy(&queued).trim().parse::<i64>().ok().filter(|&t| t > 0);
        let me = instance_id.as_bytes().to_vec();
        // The lost runner's mark is taken over; a Java runner deletes its
        // mark after queueing, and then the mark is created.
        let path = paths.item_running(item);
        let running = match retry(|| registry.exists(&path)).await? {
            Some(stat) => Op::Set { path: paths.item_running(item), data: me.clone(), version: stat.version },
            None => Op::Create { path: paths.item_running(item), data: me.clone(), mode: CreateMode::Persistent },
        };
        let path = paths.item_failovering(item);
        let failovering = match retry(|| registry.exists(&path)).await? {
            Some(stat) => Op::Set { path: paths.item_failovering(item), data: me.clone(), version: stat.version },
            None => Op::Create { path: paths.item_failovering(item), data: me.clone(), mode: CreateMode::Persistent },
        };
        let ops = vec![
            Op::Delete { path: paths.failover_item(item), version: queued_stat.version },
            running,
            Op::Create { path: paths.item_failover(item), data: me.clone(), mode: CreateMode::Ephemeral },
            failovering,
        ];
        let taken = match registry.multi(ops).await {
            Ok(_) => true,
            Err(Error::ConnectionLoss) => {
                // Ours if the ephemeral `failover` node names us (only our session could create it).
                let path = paths.item_failover(item);
                let mark = retry(|| registry.get(&path)).await?;
                mark.is_some_and(|(data, stat)| data == me && stat.ephemeral_owner == registry.session_id())
            }
            Err(Error::NodeExists(_)) | Err(Error::BadVersion(_)) | Err(Error::NoNode(_)) => false,
            Err(e) => return Err(e),
        };
        if taken {
            let path = paths.item_running(item);
            let token = retry(|| registry.exists(&path)).await?.map_or(0, |s| s.mzxid);
            claimed.push(ClaimedItem { item, fire_time, fencing_token: token });
        }
    }
    Ok(claimed)
}

/// Clears a finished failover run: its running mark (if still ours) and the
/// `failover` and `failovering` nodes.
pub async fn complete(registry: &dyn Registry, paths: &JobPaths, instance_id: &str, item: u32) -> Result<()> {
    loop {
        let path = paths.item_running(item);
        let Some((data, stat)) = retry(|| registry.get(&path)).await? else { break };
        if data != instance_id.as_bytes() {
            break;
        }
        match registry.delete(&paths.item_running(item), Some(stat.version)).await {
            Ok(()) | Err(Error::NoNode(_)) => break,
            Err(Error::BadVersion(_)) | Err(Error::ConnectionLoss) => continue,
            Err(e) => return Err(e),
        }
    }
    for path in [paths.item_failover(item), paths.item_failovering(item)] {
        match retry(|| registry.delete(&path, None)).await {
            Ok(()) | Err(Error::NoNode(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::{start_items, Fence, OwnedItem, StartRequest};
    use crate::registry::EmbeddedServer;
    use std::collections::BTreeSet;

    #[tokio::test]
    async fn a_crashed_instances_running_item_is_run_once_by_one_survivor() {
        let server = EmbeddedServer::new();
        let crashed = server.connect("ns").unwrap();
        let (s1, s2) = (server.connect("ns").unwrap(), server.connect("ns").unwrap());
        let paths = JobPaths::new("job");
        crashed.put(&paths.item_instance(0), b"x@-@1").await.unwrap();
        crashed.put(&paths.item_instance(1), b"x@-@1").await.unwrap();
        let items = [OwnedItem { item: 0, owner_version: 0 }];
        let none = BTreeSet::new();
        let request =
            StartRequest { runner: "x@-@1", fence: Fence::Cron(7000), epoch: 0, running_mode: Some(CreateMode::Persistent), in_flight: &none, joinable: &Default::default() };
        start_items(&crashed, &paths, &request, &items).await.unwrap();
        server.expire(crashed.session_id());

        // Both survivors see the crash; the item is queued once.
        assert_eq!(queue_lost_items(&s1, &paths, "x@-@1", 2).await.unwrap(), vec![0]);
        assert_eq!(queue_lost_items(&s2, &paths, "x@-@1", 2).await.unwrap(), Vec::<u32>::new());
        let first = claim(&s1, &paths, "s1@-@2", 8, &none).await.unwrap().items;
        let second = claim(&s2, &paths, "s2@-@3", 8, &none).await.unwrap();
        assert!(second.queue_was_empty, "s1's claim emptied the queue");
        let second = second.items;
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].item, first[0].fire_time), (0, Some(7000)));
        assert!(first[0].fencing_token > 0);
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
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        r.create_with_parents(&paths.item_running(3), b"gone@-@9", CreateMode::Persistent).await.unwrap();
        assert_eq!(queue_orphaned_items(&r, &paths, 4).await.unwrap(), vec![3]);
    }

    #[tokio::test]
    async fn the_running_items_of_an_instance_that_registered_again_are_not_queued() {
        let server = EmbeddedServer::new();
        let (old, new, survivor) = (server.connect("ns").unwrap(), server.connect("ns").unwrap(), server.connect("ns").unwrap());
        let paths = JobPaths::new("job");
        old.create_with_parents(&paths.instance("x@-@1"), b"", CreateMode::Ephemeral).await.unwrap();
        old.create_with_parents(&paths.item_running(0), b"x@-@1", CreateMode::Persistent).await.unwrap();
        server.expire(old.session_id());
        // The same id registers again and starts item 1; news of the old
        // session's end reaches a survivor only now.
        new.create_with_parents(&paths.instance("x@-@1"), b"", CreateMode::Ephemeral).await.unwrap();
        new.create_with_parents(&paths.item_running(1), b"x@-@1", CreateMode::Persistent).await.unwrap();
        assert_eq!(queue_lost_items(&survivor, &paths, "x@-@1", 2).await.unwrap(), vec![0], "only the old incarnation's run");
    }
}
