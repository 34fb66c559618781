//! Backfill: running a job for the cron fires of a past time range (our
//! extension to ElasticJob; Temporal's schedule backfill), the registry side.
//!
//! An operator's request is `polyglot/backfills/{id}` ({from, to, by, at};
//! ids are sequential). Every fire of the job's cron in `[from, to)` runs
//! once on every item, oldest first per item, on the instance that owns the
//! item ([`crate::scheduler`] drives it). Each item's progress is its own
//! node, `polyglot/backfills/{id}/{item}`: the next fire it is due to start
//! (absent: the first of the range), or `done`. A backfill run's start moves
//! it on in the transaction that creates the item's `running` mark, so each
//! (backfill, item, fire) starts at most once cluster-wide, whoever owns
//! the item meanwhile (the fence, like `fired` for cron fires).
//!
//! A backfill run is a run of the item like any other: it holds the item's
//! mark, so a cron fire that finds it busy applies the job's overlap policy,
//! and a resharding waits for it. A backfill has its own overlap policy for
//! an item that is busy when a fire's turn comes: wait for it (`BUFFER_ALL`,
//! the default) or leave that fire out for the item (`SKIP`). The same start writes
//! `polyglot/backfill-runs/{item}` (the backfill and its fire): if the runner
//! crashes, failover sees that this node was written by the start that
//! created the orphaned mark, and re-runs the item for that backfill fire,
//! not for the item's last cron fire (at-least-once, as any failover).

use crate::config::JobConfig;
use crate::cron::CronSchedule;
use crate::error::{Error, Result};
use crate::overlap::OverlapPolicy;
use crate::paths::JobPaths;
use crate::registry::{CreateMode, Registry, Stat};
use crate::resolve::retry;
use chrono::{DateTime, Utc};

/// The most fires one backfill may cover: a typo in a range must not queue
/// a million runs.
pub const MAX_FIRES: usize = 10_000;

/// An operator's backfill request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillRequest {
    /// The range's start (epoch ms, included).
    pub from: i64,
    /// The range's end (epoch ms, excluded).
    pub to: i64,
    /// Who asked.
    pub by: String,
    /// When (epoch ms).
    pub at: i64,
    /// What a fire does to an item that is busy when its turn comes:
    /// `BUFFER_ALL` (the default) waits for it, so every fire runs; `SKIP`
    /// leaves that fire out for the item, whose next turn waits until it is
    /// free (one skipped fire per busy spell).
    #[serde(default = "waits", with = "overlap_name")]
    pub overlap: OverlapPolicy,
}

fn waits() -> OverlapPolicy {
    OverlapPolicy::BufferAll
}

/// A backfill's overlap policy as its name in the request's JSON.
mod overlap_name {
    use crate::overlap::OverlapPolicy;

    pub fn serialize<S: serde::Serializer>(policy: &OverlapPolicy, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(policy.as_str())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<OverlapPolicy, D::Error> {
        let name: String = serde::Deserialize::deserialize(deserializer)?;
        OverlapPolicy::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// The overlap policies a backfill takes (see [`BackfillRequest::overlap`]).
pub fn check_overlap(policy: OverlapPolicy) -> Result<OverlapPolicy> {
    match policy {
        OverlapPolicy::BufferAll | OverlapPolicy::Skip => Ok(policy),
        other => Err(Error::invalid("overlap", other.as_str(), "a backfill's overlap policy is BUFFER_ALL (wait for a busy item) or SKIP")),
    }
}

/// Where one item stands in a backfill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The next fire it is due to start.
    Next(i64),
    /// Every fire of the range started for it.
    Done,
}

impl Progress {
    fn parse(data: &[u8]) -> Option<Progress> {
        match std::str::from_utf8(data).ok()?.trim() {
            "done" => Some(Progress::Done),
            text => text.parse().ok().map(Progress::Next),
        }
    }

    /// The node's data.
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            Progress::Next(time) => time.to_string().into_bytes(),
            Progress::Done => b"done".to_vec(),
        }
    }
}

/// A backfill with its fires and each item's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backfill {
    /// Its id (the node's name).
    pub id: String,
    /// What was asked.
    pub request: BackfillRequest,
    /// The fires it covers, oldest first.
    pub fires: Vec<i64>,
    /// Each item's progress, by item (`0..shardingTotalCount`).
    pub items: Vec<Progress>,
}

impl Backfill {
    /// How many (item, fire) runs have started, of how many.
    pub fn started(&self) -> (usize, usize) {
        let started = self
            .items
            .iter()
            .map(|progress| match progress {
                Progress::Done => self.fires.len(),
                Progress::Next(next) => self.fires.iter().filter(|&&t| t < *next).count(),
            })
            .sum();
        (started, self.fires.len() * self.items.len())
    }

    /// Whether every item started every fire.
    pub fn is_done(&self) -> bool {
        self.items.iter().all(|p| *p == Progress::Done)
    }
}

/// The fires of `config`'s cron in `[from, to)`, ignoring the schedule's
/// start/end bounds (a backfill names its own range). Refused, naming the
/// value: a job without a cron, an empty or inverted range, a range ending
/// in the future (`now`), or one of more than [`MAX_FIRES`] fires.
pub fn fires(config: &JobConfig, from: i64, to: i64, now: i64) -> Result<Vec<i64>> {
    if config.cron.trim().is_empty() {
        return Err(Error::invalid("cron", &config.cron, "a backfill needs the job's cron (this job has none)"));
    }
    if to <= from {
        return Err(Error::invalid("to", &show(to), format!("must be after from ({})", show(from))));
    }
    if to > now {
        return Err(Error::invalid("to", &show(to), "must not be in the future: the schedule runs those fires"));
    }
    let cron = CronSchedule::parse(&config.cron, config.time_zone.as_deref())?;
    let mut fires = Vec::new();
    let mut after = DateTime::<Utc>::from_timestamp_millis(from - 1).unwrap_or_default();
    while let Some(next) = cron.next_after(after) {
        let time = next.timestamp_millis();
        if time >= to {
            break;
        }
        if fires.len() == MAX_FIRES {
            return Err(Error::invalid("to", &show(to), format!("the range holds more than {MAX_FIRES} fires of `{}`", config.cron)));
        }
        fires.push(time);
        after = next;
    }
    if fires.is_empty() {
        return Err(Error::invalid("from", &show(from), format!("no fire of `{}` falls before {}", config.cron, show(to))));
    }
    Ok(fires)
}

/// Reads one end of a range as an operator types it: an RFC 3339 instant,
/// `now`, or a duration ago (`90s`, `30m`, `6h`, `2d`). An unreadable one is
/// an error naming `field` and the text.
pub fn parse_instant(field: &str, text: &str, now: i64) -> Result<i64> {
    let text = text.trim();
    if text == "now" {
        return Ok(now);
    }
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.timestamp_millis());
    }
    let ago = |suffix: char, unit: i64| -> Option<i64> {
        let number: i64 = text.strip_suffix(suffix)?.trim().parse().ok().filter(|&n| n >= 0)?;
        now.checked_sub(number.checked_mul(unit)?)
    };
    [('s', 1_000), ('m', 60_000), ('h', 3_600_000), ('d', 86_400_000)].into_iter().find_map(|(s, unit)| ago(s, unit)).ok_or_else(|| {
        Error::invalid(field, text, "must be an RFC 3339 instant (2027-01-01T09:00:00Z), `now`, or a duration ago such as 90s, 30m, 6h or 2d")
    })
}

/// A time as RFC 3339, for messages and listings.
pub fn show(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis).map_or(millis.to_string(), |t| t.to_rfc3339())
}

/// Records a backfill request (checked against `config` first); returns its id.
pub async fn request(registry: &dyn Registry, paths: &JobPaths, config: &JobConfig, request: &BackfillRequest) -> Result<String> {
    if request.by.trim().is_empty() {
        return Err(Error::invalid("by", &request.by, "must name who asks for the backfill"));
    }
    fires(config, request.from, request.to, request.at)?;
    check_overlap(request.overlap)?;
    let data = serde_json::to_vec(request).expect("a backfill request serializes");
    let root = paths.backfills();
    retry(|| registry.ensure_path(&root)).await?;
    // Not retried: a lost answer must not record the request twice.
    let created = registry.create(&paths.backfill("bf-"), &data, CreateMode::PersistentSequential).await?;
    Ok(created.rsplit('/').next().unwrap_or_default().to_string())
}

/// The backfills recorded for the job, oldest first, with their progress
/// over `config`'s cron and items.
pub async fn list(registry: &dyn Registry, paths: &JobPaths, config: &JobConfig) -> Result<Vec<Backfill>> {
    let root = paths.backfills();
    let mut ids = match retry(|| registry.children(&root)).await {
        Ok(ids) => ids,
        Err(Error::NoNode(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    ids.sort();
    let mut found = Vec::new();
    for id in ids {
        if let Some(backfill) = read(registry, paths, config, &id).await? {
            found.push(backfill);
        }
    }
    Ok(found)
}

/// One backfill, if it is still recorded.
pub async fn read(registry: &dyn Registry, paths: &JobPaths, config: &JobConfig, id: &str) -> Result<Option<Backfill>> {
    let path = paths.backfill(id);
    let Some((data, _)) = retry(|| registry.get(&path)).await? else { return Ok(None) };
    let request: BackfillRequest = serde_json::from_slice(&data).map_err(|e| {
        Error::invalid(&format!("polyglot/backfills/{id}"), &String::from_utf8_lossy(&data), format!("is not a backfill request ({e})"))
    })?;
    // The range was checked when it was asked for: only the cron may have changed since.
    let fires = fires(config, request.from, request.to, request.to).unwrap_or_default();
    let items: Vec<u32> = (0..config.item_count()).collect();
    let progress = progress_of(registry, paths, id, &items).await?;
    let items = progress.into_iter().map(|found| found.map_or_else(|| first(&fires), |(progress, _)| progress)).collect();
    Ok(Some(Backfill { id: id.to_string(), request, fires, items }))
}

/// A backfill's id from its sequence number (ZooKeeper's ten digits).
pub fn id_of(seq: u64) -> String {
    format!("bf-{seq:010}")
}

/// The sequence number of a backfill id, if it is one.
pub fn seq_of(id: &str) -> Option<u64> {
    id.strip_prefix("bf-")?.parse().ok()
}

/// Where an item with no progress node stands: at the first fire.
pub fn first(fires: &[i64]) -> Progress {
    fires.first().map_or(Progress::Done, |&t| Progress::Next(t))
}

/// The progress nodes of `items` (`None`: not started yet), with their stats.
pub async fn progress_of(registry: &dyn Registry, paths: &JobPaths, id: &str, items: &[u32]) -> Result<Vec<Option<(Progress, Stat)>>> {
    let nodes: Vec<String> = items.iter().map(|&item| paths.backfill_item(id, item)).collect();
    let found = retry(|| registry.get_many(&nodes)).await?;
    Ok(found.into_iter().map(|node| node.and_then(|(data, stat)| Progress::parse(&data).map(|p| (p, stat)))).collect())
}

/// Where an item goes once `fire` started: the next fire of the range, or done.
pub fn after(fires: &[i64], fire: i64) -> Progress {
    fires.iter().copied().find(|&t| t > fire).map_or(Progress::Done, Progress::Next)
}

/// Moves `item` past `fire` without running it (`SKIP` found it busy),
/// unless its progress moved meanwhile.
pub async fn skip(registry: &dyn Registry, paths: &JobPaths, id: &str, item: u32, fire: i64, fires: &[i64]) -> Result<()> {
    let path = paths.backfill_item(id, item);
    let next = after(fires, fire).to_bytes();
    let written = match retry(|| registry.get(&path)).await? {
        None if fires.first() == Some(&fire) => registry.create(&path, &next, CreateMode::Persistent).await.map(drop),
        Some((data, stat)) if data == fire.to_string().as_bytes() => registry.set(&path, &next, Some(stat.version)).await.map(drop),
        _ => return Ok(()),
    };
    match written {
        Ok(()) | Err(Error::NodeExists(_)) | Err(Error::BadVersion(_)) | Err(Error::NoNode(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes a backfill: its runs in flight finish, no more start.
pub async fn cancel(registry: &dyn Registry, paths: &JobPaths, id: &str) -> Result<()> {
    let path = paths.backfill(id);
    if retry(|| registry.exists(&path)).await?.is_none() {
        return Err(Error::invalid("id", id, "is not a backfill of this job"));
    }
    match retry(|| registry.delete_recursive(&path)).await {
        Ok(()) | Err(Error::NoNode(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The backfill fire a start stands for, if that start (its transaction
/// id: the `running` mark's creation, or without marks the token node's
/// update) wrote `polyglot/backfill-runs/{item}`: the fire failover must
/// re-run instead of the item's last cron fire.
pub async fn run_of_mark(registry: &dyn Registry, paths: &JobPaths, item: u32, start_zxid: i64) -> Result<Option<i64>> {
    let path = paths.backfill_run(item);
    let Some((data, stat)) = retry(|| registry.get(&path)).await? else { return Ok(None) };
    if stat.mzxid != start_zxid {
        return Ok(None);
    }
    Ok(String::from_utf8_lossy(&data).split_whitespace().nth(1).and_then(|t| t.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(cron: &str) -> JobConfig {
        JobConfig::new("nightly", cron, 2)
    }

    #[test]
    fn the_fires_of_a_range_are_its_crons_from_included_to_excluded() {
        let hourly = job("0 0 * * * ?");
        let from = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000; // on the hour
        let fires = fires(&hourly, from, from + 3 * 3_600_000, i64::MAX).unwrap();
        assert_eq!(fires, vec![from, from + 3_600_000, from + 7_200_000]);
        assert_eq!(after(&fires, from), Progress::Next(from + 3_600_000));
        assert_eq!(after(&fires, from + 7_200_000), Progress::Done);
    }

    #[test]
    fn bad_ranges_are_refused_naming_the_value() {
        let every_second = job("* * * * * ?");
        let refused = |from, to, now| fires(&every_second, from, to, now).unwrap_err().to_string();
        assert!(refused(2000, 1000, 5000).contains("must be after from"));
        assert!(refused(1000, 9000, 5000).contains("must not be in the future"));
        assert!(refused(0, 20_000_000, 30_000_000).contains("more than 10000 fires"));
        let none = fires(&job("0 0 0 1 1 ? 2099"), 1000, 2000, 5000).unwrap_err().to_string();
        assert!(none.contains("no fire of"), "{none}");
        let no_cron = fires(&job(""), 1000, 2000, 5000).unwrap_err().to_string();
        assert!(no_cron.contains("needs the job's cron"), "{no_cron}");
    }

    #[test]
    fn range_ends_read_as_instants_now_or_durations_ago() {
        let now = 10_000_000;
        assert_eq!(parse_instant("from", "2h", now).unwrap(), now - 7_200_000);
        assert_eq!(parse_instant("to", "now", now).unwrap(), now);
        assert_eq!(parse_instant("to", "1970-01-01T00:00:01Z", now).unwrap(), 1000);
        let bad = parse_instant("from", "yesterday", now).unwrap_err().to_string();
        assert!(bad.contains("invalid from `yesterday`"), "{bad}");
    }

    #[test]
    fn progress_counts_the_runs_started() {
        let backfill = Backfill {
            id: "bf-0000000001".into(),
            request: BackfillRequest { from: 0, to: 4000, by: "ops".into(), at: 5000, overlap: OverlapPolicy::Skip },
            fires: vec![0, 1000, 2000, 3000],
            items: vec![Progress::Done, Progress::Next(2000), Progress::Next(0)],
        };
        assert_eq!(backfill.started(), (6, 12));
        assert!(!backfill.is_done());
        assert_eq!(Progress::parse(&Progress::Next(2000).to_bytes()), Some(Progress::Next(2000)));
        assert_eq!(Progress::parse(b"done"), Some(Progress::Done));
        let json = serde_json::to_string(&backfill.request).unwrap();
        assert!(json.contains(r#""overlap":"SKIP""#), "{json}");
        assert_eq!(serde_json::from_str::<BackfillRequest>(&json).unwrap(), backfill.request);
        let older: BackfillRequest = serde_json::from_str(r#"{"from":0,"to":1,"by":"a","at":2}"#).unwrap();
        assert_eq!(older.overlap, OverlapPolicy::BufferAll, "waiting is the default");
        assert!(check_overlap(OverlapPolicy::CancelOther).unwrap_err().to_string().contains("invalid overlap `CANCEL_OTHER`"));
    }
}
