//! What the execution history keeps: one [`ExecutionRecord`] per item run
//! and one [`StatusRecord`] per status change of a job in an instance. The
//! column names follow Apache ElasticJob's `JOB_EXECUTION_LOG` and
//! `JOB_STATUS_TRACE_LOG` where the meaning is the same, so queries and
//! dashboards written for those tables need few changes; times are epoch
//! milliseconds (one portable integer type for SQLite and PostgreSQL).

use crate::event::{Execution, JobEvent, Outcome};

/// One finished item run, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ExecutionRecord {
    /// The row id (`None` until stored).
    pub id: Option<i64>,
    /// The job.
    pub job_name: String,
    /// ElasticJob's task id: `{job}@-@{item}@-@{fire_time}@-@{instance}`.
    pub task_id: String,
    /// The instance that ran it (`{ip}@-@{pid}`).
    pub instance_id: String,
    /// The instance's IP address.
    pub ip: String,
    /// The host name of the machine that ran it.
    pub hostname: String,
    /// The item.
    pub sharding_item: u32,
    /// The fire the run belongs to, epoch milliseconds.
    pub fire_time: i64,
    /// `NORMAL_TRIGGER` or `FAILOVER`, as ElasticJob names execution sources.
    pub execution_source: String,
    /// The language whose handler ran it: `rust`, `python`, `node` or `c`.
    pub binding: String,
    /// When the handler was called, epoch milliseconds.
    pub start_time: i64,
    /// When it returned, epoch milliseconds.
    pub complete_time: i64,
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `CANCELLED`.
    pub outcome: String,
    /// Whether it succeeded.
    pub is_success: bool,
    /// Why it failed, if it did.
    pub failure_cause: Option<String>,
    /// Whether it ran in place of a crashed instance.
    pub failover: bool,
    /// The run's fencing token.
    pub fencing_token: i64,
    /// What the run printed (see [`Execution::output`]), if it was captured.
    pub output: Option<String>,
}

impl ExecutionRecord {
    /// The record of `execution`, run by a handler written in `binding`.
    pub fn from_execution(execution: &Execution, binding: &str) -> Self {
        let (outcome, failure_cause) = match &execution.outcome {
            Outcome::Succeeded => ("SUCCEEDED", None),
            Outcome::Failed(message) => ("FAILED", Some(message.clone())),
            Outcome::TimedOut => ("TIMED_OUT", Some("the execution timeout passed".to_string())),
            Outcome::Cancelled(reason) => ("CANCELLED", Some(format!("{reason:?}"))),
        };
        ExecutionRecord {
            id: None,
            job_name: execution.job_name.clone(),
            task_id: format!(
                "{}@-@{}@-@{}@-@{}",
                execution.job_name, execution.item, execution.fire_time, execution.instance_id
            ),
            instance_id: execution.instance_id.clone(),
            ip: ip_of(&execution.instance_id),
            hostname: local_hostname().to_string(),
            sharding_item: execution.item,
            fire_time: execution.fire_time,
            execution_source: if execution.failover { "FAILOVER" } else { "NORMAL_TRIGGER" }.to_string(),
            binding: binding.to_string(),
            start_time: execution.started_at,
            complete_time: execution.finished_at,
            outcome: outcome.to_string(),
            is_success: execution.outcome.is_success(),
            failure_cause,
            failover: execution.failover,
            fencing_token: execution.fencing_token,
            output: execution.output.clone(),
        }
    }
}

/// What changed in a [`StatusRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusState {
    /// This instance, as leader, wrote a new assignment.
    Resharded,
    /// A fire came while items were still running.
    Misfired,
    /// The leader resharded although items were still running.
    StuckItems,
    /// This instance took over a lost instance's items.
    FailoverTaken,
    /// A trigger (API or operator) was taken.
    Triggered,
    /// The job was disabled (configuration or this server).
    Disabled,
    /// The job was enabled again.
    Enabled,
    /// Pause-on-failure paused the job ([`crate::failure_streak`]).
    Paused,
    /// Something went wrong outside a handler.
    Error,
    /// The scheduler stopped.
    Stopped,
}

impl StatusState {
    /// The name stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Resharded => "RESHARDED",
            StatusState::Misfired => "MISFIRED",
            StatusState::StuckItems => "STUCK_ITEMS",
            StatusState::FailoverTaken => "FAILOVER_TAKEN",
            StatusState::Triggered => "TRIGGERED",
            StatusState::Disabled => "DISABLED",
            StatusState::Enabled => "ENABLED",
            StatusState::Paused => "PAUSED",
            StatusState::Error => "ERROR",
            StatusState::Stopped => "STOPPED",
        }
    }
}

/// One status change, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct StatusRecord {
    /// The row id (`None` until stored).
    pub id: Option<i64>,
    /// The job.
    pub job_name: String,
    /// The instance that reports it.
    pub instance_id: String,
    /// The items concerned, comma-separated as ElasticJob stores them (may be empty).
    pub sharding_item: String,
    /// What changed (a [`StatusState`] name).
    pub state: String,
    /// Details: the assignment, the missed fire, the error text.
    pub message: String,
    /// When it happened, epoch milliseconds.
    pub creation_time: i64,
}

impl StatusRecord {
    /// A record of `state` for `items`, now.
    pub fn new(job_name: &str, instance_id: &str, state: StatusState, items: &[u32], message: impl Into<String>) -> Self {
        StatusRecord {
            id: None,
            job_name: job_name.to_string(),
            instance_id: instance_id.to_string(),
            sharding_item: items.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
            state: state.as_str().to_string(),
            message: message.into(),
            creation_time: chrono::Utc::now().timestamp_millis(),
        }
    }
}

/// A row on its way to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryRecord {
    /// An item run.
    Execution(ExecutionRecord),
    /// A status change.
    Status(StatusRecord),
}

impl HistoryRecord {
    /// The record of a scheduler event, if it is one the history keeps.
    /// [`JobEvent::Thrown`] repeats an execution already recorded, so it is not.
    pub fn from_event(event: &JobEvent, job_name: &str, instance_id: &str, binding: &str) -> Option<Self> {
        let status = |state, items: &[u32], message: String| {
            Some(HistoryRecord::Status(StatusRecord::new(job_name, instance_id, state, items, message)))
        };
        match event {
            JobEvent::Executed(execution) => {
                Some(HistoryRecord::Execution(ExecutionRecord::from_execution(execution, binding)))
            }
            JobEvent::Thrown(_) => None,
            JobEvent::Sharded(assignment) => {
                let message = assignment
                    .iter()
                    .map(|(instance, items)| {
                        format!("{instance}={}", items.iter().map(u32::to_string).collect::<Vec<_>>().join(","))
                    })
                    .collect::<Vec<_>>()
                    .join(";");
                status(StatusState::Resharded, &[], message)
            }
            JobEvent::Misfired { items, fire_time } => {
                status(StatusState::Misfired, items, format!("fire {fire_time} came while the items were running"))
            }
            JobEvent::StuckItems { items, waited } => {
                let keys: Vec<u32> = items.keys().copied().collect();
                let runners = items.iter().map(|(i, r)| format!("{i}={r}")).collect::<Vec<_>>().join(";");
                status(StatusState::StuckItems, &keys, format!("still running after {waited:?}: {runners}"))
            }
            JobEvent::Error(message) => status(StatusState::Error, &[], message.clone()),
            JobEvent::Stopped => status(StatusState::Stopped, &[], String::new()),
        }
    }
}

/// This machine's host name, read once (records are made where the run happened).
fn local_hostname() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let mut buffer = [0u8; 256];
        // SAFETY: the buffer is writable for its length; gethostname NUL-terminates within it on success.
        let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
        let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
        if ok { String::from_utf8_lossy(&buffer[..end]).into_owned() } else { String::new() }
    })
}

/// The IP part of an instance id `{ip}@-@{pid}`.
fn ip_of(instance_id: &str) -> String {
    instance_id.split("@-@").next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::CancelReason;

    fn execution(outcome: Outcome, failover: bool) -> Execution {
        Execution {
            job_name: "orders".into(),
            item: 3,
            fire_time: 1_000,
            instance_id: "10.0.0.7@-@42".into(),
            failover,
            fencing_token: 9,
            attempt: 1,
            started_at: 1_001,
            finished_at: 1_050,
            outcome,
            output: None,
        }
    }

    #[test]
    fn an_execution_keeps_elasticjob_names_and_our_extras() {
        let record = ExecutionRecord::from_execution(&execution(Outcome::Failed("boom".into()), true), "python");
        assert_eq!(record.task_id, "orders@-@3@-@1000@-@10.0.0.7@-@42");
        assert_eq!(record.ip, "10.0.0.7");
        assert!(!record.hostname.is_empty());
        assert_eq!(record.execution_source, "FAILOVER");
        assert_eq!(record.outcome, "FAILED");
        assert!(!record.is_success);
        assert_eq!(record.failure_cause.as_deref(), Some("boom"));
        assert_eq!((record.fencing_token, record.binding.as_str()), (9, "python"));
        let ok = ExecutionRecord::from_execution(&execution(Outcome::Succeeded, false), "rust");
        assert_eq!((ok.outcome.as_str(), ok.is_success, ok.failure_cause), ("SUCCEEDED", true, None));
        assert_eq!(ok.execution_source, "NORMAL_TRIGGER");
        let cancelled = ExecutionRecord::from_execution(&execution(Outcome::Cancelled(CancelReason::Shutdown), false), "c");
        assert_eq!(cancelled.outcome, "CANCELLED");
        assert_eq!(cancelled.output, None);
        let mut printed = execution(Outcome::Succeeded, false);
        printed.output = Some("--- stdout ---\nsent 3 mails".into());
        let record = ExecutionRecord::from_execution(&printed, "rust");
        assert_eq!(record.output.as_deref(), Some("--- stdout ---\nsent 3 mails"));
    }

    #[test]
    fn events_become_status_records_and_thrown_is_not_repeated() {
        let misfire = JobEvent::Misfired { items: vec![1, 2], fire_time: 5 };
        let Some(HistoryRecord::Status(s)) = HistoryRecord::from_event(&misfire, "j", "i", "rust") else { panic!() };
        assert_eq!((s.state.as_str(), s.sharding_item.as_str()), ("MISFIRED", "1,2"));
        let sharded = JobEvent::Sharded([("a".to_string(), vec![0, 1]), ("b".to_string(), vec![2])].into());
        let Some(HistoryRecord::Status(s)) = HistoryRecord::from_event(&sharded, "j", "i", "rust") else { panic!() };
        assert_eq!((s.state.as_str(), s.message.as_str()), ("RESHARDED", "a=0,1;b=2"));
        let thrown = JobEvent::Thrown(execution(Outcome::TimedOut, false));
        assert_eq!(HistoryRecord::from_event(&thrown, "j", "i", "rust"), None);
    }
}
