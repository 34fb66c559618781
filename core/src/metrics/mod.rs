//! Worker metrics (issue #14): what each scheduler of the process did —
//! fires, executions by outcome, fire lag and handler duration, misfires,
//! failovers taken, reshards, items owned and running, the registry
//! session's state and reconnects, and the execution history's backlog
//! and losses — as a typed snapshot (`crate::JobScheduler::metrics`) and,
//! opt-in, as Prometheus text on one `/metrics` endpoint per process.
//!
//! The figures are fed where the scheduler decides things (the fire path,
//! the runner, the take-over, resharding, the session), not sampled from
//! the event stream, which may lag and drop: every count is exact. Feeding
//! them costs a fire a few relaxed atomic adds and no lock.
//! - `histogram`: fixed-bucket histograms in seconds;
//! - `job`: one scheduler's counters and the snapshot type;
//! - `registry`: every scheduler of the process, for the endpoint;
//! - `encode`: the Prometheus text format;
//! - `exporter`: the minimal HTTP endpoint.

pub mod encode;
pub mod exporter;
pub mod histogram;
pub mod job;
pub mod registry;

pub use encode::encode;
pub use histogram::{HistogramSnapshot, FIRE_LAG_BOUNDS, HANDLER_DURATION_BOUNDS};
pub use job::{ExecutionCounts, FireCounts, MetricsSnapshot, ReconnectCounts, SessionState};
pub use registry::{gather, render};
