//! What every scenario measures and prints: the ledger's verdict for the
//! fires it expects, how long the cluster took to fire every item again
//! after the fault, and one `SCENARIO ...` line for the closing table.

use cluster_tests::ledger::{Entry, Report};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// `(item, fire)` pairs that completed (`end`) in `entries`.
pub fn completed(entries: &[Entry]) -> BTreeSet<(u32, i64)> {
    entries.iter().filter(|e| e.phase == "end").map(|e| (e.item, e.fire)).collect()
}

/// Milliseconds from `from` to the first expected fire at or after `from`
/// from which on every expected fire ran every item; `None` if none did.
pub fn recovery_ms(entries: &[Entry], items: u32, fires: &[i64], from: i64) -> Option<i64> {
    let done = completed(entries);
    let complete = |fire: i64| (0..items).all(|item| done.contains(&(item, fire)));
    let later: Vec<i64> = fires.iter().copied().filter(|&f| f >= from).collect();
    let mut first = None;
    for &fire in later.iter().rev() {
        if complete(fire) {
            first = Some(fire);
        } else {
            break;
        }
    }
    first.map(|f| (f - from).max(0))
}

/// Instances among `ids` with no `start` at or after `since`.
pub fn silent_since<'a>(entries: &[Entry], ids: &'a [String], since: i64) -> Vec<&'a str> {
    ids.iter()
        .filter(|id| !entries.iter().any(|e| &e.instance == *id && e.phase == "start" && e.at >= since))
        .map(String::as_str)
        .collect()
}

/// Completed runs per instance.
pub fn runs_by_instance(entries: &[Entry]) -> BTreeMap<String, usize> {
    let mut runs = BTreeMap::new();
    for e in entries.iter().filter(|e| e.phase == "end") {
        *runs.entry(e.instance.clone()).or_default() += 1;
    }
    runs
}

/// Prints `SCENARIO name runs=N dup=D miss=M recovery_ms=R [extra]` on the
/// real stdout (past the test harness's capture, so passing scenarios show
/// it too) and appends it to `$ELASTICJOB_FAULT_SUMMARY` when set.
pub fn summary(name: &str, entries: &[Entry], report: &Report, recovery_ms: Option<i64>, extra: &str) {
    let runs = entries.iter().filter(|e| e.phase == "end").count();
    let line = format!(
        "SCENARIO {name} runs={runs} dup={} miss={} recovery_ms={} excused={} cancelled={}{}{}\n",
        report.duplicates.len(),
        report.misses.len(),
        recovery_ms.unwrap_or(-1),
        report.excused.len(),
        report.cancelled,
        if extra.is_empty() { "" } else { " " },
        extra
    );
    let _ = std::io::stdout().write_all(line.as_bytes());
    let _ = std::io::stdout().flush();
    if let Ok(path) = std::env::var("ELASTICJOB_FAULT_SUMMARY") {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// The first few items of a long list, for assertion messages.
pub fn head<T: std::fmt::Debug>(list: &[T]) -> String {
    let shown: Vec<&T> = list.iter().take(12).collect();
    if list.len() > shown.len() {
        format!("{shown:?} ... ({} in all)", list.len())
    } else {
        format!("{shown:?}")
    }
}

/// Duplicates that at-least-once allows: the first run ended, but its
/// instance lost its session before the end was recorded (its log names the
/// item among the runs in flight when the session was lost), and a survivor
/// re-ran the item afterwards. `lost_in_flight` maps an instance to those
/// items. Returns (allowed, the rest).
#[allow(clippy::type_complexity)]
pub fn split_lost_completions(
    entries: &[Entry],
    duplicates: &[((u32, i64), Vec<String>)],
    lost_in_flight: &BTreeMap<String, BTreeSet<u32>>,
) -> (Vec<((u32, i64), Vec<String>)>, Vec<((u32, i64), Vec<String>)>) {
    duplicates.iter().cloned().partition(|((item, fire), _)| {
        let runs: Vec<&Entry> = entries.iter().filter(|e| e.item == *item && e.fire == *fire).collect();
        let ends: Vec<&&Entry> = runs.iter().filter(|e| e.phase == "end").collect();
        let [first, second] = ends.as_slice() else { return false };
        let (first, second) = if first.at <= second.at { (first, second) } else { (second, first) };
        let rerun_started = runs.iter().filter(|e| e.phase == "start" && e.instance == second.instance).map(|e| e.at).min();
        first.instance != second.instance
            && lost_in_flight.get(&first.instance).is_some_and(|items| items.contains(item))
            && rerun_started.is_some_and(|at| at >= first.at)
    })
}
