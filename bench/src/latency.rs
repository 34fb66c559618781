//! Fire-to-handler latency, start-up time, memory and CPU per fire, for
//! each language and for a real Java ElasticJob-Lite 3.0.4 worker measured
//! the same way in the same run.
//!
//! Three instances per language share one job with failover, misfire and
//! the clock check on ([`crate::workers::bench_config`]): one instance that
//! is always the leader, with the cheap settings, would measure a path no
//! production cluster takes. The job has [`ITEMS`] items firing every
//! second and the window holds [`FIRES`] fires, so each language gives
//! `ITEMS × FIRES` samples (one per item and fire: from the scheduled fire
//! time to the item's first handler start, both read from the ledger the
//! handler writes), enough for a p99 ([`crate::stats`]).
//!
//! Java hands a handler no fire time: the Java worker writes the scheduled
//! time of the Quartz trigger that started the run, the same instant ours
//! measure from.

use crate::stats::{self, summarize};
use crate::workers::{lang_name, missing, sleep_until, Group, JOB};
use cluster_tests::ledger::{self, UNKNOWN_FIRE};
use cluster_tests::workers::{fires_between, now_millis, rss_kib};
use mixed_language_tests::Lang;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Items of the measured job.
pub const ITEMS: u32 = 40;
/// Fires in the measured window (one per second): 2,000 samples, about a
/// minute per language.
pub const FIRES: i64 = 50;
/// How long each handler runs, ms: none. A handler that takes time holds
/// one of its instance's executor slots (2 × cores by default), and the
/// items beyond them wait for one: that is the job's parallelism, not the
/// fire path (with 10 ms handlers, 13 items per instance on 4 slots started
/// in waves 10 ms apart, which is what an earlier run of this bench timed).
const SLEEP_MS: u32 = 0;
/// Instances per language.
const INSTANCES: usize = 3;

/// The languages measured, in the table's order; Java last.
pub const LANGS: [Lang; 5] = [Lang::Rust, Lang::C, Lang::Python, Lang::Node, Lang::Java];

/// Measures every language whose worker is built (of `only`, when given);
/// a missing one is reported as skipped with the reason.
pub fn run(connect: &str, only: Option<&[String]>) -> Value {
    let mut out = serde_json::Map::new();
    for lang in LANGS {
        let name = lang_name(lang);
        if only.is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        if let Some(why) = missing(lang) {
            eprintln!("latency: skipping {name}: {why}");
            out.insert(name, json!({ "skipped": why }));
            continue;
        }
        eprintln!("latency: {name}");
        out.insert(name, one(connect, lang));
    }
    // What an empty Node process takes, for reading Node's memory figures.
    if let Ok(mut child) = std::process::Command::new("node").args(["-e", "setInterval(() => {}, 1000)"]).spawn() {
        std::thread::sleep(Duration::from_millis(800));
        out.insert("bare_node_rss_kib".into(), json!(rss_kib(child.id())));
        let _ = child.kill();
        let _ = child.wait();
    }
    Value::Object(out)
}

fn one(connect: &str, lang: Lang) -> Value {
    let name = lang_name(lang);
    // Idle: one registered instance of a job that never fires (our workers
    // take an empty cron; Java needs one, so it gets one in 2099).
    let idle_cron = if lang == Lang::Java { "0 0 0 1 1 ? 2099" } else { "" };
    let mut idle = Group::new(lang, connect, &format!("bench-idle-{name}"), ITEMS, idle_cron, SLEEP_MS);
    idle.add();
    std::thread::sleep(Duration::from_millis(1500));
    let idle_rss = idle.rss_kib().first().copied();
    idle.terminate_all(Duration::from_secs(10));

    let mut busy = Group::new(lang, connect, &format!("bench-latency-{name}"), ITEMS, "* * * * * ?", SLEEP_MS);
    for _ in 0..INSTANCES {
        busy.add();
    }
    let settled = busy.wait_for_assignment(Duration::from_secs(30));
    // The window: the next FIRES whole seconds, starting a little ahead.
    let from = now_millis() + 300;
    let fires = fires_between(from, from + FIRES * 1000, 1000);
    sleep_until(from);
    let cpu_before = busy.cpu_seconds();
    sleep_until(fires[fires.len() / 2] + 500);
    let busy_rss = busy.rss_kib();
    // Until the last fire's runs have ended.
    sleep_until(fires[fires.len() - 1] + 900);
    let cpu = busy.cpu_seconds() - cpu_before;
    busy.terminate_all(Duration::from_secs(10));

    let entries: Vec<_> = ledger::read(&busy.ledger()).into_iter().filter(|e| fires.contains(&e.fire)).collect();
    let report = ledger::check(&entries, JOB, ITEMS, &fires, &[]);
    let mut first_start: BTreeMap<(u32, i64), i64> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.phase == "start") {
        let at = first_start.entry((e.item, e.fire)).or_insert(e.at);
        *at = (*at).min(e.at);
    }
    let latencies: Vec<i64> = first_start.iter().map(|(&(_, fire), &at)| at - fire).collect();
    let all = ledger::read(&busy.ledger());
    json!({
        "instances": INSTANCES,
        "items": ITEMS,
        "handler_ms": SLEEP_MS,
        "fires": fires.len(),
        "expected_samples": ITEMS as usize * fires.len(),
        "assignment_settled": settled,
        "fire_latency_ms": summarize(latencies),
        "misses": report.misses.len(),
        "duplicates": report.duplicates.len(),
        // Runs that could not name their fire (take-overs): not latencies.
        "runs_without_fire_time": all.iter().filter(|e| e.phase == "start" && e.fire == UNKNOWN_FIRE).count(),
        "startup_to_registration_ms": summarize(busy.startups_ms.iter().chain(&idle.startups_ms).copied().collect()),
        "idle_rss_kib": idle_rss,
        "busy_rss_kib_mean": (!busy_rss.is_empty()).then(|| busy_rss.iter().sum::<u64>() / busy_rss.len() as u64),
        "cpu_seconds_all_instances": (cpu * 100.0).round() / 100.0,
        "cpu_ms_per_fire_per_instance": stats::round2(cpu * 1000.0 / fires.len() as f64 / INSTANCES as f64),
    })
}
