//! The Tokio runtime that bindings run the scheduler on: one per process,
//! two worker threads, shared by every job (languages other than Rust have
//! no runtime of their own to lend).

use std::sync::OnceLock;

/// The process-wide runtime, started on first use.
pub fn shared() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("elasticjob")
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}
