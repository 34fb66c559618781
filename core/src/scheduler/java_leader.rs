//! Making up for a Java leader's resharding race. Java ElasticJob 3.0.4's
//! leader (`ShardingService.shardingIfNecessary`) reads the instance list
//! first, then waits for running items, then writes the assignment and
//! deletes `necessary` in one transaction. An instance that joins (or
//! leaves) during that wait raises a flag the transaction takes down, and
//! the assignment was computed without it: the newcomer owns nothing, or a
//! departed instance keeps items nobody runs, until the next change of
//! members. Our own leader reads the instances after marking the resharding
//! under way and writes only under the flag's version, so it has no such
//! window (`sharding::finish`).
//!
//! After every resharding a Java leader completes, each instance of ours
//! looks at the outcome: if it is available but left without items though
//! the job has at least as many items as available instances (each
//! built-in strategy then gives everyone one), or an item belongs to an
//! instance that is gone, it raises the flag again. The same complaint is
//! not made twice in a row (same live instances, same fault): a leader
//! that keeps giving the same answer is not asked forever. Jobs with
//! `staticSharding` (whose assignment must not follow the members) or a
//! user's strategy are left alone.

use super::Inner;
use crate::error::Result;
use crate::registry::Registry;
use crate::resolve::retry;
use crate::sharding::service as sharding;
use crate::sharding::ShardingAlgorithm;
use std::collections::BTreeSet;

/// What an instance of ours found wrong with a Java leader's assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Complaint {
    /// The live instances when it was found.
    live: BTreeSet<String>,
    /// This instance was left without items.
    left_out: bool,
    /// Owners of items that are not live.
    gone_owners: BTreeSet<String>,
}

impl Complaint {
    /// Judges an assignment: `available` are the live instances whose host
    /// is enabled, `owners` each item's owner (`None`: no owner node).
    /// `None` when nothing is wrong.
    fn judge(me: &str, live: &[String], available: &[String], owners: &[Option<String>]) -> Option<Complaint> {
        let left_out = available.iter().any(|id| id == me)
            && owners.len() >= available.len()
            && !owners.iter().any(|owner| owner.as_deref() == Some(me));
        let gone_owners: BTreeSet<String> =
            owners.iter().flatten().filter(|owner| !live.contains(*owner)).cloned().collect();
        (left_out || !gone_owners.is_empty()).then(|| Complaint { live: live.iter().cloned().collect(), left_out, gone_owners })
    }
}

impl Inner {
    /// After a resharding completed: when a Java instance leads and its
    /// assignment left this instance out or kept a departed owner, flags a
    /// resharding again (see the module's doc).
    pub(super) async fn check_a_java_leaders_assignment(&self, session: &dyn Registry) -> Result<()> {
        let config = self.config();
        if self.stopping() || config.static_sharding || ShardingAlgorithm::from_type_name(config.sharding_strategy_type()).is_none() {
            // A static assignment stays as it is whoever comes or goes, and a
            // user's strategy may leave an instance out on purpose.
            return Ok(());
        }
        let Some(leader) = retry(|| crate::election::leader(session, &self.paths)).await? else { return Ok(()) };
        let (live, ours) = self.read_instances(session).await?;
        if ours.contains(&leader) || !live.contains(&leader) || retry(|| sharding::is_pending(session, &self.paths)).await? {
            // Our own leader has no such race; a leader about to change, or a
            // resharding to come, settles it anyway.
            return Ok(());
        }
        let available = retry(|| sharding::available_instances(session, &self.paths)).await?;
        let count = self.item_count();
        let owners: Vec<Option<String>> = retry(|| sharding::owners(session, &self.paths, count))
            .await?
            .into_iter()
            .map(|(_, owner)| owner.map(|(id, _)| id))
            .collect();
        let complaint = Complaint::judge(self.instance.as_str(), &live, &available, &owners);
        {
            let mut last = self.java_leader_complaint.lock().unwrap_or_else(|p| p.into_inner());
            if *last == complaint {
                return Ok(());
            }
            last.clone_from(&complaint);
        }
        let Some(complaint) = complaint else { return Ok(()) };
        tracing::warn!(
            job = %self.job_name,
            %leader,
            left_out = complaint.left_out,
            gone_owners = ?complaint.gone_owners,
            "the Java leader's resharding missed a change of instances (it read them before waiting for running items): asking for another"
        );
        retry(|| sharding::set_necessary(session, &self.paths)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn owned(list: &[&str]) -> Vec<Option<String>> {
        list.iter().map(|s| (!s.is_empty()).then(|| s.to_string())).collect()
    }

    #[test]
    fn an_available_instance_without_items_is_left_out_only_with_enough_items() {
        let live = ids(&["java", "a", "b"]);
        let complaint = Complaint::judge("b", &live, &live, &owned(&["java", "java", "a", "a"])).expect("b left out");
        assert!(complaint.left_out && complaint.gone_owners.is_empty());
        assert_eq!(Complaint::judge("a", &live, &live, &owned(&["java", "java", "a", "a"])), None, "a has items");
        assert_eq!(Complaint::judge("b", &live, &live, &owned(&["java", "a"])), None, "fewer items than instances");
        assert_eq!(Complaint::judge("b", &live, &ids(&["java", "a"]), &owned(&["java", "java", "a"])), None, "b's host is disabled");
    }

    #[test]
    fn an_item_of_a_departed_instance_is_complained_about_by_everyone() {
        let live = ids(&["java", "a"]);
        let complaint = Complaint::judge("a", &live, &live, &owned(&["java", "a", "gone", ""])).expect("gone owns an item");
        assert!(!complaint.left_out);
        assert_eq!(complaint.gone_owners, ["gone".to_string()].into_iter().collect());
    }
}
