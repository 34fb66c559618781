//! Sharding: the strategies that spread items over instances (ElasticJob's
//! built-in ones and users' own), and the service that applies an
//! assignment in the registry.

pub mod balance;
pub mod custom;
#[doc(hidden)] // the leader's resharding: protocol, not API (see lib.rs)
pub mod service;
pub mod strategy;
#[doc(hidden)] // a fire's reads: protocol, not API
pub mod view;

pub use custom::{Assignment, ShardingStrategy, Strategies, Strategy};
pub use strategy::ShardingAlgorithm;
