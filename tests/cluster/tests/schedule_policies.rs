//! Schedule policies across worker processes, judged by the execution
//! ledger: two Rust workers share each job (four items, a cron of one
//! second), so every rule below holds cluster-wide, not in one process.
//!
//! Windows stated up front: fires up to 2.5 s after both workers are ready
//! (the joins reshard) and from 1.5 s before the stop are not judged; a
//! fire reserved (80 ms ahead) before a pause was written still runs, so
//! the 100 ms after a pause or resume is not judged either.

mod common;

use cluster_tests::ledger::{self, Entry};
use cluster_tests::workers::{fires_between, now_millis, Worker};
use common::{entries, Setup};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const ITEMS: u32 = 4;

fn workers(setup: &Setup, job: &str, props: &str, extra: &[(&str, &str)]) -> Vec<Worker> {
    let mut flags = vec![("sleep-ms", "50"), ("props", props)];
    flags.extend_from_slice(extra);
    (0..2).map(|n| setup.worker(&format!("rust-{job}-{n}"), job, ITEMS, "* * * * * ?", &flags)).collect()
}

fn stop(workers: &mut [Worker]) {
    for w in workers {
        w.terminate(Duration::from_secs(10));
    }
}

/// The fires that started at least one item.
fn started_fires(all: &[Entry]) -> BTreeSet<i64> {
    all.iter().filter(|e| e.phase == "start").map(|e| e.fire).collect()
}

fn assert_clean(all: &[Entry], job: &str, fires: &[i64]) {
    assert!(!fires.is_empty(), "{job}: no fire judged");
    let report = ledger::check(all, job, ITEMS, fires, &[]);
    assert!(report.is_clean(), "{job}: {report:?}");
}

/// A pause with an end: no fire of its window starts on either process,
/// none of them is caught up after it, and every other fire runs each
/// item once.
#[test]
fn a_pause_with_an_end_holds_its_fires_on_every_process() {
    let setup = Setup::new("pause");
    let mut w = workers(&setup, "paused", "catchUpWindowSeconds=300", &[]);
    let ready = now_millis();
    std::thread::sleep(Duration::from_millis(3500));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let operator = setup.operator();
    let paused_at = now_millis();
    let until = paused_at + 3000;
    let note = elasticjob::PauseNote::new("ops", "migration", paused_at, Some(until)).unwrap();
    runtime.block_on(operator.pause("paused", &note)).unwrap();
    std::thread::sleep(Duration::from_millis(8000));
    let done = now_millis();
    stop(&mut w);
    let all = entries(&setup.ledger(), "paused");
    let held: Vec<i64> = started_fires(&all).into_iter().filter(|&f| f > paused_at + 100 && f < until).collect();
    assert!(held.is_empty(), "fires of the pause ran: {held:?}");
    let mut judged = fires_between(ready + 2500, paused_at - 100, 1000);
    judged.extend(fires_between(until + 100, done - 1500, 1000));
    assert!(judged.iter().filter(|&&f| f > until).count() >= 2, "fires after the pause: {judged:?}");
    assert_clean(&all, "paused", &judged);
}

/// `pauseAfterFailedFires: 2`: item 1 fails every fire; after its second
/// failed fire the job pauses itself (the note names the item and the
/// error) and neither process starts a fire after that.
#[test]
fn failed_fires_in_a_row_pause_the_job_on_every_process() {
    let setup = Setup::new("pause-on-failure");
    let mut w = workers(&setup, "fragile", "pauseAfterFailedFires=2", &[("fail-item", "1")]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let operator = setup.operator();
    let mut note = None;
    for _ in 0..150 {
        note = runtime.block_on(operator.pause_note("fragile")).unwrap();
        if note.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let note = note.expect("the job paused itself");
    std::thread::sleep(Duration::from_millis(3000));
    stop(&mut w);
    assert_eq!(note.by, elasticjob::pause::PAUSED_ON_FAILURE_BY);
    assert!(note.reason.contains("item 1"), "{note:?}");
    let all = entries(&setup.ledger(), "fragile");
    let failed: Vec<i64> = all.iter().filter(|e| e.item == 1 && e.phase == "start").map(|e| e.fire).collect();
    assert!(failed.len() >= 2, "item 1 failed twice first: {failed:?}");
    let late: Vec<i64> = started_fires(&all).into_iter().filter(|&f| f > note.at + 100).collect();
    assert!(late.is_empty(), "fires after the pause ran: {late:?} (paused at {})", note.at);
}

/// `jitterMillis: 600`: every item of a fire starts after the same offset,
/// on both processes; the offsets differ from fire to fire and stay in bounds.
#[test]
fn jitter_delays_each_fire_alike_on_every_process() {
    let setup = Setup::new("jitter");
    let mut w = workers(&setup, "herd", "jitterMillis=600", &[]);
    let ready = now_millis();
    std::thread::sleep(Duration::from_millis(8000));
    let done = now_millis();
    stop(&mut w);
    let all = entries(&setup.ledger(), "herd");
    let judged = fires_between(ready + 2500, done - 1500, 1000);
    assert_clean(&all, "herd", &judged);
    let mut offsets: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for e in all.iter().filter(|e| e.phase == "start" && judged.contains(&e.fire)) {
        offsets.entry(e.fire).or_default().push(e.at - e.fire);
    }
    let instances: BTreeSet<&str> = all.iter().map(|e| e.instance.as_str()).collect();
    assert_eq!(instances.len(), 2, "both processes ran items");
    for (fire, found) in &offsets {
        let (low, high) = (*found.iter().min().unwrap(), *found.iter().max().unwrap());
        assert!(high - low < 150, "fire {fire}: items started {found:?} ms after it, not alike");
        assert!((0..600 + 150).contains(&low), "fire {fire}: offset {low} ms out of bounds");
    }
    let lows: BTreeSet<i64> = offsets.values().map(|found| *found.iter().min().unwrap() / 50).collect();
    assert!(lows.len() >= 2, "the offset differs between fires: {offsets:?}");
}

/// `startAt` with `endAt` on one job, `startAt` with `maxFires: 3` on
/// another: each fires exactly its three fires on every item, nothing
/// before or after, on both processes.
#[test]
fn schedule_bounds_and_a_fire_limit_hold_on_every_process() {
    let setup = Setup::new("bounds");
    let start = (now_millis() / 1000 + 5) * 1000;
    let rfc3339 = |ms: i64| elasticjob::backfill::show(ms);
    let bounded = format!("startAt={};endAt={}", rfc3339(start), rfc3339(start + 3000));
    let limited = format!("startAt={};maxFires=3", rfc3339(start));
    let mut w = workers(&setup, "bounded", &bounded, &[]);
    w.extend(workers(&setup, "limited", &limited, &[]));
    let wait = (start + 6500 - now_millis()).max(0) as u64;
    std::thread::sleep(Duration::from_millis(wait));
    stop(&mut w);
    let three: Vec<i64> = (0..3).map(|n| start + n * 1000).collect();
    for job in ["bounded", "limited"] {
        let all = entries(&setup.ledger(), job);
        assert_eq!(started_fires(&all).into_iter().collect::<Vec<_>>(), three, "{job}: only its three fires");
        assert_clean(&all, job, &three);
    }
}

/// Triggers with an overlap override, on a trigger-only job whose item 0
/// runs 3 s: `SKIP` leaves the busy item out, `CANCEL_OTHER` tells its run
/// to stop (`superseded`) and runs it once that returned, and a plain
/// trigger runs it once more when its run ends; the idle items run every
/// trigger at once, on both processes.
#[test]
fn a_trigger_overrides_the_overlap_policy_on_every_process() {
    let setup = Setup::new("trigger-overlap");
    let flags = [("slow-item", "0"), ("slow-ms", "3000"), ("honour-cancel", "true")];
    let mut w: Vec<Worker> =
        (0..2).map(|n| setup.worker(&format!("rust-manual-{n}"), "manual", ITEMS, "", &flags)).collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let operator = setup.operator();
    let count = |item: u32, phase: &str| entries(&setup.ledger(), "manual").iter().filter(|e| e.item == item && e.phase == phase).count();
    let wait_for = |items: std::ops::Range<u32>, phase: &str, n: usize| {
        for _ in 0..100 {
            if items.clone().all(|item| count(item, phase) >= n) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("items {items:?} did not {phase} {n} times: {:?}", entries(&setup.ledger(), "manual"));
    };
    // A run's ledger `end` comes from its handler, just before the
    // scheduler clears its `running` mark: an overriding trigger in
    // between would (rightly) find the item still running.
    let wait_idle = |items: std::ops::Range<u32>| {
        for _ in 0..100 {
            let briefs = runtime.block_on(operator.items("manual")).unwrap();
            if briefs.iter().filter(|b| items.contains(&b.item)).all(|b| b.state != elasticjob::operate::ItemState::Running) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("items {items:?} still running: {:?}", runtime.block_on(operator.items("manual")));
    };
    runtime.block_on(operator.trigger("manual")).unwrap();
    wait_for(0..1, "start", 1);
    // The idle items' runs (100 ms) ended; item 0's lasts 3 s.
    wait_for(1..ITEMS, "end", 1);
    wait_idle(1..ITEMS);
    runtime.block_on(operator.trigger_with("manual", Some(elasticjob::OverlapPolicy::Skip))).unwrap();
    wait_for(1..ITEMS, "end", 2);
    assert_eq!(count(0, "start"), 1, "SKIP left the busy item out");
    wait_idle(1..ITEMS);
    runtime.block_on(operator.trigger_with("manual", Some(elasticjob::OverlapPolicy::CancelOther))).unwrap();
    wait_for(0..1, "start", 2);
    let all = entries(&setup.ledger(), "manual");
    let cancelled: Vec<&Entry> = all.iter().filter(|e| e.item == 0 && e.phase == "cancelled").collect();
    assert_eq!(cancelled.len(), 1, "CANCEL_OTHER stopped the busy run: {all:?}");
    assert_eq!(cancelled[0].reason.as_deref(), Some("superseded"));
    // The re-run is busy now: a plain trigger runs item 0 once more when it ends.
    wait_for(1..ITEMS, "end", 3);
    runtime.block_on(operator.trigger("manual")).unwrap();
    wait_for(1..ITEMS, "end", 4);
    std::thread::sleep(Duration::from_millis(6500));
    stop(&mut w);
    let all = entries(&setup.ledger(), "manual");
    let starts = |item: u32| all.iter().filter(|e| e.item == item && e.phase == "start").count();
    for item in 1..ITEMS {
        assert_eq!(starts(item), 4, "item {item} ran every trigger: {all:?}");
    }
    assert_eq!(starts(0), 3, "item 0: the first trigger, CANCEL_OTHER's run, the plain trigger's re-run: {all:?}");
    let ends = all.iter().filter(|e| e.item == 0 && e.phase == "end").count();
    assert_eq!(ends, 2, "every run of item 0 but the cancelled one ended: {all:?}");
}
