//! HTTP jobs and error handlers through the whole scheduler on a real
//! ZooKeeper server (started by the harness): the HTTP job's requests and
//! the notifiers' messages reach servers the tests start on loopback ports.

use elasticjob::registry::ZookeeperOptions;
use elasticjob::{Job, JobConfig, JobEvent, JobScheduler, Outcome, RegistryCenter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use zk_harness::{HttpSink, ZkServer};

static NAMESPACE: AtomicUsize = AtomicUsize::new(0);

fn center() -> RegistryCenter {
    static SERVER: OnceLock<ZkServer> = OnceLock::new();
    let connect = SERVER.get_or_init(ZkServer::start).connect_string();
    let namespace = format!("http-errors-{}-{}", std::process::id(), NAMESPACE.fetch_add(1, Ordering::SeqCst));
    RegistryCenter::zookeeper(ZookeeperOptions::new(connect, namespace).session_timeout(Duration::from_millis(1500)))
}

fn failing_job() -> Job {
    Job::from_fn(|ctx| async move { Err(format!("item {} could not reach the ledger", ctx.sharding_item).into()) })
}

/// Waits (without blocking the runtime) until `check` holds, at most 20 s.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_job_requests_once_per_item_with_its_context() {
    let sink = HttpSink::start();
    let mut config = JobConfig::new("http-job", "", 2);
    config.sharding_item_parameters = "0=north,1=south".into();
    config.props.insert("http.uri".into(), sink.url("/orders/sync"));
    config.props.insert("http.method".into(), "POST".into());
    config.props.insert("http.data".into(), "full=true".into());
    config.props.insert("http.content.type".into(), "application/x-www-form-urlencoded".into());
    let scheduler = JobScheduler::builder(center(), config, Job::http()).build().unwrap();
    let mut events = scheduler.events();
    scheduler.start().await.unwrap();
    scheduler.trigger().await.unwrap();
    let mut succeeded = 0;
    while succeeded < 2 {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await.expect("two executions").unwrap() {
            JobEvent::Executed(e) => {
                assert_eq!(e.outcome, Outcome::Succeeded, "{e:?}");
                succeeded += 1;
            }
            _ => continue,
        }
    }
    let mut parameters: Vec<String> = sink
        .requests()
        .iter()
        .map(|r| {
            assert_eq!((r.method.as_str(), r.target.as_str(), r.body.as_str()), ("POST", "/orders/sync", "full=true"));
            let ctx: serde_json::Value = serde_json::from_str(r.header("shardingContext").unwrap()).unwrap();
            assert_eq!(ctx["jobName"], "http-job");
            ctx["shardingParameter"].as_str().unwrap().to_string()
        })
        .collect();
    parameters.sort();
    assert_eq!(parameters, ["north", "south"]);
    scheduler.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_job_with_bad_props_is_refused_naming_the_prop() {
    let mut config = JobConfig::new("http-bad", "", 1);
    config.props.insert("http.uri".into(), "http://127.0.0.1:1/".into());
    let err = JobScheduler::builder(center(), config.clone(), Job::http()).build().err().expect("refused").to_string();
    assert!(err.contains("http.method"), "{err}");
    config.props.insert("http.method".into(), "GET".into());
    config.props.insert("http.read.timeout.milliseconds".into(), "-5".into());
    let err = JobScheduler::builder(center(), config.clone(), Job::http()).build().err().expect("refused").to_string();
    assert!(err.contains("http.read.timeout.milliseconds") && err.contains("-5"), "{err}");
    // The same props mean nothing to a simple job.
    JobScheduler::builder(center(), config, failing_job()).build().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_with_a_webhook_handler_notifies_the_sink() {
    let sink = HttpSink::start();
    let mut config = JobConfig::new("webhook-job", "", 1);
    config.job_error_handler_type = Some("WEBHOOK".into());
    config.props.insert("webhook.url".into(), sink.url("/failures"));
    let scheduler = JobScheduler::builder(center(), config, failing_job()).build().unwrap();
    scheduler.start().await.unwrap();
    scheduler.trigger().await.unwrap();
    eventually("the notification", || !sink.requests().is_empty()).await;
    let body: serde_json::Value = serde_json::from_str(&sink.requests()[0].body).unwrap();
    assert_eq!(body["jobName"], "webhook-job");
    assert_eq!(body["item"], 0);
    assert_eq!(body["instanceId"], scheduler.instance_id());
    assert_eq!(body["message"], "item 0 could not reach the ledger");
    eventually("the count", || scheduler.notification_stats().sent == 1).await;
    scheduler.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throw_hands_the_failure_to_the_user_and_log_does_not() {
    for (kind, thrown) in [("THROW", true), ("LOG", false)] {
        let mut config = JobConfig::new(&format!("throw-{}", kind.to_lowercase()), "", 1);
        config.job_error_handler_type = Some(kind.into());
        let scheduler = JobScheduler::builder(center(), config, failing_job()).build().unwrap();
        let mut events = scheduler.events();
        scheduler.start().await.unwrap();
        scheduler.trigger().await.unwrap();
        let mut seen = Vec::new();
        // The run's Executed event comes first; Thrown, if any, right after it.
        while let Ok(Ok(event)) = tokio::time::timeout(Duration::from_secs(if seen.is_empty() { 20 } else { 1 }), events.recv()).await {
            if matches!(event, JobEvent::Executed(_) | JobEvent::Thrown(_)) {
                seen.push(event);
            }
        }
        let thrown_events: Vec<_> = seen.iter().filter_map(|e| if let JobEvent::Thrown(x) = e { Some(x) } else { None }).collect();
        assert!(matches!(seen.first(), Some(JobEvent::Executed(_))), "{kind}: {seen:?}");
        if thrown {
            assert_eq!(thrown_events.len(), 1, "{seen:?}");
            assert_eq!(thrown_events[0].outcome, Outcome::Failed("item 0 could not reach the ledger".into()));
        } else {
            assert!(thrown_events.is_empty(), "{seen:?}");
        }
        scheduler.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_http_request_is_dropped_at_the_execution_timeout_and_thrown() {
    let sink = HttpSink::answering(zk_harness::Reply::new(200, "late").after(Duration::from_secs(10)));
    let mut config = JobConfig::new("http-hang", "", 1);
    config.job_error_handler_type = Some("THROW".into());
    config.props.insert("http.uri".into(), sink.url("/slow"));
    config.props.insert("http.method".into(), "GET".into());
    config.props.insert("http.read.timeout.milliseconds".into(), "30000".into());
    config.props.insert("executionTimeoutMillis".into(), "300".into());
    let scheduler = JobScheduler::builder(center(), config, Job::http()).build().unwrap();
    let mut events = scheduler.events();
    scheduler.start().await.unwrap();
    scheduler.trigger().await.unwrap();
    let thrown = loop {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await.expect("a thrown failure").unwrap() {
            JobEvent::Thrown(e) => break e,
            _ => continue,
        }
    };
    assert_eq!(thrown.outcome, Outcome::TimedOut);
    let took = thrown.finished_at - thrown.started_at;
    assert!(took < 3000, "the request was dropped, not waited for: {took} ms");
    scheduler.shutdown().await;
}
