//! Support for cluster tests in every language: the execution ledger that
//! test workers append to, and the checker that finds duplicates and misses.

pub mod ledger;
