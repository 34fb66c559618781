//! Test harness that runs real ZooKeeper servers (placeholder, being written).
