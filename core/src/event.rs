//! What a running scheduler reports: every execution's outcome, resharding,
//! misfires and errors. Bindings turn these into callbacks and events.

use crate::cancel::CancelReason;
use std::collections::BTreeMap;

/// How one item run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler returned normally.
    Succeeded,
    /// The handler returned an error or panicked; the message says which and why.
    Failed(String),
    /// The handler did not finish within the execution timeout (it was told
    /// to stop, and the item stayed running until it returned).
    TimedOut,
    /// The run was told to stop before it finished (session lost, item
    /// moved, shutdown) and its handler has returned since.
    Cancelled(CancelReason),
}

/// The text a log line or a record shows: a failure's own message as it is
/// (a Python traceback stays multi-line), not its `Debug` escape.
impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Succeeded => f.write_str("succeeded"),
            Outcome::Failed(message) => f.write_str(message),
            Outcome::TimedOut => f.write_str("timed out"),
            Outcome::Cancelled(reason) => write!(f, "cancelled: {reason}"),
        }
    }
}

impl Outcome {
    /// The outcome's name in snake case: `succeeded`, `failed`, `timed_out`,
    /// `cancelled` (what the bindings' events say).
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed(_) => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled(_) => "cancelled",
        }
    }

    /// Whether the run succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Succeeded)
    }
}

/// One finished item run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Execution {
    /// The job.
    pub job_name: String,
    /// The item.
    pub item: u32,
    /// The fire it belongs to, epoch milliseconds.
    pub fire_time: i64,
    /// The instance that ran it.
    pub instance_id: String,
    /// Whether it ran in place of a crashed instance.
    pub failover: bool,
    /// The run's fencing token (see [`crate::ShardingContext::fencing_token`]).
    pub fencing_token: i64,
    /// Which attempt at its (item, fire) it was (see [`crate::ShardingContext::attempt`]).
    pub attempt: u32,
    /// When the handler was called, epoch milliseconds.
    pub started_at: i64,
    /// When it returned, epoch milliseconds.
    pub finished_at: i64,
    /// How it ended.
    pub outcome: Outcome,
    /// What the run printed, when its job captures it: a script job's
    /// stdout and stderr, each labelled and cut to its last 2,000
    /// characters (saying how many were left out). `None` for handlers
    /// written in code, and when nothing was printed.
    pub output: Option<String>,
}

impl Execution {
    /// A run of `item` of `job_name`'s fire at `fire_time` by `instance_id`
    /// that ended with `outcome`; not a failover, fencing token 0, started
    /// and finished at the fire time. For records and tests made outside a
    /// scheduler: set the other (public) fields as needed.
    pub fn new(job_name: &str, item: u32, fire_time: i64, instance_id: &str, outcome: Outcome) -> Self {
        Execution {
            job_name: job_name.to_string(),
            item,
            fire_time,
            instance_id: instance_id.to_string(),
            failover: false,
            fencing_token: 0,
            attempt: 1,
            started_at: fire_time,
            finished_at: fire_time,
            outcome,
            output: None,
        }
    }
}

/// Everything a scheduler reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobEvent {
    /// An item run finished.
    Executed(Execution),
    /// This instance, as leader, wrote a new assignment: instance id → items.
    Sharded(BTreeMap<String, Vec<u32>>),
    /// A fire came while items were still running; they will run again once after.
    Misfired {
        /// The items still running.
        items: Vec<u32>,
        /// The fire that was missed, epoch milliseconds.
        fire_time: i64,
    },
    /// As leader, this instance resharded although these items were still
    /// running (item → runner) after the bounded wait: a hung handler, or
    /// one slower than the wait. They keep their marks until they end.
    StuckItems {
        /// The items still running, with their runners.
        items: BTreeMap<u32, String>,
        /// How long the leader waited.
        waited: std::time::Duration,
    },
    /// An item run failed or timed out and the job's `jobErrorHandlerType`
    /// is `THROW`: the failure is the user's to handle (each binding raises
    /// it in its own idiom). It follows the run's [`JobEvent::Executed`].
    Thrown(Execution),
    /// Something went wrong outside a handler (registry trouble, clock skew, ...).
    Error(String),
    /// The scheduler stopped (asked to, or told to by an operator).
    Stopped,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_displays_its_message_verbatim() {
        let stack = "Traceback (most recent call last):\n  File \"job.py\", line 3\nValueError: no";
        assert_eq!(Outcome::Failed(stack.into()).to_string(), stack);
        assert_eq!(Outcome::TimedOut.to_string(), "timed out");
        assert_eq!(Outcome::Cancelled(CancelReason::Shutdown).to_string(), "cancelled: shutdown");
    }
}
