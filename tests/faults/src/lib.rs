//! Support for the fault-injection suite: a cluster of `rust-worker`
//! processes sharing one ledger ([`cluster`]), a direct registry client that
//! writes what an operator would and counts znodes ([`direct`]), a
//! ZooKeeper ensemble whose nodes can all be down at once ([`ensemble`]),
//! and the measurements every scenario prints ([`measure`]).

#![warn(missing_docs)]

pub mod cluster;
pub mod direct;
pub mod ensemble;
pub mod measure;

pub use direct::{zk_count, Direct, ZnodeCount};
