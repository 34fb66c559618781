//! `elasticjob`: a distributed cron scheduler whose jobs are split into shards
//! spread over every live instance, coordinated through Apache ZooKeeper with
//! the node layout of Apache ElasticJob-Lite 3.x.

pub mod error;

pub use error::{Error, Result};
pub mod registry;
