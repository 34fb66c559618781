//! The console's HTTP API against a real ZooKeeper and a real SQLite or
//! PostgreSQL history: who may do what, that operations reach the registry
//! and are audited, that configuration errors name their field, that the
//! history is served filtered and paged, and that the console keeps one
//! ZooKeeper session for any number of live browsers and re-reads what it
//! may have missed after a reconnection.

mod common;

use common::*;
use elasticjob::paths::JobPaths;
use elasticjob::trace::{AuditQuery, HistoryStore};
use elasticjob::{Job, JobConfig, JobOperator, JobScheduler, RegistryCenter, ZookeeperOptions};
use elasticjob_console::{parse_listen, Console, ConsoleOptions};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use zk_harness::server::four_letter;
use zk_harness::{FreezableProxy, PgServer, ZkServer};

const NS: &str = "console";

fn center(connect: &str) -> RegistryCenter {
    RegistryCenter::zookeeper(
        ZookeeperOptions::new(connect, NS).session_timeout(Duration::from_secs(10)),
    )
}

/// A job run by a scheduler in this process, counting its runs.
async fn scheduler(
    zk: &ZkServer,
    job: &str,
    items: u32,
    history: Option<&str>,
) -> (JobScheduler, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let handler = Job::from_fn(move |_| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let mut builder = JobScheduler::builder(
        center(&zk.connect_string()),
        JobConfig::new(job, "", items),
        handler,
    );
    if let Some(url) = history {
        builder = builder.history(url);
    }
    let scheduler = builder.build().unwrap();
    scheduler.start().await.unwrap();
    (scheduler, runs)
}

/// Sessions the server holds (`cons` lists one line per connection; only
/// connections with a session have a `sid`).
fn sessions(zk: &ZkServer) -> usize {
    four_letter(zk.port(), "cons")
        .expect("ZooKeeper answers `cons`")
        .lines()
        .filter(|l| l.contains("sid=0x"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_listen_beyond_loopback_without_users() {
    let options = ConsoleOptions::new(
        RegistryCenter::embedded(NS),
        parse_listen("0.0.0.0:0").unwrap(),
    );
    let error = Console::start(options)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("--listen `0.0.0.0:0`") && error.contains("--auth"),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("users");
    std::fs::write(&bad, "ann:admin:pbkdf2-sha256$1$x$y\n").unwrap();
    let mut options = ConsoleOptions::new(
        RegistryCenter::embedded(NS),
        parse_listen("127.0.0.1:0").unwrap(),
    );
    options.auth_file = Some(bad);
    let error = Console::start(options)
        .await
        .err()
        .expect("bad users file refused")
        .to_string();
    assert!(
        error.contains("line 1") && error.contains("`admin`"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_csrf_operations_and_audit_with_a_sqlite_history() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let history = format!("sqlite://{}", dir.path().join("history.db").display());
    let (scheduler, runs) = scheduler(&zk, "reports", 3, Some(&history)).await;
    let mut options = quick(ConsoleOptions::new(
        center(&zk.connect_string()),
        parse_listen("127.0.0.1:0").unwrap(),
    ));
    options.auth_file = Some(users_file(dir.path()));
    options.history = Some(history.clone());
    let console = Console::start(options).await.unwrap();
    let client = Client::new(&console);
    let operator = Auth::Basic(OPERATOR.0, OPERATOR.1);
    let viewer = Auth::Basic(VIEWER.0, VIEWER.1);

    // Every request needs credentials; wrong ones are 401.
    let anonymous = client.get("/api/state", &Auth::None).await;
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous.headers.get("www-authenticate").is_some(),
        "scripts are told to use Basic"
    );
    assert_eq!(
        client
            .get("/api/state", &Auth::Basic(OPERATOR.0, "wrong"))
            .await
            .status,
        401
    );
    assert_eq!(
        client
            .get("/api/state", &Auth::Basic("nobody", OPERATOR.1))
            .await
            .status,
        401
    );
    assert_eq!(
        client
            .get("/metrics", &Auth::Bearer("not-the-token"))
            .await
            .status,
        401
    );
    assert_eq!(
        client.get("/", &Auth::None).await.status,
        401,
        "a page load without credentials is refused"
    );
    assert_eq!(
        client.get("/login", &Auth::None).await.status,
        200,
        "the login page is public"
    );

    // A viewer reads everything.
    let view = eventually("the viewer sees the job OK", || async {
        let answer = client.get("/api/state", &viewer).await;
        assert_eq!(answer.status, 200);
        (job(&answer.body, "reports")?["status"] == "OK").then_some(answer.body)
    })
    .await;
    assert_eq!(
        job(&view, "reports").unwrap()["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let metrics = client.get("/metrics", &Auth::Bearer(TOKEN)).await;
    assert_eq!(metrics.status, 200, "a bearer token reads the metrics");
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains("ejob_console_jobs{status=\"OK\"} 1")
            && text.contains("ejob_console_zookeeper_connected 1"),
        "{text}"
    );

    // ... but every operation is 403, and audited as DENIED.
    let denied = client
        .post("/api/jobs/reports/operations/trigger", &viewer, json!({}))
        .await;
    assert_eq!(denied.status, 403, "{:?}", denied.body);
    assert!(denied.body["error"]
        .as_str()
        .unwrap()
        .contains("operator role"));
    assert_eq!(
        client
            .post(
                "/api/jobs/reports/config",
                &Auth::Bearer(TOKEN),
                json!({"cron": ""})
            )
            .await
            .status,
        403
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0, "nothing ran");

    // Operations need the CSRF header (Basic credentials are replayed by browsers).
    let no_csrf = client
        .post_raw("/api/jobs/reports/operations/trigger", &operator, &[])
        .await;
    assert_eq!(no_csrf.status, 403);
    assert!(no_csrf.body["error"]
        .as_str()
        .unwrap()
        .contains("X-Ejob-Csrf"));
    let cross = client
        .post_raw(
            "/api/jobs/reports/operations/trigger",
            &operator,
            &[("x-ejob-csrf", "1"), ("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(cross.status, 403, "a cross-origin POST is refused");

    // An operator operates, and the registry changes.
    let done = client
        .post("/api/jobs/reports/operations/trigger", &operator, json!({}))
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    eventually("the trigger runs the three items", || async {
        (runs.load(Ordering::SeqCst) == 3).then_some(())
    })
    .await;
    assert_eq!(
        client
            .post(
                "/api/jobs/reports/operations/disable-item",
                &operator,
                json!({"item": 1})
            )
            .await
            .status,
        200
    );
    let ops = JobOperator::new(center(&zk.connect_string()));
    let items = ops.items("reports").await.unwrap();
    assert_eq!(
        items[1].state.as_str(),
        "DISABLED",
        "the item's disabled node is in the registry"
    );
    let ip = ops.instances("reports").await.unwrap()[0].server_ip.clone();
    assert_eq!(
        client
            .post(
                "/api/jobs/reports/operations/disable",
                &operator,
                json!({"server": ip})
            )
            .await
            .status,
        200
    );
    assert!(
        !ops.instances("reports").await.unwrap()[0].enabled,
        "the server is disabled"
    );
    assert_eq!(
        client
            .post(
                "/api/jobs/reports/operations/enable",
                &operator,
                json!({"server": ip})
            )
            .await
            .status,
        200
    );
    // Pause with a note (by the signed-in user), a bad end named, resume.
    let paused = client
        .post(
            "/api/jobs/reports/operations/pause",
            &operator,
            json!({"reason": "quarterly close", "until": "30m"}),
        )
        .await;
    assert_eq!(paused.status, 200, "{:?}", paused.body);
    let note = ops.pause_note("reports").await.unwrap().expect("paused");
    assert_eq!((note.by.as_str(), note.reason.as_str()), (OPERATOR.0, "quarterly close"));
    assert!(note.until.unwrap() - note.at == 30 * 60 * 1000, "{note:?}");
    let bad_until = client
        .post("/api/jobs/reports/operations/pause", &operator, json!({"until": "soon"}))
        .await;
    assert_eq!((bad_until.status, bad_until.body["field"].as_str()), (422, Some("until")));
    let bad_overlap = client
        .post("/api/jobs/reports/operations/trigger", &operator, json!({"overlap": "NOPE"}))
        .await;
    assert_eq!((bad_overlap.status, bad_overlap.body["field"].as_str()), (422, Some("overlapPolicy")));
    assert_eq!(
        client.post("/api/jobs/reports/operations/resume", &operator, json!({})).await.status,
        200
    );
    assert_eq!(ops.pause_note("reports").await.unwrap(), None, "resumed");
    // A backfill needs a range and the job's cron (this one has none): both named.
    let no_range = client.post("/api/jobs/reports/operations/backfill", &operator, json!({})).await;
    assert_eq!((no_range.status, no_range.body["field"].as_str()), (400, Some("from")));
    let no_cron = client.post("/api/jobs/reports/operations/backfill", &operator, json!({"from": "2h"})).await;
    assert_eq!((no_cron.status, no_cron.body["field"].as_str()), (422, Some("cron")), "{:?}", no_cron.body);
    let listed = client.get("/api/jobs/reports/backfills", &operator).await;
    assert_eq!((listed.status, listed.body.clone()), (200, json!([])));
    let unknown = client.post("/api/jobs/reports/operations/cancel-backfill", &operator, json!({"id": "bf-0000000007"})).await;
    assert_eq!((unknown.status, unknown.body["field"].as_str()), (422, Some("id")));
    let out_of_range = client
        .post(
            "/api/jobs/reports/operations/disable-item",
            &operator,
            json!({"item": 9}),
        )
        .await;
    assert_eq!(
        (out_of_range.status, out_of_range.body["field"].as_str()),
        (422, Some("item"))
    );
    let ghost = client
        .post("/api/jobs/ghost/operations/trigger", &operator, json!({}))
        .await;
    assert_eq!(ghost.status, 404);
    let sneaky = client
        .post(
            "/api/jobs/reports/operations/remove",
            &operator,
            json!({"server": "../../other"}),
        )
        .await;
    assert_eq!(
        (sneaky.status, sneaky.body["field"].as_str()),
        (400, Some("server"))
    );
    let live = client
        .post("/api/jobs/reports/operations/remove", &operator, json!({}))
        .await;
    assert_eq!(
        live.status, 409,
        "a job with live instances is not removed: {:?}",
        live.body
    );

    // Configuration: errors name the field; a valid change reaches the registry.
    for (field, value) in [
        ("cron", json!("every minute")),
        ("shardingTotalCount", json!("0")),
        ("timeZone", json!("Mars/Base")),
    ] {
        let answer = client
            .post(
                "/api/jobs/reports/config",
                &operator,
                json!({ field: value }),
            )
            .await;
        assert_eq!(answer.status, 422, "{field}: {:?}", answer.body);
        assert_eq!(answer.body["field"], field, "{:?}", answer.body);
        assert!(answer.body["error"]
            .as_str()
            .unwrap()
            .contains(value.as_str().unwrap()));
    }
    let unknown = client
        .post(
            "/api/jobs/reports/config",
            &operator,
            json!({"failOver": true}),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.body["field"].as_str()),
        (422, Some("failOver"))
    );
    let config = client.get("/api/jobs/reports/config", &viewer).await;
    assert_eq!(config.body["fields"]["shardingTotalCount"], 3);
    let changed = client
        .post(
            "/api/jobs/reports/config",
            &operator,
            json!({"cron": "0 0 3 * * ?", "description": "nightly", "props": "a=1"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let stored = ops.config("reports").await.unwrap();
    assert_eq!(
        (stored.cron.as_str(), stored.description.as_str()),
        ("0 0 3 * * ?", "nightly")
    );
    assert_eq!(stored.props.get("a").map(String::as_str), Some("1"));

    // A browser login: cookie plus CSRF token.
    assert_eq!(client.login(OPERATOR.0, "wrong").await.status, 401);
    let login = client.login(OPERATOR.0, OPERATOR.1).await;
    assert_eq!(login.status, 200);
    let cookie = login.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    let csrf = login.body["csrf"].as_str().unwrap().to_string();
    let me = client
        .get("/api/me", &Auth::Login(cookie.clone(), String::new()))
        .await;
    assert_eq!(
        (me.body["name"].as_str(), me.body["role"].as_str()),
        (Some(OPERATOR.0), Some("operator"))
    );
    let forged = client
        .post(
            "/api/jobs/reports/operations/enable-item",
            &Auth::Login(cookie.clone(), "forged".into()),
            json!({"item": 1}),
        )
        .await;
    assert_eq!(forged.status, 403, "a wrong CSRF token is refused");
    let good = client
        .post(
            "/api/jobs/reports/operations/enable-item",
            &Auth::Login(cookie.clone(), csrf.clone()),
            json!({"item": 1}),
        )
        .await;
    assert_eq!(good.status, 200);
    assert_eq!(
        client
            .post("/api/logout", &Auth::Login(cookie.clone(), csrf), json!({}))
            .await
            .status,
        204
    );
    assert_eq!(
        client
            .get("/api/me", &Auth::Login(cookie, String::new()))
            .await
            .status,
        401,
        "logged out"
    );

    // The audit log has every operation: who, what, job, target, outcome.
    let store = HistoryStore::open_url(&history).unwrap();
    let audits = store
        .audits(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let has = |actor: &str, action: &str, target: &str, outcome: &str| {
        audits.iter().any(|a| {
            a.actor == actor
                && a.action == action
                && a.target == target
                && a.outcome == outcome
                && a.remote_addr == "127.0.0.1"
        })
    };
    assert!(has(VIEWER.0, "trigger", "", "DENIED"), "{audits:#?}");
    assert!(has("scraper", "update-config", "", "DENIED"));
    assert!(has(OPERATOR.0, "trigger", "", "OK"));
    assert!(has(OPERATOR.0, "disable-item", "item 1", "OK"));
    assert!(has(OPERATOR.0, "disable", &format!("server {ip}"), "OK"));
    assert!(has(OPERATOR.0, "disable-item", "item 9", "FAILED"));
    assert!(has(OPERATOR.0, "remove", "", "FAILED"));
    assert!(has(OPERATOR.0, "update-config", "", "FAILED"));
    assert!(has(OPERATOR.0, "login", "", "DENIED") && has(OPERATOR.0, "login", "", "OK"));
    let update = audits
        .iter()
        .find(|a| a.action == "update-config" && a.outcome == "OK")
        .unwrap();
    assert_eq!(update.detail, "changed cron, description, props");
    assert!(
        audits
            .iter()
            .any(|a| a.job_name == "ghost" && a.outcome == "FAILED"),
        "an operation on a missing job is audited too"
    );
    // ... and the API serves it filtered.
    let denied = client
        .get("/api/audit?outcome=DENIED&limit=10", &viewer)
        .await;
    assert_eq!(
        denied.body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] != "login")
            .count(),
        2
    );
    let metrics = client.get("/metrics", &Auth::Bearer(TOKEN)).await;
    assert!(metrics
        .body
        .as_str()
        .unwrap()
        .contains("ejob_console_operations_total{action=\"trigger\",outcome=\"DENIED\"} 1"));

    // The history of the trigger's runs, from the same database.
    let runs_page = eventually("the runs are in the history", || async {
        let page = client
            .get("/api/history?job=reports&limit=2", &viewer)
            .await;
        (page.body["rows"].as_array().map_or(0, Vec::len) == 2).then_some(page.body)
    })
    .await;
    assert_eq!(runs_page["has_more"], true, "three runs, pages of two");
    let bad = client.get("/api/history?item=x", &viewer).await;
    assert_eq!(
        (bad.status, bad.body["field"].as_str()),
        (400, Some("item"))
    );

    console.shutdown().await;
    scheduler.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_timeline_and_audit_in_postgresql() {
    let zk = ZkServer::start();
    let pg = PgServer::start();
    let (scheduler, runs) = scheduler(&zk, "billing", 2, Some(&pg.url())).await;
    let mut options = quick(ConsoleOptions::new(
        center(&zk.connect_string()),
        parse_listen("127.0.0.1:0").unwrap(),
    ));
    options.history = Some(pg.url());
    let console = Console::start(options).await.unwrap();
    let client = Client::new(&console);
    let local = Auth::None;
    eventually("the console sees the job", || async {
        job(&client.get("/api/state", &local).await.body, "billing").map(|_| ())
    })
    .await;

    assert_eq!(
        client
            .post("/api/jobs/billing/operations/trigger", &local, json!({}))
            .await
            .status,
        200
    );
    eventually("both items ran", || async {
        (runs.load(Ordering::SeqCst) == 2).then_some(())
    })
    .await;
    let view = eventually("the view counts the runs", || async {
        let view = client.get("/api/state", &local).await.body;
        (view["history"]["jobs"]["billing"]["total"] == 2).then_some(view)
    })
    .await;
    assert_eq!(view["history"]["jobs"]["billing"]["failed"], 0);
    assert_eq!(
        view["history"]["jobs"]["billing"]["recent"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let timeline = client.get("/api/jobs/billing/timeline", &local).await;
    assert_eq!(timeline.status, 200);
    assert_eq!(timeline.body["executions"].as_array().unwrap().len(), 2);
    assert!(
        timeline.body["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["state"] == "TRIGGERED"),
        "{:?}",
        timeline.body
    );
    let item1 = client
        .get("/api/history?job=billing&item=1&outcome=succeeded", &local)
        .await;
    assert_eq!(item1.body["rows"].as_array().unwrap().len(), 1);
    assert_eq!(item1.body["rows"][0]["sharding_item"], 1);
    let none = client
        .get("/api/history?job=billing&outcome=FAILED", &local)
        .await;
    assert_eq!(none.body["rows"].as_array().unwrap().len(), 0);
    let statuses = client
        .get("/api/statuses?job=billing&state=RESHARDED", &local)
        .await;
    assert!(!statuses.body["rows"].as_array().unwrap().is_empty());

    // Without users the operator is `anonymous`; the audit is in PostgreSQL.
    let store = HistoryStore::open_url(&pg.url()).unwrap();
    let audits = store
        .audits(&AuditQuery {
            job_name: Some("billing".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert_eq!(
        (
            audits[0].actor.as_str(),
            audits[0].role.as_str(),
            audits[0].action.as_str(),
            audits[0].outcome.as_str()
        ),
        ("anonymous", "operator", "trigger", "OK")
    );
    let api = client.get("/api/audit?job=billing", &local).await;
    assert_eq!(api.body["rows"][0]["action"], "trigger");

    // A page of a user-less console answers only to a loopback Host.
    let rebound = reqwest::Client::new()
        .get(format!("{}/api/state", client.base))
        .header("host", "attacker.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status().as_u16(), 403, "DNS rebinding is refused");

    console.shutdown().await;
    scheduler.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_zookeeper_session_serves_every_browser_live() {
    let zk = ZkServer::start();
    // A job without instances, written by a session that then goes away.
    let setup = center(&zk.connect_string());
    let session = setup.session().await.unwrap();
    let paths = JobPaths::new("ledger");
    session
        .put(
            &paths.config(),
            JobConfig::new("ledger", "0 0 * * * ?", 4)
                .to_yaml()
                .unwrap()
                .as_bytes(),
        )
        .await
        .unwrap();
    setup.close().await;
    eventually("the set-up session is gone", || async {
        (sessions(&zk) == 0).then_some(())
    })
    .await;

    let options = quick(ConsoleOptions::new(
        center(&zk.connect_string()),
        parse_listen("127.0.0.1:0").unwrap(),
    ));
    let console = Console::start(options).await.unwrap();
    let client = Client::new(&console);
    let mut browsers = Vec::new();
    for _ in 0..20 {
        let mut events = client.events(&Auth::None).await;
        events
            .until("the job", |view| job(view, "ledger").is_some())
            .await;
        browsers.push(events);
    }
    let metrics = client.get("/metrics", &Auth::None).await.body;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("ejob_console_sse_clients 20\n"),
        "{metrics}"
    );

    // Operations go through the same session; every browser sees the change.
    assert_eq!(
        client
            .post(
                "/api/jobs/ledger/operations/disable-item",
                &Auth::None,
                json!({"item": 2})
            )
            .await
            .status,
        200
    );
    for events in &mut browsers {
        events
            .until("item 2 disabled", |view| {
                item_state(view, "ledger", 2).as_deref() == Some("DISABLED")
            })
            .await;
    }
    assert_eq!(
        sessions(&zk),
        1,
        "20 browsers and an operation: one ZooKeeper session, the console's"
    );

    // A change made elsewhere is pushed too.
    let other = center(&zk.connect_string());
    JobOperator::new(other.clone())
        .disable_item("ledger", 3)
        .await
        .unwrap();
    browsers[7]
        .until("item 3 disabled", |view| {
            item_state(view, "ledger", 3).as_deref() == Some("DISABLED")
        })
        .await;
    other.close().await;

    drop(browsers);
    let metrics = eventually("the browsers are gone", || async {
        let text = client
            .get("/metrics", &Auth::None)
            .await
            .body
            .as_str()
            .unwrap()
            .to_string();
        text.contains("ejob_console_sse_clients 0\n")
            .then_some(text)
    })
    .await;
    assert!(
        metrics.contains("ejob_console_zookeeper_watch_events_total"),
        "{metrics}"
    );
    console.shutdown().await;
    eventually("the console's session is closed on shutdown", || async {
        (sessions(&zk) == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_missed_during_a_disconnection_is_read_after_it() {
    let zk = ZkServer::start();
    let direct = center(&zk.connect_string());
    let session = direct.session().await.unwrap();
    session
        .put(
            &JobPaths::new("audit").config(),
            JobConfig::new("audit", "", 2).to_yaml().unwrap().as_bytes(),
        )
        .await
        .unwrap();

    let proxy = FreezableProxy::start(&zk.connect_string());
    let options = quick(ConsoleOptions::new(
        center(&proxy.connect_string()),
        parse_listen("127.0.0.1:0").unwrap(),
    ));
    let console = Console::start(options).await.unwrap();
    let client = Client::new(&console);
    let mut events = client.events(&Auth::None).await;
    let first = events
        .until("the job", |view| job(view, "audit").is_some())
        .await;
    let session_id = first["registry"]["session_id"]
        .as_str()
        .unwrap()
        .to_string();

    // The watch event of this change is held by the frozen proxy, then
    // dropped with the connection: only a re-read can show it.
    proxy.freeze();
    JobOperator::new(direct.clone())
        .disable_item("audit", 1)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.sever();
    proxy.thaw();
    let view = events
        .until("item 1 disabled after the reconnection", |view| {
            item_state(view, "audit", 1).as_deref() == Some("DISABLED")
        })
        .await;
    assert_eq!(view["registry"]["state"], "CONNECTED");
    assert_eq!(
        view["registry"]["session_id"],
        session_id.as_str(),
        "the same session, reconnected"
    );
    assert_eq!(view["registry"]["reconnects"], 0, "no session was lost");
    console.shutdown().await;
    direct.close().await;
}
