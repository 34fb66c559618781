//! Recognising Java ElasticJob instances in a job. Java never records the
//! fires it runs (`sharding/{item}/fired`), so the fires an item's earlier
//! owner missed cannot be caught up safely while a Java instance is
//! present, nor those from before the last time one joined or left: Java
//! may have run them, and a catch-up would run them twice.
//!
//! Ours announce themselves with an ephemeral `polyglot/instances/{id}`
//! node, created before their instance node and deleted after it; a live
//! instance without one is a Java instance. Whoever of ours sees a Java
//! instance join or leave writes the time to `polyglot/java-seen`, so every
//! instance of ours, also one that joins later, knows since when catch-up
//! is safe. Java ignores the `polyglot` subtree.

use super::{now_millis, Inner};
use crate::error::{Error, Result};
use crate::registry::{CreateMode, Registry};
use crate::resolve::retry;
use crate::sharding::service::children_or_empty;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How long an instance without a mark must stay so before it counts as Java's.
const JAVA_CONFIRMATION: Duration = Duration::from_millis(500);

/// What this instance knows about Java instances in the job.
#[derive(Debug, Default)]
pub(super) struct JavaPeers {
    /// Live instances last seen, and whether each is a Java instance.
    known: BTreeMap<String, bool>,
    /// When a Java instance last joined or left (epoch ms; 0: never).
    seen_at: i64,
    /// Whether the instances were read at least once: until then nothing
    /// is caught up.
    read: bool,
}

impl JavaPeers {
    /// The earliest fire that may be caught up; `None` while a Java instance is present.
    pub(super) fn catch_up_from(&self) -> Option<i64> {
        (self.read && !self.known.values().any(|&java| java)).then_some(self.seen_at + 1)
    }

    /// Takes in the live instances and ours among them; returns whether a
    /// Java instance joined or left since the last look.
    fn update(&mut self, live: &[String], ours: &BTreeSet<String>, seen_at: i64) -> bool {
        let now: BTreeMap<String, bool> = live.iter().map(|id| (id.clone(), !ours.contains(id))).collect();
        let joined = now.iter().any(|(id, &java)| java && self.known.get(id) != Some(&true));
        let left = self.known.iter().any(|(id, &java)| java && !now.contains_key(id));
        self.known = now;
        self.seen_at = self.seen_at.max(seen_at);
        self.read = true;
        joined || left
    }
}

impl Inner {
    /// Marks this instance as ours, in this session, before its instance
    /// node exists. A mark left by an earlier session of ours is replaced:
    /// it would vanish when that session expires, and this instance would
    /// then look like Java's.
    pub(super) async fn announce_ours(&self, session: &dyn Registry) -> Result<()> {
        let path = self.paths.our_instance(self.instance.as_str());
        for _ in 0..3 {
            match retry(|| session.create_with_parents(&path, b"", CreateMode::Ephemeral)).await {
                Ok(_) => return Ok(()),
                Err(Error::NodeExists(_)) => {}
                Err(e) => return Err(e),
            }
            let Some(stat) = retry(|| session.exists(&path)).await? else { continue };
            if stat.ephemeral_owner == session.session_id() {
                return Ok(());
            }
            match retry(|| session.delete(&path, Some(stat.version))).await {
                Ok(()) | Err(Error::NoNode(_)) | Err(Error::BadVersion(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Err(Error::IllegalState(format!("could not mark instance `{}` as ours", self.instance)))
    }

    /// Removes this instance's mark, after its instance node.
    pub(super) async fn withdraw_ours(&self, session: &dyn Registry) {
        let path = self.paths.our_instance(self.instance.as_str());
        if let Err(e) = retry(|| session.delete(&path, None)).await {
            if !matches!(e, Error::NoNode(_)) {
                tracing::debug!(job = %self.job_name, "removing the polyglot mark failed, it goes with the session: {e}");
            }
        }
    }

    /// Re-reads which live instances are Java's; records a Java join or
    /// departure in `polyglot/java-seen`.
    pub(super) async fn refresh_java_peers(&self, session: &dyn Registry) -> Result<()> {
        let (mut live, mut ours) = self.read_instances(session).await?;
        let new_java = {
            let peers = self.java_peers.lock().unwrap_or_else(|p| p.into_inner());
            live.iter().any(|id| !ours.contains(id) && peers.known.get(id) != Some(&true))
        };
        if new_java {
            // One of ours whose session expired can look like Java for a
            // moment (its old nodes gone, its new mark not yet read); a Java
            // instance stays. Only what is Java in both readings counts.
            tokio::time::sleep(JAVA_CONFIRMATION).await;
            let (again, ours_again) = self.read_instances(session).await?;
            ours = ours_again.into_iter().chain(again.iter().filter(|id| ours.contains(*id)).cloned()).collect();
            live = again;
        }
        let path = self.paths.java_seen();
        let seen_at = retry(|| session.get_string(&path)).await?.and_then(|t| t.trim().parse().ok()).unwrap_or(0);
        let changed = self.java_peers.lock().unwrap_or_else(|p| p.into_inner()).update(&live, &ours, seen_at);
        if changed {
            let now = now_millis();
            let stamp = now.to_string();
            retry(|| session.put(&path, stamp.as_bytes())).await?;
            let mut peers = self.java_peers.lock().unwrap_or_else(|p| p.into_inner());
            peers.seen_at = peers.seen_at.max(now);
            let java: Vec<&String> = peers.known.iter().filter(|(_, &java)| java).map(|(id, _)| id).collect();
            tracing::info!(job = %self.job_name, ?java, "Java ElasticJob instances changed: fires from before now are not caught up");
        }
        Ok(())
    }

    /// The live instances and ours among them. A mark lives at least as
    /// long as its instance node (created before it, deleted after it), so
    /// instances read before and after the marks, and present both times,
    /// had their mark when the marks were read if they are ours: a join or
    /// a leave in between cannot make one of ours look like Java.
    pub(super) async fn read_instances(&self, session: &dyn Registry) -> Result<(Vec<String>, BTreeSet<String>)> {
        let instances = self.paths.instances();
        let mut live = retry(|| children_or_empty(session, &instances)).await?;
        let path = self.paths.our_instances();
        let ours: BTreeSet<String> = retry(|| children_or_empty(session, &path)).await?.into_iter().collect();
        if live.iter().any(|id| !ours.contains(id)) {
            let again: BTreeSet<String> = retry(|| children_or_empty(session, &instances)).await?.into_iter().collect();
            live.retain(|id| ours.contains(id) || again.contains(id));
        }
        Ok((live, ours))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn catch_up_is_off_while_java_is_present_and_starts_after_it_left() {
        let mut peers = JavaPeers::default();
        let ours: BTreeSet<String> = ids(&["a", "b"]).into_iter().collect();
        assert!(!peers.update(&ids(&["a", "b"]), &ours, 0), "no Java");
        assert_eq!(peers.catch_up_from(), Some(1));
        assert!(peers.update(&ids(&["a", "b", "java"]), &ours, 0), "Java joined");
        assert_eq!(peers.catch_up_from(), None);
        assert!(!peers.update(&ids(&["a", "b", "java"]), &ours, 500), "nothing new");
        assert!(peers.update(&ids(&["a", "b"]), &ours, 700), "Java left");
        assert_eq!(peers.catch_up_from(), Some(701));
        assert!(!peers.update(&ids(&["a"]), &ours, 700), "one of ours leaving is not Java's doing");
    }
}
