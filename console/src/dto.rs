//! The JSON shapes of jobs, instances, items and registry nodes: one
//! definition for the console's API and `ejob … --json`, so scripts and
//! the browser read the same fields (snake_case, like `ejob history --json`).

use elasticjob::cron::CronSchedule;
use elasticjob::operate::{InstanceBrief, ItemBrief, JobBrief};
use elasticjob::{Backfill, PauseNote};
use serde::Serialize;

/// A job of the namespace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobJson {
    /// Its name.
    pub job_name: String,
    /// `OK`, `CRASHED`, `DISABLED` or `SHARDING_FLAG`, as Java ElasticJob
    /// names them, or ours `STOPPED` (no live instance; the last one shut
    /// down) and `PAUSED`.
    pub status: &'static str,
    /// Live instances.
    pub instance_count: usize,
    /// Items.
    pub sharding_total_count: u32,
    /// The cron expression (empty: trigger only).
    pub cron: String,
    /// The cron's time zone, if set.
    pub time_zone: Option<String>,
    /// The next fire after now, epoch milliseconds, when there is one.
    pub next_fire_time: Option<i64>,
    /// Free text.
    pub description: String,
    /// Whether items of lost instances are re-run by survivors.
    pub failover: bool,
    /// Whether a fire that comes while items still run is run afterwards.
    pub misfire: bool,
    /// Whether the configuration starts instances disabled.
    pub disabled: bool,
    /// The note of a pause in force (`by`, `reason`, `at`, `until`), if paused.
    pub pause: Option<PauseNote>,
}

impl JobJson {
    /// The JSON of `job`, with its next fire after `now_millis`.
    pub fn of(job: &JobBrief, now_millis: i64) -> Self {
        let config = &job.config;
        JobJson {
            job_name: config.job_name.clone(),
            status: job.status.as_str(),
            instance_count: job.instance_count,
            sharding_total_count: config.sharding_total_count,
            cron: config.cron.clone(),
            time_zone: config.time_zone.clone(),
            next_fire_time: next_fire(&config.cron, config.time_zone.as_deref(), now_millis),
            description: config.description.clone(),
            failover: config.failover,
            misfire: config.misfire,
            disabled: config.disabled,
            pause: job.pause.clone(),
        }
    }
}

/// The first fire of `cron` after `now_millis`, epoch milliseconds.
pub fn next_fire(cron: &str, time_zone: Option<&str>, now_millis: i64) -> Option<i64> {
    if cron.trim().is_empty() {
        return None;
    }
    let schedule = CronSchedule::parse(cron, time_zone).ok()?;
    let now = chrono::DateTime::from_timestamp_millis(now_millis)?;
    schedule.next_after(now).map(|t| t.timestamp_millis())
}

/// A live instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceJson {
    /// `{ip}@-@{pid}`.
    pub instance_id: String,
    /// Its host.
    pub server_ip: String,
    /// Whether it is the job's leader.
    pub leader: bool,
    /// Whether its host is enabled for the job.
    pub enabled: bool,
}

impl From<&InstanceBrief> for InstanceJson {
    fn from(i: &InstanceBrief) -> Self {
        InstanceJson {
            instance_id: i.instance_id.clone(),
            server_ip: i.server_ip.clone(),
            leader: i.leader,
            enabled: i.enabled,
        }
    }
}

/// An item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemJson {
    /// The item number.
    pub item: u32,
    /// Its owner, if assigned.
    pub instance_id: Option<String>,
    /// `RUNNING`, `PENDING`, `DISABLED` or `SHARDING_FLAG`.
    pub state: &'static str,
    /// The instance running it in place of a lost one.
    pub failover_instance: Option<String>,
    /// The fire it runs for, when running, epoch milliseconds.
    pub running_fire: Option<i64>,
}

impl From<&ItemBrief> for ItemJson {
    fn from(i: &ItemBrief) -> Self {
        ItemJson {
            item: i.item,
            instance_id: i.instance_id.clone(),
            state: i.state.as_str(),
            failover_instance: i.failover_instance.clone(),
            running_fire: i.running_fire,
        }
    }
}

/// A backfill and how far it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackfillJson {
    /// Its id.
    pub id: String,
    /// The range's start, epoch milliseconds.
    pub from: i64,
    /// The range's end (excluded), epoch milliseconds.
    pub to: i64,
    /// Who asked.
    pub by: String,
    /// When, epoch milliseconds.
    pub at: i64,
    /// What a fire does to an item still running: `BUFFER_ALL` (waits) or `SKIP`.
    pub overlap: &'static str,
    /// The fires it covers.
    pub fires: usize,
    /// (item, fire) runs started so far.
    pub started: usize,
    /// (item, fire) runs in all.
    pub total: usize,
    /// Every item started every fire.
    pub done: bool,
}

impl From<&Backfill> for BackfillJson {
    fn from(b: &Backfill) -> Self {
        let (started, total) = b.started();
        BackfillJson {
            id: b.id.clone(),
            from: b.request.from,
            to: b.request.to,
            by: b.request.by.clone(),
            at: b.request.at,
            overlap: b.request.overlap.as_str(),
            fires: b.fires.len(),
            started,
            total,
            done: b.is_done(),
        }
    }
}

/// A server (host) of a job, live or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerJson {
    /// Its IP address.
    pub ip: String,
    /// Whether the job is enabled on it.
    pub enabled: bool,
    /// Live instances on it.
    pub instance_count: usize,
}

/// A registry node of `ejob dump --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeJson {
    /// Its path inside the namespace.
    pub path: String,
    /// Its data as text.
    pub data: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_fire_follows_the_cron_and_zone() {
        let now = 1_700_000_000_123; // 2023-11-14T22:13:20.123Z
        assert_eq!(
            next_fire("0/5 * * * * ?", None, now),
            Some(1_700_000_005_000)
        );
        assert_eq!(
            next_fire("0 0 0 * * ?", Some("GMT+08:00"), now),
            Some(1_700_064_000_000)
        );
        assert_eq!(next_fire("", None, now), None);
        assert_eq!(next_fire("nonsense", None, now), None);
    }
}
