//! Sharding: the strategies that spread items over instances, and the
//! service that applies an assignment in the registry.

pub mod service;
pub mod strategy;

pub use strategy::ShardingAlgorithm;
