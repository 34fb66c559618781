//! Job listeners: user code run around one instance's part of a fire, as
//! ElasticJob's `ElasticJobListener` (`beforeJobExecuted` /
//! `afterJobExecuted`, on every instance, once per fire with all of that
//! instance's items) and `AbstractDistributeOnceElasticJobListener` (once
//! per fire across the whole cluster; the registry side is
//! [`crate::guarantee`]).
//!
//! Listeners are observers, not gates: an error, a panic or a hang in one is
//! reported (a [`crate::JobEvent::Error`] and a log line) and the job runs
//! on. Every call is bounded — plain listeners by the scheduler's listener
//! timeout, distributed-once ones by their started/completed timeouts — so
//! a listener can delay a fire's handlers by at most that long.

use crate::error::{Error, Result};
use crate::job::HandlerResult;
use async_trait::async_trait;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One instance's part of one fire, as ElasticJob's `ShardingContexts`:
/// the items this instance runs, with their parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ShardingContexts {
    /// `{jobName}@-@{items joined by ","}@-@READY@-@{instanceId}` (Java's format).
    pub task_id: String,
    /// The job's name.
    pub job_name: String,
    /// How many items the job is split into.
    pub sharding_total_count: u32,
    /// The job-wide parameter (`jobParameter`).
    pub job_parameter: String,
    /// Every item this instance runs in this fire, with its parameter
    /// (empty if none).
    pub sharding_item_parameters: BTreeMap<u32, String>,
    /// The fire these runs belong to, epoch milliseconds (ours; Java has no such field).
    pub fire_time: i64,
}

impl ShardingContexts {
    /// Contexts for `items` of a fire; the task id follows Java's format.
    pub fn new(
        job_name: &str,
        instance_id: &str,
        sharding_total_count: u32,
        job_parameter: &str,
        sharding_item_parameters: BTreeMap<u32, String>,
        fire_time: i64,
    ) -> Self {
        let items: Vec<String> = sharding_item_parameters.keys().map(u32::to_string).collect();
        ShardingContexts {
            task_id: format!("{job_name}@-@{}@-@READY@-@{instance_id}", items.join(",")),
            job_name: job_name.to_string(),
            sharding_total_count,
            job_parameter: job_parameter.to_string(),
            sharding_item_parameters,
            fire_time,
        }
    }

    /// The items, in order.
    pub fn items(&self) -> Vec<u32> {
        self.sharding_item_parameters.keys().copied().collect()
    }
}

/// ElasticJob's `ElasticJobListener`: called on this instance before its
/// first handler of a fire and after its last one ended, once per fire
/// with all of its items. An error is reported, never fatal.
#[async_trait]
pub trait JobListener: Send + Sync + 'static {
    /// Before this instance runs its items of a fire.
    async fn before_job_executed(&self, contexts: &ShardingContexts) -> HandlerResult {
        let _ = contexts;
        Ok(())
    }

    /// After all of this instance's items of a fire ended (whatever their outcome).
    async fn after_job_executed(&self, contexts: &ShardingContexts) -> HandlerResult {
        let _ = contexts;
        Ok(())
    }
}

/// ElasticJob's `AbstractDistributeOnceElasticJobListener`: each hook runs
/// once per fire across the cluster, on the instance that completes the
/// set of items (see [`crate::guarantee`]). Register it with
/// [`OnceListener::new`], which adds the timeouts.
#[async_trait]
pub trait DistributeOnceJobListener: Send + Sync + 'static {
    /// `doBeforeJobExecutedAtLastStarted`: once every item of the fire has
    /// started somewhere; `contexts` are the calling instance's.
    async fn before_at_last_started(&self, contexts: &ShardingContexts) -> HandlerResult {
        let _ = contexts;
        Ok(())
    }

    /// `doAfterJobExecutedAtLastCompleted`: once every item of the fire has
    /// completed somewhere; `contexts` are the calling instance's.
    async fn after_at_last_completed(&self, contexts: &ShardingContexts) -> HandlerResult {
        let _ = contexts;
        Ok(())
    }
}

/// A distributed-once listener with its bounds: how long an instance waits
/// for the other items to start (`startedTimeoutMilliseconds`) and to
/// complete (`completedTimeoutMilliseconds`). After a timeout the instance
/// clears the round's nodes (as Java does), reports the timeout and goes on,
/// so a crashed or hung instance delays the others by at most that much.
#[derive(Clone)]
pub struct OnceListener {
    pub(crate) listener: Arc<dyn DistributeOnceJobListener>,
    pub(crate) started_timeout: Duration,
    pub(crate) completed_timeout: Duration,
}

impl std::fmt::Debug for OnceListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnceListener")
            .field("started_timeout", &self.started_timeout)
            .field("completed_timeout", &self.completed_timeout)
            .finish()
    }
}

impl OnceListener {
    /// Wraps `listener` with its timeouts in milliseconds. Java takes `0`
    /// (or less) as "wait forever"; we refuse it, since an unbounded wait
    /// lets one crashed instance stall every other one.
    pub fn new(listener: impl DistributeOnceJobListener, started_timeout_ms: i64, completed_timeout_ms: i64) -> Result<Self> {
        Self::from_arc(Arc::new(listener), started_timeout_ms, completed_timeout_ms)
    }

    /// [`OnceListener::new`] for a listener already shared.
    pub fn from_arc(
        listener: Arc<dyn DistributeOnceJobListener>,
        started_timeout_ms: i64,
        completed_timeout_ms: i64,
    ) -> Result<Self> {
        Ok(OnceListener {
            listener,
            started_timeout: positive("startedTimeoutMilliseconds", started_timeout_ms)?,
            completed_timeout: positive("completedTimeoutMilliseconds", completed_timeout_ms)?,
        })
    }
}

fn positive(field: &str, ms: i64) -> Result<Duration> {
    if ms <= 0 {
        return Err(Error::invalid(
            field,
            ms,
            "must be a positive number of milliseconds: an endless wait would let one crashed instance stall the others",
        ));
    }
    Ok(Duration::from_millis(ms as u64))
}

/// The listeners of one scheduler.
#[derive(Clone, Default)]
pub(crate) struct Listeners {
    pub(crate) plain: Vec<Arc<dyn JobListener>>,
    pub(crate) once: Option<OnceListener>,
}

impl Listeners {
    pub(crate) fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.once.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;
    impl DistributeOnceJobListener for Nothing {}

    #[test]
    fn task_id_is_javas_and_timeouts_must_be_positive() {
        let params: BTreeMap<u32, String> = [(0, "a".to_string()), (2, String::new())].into();
        let contexts = ShardingContexts::new("job", "10.0.0.5@-@42", 3, "p", params, 1000);
        assert_eq!(contexts.task_id, "job@-@0,2@-@READY@-@10.0.0.5@-@42");
        assert_eq!(contexts.items(), vec![0, 2]);
        let refused = OnceListener::new(Nothing, 0, 1000).unwrap_err();
        assert!(refused.to_string().contains("startedTimeoutMilliseconds `0`"), "{refused}");
        let refused = OnceListener::new(Nothing, 10, -1).unwrap_err();
        assert!(refused.to_string().contains("completedTimeoutMilliseconds `-1`"), "{refused}");
        assert!(OnceListener::new(Nothing, 1, 1).is_ok());
    }
}
