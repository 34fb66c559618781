//! What a cron fire does to an item whose previous run has not ended: the
//! job's *overlap policy* (our extension to ElasticJob, named as Temporal
//! names its schedules' policies).
//!
//! ElasticJob has two booleans for this: `misfire` (run once more after the
//! current run) and `monitorExecution` (without it nothing tells that an
//! item runs, so there is no misfire). They map onto [`OverlapPolicy::Skip`]
//! and [`OverlapPolicy::BufferOne`]; the prop `overlapPolicy` chooses any
//! policy. A policy acts on the runs of the process that owns the item; an
//! item found running on another instance (a run that outlived a
//! resharding) skips the fire whatever the policy, as its run cannot be
//! told anything from here.

use crate::error::{Error, Result};
use std::collections::BTreeSet;

/// Prop that sets the [`OverlapPolicy`] (our extension to ElasticJob).
pub const OVERLAP_POLICY_PROP: &str = "overlapPolicy";

/// How many fires `BUFFER_ALL` keeps per busy item: the latest ones. A
/// run stuck for hours on a per-second cron must not queue thousands of
/// runs behind it.
pub const BUFFER_ALL_LIMIT: usize = 100;

/// What a fire does to an item that is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverlapPolicy {
    /// The busy item skips the fire (ElasticJob with `misfire: false`).
    Skip,
    /// The busy item runs once more when its run ends, for the latest fire
    /// that came meanwhile (ElasticJob's `misfire: true`, the default).
    BufferOne,
    /// The busy item runs once for *every* fire that came meanwhile, oldest
    /// first, when its run ends (at most [`BUFFER_ALL_LIMIT`] fires).
    BufferAll,
    /// The running run is told to stop (reason `superseded`) at the new
    /// fire's instant, and the item runs for the new fire once the stopped
    /// handler has returned: never two runs of one item at once.
    CancelOther,
    /// The item runs for the new fire at once, beside its running run: one
    /// run per fire, each fenced by `fired` as any start, under the item's
    /// one `running` mark (cleared when the last of them ends). An item
    /// whose last run is already ending runs for the fire once it ended,
    /// as with `BUFFER_ONE`.
    AllowAll,
}

impl OverlapPolicy {
    /// Every policy, by its name in the prop.
    pub const ALL: [OverlapPolicy; 5] = [
        OverlapPolicy::Skip,
        OverlapPolicy::BufferOne,
        OverlapPolicy::BufferAll,
        OverlapPolicy::CancelOther,
        OverlapPolicy::AllowAll,
    ];

    /// The name used in the prop, logs and bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            OverlapPolicy::Skip => "SKIP",
            OverlapPolicy::BufferOne => "BUFFER_ONE",
            OverlapPolicy::BufferAll => "BUFFER_ALL",
            OverlapPolicy::CancelOther => "CANCEL_OTHER",
            OverlapPolicy::AllowAll => "ALLOW_ALL",
        }
    }

    /// Reads the prop's value (its name, any case).
    pub fn parse(value: &str) -> Result<Self> {
        let wanted = value.trim();
        Self::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(wanted)).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|p| p.as_str()).collect();
            Error::invalid(OVERLAP_POLICY_PROP, value, format!("must be one of {}", names.join(", ")))
        })
    }

    /// The policy ElasticJob's booleans mean, when the prop is not set.
    pub fn from_elasticjob(misfire: bool, monitor_execution: bool) -> Self {
        if misfire && monitor_execution {
            OverlapPolicy::BufferOne
        } else {
            OverlapPolicy::Skip
        }
    }

    /// Whether busy items run later for the fire (and carry ElasticJob's `misfire` mark meanwhile).
    pub fn runs_later(self) -> bool {
        self != OverlapPolicy::Skip
    }

    /// Adds a fire that came while an item was busy to the fires it will
    /// run when its run ends; returns a fire dropped to keep the bound.
    pub fn buffer(self, buffered: &mut BTreeSet<i64>, fire_time: i64) -> Option<i64> {
        match self {
            OverlapPolicy::Skip => None,
            OverlapPolicy::BufferOne | OverlapPolicy::CancelOther | OverlapPolicy::AllowAll => {
                let latest = buffered.last().copied().map_or(fire_time, |t| t.max(fire_time));
                buffered.clear();
                buffered.insert(latest);
                None
            }
            OverlapPolicy::BufferAll => {
                buffered.insert(fire_time);
                if buffered.len() > BUFFER_ALL_LIMIT {
                    buffered.pop_first()
                } else {
                    None
                }
            }
        }
    }
}

impl std::fmt::Display for OverlapPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_and_a_bad_one_is_named() {
        for policy in OverlapPolicy::ALL {
            assert_eq!(OverlapPolicy::parse(policy.as_str()).unwrap(), policy);
        }
        assert_eq!(OverlapPolicy::parse(" buffer_all ").unwrap(), OverlapPolicy::BufferAll);
        let error = OverlapPolicy::parse("ALLOW_SOME").unwrap_err().to_string();
        assert!(error.contains("overlapPolicy") && error.contains("ALLOW_SOME") && error.contains("CANCEL_OTHER"), "{error}");
    }

    #[test]
    fn elasticjob_booleans_map_onto_skip_and_buffer_one() {
        assert_eq!(OverlapPolicy::from_elasticjob(true, true), OverlapPolicy::BufferOne);
        assert_eq!(OverlapPolicy::from_elasticjob(false, true), OverlapPolicy::Skip);
        assert_eq!(OverlapPolicy::from_elasticjob(true, false), OverlapPolicy::Skip, "no marks, no misfire (as Java)");
    }

    #[test]
    fn buffering_keeps_the_latest_fire_or_every_fire_up_to_the_bound() {
        let mut one = BTreeSet::new();
        for t in [3, 1, 2] {
            assert_eq!(OverlapPolicy::BufferOne.buffer(&mut one, t), None);
        }
        assert_eq!(one.into_iter().collect::<Vec<_>>(), vec![3]);

        let mut none = BTreeSet::new();
        OverlapPolicy::Skip.buffer(&mut none, 1);
        assert!(none.is_empty());

        let mut all = BTreeSet::new();
        let mut dropped = Vec::new();
        for t in 0..(BUFFER_ALL_LIMIT as i64 + 2) {
            dropped.extend(OverlapPolicy::BufferAll.buffer(&mut all, t));
        }
        assert_eq!(dropped, vec![0, 1], "the oldest go first");
        assert_eq!(all.len(), BUFFER_ALL_LIMIT);
        assert_eq!(all.first(), Some(&2));
    }
}
