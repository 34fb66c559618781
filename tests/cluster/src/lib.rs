//! Support for cluster tests in every language: the execution ledger that
//! test workers append to and its checker, worker process control, and
//! reading a worker's metrics endpoint.

#![warn(missing_docs)]

pub mod ledger;
pub mod prometheus;
pub mod workers;
