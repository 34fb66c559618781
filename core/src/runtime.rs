//! Runtimes of the core. [`shared`] is the one bindings run the scheduler
//! on: one per process, two worker threads, shared by every job (languages
//! other than Rust have no runtime of their own to lend). [`registry_io`]
//! runs only registry clients' own tasks, so no user code ever shares a
//! thread with a session's keep-alive.

use std::sync::OnceLock;
use tokio::runtime::Runtime;

/// The process-wide runtime, started on first use.
pub fn shared() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| build(2, "elasticjob"))
}

/// The runtime of registry clients' connection tasks: one thread of its own.
pub fn registry_io() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| build(1, "elasticjob-registry"))
}

fn build(threads: usize, name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("the process can start threads for a tokio runtime")
}
