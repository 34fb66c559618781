//! Metrics of schedulers in one process, on the embedded registry: the
//! snapshot agrees with what the handlers saw (runs by outcome, fires,
//! histogram counts), follows the session through a lost connection and an
//! expiry, and the process's one `/metrics` endpoint serves every job.

use elasticjob::metrics::SessionState;
use elasticjob::{Job, JobConfig, JobScheduler, EmbeddedServer, MetricsSnapshot, RegistryCenter};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// (item, fire time, succeeded) of every handler call, as the handler saw it.
type Calls = Arc<Mutex<Vec<(u32, i64, bool)>>>;

fn job(calls: &Calls) -> Job {
    let calls = calls.clone();
    Job::from_fn(move |ctx| {
        let calls = calls.clone();
        async move {
            let ok = ctx.sharding_item != 1;
            calls.lock().unwrap().push((ctx.sharding_item, ctx.fire_time, ok));
            if ok {
                Ok(())
            } else {
                Err("item 1 always fails".into())
            }
        }
    })
}

/// One GET over a plain socket; the response's status line and body.
fn get(address: SocketAddr, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// The value of one sample line.
fn sample(text: &str, series: &str) -> u64 {
    let line = text.lines().find(|l| l.rsplit_once(' ').is_some_and(|(s, _)| s == series));
    line.unwrap_or_else(|| panic!("no `{series}` in:\n{text}")).rsplit_once(' ').unwrap().1.parse().unwrap()
}

async fn wait_for(what: &str, scheduler: &JobScheduler, done: impl Fn(&MetricsSnapshot) -> bool) {
    for _ in 0..200 {
        if done(&scheduler.metrics()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: {:?}", scheduler.metrics());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_matches_the_handlers_follows_the_session_and_the_endpoint_serves_every_job() {
    let server = EmbeddedServer::new();
    let center = RegistryCenter::embedded_on(&server, "metrics");
    let calls: Calls = Calls::default();
    let scheduler = JobScheduler::builder(center.clone(), JobConfig::new("counted", "* * * * * ?", 3), job(&calls))
        .metrics_listen("127.0.0.1:0")
        .build()
        .unwrap();
    let address = scheduler.metrics_address().expect("it asked for the endpoint");
    assert_eq!(scheduler.metrics().session_state, SessionState::Closed, "not started yet");
    // A second job of the process shares the endpoint; another address is refused by name.
    let other = JobScheduler::builder(center.clone(), JobConfig::new("other", "", 1), job(&Calls::default()))
        .metrics_listen(address.to_string())
        .build()
        .unwrap();
    assert_eq!(other.metrics_address(), Some(address));
    let refused = JobScheduler::builder(center.clone(), JobConfig::new("third", "", 1), job(&Calls::default()))
        .metrics_listen("127.0.0.1:1")
        .build()
        .err()
        .expect("a second address is refused");
    assert!(refused.to_string().contains("127.0.0.1:1") && refused.to_string().contains(&address.to_string()), "{refused}");

    scheduler.start().await.unwrap();
    wait_for("three fires", &scheduler, |m| m.fires.cron >= 3).await;
    assert_eq!(scheduler.metrics().session_state, SessionState::Connected);
    assert_eq!(scheduler.metrics().items_owned, 3, "the only instance owns every item");

    // A lost connection, then back within the session.
    let session = center.session().await.unwrap().session_id();
    server.disconnect(session);
    wait_for("suspended", &scheduler, |m| m.session_state == SessionState::Suspended).await;
    server.reconnect(session);
    wait_for("reconnected", &scheduler, |m| m.session_state == SessionState::Connected && m.reconnects.connection == 1).await;
    // An expired session: registered again with a new one.
    server.expire(session);
    wait_for("registered again", &scheduler, |m| m.reconnects.session == 1 && m.session_state == SessionState::Connected)
        .await;
    let fires_before = scheduler.metrics().fires.cron;
    wait_for("fires go on", &scheduler, |m| m.fires.cron >= fires_before + 2).await;
    scheduler.trigger().await.unwrap();
    wait_for("the trigger", &scheduler, |m| m.fires.trigger >= 1).await;

    let (status, text) = get(address, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(text.contains("elasticjob_fires_total{job=\"other\",kind=\"cron\"} 0"), "{text}");
    assert_eq!(get(address, "/").0, "HTTP/1.1 404 Not Found");

    scheduler.shutdown().await;
    let m = scheduler.metrics();
    let calls = calls.lock().unwrap().clone();
    let failed = calls.iter().filter(|c| !c.2).count() as u64;
    assert_eq!(m.executions.failed, failed, "{m:?}");
    // A run cancelled by the expiry may have returned Ok to its handler's
    // eyes; one reserved just before it was cancelled before its handler
    // started (counted as cancelled, with no duration and no lag).
    let unstarted = m.executions.total() - calls.len() as u64;
    assert!(m.executions.total() >= calls.len() as u64, "{m:?}");
    assert_eq!(m.executions.succeeded + m.executions.cancelled, calls.len() as u64 - failed + unstarted, "{m:?}");
    assert_eq!(m.executions.timed_out, 0);
    assert_eq!(m.handler_duration.count, calls.len() as u64);
    assert_eq!(m.fire_lag.count, calls.len() as u64, "every fire time is known");
    let fires: BTreeSet<i64> = calls.iter().map(|c| c.1).collect();
    let counted = m.fires.cron + m.fires.trigger + m.fires.misfire;
    // A fire whose every run was cancelled before its instant has no call.
    assert!(
        counted >= fires.len() as u64 && counted <= fires.len() as u64 + unstarted,
        "one fire per fire time ({unstarted} runs cancelled before starting): {calls:?}"
    );
    let per_item: BTreeMap<u32, usize> = calls.iter().fold(BTreeMap::new(), |mut n, c| {
        *n.entry(c.0).or_default() += 1;
        n
    });
    assert_eq!(per_item.len(), 3, "{per_item:?}");
    assert_eq!((m.session_state, m.items_owned, m.items_running), (SessionState::Closed, 0, 0));

    // The endpoint serves the same figures as the snapshot.
    let (_, text) = get(address, "/metrics");
    let series = |s: &str| sample(&text, &format!("elasticjob_{s}"));
    assert_eq!(series("executions_total{job=\"counted\",outcome=\"succeeded\"}"), m.executions.succeeded);
    assert_eq!(series("executions_total{job=\"counted\",outcome=\"failed\"}"), m.executions.failed);
    assert_eq!(series("fires_total{job=\"counted\",kind=\"cron\"}"), m.fires.cron);
    assert_eq!(series("fire_lag_seconds_count{job=\"counted\"}"), m.fire_lag.count);
    assert_eq!(series("handler_duration_seconds_bucket{job=\"counted\",le=\"+Inf\"}"), m.handler_duration.count);
    assert_eq!(series("registry_reconnects_total{job=\"counted\",kind=\"connection\"}"), 1);
    assert_eq!(series("registry_reconnects_total{job=\"counted\",kind=\"session\"}"), 1);
    assert_eq!(series("registry_session_state{job=\"counted\",state=\"closed\"}"), 1);
    assert_eq!(series("registry_session_state{job=\"counted\",state=\"connected\"}"), 0);

    // The last scheduler that asked for the endpoint gone, the port is free.
    drop(scheduler);
    drop(other);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(std::net::TcpStream::connect(address).is_err(), "the endpoint stopped with its schedulers");
}
