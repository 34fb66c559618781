//! Test harness that runs real ZooKeeper servers (placeholder, being written).
pub mod proxy;
pub use proxy::FreezableProxy;
