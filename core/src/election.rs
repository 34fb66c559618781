//! Leader election. The leader is whoever holds the ephemeral
//! `leader/election/instance` node; creating it is the election, its
//! disappearance (leader gone or resigned) starts the next one. Java
//! ElasticJob checks for a leader and then writes itself in (deleting what
//! is there) inside the Curator latch `leader/election/latch`; ours creates
//! atomically, and also inside that latch, so that no Java instance can
//! write itself over a leader of ours between its check and its write.

use crate::error::{Error, Result};
use crate::latch;
use crate::paths::JobPaths;
use crate::registry::{CreateMode, Registry};

/// The current leader's instance id, if any.
pub async fn leader(registry: &dyn Registry, paths: &JobPaths) -> Result<Option<String>> {
    registry.get_string(&paths.leader_instance()).await
}

/// Tries to become leader; returns whether this instance is the leader now.
pub async fn elect(registry: &dyn Registry, paths: &JobPaths, instance_id: &str) -> Result<bool> {
    let held = latch::acquire(registry, &paths.election_latch(), 2 * registry.session_timeout()).await?;
    let elected =
        match registry.create_with_parents(&paths.leader_instance(), instance_id.as_bytes(), CreateMode::Ephemeral).await {
            Ok(_) => Ok(true),
            Err(Error::NodeExists(_)) => leader(registry, paths).await.map(|leader| leader.as_deref() == Some(instance_id)),
            Err(e) => Err(e),
        };
    held.release(registry).await;
    elected
}

/// Gives up leadership if this instance holds it.
pub async fn resign(registry: &dyn Registry, paths: &JobPaths, instance_id: &str) -> Result<()> {
    if let Some((data, stat)) = registry.get(&paths.leader_instance()).await? {
        if data == instance_id.as_bytes() {
            match registry.delete(&paths.leader_instance(), Some(stat.version)).await {
                Ok(()) | Err(Error::NoNode(_)) | Err(Error::BadVersion(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::EmbeddedServer;

    #[tokio::test]
    async fn one_leader_and_re_election_when_it_goes() {
        let server = EmbeddedServer::new();
        let (a, b) = (server.connect("ns").unwrap(), server.connect("ns").unwrap());
        let paths = JobPaths::new("job");
        assert!(elect(&a, &paths, "a@-@1").await.unwrap());
        assert!(!elect(&b, &paths, "b@-@2").await.unwrap());
        assert!(elect(&a, &paths, "a@-@1").await.unwrap(), "re-electing the holder keeps it");
        server.expire(a.session_id());
        assert!(elect(&b, &paths, "b@-@2").await.unwrap());
        assert_eq!(leader(&b, &paths).await.unwrap().as_deref(), Some("b@-@2"));
        resign(&b, &paths, "b@-@2").await.unwrap();
        assert_eq!(leader(&b, &paths).await.unwrap(), None);
    }
}
