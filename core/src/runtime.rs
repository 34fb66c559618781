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

/// The message a task that panicked carried (`cancelled` for a task
/// aborted instead), for reports of user code that failed that way.
pub(crate) fn panic_text(join: tokio::task::JoinError) -> String {
    if join.is_cancelled() {
        return "cancelled".into();
    }
    let payload = join.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".into())
}

fn build(threads: usize, name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("the process can start threads for a tokio runtime")
}
