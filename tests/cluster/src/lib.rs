//! Support for cluster tests in every language: the execution ledger that
//! test workers append to and its checker, and worker process control.

pub mod ledger;
pub mod workers;
