//! The Node.js binding's native half. It converts types and errors and calls
//! JavaScript through one thread-safe function; `index.js` wraps it in the
//! public API (EventEmitter, Promises, camelCase config). Every decision is
//! the Rust core's.

pub mod config;
pub mod logging;
pub mod registry;
pub mod scheduler;
pub mod strategy;

use napi::{Error, Status};

/// Maps a core error to a JS error: bad input is `InvalidArg`, the rest `GenericFailure`.
pub(crate) fn to_js(error: elasticjob::Error) -> Error {
    let status = match error {
        elasticjob::Error::InvalidConfig { .. } => Status::InvalidArg,
        _ => Status::GenericFailure,
    };
    Error::new(status, error.to_string())
}
