//! `ejob` against a real ZooKeeper: it sees, triggers, disables and dumps a
//! job that a scheduler in this test runs, and runs script jobs from YAML.

use elasticjob::{Job, JobConfig, JobScheduler, RegistryCenter, ZookeeperOptions};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use zk_harness::ZkServer;

fn ejob(zk: &ZkServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ejob"))
        .args(["--zk", &zk.connect_string(), "--namespace", "cli"])
        .args(args)
        .output()
        .expect("ejob runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "ejob failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operates_a_running_job() {
    let zk = ZkServer::start();
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let job = Job::from_fn(move |_| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let center = RegistryCenter::zookeeper(ZookeeperOptions::new(zk.connect_string(), "cli"));
    let scheduler = JobScheduler::builder(center, JobConfig::new("reports", "", 3), job).build().unwrap();
    scheduler.start().await.unwrap();

    let mut jobs = String::new();
    for _ in 0..100 {
        jobs = stdout(&ejob(&zk, &["jobs"]));
        if jobs.contains(" OK ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(jobs.contains("reports") && jobs.contains(" OK "), "the job settles to OK: {jobs}");
    let instances = stdout(&ejob(&zk, &["instances", "reports"]));
    assert!(instances.contains(scheduler.instance_id()) && instances.contains("leader"), "{instances}");

    stdout(&ejob(&zk, &["disable-item", "reports", "2"]));
    stdout(&ejob(&zk, &["trigger", "reports"]));
    for _ in 0..100 {
        if runs.load(Ordering::SeqCst) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 2, "items 0 and 1 ran, the disabled one did not");
    let items = stdout(&ejob(&zk, &["items", "reports"]));
    assert!(items.contains("DISABLED"), "{items}");

    let dump = stdout(&ejob(&zk, &["dump", "reports"]));
    assert!(dump.contains("/reports/config = ") && dump.contains("/reports/sharding/2/disabled"), "{dump}");

    let bad = ejob(&zk, &["disable-item", "reports", "nine"]);
    assert_eq!(bad.status.code(), Some(2), "a bad ITEM is a usage error");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid value 'nine' for '<ITEM>'"));
    // The override goes to the instances (ran: the items were idle); a bad one is named.
    stdout(&ejob(&zk, &["trigger", "reports", "--overlap", "SKIP"]));
    for _ in 0..100 {
        if runs.load(Ordering::SeqCst) >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(runs.load(Ordering::SeqCst), 4, "a SKIP trigger runs the idle items");
    let bad_overlap = ejob(&zk, &["trigger", "reports", "--overlap", "SOMETIMES"]);
    assert_eq!(bad_overlap.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_overlap.stderr).contains("overlapPolicy `SOMETIMES`"), "{bad_overlap:?}");
    let paused = stdout(&ejob(&zk, &["pause", "reports", "--reason", "maintenance", "--by", "ops", "--until", "1h"]));
    assert!(paused.contains("paused by ops: maintenance until "), "{paused}");
    let listed = stdout(&ejob(&zk, &["jobs"]));
    assert!(listed.contains("PAUSED") && listed.contains("paused by ops: maintenance until"), "{listed}");
    let bad_until = ejob(&zk, &["pause", "reports", "--until", "soon"]);
    assert_eq!(bad_until.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_until.stderr).contains("until `soon`"), "{bad_until:?}");
    stdout(&ejob(&zk, &["resume", "reports"]));
    assert!(stdout(&ejob(&zk, &["jobs"])).contains(" OK "), "resumed");
    let no_cron = ejob(&zk, &["backfill", "reports", "--from", "1d"]);
    assert!(String::from_utf8_lossy(&no_cron.stderr).contains("a backfill needs the job's cron"), "{no_cron:?}");
    let missing = ejob(&zk, &["trigger", "ghost"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("jobName `ghost`"));
    let usage = Command::new(env!("CARGO_BIN_EXE_ejob")).arg("jobs").output().unwrap();
    assert_eq!(usage.status.code(), Some(2), "missing --zk is a usage error");

    stdout(&ejob(&zk, &["shutdown", "reports"]));
    for _ in 0..100 {
        if scheduler.is_shut_down() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(scheduler.is_shut_down(), "the operator's shutdown reached the scheduler");
    scheduler.shutdown().await;
    stdout(&ejob(&zk, &["remove", "reports"]));
    assert!(!stdout(&ejob(&zk, &["jobs"])).contains("reports"));
}

/// `ejob backfill` runs a daily job for the last three days on both its
/// items; `ejob backfills` shows it done; `ejob cancel-backfill` forgets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfills_a_range_lists_it_and_forgets_it() {
    let zk = ZkServer::start();
    let fires = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = fires.clone();
    let job = Job::from_fn(move |ctx| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push((ctx.sharding_item, ctx.fire_time));
            Ok(())
        }
    });
    let center = RegistryCenter::zookeeper(ZookeeperOptions::new(zk.connect_string(), "cli"));
    let scheduler = JobScheduler::builder(center, JobConfig::new("daily", "0 0 0 * * ?", 2), job).build().unwrap();
    scheduler.start().await.unwrap();
    let bad = ejob(&zk, &["backfill", "daily", "--from", "last week"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid from `last week`"), "{bad:?}");
    let id = stdout(&ejob(&zk, &["backfill", "daily", "--from", "3d", "--by", "ops"])).trim().to_string();
    assert!(id.starts_with("bf-"), "{id}");
    let mut rows = Vec::new();
    for _ in 0..200 {
        rows = json_rows(&ejob(&zk, &["backfills", "daily", "--json"]));
        if rows.first().is_some_and(|row| row["done"] == true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0]["id"].as_str(), rows[0]["by"].as_str(), rows[0]["done"].as_bool()), (Some(id.as_str()), Some("ops"), Some(true)));
    let days = rows[0]["fires"].as_u64().unwrap();
    assert!((3..=4).contains(&days), "three days back hold three or four midnights: {rows:?}");
    assert_eq!(rows[0]["started"].as_u64(), Some(days * 2));
    let mut ran = fires.lock().unwrap().clone();
    ran.sort();
    ran.dedup();
    assert_eq!(ran.len() as u64, days * 2, "each (item, midnight) once: {ran:?}");
    assert!(ran.iter().all(|(_, fire)| fire % 86_400_000 == 0), "at midnights: {ran:?}");
    assert!(stdout(&ejob(&zk, &["backfills", "daily"])).contains(&format!("{id} DONE")));
    stdout(&ejob(&zk, &["cancel-backfill", "daily", &id]));
    assert!(json_rows(&ejob(&zk, &["backfills", "daily", "--json"])).is_empty());
    let gone = ejob(&zk, &["cancel-backfill", "daily", &id]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("is not a backfill of this job"), "{gone:?}");
    scheduler.shutdown().await;
}

#[test]
fn runs_script_jobs_from_yaml_until_terminated() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ran.txt");
    // The command runs without a shell: redirection lives in a script.
    let appender = dir.path().join("append.sh");
    std::fs::write(&appender, "echo \"$2\" >> \"$1\"\n").unwrap();
    let yaml = dir.path().join("job.yaml");
    let history = dir.path().join("history.db");
    std::fs::write(
        &yaml,
        format!(
            "jobName: scripted\ncron: '* * * * * ?'\nshardingTotalCount: 2\nhistory: sqlite://{}\nprops:\n  script.command.line: sh {} {}\n",
            history.display(),
            appender.display(),
            out.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ejob"))
        .args(["--zk", &zk.connect_string(), "--namespace", "cli", "run", yaml.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    unsafe_terminate(child.id());
    assert!(child.wait().unwrap().success());
    let lines = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(lines.lines().count() >= 4, "two items ran on at least two fires: {lines:?}");
    assert!(lines.contains("\"jobName\":\"scripted\""), "the script got the context JSON: {lines}");

    // The file's `history` key kept a row per run; `ejob history` reads them back.
    let url = format!("sqlite://{}", history.display());
    let shown = Command::new(env!("CARGO_BIN_EXE_ejob")).args(["--history", &url, "history", "--job", "scripted", "--json"]).output().unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(rows.len(), lines.lines().count(), "{rows:?}");
    assert!(rows.iter().all(|r| r["outcome"] == "SUCCEEDED" && r["job_name"] == "scripted"), "{rows:?}");
    let page = Command::new(env!("CARGO_BIN_EXE_ejob")).args(["--history", &url, "history", "--item", "1", "--limit", "1"]).output().unwrap();
    assert_eq!(stdout(&page).lines().count(), 1);
    let statuses = Command::new(env!("CARGO_BIN_EXE_ejob")).args(["--history", &url, "history", "--status", "--json"]).output().unwrap();
    assert!(stdout(&statuses).contains("\"STOPPED\""));
    let bad = Command::new(env!("CARGO_BIN_EXE_ejob")).args(["--history", &url, "history", "--item", "x"]).output().unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid value 'x' for '--item <ITEM>'"));
    let missing = dir.path().join("missing.db");
    let absent = Command::new(env!("CARGO_BIN_EXE_ejob"))
        .args(["--history", &format!("sqlite://{}", missing.display()), "history"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&absent.stderr).contains("no history file"), "{absent:?}");
    assert!(!missing.exists(), "reading never creates a history");
}

#[test]
fn runs_http_jobs_from_yaml_until_terminated() {
    let zk = ZkServer::start();
    let sink = zk_harness::HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("job.yaml");
    std::fs::write(
        &yaml,
        format!(
            "jobName: pinged\ncron: '* * * * * ?'\nshardingTotalCount: 2\nprops:\n  http.uri: {}\n  http.method: GET\n",
            sink.url("/ping")
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ejob"))
        .args(["--zk", &zk.connect_string(), "--namespace", "cli", "run", yaml.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let requests = sink.wait_for(2, Duration::from_secs(15));
    unsafe_terminate(child.id());
    assert!(child.wait().unwrap().success());
    assert!(requests.len() >= 2, "both items were requested: {requests:?}");
    assert!(requests.iter().all(|r| r.method == "GET" && r.target == "/ping" && r.header("shardingContext").is_some()));

    let neither = dir.path().join("neither.yaml");
    std::fs::write(&neither, "jobName: idle\nshardingTotalCount: 1\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ejob"))
        .args(["--zk", &zk.connect_string(), "--namespace", "cli", "run", neither.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("http.uri"), "{}", String::from_utf8_lossy(&output.stderr));
}

fn unsafe_terminate(pid: u32) {
    let status = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_protected_jobs_need_the_digest() {
    let zk = ZkServer::start();
    let options = ZookeeperOptions::new(zk.connect_string(), "cli").digest("ops:s3cret");
    let center = RegistryCenter::zookeeper(options);
    let job = Job::from_fn(|_| async { Ok(()) });
    let scheduler = JobScheduler::builder(center.clone(), JobConfig::new("guarded", "", 2), job).build().unwrap();
    scheduler.start().await.unwrap();

    let jobs = stdout(&ejob(&zk, &["--digest", "ops:s3cret", "jobs"]));
    assert!(jobs.contains("guarded"), "{jobs}");
    let from_env = Command::new(env!("CARGO_BIN_EXE_ejob"))
        .args(["--zk", &zk.connect_string(), "--namespace", "cli", "dump", "guarded"])
        .env("ELASTICJOB_DIGEST", "ops:s3cret")
        .output()
        .unwrap();
    assert!(stdout(&from_env).contains("/guarded/config = "));

    for args in [&["jobs"][..], &["--digest", "ops:wrong", "jobs"], &["dump", "guarded"], &["trigger", "guarded"]] {
        let refused = ejob(&zk, args);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{args:?}: a plain failure, not a panic: {stderr}");
        assert!(stderr.contains("not authorized") && stderr.contains("--digest"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let malformed = ejob(&zk, &["--digest", "nocolon", "jobs"]);
    let stderr = String::from_utf8_lossy(&malformed.stderr);
    assert!(stderr.contains("invalid digest") && !stderr.contains("nocolon"), "{stderr}");
    scheduler.shutdown().await;
    center.close().await;
}

/// Parses the one JSON array a `--json` listing prints.
fn json_rows(output: &Output) -> Vec<serde_json::Value> {
    let text = stdout(output);
    assert_eq!(text.lines().count(), 1, "one line of JSON: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listing_prints_json() {
    let zk = ZkServer::start();
    let center = RegistryCenter::zookeeper(ZookeeperOptions::new(zk.connect_string(), "cli"));
    let job = Job::from_fn(|_| async { Ok(()) });
    let mut config = JobConfig::new("exports", "0 0 2 * * ?", 2);
    config.description = "nightly \"exports\"".into();
    let scheduler = JobScheduler::builder(center.clone(), config, job).build().unwrap();
    scheduler.start().await.unwrap();
    let mut jobs = Vec::new();
    for _ in 0..100 {
        jobs = json_rows(&ejob(&zk, &["jobs", "--json"]));
        if jobs.first().is_some_and(|j| j["status"] == "OK") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(jobs.len(), 1);
    let exports = &jobs[0];
    assert_eq!((exports["job_name"].as_str(), exports["status"].as_str()), (Some("exports"), Some("OK")));
    assert_eq!((exports["instance_count"].as_u64(), exports["sharding_total_count"].as_u64()), (Some(1), Some(2)));
    assert_eq!(exports["cron"], "0 0 2 * * ?");
    assert_eq!(exports["description"], "nightly \"exports\"");
    assert!(exports["next_fire_time"].as_i64().unwrap() > 0);

    let instances = json_rows(&ejob(&zk, &["--json", "instances", "exports"]));
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0]["instance_id"], scheduler.instance_id());
    assert_eq!((instances[0]["leader"].as_bool(), instances[0]["enabled"].as_bool()), (Some(true), Some(true)));

    stdout(&ejob(&zk, &["disable-item", "exports", "1"]));
    let items = json_rows(&ejob(&zk, &["items", "exports", "--json"]));
    assert_eq!(items.len(), 2);
    assert_eq!((items[0]["item"].as_u64(), items[0]["state"].as_str()), (Some(0), Some("PENDING")));
    assert_eq!(items[0]["instance_id"], scheduler.instance_id());
    assert_eq!(items[1]["state"], "DISABLED");

    let nodes = json_rows(&ejob(&zk, &["dump", "exports", "--json"]));
    assert_eq!(nodes[0]["path"], "/exports");
    let config = nodes.iter().find(|n| n["path"] == "/exports/config").expect("the config node");
    assert!(config["data"].as_str().unwrap().contains("cron: 0 0 2 * * ?"), "{config}");
    assert!(nodes.iter().any(|n| n["path"] == "/exports/sharding/1/disabled"));

    let trigger = ejob(&zk, &["trigger", "exports", "--json"]);
    assert_eq!(trigger.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&trigger.stderr).contains("--json: this command lists nothing"));
    let missing = ejob(&zk, &["items", "ghost", "--json"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("jobName `ghost`"));
    scheduler.shutdown().await;
    center.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_serves_the_namespace_and_refuses_open_public_addresses() {
    use std::io::{BufRead, BufReader, Read, Write};
    let zk = ZkServer::start();
    let refused = ejob(&zk, &["console", "--listen", "0.0.0.0:0"]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--listen `0.0.0.0:0`") && stderr.contains("--auth"), "{stderr}");

    let center = RegistryCenter::zookeeper(ZookeeperOptions::new(zk.connect_string(), "cli"));
    let job = Job::from_fn(|_| async { Ok(()) });
    let scheduler = JobScheduler::builder(center.clone(), JobConfig::new("served", "", 1), job).build().unwrap();
    scheduler.start().await.unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ejob"))
        .args(["--zk", &zk.connect_string(), "--namespace", "cli", "console", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("http://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_else(|| panic!("{line}")).to_string();
    let mut body = String::new();
    for _ in 0..100 {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        write!(stream, "GET /api/state HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
        body.clear();
        stream.read_to_string(&mut body).unwrap();
        if body.contains("\"job_name\":\"served\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(body.starts_with("HTTP/1.1 200") && body.contains("\"job_name\":\"served\""), "{body}");
    unsafe_terminate(child.id());
    assert!(child.wait().unwrap().success(), "SIGTERM stops the console cleanly");
    scheduler.shutdown().await;
    center.close().await;
}

#[test]
fn console_user_writes_lines_of_the_users_file() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ejob"))
        .args(["console-user", "ann", "operator", "--iterations", "10000"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"correct horse battery\n").unwrap();
    let password_line = stdout(&child.wait_with_output().unwrap());
    assert!(password_line.starts_with("ann:operator:pbkdf2-sha256$10000$"), "{password_line}");
    assert!(!password_line.contains("horse"));
    let token = Command::new(env!("CARGO_BIN_EXE_ejob")).args(["console-user", "prom", "viewer", "--token"]).output().unwrap();
    let token_line = stdout(&token);
    assert!(token_line.starts_with("prom:viewer:token-sha256$"), "{token_line}");
    let shown = String::from_utf8_lossy(&token.stderr);
    let secret = shown.trim().rsplit(' ').next().unwrap();
    let users = elasticjob_console::auth::Users::parse(&format!("{password_line}{token_line}")).unwrap();
    assert_eq!(users.by_token(secret).unwrap().name, "prom", "the token shown once is the one hashed");
    let short = Command::new(env!("CARGO_BIN_EXE_ejob"))
        .args(["console-user", "bob", "viewer"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
    let role = Command::new(env!("CARGO_BIN_EXE_ejob")).args(["console-user", "bob", "admin"]).output().unwrap();
    assert!(String::from_utf8_lossy(&role.stderr).contains("invalid ROLE `admin`"));
}

/// Every command has its own `--help` (on stdout, exit 0) and `--version`
/// works; a namespace that does not exist is an error naming it and the
/// namespaces there, and leaves no node behind.
#[test]
fn help_version_and_a_mistyped_namespace() {
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_ejob")).args(args).output().unwrap();
    let version = run(&["--version"]);
    assert!(version.status.success() && stdout(&version).starts_with("ejob "), "{version:?}");
    for command in ["jobs", "items", "config", "run", "console", "history", "disable-item"] {
        let help = run(&[command, "--help"]);
        assert!(help.status.success(), "{command} --help: {help:?}");
        assert!(stdout(&help).contains(&format!("Usage: ejob {command}")), "{command}: {}", stdout(&help));
    }
    let zk = zk_harness::ZkServer::start();
    let center = RegistryCenter::zookeeper(ZookeeperOptions::new(zk.connect_string(), "cli-real"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async { center.session().await.unwrap() });
    let typo = run(&["--zk", &zk.connect_string(), "--namespace", "cli-rael", "jobs"]);
    assert_eq!(typo.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(stderr.contains("namespace `cli-rael`") && stderr.contains("namespaces there: cli-real"), "{stderr}");
    let jobs_after = run(&["--zk", &zk.connect_string(), "--namespace", "cli-rael", "jobs"]);
    // Had the first attempt created the namespace, the second would list it.
    assert!(String::from_utf8_lossy(&jobs_after.stderr).contains("does not exist"), "the typo left a node behind");
}

/// `config get` prints the stored configuration; `config set` validates a
/// change with the core's rules (the error names the field and value) and
/// writes nothing when it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_get_and_set_with_validation() {
    let zk = zk_harness::ZkServer::start();
    let center = RegistryCenter::zookeeper(ZookeeperOptions::new(zk.connect_string(), "cli"));
    let operator = elasticjob::JobOperator::new(center.clone());
    let scheduler = JobScheduler::builder(center.clone(), JobConfig::new("tuned", "0 0 3 * * ?", 2), Job::from_fn(|_| async { Ok(()) }))
        .build()
        .unwrap();
    scheduler.start().await.unwrap();
    let got = stdout(&ejob(&zk, &["config", "get", "tuned"]));
    assert!(got.contains("cron: 0 0 3 * * ?") && got.contains("shardingTotalCount: 2"), "{got}");
    let set = ejob(&zk, &["config", "set", "tuned", "cron=0 0/30 * * * ?", "failover=true", "props.owner=ops"]);
    assert!(set.status.success(), "{set:?}");
    let config = operator.config("tuned").await.unwrap();
    assert_eq!((config.cron.as_str(), config.failover, config.props.get("owner").map(String::as_str)), ("0 0/30 * * * ?", true, Some("ops")));
    for (change, named) in [("cron=0 0 0 30 2 ?", "invalid cron `0 0 0 30 2 ?`"), ("shardingTotalCount=0", "shardingTotalCount"), ("failOver=true", "failOver")] {
        let refused = ejob(&zk, &["config", "set", "tuned", change]);
        assert_eq!(refused.status.code(), Some(1), "{change}");
        assert!(String::from_utf8_lossy(&refused.stderr).contains(named), "{change}: {}", String::from_utf8_lossy(&refused.stderr));
    }
    assert_eq!(operator.config("tuned").await.unwrap().cron, "0 0/30 * * * ?", "a refused change writes nothing");
    let json = stdout(&ejob(&zk, &["config", "get", "tuned", "--json"]));
    assert!(json.contains("\"jobName\":\"tuned\""), "{json}");
    scheduler.shutdown().await;
    center.close().await;
}
