//! Backfill across worker processes: two Rust workers run a daily job's
//! last three midnights on two items; item 0 runs 3 s. The worker running
//! item 0's first backfill run is killed (kill -9) mid-run: the survivor
//! re-runs that very fire through failover (its backfill fire, not a cron
//! fire of the job, which never fired), then goes on with item 0's other
//! fires. Every (item, fire) of the range ends once; the killed run is the
//! only one that ran twice (at-least-once).

mod common;

use cluster_tests::ledger;
use cluster_tests::workers::{now_millis, Worker};
use common::{entries, Setup, SESSION_TIMEOUT_MS};
use std::collections::BTreeMap;
use std::time::Duration;

const DAY: i64 = 86_400_000;

#[test]
fn a_backfill_run_killed_mid_run_is_run_again_for_its_backfill_fire() {
    let setup = Setup::new("backfill");
    let flags = [("sleep-ms", "100"), ("slow-item", "0"), ("slow-ms", "3000"), ("failover", "true")];
    let mut workers: Vec<Worker> = (0..2).map(|n| setup.worker(&format!("rust-{n}"), "midnight", 2, "0 0 0 * * ?", &flags)).collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let operator = setup.operator();
    let today = now_millis() / DAY * DAY;
    let midnights: Vec<i64> = (1..=3).rev().map(|days| today - days * DAY).collect();
    let id = runtime.block_on(operator.backfill("midnight", midnights[0], today, "ops", None)).unwrap();

    // Item 0's first backfill run starts; its worker is killed 1 s into it.
    let first = ledger::wait_for(&setup.ledger(), Duration::from_secs(20), |e| e.item == 0 && e.phase == "start" && e.fire == midnights[0]);
    std::thread::sleep(Duration::from_millis(1000));
    let victim = workers.iter().position(|w| w.instance_id == first.instance).expect("a worker of ours ran it");
    let killed_at = now_millis();
    workers[victim].kill9();
    let survivor = &workers[1 - victim].instance_id.clone();

    let rerun = ledger::wait_for(&setup.ledger(), Duration::from_secs(20), |e| {
        e.item == 0 && e.phase == "end" && e.fire == midnights[0] && &e.instance == survivor
    });
    assert!(rerun.at - killed_at < SESSION_TIMEOUT_MS + 5000, "re-run {} ms after the kill", rerun.at - killed_at);
    let mut progress = (0, 0);
    for _ in 0..300 {
        let listed = runtime.block_on(operator.backfills("midnight")).unwrap();
        progress = listed[0].started();
        let ended = entries(&setup.ledger(), "midnight").iter().filter(|e| e.phase == "end").count();
        if listed[0].is_done() && ended >= 6 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    workers[1 - victim].terminate(Duration::from_secs(10));
    assert_eq!(progress, (6, 6), "{:?}", entries(&setup.ledger(), "midnight"));

    let all = entries(&setup.ledger(), "midnight");
    let mut ends: BTreeMap<(u32, i64), usize> = BTreeMap::new();
    for e in all.iter().filter(|e| e.phase == "end") {
        *ends.entry((e.item, e.fire)).or_default() += 1;
    }
    let expected: BTreeMap<(u32, i64), usize> = (0..2).flat_map(|item| midnights.iter().map(move |&m| ((item, m), 1))).collect();
    assert_eq!(ends, expected, "every (item, midnight) ended once, nothing else ran: {all:?}");
    let starts = |item: u32, fire: i64| all.iter().filter(|e| e.item == item && e.fire == fire && e.phase == "start").count();
    assert_eq!(starts(0, midnights[0]), 2, "the killed run, then its failover re-run");
    for (&(item, fire), _) in expected.iter().filter(|((item, fire), _)| (*item, *fire) != (0, midnights[0])) {
        assert_eq!(starts(item, fire), 1, "item {item} fire {fire} started once");
    }
    let order: Vec<i64> = all.iter().filter(|e| e.item == 0 && e.phase == "end").map(|e| e.fire).collect();
    assert_eq!(order, midnights, "item 0 ran its fires oldest first, the re-run before the rest");
    runtime.block_on(operator.cancel_backfill("midnight", &id)).unwrap();
    println!("backfill re-run of the killed fire ended {} ms after kill -9 (session timeout {SESSION_TIMEOUT_MS} ms)", rerun.at - killed_at);
}
