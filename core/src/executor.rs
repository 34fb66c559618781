//! `jobExecutorServiceHandlerType`: how many items of one instance run at
//! once. Java ElasticJob gives each job a thread pool of that size
//! (`CPUUsageJobExecutorServiceHandler`: available processors × 2;
//! `SingleThreadJobExecutorServiceHandler`: one thread); we bound the
//! handlers in flight the same way, whatever language runs them.

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// The executor type of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExecutorType {
    /// `CPU` (default): up to twice the CPU count at once.
    #[default]
    Cpu,
    /// `SINGLE_THREAD`: one item at a time; the others wait their turn.
    SingleThread,
}

impl ExecutorType {
    /// The type for a `jobExecutorServiceHandlerType` value (empty = default).
    pub fn from_type_name(name: &str) -> Result<Self> {
        match name.trim() {
            "" | "CPU" => Ok(ExecutorType::Cpu),
            "SINGLE_THREAD" => Ok(ExecutorType::SingleThread),
            _ => Err(Error::invalid("jobExecutorServiceHandlerType", name, "must be CPU or SINGLE_THREAD")),
        }
    }

    /// How many items may run at once.
    pub fn pool_size(self) -> usize {
        match self {
            ExecutorType::Cpu => std::thread::available_parallelism().map_or(4, |n| n.get() * 2),
            ExecutorType::SingleThread => 1,
        }
    }
}

/// The bound on handlers in flight, resized when the job's configuration
/// changes (as Java reloads its executor when the type changes). Runs that
/// hold a permit of the old bound keep it until they end, as tasks of
/// Java's old executor do; new runs take permits of the new bound.
pub(crate) struct Pool {
    current: Mutex<(usize, Arc<Semaphore>)>,
}

impl Pool {
    pub(crate) fn new(size: usize) -> Self {
        Pool { current: Mutex::new((size, Arc::new(Semaphore::new(size)))) }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, (usize, Arc<Semaphore>)> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The permits the next runs take.
    pub(crate) fn permits(&self) -> Arc<Semaphore> {
        self.current().1.clone()
    }

    /// Sets the bound for runs started from now on.
    pub(crate) fn resize(&self, size: usize) {
        let mut current = self.current();
        if current.0 != size {
            *current = (size, Arc::new(Semaphore::new(size)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_and_sizes() {
        assert_eq!(ExecutorType::from_type_name("").unwrap(), ExecutorType::Cpu);
        assert_eq!(ExecutorType::from_type_name("SINGLE_THREAD").unwrap(), ExecutorType::SingleThread);
        assert_eq!(ExecutorType::SingleThread.pool_size(), 1);
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert_eq!(ExecutorType::Cpu.pool_size(), cpus * 2);
        let message = ExecutorType::from_type_name("GPU").unwrap_err().to_string();
        assert!(message.contains("jobExecutorServiceHandlerType") && message.contains("GPU"), "{message}");
    }

    #[test]
    fn a_resize_applies_to_new_runs_only() {
        let pool = Pool::new(2);
        let old = pool.permits();
        let held = old.clone().try_acquire_owned().unwrap();
        pool.resize(1);
        let new = pool.permits();
        assert_eq!(new.available_permits(), 1);
        assert_eq!(old.available_permits(), 1, "the old bound still counts its run");
        drop(held);
        pool.resize(1);
        assert!(Arc::ptr_eq(&new, &pool.permits()), "same size: same permits");
    }
}
