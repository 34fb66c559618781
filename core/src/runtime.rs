//! Runtimes of the core. [`shared`] is the one bindings run the scheduler
//! on: one per process, two worker threads, shared by every job (languages
//! other than Rust have no runtime of their own to lend). [`registry_io`]
//! runs only registry clients' own tasks, so no user code ever shares a
//! thread with a session's keep-alive.

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

/// The runtime of registry clients' connection tasks: one thread of its own.
pub fn registry_io() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("elasticjob-registry")
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}
