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

pub mod cancel;
pub mod config;
pub mod cron;
pub mod election;
pub mod error;
pub mod event;
pub mod execution;
pub mod executor;
pub mod failover;
pub mod freeze;
pub mod guarantee;
pub mod http_job;
pub mod instance;
pub mod job;
pub mod latch;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod operate;
pub mod paths;
mod props;
pub mod reconcile;
pub mod resolve;
pub mod registry;
pub mod runtime;
pub mod scheduler;
pub mod sharding;
pub mod trace;

pub use cancel::{CancelReason, Cancellation};
pub use config::JobConfig;
pub use error::{Error, Result};
pub use event::{Execution, JobEvent, Outcome};
pub use executor::ExecutorType;
pub use job::{DataflowJob, HandlerError, HandlerResult, Job, JobKind, ShardingContext, SimpleJob};
pub use listener::{DistributeOnceJobListener, JobListener, OnceListener, ShardingContexts};
pub use metrics::MetricsSnapshot;
pub use operate::JobOperator;
pub use registry::{MemoryServer, RegistryCenter, ZookeeperOptions};
pub use scheduler::{JobScheduler, JobSchedulerBuilder};
pub use sharding::{Assignment, ShardingStrategy};
pub use trace::{HistoryOptions, HistoryStats, HistoryStore, Retention};
