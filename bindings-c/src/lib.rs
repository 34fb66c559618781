//! The C binding: `libelasticjob` and `include/elasticjob.h`.
//!
//! A thin layer over the core: opaque handles, status codes, a thread-local
//! last-error message, explicit free functions. No panic crosses the
//! boundary: every exported function runs inside `catch_unwind`.

#![allow(non_camel_case_types)]

mod config;
mod context;
mod listener;
mod log;
mod metrics;
mod operator;
mod registry;
mod scheduler;
mod status;
mod strategy;
mod version;

pub use config::*;
pub use context::*;
pub use listener::*;
pub use log::*;
pub use metrics::*;
pub use operator::*;
pub use registry::*;
pub use scheduler::*;
pub use status::*;
pub use strategy::*;
pub use version::*;

pub(crate) use elasticjob::runtime::shared as runtime;
