//! Losing an instance: crash failover (kill -9 mid-fire) for our Rust
//! worker and the Java ElasticJob worker, and a graceful leave with items
//! running.
//!
//! One kill is one sample, and failover time depends on where in the
//! session timeout and the cron period the kill lands, so each is
//! repeated ([`KILLS`] kills) and given as p50 and max with the count. A
//! kill's figure is the time until **every** item the victim was running
//! has started on another instance (the slowest item, not the first).
//!
//! Each cycle keeps three workers: the victim is killed 200 ms after it
//! started a fire's items, and a fresh worker replaces it before the next
//! kill.

use crate::stats::summarize;
use crate::workers::{lang_name, missing, Group, SESSION_TIMEOUT_MS};
use cluster_tests::ledger::{self, Entry};
use cluster_tests::workers::now_millis;
use mixed_language_tests::Lang;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Kills per worker language.
pub const KILLS: usize = 10;
/// Items of the crash job.
const ITEMS: u32 = 6;
/// Its cron: every 3 s.
const CRON: &str = "0/3 * * * * ?";
/// Handlers run 2.5 s: a killed instance's items are mid-run, and the
/// survivors' own runs are too (Java takes over only once they end).
const SLEEP_MS: u32 = 2500;

/// Crash failover for Rust and, when built, Java.
pub fn crash(connect: &str) -> Value {
    let mut out = serde_json::Map::new();
    for lang in [Lang::Rust, Lang::Java] {
        let name = lang_name(lang);
        if let Some(why) = missing(lang) {
            out.insert(name, json!({ "skipped": why }));
            continue;
        }
        eprintln!("failover: {name}");
        out.insert(name, crash_one(connect, lang));
    }
    Value::Object(out)
}

/// The victim's starts since `since`, of its latest fire, once it has some.
fn victim_fire(entries: &[Entry], victim: &str, since: i64) -> Option<(i64, BTreeSet<u32>)> {
    let fire = entries.iter().filter(|e| e.phase == "start" && e.instance == victim && e.at > since).map(|e| e.fire).max()?;
    let items = entries.iter().filter(|e| e.phase == "start" && e.instance == victim && e.fire == fire).map(|e| e.item).collect();
    Some((fire, items))
}

/// Whether a ledger line is a take-over (failover) run.
fn is_take_over(e: &Entry) -> bool {
    e.failover || e.reason.as_deref() == Some("failover")
}

fn crash_one(connect: &str, lang: Lang) -> Value {
    let name = lang_name(lang);
    let mut group = Group::new(lang, connect, &format!("bench-failover-{name}"), ITEMS, CRON, SLEEP_MS);
    for _ in 0..3 {
        group.add();
    }
    let (mut times, mut take_overs, mut moved, mut failures) = (Vec::new(), 0usize, 0usize, Vec::new());
    let mut since = now_millis();
    for kill in 0..KILLS {
        // The newest worker is the victim: it is the one that just joined.
        let victim = group.workers.len() - 1;
        let victim_id = group.workers[victim].instance_id.clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        let started = loop {
            if let Some(found) = victim_fire(&ledger::read(&group.ledger()), &victim_id, since) {
                break Some(found);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let Some((_, _)) = started else {
            failures.push(format!("kill {kill}: the victim started nothing within 30 s"));
            break;
        };
        std::thread::sleep(Duration::from_millis(200));
        let (_, items) = victim_fire(&ledger::read(&group.ledger()), &victim_id, since).expect("seen above");
        let killed_at = now_millis();
        group.workers[victim].kill9();
        group.workers.remove(victim);
        let deadline = Instant::now() + Duration::from_secs(30);
        let taken = loop {
            let entries = ledger::read(&group.ledger());
            let firsts: Vec<&Entry> = items
                .iter()
                .filter_map(|&item| {
                    entries
                        .iter()
                        .filter(|e| e.phase == "start" && e.item == item && e.instance != victim_id && e.at > killed_at)
                        .min_by_key(|e| e.at)
                })
                .collect();
            if firsts.len() == items.len() {
                break Some((firsts.iter().map(|e| e.at).max().unwrap_or(killed_at), firsts.iter().filter(|e| is_take_over(e)).count()));
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        match taken {
            Some((at, overs)) => {
                times.push(at - killed_at);
                take_overs += overs;
                moved += items.len();
            }
            None => failures.push(format!("kill {kill}: not every item started elsewhere within 30 s")),
        }
        since = now_millis();
        group.add();
    }
    group.terminate_all(Duration::from_secs(5));
    json!({
        "kills": times.len() + failures.len(),
        "items": ITEMS,
        "handler_ms": SLEEP_MS,
        "cron": CRON,
        "session_timeout_ms": SESSION_TIMEOUT_MS,
        "all_items_started_elsewhere_ms": summarize(times),
        // Of the victims' items, how many next started as a take-over of
        // the killed run (failover), not as the next cron fire's run.
        "items_moved": moved,
        "items_moved_by_take_over": take_overs,
        "failures": failures,
    })
}

/// Graceful leaves measured.
pub const LEAVES: usize = 5;
/// Items of the leave job.
const LEAVE_ITEMS: u32 = 6;
/// Its cron: every 2 s.
const LEAVE_CRON: &str = "0/2 * * * * ?";
/// Handlers run 1 s: the leaver is asked to stop 100 ms into its runs, so
/// its shutdown waits for them.
const LEAVE_SLEEP_MS: u32 = 1000;

/// SIGTERM to a Rust worker 100 ms into its items' runs, [`LEAVES`] times
/// (three workers, a fresh one replacing each leaver): until no item is
/// owned by it any more, and until every item it ran has started again
/// elsewhere (at the next fire under the new assignment).
pub fn graceful_leave(connect: &str) -> Value {
    let mut group = Group::new(Lang::Rust, connect, "bench-leave", LEAVE_ITEMS, LEAVE_CRON, LEAVE_SLEEP_MS);
    for _ in 0..3 {
        group.add();
    }
    let (mut owned_ms, mut running_ms, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    let mut since = now_millis();
    for leave in 0..LEAVES {
        let leaver = group.workers.len() - 1;
        let leaver_id = group.workers[leaver].instance_id.clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        let items = loop {
            if let Some((_, items)) = victim_fire(&ledger::read(&group.ledger()), &leaver_id, since) {
                break Some(items);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let Some(_) = items else {
            failures.push(format!("leave {leave}: the leaver started nothing within 30 s"));
            break;
        };
        std::thread::sleep(Duration::from_millis(100));
        let (_, items) = victim_fire(&ledger::read(&group.ledger()), &leaver_id, since).expect("seen above");
        let mut worker = group.workers.remove(leaver);
        let asked_at = now_millis();
        let stopping = std::thread::spawn(move || worker.terminate(Duration::from_secs(20)));
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut owned_at = None;
        let mut running_at = None;
        while Instant::now() < deadline && (owned_at.is_none() || running_at.is_none()) {
            if owned_at.is_none() {
                let (_, owners) = mixed_language_tests::assignment(&group.connect, &group.namespace, crate::workers::JOB, LEAVE_ITEMS);
                if !owners.contains(&leaver_id) && owners.iter().all(|o| !o.is_empty()) {
                    owned_at = Some(now_millis());
                }
            }
            if running_at.is_none() {
                let entries = ledger::read(&group.ledger());
                let firsts: Vec<i64> = items
                    .iter()
                    .filter_map(|&item| {
                        entries
                            .iter()
                            .filter(|e| e.phase == "start" && e.item == item && e.instance != leaver_id && e.at > asked_at)
                            .map(|e| e.at)
                            .min()
                    })
                    .collect();
                if firsts.len() == items.len() {
                    running_at = firsts.into_iter().max();
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = stopping.join();
        match (owned_at, running_at) {
            (Some(owned), Some(running)) => {
                owned_ms.push(owned - asked_at);
                running_ms.push(running - asked_at);
            }
            _ => failures.push(format!("leave {leave}: its items did not move and start elsewhere within 30 s")),
        }
        since = now_millis();
        group.add();
    }
    group.terminate_all(Duration::from_secs(5));
    json!({
        "leaves": owned_ms.len() + failures.len(),
        "items": LEAVE_ITEMS,
        "handler_ms": LEAVE_SLEEP_MS,
        "cron": LEAVE_CRON,
        "asked_ms_into_runs": 100,
        "to_items_owned_by_others_ms": summarize(owned_ms),
        "to_items_started_elsewhere_ms": summarize(running_ms),
        "failures": failures,
    })
}
