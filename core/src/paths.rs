//! The ZooKeeper node layout of one job, one function per node, as Apache
//! ElasticJob-Lite 3.x lays it out under `/{namespace}/{jobName}` (the
//! namespace is the registry's root, so paths here start at the job).

/// Paths of one job's nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPaths {
    root: String,
}

impl JobPaths {
    /// The layout of `job_name`.
    pub fn new(job_name: &str) -> Self {
        JobPaths { root: format!("/{job_name}") }
    }

    /// `/{job}`: the job's root.
    pub fn root(&self) -> &str {
        &self.root
    }

    fn under(&self, rest: &str) -> String {
        format!("{}/{rest}", self.root)
    }

    /// `config`: the job configuration as YAML.
    pub fn config(&self) -> String {
        self.under("config")
    }

    /// `instances`: one ephemeral child per live instance.
    pub fn instances(&self) -> String {
        self.under("instances")
    }

    /// `instances/{instanceId}`.
    pub fn instance(&self, instance_id: &str) -> String {
        self.under(&format!("instances/{instance_id}"))
    }

    /// `servers`: one persistent child per host IP.
    pub fn servers(&self) -> String {
        self.under("servers")
    }

    /// `servers/{ip}`: `DISABLED` disables every instance on the host.
    pub fn server(&self, ip: &str) -> String {
        self.under(&format!("servers/{ip}"))
    }

    /// `sharding`: one child per item.
    pub fn sharding(&self) -> String {
        self.under("sharding")
    }

    /// `sharding/{item}`.
    pub fn item(&self, item: u32) -> String {
        self.under(&format!("sharding/{item}"))
    }

    /// `sharding/{item}/instance`: the id of the instance that owns the item.
    pub fn item_instance(&self, item: u32) -> String {
        self.under(&format!("sharding/{item}/instance"))
    }

    /// `sharding/{item}/running`: present while the item runs.
    pub fn item_running(&self, item: u32) -> String {
        self.under(&format!("sharding/{item}/running"))
    }

    /// `sharding/{item}/misfire`: a fire came while the item was still running.
    pub fn item_misfire(&self, item: u32) -> String {
        self.under(&format!("sharding/{item}/misfire"))
    }

    /// `sharding/{item}/disabled`: the item is not run.
    pub fn item_disabled(&self, item: u32) -> String {
        self.under(&format!("sharding/{item}/disabled"))
    }

    /// `sharding/{item}/failover`: the instance running the item in place of a crashed one.
    pub fn item_failover(&self, item: u32) -> String {
        self.under(&format!("sharding/{item}/failover"))
    }

    /// `sharding/{item}/failovering`: persistent twin of `failover`, which
    /// Java ElasticJob reads to re-queue the items of a taker that crashed.
    pub fn item_failovering(&self, item: u32) -> String {
        self.under(&format!("sharding/{item}/failovering"))
    }

    /// `sharding/{item}/fired`: the last fire time (epoch ms) the item was started for.
    /// Our addition (Java ignores it): a compare-and-set on it makes every
    /// (item, fire) start at most once, even across resharding.
    pub fn item_fired(&self, item: u32) -> String {
        self.under(&format!("sharding/{item}/fired"))
    }

    /// `leader`: election, resharding flags and the failover queue.
    pub fn leader(&self) -> String {
        self.under("leader")
    }

    /// The subtrees an instance must follow (not `sharding`, whose churn
    /// every fire would otherwise reach every instance).
    pub fn watched(&self) -> [String; 6] {
        [self.config(), self.instances(), self.servers(), self.leader(), self.triggers(), self.polyglot()]
    }

    /// `leader/election/instance`: the leader's instance id (ephemeral).
    pub fn leader_instance(&self) -> String {
        self.under("leader/election/instance")
    }

    /// `leader/sharding`: parent of the resharding flags (its children's
    /// last change tells when a resharding last began or ended).
    pub fn sharding_flags(&self) -> String {
        self.under("leader/sharding")
    }

    /// `leader/sharding/necessary`: resharding is needed before the next fire.
    pub fn sharding_necessary(&self) -> String {
        self.under("leader/sharding/necessary")
    }

    /// `leader/sharding/processing`: the leader is resharding (ephemeral).
    pub fn sharding_processing(&self) -> String {
        self.under("leader/sharding/processing")
    }

    /// `leader/failover/items`: items of crashed instances waiting for a taker.
    pub fn failover_items(&self) -> String {
        self.under("leader/failover/items")
    }

    /// The Curator latch Java instances elect the leader under.
    pub fn election_latch(&self) -> String {
        self.under("leader/election/latch")
    }

    /// The Curator latch Java instances take failover items under.
    pub fn failover_latch(&self) -> String {
        self.under("leader/failover/latch")
    }

    /// `leader/failover/items/{item}`.
    pub fn failover_item(&self, item: u32) -> String {
        self.under(&format!("leader/failover/items/{item}"))
    }

    /// `trigger`: manual trigger requests.
    pub fn triggers(&self) -> String {
        self.under("trigger")
    }

    /// `trigger/{instanceId}`: asks that instance to run its items now.
    pub fn trigger(&self, instance_id: &str) -> String {
        self.under(&format!("trigger/{instance_id}"))
    }

    /// `guarantee/{phase}` (`started` or `completed`): one round of a
    /// distributed-once listener.
    pub fn guarantee(&self, phase: &str) -> String {
        self.under(&format!("guarantee/{phase}"))
    }

    /// `guarantee/{phase}/{item}`: the item reached that phase in the round.
    pub fn guarantee_item(&self, phase: &str, item: u32) -> String {
        self.under(&format!("guarantee/{phase}/{item}"))
    }

    /// `systemTime/current`: touched to read the registry's clock (its mtime).
    pub fn system_time(&self) -> String {
        self.under("systemTime/current")
    }

    /// `retries`: pending retries of failed runs, `{item}@{fireTime}` (ours; see [`crate::retries`]).
    pub fn retries(&self) -> String {
        self.under("retries")
    }

    /// `retries/{item}@{fireTime}`: one pending retry.
    pub fn retry(&self, item: u32, fire_time: i64) -> String {
        self.under(&format!("retries/{item}@{fire_time}"))
    }

    /// `polyglot`: nodes of ours that Java ElasticJob ignores.
    pub fn polyglot(&self) -> String {
        self.under("polyglot")
    }

    /// `polyglot/instances`: one ephemeral child per live instance of ours.
    pub fn our_instances(&self) -> String {
        self.under("polyglot/instances")
    }

    /// `polyglot/instances/{instanceId}`: says the instance is one of ours,
    /// not a Java ElasticJob instance.
    pub fn our_instance(&self, instance_id: &str) -> String {
        self.under(&format!("polyglot/instances/{instance_id}"))
    }

    /// `polyglot/stopped`: the id of an instance that left gracefully while
    /// it was the only live one. Every registration removes it, so with no
    /// live instance it tells a job that was stopped from one that crashed.
    pub fn stopped(&self) -> String {
        self.under("polyglot/stopped")
    }

    /// `polyglot/java-seen`: when (epoch ms) a Java instance last joined or
    /// left the job.
    pub fn java_seen(&self) -> String {
        self.under("polyglot/java-seen")
    }

    /// `polyglot/enabled-at`: when (epoch ms) an operator last enabled the
    /// job again (see [`crate::enablement`]).
    pub fn enabled_at(&self) -> String {
        self.under("polyglot/enabled-at")
    }

    /// `polyglot/paused`: the note of a pause in force (see [`crate::pause`]).
    pub fn paused(&self) -> String {
        self.under("polyglot/paused")
    }

    /// `polyglot/failed-fires`: the items' failure streaks (see [`crate::failure_streak`]).
    pub fn failed_fires_root(&self) -> String {
        self.under("polyglot/failed-fires")
    }

    /// `polyglot/failed-fires/{item}`: how many fires in a row the item failed.
    pub fn failed_fires(&self, item: u32) -> String {
        self.under(&format!("polyglot/failed-fires/{item}"))
    }

    /// `polyglot/dependents`: jobs that depend on this one (see [`crate::dependency`]).
    pub fn dependents(&self) -> String {
        self.under("polyglot/dependents")
    }

    /// `polyglot/dependents/{job}`: `job` depends on this one.
    pub fn dependent(&self, job: &str) -> String {
        self.under(&format!("polyglot/dependents/{job}"))
    }

    /// `polyglot/completions`: items' ended fires, while fires are not whole.
    pub fn completions(&self) -> String {
        self.under("polyglot/completions")
    }

    /// `polyglot/completions/{fireTime}`: one child per item whose fire ended.
    pub fn completions_of(&self, fire_time: i64) -> String {
        self.under(&format!("polyglot/completions/{fire_time}"))
    }

    /// `polyglot/fires-done`: fires that ended on every item.
    pub fn fires_done(&self) -> String {
        self.under("polyglot/fires-done")
    }

    /// `polyglot/fires-done/{fireTime}`: the fire ended on every item; data: its outcome.
    pub fn fire_done(&self, fire_time: i64) -> String {
        self.under(&format!("polyglot/fires-done/{fire_time}"))
    }

    /// `polyglot/backfills`: operators' backfill requests (see [`crate::backfill`]).
    pub fn backfills(&self) -> String {
        self.under("polyglot/backfills")
    }

    /// `polyglot/backfills/{id}`: one backfill request.
    pub fn backfill(&self, id: &str) -> String {
        self.under(&format!("polyglot/backfills/{id}"))
    }

    /// `polyglot/backfills/{id}/{item}`: the item's progress in that backfill.
    pub fn backfill_item(&self, id: &str, item: u32) -> String {
        self.under(&format!("polyglot/backfills/{id}/{item}"))
    }

    /// `polyglot/backfill-runs/{item}`: the backfill fire the item's last
    /// backfill start was for (written by that start).
    pub fn backfill_run(&self, item: u32) -> String {
        self.under(&format!("polyglot/backfill-runs/{item}"))
    }

    /// What a path inside the job is about, for routing watch events.
    pub fn classify<'a>(&self, path: &'a str) -> Option<JobNode<'a>> {
        let rest = path.strip_prefix(self.root.as_str())?.strip_prefix('/')?;
        let parts: Vec<&str> = rest.split('/').collect();
        Some(match parts.as_slice() {
            ["config"] => JobNode::Config,
            ["instances", id] => JobNode::Instance(id),
            ["servers", ip] => JobNode::Server(ip),
            ["sharding", item, leaf] => match item.parse() {
                Ok(item) => JobNode::Item(item, leaf),
                Err(_) => return None,
            },
            ["leader", "election", "instance"] => JobNode::Leader,
            ["leader", "sharding", "necessary"] => JobNode::ShardingNecessary,
            ["leader", "sharding", "processing"] => JobNode::ShardingProcessing,
            ["leader", "failover", "items", item] => JobNode::FailoverItem(item.parse().ok()?),
            ["trigger", id] => JobNode::Trigger(id),
            ["polyglot", "instances", id] => JobNode::OurInstance(id),
            ["polyglot", "java-seen"] => JobNode::JavaSeen,
            ["polyglot", "enabled-at"] => JobNode::EnabledAt,
            ["polyglot", "paused"] => JobNode::Paused,
            ["polyglot", "dependents", job] => JobNode::Dependent(job),
            ["polyglot", "backfills", id] => JobNode::Backfill(id),
            _ => return None,
        })
    }
}

/// A node of the job layout, as recognised by [`JobPaths::classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobNode<'a> {
    /// `config`.
    Config,
    /// `instances/{id}`.
    Instance(&'a str),
    /// `servers/{ip}`.
    Server(&'a str),
    /// `sharding/{item}/{leaf}`.
    Item(u32, &'a str),
    /// `leader/election/instance`.
    Leader,
    /// `leader/sharding/necessary`.
    ShardingNecessary,
    /// `leader/sharding/processing`.
    ShardingProcessing,
    /// `leader/failover/items/{item}`.
    FailoverItem(u32),
    /// `trigger/{instanceId}`.
    Trigger(&'a str),
    /// `polyglot/instances/{instanceId}`.
    OurInstance(&'a str),
    /// `polyglot/java-seen`.
    JavaSeen,
    /// `polyglot/enabled-at`.
    EnabledAt,
    /// `polyglot/paused`.
    Paused,
    /// `polyglot/dependents/{job}`.
    Dependent(&'a str),
    /// `polyglot/backfills/{id}`.
    Backfill(&'a str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_elasticjob() {
        let p = JobPaths::new("orders");
        assert_eq!(p.config(), "/orders/config");
        assert_eq!(p.instance("10.0.0.1@-@42"), "/orders/instances/10.0.0.1@-@42");
        assert_eq!(p.item_running(3), "/orders/sharding/3/running");
        assert_eq!(p.leader_instance(), "/orders/leader/election/instance");
        assert_eq!(p.failover_item(7), "/orders/leader/failover/items/7");
        assert_eq!(p.trigger("a@-@1"), "/orders/trigger/a@-@1");
    }

    #[test]
    fn classifies_event_paths() {
        let p = JobPaths::new("orders");
        assert_eq!(p.classify("/orders/sharding/12/running"), Some(JobNode::Item(12, "running")));
        assert_eq!(p.classify("/orders/instances/x@-@1"), Some(JobNode::Instance("x@-@1")));
        assert_eq!(p.classify("/orders/leader/election/instance"), Some(JobNode::Leader));
        assert_eq!(p.classify("/orders/config"), Some(JobNode::Config));
        assert_eq!(p.classify("/other/config"), None);
        assert_eq!(p.classify("/orders/sharding/x/running"), None);
        assert_eq!(p.classify("/orders"), None);
    }
}
