//! What a fire sees of the sharding: the resharding flags, the epoch,
//! whether this host is enabled, and which items this instance owns.
//!
//! Reading every owner node at every fire costs a job of 10,000 items
//! 10,000 reads per instance per fire, whatever the instance owns. The
//! owners change only in a resharding, and every resharding (ours or a
//! Java leader's) creates and deletes the flags under `leader/sharding`,
//! which moves that node's children zxid; ours also writes the epoch, as
//! does `SINGLE_SHARDING_BALANCE`'s hand-on ([`super::balance`]). So
//! [`OwnedItems`] keeps this instance's items with the zxids they were
//! read under, and a fire whose first read finds both unchanged reuses
//! them: one request per fire instead of one per chunk of owners. A stale
//! entry cannot start an item wrongly: the start checks each owner node's
//! version and the epoch, and an item that fails them is read again.

use super::service::enables;
use crate::error::Result;
use crate::paths::JobPaths;
use crate::registry::{Registry, Stat};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// What a fire needs to know of the sharding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FireView {
    /// Resharding is flagged or under way: the owners below may be about to change.
    pub pending: bool,
    /// The assignment's epoch (the version of `sharding`), `None` before the first.
    pub epoch: Option<i32>,
    /// Those of the items asked about this instance owns, with their owner
    /// nodes' versions. Disabled items are among them: the start leaves
    /// them out ([`crate::execution::start_items`]).
    pub owned: Vec<(u32, i32)>,
    /// Which assignment this is: views with equal stamps read owners no
    /// resharding changed in between.
    pub stamp: Stamp,
}

/// When the assignment last changed, as the registry's zxids tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The epoch node's last write.
    epoch_mzxid: Option<i64>,
    /// The last creation or deletion of a resharding flag.
    flags_pzxid: Option<i64>,
}

/// The nodes read before the owners, and what they say.
struct Head {
    pending: bool,
    epoch: Option<i32>,
    enabled: bool,
    stamp: Stamp,
}

impl Head {
    /// The view with `owned`, the items this instance owns among those
    /// asked about: none on a disabled host.
    fn view(&self, owned: Vec<(u32, i32)>) -> FireView {
        FireView { pending: self.pending, epoch: self.epoch, owned: if self.enabled { owned } else { Vec::new() }, stamp: self.stamp }
    }
}

fn head_paths(paths: &JobPaths, ip: &str) -> Vec<String> {
    vec![paths.sharding_necessary(), paths.sharding_processing(), paths.sharding(), paths.server(ip), paths.sharding_flags()]
}

fn head(found: &mut impl Iterator<Item = Option<(Vec<u8>, Stat)>>) -> Head {
    let mut next = || found.next().flatten();
    let (necessary, processing, epoch, server, flags) = (next(), next(), next(), next(), next());
    Head {
        pending: necessary.is_some() || processing.is_some(),
        epoch: epoch.as_ref().map(|(_, stat)| stat.version),
        enabled: server.map_or(true, |(status, _)| enables(&String::from_utf8_lossy(&status))),
        stamp: Stamp {
            epoch_mzxid: epoch.map(|(_, stat)| stat.mzxid),
            flags_pzxid: flags.map(|(_, stat)| stat.pzxid),
        },
    }
}

/// The flags, the epoch, the host's status and which of `items` this
/// instance owns, in one read (one request per chunk of owners on
/// ZooKeeper). Owned items are listed whether or not the host is enabled.
async fn read(registry: &dyn Registry, paths: &JobPaths, instance_id: &str, ip: &str, items: &[u32]) -> Result<(Head, Vec<(u32, i32)>)> {
    let mut read = head_paths(paths, ip);
    read.extend(items.iter().map(|&item| paths.item_instance(item)));
    let mut found = registry.get_many(&read).await?.into_iter();
    let head = head(&mut found);
    let owned = found
        .zip(items)
        .filter_map(|(owner, &item)| owner.filter(|(id, _)| id == instance_id.as_bytes()).map(|(_, stat)| (item, stat.version)))
        .collect();
    Ok((head, owned))
}

/// One instance's items of a job as last read, for the fires after.
#[derive(Debug, Default)]
pub struct OwnedItems {
    known: Mutex<Option<Known>>,
}

#[derive(Debug)]
struct Known {
    stamp: Stamp,
    /// The job's item count they were read for.
    count: u32,
    owned: Vec<(u32, i32)>,
}

impl OwnedItems {
    /// The sharding as a fire sees it, for the items below `count` (those
    /// of `only` if given; an item at or above `count` is not the job's),
    /// reading the owners only if the assignment may have changed since
    /// they were last read.
    pub async fn fire_view(
        &self,
        registry: &dyn Registry,
        paths: &JobPaths,
        instance_id: &str,
        ip: &str,
        count: u32,
        only: Option<&BTreeSet<u32>>,
    ) -> Result<FireView> {
        if let Some(view) = self.reuse(registry, paths, ip, count, only).await? {
            return Ok(view);
        }
        let items: Vec<u32> = match only {
            Some(only) => only.iter().copied().filter(|&item| item < count).collect(),
            None => (0..count).collect(),
        };
        let (head, owned) = read(registry, paths, instance_id, ip, &items).await?;
        // Only a whole read under settled flags is worth keeping.
        if only.is_none() && !head.pending {
            *self.lock() = Some(Known { stamp: head.stamp, count, owned: owned.clone() });
        }
        Ok(head.view(owned))
    }

    /// Those of the items below `count` (of `only` if given) this instance
    /// owns on an enabled host, less the items an operator disabled: how
    /// retries and backfills pick the items they may start.
    pub async fn startable(
        &self,
        registry: &dyn Registry,
        paths: &JobPaths,
        instance_id: &str,
        ip: &str,
        count: u32,
        only: Option<&BTreeSet<u32>>,
    ) -> Result<Vec<(u32, i32)>> {
        let mine = self.fire_view(registry, paths, instance_id, ip, count, only).await?.owned;
        let disabled: Vec<String> = mine.iter().map(|(item, _)| paths.item_disabled(*item)).collect();
        let disabled = registry.get_many(&disabled).await?;
        Ok(mine.into_iter().zip(disabled).filter(|(_, flag)| flag.is_none()).map(|(owned, _)| owned).collect())
    }

    /// The view from the items kept, if the flags, the epoch and the item
    /// count are as when they were read (one request); `None` otherwise.
    async fn reuse(&self, registry: &dyn Registry, paths: &JobPaths, ip: &str, count: u32, only: Option<&BTreeSet<u32>>) -> Result<Option<FireView>> {
        let Some(stamp) = self.lock().as_ref().filter(|k| k.count == count).map(|k| k.stamp) else { return Ok(None) };
        let head = head(&mut registry.get_many(&head_paths(paths, ip)).await?.into_iter());
        if head.pending || head.stamp != stamp {
            return Ok(None);
        }
        // None if forgotten meanwhile (a start found an owner changed).
        let owned: Option<Vec<(u32, i32)>> = self.lock().as_ref().filter(|k| k.stamp == stamp && k.count == count).map(|known| {
            known.owned.iter().copied().filter(|(item, _)| only.is_none_or(|only| only.contains(item))).collect()
        });
        Ok(owned.map(|owned| head.view(owned)))
    }

    /// Drops what was read: a start found an owner node changed under it.
    pub fn forget(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Known>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{CreateMode, EmbeddedServer};
    use crate::sharding::service::{reshard, set_necessary, ShardingPlan};
    use crate::sharding::{ShardingAlgorithm, Strategy};

    const ME: &str = "10.0.0.1@-@1";
    const OTHER: &str = "10.0.0.2@-@2";

    async fn view(r: &dyn Registry, paths: &JobPaths, cache: &OwnedItems) -> Vec<u32> {
        let view = cache.fire_view(r, paths, ME, "10.0.0.1", 4, None).await.unwrap();
        assert!(!view.pending);
        view.owned.into_iter().map(|(item, _)| item).collect()
    }

    #[tokio::test]
    async fn owners_read_once_serve_until_a_resharding_ours_or_javas_or_a_failed_start() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let plan = ShardingPlan { job_name: "job", total_count: 4, strategy: Strategy::BuiltIn(ShardingAlgorithm::AverageAllocation) };
        r.create_with_parents(&paths.instance(ME), b"", CreateMode::Ephemeral).await.unwrap();
        set_necessary(&r, &paths).await.unwrap();
        reshard(&r, &paths, &plan).await.unwrap().unwrap();
        let cache = OwnedItems::default();
        assert_eq!(view(&r, &paths, &cache).await, vec![0, 1, 2, 3]);

        // An owner node changed without a resharding: the cache still
        // answers (the start's owner check would fail), until forgotten.
        r.set(&paths.item_instance(3), OTHER.as_bytes(), None).await.unwrap();
        assert_eq!(view(&r, &paths, &cache).await, vec![0, 1, 2, 3], "the owners are not read again");
        cache.forget();
        assert_eq!(view(&r, &paths, &cache).await, vec![0, 1, 2]);

        // Our resharding: a second instance takes half.
        r.create_with_parents(&paths.instance(OTHER), b"", CreateMode::Ephemeral).await.unwrap();
        set_necessary(&r, &paths).await.unwrap();
        let pending = cache.fire_view(&r, &paths, ME, "10.0.0.1", 4, None).await.unwrap();
        assert!(pending.pending, "a raised flag is seen, cached owners or not");
        reshard(&r, &paths, &plan).await.unwrap().unwrap();
        let mine = view(&r, &paths, &cache).await;
        assert_eq!(mine.len(), 2);

        // A Java leader's resharding: flags up, owners written, flags down;
        // the epoch untouched.
        let epoch = r.exists(&paths.sharding()).await.unwrap().unwrap().version;
        r.put(&paths.sharding_necessary(), b"").await.unwrap();
        r.create_with_parents(&paths.sharding_processing(), b"", CreateMode::Ephemeral).await.unwrap();
        for item in 0..4 {
            r.set(&paths.item_instance(item), ME.as_bytes(), None).await.unwrap();
        }
        r.delete(&paths.sharding_necessary(), None).await.unwrap();
        r.delete(&paths.sharding_processing(), None).await.unwrap();
        assert_eq!(r.exists(&paths.sharding()).await.unwrap().unwrap().version, epoch);
        assert_eq!(view(&r, &paths, &cache).await, vec![0, 1, 2, 3]);

        // Only some items asked about; a disabled host owns nothing.
        let only = BTreeSet::from([1, 3, 7]);
        let some = cache.fire_view(&r, &paths, ME, "10.0.0.1", 4, Some(&only)).await.unwrap();
        assert_eq!(some.owned.iter().map(|(item, _)| *item).collect::<Vec<_>>(), vec![1, 3]);
        r.put(&paths.server("10.0.0.1"), b"DISABLED").await.unwrap();
        assert!(view(&r, &paths, &cache).await.is_empty());
    }
}
