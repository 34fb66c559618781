//! Job dependencies (our extension to ElasticJob; XXL-JOB's child jobs,
//! a DAG's edges): the prop `dependsOn` names upstream jobs of the same
//! namespace. A dependent job has no cron of its own: its fire for an
//! upstream fire time `F` starts once every upstream job completed its
//! fire `F` on every item (each item's last attempt ended), with every
//! item succeeded unless `dependsOnOutcome` is `ANY`, and not later than
//! `dependsOnTimeoutSeconds` after `F` (else that fire is skipped, logged).
//!
//! All the state is in the registry, so upstream and dependent jobs may
//! run in different processes and languages:
//! - `{upstream}/polyglot/dependents/{job}`: written when a dependent job
//!   registers; an upstream job records completions only while it has one;
//! - `{upstream}/polyglot/completions/{F}/{outcome}-{item}`: one node per
//!   item whose fire `F` ended (`ok` or `failed`), created by its runner;
//! - `{upstream}/polyglot/fires-done/{F}`: the fire ended on every item;
//!   created by the runner whose completion made the count whole, with the
//!   fire's outcome. The dependent job's instances watch these.
//!
//! Cycles are refused when a job's configuration is registered or changed.

use crate::error::{Error, Result};
use crate::paths::JobPaths;
use crate::registry::{CreateMode, Registry};
use crate::resolve::retry;
use std::collections::{BTreeMap, BTreeSet};

/// Prop: the upstream jobs, comma-separated.
pub const DEPENDS_ON_PROP: &str = "dependsOn";
/// Prop: `SUCCESS` (default: every upstream item succeeded) or `ANY`.
pub const DEPENDS_ON_OUTCOME_PROP: &str = "dependsOnOutcome";
/// Prop: how long after an upstream fire its dependent fire may still start, in seconds.
pub const DEPENDS_ON_TIMEOUT_PROP: &str = "dependsOnTimeoutSeconds";
/// The default of `dependsOnTimeoutSeconds`: an hour.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 3600;
/// How many finished upstream fires are kept (and partial ones, pruned by age).
pub const KEPT_FIRES: usize = 20;

/// What a dependent job waits for, from its props.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependencies {
    /// The upstream jobs.
    pub upstream: Vec<String>,
    /// Whether failed upstream items still let the dependent fire run.
    pub any_outcome: bool,
    /// How late after the upstream fire the dependent fire may start.
    pub timeout_ms: i64,
}

impl Dependencies {
    /// Reads the props of job `job_name`; `None` without `dependsOn`. An
    /// error names the prop and its value.
    pub fn from_props(job_name: &str, props: &BTreeMap<String, String>) -> Result<Option<Dependencies>> {
        let Some(value) = props.get(DEPENDS_ON_PROP) else { return Ok(None) };
        let upstream: Vec<String> = value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        if upstream.is_empty() {
            return Err(Error::invalid(DEPENDS_ON_PROP, value, "must name at least one upstream job"));
        }
        for name in &upstream {
            if name.contains('/') || name == job_name {
                return Err(Error::invalid(DEPENDS_ON_PROP, value, format!("`{name}` is not another job's name")));
            }
        }
        let any_outcome = match props.get(DEPENDS_ON_OUTCOME_PROP).map(|v| v.trim().to_ascii_uppercase()) {
            None => false,
            Some(v) if v == "SUCCESS" => false,
            Some(v) if v == "ANY" => true,
            Some(_) => {
                return Err(Error::invalid(DEPENDS_ON_OUTCOME_PROP, &props[DEPENDS_ON_OUTCOME_PROP], "must be SUCCESS or ANY"))
            }
        };
        let timeout_s = match props.get(DEPENDS_ON_TIMEOUT_PROP) {
            None => DEFAULT_TIMEOUT_SECONDS,
            Some(v) => v.trim().parse::<u64>().ok().filter(|&s| (1..=7 * 86_400).contains(&s)).ok_or_else(|| {
                Error::invalid(DEPENDS_ON_TIMEOUT_PROP, v, "must be a whole number of seconds from 1 to 604800 (7 days)")
            })?,
        };
        Ok(Some(Dependencies { upstream, any_outcome, timeout_ms: timeout_s as i64 * 1000 }))
    }
}

/// How an upstream fire ended on all its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireOutcome {
    /// Every item succeeded.
    Succeeded,
    /// At least one item's last attempt failed.
    Failed,
}

impl FireOutcome {
    fn as_str(self) -> &'static str {
        match self {
            FireOutcome::Succeeded => "SUCCEEDED",
            FireOutcome::Failed => "FAILED",
        }
    }

    fn parse(data: &[u8]) -> FireOutcome {
        match data {
            b"SUCCEEDED" => FireOutcome::Succeeded,
            _ => FireOutcome::Failed,
        }
    }
}

/// Marks `dependent` as a dependent of `upstream`, so the upstream's runs record their completions.
pub async fn mark_dependent(session: &dyn Registry, upstream: &str, dependent: &str) -> Result<()> {
    let path = JobPaths::new(upstream).dependent(dependent);
    match retry(|| session.create_with_parents(&path, b"", CreateMode::Persistent)).await {
        Ok(_) | Err(Error::NodeExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether the job has a dependent job.
pub async fn has_dependents(session: &dyn Registry, paths: &JobPaths) -> Result<bool> {
    let root = paths.dependents();
    Ok(retry(|| session.exists(&root)).await?.is_some_and(|stat| stat.num_children > 0))
}

/// Records that items' fire `fire_time` ended (`true`: succeeded), and,
/// when that made the fire whole on all `item_count` items, that the fire
/// is done. Returns the fire's outcome when this call finished it.
pub async fn record_completions(
    session: &dyn Registry,
    paths: &JobPaths,
    fire_time: i64,
    ended: &[(u32, bool)],
    item_count: u32,
) -> Result<Option<FireOutcome>> {
    let fire_root = paths.completions_of(fire_time);
    for &(item, succeeded) in ended {
        let path = format!("{fire_root}/{}-{item}", if succeeded { "ok" } else { "failed" });
        match retry(|| session.create_with_parents(&path, b"", CreateMode::Persistent)).await {
            Ok(_) | Err(Error::NodeExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let names = retry(|| session.children(&fire_root)).await?;
    let items: BTreeSet<&str> = names.iter().filter_map(|n| n.split_once('-').map(|(_, item)| item)).collect();
    if (items.len() as u32) < item_count {
        return Ok(None);
    }
    let outcome = match names.iter().any(|n| n.starts_with("failed-")) {
        true => FireOutcome::Failed,
        false => FireOutcome::Succeeded,
    };
    let done = paths.fire_done(fire_time);
    match retry(|| session.create_with_parents(&done, outcome.as_str().as_bytes(), CreateMode::Persistent)).await {
        Ok(_) => {}
        Err(Error::NodeExists(_)) => return Ok(None),
        Err(e) => return Err(e),
    }
    prune(session, paths).await?;
    Ok(Some(outcome))
}

/// Keeps the latest [`KEPT_FIRES`] finished fires, and drops the
/// completions of finished fires and of fires older than every kept one
/// (a fire that many fires behind will not be waited for).
async fn prune(session: &dyn Registry, paths: &JobPaths) -> Result<()> {
    let done_root = paths.fires_done();
    let mut done: Vec<i64> = retry(|| session.children(&done_root)).await?.iter().filter_map(|n| n.parse().ok()).collect();
    done.sort_unstable();
    let cut = done.len().saturating_sub(KEPT_FIRES);
    for fire in &done[..cut] {
        let path = paths.fire_done(*fire);
        match retry(|| session.delete(&path, None)).await {
            Ok(()) | Err(Error::NoNode(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let too_old = if cut > 0 { done[cut] } else { i64::MIN };
    let completions_root = paths.completions();
    for name in retry(|| session.children(&completions_root)).await? {
        if name.parse::<i64>().is_ok_and(|fire| fire < too_old || done.contains(&fire)) {
            let path = format!("{completions_root}/{name}");
            retry(|| session.delete_recursive(&path)).await?;
        }
    }
    Ok(())
}

/// The finished fires of `upstream` and their outcomes.
pub async fn fires_done(session: &dyn Registry, upstream: &str) -> Result<BTreeMap<i64, FireOutcome>> {
    let paths = JobPaths::new(upstream);
    let root = paths.fires_done();
    let names = match retry(|| session.children(&root)).await {
        Ok(names) => names,
        Err(Error::NoNode(_)) => return Ok(BTreeMap::new()),
        Err(e) => return Err(e),
    };
    let fires: Vec<i64> = names.iter().filter_map(|n| n.parse().ok()).collect();
    let nodes: Vec<String> = fires.iter().map(|&f| paths.fire_done(f)).collect();
    let data = retry(|| session.get_many(&nodes)).await?;
    Ok(fires.into_iter().zip(data).filter_map(|(fire, node)| node.map(|(d, _)| (fire, FireOutcome::parse(&d)))).collect())
}

/// Refuses `job`'s dependencies if they close a cycle through the
/// dependencies the registry holds for the other jobs of the namespace.
pub async fn check_no_cycle(session: &dyn Registry, job: &str, upstream: &[String]) -> Result<()> {
    // Depth-first from the new edges: reaching `job` again is a cycle.
    let mut stack: Vec<(String, Vec<String>)> = upstream.iter().map(|u| (u.clone(), vec![job.to_string(), u.clone()])).collect();
    let mut seen = BTreeSet::new();
    while let Some((name, path)) = stack.pop() {
        if name == job {
            return Err(Error::invalid(DEPENDS_ON_PROP, upstream.join(","), format!("closes a cycle: {}", path.join(" → "))));
        }
        if !seen.insert(name.clone()) {
            continue;
        }
        let config = JobPaths::new(&name).config();
        let Some(yaml) = retry(|| session.get_string(&config)).await? else { continue };
        let Ok(config) = crate::config::JobConfig::from_registry_yaml(&yaml) else { continue };
        if let Ok(Some(deps)) = Dependencies::from_props(&name, &config.props) {
            for next in deps.upstream {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next, longer));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn dependencies_parse_and_bad_props_are_named() {
        assert_eq!(Dependencies::from_props("d", &props(&[])).unwrap(), None);
        let deps = Dependencies::from_props("d", &props(&[(DEPENDS_ON_PROP, "a, b")])).unwrap().unwrap();
        assert_eq!((deps.upstream, deps.any_outcome, deps.timeout_ms), (vec!["a".to_string(), "b".to_string()], false, 3_600_000));
        let any = props(&[(DEPENDS_ON_PROP, "a"), (DEPENDS_ON_OUTCOME_PROP, "any"), (DEPENDS_ON_TIMEOUT_PROP, "60")]);
        let deps = Dependencies::from_props("d", &any).unwrap().unwrap();
        assert!(deps.any_outcome && deps.timeout_ms == 60_000);
        for (bad, prop) in [
            (props(&[(DEPENDS_ON_PROP, " , ")]), DEPENDS_ON_PROP),
            (props(&[(DEPENDS_ON_PROP, "d")]), DEPENDS_ON_PROP),
            (props(&[(DEPENDS_ON_PROP, "a"), (DEPENDS_ON_OUTCOME_PROP, "MOSTLY")]), DEPENDS_ON_OUTCOME_PROP),
            (props(&[(DEPENDS_ON_PROP, "a"), (DEPENDS_ON_TIMEOUT_PROP, "0")]), DEPENDS_ON_TIMEOUT_PROP),
        ] {
            let error = Dependencies::from_props("d", &bad).unwrap_err().to_string();
            assert!(error.contains(prop), "{error}");
        }
    }
}
