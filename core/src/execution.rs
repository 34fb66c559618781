//! Starting and finishing items in the registry, with fencing (invariant 1).
//!
//! An item starts only through an atomic multi that
//! 1. checks the sharding epoch (the version of the `sharding` node, which
//!    the leader bumps before it looks for running items), so no start can
//!    slip in between the leader's "nothing runs" check and its new
//!    assignment (invariant 3);
//! 2. checks the owner node still has the version this instance read;
//! 3. for a cron fire, moves the item's `fired` node from an earlier fire
//!    time to this one, so no (item, fire) starts twice, whoever owns it;
//!    for a retry, deletes its pending node, so no attempt starts twice;
//!    for a backfill, moves the item's progress in it to the next fire;
//! 4. creates the `running` mark (the runner's instance id, as Java
//!    ElasticJob writes it) in the caller's live session: a zombie whose
//!    session expired can create nothing.
//!
//! The mark's creating transaction id is the run's fencing token: it grows
//! with every start of the item anywhere in the cluster.
//!
//! With `monitorExecution: false` there is no `running` mark (as in Java):
//! steps 1–3 still fence the start, and the multi sets the item's own
//! `sharding/{item}` node (empty in Java, which never reads its data) to the
//! runner's id instead, so the start still has a transaction id to serve as
//! its fencing token. Without marks nobody can see the item runs: no
//! misfire across instances, no failover, and resharding does not wait.
//!
//! Items are started and completed in as few multis as ZooKeeper's request
//! size limit allows; each item's operations stay together in one multi.
//! A multi whose outcome is unknown (connection loss) is resolved item by
//! item by reading back the marks.

use crate::error::{Error, Result};
use crate::paths::JobPaths;
use crate::registry::{op_size, pack, CreateMode, Op, OpResult, Registry, Stat, MAX_REQUEST_BYTES};
use crate::resolve::retry;
use crate::retries::PendingRetry;
use std::collections::{BTreeMap, BTreeSet};

/// An item this instance may start: its number and the owner node version it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnedItem {
    /// The item.
    pub item: u32,
    /// Version of `sharding/{item}/instance` when ownership was read.
    pub owner_version: i32,
}

/// Which fence a start goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fence {
    /// A cron fire at this time (epoch ms): moves the item's `fired` node,
    /// so each (item, fire) starts at most once cluster-wide.
    Cron(i64),
    /// A manual trigger: fenced by its request node (taken once), never
    /// by a time a client supplied, so it cannot move the cron fence.
    Trigger,
    /// A retry of a failed run ([`crate::retries`]): fenced by its pending
    /// node `retries/{item}@{fire_time}`, which must still hold `attempt`.
    Retry {
        /// The failed run's fire.
        fire_time: i64,
        /// The attempt this start is.
        attempt: u32,
    },
    /// A fire of a backfill ([`crate::backfill`]): moves the item's
    /// progress node in that backfill from this fire to `next`, so each
    /// (backfill, item, fire) starts at most once cluster-wide.
    Backfill {
        /// The backfill's sequence number (its id is `bf-{seq:010}`).
        seq: u64,
        /// The fire.
        fire_time: i64,
        /// Whether it is the range's first fire (the progress node does not exist yet).
        first: bool,
        /// Where the item goes once this fire started.
        next: crate::backfill::Progress,
    },
}

/// An item that this instance now runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The item.
    pub item: u32,
    /// The run's fencing token: the zxid that created its `running` mark.
    pub fencing_token: i64,
    /// The cron fire the item was last started for before this one, and by
    /// whom (absent for a first fire and for triggers).
    pub previous: Option<LastFire>,
    /// It runs beside the item's running run, under its mark (`ALLOW_ALL`).
    pub joined: bool,
}

/// What happened when a fire tried to start its items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartOutcome {
    /// Items now marked running by this instance; they must be run.
    pub started: Vec<Started>,
    /// Items this process is still running from an earlier start.
    pub still_running: Vec<u32>,
    /// Items another instance is running (e.g. a run that outlived resharding).
    pub busy_elsewhere: Vec<u32>,
    /// Items already started for this fire (or a later one).
    pub taken: Vec<u32>,
    /// Items whose owner or the sharding epoch changed since they were
    /// read: settle the sharding and try again.
    pub moved: Vec<u32>,
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

/// One item's start, before it is sent.
struct Pending {
    owned: OwnedItem,
    ops: Vec<Op>,
    previous: Option<LastFire>,
    /// Joins the item's running run: its token is that run's.
    joined: Option<i64>,
}

/// Everything a start needs besides the items.
pub struct StartRequest<'a> {
    /// The runner's instance id (the `running` mark's content).
    pub runner: &'a str,
    /// Cron fire or trigger.
    pub fence: Fence,
    /// The sharding epoch read before the owners.
    pub epoch: i32,
    /// How the `running` mark lives: persistent with failover on (it must
    /// outlive a crashed runner); `None` with `monitorExecution: false`
    /// (no mark: the start writes the token node instead).
    pub running_mode: Option<CreateMode>,
    /// Items this process runs right now, whatever their marks say.
    pub in_flight: &'a BTreeSet<u32>,
    /// Those of them a cron fire may run beside their running run
    /// (`ALLOW_ALL`), with their marks' tokens; empty otherwise.
    pub joinable: &'a BTreeMap<u32, i64>,
}

/// Starts `items`. See the module doc for the fence.
pub async fn start_items(
    registry: &dyn Registry,
    paths: &JobPaths,
    request: &StartRequest<'_>,
    items: &[OwnedItem],
) -> Result<StartOutcome> {
    let mut outcome = StartOutcome::default();
    let joinable = |item: &u32| matches!(request.fence, Fence::Cron(_)) && request.joinable.contains_key(item);
    let candidates: Vec<OwnedItem> = items
        .iter()
        .filter(|owned| {
            let busy = request.in_flight.contains(&owned.item) && !joinable(&owned.item);
            if busy {
                outcome.still_running.push(owned.item);
            }
            !busy
        })
        .copied()
        .collect();
    let (fired, disabled) = read_fences(registry, paths, request.fence, &candidates).await?;
    let mut pending = Vec::new();
    for ((owned, fired), disabled) in candidates.into_iter().zip(fired).zip(disabled) {
        if disabled {
            continue;
        }
        let joined = request.in_flight.contains(&owned.item).then(|| request.joinable[&owned.item]);
        match item_ops(paths, request, owned, fired, joined.is_some()) {
            Some((ops, previous)) => pending.push(Pending { owned, ops, previous, joined }),
            None => outcome.taken.push(owned.item),
        }
    }
    let epoch_check = Op::Check { path: paths.sharding(), version: request.epoch };
    let limit = MAX_REQUEST_BYTES - op_size(&epoch_check);
    for chunk in pack(pending, limit, |p| &p.ops) {
        let mut ops = vec![epoch_check.clone()];
        ops.extend(chunk.iter().flat_map(|p| p.ops.iter().cloned()));
        match registry.multi(ops).await {
            Ok(results) => {
                let tokens = tokens_of(registry, paths, request, &chunk, &results).await?;
                for (p, token) in chunk.into_iter().zip(tokens) {
                    outcome.started.push(Started { item: p.owned.item, fencing_token: token, previous: p.previous, joined: p.joined.is_some() });
                }
            }
            Err(e) if is_epoch_conflict(&e, paths) => outcome.moved.extend(chunk.iter().map(|p| p.owned.item)),
            Err(e) if is_conflict(&e) || e == Error::ConnectionLoss => {
                // Some item conflicts, or the outcome is unknown: settle each on its own.
                for p in chunk {
                    start_one(registry, paths, request, p, &mut outcome).await?;
                }
            }
            Err(e) => return Err(e),
        }
    }
    outcome.started.sort_by_key(|s| s.item);
    Ok(outcome)
}

/// Each item's fence node as the start reads it (none for a trigger) and
/// whether an operator disabled the item, in one read: a disabled item
/// never starts, whatever the fire.
async fn read_fences(
    registry: &dyn Registry,
    paths: &JobPaths,
    fence: Fence,
    items: &[OwnedItem],
) -> Result<(Vec<Option<(Vec<u8>, Stat)>>, Vec<bool>)> {
    let fence_node = |item: u32| match fence {
        Fence::Cron(_) => Some(paths.item_fired(item)),
        Fence::Trigger => None,
        Fence::Backfill { seq, .. } => Some(paths.backfill_item(&crate::backfill::id_of(seq), item)),
        Fence::Retry { fire_time, .. } => Some(paths.retry(item, fire_time)),
    };
    let fence_paths: Vec<String> = items.iter().filter_map(|owned| fence_node(owned.item)).collect();
    let mut read = fence_paths.clone();
    read.extend(items.iter().map(|owned| paths.item_disabled(owned.item)));
    let mut found = retry(|| registry.get_many(&read)).await?;
    let disabled = found.split_off(fence_paths.len()).into_iter().map(|flag| flag.is_some()).collect();
    let fences = match fence_paths.is_empty() {
        true => vec![None; items.len()],
        false => found,
    };
    Ok((fences, disabled))
}

/// Starts one item on its own, resolving connection loss by reading back
/// and clearing a stale mark of this instance's own once.
async fn start_one(
    registry: &dyn Registry,
    paths: &JobPaths,
    request: &StartRequest<'_>,
    mut pending: Pending,
    outcome: &mut StartOutcome,
) -> Result<()> {
    let item = pending.owned.item;
    let mut cleared_stale_mark = false;
    for _ in 0..8 {
        let mut ops = vec![Op::Check { path: paths.sharding(), version: request.epoch }];
        ops.extend(pending.ops.iter().cloned());
        let error = match registry.multi(ops).await {
            Ok(results) => {
                let token = tokens_of(registry, paths, request, std::slice::from_ref(&pending), &results).await?[0];
                outcome.started.push(Started { item, fencing_token: token, previous: pending.previous, joined: pending.joined.is_some() });
                return Ok(());
            }
            Err(e) => e,
        };
        if is_epoch_conflict(&error, paths) {
            outcome.moved.push(item);
            return Ok(());
        }
        // Applied by this or an earlier try whose answer was lost? Our own
        // mark, and for a cron fire our own fire in `fired`, say so.
        if error == Error::ConnectionLoss || is_conflict(&error) {
            let ours = match pending.joined {
                Some(token) => own_fire(registry, paths, request, item).await?.then_some(token),
                None => own_start(registry, paths, request, item).await?,
            };
            if let Some(token) = ours {
                outcome.started.push(Started { item, fencing_token: token, previous: pending.previous, joined: pending.joined.is_some() });
                return Ok(());
            }
        }
        match error {
            Error::ConnectionLoss => {}
            // The mark a joining run checks is gone: the item's runs ended meanwhile.
            Error::NoNode(path) if pending.joined.is_some() && path == paths.item_running(item) => {
                outcome.still_running.push(item);
                return Ok(());
            }
            Error::NodeExists(path) if path == paths.item_running(item) => {
                let mark = retry(|| registry.get(&path)).await?;
                match mark {
                    Some((data, stat)) if data == request.runner.as_bytes() => {
                        if request.in_flight.contains(&item) || cleared_stale_mark {
                            outcome.still_running.push(item);
                            return Ok(());
                        }
                        // Our own stale mark (its completion was lost): clear it once.
                        cleared_stale_mark = true;
                        match registry.delete(&path, Some(stat.version)).await {
                            Ok(()) | Err(Error::NoNode(_)) | Err(Error::BadVersion(_)) | Err(Error::ConnectionLoss) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    Some(_) => {
                        outcome.busy_elsewhere.push(item);
                        return Ok(());
                    }
                    None => {}
                }
            }
            Error::BadVersion(path) | Error::NoNode(path) if path == paths.item_instance(item) => {
                outcome.moved.push(item);
                return Ok(());
            }
            // The backfill was cancelled: nothing more starts for it.
            Error::NoNode(path) if path.starts_with(&paths.backfills()) => {
                outcome.taken.push(item);
                return Ok(());
            }
            Error::NoNode(path) if path == paths.backfill_run(item) => {
                retry(|| registry.create_with_parents(&path, b"", CreateMode::Persistent)).await.or_else(exists_is_fine)?;
            }
            e if is_conflict(&e) => {}
            e => return Err(e),
        }
        // Re-read the fence and rebuild the ops.
        let (fired, _) = read_fences(registry, paths, request.fence, std::slice::from_ref(&pending.owned)).await?;
        match item_ops(paths, request, pending.owned, fired.into_iter().next().flatten(), pending.joined.is_some()) {
            Some((ops, previous)) => pending = Pending { ops, previous, ..pending },
            None => {
                outcome.taken.push(item);
                return Ok(());
            }
        }
    }
    Err(Error::IllegalState(format!("item {item} could not be started: the registry kept changing under it")))
}

/// After an unknown outcome: the token of our start of `item`, if it happened.
/// Without marks only a cron fire's `fired` node tells; a trigger's start
/// leaves nothing of its own, so it is simply sent again (it creates
/// nothing, so sending it twice is harmless).
async fn own_start(registry: &dyn Registry, paths: &JobPaths, request: &StartRequest<'_>, item: u32) -> Result<Option<i64>> {
    if request.running_mode.is_none() && request.fence == Fence::Trigger {
        return Ok(None);
    }
    let path = token_node(paths, request, item);
    let Some((data, stat)) = retry(|| registry.get(&path)).await? else { return Ok(None) };
    if data != request.runner.as_bytes() || request.in_flight.contains(&item) {
        return Ok(None);
    }
    if let Fence::Backfill { fire_time, .. } = request.fence {
        // Our start wrote the item's backfill run node in the mark's transaction.
        if crate::backfill::run_of_mark(registry, paths, item, token_of(request, &stat)).await? != Some(fire_time) {
            return Ok(None);
        }
    }
    if let Fence::Retry { fire_time, .. } = request.fence {
        // Our start deleted the pending node; while it is there, the start did not happen.
        let path = paths.retry(item, fire_time);
        if retry(|| registry.exists(&path)).await?.is_some() {
            return Ok(None);
        }
    }
    if !own_fire(registry, paths, request, item).await? {
        return Ok(None);
    }
    Ok(Some(token_of(request, &stat)))
}

/// Whether `item`'s `fired` node says this runner started it for this
/// cron fire (always true for other fences, which it does not concern).
async fn own_fire(registry: &dyn Registry, paths: &JobPaths, request: &StartRequest<'_>, item: u32) -> Result<bool> {
    let Fence::Cron(fire_time) = request.fence else { return Ok(true) };
    let path = paths.item_fired(item);
    let fired = retry(|| registry.get(&path)).await?;
    Ok(fired.and_then(|(data, _)| LastFire::parse(&data)).is_some_and(|last| last.fire_time == fire_time && last.instance == request.runner))
}

/// The ops that start one item given its fence node (`fired`, or a
/// retry's pending node), with the `fired` node's previous content; `None`
/// if it already started for this fire (or a later one), or this attempt.
/// A run that `joins` the item's running run checks its mark instead of creating one.
fn item_ops(
    paths: &JobPaths,
    request: &StartRequest<'_>,
    owned: OwnedItem,
    fired: Option<(Vec<u8>, Stat)>,
    joins: bool,
) -> Option<(Vec<Op>, Option<LastFire>)> {
    let item = owned.item;
    let mut ops = vec![Op::Check { path: paths.item_instance(item), version: owned.owner_version }];
    let mut previous = None;
    if let Fence::Retry { fire_time, attempt } = request.fence {
        // Gone or another attempt: started already, or dropped.
        let (data, stat) = fired.as_ref()?;
        let pending = crate::retries::PendingRetry::parse(&format!("{item}@{fire_time}"), data)?;
        if pending.attempt != attempt {
            return None;
        }
        ops.push(Op::Delete { path: paths.retry(item, fire_time), version: stat.version });
    }
    if let Fence::Backfill { seq, fire_time, first, next } = request.fence {
        let id = crate::backfill::id_of(seq);
        let progress = paths.backfill_item(&id, item);
        match (&fired, first) {
            (None, true) => ops.push(Op::Create { path: progress, data: next.to_bytes(), mode: CreateMode::Persistent }),
            (Some((data, stat)), false) if data.as_slice() == fire_time.to_string().as_bytes() => {
                ops.push(Op::Set { path: progress, data: next.to_bytes(), version: stat.version })
            }
            // Started for this fire already (or the backfill is elsewhere in its range).
            _ => return None,
        }
        let run = format!("{id} {fire_time}").into_bytes();
        ops.push(Op::Set { path: paths.backfill_run(item), data: run, version: -1 });
    }
    if let Fence::Cron(fire_time) = request.fence {
        let fire = LastFire { fire_time, instance: request.runner.to_string() };
        match fired {
            Some((data, stat)) => {
                previous = LastFire::parse(&data);
                if previous.as_ref().map_or(i64::MIN, |p| p.fire_time) >= fire_time {
                    return None;
                }
                ops.push(Op::Set { path: paths.item_fired(item), data: fire.to_bytes(), version: stat.version });
            }
            None => ops.push(Op::Create {
                path: paths.item_fired(item),
                data: fire.to_bytes(),
                mode: CreateMode::Persistent,
            }),
        }
    }
    ops.push(match request.running_mode {
        Some(_) if joins => Op::Check { path: paths.item_running(item), version: -1 },
        Some(mode) => Op::Create { path: paths.item_running(item), data: request.runner.as_bytes().to_vec(), mode },
        None => Op::Set { path: paths.item(item), data: request.runner.as_bytes().to_vec(), version: -1 },
    });
    Some((ops, previous))
}

/// Fencing tokens of a committed chunk, in order: the zxid that created each
/// `running` mark (read back when the server's answer lacks it).
async fn tokens_of(
    registry: &dyn Registry,
    paths: &JobPaths,
    request: &StartRequest<'_>,
    chunk: &[Pending],
    results: &[OpResult],
) -> Result<Vec<i64>> {
    let mut tokens = Vec::with_capacity(chunk.len());
    let mut missing = Vec::new();
    // Results follow the ops: the epoch check, then each item's ops.
    let mut index = 1;
    for (n, p) in chunk.iter().enumerate() {
        index += p.ops.len();
        if let Some(token) = p.joined {
            tokens.push(token);
            continue;
        }
        match results.get(index - 1).and_then(created_zxid) {
            Some(zxid) => tokens.push(zxid),
            None => {
                tokens.push(0);
                missing.push(n);
            }
        }
    }
    if !missing.is_empty() {
        let marks: Vec<String> = missing.iter().map(|&n| token_node(paths, request, chunk[n].owned.item)).collect();
        for (n, mark) in missing.into_iter().zip(retry(|| registry.get_many(&marks)).await?) {
            tokens[n] = mark.map_or(0, |(_, stat)| token_of(request, &stat));
        }
    }
    Ok(tokens)
}

/// The zxid a multi's last op of an item carries, when it does: the
/// `running` mark's creation, or (no marks) the token node's update.
fn created_zxid(result: &OpResult) -> Option<i64> {
    match result {
        OpResult::Create { stat, .. } if stat.czxid > 0 => Some(stat.czxid),
        OpResult::Set(stat) if stat.mzxid > 0 => Some(stat.mzxid),
        _ => None,
    }
}

/// The node whose zxid is a start's fencing token: the `running` mark, or
/// without marks the item's own node.
fn token_node(paths: &JobPaths, request: &StartRequest<'_>, item: u32) -> String {
    match request.running_mode {
        Some(_) => paths.item_running(item),
        None => paths.item(item),
    }
}

/// The token a token node's stat gives.
fn token_of(request: &StartRequest<'_>, stat: &Stat) -> i64 {
    match request.running_mode {
        Some(_) => stat.czxid,
        None => stat.mzxid,
    }
}

fn exists_is_fine<T: Default>(error: Error) -> Result<T> {
    match error {
        Error::NodeExists(_) => Ok(T::default()),
        e => Err(e),
    }
}

/// Conflicts are other instances' doing; anything else is a registry failure.
fn is_conflict(error: &Error) -> bool {
    matches!(error, Error::NodeExists(_) | Error::BadVersion(_) | Error::NoNode(_))
}

/// The sharding epoch moved (or there is no assignment yet).
fn is_epoch_conflict(error: &Error, paths: &JobPaths) -> bool {
    matches!(error, Error::BadVersion(p) | Error::NoNode(p) if *p == paths.sharding())
}

/// A finished run to clear: the item and the token its mark was created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// The item.
    pub item: u32,
    /// The run's fencing token (its mark's creating zxid).
    pub fencing_token: i64,
}

/// Removes the `running` marks of finished runs in as few multis as the
/// size limit allows. A mark that is no longer the run's own (a failover
/// taker took it over, or it is gone) is left alone; unknown outcomes are
/// resolved by reading back.
///
/// `retries` are written in the same multis as the marks of their items'
/// runs are removed: a run is never complete without its retry recorded.
pub async fn complete_items(
    registry: &dyn Registry,
    paths: &JobPaths,
    runner: &str,
    runs: &[Finished],
    retries: &[PendingRetry],
) -> Result<()> {
    let groups: Vec<(Finished, Vec<Op>)> = runs
        .iter()
        .map(|run| {
            let mut ops = vec![Op::Delete { path: paths.item_running(run.item), version: 0 }];
            ops.extend(retries.iter().filter(|r| r.item == run.item).map(|r| retry_op(paths, r)));
            (*run, ops)
        })
        .collect();
    write_each_on_conflict(registry, groups, |run| async move {
        complete_one(registry, paths, runner, run).await?;
        let of_run: Vec<PendingRetry> = retries.iter().filter(|r| r.item == run.item).copied().collect();
        record_retries(registry, paths, &of_run).await
    })
    .await
}

/// Records pending retries one by one (runs without marks, and after a
/// conflict): one already there is left as it is.
pub async fn record_retries(registry: &dyn Registry, paths: &JobPaths, retries: &[PendingRetry]) -> Result<()> {
    for pending in retries {
        let path = paths.retry(pending.item, pending.fire_time);
        let data = pending.to_bytes();
        match retry(|| registry.create_with_parents(&path, &data, CreateMode::Persistent)).await {
            Ok(_) | Err(Error::NodeExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn retry_op(paths: &JobPaths, pending: &PendingRetry) -> Op {
    Op::Create { path: paths.retry(pending.item, pending.fire_time), data: pending.to_bytes(), mode: CreateMode::Persistent }
}

/// Deletes one run's mark if it is still that run's. Nobody else can create
/// a mark while ours exists, so reading then deleting by version is safe.
async fn complete_one(registry: &dyn Registry, paths: &JobPaths, runner: &str, run: Finished) -> Result<()> {
    let path = paths.item_running(run.item);
    loop {
        let Some((data, stat)) = retry(|| registry.get(&path)).await? else { return Ok(()) };
        if data != runner.as_bytes() || (run.fencing_token != 0 && stat.czxid != run.fencing_token) {
            return Ok(());
        }
        match registry.delete(&path, Some(stat.version)).await {
            Ok(()) | Err(Error::NoNode(_)) => return Ok(()),
            Err(Error::BadVersion(_)) | Err(Error::ConnectionLoss) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Marks items as misfired by the fire at `fire_time` (they were still
/// running), in as few multis as the size limit allows: a fire can find
/// thousands of items busy, and one write each would stall the fire loop.
pub async fn set_misfire(registry: &dyn Registry, paths: &JobPaths, items: &[u32], fire_time: i64) -> Result<()> {
    let marks: Vec<String> = items.iter().map(|&item| paths.item_misfire(item)).collect();
    let found = retry(|| registry.get_many(&marks)).await?;
    let data = fire_time.to_string().into_bytes();
    let groups: Vec<(String, Vec<Op>)> = marks
        .into_iter()
        .zip(found)
        .map(|(path, existing)| {
            let op = match existing {
                Some(_) => Op::Set { path: path.clone(), data: data.clone(), version: -1 },
                None => Op::Create { path: path.clone(), data: data.clone(), mode: CreateMode::Persistent },
            };
            (path, vec![op])
        })
        .collect();
    write_each_on_conflict(registry, groups, |path| {
        let data = &data;
        async move { retry(|| registry.put(&path, data)).await }
    })
    .await
}

/// Clears the misfire marks of `items`, in as few multis as the size limit allows.
pub async fn clear_misfires(registry: &dyn Registry, paths: &JobPaths, items: &[u32]) -> Result<()> {
    let groups: Vec<(String, Vec<Op>)> = items
        .iter()
        .map(|&item| {
            let path = paths.item_misfire(item);
            (path.clone(), vec![Op::Delete { path, version: -1 }])
        })
        .collect();
    write_each_on_conflict(registry, groups, |path| async move {
        match retry(|| registry.delete(&path, None)).await {
            Ok(()) | Err(Error::NoNode(_)) => Ok(()),
            Err(e) => Err(e),
        }
    })
    .await
}

/// Sends each group's writes in size-limited multis; a multi that
/// conflicts (someone changed a node meanwhile) or whose outcome is unknown
/// is redone group by group with `each`, which must be safe to run after
/// a partial or complete success.
async fn write_each_on_conflict<T, F, Fut>(registry: &dyn Registry, groups: Vec<(T, Vec<Op>)>, each: F) -> Result<()>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    for chunk in pack(groups, MAX_REQUEST_BYTES, |(_, ops)| ops) {
        let ops = chunk.iter().flat_map(|(_, ops)| ops.iter().cloned()).collect();
        match registry.multi(ops).await {
            Ok(_) => {}
            Err(e) if is_conflict(&e) || e == Error::ConnectionLoss => {
                for (group, _) in chunk {
                    each(group).await?;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The items whose `running` mark names `runner`, with the marks' stats.
pub async fn marks_of(registry: &dyn Registry, paths: &JobPaths, runner: &str, count: u32) -> Result<Vec<(u32, Stat)>> {
    let marks: Vec<String> = (0..count).map(|item| paths.item_running(item)).collect();
    let found = retry(|| registry.get_many(&marks)).await?;
    Ok(found
        .into_iter()
        .zip(0..)
        .filter_map(|(mark, item)| mark.filter(|(data, _)| data == runner.as_bytes()).map(|(_, stat)| (item, stat)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::EmbeddedServer;

    async fn owned(r: &dyn Registry, paths: &JobPaths, item: u32, owner: &str) -> OwnedItem {
        r.put(&paths.item_instance(item), owner.as_bytes()).await.unwrap();
        OwnedItem { item, owner_version: r.exists(&paths.item_instance(item)).await.unwrap().unwrap().version }
    }

    const NOTHING_JOINABLE: &BTreeMap<u32, i64> = &BTreeMap::new();

    fn request<'a>(runner: &'a str, fence: Fence, epoch: i32, in_flight: &'a BTreeSet<u32>) -> StartRequest<'a> {
        StartRequest { runner, fence, epoch, running_mode: Some(CreateMode::Persistent), in_flight, joinable: NOTHING_JOINABLE }
    }

    #[tokio::test]
    async fn a_joining_run_is_fenced_by_fired_and_shares_the_running_runs_mark() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        r.put(&paths.sharding(), b"").await.unwrap();
        let items = vec![owned(&r, &paths, 0, "a").await];
        let first = start_items(&r, &paths, &request("a", Fence::Cron(1000), 0, &BTreeSet::new()), &items).await.unwrap();
        let token = first.started[0].fencing_token;
        let busy = BTreeSet::from([0]);
        let joinable = BTreeMap::from([(0, token)]);
        let join = |fire| StartRequest { joinable: &joinable, ..request("a", Fence::Cron(fire), 0, &busy) };
        let second = start_items(&r, &paths, &join(2000), &items).await.unwrap();
        assert_eq!(second.started, vec![Started { item: 0, fencing_token: token, previous: Some(LastFire { fire_time: 1000, instance: "a".into() }), joined: true }]);
        let again = start_items(&r, &paths, &join(2000), &items).await.unwrap();
        assert_eq!((again.started.len(), again.taken.clone()), (0, vec![0]), "each fire starts once");
        // Its runs ended and the mark was cleared: a joining start changes nothing.
        r.delete(&paths.item_running(0), None).await.unwrap();
        let late = start_items(&r, &paths, &join(3000), &items).await.unwrap();
        assert_eq!((late.started.len(), late.still_running.clone()), (0, vec![0]));
        let (fired, _) = r.get(&paths.item_fired(0)).await.unwrap().unwrap();
        assert_eq!(LastFire::parse(&fired).unwrap().fire_time, 2000, "the failed join left the fence alone");
        assert!(r.exists(&paths.item_running(0)).await.unwrap().is_none(), "and created no mark");
    }

    fn finished(outcome: &StartOutcome) -> Vec<Finished> {
        outcome.started.iter().map(|s| Finished { item: s.item, fencing_token: s.fencing_token }).collect()
    }

    fn items(outcome: &StartOutcome) -> Vec<u32> {
        outcome.started.iter().map(|s| s.item).collect()
    }

    #[tokio::test]
    async fn a_retry_is_recorded_with_its_completion_and_starts_once_per_attempt() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let items = vec![owned(&r, &paths, 0, "a").await, owned(&r, &paths, 1, "a").await];
        let none = BTreeSet::new();
        let first = start_items(&r, &paths, &request("a", Fence::Cron(1000), 0, &none), &items).await.unwrap();
        let pending = PendingRetry { item: 1, fire_time: 1000, attempt: 2, due: 5000 };
        // Twice: the first completion goes through the parent-less fallback.
        complete_items(&r, &paths, "a", &finished(&first), &[pending]).await.unwrap();
        assert!(r.exists(&paths.item_running(1)).await.unwrap().is_none(), "completed");
        let data = r.get(&paths.retry(1, 1000)).await.unwrap().unwrap().0;
        assert_eq!(PendingRetry::parse("1@1000", &data), Some(pending));

        let wrong = Fence::Retry { fire_time: 1000, attempt: 3 };
        let stale = start_items(&r, &paths, &request("a", wrong, 0, &none), &items[1..]).await.unwrap();
        assert_eq!((stale.started.len(), stale.taken.clone()), (0, vec![1]), "another attempt does not start it");
        let fence = Fence::Retry { fire_time: 1000, attempt: 2 };
        let retried = start_items(&r, &paths, &request("a", fence, 0, &none), &items[1..]).await.unwrap();
        assert_eq!(self::items(&retried), vec![1]);
        assert!(retried.started[0].fencing_token > first.started[1].fencing_token, "a retry gets a new token");
        assert!(r.exists(&paths.retry(1, 1000)).await.unwrap().is_none(), "its start took the pending node");
        complete_items(&r, &paths, "a", &finished(&retried), &[]).await.unwrap();
        let again = start_items(&r, &paths, &request("a", fence, 0, &none), &items[1..]).await.unwrap();
        assert_eq!((again.started.len(), again.taken), (0, vec![1]), "each attempt starts once");
        // The next failure's retry goes in with the completion, in one multi now that the parent exists.
        let next = start_items(&r, &paths, &request("a", Fence::Cron(2000), 0, &none), &items).await.unwrap();
        let later = PendingRetry { item: 0, fire_time: 2000, attempt: 2, due: 6000 };
        complete_items(&r, &paths, "a", &finished(&next), &[later]).await.unwrap();
        assert!(r.exists(&paths.retry(0, 2000)).await.unwrap().is_some());
        assert_eq!(r.children(&paths.retries()).await.unwrap(), vec!["0@2000".to_string()]);
    }

    #[tokio::test]
    async fn starts_once_per_fire_with_growing_tokens_and_completes() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let items = vec![owned(&r, &paths, 0, "a").await, owned(&r, &paths, 1, "a").await];
        let none = BTreeSet::new();
        let first = start_items(&r, &paths, &request("a", Fence::Cron(1000), 0, &none), &items).await.unwrap();
        assert_eq!(self::items(&first), vec![0, 1]);
        assert!(first.started.iter().all(|s| s.fencing_token > 0));
        assert_eq!(r.get_string(&paths.item_running(0)).await.unwrap().as_deref(), Some("a"));
        complete_items(&r, &paths, "a", &finished(&first), &[]).await.unwrap();
        assert!(r.exists(&paths.item_running(0)).await.unwrap().is_none());
        let again = start_items(&r, &paths, &request("a", Fence::Cron(1000), 0, &none), &items).await.unwrap();
        assert_eq!((again.started.len(), again.taken), (0, vec![0, 1]), "same fire never starts twice");
        let next = start_items(&r, &paths, &request("a", Fence::Cron(2000), 0, &none), &items).await.unwrap();
        assert_eq!(self::items(&next), vec![0, 1]);
        assert!(next.started[0].fencing_token > first.started[1].fencing_token, "tokens grow");
        assert_eq!(next.started[1].previous, Some(LastFire { fire_time: 1000, instance: "a".into() }));
    }

    #[tokio::test]
    async fn without_monitor_execution_starts_leave_no_mark_but_stay_fenced_and_tokened() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let items = vec![owned(&r, &paths, 0, "a").await];
        let none = BTreeSet::new();
        let unmarked = |fence| StartRequest { runner: "a", fence, epoch: 0, running_mode: None, in_flight: &none, joinable: NOTHING_JOINABLE };
        let first = start_items(&r, &paths, &unmarked(Fence::Cron(1000)), &items).await.unwrap();
        assert_eq!(self::items(&first), vec![0]);
        assert!(r.exists(&paths.item_running(0)).await.unwrap().is_none(), "no running mark");
        let again = start_items(&r, &paths, &unmarked(Fence::Cron(1000)), &items).await.unwrap();
        assert_eq!(again.taken, vec![0], "the fired fence still holds");
        let triggered = start_items(&r, &paths, &unmarked(Fence::Trigger), &items).await.unwrap();
        assert!(triggered.started[0].fencing_token > first.started[0].fencing_token, "tokens still grow");
        r.set(&paths.sharding(), b"", None).await.unwrap();
        let stale = start_items(&r, &paths, &unmarked(Fence::Cron(2000)), &items).await.unwrap();
        assert_eq!(stale.moved, vec![0], "the epoch still fences");
        use crate::registry::Fault;
        server.inject_fault(r.session_id(), Fault::LoseAfterApply);
        let lost = StartRequest { epoch: 1, ..unmarked(Fence::Cron(3000)) };
        let resolved = start_items(&r, &paths, &lost, &items).await.unwrap();
        assert_eq!(self::items(&resolved), vec![0], "a lost answer is resolved by the fired node");
        assert!(resolved.started[0].fencing_token > triggered.started[0].fencing_token);
    }

    #[tokio::test]
    async fn a_moved_epoch_stops_every_start() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let items = vec![owned(&r, &paths, 0, "a").await];
        r.set(&paths.sharding(), b"", None).await.unwrap();
        let none = BTreeSet::new();
        let stale = start_items(&r, &paths, &request("a", Fence::Cron(1000), 0, &none), &items).await.unwrap();
        assert_eq!((stale.started.len(), stale.moved.clone()), (0, vec![0]));
        let fresh = start_items(&r, &paths, &request("a", Fence::Cron(1000), 1, &none), &items).await.unwrap();
        assert_eq!(self::items(&fresh), vec![0]);
    }

    #[tokio::test]
    async fn still_running_busy_moved_and_stale_marks() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let items: Vec<OwnedItem> = [
            owned(&r, &paths, 0, "a").await,
            owned(&r, &paths, 1, "a").await,
            owned(&r, &paths, 2, "a").await,
            owned(&r, &paths, 3, "a").await,
        ]
        .to_vec();
        let none = BTreeSet::new();
        let first = start_items(&r, &paths, &request("a", Fence::Cron(1000), 0, &none), &items).await.unwrap();
        assert_eq!(self::items(&first), vec![0, 1, 2, 3]);
        complete_items(&r, &paths, "a", &finished(&first)[2..], &[]).await.unwrap();
        // Item 0 still runs here; item 1's mark is stale; item 2 was resharded;
        // item 3 runs on another instance (a run that outlived resharding).
        r.set(&paths.item_instance(2), b"b", None).await.unwrap();
        r.create(&paths.item_running(3), b"b", CreateMode::Persistent).await.unwrap();
        let running: BTreeSet<u32> = [0].into();
        let second = start_items(&r, &paths, &request("a", Fence::Cron(2000), 0, &running), &items).await.unwrap();
        assert_eq!(second.still_running, vec![0]);
        assert_eq!(self::items(&second), vec![1]);
        assert_eq!(second.moved, vec![2]);
        assert_eq!(second.busy_elsewhere, vec![3]);
    }

    #[tokio::test]
    async fn triggers_never_move_the_cron_fence() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let items = vec![owned(&r, &paths, 0, "a").await];
        let none = BTreeSet::new();
        let triggered = start_items(&r, &paths, &request("a", Fence::Trigger, 0, &none), &items).await.unwrap();
        complete_items(&r, &paths, "a", &finished(&triggered), &[]).await.unwrap();
        assert!(r.exists(&paths.item_fired(0)).await.unwrap().is_none());
        let cron = start_items(&r, &paths, &request("a", Fence::Cron(1000), 0, &none), &items).await.unwrap();
        assert_eq!(self::items(&cron), vec![0]);
    }

    #[tokio::test]
    async fn a_completion_leaves_a_mark_taken_over_by_failover_alone() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let items = vec![owned(&r, &paths, 0, "a").await];
        let none = BTreeSet::new();
        let first = start_items(&r, &paths, &request("a", Fence::Cron(1000), 0, &none), &items).await.unwrap();
        r.set(&paths.item_running(0), b"b", None).await.unwrap();
        complete_items(&r, &paths, "a", &finished(&first), &[]).await.unwrap();
        assert_eq!(r.get_string(&paths.item_running(0)).await.unwrap().as_deref(), Some("b"));
    }

    #[tokio::test]
    async fn an_expired_session_starts_nothing() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let items = vec![owned(&r, &paths, 0, "a").await];
        server.expire(r.session_id());
        let none = BTreeSet::new();
        let result = start_items(&r, &paths, &request("a", Fence::Cron(1000), 0, &none), &items).await;
        assert_eq!(result, Err(Error::SessionExpired));
    }

    #[tokio::test]
    async fn large_starts_are_split_under_the_request_limit() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let mut items = Vec::new();
        for item in 0..12_000 {
            items.push(OwnedItem { item, owner_version: 0 });
        }
        let owners: Vec<Op> = (0..12_000)
            .flat_map(|item| {
                [
                    Op::Create { path: paths.item(item), data: vec![], mode: CreateMode::Persistent },
                    Op::Create { path: paths.item_instance(item), data: b"a".to_vec(), mode: CreateMode::Persistent },
                ]
            })
            .collect();
        r.ensure_path(&paths.sharding()).await.unwrap();
        for chunk in owners.chunks(2000) {
            r.multi(chunk.to_vec()).await.unwrap();
        }
        let none = BTreeSet::new();
        let outcome = start_items(&r, &paths, &request("a", Fence::Cron(1000), 0, &none), &items).await.unwrap();
        assert_eq!(outcome.started.len(), 12_000);
        let groups: Vec<(u32, Vec<Op>)> = (0..30_000)
            .map(|item| (item, vec![Op::Delete { path: paths.item_running(item), version: 0 }]))
            .collect();
        let chunks = pack(groups, MAX_REQUEST_BYTES, |(_, ops)| ops);
        assert!(chunks.len() > 1 && chunks.iter().all(|c| c.iter().map(|(_, o)| op_size(&o[0])).sum::<usize>() <= MAX_REQUEST_BYTES));
        complete_items(&r, &paths, "a", &finished(&outcome), &[]).await.unwrap();
        assert!(marks_of(&r, &paths, "a", 12_000).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn starts_and_completions_with_unknown_outcomes_are_resolved_by_reading_back() {
        use crate::registry::Fault;
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        let items = vec![owned(&r, &paths, 0, "a").await, owned(&r, &paths, 1, "a").await];
        let none = BTreeSet::new();
        for (fire, fault) in [(1000, Fault::LoseAfterApply), (2000, Fault::LoseBeforeApply)] {
            server.inject_fault(r.session_id(), fault);
            let outcome = start_items(&r, &paths, &request("a", Fence::Cron(fire), 0, &none), &items).await.unwrap();
            assert_eq!(self::items(&outcome), vec![0, 1], "{fault:?}");
            assert!(outcome.started.iter().all(|s| s.fencing_token > 0));
            let fired = LastFire::parse(&r.get(&paths.item_fired(1)).await.unwrap().unwrap().0).unwrap();
            assert_eq!(fired.fire_time, fire);
            server.inject_fault(r.session_id(), fault);
            complete_items(&r, &paths, "a", &finished(&outcome), &[]).await.unwrap();
            assert!(marks_of(&r, &paths, "a", 2).await.unwrap().is_empty(), "{fault:?}");
        }
    }

    #[tokio::test]
    async fn misfire_marks_round_trip() {
        let server = EmbeddedServer::new();
        let r = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        set_misfire(&r, &paths, &[0, 1], 5000).await.unwrap();
        set_misfire(&r, &paths, &[1, 2], 6000).await.unwrap();
        assert_eq!(r.get_string(&paths.item_misfire(1)).await.unwrap().as_deref(), Some("6000"));
        clear_misfires(&r, &paths, &[0, 3]).await.unwrap();
        clear_misfires(&r, &paths, &[0]).await.unwrap();
        assert!(r.exists(&paths.item_misfire(0)).await.unwrap().is_none());
        assert!(r.exists(&paths.item_misfire(1)).await.unwrap().is_some());
    }
}
