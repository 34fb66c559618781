//! Support for cluster tests in every language: the execution ledger that
//! test workers append to and its checker, and worker process control.

#![warn(missing_docs)]

pub mod ledger;
pub mod workers;
