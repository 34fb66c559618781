//! `elasticjob`: a distributed cron scheduler whose jobs are split into
//! shards (items) spread over every live instance, coordinated through
//! Apache ZooKeeper with the node layout of Apache ElasticJob-Lite 3.x.
//!
//! ```no_run
//! use elasticjob::{Job, JobConfig, JobScheduler, RegistryCenter, ZookeeperOptions};
//!
//! # async fn run() -> elasticjob::Result<()> {
//! let center = RegistryCenter::zookeeper(ZookeeperOptions::new("127.0.0.1:2181", "my-namespace"));
//! let config = JobConfig::new("orders", "0/5 * * * * ?", 4);
//! let job = Job::from_fn(|ctx| async move {
//!     println!("item {} of {} ({})", ctx.sharding_item, ctx.sharding_total_count, ctx.sharding_parameter);
//!     Ok(())
//! });
//! let scheduler = JobScheduler::builder(center, config, job).build()?;
//! scheduler.start().await?;
//! // ... later
//! scheduler.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod backfill;
pub mod bounds;
pub mod cancel;
pub mod config;
pub mod cron;
pub mod dependency;
pub mod error;
pub mod event;
pub mod executor;
pub mod failure_streak;
pub mod http_job;
pub mod instance;
pub mod job;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod operate;
pub mod overlap;
pub mod pause;
mod jitter;
mod props;
pub mod registry;
pub mod retries;
pub mod runtime;
pub mod scheduler;
pub mod sharding;
pub mod trace;
pub mod trigger;

// The coordination protocol's parts. They are public for this repository's
// own tools (the console, the test harnesses, the benchmarks) and hidden
// from the documentation: applications use `JobScheduler`, `JobOperator`
// and the types re-exported below, which keep their meaning across
// releases; these do not.
#[doc(hidden)]
pub mod election;
#[doc(hidden)]
pub mod enablement;
#[doc(hidden)]
pub mod execution;
#[doc(hidden)]
pub mod failover;
#[doc(hidden)]
pub mod freeze;
#[doc(hidden)]
pub mod guarantee;
#[doc(hidden)]
pub mod latch;
#[doc(hidden)]
pub mod paths;
#[doc(hidden)]
pub mod reconcile;
#[doc(hidden)]
pub mod resolve;

pub use cancel::{CancelReason, Cancellation};
pub use config::JobConfig;
pub use error::{Error, Result};
pub use event::{Execution, JobEvent, Outcome};
pub use executor::ExecutorType;
pub use job::{DataflowJob, HandlerError, HandlerResult, Job, JobKind, ShardingContext, SimpleJob};
pub use listener::{DistributeOnceJobListener, JobListener, OnceListener, ShardingContexts};
pub use metrics::MetricsSnapshot;
pub use operate::JobOperator;
pub use backfill::{Backfill, BackfillRequest};
pub use overlap::OverlapPolicy;
pub use pause::PauseNote;
pub use registry::{EmbeddedServer, RegistryCenter, ZookeeperOptions};
pub use scheduler::{JobScheduler, JobSchedulerBuilder};
pub use sharding::{Assignment, ShardingStrategy};
pub use trace::{HistoryOptions, HistoryStats, HistoryStore, Retention};
