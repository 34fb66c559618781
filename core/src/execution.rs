//! Starting and finishing items in the registry, with fencing (invariant 1).
//!
//! An item starts only through one atomic multi that
//! 1. checks the owner node still has the version this instance read (so a
//!    resharding in between stops it),
//! 2. moves the item's `fired` node from an earlier fire time to this one
//!    (so no item starts twice for one fire, whoever owns it), and
//! 3. creates the `running` mark (the runner's instance id, as Java
//!    ElasticJob writes it) in the caller's live session: a zombie whose
//!    session expired can create nothing.
//!
//! All items of a fire go in one multi, and all completions in another, so a
//! fire costs two writes per instance whatever the item count.

use crate::error::{Error, Result};
use crate::paths::JobPaths;
use crate::registry::{CreateMode, Op, Registry};
use std::collections::{BTreeMap, BTreeSet};

/// An item this instance may start: its number and the owner node version it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnedItem {
    /// The item.
    pub item: u32,
    /// Version of `sharding/{item}/instance` when ownership was read.
    pub owner_version: i32,
}

/// What happened when a fire tried to start its items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartOutcome {
    /// Items now marked running by this instance; they must be run.
    pub started: Vec<u32>,
    /// Items this instance is still running from an earlier fire (a misfire).
    pub still_running: Vec<u32>,
    /// Items that another instance runs or already ran for this fire.
    pub taken: Vec<u32>,
    /// Items whose ownership changed since it was read: re-read and retry.
    pub moved: Vec<u32>,
    /// For started items: the fire each was last started for before this
    /// one, and by which instance (absent for an item's first fire).
    pub previous: BTreeMap<u32, LastFire>,
}

/// Content of a `fired` node: the last fire an item was started for, and by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastFire {
    /// Fire time, epoch milliseconds.
    pub fire_time: i64,
    /// The instance that started it.
    pub instance: String,
}

impl LastFire {
    /// Reads a `fired` node's content.
    pub fn parse(data: &[u8]) -> Option<Self> {
        let text = String::from_utf8_lossy(data);
        let mut parts = text.trim().splitn(2, ' ');
        let fire_time = parts.next()?.parse().ok()?;
        Some(LastFire { fire_time, instance: parts.next().unwrap_or_default().to_string() })
    }

    fn to_bytes(&self) -> Vec<u8> {
        format!("{} {}", self.fire_time, self.instance).into_bytes()
    }
}

/// Starts `items` for the fire at `fire_time`. `locally_running` lists the
/// items this process is running right now, to tell a real misfire from a
/// stale mark of its own (left when a completion could not be written).
pub async fn start_items(
    registry: &dyn Registry,
    paths: &JobPaths,
    instance_id: &str,
    items: &[OwnedItem],
    fire_time: i64,
    running_mode: CreateMode,
    locally_running: &BTreeSet<u32>,
) -> Result<StartOutcome> {
    // Like Java ElasticJob 3.x, the `running` node holds the runner's instance id.
    let mark = instance_id.as_bytes().to_vec();
    let fire = LastFire { fire_time, instance: instance_id.to_string() };
    let mut outcome = StartOutcome::default();
    let mut batch = Vec::new();
    let mut previous = BTreeMap::new();
    let fired_paths: Vec<String> = items.iter().map(|owned| paths.item_fired(owned.item)).collect();
    let fired = registry.get_many(&fired_paths).await?;
    for (owned, fired) in items.iter().zip(fired) {
        match item_ops(paths, owned, &fire, &mark, running_mode, fired) {
            Some((ops, last)) => {
                if let Some(last) = last {
                    previous.insert(owned.item, last);
                }
                batch.push((*owned, ops));
            }
            None => outcome.taken.push(owned.item),
        }
    }
    if batch.is_empty() {
        return Ok(outcome);
    }
    let all: Vec<Op> = batch.iter().flat_map(|(_, ops)| ops.iter().cloned()).collect();
    match registry.multi(all).await {
        Ok(_) => {
            outcome.started.extend(batch.iter().map(|(owned, _)| owned.item));
            outcome.previous = previous;
            return Ok(outcome);
        }
        Err(e) if !is_conflict(&e) => return Err(e),
        Err(_) => {}
    }
    // Some item conflicts: settle them one by one.
    for (owned, mut ops) in batch {
        let item = owned.item;
        let mut cleared_stale_mark = false;
        loop {
            match registry.multi(ops).await {
                Ok(_) => outcome.started.push(item),
                Err(Error::NodeExists(path)) if path == paths.item_running(item) => {
                    let current = registry.get(&path).await?;
                    let mine = current.as_ref().is_some_and(|(data, _)| data == instance_id.as_bytes());
                    if mine && locally_running.contains(&item) {
                        outcome.still_running.push(item);
                    } else if mine && !cleared_stale_mark {
                        // Our own stale mark: clear it and try once more.
                        cleared_stale_mark = true;
                        let _ = registry.delete(&path, current.map(|(_, stat)| stat.version)).await;
                        let fired = registry.get(&paths.item_fired(item)).await?;
                        match item_ops(paths, &owned, &fire, &mark, running_mode, fired) {
                            Some((retry, last)) => {
                                ops = retry;
                                match last {
                                    Some(last) => previous.insert(item, last),
                                    None => previous.remove(&item),
                                };
                                continue;
                            }
                            None => outcome.taken.push(item),
                        }
                    } else {
                        outcome.taken.push(item);
                    }
                }
                Err(Error::BadVersion(path)) | Err(Error::NoNode(path)) if path == paths.item_instance(item) => {
                    outcome.moved.push(item)
                }
                Err(e) if is_conflict(&e) => outcome.taken.push(item),
                Err(e) => return Err(e),
            }
            break;
        }
    }
    outcome.started.sort_unstable();
    previous.retain(|item, _| outcome.started.contains(item));
    outcome.previous = previous;
    Ok(outcome)
}

/// The ops that start one item given its `fired` node, with that node's
/// previous content; `None` if it already started for this fire (or a later one).
fn item_ops(
    paths: &JobPaths,
    owned: &OwnedItem,
    fire: &LastFire,
    mark: &[u8],
    running_mode: CreateMode,
    fired: Option<(Vec<u8>, crate::registry::Stat)>,
) -> Option<(Vec<Op>, Option<LastFire>)> {
    let item = owned.item;
    let (fired_op, previous) = match fired {
        Some((data, stat)) => {
            let previous = LastFire::parse(&data);
            if previous.as_ref().map_or(i64::MIN, |p| p.fire_time) >= fire.fire_time {
                return None;
            }
            (Op::Set { path: paths.item_fired(item), data: fire.to_bytes(), version: stat.version }, previous)
        }
        None => (Op::Create { path: paths.item_fired(item), data: fire.to_bytes(), mode: CreateMode::Persistent }, None),
    };
    let ops = vec![
        Op::Check { path: paths.item_instance(item), version: owned.owner_version },
        fired_op,
        Op::Create { path: paths.item_running(item), data: mark.to_vec(), mode: running_mode },
    ];
    Some((ops, previous))
}

/// Conflicts are other instances' doing; anything else is a registry failure.
fn is_conflict(error: &Error) -> bool {
    matches!(error, Error::NodeExists(_) | Error::BadVersion(_) | Error::NoNode(_))
}

/// Removes the `running` marks of finished items in one multi. A mark that a
/// failover taker has since taken over (its version moved) is left alone.
pub async fn complete_items(registry: &dyn Registry, paths: &JobPaths, items: &[u32]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let ops = items.iter().map(|&item| Op::Delete { path: paths.item_running(item), version: 0 }).collect();
    match registry.multi(ops).await {
        Ok(_) => Ok(()),
        Err(e) if is_conflict(&e) => {
            for &item in items {
                match registry.delete(&paths.item_running(item), Some(0)).await {
                    Ok(()) | Err(Error::NoNode(_)) | Err(Error::BadVersion(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Marks items as misfired by the fire at `fire_time` (they were still running).
pub async fn set_misfire(registry: &dyn Registry, paths: &JobPaths, items: &[u32], fire_time: i64) -> Result<()> {
    for &item in items {
        registry.put(&paths.item_misfire(item), fire_time.to_string().as_bytes()).await?;
    }
    Ok(())
}

/// Clears the misfire marks of `items`; returns the latest misfired fire time, if any.
pub async fn take_misfire(registry: &dyn Registry, paths: &JobPaths, items: &[u32]) -> Result<Option<i64>> {
    let marks: Vec<String> = items.iter().map(|&item| paths.item_misfire(item)).collect();
    let mut latest = None;
    for (path, mark) in marks.iter().zip(registry.get_many(&marks).await?) {
        let Some((data, _)) = mark else { continue };
        let time: i64 = String::from_utf8_lossy(&data).trim().parse().unwrap_or(0);
        latest = latest.max(Some(time));
        match registry.delete(path, None).await {
            Ok(()) | Err(Error::NoNode(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::MemoryServer;

    async fn owned(r: &dyn Registry, paths: &JobPaths, item: u32, owner: &str) -> OwnedItem {
        r.put(&paths.item_instance(item), owner.as_bytes()).await.unwrap();
        OwnedItem { item, owner_version: r.exists(&paths.item_instance(item)).await.unwrap().unwrap().version }
    }

    #[tokio::test]
    async fn starts_once_per_fire_and_completes() {
        let server = MemoryServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let items = vec![owned(&r, &paths, 0, "a").await, owned(&r, &paths, 1, "a").await];
        let none = BTreeSet::new();
        let first = start_items(&r, &paths, "a", &items, 1000, CreateMode::Ephemeral, &none).await.unwrap();
        assert_eq!(first.started, vec![0, 1]);
        assert_eq!(r.get_string(&paths.item_running(0)).await.unwrap().as_deref(), Some("a"));
        let fired = LastFire::parse(&r.get(&paths.item_fired(0)).await.unwrap().unwrap().0).unwrap();
        assert_eq!(fired, LastFire { fire_time: 1000, instance: "a".into() });
        complete_items(&r, &paths, &first.started).await.unwrap();
        assert!(r.exists(&paths.item_running(0)).await.unwrap().is_none());
        let again = start_items(&r, &paths, "a", &items, 1000, CreateMode::Ephemeral, &none).await.unwrap();
        assert_eq!((again.started.len(), again.taken), (0, vec![0, 1]), "same fire never starts twice");
        let next = start_items(&r, &paths, "a", &items, 2000, CreateMode::Ephemeral, &none).await.unwrap();
        assert_eq!(next.started, vec![0, 1]);
        assert_eq!(next.previous[&1], LastFire { fire_time: 1000, instance: "a".into() });
    }

    #[tokio::test]
    async fn still_running_moved_and_stale_marks() {
        let server = MemoryServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let items = vec![owned(&r, &paths, 0, "a").await, owned(&r, &paths, 1, "a").await, owned(&r, &paths, 2, "a").await];
        let first = start_items(&r, &paths, "a", &items, 1000, CreateMode::Persistent, &BTreeSet::new()).await.unwrap();
        assert_eq!(first.started, vec![0, 1, 2]);
        complete_items(&r, &paths, &[2]).await.unwrap();
        // Item 0 still runs here; item 1's mark is stale; item 2 was resharded.
        r.set(&paths.item_instance(2), b"b", None).await.unwrap();
        let running: BTreeSet<u32> = [0].into();
        let second = start_items(&r, &paths, "a", &items, 2000, CreateMode::Persistent, &running).await.unwrap();
        assert_eq!(second.still_running, vec![0]);
        assert_eq!(second.started, vec![1]);
        assert_eq!(second.moved, vec![2]);
    }

    #[tokio::test]
    async fn an_expired_session_starts_nothing() {
        let server = MemoryServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let items = vec![owned(&r, &paths, 0, "a").await];
        server.expire(r.session_id());
        let result = start_items(&r, &paths, "a", &items, 1000, CreateMode::Ephemeral, &BTreeSet::new()).await;
        assert_eq!(result, Err(Error::SessionExpired));
    }

    #[tokio::test]
    async fn misfire_marks_round_trip() {
        let server = MemoryServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        set_misfire(&r, &paths, &[0, 1], 5000).await.unwrap();
        set_misfire(&r, &paths, &[1], 6000).await.unwrap();
        assert_eq!(take_misfire(&r, &paths, &[0, 1, 2]).await.unwrap(), Some(6000));
        assert_eq!(take_misfire(&r, &paths, &[0, 1, 2]).await.unwrap(), None);
    }
}
