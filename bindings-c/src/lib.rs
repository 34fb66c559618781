//! The C binding: `libelasticjob` and `include/elasticjob.h`.
//!
//! A thin layer over the core: opaque handles, status codes, a thread-local
//! last-error message, explicit free functions. No panic crosses the
//! boundary: every exported function runs inside `catch_unwind`.

#![allow(non_camel_case_types)]

mod config;
mod operator;
mod registry;
mod scheduler;
mod status;

pub use config::*;
pub use operator::*;
pub use registry::*;
pub use scheduler::*;
pub use status::*;

/// The runtime every scheduler of the process shares.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("elasticjob")
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}
