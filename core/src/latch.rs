//! Curator's `LeaderLatch` recipe, which Java ElasticJob uses to make a few
//! of its steps mutually exclusive across instances: electing the leader
//! and taking a failover item. Ours are atomic multis and need no latch
//! among themselves, but Java's are check-then-write (and its writes
//! delete what they replace), so a Java instance is only safe from ours if
//! ours wait their turn in the same latch. The recipe is followed as
//! Curator does it (docs/elasticjob-spec.md, R1): a protected
//! ephemeral-sequential node under the latch path, the lowest sequence
//! holds the latch, every other participant watches the one before it.

use crate::error::{Error, Result};
use crate::registry::{CreateMode, Registry};
use crate::resolve::retry;
use std::time::Duration;

/// Curator's protection prefix: `_c_` + a random UUID + `-`, so a client
/// whose create had an unknown outcome can find its node among the others.
const PROTECTION: &str = "_c_";
/// The name Curator gives latch nodes; the sequence follows it.
const NODE_NAME: &str = "latch-";

/// A held latch: release it with [`Held::release`].
#[derive(Debug)]
#[must_use = "a latch is held until released"]
pub struct Held {
    latch: String,
    node: String,
}

/// Joins the latch at `latch_path` and waits for its turn, at most `wait`
/// (a live holder that never lets go, such as a frozen process, must not
/// stall us forever: the caller tries again later).
pub async fn acquire(registry: &dyn Registry, latch_path: &str, wait: Duration) -> Result<Held> {
    let node = join(registry, latch_path).await?;
    let held = Held { latch: latch_path.to_string(), node };
    match tokio::time::timeout(wait, wait_for_turn(registry, latch_path, &held.node)).await {
        Ok(Ok(())) => Ok(held),
        Ok(Err(e)) => {
            held.release(registry).await;
            Err(e)
        }
        Err(_) => {
            held.release(registry).await;
            Err(Error::Registry(format!("the latch `{latch_path}` was not free within {} ms", wait.as_millis())))
        }
    }
}

impl Held {
    /// Leaves the latch, and removes the latch node itself when nobody else
    /// waits in it (Curator makes it a container node, which the server
    /// removes once empty). Best effort: a node that cannot be deleted now
    /// goes with the session.
    pub async fn release(self, registry: &dyn Registry) {
        match retry(|| registry.delete(&self.node, None)).await {
            Ok(()) | Err(Error::NoNode(_)) => {}
            Err(e) => return tracing::warn!(node = %self.node, "cannot leave a latch, it goes with the session: {e}"),
        }
        // Someone joining now gets NoNode and creates it again (see `join`).
        match retry(|| registry.delete(&self.latch, None)).await {
            Ok(()) | Err(Error::NoNode(_)) | Err(Error::NotEmpty(_)) => {}
            Err(e) => tracing::debug!(latch = %self.latch, "cannot remove an empty latch node: {e}"),
        }
    }
}

/// Creates our protected node; through connection loss, finds it by its
/// protection id instead of creating a second one.
async fn join(registry: &dyn Registry, latch_path: &str) -> Result<String> {
    let protection = format!("{PROTECTION}{}-", random_uuid());
    let prefix = format!("{latch_path}/{protection}{NODE_NAME}");
    retry(|| registry.ensure_path(latch_path)).await?;
    loop {
        match registry.create(&prefix, b"", CreateMode::EphemeralSequential).await {
            Ok(node) => return Ok(node),
            Err(Error::ConnectionLoss) => {
                let children = retry(|| registry.children(latch_path)).await?;
                if let Some(name) = children.iter().find(|c| c.starts_with(&protection)) {
                    return Ok(format!("{latch_path}/{name}"));
                }
            }
            // The parent is a container node in Curator: the server may have removed it.
            Err(Error::NoNode(_)) => retry(|| registry.ensure_path(latch_path)).await?,
            Err(e) => return Err(e),
        }
    }
}

/// Waits until our node has the lowest sequence under the latch.
async fn wait_for_turn(registry: &dyn Registry, latch_path: &str, node: &str) -> Result<()> {
    let ours = node.rsplit('/').next().unwrap_or(node).to_string();
    loop {
        let mut children = retry(|| registry.children(latch_path)).await?;
        children.sort_by(|a, b| sequence(a).cmp(sequence(b)));
        let Some(position) = children.iter().position(|c| *c == ours) else {
            return Err(Error::Registry(format!("our latch node `{node}` is gone (session lost?)")));
        };
        if position == 0 {
            return Ok(());
        }
        let before = format!("{latch_path}/{}", children[position - 1]);
        let (found, watch) = retry(|| registry.get_and_watch(&before)).await?;
        if found.is_some() {
            watch.changed().await?;
        }
    }
}

/// The sequence of a latch node: the text after the last `latch-`.
fn sequence(name: &str) -> &str {
    name.rfind(NODE_NAME).map_or(name, |at| &name[at + NODE_NAME.len()..])
}

/// A random (version 4) UUID in its 36-character text form, as Curator's
/// protection ids are.
fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    // SAFETY: `bytes` is a valid, writable buffer of the length given.
    let filled = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if filled != bytes.len() as isize {
        // No kernel randomness (very old kernels): time and pid are unique enough for a protection id.
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
            ^ ((std::process::id() as u128) << 64);
        bytes = seed.to_le_bytes();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Fault, EmbeddedServer};

    const LATCH: &str = "/job/leader/election/latch";

    #[test]
    fn nodes_sort_by_their_sequence_not_their_protection_id() {
        let mut names = vec!["_c_ffff-latch-0000000003".to_string(), "_c_0000-latch-0000000007".into(), "latch-0000000001".into()];
        names.sort_by(|a, b| sequence(a).cmp(sequence(b)));
        assert_eq!(names, ["latch-0000000001", "_c_ffff-latch-0000000003", "_c_0000-latch-0000000007"]);
        let id = random_uuid();
        assert_eq!((id.len(), &id[14..15]), (36, "4"), "{id}");
        assert_ne!(random_uuid(), random_uuid());
    }

    #[tokio::test]
    async fn the_second_participant_waits_until_the_first_lets_go() {
        let server = EmbeddedServer::new();
        let (a, b) = (server.connect("ns").unwrap(), server.connect("ns").unwrap());
        let held = acquire(&a, LATCH, Duration::from_secs(5)).await.unwrap();
        let waiting = tokio::spawn(async move { acquire(&b, LATCH, Duration::from_secs(5)).await.map(|h| (h, b)) });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished(), "the latch was held");
        held.release(&a).await;
        let (second, b) = waiting.await.unwrap().unwrap();
        second.release(&b).await;
        assert!(a.exists(LATCH).await.unwrap().is_none(), "both left, and the empty latch went as a container would");
    }

    #[tokio::test]
    async fn a_holder_whose_session_ends_lets_the_next_one_in_and_a_stuck_one_times_out() {
        let server = EmbeddedServer::new();
        let (a, b) = (server.connect("ns").unwrap(), server.connect("ns").unwrap());
        let _held = acquire(&a, LATCH, Duration::from_secs(5)).await.unwrap();
        let err = acquire(&b, LATCH, Duration::from_millis(300)).await.unwrap_err();
        assert!(err.to_string().contains("was not free within 300 ms"), "{err}");
        assert_eq!(b.children(LATCH).await.unwrap().len(), 1, "the timed-out waiter left, the holder stays");
        server.expire(a.session_id());
        acquire(&b, LATCH, Duration::from_secs(5)).await.unwrap().release(&b).await;
    }

    #[tokio::test]
    async fn a_create_with_an_unknown_outcome_does_not_leave_a_second_node() {
        let server = EmbeddedServer::new();
        let a = server.connect("ns").unwrap();
        a.ensure_path(LATCH).await.unwrap();
        // Whichever of the latch's first requests the faults hit, the
        // create among them, one node results.
        for _ in 0..3 {
            server.inject_fault(a.session_id(), Fault::LoseAfterApply);
        }
        let held = acquire(&a, LATCH, Duration::from_secs(5)).await.unwrap();
        assert_eq!(a.children(LATCH).await.unwrap().len(), 1);
        held.release(&a).await;
        assert!(a.exists(LATCH).await.unwrap().is_none());
    }
}
