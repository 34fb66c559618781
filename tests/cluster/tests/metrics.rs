//! Worker metrics against the execution ledger: three Rust worker
//! processes share a job on a real ZooKeeper — one item always fails, one
//! outlives the next fire (a misfire), and one worker is killed -9 mid-fire
//! (a failover) — then each survivor's `/metrics` endpoint is scraped over
//! HTTP and every count is checked against what its handlers wrote in the
//! ledger, its history database and its event log.
//!
//! The cron fires twice in every ten seconds (at :x0 and :x1): the slow
//! item (1.5 s) started at :x0 is still running at :x1, and every other
//! run ends long before the next fire, so whether a fire came while an item
//! ran is decided with half a second to spare, and the workers can be
//! stopped in the quiet :x5.

use cluster_tests::ledger::{self, Entry};
use cluster_tests::prometheus::{job_samples, scrape};
use cluster_tests::workers::{now_millis, Worker};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use zk_harness::ZkServer;

const JOB: &str = "metered";
const ITEMS: u32 = 6;
const CRON: &str = "0,1,10,11,20,21,30,31,40,41,50,51 * * * * ?";
const CYCLE_MS: i64 = 10_000;
const FAIL_ITEM: u32 = 1;
const SLOW_ITEM: u32 = 4;

struct Member {
    worker: Worker,
    metrics: String,
    history: String,
    log: PathBuf,
}

fn start(zk: &ZkServer, dir: &Path, name: &str) -> Member {
    let metrics = format!("127.0.0.1:{}", zk_harness::server::free_port());
    let history = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
    let log = dir.join(format!("{name}.log"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_rust-worker"));
    command.env("ELASTICJOB_LOG", "elasticjob=info,zookeeper_client=warn");
    command
        .args(["--zk", &zk.connect_string(), "--namespace", "cluster-metrics", "--job", JOB])
        .args(["--items", &ITEMS.to_string(), "--cron", CRON])
        .args(["--ledger", dir.join("ledger.jsonl").to_str().unwrap()])
        .args(["--session-timeout-ms", "2000", "--sleep-ms", "300"])
        .args(["--fail-item", &FAIL_ITEM.to_string(), "--slow-item", &SLOW_ITEM.to_string(), "--slow-ms", "1500"])
        .args(["--failover", "true", "--misfire", "true"])
        .args(["--metrics", &metrics, "--history", &history, "--linger", "true"]);
    Member { worker: Worker::spawn_logged(name, command, &log), metrics, history, log }
}

fn sigterm(worker: &Worker) {
    // SAFETY: signals a child process this test started.
    unsafe { libc::kill(worker.pid() as i32, libc::SIGTERM) };
}

/// The job's samples on `member`'s endpoint.
fn samples(member: &Member) -> BTreeMap<String, f64> {
    let text = scrape(&member.metrics).unwrap_or_else(|e| panic!("scraping {}: {e}", member.worker.name));
    job_samples(&text, JOB)
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> u64 {
    *samples.get(series).unwrap_or_else(|| panic!("no `{series}` in {samples:?}")) as u64
}

fn sleep_until(at: i64) {
    let now = now_millis();
    if at > now {
        std::thread::sleep(Duration::from_millis((at - now) as u64));
    }
}

/// The cron's fire times in `(from, to)`.
fn cron_fires(from: i64, to: i64) -> Vec<i64> {
    (from / 1000..=to / 1000).map(|s| s * 1000).filter(|t| *t > from && *t < to && t % CYCLE_MS < 2000).collect()
}

/// One item run of a worker: its start and, if it ended or was told to stop, its close.
struct Run<'a> {
    start: &'a Entry,
    close: Option<&'a Entry>,
}

fn runs<'a>(entries: &'a [Entry], instance: &str) -> Vec<Run<'a>> {
    let mine: Vec<&Entry> = entries.iter().filter(|e| e.instance == instance).collect();
    mine.iter()
        .filter(|e| e.phase == "start")
        .map(|start| {
            let close = mine
                .iter()
                .filter(|e| e.phase != "start" && e.item == start.item && e.fire == start.fire && e.at >= start.at)
                .min_by_key(|e| e.at)
                .copied();
            Run { start, close }
        })
        .collect()
}

/// What the ledger (and history, and event log) say `instance`'s counters must be.
#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    succeeded: u64,
    failed: u64,
    cancelled: u64,
    runs: u64,
    cron_fires: u64,
    misfire_fires: u64,
    misfires: u64,
    failovers: u64,
}

fn expected(entries: &[Entry], instance: &str) -> Expected {
    let runs = runs(entries, instance);
    let closed = |phase: &str| runs.iter().filter(|r| r.close.is_some_and(|c| c.phase == phase)).count() as u64;
    let unclosed: Vec<&Run> = runs.iter().filter(|r| r.close.is_none()).collect();
    assert!(unclosed.iter().all(|r| r.start.item == FAIL_ITEM), "only the failing item's runs have no close");
    // A fire came while an item ran here: its window holds a cron fire time.
    let windows: Vec<(u32, i64, i64)> =
        runs.iter().filter_map(|r| r.close.map(|c| (r.start.item, r.start.at, c.at))).collect();
    let first = runs.iter().map(|r| r.start.at).min().unwrap_or(0);
    let last = runs.iter().filter_map(|r| r.close.map(|c| c.at)).max().unwrap_or(0);
    let mut missed: BTreeSet<(u32, i64)> = BTreeSet::new();
    for fire in cron_fires(first, last) {
        for &(item, from, to) in &windows {
            if from < fire && fire < to {
                assert!(fire - from > 100 && to - fire > 100, "a fire {fire} too close to a run's edge {from}..{to}");
                missed.insert((item, fire));
            }
        }
    }
    // A misfire re-run: a run of an item for a fire that came while the item ran here.
    let reruns = runs.iter().filter(|r| !r.start.failover && missed.contains(&(r.start.item, r.start.fire))).count();
    Expected {
        succeeded: closed("end"),
        failed: unclosed.len() as u64,
        cancelled: closed("cancelled"),
        runs: runs.len() as u64,
        // Every fire time a run here belongs to was also a cron fire that
        // started this worker's quick items (it always owns some).
        cron_fires: runs.iter().map(|r| r.start.fire).collect::<BTreeSet<_>>().len() as u64,
        misfire_fires: reruns as u64,
        misfires: missed.len() as u64,
        failovers: runs.iter().filter(|r| r.start.failover).count() as u64,
    }
}

fn observed(s: &BTreeMap<String, f64>) -> Expected {
    let outcome = |o: &str| value(s, &format!("elasticjob_executions_total{{outcome=\"{o}\"}}"));
    Expected {
        succeeded: outcome("succeeded"),
        failed: outcome("failed"),
        cancelled: outcome("cancelled"),
        runs: value(s, "elasticjob_handler_duration_seconds_count"),
        cron_fires: value(s, "elasticjob_fires_total{kind=\"cron\"}"),
        misfire_fires: value(s, "elasticjob_fires_total{kind=\"misfire\"}"),
        misfires: value(s, "elasticjob_misfires_total"),
        failovers: value(s, "elasticjob_failovers_taken_total"),
    }
}

/// Execution and status rows `instance` wrote to its history.
fn history_rows(url: &str, instance: &str) -> (usize, usize) {
    elasticjob::runtime::shared().block_on(async {
        let store = elasticjob::HistoryStore::open_url(url).unwrap();
        let executions = elasticjob::trace::ExecutionQuery {
            instance_id: Some(instance.into()),
            limit: 100_000,
            ..Default::default()
        };
        let statuses =
            elasticjob::trace::StatusQuery { instance_id: Some(instance.into()), limit: 100_000, ..Default::default() };
        (store.executions(&executions).await.unwrap().len(), store.statuses(&statuses).await.unwrap().len())
    })
}

#[test]
fn scraped_counts_match_the_ledger_through_a_failing_item_a_misfire_and_a_kill_dash_nine() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut survivors: Vec<Member> = (0..2).map(|n| start(&zk, dir.path(), &format!("rust-{n}"))).collect();
    let mut victim = start(&zk, dir.path(), "victim");
    let ledger_path = dir.path().join("ledger.jsonl");

    // Kill the victim in the middle of its runs of a :x0 fire.
    let victim_id = victim.worker.instance_id.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    let fire = loop {
        let started = ledger::read(&ledger_path)
            .into_iter()
            .find(|e| e.instance == victim_id && e.phase == "start" && e.fire % CYCLE_MS == 0 && e.item != SLOW_ITEM);
        if let Some(start) = started {
            break start.fire;
        }
        assert!(std::time::Instant::now() < deadline, "the victim started nothing at a :x0 fire");
        std::thread::sleep(Duration::from_millis(20));
    };
    let before_kill = samples(&victim);
    let ended = ledger::read(&ledger_path).iter().filter(|e| e.instance == victim_id && e.phase == "end").count() as u64;
    victim.worker.kill9();
    assert_eq!(value(&before_kill, "elasticjob_registry_session_state{state=\"connected\"}"), 1);
    assert!(value(&before_kill, "elasticjob_items_running") >= 1, "killed mid-run: {before_kill:?}");
    assert!(value(&before_kill, "elasticjob_executions_total{outcome=\"succeeded\"}") <= ended);

    // Two more cycles (take-overs, resharding, caught-up fires, misfires),
    // then the quiet :x5 of the second.
    sleep_until(fire + 2 * CYCLE_MS + 5000);
    let entries = ledger::read(&ledger_path);
    for member in &survivors {
        let s = samples(member);
        let id = &member.worker.instance_id;
        let last_fire_items: BTreeSet<u32> = entries
            .iter()
            .filter(|e| &e.instance == id && e.phase == "start" && !e.failover && e.fire == fire + 2 * CYCLE_MS)
            .map(|e| e.item)
            .collect();
        assert_eq!(value(&s, "elasticjob_items_owned") as usize, last_fire_items.len(), "{}: {s:?}", member.worker.name);
        assert_eq!(value(&s, "elasticjob_items_owned"), 3, "two survivors share six items");
        assert_eq!(value(&s, "elasticjob_items_running"), 0);
        assert_eq!(value(&s, "elasticjob_registry_session_state{state=\"connected\"}"), 1);
    }

    // Graceful shutdown; each survivor lingers with its final figures.
    for member in &survivors {
        sigterm(&member.worker);
    }
    let mut last = Vec::new();
    for member in &survivors {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let s = loop {
            let s = samples(member);
            if s.get("elasticjob_registry_session_state{state=\"closed\"}") == Some(&1.0) {
                break s;
            }
            assert!(std::time::Instant::now() < deadline, "{} did not shut down: {s:?}", member.worker.name);
            std::thread::sleep(Duration::from_millis(100));
        };
        last.push(s);
    }
    let entries = ledger::read(&ledger_path);
    let mut taken = 0;
    let mut failed = 0;
    for (member, s) in survivors.iter().zip(&last) {
        let id = &member.worker.instance_id;
        let name = &member.worker.name;
        let want = expected(&entries, id);
        assert_eq!(observed(s), want, "{name}: scraped vs ledger; samples {s:?}");
        assert!(want.succeeded >= 4, "{name}: {want:?}");
        failed += want.failed;
        assert_eq!(value(s, "elasticjob_executions_total{outcome=\"timed_out\"}"), 0);
        assert_eq!(value(s, "elasticjob_fires_total{kind=\"trigger\"}"), 0);
        assert_eq!(value(s, "elasticjob_fire_lag_seconds_count"), want.runs, "{name}: every fire time is known");
        assert_eq!(value(s, "elasticjob_fire_lag_seconds_bucket{le=\"+Inf\"}"), want.runs);
        // The lag's buckets against the ledger's start times (written a moment
        // after the lag is taken: a bound with a lag within 20 ms is skipped).
        let lags: Vec<i64> = entries.iter().filter(|e| &e.instance == id && e.phase == "start").map(|e| e.at - e.fire).collect();
        for bound in ["0.1", "0.25", "1", "2.5", "5", "10"] {
            let bound_ms = (bound.parse::<f64>().unwrap() * 1000.0) as i64;
            if lags.iter().any(|lag| (lag - bound_ms).abs() < 20) {
                continue;
            }
            let within = lags.iter().filter(|&&lag| lag <= bound_ms).count() as u64;
            let series = format!("elasticjob_fire_lag_seconds_bucket{{le=\"{bound}\"}}");
            assert_eq!(value(s, &series), within, "{name}: lags up to {bound} s, ledger lags {lags:?}");
        }
        assert_eq!(value(s, "elasticjob_items_running") + value(s, "elasticjob_items_owned"), 0, "{name}: left");
        assert_eq!(value(s, "elasticjob_registry_reconnects_total{kind=\"connection\"}"), 0);
        assert_eq!(value(s, "elasticjob_registry_reconnects_total{kind=\"session\"}"), 0);
        // Reshards: each new assignment it wrote as leader is an event in its log.
        let log = std::fs::read_to_string(&member.log).unwrap();
        let sharded = log.lines().filter(|l| l.starts_with("EVENT ") && l.contains(" Sharded(")).count() as u64;
        assert_eq!(value(s, "elasticjob_reshards_total"), sharded, "{name}");
        // The history: everything written, nothing lost or waiting.
        let (executions, statuses) = history_rows(&member.history, id);
        assert_eq!(executions as u64, want.runs, "{name}: one history row per run");
        assert_eq!(value(s, "elasticjob_history_written_total"), (executions + statuses) as u64, "{name}");
        assert_eq!(value(s, "elasticjob_history_pending") + value(s, "elasticjob_history_dropped_total"), 0);
        taken += want.failovers;
        println!("{name}: {want:?}, reshards {sharded}");
    }
    assert!(failed >= 2, "the failing item failed on a survivor ({failed} runs)");
    let victim_runs = entries.iter().filter(|e| e.instance == victim_id && e.fire == fire && e.phase == "start").count();
    assert!(taken >= 1 && taken as usize <= victim_runs, "the victim's runs were taken over: {taken} of {victim_runs}");
    assert!(last.iter().map(|s| value(s, "elasticjob_misfires_total")).sum::<u64>() >= 2, "the slow item misfired");
    assert!(last.iter().map(|s| value(s, "elasticjob_reshards_total")).sum::<u64>() >= 1, "the leader resharded");
    for member in &mut survivors {
        member.worker.terminate(Duration::from_secs(10));
    }
}
