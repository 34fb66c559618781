//! Overlap policies across worker processes: two Rust workers share a job
//! of two items firing every second; item 0 runs 2.5 s, so each of its
//! runs overlaps the next two fires, and item 1 runs 100 ms. The ledger
//! shows what each policy did with the fires item 0 was busy for, and
//! that item 1 ran every fire exactly once whatever item 0 did.
//!
//! Windows stated up front: fires from the start until 3 s after both
//! workers are ready (the joins reshard) and from 4 s before the stop are
//! not judged.

mod common;

use cluster_tests::ledger::Entry;
use cluster_tests::workers::{fires_between, now_millis, Worker};
use common::{entries, Setup};
use std::collections::BTreeSet;
use std::time::Duration;

const SLOW_MS: i64 = 2500;
/// How soon a run may follow the one it waited for (a fenced start on loopback, with room for a busy host).
const FOLLOW_MS: i64 = 400;

/// One run of item 0, from its ledger lines.
#[derive(Debug)]
struct Run {
    fire: i64,
    start: i64,
    /// When the handler finished: `end`, or `cancelled` when told to stop.
    finish: i64,
    /// Why it was told to stop, if it was.
    cancelled: Option<String>,
}

/// What one policy's run left: item 0's runs in start order, and the judged fires.
struct Observed {
    runs: Vec<Run>,
    fires: Vec<i64>,
    all: Vec<Entry>,
}

fn observe(name: &str, policy: &str) -> Observed {
    let setup = Setup::new(name);
    let flags = [("sleep-ms", "100"), ("slow-item", "0"), ("slow-ms", "2500"), ("failover", "false"), ("overlap-policy", policy)];
    let mut workers: Vec<Worker> = (0..2).map(|n| setup.worker(&format!("rust-{n}"), name, 2, "* * * * * ?", &flags)).collect();
    let ready = now_millis();
    std::thread::sleep(Duration::from_millis(14_000));
    let done = now_millis();
    for w in &mut workers {
        w.terminate(Duration::from_secs(15));
    }
    let all = entries(&setup.ledger(), name);
    let fires = fires_between(ready + 3000, done - 4000, 1000);
    let finish_of = |start: &Entry| {
        all.iter().find(|e| e.item == 0 && e.fire == start.fire && e.token == start.token && e.phase != "start")
    };
    let mut runs: Vec<Run> = all
        .iter()
        .filter(|e| e.item == 0 && e.phase == "start")
        .filter_map(|start| {
            let finish = finish_of(start)?;
            let cancelled = (finish.phase == "cancelled").then(|| finish.reason.clone().unwrap_or_default());
            Some(Run { fire: start.fire, start: start.at, finish: finish.at, cancelled })
        })
        .collect();
    runs.sort_by_key(|r| r.start);

    // Whatever the policy: item 1 ran every judged fire once, and item 0
    // never ran twice for one fire, nor (but with ALLOW_ALL) twice at once.
    for fire in &fires {
        let n = all.iter().filter(|e| e.item == 1 && e.phase == "start" && e.fire == *fire).count();
        assert_eq!(n, 1, "{policy}: item 1 ran {n} times for fire {fire}");
    }
    if policy != "ALLOW_ALL" {
        for pair in runs.windows(2) {
            assert!(pair[1].start >= pair[0].finish, "{policy}: item 0 ran twice at once: {pair:?}");
        }
    }
    let mut seen = BTreeSet::new();
    for run in &runs {
        assert!(seen.insert(run.fire), "{policy}: item 0 ran twice for fire {}: {runs:?}", run.fire);
    }
    Observed { runs, fires, all }
}

impl Observed {
    /// Item 0's runs whose fire is judged (and the run before each).
    fn judged(&self) -> impl Iterator<Item = (&Run, &Run)> {
        let (first, last) = (self.fires[0], *self.fires.last().unwrap());
        self.runs.windows(2).map(|w| (&w[0], &w[1])).filter(move |(_, run)| run.fire >= first && run.fire <= last)
    }

    fn summary(&self) -> String {
        let runs: Vec<String> = self.runs.iter().map(|r| format!("{}+{}..{}", r.fire % 100_000, r.start - r.fire, r.finish - r.fire)).collect();
        format!("fires {:?}, item 0 runs (fire+start..finish ms) {runs:?}, {} ledger lines", self.fires.len(), self.all.len())
    }
}

/// SKIP: each run starts on time; a fire that came while item 0 was busy
/// never runs, a fire that found it free always does.
#[test]
fn skip_drops_the_fires_a_busy_item_overlaps() {
    let seen = observe("overlap-skip", "SKIP");
    let mut judged = 0;
    for (before, run) in seen.judged() {
        judged += 1;
        assert!(run.start - run.fire < 500, "started on time: {run:?} ({})", seen.summary());
        let skipped = fires_between(before.fire + 1, run.fire - 1, 1000);
        assert!(skipped.iter().all(|&g| g < before.finish + 100), "only fires it was busy for are skipped: {}", seen.summary());
        assert!(run.fire - 1000 < before.finish + 100, "the first fire after the run was not skipped: {}", seen.summary());
    }
    assert!(judged >= 2, "{}", seen.summary());
    println!("SKIP: {}", seen.summary());
}

/// BUFFER_ONE (ElasticJob's misfire): the run that ends runs once more,
/// at once, for the latest fire that came meanwhile; older ones are dropped.
#[test]
fn buffer_one_runs_the_latest_overlapped_fire_when_the_run_ends() {
    let seen = observe("overlap-buffer-one", "BUFFER_ONE");
    let mut judged = 0;
    for (before, run) in seen.judged() {
        judged += 1;
        assert!(run.start - before.finish < FOLLOW_MS, "follows at once: {before:?} {run:?} ({})", seen.summary());
        assert!(run.fire <= before.finish + 100 && run.fire > before.finish - 1100, "for the latest fire: {before:?} {run:?}");
        assert!(run.fire - before.fire >= 2000, "an overlapped fire was dropped: {}", seen.summary());
    }
    assert!(judged >= 2, "{}", seen.summary());
    println!("BUFFER_ONE: {}", seen.summary());
}

/// BUFFER_ALL: every fire runs, in order, back to back, later and later.
#[test]
fn buffer_all_runs_every_overlapped_fire_in_order() {
    let seen = observe("overlap-buffer-all", "BUFFER_ALL");
    let mut judged = 0;
    for (before, run) in seen.judged() {
        judged += 1;
        assert_eq!(run.fire - before.fire, 1000, "the next fire, none dropped: {}", seen.summary());
        assert!(run.start - before.finish < FOLLOW_MS, "follows at once: {before:?} {run:?} ({})", seen.summary());
    }
    assert!(judged >= 3, "{}", seen.summary());
    let last = seen.runs.last().unwrap();
    assert!(last.start - last.fire > 3000, "the backlog grows (2.5 s runs, 1 s fires): {}", seen.summary());
    println!("BUFFER_ALL: {}", seen.summary());
}

/// CANCEL_OTHER: at each fire the busy run is told to stop (`superseded`)
/// and the item runs for the new fire once it returned: every fire runs.
#[test]
fn cancel_other_stops_the_busy_run_at_each_new_fire() {
    let seen = observe("overlap-cancel-other", "CANCEL_OTHER");
    let mut judged = 0;
    for (before, run) in seen.judged() {
        judged += 1;
        assert_eq!(run.fire - before.fire, 1000, "every fire runs: {}", seen.summary());
        assert_eq!(before.cancelled.as_deref(), Some("superseded"), "{before:?} ({})", seen.summary());
        assert!((before.finish - run.fire).abs() < 300, "told to stop at the new fire's instant: {before:?} {run:?}");
        assert!(run.start - before.finish < FOLLOW_MS, "then the new fire runs: {before:?} {run:?}");
    }
    assert!(judged >= 5, "{}", seen.summary());
    assert!(SLOW_MS > 2000, "each run would overlap two fires if not stopped");
    println!("CANCEL_OTHER: {}", seen.summary());
}

/// ALLOW_ALL: every fire starts item 0 on time, beside the runs of the two
/// fires before it (each runs its full 2.5 s), and each fire once.
#[test]
fn allow_all_runs_every_fire_at_once_beside_the_busy_runs() {
    let seen = observe("overlap-allow-all", "ALLOW_ALL");
    let mut judged = 0;
    for (before, run) in seen.judged() {
        judged += 1;
        assert_eq!(run.fire - before.fire, 1000, "every fire runs: {}", seen.summary());
        assert!(run.start - run.fire < 500, "started on time, not after the busy run: {run:?} ({})", seen.summary());
        assert!(run.start < before.finish, "beside the run before it: {before:?} {run:?}");
        assert_eq!(before.cancelled, None, "nothing is told to stop: {before:?}");
    }
    assert!(judged >= 5, "{}", seen.summary());
    let at_once = |t: i64| seen.runs.iter().filter(|r| r.start <= t && t < r.finish).count();
    let most = seen.runs.iter().map(|r| at_once(r.start)).max().unwrap_or(0);
    assert!(most >= 3, "2.5 s runs of 1 s fires: three at once, seen {most} ({})", seen.summary());
    println!("ALLOW_ALL: {}", seen.summary());
}
