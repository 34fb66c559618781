//! Retrying a failed item run with back-off (our extension to ElasticJob,
//! after Temporal's retry policy and Kubernetes' `backoffLimit`).
//!
//! A run that fails (or times out) with attempts left leaves a *pending
//! retry* in the registry, `retries/{item}@{fire}` holding the next attempt
//! and when it is due, written in the same transaction that completes the
//! run. Whoever owns the item then runs it at that time: the owner that
//! wrote it, or, after a crash or a resharding, the item's new owner, which
//! looks for its items' pending retries whenever an assignment settles. A
//! retry starts through the fence like any run, and its start deletes the
//! pending node in the same transaction, so each attempt starts at most
//! once cluster-wide. A retry keeps the original fire time; the handler
//! sees the attempt number.

use crate::error::{Error, Result};
use crate::event::Outcome;
use std::collections::BTreeMap;
use std::time::Duration;

/// Prop: attempts in all, the first run included (`1`: no retry, the default).
pub const MAX_ATTEMPTS_PROP: &str = "retryMaxAttempts";
/// Prop: the wait before the first retry, in milliseconds (default 1000).
pub const INITIAL_INTERVAL_PROP: &str = "retryInitialIntervalMillis";
/// Prop: how much each wait grows on the one before (default 2.0, at least 1).
pub const BACKOFF_COEFFICIENT_PROP: &str = "retryBackoffCoefficient";
/// Prop: the longest wait, in milliseconds (default 100 × the initial interval).
pub const MAX_INTERVAL_PROP: &str = "retryMaxIntervalMillis";
/// Prop: each wait is lengthened by up to this fraction of itself (0 to 1,
/// default 0), by an amount every instance computes alike.
pub const JITTER_RATIO_PROP: &str = "retryJitterRatio";
/// Prop: failure kinds that are never retried, comma-separated: `failed`
/// (the handler returned an error, raised, panicked or exited non-zero)
/// and `timed-out` (it outlived `executionTimeoutMillis`).
pub const NON_RETRYABLE_PROP: &str = "retryNonRetryable";

/// The most attempts accepted.
pub const MAX_ATTEMPTS: u32 = 100;
/// The longest wait accepted: a day.
pub const MAX_INTERVAL_MILLIS: u64 = 24 * 3600 * 1000;

/// How a job retries its failed item runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all (at least 2: with 1 there is no policy).
    pub max_attempts: u32,
    /// The wait before the first retry.
    pub initial_interval: Duration,
    /// Each wait is the one before times this.
    pub backoff_coefficient: f64,
    /// The longest wait.
    pub max_interval: Duration,
    /// Up to this fraction of a wait is added to it.
    pub jitter_ratio: f64,
    /// Whether a timed-out run is retried.
    pub retry_timeouts: bool,
    /// Whether a failed run is retried.
    pub retry_failures: bool,
}

impl RetryPolicy {
    /// Reads the policy from a job's props: `None` without retries. An
    /// error names the prop and its value.
    pub fn from_props(props: &BTreeMap<String, String>) -> Result<Option<RetryPolicy>> {
        let number = |prop: &str, min: u64, max: u64| -> Result<Option<u64>> {
            let Some(value) = props.get(prop) else { return Ok(None) };
            match value.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(Error::invalid(prop, value, format!("must be a whole number from {min} to {max}"))),
            }
        };
        let ratio = |prop: &str, min: f64, max: f64, default: f64| -> Result<f64> {
            let Some(value) = props.get(prop) else { return Ok(default) };
            match value.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && x >= min && x <= max => Ok(x),
                _ => Err(Error::invalid(prop, value, format!("must be a number from {min} to {max}"))),
            }
        };
        let max_attempts = number(MAX_ATTEMPTS_PROP, 1, u64::from(MAX_ATTEMPTS))?.unwrap_or(1) as u32;
        let initial = number(INITIAL_INTERVAL_PROP, 1, MAX_INTERVAL_MILLIS)?.unwrap_or(1000);
        let max_interval = number(MAX_INTERVAL_PROP, 1, MAX_INTERVAL_MILLIS)?.unwrap_or((initial * 100).min(MAX_INTERVAL_MILLIS));
        if max_interval < initial {
            return Err(Error::invalid(
                MAX_INTERVAL_PROP,
                &props[MAX_INTERVAL_PROP],
                format!("must not be shorter than {INITIAL_INTERVAL_PROP} ({initial})"),
            ));
        }
        let backoff_coefficient = ratio(BACKOFF_COEFFICIENT_PROP, 1.0, 100.0, 2.0)?;
        let jitter_ratio = ratio(JITTER_RATIO_PROP, 0.0, 1.0, 0.0)?;
        let (mut retry_failures, mut retry_timeouts) = (true, true);
        if let Some(value) = props.get(NON_RETRYABLE_PROP) {
            for kind in value.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                match kind {
                    "failed" => retry_failures = false,
                    "timed-out" => retry_timeouts = false,
                    _ => return Err(Error::invalid(NON_RETRYABLE_PROP, value, format!("`{kind}` is not a failure kind: use `failed`, `timed-out`"))),
                }
            }
        }
        if max_attempts < 2 {
            return Ok(None);
        }
        Ok(Some(RetryPolicy {
            max_attempts,
            initial_interval: Duration::from_millis(initial),
            backoff_coefficient,
            max_interval: Duration::from_millis(max_interval),
            jitter_ratio,
            retry_timeouts,
            retry_failures,
        }))
    }

    /// The retry that follows `attempt` (1 for the first run) of `item`'s
    /// fire at `fire_time`, which ended at `now` with `outcome`; `None` if
    /// it succeeded, was cancelled, is of a kind not retried, or was the last.
    pub fn after(&self, job_name: &str, item: u32, fire_time: i64, attempt: u32, outcome: &Outcome, now: i64) -> Option<PendingRetry> {
        let retried = match outcome {
            Outcome::Failed(_) => self.retry_failures,
            Outcome::TimedOut => self.retry_timeouts,
            _ => false,
        };
        if !retried || attempt >= self.max_attempts {
            return None;
        }
        let wait = self.wait(job_name, item, fire_time, attempt);
        Some(PendingRetry { item, fire_time, attempt: attempt + 1, due: now + wait.as_millis() as i64 })
    }

    /// The wait after `attempt` failed: the initial interval grown by the
    /// coefficient once per earlier retry, at most the maximum, plus jitter.
    pub fn wait(&self, job_name: &str, item: u32, fire_time: i64, attempt: u32) -> Duration {
        let grown = self.initial_interval.as_millis() as f64 * self.backoff_coefficient.powi(attempt.saturating_sub(1) as i32);
        let base = grown.min(self.max_interval.as_millis() as f64) as u64;
        let bound = Duration::from_millis((base as f64 * self.jitter_ratio) as u64);
        let key = format!("{job_name}/{item}/{attempt}");
        Duration::from_millis(base) + crate::jitter::offset(&key, fire_time, bound)
    }
}

/// A retry waiting in the registry: `retries/{item}@{fire_time}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PendingRetry {
    /// The item to run again.
    pub item: u32,
    /// The fire it runs for (the failed run's).
    pub fire_time: i64,
    /// The attempt it is (2 for the first retry).
    pub attempt: u32,
    /// When it is due, epoch milliseconds.
    pub due: i64,
}

impl PendingRetry {
    /// The node's name under `retries`.
    pub fn node_name(&self) -> String {
        format!("{}@{}", self.item, self.fire_time)
    }

    /// The node's data.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::json!({ "attempt": self.attempt, "due": self.due }).to_string().into_bytes()
    }

    /// The item and fire a node's name stands for.
    pub fn parse_name(name: &str) -> Option<(u32, i64)> {
        let (item, fire) = name.split_once('@')?;
        Some((item.parse().ok()?, fire.parse().ok()?))
    }

    /// A node read back; `None` if it is not one of ours.
    pub fn parse(name: &str, data: &[u8]) -> Option<PendingRetry> {
        let (item, fire_time) = Self::parse_name(name)?;
        let value: serde_json::Value = serde_json::from_slice(data).ok()?;
        let attempt = u32::try_from(value.get("attempt")?.as_u64()?).ok()?;
        let due = value.get("due")?.as_i64()?;
        Some(PendingRetry { item, fire_time, attempt, due })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn no_policy_unless_more_than_one_attempt() {
        assert_eq!(RetryPolicy::from_props(&props(&[])).unwrap(), None);
        assert_eq!(RetryPolicy::from_props(&props(&[(MAX_ATTEMPTS_PROP, "1")])).unwrap(), None);
        assert!(RetryPolicy::from_props(&props(&[(MAX_ATTEMPTS_PROP, "3")])).unwrap().is_some());
    }

    #[test]
    fn waits_grow_by_the_coefficient_up_to_the_maximum() {
        let policy = RetryPolicy::from_props(&props(&[
            (MAX_ATTEMPTS_PROP, "10"),
            (INITIAL_INTERVAL_PROP, "100"),
            (BACKOFF_COEFFICIENT_PROP, "3"),
            (MAX_INTERVAL_PROP, "1000"),
        ]))
        .unwrap()
        .unwrap();
        let waits: Vec<u128> = (1..=4).map(|a| policy.wait("j", 0, 0, a).as_millis()).collect();
        assert_eq!(waits, vec![100, 300, 900, 1000]);
    }

    #[test]
    fn jitter_lengthens_a_wait_alike_everywhere_within_its_ratio() {
        let policy = RetryPolicy::from_props(&props(&[(MAX_ATTEMPTS_PROP, "5"), (JITTER_RATIO_PROP, "0.5")])).unwrap().unwrap();
        let waits: Vec<Duration> = (0..50).map(|item| policy.wait("j", item, 1_800_000_000_000, 1)).collect();
        assert!(waits.iter().all(|w| *w >= Duration::from_millis(1000) && *w <= Duration::from_millis(1500)));
        assert!(waits.iter().collect::<std::collections::BTreeSet<_>>().len() > 20, "items spread");
        assert_eq!(policy.wait("j", 7, 1_800_000_000_000, 1), policy.wait("j", 7, 1_800_000_000_000, 1));
    }

    #[test]
    fn which_outcomes_are_retried_and_until_when() {
        let policy = RetryPolicy::from_props(&props(&[(MAX_ATTEMPTS_PROP, "3"), (NON_RETRYABLE_PROP, "timed-out")])).unwrap().unwrap();
        let failed = Outcome::Failed("boom".into());
        let retry = policy.after("j", 2, 5000, 1, &failed, 10_000).unwrap();
        assert_eq!(retry, PendingRetry { item: 2, fire_time: 5000, attempt: 2, due: 11_000 });
        assert_eq!(policy.after("j", 2, 5000, 2, &failed, 10_000).map(|r| r.attempt), Some(3));
        assert_eq!(policy.after("j", 2, 5000, 3, &failed, 10_000), None, "the last attempt");
        assert_eq!(policy.after("j", 2, 5000, 1, &Outcome::TimedOut, 10_000), None, "not retried by the policy");
        assert_eq!(policy.after("j", 2, 5000, 1, &Outcome::Succeeded, 10_000), None);
        assert_eq!(policy.after("j", 2, 5000, 1, &Outcome::Cancelled(crate::CancelReason::Shutdown), 10_000), None);
    }

    #[test]
    fn bad_props_name_themselves() {
        for (prop, value) in [
            (MAX_ATTEMPTS_PROP, "0"),
            (MAX_ATTEMPTS_PROP, "many"),
            (INITIAL_INTERVAL_PROP, "-5"),
            (BACKOFF_COEFFICIENT_PROP, "0.5"),
            (JITTER_RATIO_PROP, "2"),
            (NON_RETRYABLE_PROP, "failed,crashed"),
        ] {
            let error = RetryPolicy::from_props(&props(&[(MAX_ATTEMPTS_PROP, "3"), (prop, value)])).unwrap_err().to_string();
            assert!(error.contains(prop) && error.contains(value), "{error}");
        }
        let error = RetryPolicy::from_props(&props(&[(INITIAL_INTERVAL_PROP, "5000"), (MAX_INTERVAL_PROP, "1000")])).unwrap_err().to_string();
        assert!(error.contains(MAX_INTERVAL_PROP), "{error}");
    }

    #[test]
    fn pending_retries_round_trip_through_their_nodes() {
        let retry = PendingRetry { item: 12, fire_time: 1_800_000_000_000, attempt: 3, due: 1_800_000_004_000 };
        assert_eq!(retry.node_name(), "12@1800000000000");
        assert_eq!(PendingRetry::parse(&retry.node_name(), &retry.to_bytes()), Some(retry));
        assert_eq!(PendingRetry::parse("x@1", &retry.to_bytes()), None);
        assert_eq!(PendingRetry::parse(&retry.node_name(), b"{}"), None);
    }
}
