//! The registry side of distributed-once listeners: Java's
//! `GuaranteeService` under `guarantee/started` and `guarantee/completed`.
//!
//! A *round* is one phase (started or completed) of one fire. Each instance
//! registers its items as `guarantee/{phase}/{item}`; the instance that
//! sees every item of the job registered *claims* the round, runs the hook
//! once and deletes the round's nodes; the others wait until their own nodes
//! are gone. What differs from Java, and why:
//! - **Claiming** is a compare-and-set on the round node's version (its
//!   data becomes the claimer's id and a nonce), not a Curator latch: one
//!   write, and after a lost answer the data tells whether the claim is ours.
//! - **Node data is the round's key** (the fire time of a cron fire, empty
//!   for a trigger, which Java also writes): a node left by a round whose
//!   instances all died counts only for a round with the same key, and is
//!   overwritten when its item registers again. So leftovers never complete
//!   a later round early nor block it.
//! - **A later fire's round wins.** A round still gathering when the next
//!   fire's round registers the same item (a fire whose items did not all
//!   start, waiting for its timeout) is taken over by it; the earlier round
//!   never writes over a later one, and its waiters report that it was
//!   overtaken instead of returning quietly. Otherwise a slow round's late
//!   registration would turn the next fire's nodes into its own, and neither
//!   fire's hook would run.
//! - **Every wait is bounded** by the listener's timeout. At the timeout the
//!   waiter deletes the round's nodes (Java deletes the whole `started` or
//!   `completed` node, which also throws away a next round that began
//!   meanwhile) and reports it: a crashed or hung instance delays the others
//!   by at most the timeout, and its nodes cannot block the next round. A
//!   claim left by a claimer that died is taken over by the next round.
//! - Reads are retried through connection loss; the waiter also polls, so
//!   a watch event lost in a reconnect only delays it by a poll.

use crate::error::{Error, Result};
use crate::paths::JobPaths;
use crate::registry::{join, CreateMode, Op, Registry, Stat};
use crate::resolve::retry;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Which phase of a fire a round gathers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Every item started (`doBeforeJobExecutedAtLastStarted`).
    Started,
    /// Every item completed (`doAfterJobExecutedAtLastCompleted`).
    Completed,
}

impl Phase {
    /// The node name under `guarantee/`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Started => "started",
            Phase::Completed => "completed",
        }
    }
}

/// How a round ended for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// This instance completed the set and ran the hook.
    RanHere,
    /// Another instance did (or cleared the round).
    RanElsewhere,
}

/// One instance's part in one round.
pub struct Gathering<'a> {
    /// The live session.
    pub registry: &'a dyn Registry,
    /// The job's nodes.
    pub paths: &'a JobPaths,
    /// Started or completed.
    pub phase: Phase,
    /// This instance's items in the fire.
    pub items: &'a [u32],
    /// `shardingTotalCount`: the round is complete when items `0..total` all registered.
    pub total: u32,
    /// The round's key (see the module doc).
    pub key: &'a str,
    /// This instance's id.
    pub me: &'a str,
    /// How long to wait for the other items.
    pub timeout: Duration,
}

/// How often a waiter looks again without a watch event.
const POLL: Duration = Duration::from_millis(250);

/// Registers this instance's items and waits for the round to complete;
/// runs `hook` here if this instance completes it. Err on timeout (after
/// clearing the round) or registry failure.
pub async fn gather<Fut: Future<Output = ()>>(g: &Gathering<'_>, hook: impl FnOnce() -> Fut) -> Result<Round> {
    let deadline = Instant::now() + g.timeout;
    let root = g.paths.guarantee(g.phase.name());
    if g.items.is_empty() {
        return Ok(Round::RanElsewhere);
    }
    let mine = register(g).await?;
    loop {
        let (children, watch) = match retry(|| g.registry.children_and_watch(&root)).await {
            Ok(found) => found,
            Err(Error::NoNode(_)) => return Ok(Round::RanElsewhere),
            Err(e) => return Err(e),
        };
        let nodes: Vec<String> = children.iter().map(|c| join(&root, c)).collect();
        let found = retry(|| g.registry.get_many(&nodes)).await?;
        let by_name: BTreeMap<&str, (Vec<u8>, Stat)> = children
            .iter()
            .zip(found)
            .filter_map(|(name, node)| node.map(|(data, stat)| (name.as_str(), (data, stat))))
            .collect();
        // This round's nodes, with the versions read.
        let round: Vec<(String, i32)> = by_name
            .iter()
            .filter(|(_, (data, _))| data == g.key.as_bytes())
            .map(|(name, (_, stat))| (join(&root, name), stat.version))
            .collect();
        let still_mine = mine.iter().all(|(item, mzxid)| {
            by_name.get(item.to_string().as_str()).is_some_and(|(data, stat)| stat.mzxid == *mzxid && data == g.key.as_bytes())
        });
        if !still_mine {
            let later = mine.iter().find_map(|(item, _)| {
                by_name.get(item.to_string().as_str()).filter(|(data, _)| is_later(data, g.key)).map(|(data, _)| data)
            });
            return match later {
                Some(data) => Err(overtaken(g, data)),
                // Cleared by the instance that ran the hook (or by a timed-out waiter).
                None => Ok(Round::RanElsewhere),
            };
        }
        let complete = (0..g.total).all(|item| {
            by_name.get(item.to_string().as_str()).is_some_and(|(data, _)| data == g.key.as_bytes())
        });
        if complete {
            if let Some(version) = claim(g, &root).await? {
                hook().await;
                clear_round(g.registry, &root, &round, Some(version)).await?;
                return Ok(Round::RanHere);
            }
        }
        if Instant::now() >= deadline {
            clear_round(g.registry, &root, &round, None).await?;
            return Err(Error::IllegalState(format!(
                "distributed-once listener: not every item {} within {} ms (items {:?} of this instance); the round was cleared",
                g.phase.name(),
                g.timeout.as_millis(),
                g.items
            )));
        }
        tokio::select! {
            _ = watch.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// Creates (or takes over from a dead round) this instance's item nodes;
/// returns each one's modifying zxid, so a later round's node is not taken
/// for ours.
async fn register(g: &Gathering<'_>) -> Result<Vec<(u32, i64)>> {
    let key = g.key.as_bytes();
    for &item in g.items {
        let path = g.paths.guarantee_item(g.phase.name(), item);
        match retry(|| g.registry.create_with_parents(&path, key, CreateMode::Persistent)).await {
            Ok(_) | Err(Error::NodeExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let paths: Vec<String> = g.items.iter().map(|&item| g.paths.guarantee_item(g.phase.name(), item)).collect();
    let mut mine = Vec::with_capacity(paths.len());
    for (item, path) in g.items.iter().zip(&paths) {
        loop {
            match retry(|| g.registry.get(path)).await? {
                Some((data, stat)) if data == key => {
                    mine.push((*item, stat.mzxid));
                    break;
                }
                // A later fire's round has the item: this one can never complete.
                Some((data, _)) if is_later(&data, g.key) => return Err(overtaken(g, &data)),
                // An earlier (or dead) round's node: make it this round's.
                Some((_, stat)) => match retry(|| g.registry.set(path, key, Some(stat.version))).await {
                    Ok(_) | Err(Error::BadVersion(_)) | Err(Error::NoNode(_)) => {}
                    Err(e) => return Err(e),
                },
                // Cleared meanwhile by a timed-out waiter: register again.
                None => match retry(|| g.registry.create_with_parents(path, key, CreateMode::Persistent)).await {
                    Ok(_) | Err(Error::NodeExists(_)) => {}
                    Err(e) => return Err(e),
                },
            }
        }
    }
    Ok(mine)
}

/// Whether a node's key is a later fire's than `key` (cron fires are keyed
/// by their time; a trigger's empty key is ordered with nothing).
fn is_later(data: &[u8], key: &str) -> bool {
    let theirs = std::str::from_utf8(data).ok().and_then(|d| d.parse::<i64>().ok());
    matches!((theirs, key.parse::<i64>().ok()), (Some(theirs), Some(ours)) if theirs > ours)
}

/// The error of a round a later fire's round took over.
fn overtaken(g: &Gathering<'_>, later: &[u8]) -> Error {
    Error::IllegalState(format!(
        "distributed-once listener: the round of fire {} was overtaken by the round of fire {} before every item {} (items {:?} of this instance); its hook did not run",
        g.key,
        String::from_utf8_lossy(later),
        g.phase.name(),
        g.items
    ))
}

/// Claims a complete round: sets the round node's data to the round's key,
/// this instance's id and a nonce, unless this round is claimed already (a
/// claim of another round is a dead claimer's: it is taken over). Returns
/// the version written.
async fn claim(g: &Gathering<'_>, root: &str) -> Result<Option<i32>> {
    let Some((data, stat)) = retry(|| g.registry.get(root)).await? else { return Ok(None) };
    if !data.is_empty() && claim_key(&data) == g.key {
        return Ok(None);
    }
    let nonce = format!("{}\n{}\n{}", g.key, g.me, chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
    match g.registry.set(root, nonce.as_bytes(), Some(stat.version)).await {
        Ok(written) => Ok(Some(written.version)),
        Err(Error::BadVersion(_)) | Err(Error::NoNode(_)) => Ok(None),
        Err(Error::ConnectionLoss) => match retry(|| g.registry.get(root)).await? {
            Some((data, stat)) if data == nonce.as_bytes() => Ok(Some(stat.version)),
            _ => Ok(None),
        },
        Err(e) => Err(e),
    }
}

/// The round a claim is for (its first line).
fn claim_key(data: &[u8]) -> String {
    String::from_utf8_lossy(data).lines().next().unwrap_or_default().to_string()
}

/// Deletes this round's nodes (those read with this round's key, if they
/// did not change since) and the round node, at once, so no instance sees
/// half a round. Nodes of another round (one that started meanwhile) stay,
/// and the round node is then only released (its claim emptied).
async fn clear_round(registry: &dyn Registry, root: &str, round: &[(String, i32)], claimed: Option<i32>) -> Result<()> {
    let mut ops: Vec<Op> = round.iter().map(|(path, version)| Op::Delete { path: path.clone(), version: *version }).collect();
    ops.push(Op::Delete { path: root.to_string(), version: claimed.unwrap_or(-1) });
    match registry.multi(ops).await {
        Ok(_) => return Ok(()),
        Err(Error::SessionExpired) => return Err(Error::SessionExpired),
        Err(_) => {}
    }
    for (path, version) in round {
        match retry(|| registry.delete(path, Some(*version))).await {
            Ok(()) | Err(Error::NoNode(_)) | Err(Error::BadVersion(_)) => {}
            Err(e) => return Err(e),
        }
    }
    match retry(|| registry.delete(root, None)).await {
        Ok(()) | Err(Error::NoNode(_)) => Ok(()),
        Err(Error::NotEmpty(_)) if claimed.is_some() => match retry(|| registry.set(root, b"", None)).await {
            Ok(_) | Err(Error::NoNode(_)) => Ok(()),
            Err(e) => Err(e),
        },
        Err(Error::NotEmpty(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::EmbeddedServer;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn gathering<'a>(r: &'a dyn Registry, paths: &'a JobPaths, items: &'a [u32], me: &'a str, key: &'a str) -> Gathering<'a> {
        Gathering {
            registry: r,
            paths,
            phase: Phase::Started,
            items,
            total: 3,
            key,
            me,
            timeout: Duration::from_millis(600),
        }
    }

    #[tokio::test]
    async fn the_instance_that_completes_the_set_runs_the_hook_once_and_clears() {
        let server = EmbeddedServer::new();
        let (a, b) = (server.connect("ns").unwrap(), server.connect("ns").unwrap());
        let paths = JobPaths::new("job");
        let ran = Arc::new(AtomicUsize::new(0));
        let hook = |ran: Arc<AtomicUsize>| move || async move {
            ran.fetch_add(1, Ordering::SeqCst);
        };
        let first = {
            let g = gathering(&a, &paths, &[0, 1], "a", "1000");
            let ran = ran.clone();
            async move { gather(&g, hook(ran)).await }
        };
        let second = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            gather(&gathering(&b, &paths, &[2], "b", "1000"), hook(ran.clone())).await
        };
        let (first, second) = tokio::join!(first, second);
        let mut rounds = vec![first.unwrap(), second.unwrap()];
        rounds.sort_by_key(|r| *r == Round::RanHere);
        assert_eq!(rounds, vec![Round::RanElsewhere, Round::RanHere]);
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert!(a.exists(&paths.guarantee("started")).await.unwrap().is_none(), "the round was cleared");
    }

    #[tokio::test]
    async fn a_missing_instance_costs_the_timeout_and_leftovers_of_another_round_do_not_count() {
        let server = EmbeddedServer::new();
        let a = server.connect("ns").unwrap();
        let paths = JobPaths::new("job");
        // Item 2's node is left from the fire at 500: it must not complete the round of 1000.
        a.create_with_parents(&paths.guarantee_item("started", 2), b"500", CreateMode::Persistent).await.unwrap();
        let started = Instant::now();
        let outcome = gather(&gathering(&a, &paths, &[0, 1], "a", "1000"), || async { panic!("incomplete round ran its hook") }).await;
        assert!(started.elapsed() >= Duration::from_millis(600));
        let message = outcome.unwrap_err().to_string();
        assert!(message.contains("within 600 ms"), "{message}");
        assert!(a.exists(&paths.guarantee_item("started", 0)).await.unwrap().is_none(), "its round is cleared at the timeout");
        assert!(a.exists(&paths.guarantee_item("started", 2)).await.unwrap().is_some(), "another round's node is left alone");
    }

    #[tokio::test]
    async fn a_round_overtaken_by_a_later_fire_says_so_and_never_overwrites_the_later_round() {
        let server = EmbeddedServer::new();
        let (a, b) = (server.connect("ns").unwrap(), server.connect("ns").unwrap());
        let paths = JobPaths::new("job");
        let never = || async { panic!("an incomplete round ran its hook") };
        // Fire 1000 waits for item 2, which never starts for it; fire 2000 registers meanwhile.
        let waiting = async { gather(&gathering(&a, &paths, &[0, 1], "a", "1000"), never).await };
        let later = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            gather(&gathering(&b, &paths, &[0, 1], "b", "2000"), never).await
        };
        let (waiting, later) = tokio::join!(waiting, later);
        let message = waiting.unwrap_err().to_string();
        assert!(message.contains("round of fire 1000 was overtaken by the round of fire 2000"), "{message}");
        assert!(later.unwrap_err().to_string().contains("within 600 ms"), "the later round waits for item 2 alone");
        // A late registration of fire 1000 leaves fire 3000's nodes alone.
        b.create_with_parents(&paths.guarantee_item("started", 1), b"3000", CreateMode::Persistent).await.unwrap();
        let late = gather(&gathering(&a, &paths, &[1], "a", "1000"), never).await;
        assert!(late.unwrap_err().to_string().contains("overtaken by the round of fire 3000"));
        let (data, _) = a.get(&paths.guarantee_item("started", 1)).await.unwrap().unwrap();
        assert_eq!(data, b"3000");
    }
}
