//! The benchmark, one module per question it answers. `elasticjob-bench`
//! runs the measurements against a real ZooKeeper and writes their figures
//! as JSON; `bench-readme` renders the README's Performance section from
//! that JSON, so every published figure is one the code measured.
//!
//! Every measurement runs the job the same way unless it says otherwise
//! ([`workers::bench_config`]): failover and misfire on, the clock check on,
//! several instances, so that what is measured is what a production cluster
//! pays, not the cheapest path through the scheduler.

pub mod cost;
pub mod failover;
pub mod inprocess;
pub mod java;
pub mod latency;
pub mod machine;
pub mod scale;
pub mod stats;
pub mod table;
pub mod workers;
