//! Builds the C test programs against the real library and runs them: the
//! API test (shared and static library, and under valgrind), and C worker
//! processes sharing a job on a real ZooKeeper.

mod support;

use cluster_tests::ledger;
use cluster_tests::workers::{compile_c, fires_between, now_millis, Worker};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use support::{crate_dir, library_dir};

fn out_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// Compiles `tests/c/{name}.c`, linked to the shared library or the static
/// one, once per test run: tests running at once may ask for the same
/// program, and must not write one binary twice at the same time.
fn compile(name: &str, static_link: bool) -> PathBuf {
    static BUILT: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let output = out_dir().join(if static_link { format!("{name}-static") } else { name.to_string() });
    if !built.contains(&(name.to_string(), static_link)) {
        build(name, static_link, &output);
        built.push((name.to_string(), static_link));
    }
    output
}

fn build(name: &str, static_link: bool, output: &Path) {
    let lib = library_dir();
    // `examples/NAME.c` for an example, `tests/c/NAME.c` for a test program.
    let example = crate_dir().join(format!("examples/{}.c", name.trim_start_matches("example-")));
    let source = if name.starts_with("example-") { example } else { crate_dir().join(format!("tests/c/{name}.c")) };
    if !static_link {
        compile_c(&source, &crate_dir().join("include"), &lib, output);
        return;
    }
    let mut cc = Command::new("cc");
    cc.args(["-std=c11", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra", "-Werror", "-g"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(&source)
        .arg("-o")
        .arg(output)
        .arg(lib.join("libelasticjob.a"))
        .args(["-lpthread", "-ldl", "-lm"]);
    let status = cc.status().expect("cc runs");
    assert!(status.success(), "compiling {name}.c failed");
}

fn run(program: &Path) -> String {
    run_with(program, &[])
}

fn run_with(program: &Path, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().expect("C program runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} failed:\n{stdout}\n{}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_api_test_passes_with_the_shared_library() {
    let stdout = run(&compile("api_test", false));
    assert!(stdout.contains("8 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_program_linked_against_the_static_library_runs() {
    let stdout = run(&compile("api_test", true));
    assert!(stdout.contains("8 passed, 0 failed"), "{stdout}");
}

/// A timed-out C handler is told to stop (it polls or blocks on the
/// signal), and one that ignores it is never doubled (scenario j).
#[test]
fn a_timed_out_c_handler_observes_the_cancellation_and_is_never_doubled() {
    let stdout = run(&compile("cancel_test", false));
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}

/// A failed C run is retried after its back-off with `ctx->attempt` 2,
/// and the execution events carry the attempt.
#[test]
fn a_failed_c_run_is_retried_with_its_attempt_number() {
    let stdout = run(&compile("retries_test", false));
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}

/// An HTTP job and a THROW job through the C API on a real ZooKeeper; the
/// HTTP job's requests reach a sink started here.
#[test]
fn http_jobs_and_thrown_failures_work_through_the_c_api() {
    let zk = zk_harness::ZkServer::start();
    let sink = zk_harness::HttpSink::start();
    let program = compile("http_throw_test", false);
    let output = Command::new(&program).args([zk.connect_string(), sink.url("")]).output().expect("C program runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success() && stdout.contains("3 passed, 0 failed"), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let mut parameters: Vec<String> = sink
        .requests()
        .iter()
        .map(|r| {
            assert_eq!((r.method.as_str(), r.target.as_str(), r.body.as_str()), ("POST", "/c-run", "from=c"));
            let ctx: serde_json::Value = serde_json::from_str(r.header("shardingContext").expect("context header")).unwrap();
            ctx["shardingParameter"].as_str().unwrap().to_string()
        })
        .collect();
    parameters.sort();
    assert_eq!(parameters, ["x", "y"]);
}

/// Listeners (per instance and distributed-once), one-off jobs and
/// monitorExecution=false through the C API, on a real ZooKeeper.
#[test]
fn c_listeners_one_off_jobs_and_monitor_execution() {
    let zk = zk_harness::ZkServer::start();
    let stdout = run_with(&compile("listeners_test", false), &[&zk.connect_string()]);
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
}

/// A C job configured with a SQLite history writes a row per execution
/// there, tagged `c`, with its failure messages.
#[test]
fn a_c_job_writes_its_executions_to_a_sqlite_history() {
    let zk = zk_harness::ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let program = compile("history_test", false);
    let output = Command::new(&program).arg(zk.connect_string()).arg(&db).output().expect("C program runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success() && stdout.contains("2 passed, 0 failed"), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let executions: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("executions "))
        .and_then(|n| n.parse().ok())
        .expect("the program reports its executions");
    let rows = elasticjob::runtime::shared().block_on(async {
        let store = elasticjob::HistoryStore::open_url(&format!("sqlite://{}", db.display())).unwrap();
        let query = elasticjob::trace::ExecutionQuery { job_name: Some("c-traced".into()), limit: 1000, ..Default::default() };
        store.executions(&query).await.unwrap()
    });
    assert_eq!(rows.len(), executions, "{rows:?}");
    assert!(rows.iter().all(|r| r.binding == "c"), "{rows:?}");
    let failures: Vec<_> = rows.iter().filter(|r| r.sharding_item == 1).collect();
    assert!(!failures.is_empty() && failures.iter().all(|r| !r.is_success && r.failure_cause.as_deref().unwrap_or_default().contains("item one refuses")), "{rows:?}");
}

/// Metrics through the C API: the snapshot and the `/metrics` endpoint
/// after real executions on a real ZooKeeper.
#[test]
fn a_c_job_serves_its_metrics_and_fills_the_snapshot() {
    let zk = zk_harness::ZkServer::start();
    let stdout = run_with(&compile("metrics_test", false), &[&zk.connect_string()]);
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}

#[test]
fn valgrind_finds_no_leak_or_invalid_access_in_the_binding() {
    let program = compile("api_test", false);
    let output = Command::new("valgrind")
        .args(["--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite", "--quiet"])
        .arg(&program)
        .output()
        .expect("valgrind is installed (scripts/install-deps)");
    assert!(
        output.status.success(),
        "valgrind reported errors:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// C sharding strategies decide the assignment on a real ZooKeeper, a
/// wrong answer is reported and not applied; SINGLE_THREAD never overlaps.
#[test]
fn c_sharding_strategies_and_the_single_thread_executor() {
    let zk = zk_harness::ZkServer::start();
    let program = compile("strategy_test", false);
    let output = Command::new(&program).arg(zk.connect_string()).output().expect("C program runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success() && stdout.contains("4 passed, 0 failed"), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
}

fn c_worker(program: &Path, zk: &str, job: &str, ledger: &Path, sleep_ms: u32, cron: &str) -> Worker {
    let mut command = Command::new(program);
    command.args([zk, "c-cluster", job, "4", cron, ledger.to_str().unwrap(), &sleep_ms.to_string(), "2000"]);
    Worker::spawn("c", command)
}

#[test]
fn two_c_workers_share_a_job_exactly_once_and_fail_over() {
    let program = compile("worker", false);
    let zk = zk_harness::ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.jsonl");
    let mut workers: Vec<Worker> =
        (0..2).map(|_| c_worker(&program, &zk.connect_string(), "share", &ledger_path, 50, "* * * * * ?")).collect();
    let ready = now_millis();
    std::thread::sleep(Duration::from_secs(7));
    for w in &mut workers {
        w.terminate(Duration::from_secs(10));
    }
    let fires = fires_between(ready + 1000, now_millis() - 1500, 1000);
    let report = ledger::check(&ledger::read(&ledger_path), "share", 4, &fires, &[]);
    assert!(report.is_clean() && fires.len() >= 4, "{report:?}");

    // Failover: kill one worker mid-fire; the other re-runs its items.
    let slow = dir.path().join("failover.jsonl");
    let mut survivor = c_worker(&program, &zk.connect_string(), "failover", &slow, 2500, "0/4 * * * * ?");
    let mut victim = c_worker(&program, &zk.connect_string(), "failover", &slow, 2500, "0/4 * * * * ?");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let fire = loop {
        if let Some(e) = ledger::read(&slow).into_iter().find(|e| e.instance == victim.instance_id) {
            break e.fire;
        }
        assert!(std::time::Instant::now() < deadline, "victim never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(500));
    victim.kill9();
    let victim_items: Vec<u32> =
        ledger::read(&slow).iter().filter(|e| e.instance == victim.instance_id && e.fire == fire).map(|e| e.item).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let entries = ledger::read(&slow);
        let done = victim_items.iter().all(|item| {
            entries.iter().any(|e| e.item == *item && e.fire == fire && e.phase == "end" && e.instance == survivor.instance_id)
        });
        if done {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "items {victim_items:?} of fire {fire} not failed over");
        std::thread::sleep(Duration::from_millis(50));
    }
    survivor.terminate(Duration::from_secs(10));
    let report = ledger::check(&ledger::read(&slow), "failover", 4, &[fire], &[&victim.instance_id]);
    assert!(report.is_clean(), "{report:?}");
}

/// Version macros and `ej_version()`, `ej_status_str()`, and the logs: a
/// failed execution's multi-line message on stderr by default, then
/// through `ej_set_log_callback`, then on stderr again.
#[test]
fn version_status_strings_and_logs_through_the_c_api() {
    let output = Command::new(compile("native_test", false)).env_remove("ELASTICJOB_LOG").output().expect("C program runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && stdout.contains("3 passed, 0 failed"), "{stdout}\n{stderr}");
    let logged = stderr.matches("ERROR elasticjob::scheduler::runner: job execution failed job=logged item=0 fire_time=").count();
    assert_eq!(logged, 2, "stderr before the callback and after it is removed:\n{stderr}");
    assert!(stderr.contains("\nfirst line of the failure\n    at second_line (job.c:12)\n"), "the message as real lines:\n{stderr}");
}

/// A closed port: the start fails within 5 s, naming the address and the cause.
#[test]
fn a_wrong_address_fails_fast_naming_the_address_and_the_cause() {
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let output = Command::new(compile("connect_test", false)).arg(&address).output().expect("C program runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "start did not fail:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let elapsed: u64 = stdout.lines().find_map(|l| l.strip_prefix("elapsed_ms ")).and_then(|n| n.parse().ok()).expect("elapsed_ms");
    let error = stdout.lines().find_map(|l| l.strip_prefix("error ")).unwrap_or_default();
    assert!(elapsed < 5000, "took {elapsed} ms: {error}");
    assert!(stdout.contains("status registry error"), "{stdout}");
    assert!(error.contains(&address) && error.to_lowercase().contains("refused"), "{error}");
}

/// A server that accepts and never answers: `connection_timeout_ms` bounds
/// the wait, and the message names the address.
#[test]
fn the_connection_timeout_bounds_the_wait_for_a_silent_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().map_while(Result::ok).collect();
        drop(held);
    });
    let output = Command::new(compile("connect_test", false)).args([address.as_str(), "700"]).output().expect("C program runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "start did not fail:\n{stdout}");
    let elapsed: u64 = stdout.lines().find_map(|l| l.strip_prefix("elapsed_ms ")).and_then(|n| n.parse().ok()).expect("elapsed_ms");
    let error = stdout.lines().find_map(|l| l.strip_prefix("error ")).unwrap_or_default();
    assert!((600..3000).contains(&elapsed), "took {elapsed} ms: {error}");
    assert!(error.contains(&address), "{error}");
}

/// The examples (`examples/dataflow.c`, `examples/script.c`) build with the
/// test programs' warnings as errors and do what their comments say, on
/// the embedded registry.
#[test]
fn the_dataflow_and_script_examples_run() {
    let out = run(&compile("example-dataflow", false));
    assert!(out.contains("done: 0 orders left"), "{out}");
    for item in 0..4 {
        assert!(out.contains(&format!("item {item} exported orders")), "{out}");
    }
    let out = run(&compile("example-script", false));
    assert!(out.contains("item 0: succeeded"), "{out}");
    assert!(out.contains("item 1: failed: script") && out.contains("no data"), "{out}");
    // Each run's output, stream by stream.
    assert!(out.contains("--- stdout ---\nreport for {") && out.contains("--- stderr ---\nno data"), "{out}");
}
