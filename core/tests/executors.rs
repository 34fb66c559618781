//! `jobExecutorServiceHandlerType`: with `SINGLE_THREAD` an instance's items
//! never overlap; with `CPU` they do; the builder's `max_parallel` wins.

use elasticjob::{Job, JobConfig, JobScheduler, EmbeddedServer, RegistryCenter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Runs one fire of a four-item job on one instance; returns the most
/// handlers that were ever in flight at once.
async fn most_in_flight(executor: Option<&str>, max_parallel: Option<usize>) -> usize {
    let server = EmbeddedServer::new();
    let mut config = JobConfig::new("pool", "", 4);
    config.job_executor_service_handler_type = executor.map(str::to_string);
    let (in_flight, most, done) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let job = {
        let (in_flight, most, done) = (in_flight.clone(), most.clone(), done.clone());
        Job::from_fn(move |_| {
            let (in_flight, most, done) = (in_flight.clone(), most.clone(), done.clone());
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(150)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                done.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
    };
    let mut builder = JobScheduler::builder(RegistryCenter::embedded_on(&server, "ns"), config, job);
    if let Some(n) = max_parallel {
        builder = builder.max_parallel(n);
    }
    let scheduler = builder.build().unwrap();
    scheduler.start().await.unwrap();
    scheduler.trigger().await.unwrap();
    for _ in 0..100 {
        if done.load(Ordering::SeqCst) == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    scheduler.shutdown().await;
    assert_eq!(done.load(Ordering::SeqCst), 4, "every item ran");
    most.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_thread_runs_items_one_at_a_time_and_cpu_overlaps_them() {
    assert_eq!(most_in_flight(Some("SINGLE_THREAD"), None).await, 1);
    // CPU allows twice the CPU count (at least 2): four items overlap.
    assert!(most_in_flight(Some("CPU"), None).await >= 2);
    assert!(most_in_flight(None, None).await >= 2, "CPU is the default");
    // An explicit max_parallel wins over the type.
    assert!(most_in_flight(Some("SINGLE_THREAD"), Some(4)).await >= 2);
}

#[test]
fn an_unknown_type_fails_the_build_naming_key_and_value() {
    let server = EmbeddedServer::new();
    let mut config = JobConfig::new("pool", "", 1);
    config.job_executor_service_handler_type = Some("GPU".into());
    let err = JobScheduler::builder(RegistryCenter::embedded_on(&server, "ns"), config, Job::from_fn(|_| async { Ok(()) }))
        .build()
        .err()
        .expect("GPU is not an executor type");
    assert!(err.to_string().contains("jobExecutorServiceHandlerType") && err.to_string().contains("GPU"), "{err}");
}
