//! The execution ledger: an append-only file of JSON lines, one line when a
//! handler starts an item and one when it ends (`end`) or gives up because
//! it was told to stop (`cancelled`), written by workers of any language.
//! Lines are short and written with one `write` on a file opened for
//! appending, so lines of concurrent writers never interleave.
//!
//! The checker decides, for the fires a test expects, whether every
//! (item, fire) ran exactly once: a **duplicate** is a second completed run,
//! or a second start while the first start's instance was not declared
//! crashed; a **miss** is an expected (item, fire) that never completed. A
//! start its own instance closed with `cancelled` is not a completed run and
//! not a dangling one: the core told it to stop and it did. A test may
//! excuse misses inside stated windows (a quorum loss, a failover) and
//! still require that some fires are eventually caught up.
//!
//! A run that cannot tell its fire is written with [`UNKNOWN_FIRE`]: a
//! take-over of a crashed runner's item whose fire was not recorded (Java
//! ElasticJob records none), or a Java run under a one-shot trigger (a
//! failover hand-off). The checker counts it as the run of a crashed
//! runner's unfinished fire of that item, the latest one started before
//! it; one that matches no such start is reported apart
//! (`unattributed_runs`), neither a duplicate nor a completion.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// The `fire` of a run that cannot tell which fire it runs.
pub const UNKNOWN_FIRE: i64 = -1;

/// One ledger line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// `start`, `end`, or `cancelled` (the handler saw its cancellation and stopped).
    pub phase: String,
    /// Job name.
    pub job: String,
    /// Item.
    pub item: u32,
    /// Fire time the run belongs to, epoch ms.
    pub fire: i64,
    /// Instance id of the worker.
    pub instance: String,
    /// Worker language: `rust`, `python`, `node`, `c`.
    pub lang: String,
    /// Wall clock when written, epoch ms.
    pub at: i64,
    /// The run's fencing token (0 when the worker does not know one).
    #[serde(default)]
    pub token: i64,
    /// Why a `cancelled` run was told to stop (`session-lost`, ...); on a
    /// Java worker's lines, `failover` marks a failover run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the run took over a lost instance's item (failover); only
    /// written when true, and only by workers that record it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failover: bool,
    /// Which attempt at the (item, fire) the run was (retries); 1 when not written.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
}

fn first_attempt() -> u32 {
    1
}

/// One ledger file opened once for appending and shared by every handler of
/// a process: a worker with 20,000 items must not open the file 40,000
/// times per fire.
pub struct Appender {
    file: Mutex<File>,
}

impl Appender {
    /// Opens (creating) the ledger at `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<Appender> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Appender { file: Mutex::new(file) })
    }

    /// Appends one entry with a single `write`.
    pub fn append(&self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).expect("entry serializes");
        line.push(b'\n');
        self.file.lock().unwrap_or_else(|p| p.into_inner()).write_all(&line)
    }
}

/// Appends one entry to the ledger at `path`.
pub fn append(path: &Path, entry: &Entry) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(entry).expect("entry serializes");
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(&line)
}

/// Reads every entry; unparsable lines (a worker killed mid-write) are skipped.
pub fn read(path: &Path) -> Vec<Entry> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Waits (polling the ledger at `path`) until some entry matches, and
/// returns it; fails the test after `timeout`.
pub fn wait_for(path: &Path, timeout: std::time::Duration, matches: impl Fn(&Entry) -> bool) -> Entry {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(e) = read(path).into_iter().find(|e| matches(e)) {
            return e;
        }
        assert!(std::time::Instant::now() < deadline, "no matching ledger entry within {timeout:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// What the checker found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// (item, fire) pairs run more than once, with the instances that ran them.
    pub duplicates: Vec<((u32, i64), Vec<String>)>,
    /// Expected (item, fire) pairs that never completed.
    pub misses: Vec<(u32, i64)>,
    /// How many (item, fire) pairs completed exactly once.
    pub exactly_once: usize,
    /// Expected (item, fire) pairs that never completed but whose fire lies
    /// inside a window the test allows misses in.
    pub excused: Vec<(u32, i64)>,
    /// How many runs ended `cancelled` (told to stop, and stopped).
    pub cancelled: usize,
    /// Runs of an unknown fire that matched no unfinished run of a crashed
    /// instance.
    pub unattributed_runs: usize,
}

/// What a test tolerates beyond exactly-once.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions<'a> {
    /// Instances declared crashed: their unfinished starts are forgiven.
    pub crashed: &'a [&'a str],
    /// `(from, to)` epoch-ms windows (inclusive) where a missed fire is
    /// reported as `excused`, not as a miss.
    pub windows: &'a [(i64, i64)],
    /// Fires that must complete eventually even inside a window (caught up).
    pub catch_up: &'a [i64],
}

impl Report {
    /// Whether every expected (item, fire) ran exactly once.
    pub fn is_clean(&self) -> bool {
        self.duplicates.is_empty() && self.misses.is_empty()
    }
}

/// Checks `entries` of `job` against the expected `fires` × `0..items`.
/// Runs of other fires are checked for duplicates too. Starts by instances
/// in `crashed` that never ended are forgiven (a survivor re-ran them).
pub fn check(entries: &[Entry], job: &str, items: u32, fires: &[i64], crashed: &[&str]) -> Report {
    check_with(entries, job, items, fires, &CheckOptions { crashed, ..CheckOptions::default() })
}

/// [`check`] with windows of excused misses and fires that must be caught up.
pub fn check_with(entries: &[Entry], job: &str, items: u32, fires: &[i64], options: &CheckOptions<'_>) -> Report {
    let crashed = options.crashed;
    let (entries, unattributed_runs) = name_unknown_fires(entries, job, crashed);
    let mut starts: BTreeMap<(u32, i64), Vec<&Entry>> = BTreeMap::new();
    let mut ends: BTreeMap<(u32, i64), Vec<&Entry>> = BTreeMap::new();
    let mut cancels: BTreeMap<(u32, i64), Vec<&Entry>> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.job == job) {
        let key = (e.item, e.fire);
        match e.phase.as_str() {
            "start" => starts.entry(key).or_default().push(e),
            "end" => ends.entry(key).or_default().push(e),
            "cancelled" => cancels.entry(key).or_default().push(e),
            _ => {}
        }
    }
    let mut report =
        Report { cancelled: cancels.values().map(Vec::len).sum(), unattributed_runs, ..Report::default() };
    let keys: BTreeSet<(u32, i64)> = starts.keys().chain(ends.keys()).copied().collect();
    for key in keys {
        let started = starts.get(&key).map(Vec::as_slice).unwrap_or_default();
        let ended = ends.get(&key).map(Vec::as_slice).unwrap_or_default();
        let cancelled = cancels.get(&key).map(Vec::as_slice).unwrap_or_default();
        // Each closing line closes one start of its instance.
        let mut closes: BTreeMap<&str, usize> = BTreeMap::new();
        for e in ended.iter().chain(cancelled) {
            *closes.entry(e.instance.as_str()).or_default() += 1;
        }
        let mut unfinished_unforgiven = 0;
        for s in started {
            match closes.get_mut(s.instance.as_str()) {
                Some(n) if *n > 0 => *n -= 1,
                _ if crashed.contains(&s.instance.as_str()) => {}
                _ => unfinished_unforgiven += 1,
            }
        }
        if ended.len() > 1 || (ended.len() + unfinished_unforgiven) > 1 {
            let mut who: Vec<String> = started.iter().map(|e| e.instance.clone()).collect();
            who.extend(ended.iter().map(|e| e.instance.clone()));
            who.sort();
            who.dedup();
            report.duplicates.push((key, who));
        } else if ended.len() == 1 {
            report.exactly_once += 1;
        }
    }
    for &fire in fires {
        let excused = !options.catch_up.contains(&fire)
            && options.windows.iter().any(|&(from, to)| from <= fire && fire <= to);
        for item in 0..items {
            if !ends.contains_key(&(item, fire)) {
                if excused {
                    report.excused.push((item, fire));
                } else {
                    report.misses.push((item, fire));
                }
            }
        }
    }
    report
}

/// `entries` of `job` with each run of an unknown fire given the fire
/// of the crashed run it re-ran (see the module doc), and how many matched
/// none. A crashed run is matched at most once.
fn name_unknown_fires(entries: &[Entry], job: &str, crashed: &[&str]) -> (Vec<Entry>, usize) {
    let mut entries: Vec<Entry> = entries.iter().filter(|e| e.job == job).cloned().collect();
    let closed = |entries: &[Entry], s: &Entry| {
        entries.iter().any(|e| e.phase != "start" && e.instance == s.instance && e.item == s.item && e.fire == s.fire)
    };
    let mut taken: BTreeSet<(u32, i64)> = BTreeSet::new();
    let mut unmatched = 0;
    let mut takeovers: Vec<usize> =
        (0..entries.len()).filter(|&i| entries[i].fire == UNKNOWN_FIRE && entries[i].phase == "start").collect();
    takeovers.sort_by_key(|&i| entries[i].at);
    for i in takeovers {
        let (item, at, instance) = (entries[i].item, entries[i].at, entries[i].instance.clone());
        let crashed_run = entries
            .iter()
            .filter(|s| s.phase == "start" && s.item == item && s.at <= at && s.fire != UNKNOWN_FIRE)
            .filter(|s| crashed.contains(&s.instance.as_str()) && !taken.contains(&(s.item, s.fire)))
            .filter(|s| !closed(&entries, s))
            .max_by_key(|s| s.at)
            .map(|s| s.fire);
        match crashed_run {
            Some(fire) => {
                taken.insert((item, fire));
                // This start and the first close after it by the same instance.
                entries[i].fire = fire;
                if let Some(close) = entries
                    .iter_mut()
                    .filter(|e| e.phase != "start" && e.fire == UNKNOWN_FIRE && e.item == item && e.instance == instance && e.at >= at)
                    .min_by_key(|e| e.at)
                {
                    close.fire = fire;
                }
            }
            None => unmatched += 1,
        }
    }
    entries.retain(|e| e.fire != UNKNOWN_FIRE);
    (entries, unmatched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(phase: &str, item: u32, fire: i64, instance: &str) -> Entry {
        Entry {
            phase: phase.into(),
            job: "j".into(),
            item,
            fire,
            instance: instance.into(),
            lang: "rust".into(),
            at: fire,
            token: 0,
            reason: None,
            failover: false,
            attempt: 1,
        }
    }

    fn clean_run() -> Vec<Entry> {
        let mut entries = Vec::new();
        for fire in [1000, 2000] {
            for item in 0..2 {
                entries.push(entry("start", item, fire, "a"));
                entries.push(entry("end", item, fire, "a"));
            }
        }
        entries
    }

    #[test]
    fn a_clean_run_passes() {
        let report = check(&clean_run(), "j", 2, &[1000, 2000], &[]);
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.exactly_once, 4);
    }

    #[test]
    fn a_planted_duplicate_is_caught() {
        let mut entries = clean_run();
        entries.push(entry("start", 1, 2000, "b"));
        entries.push(entry("end", 1, 2000, "b"));
        let report = check(&entries, "j", 2, &[1000, 2000], &[]);
        assert_eq!(report.duplicates, vec![((1, 2000), vec!["a".to_string(), "b".to_string()])]);
        assert!(report.misses.is_empty());
    }

    #[test]
    fn a_second_start_without_end_is_a_duplicate_unless_its_instance_crashed() {
        let mut entries = clean_run();
        entries.insert(0, entry("start", 0, 1000, "zombie"));
        assert_eq!(check(&entries, "j", 2, &[1000, 2000], &[]).duplicates.len(), 1);
        assert!(check(&entries, "j", 2, &[1000, 2000], &["zombie"]).is_clean());
    }

    #[test]
    fn a_planted_miss_is_caught() {
        let entries: Vec<Entry> = clean_run().into_iter().filter(|e| !(e.item == 0 && e.fire == 2000)).collect();
        let report = check(&entries, "j", 2, &[1000, 2000], &[]);
        assert_eq!(report.misses, vec![(0, 2000)]);
        assert!(report.duplicates.is_empty());
    }

    #[test]
    fn a_start_closed_by_cancelled_is_forgiven_and_not_a_completed_run() {
        let mut entries = clean_run();
        // `a` was told to stop mid-run of (0, 1000); `b` re-ran it to the end.
        entries.retain(|e| !(e.item == 0 && e.fire == 1000 && e.phase == "end"));
        entries.push(entry("cancelled", 0, 1000, "a"));
        entries.push(entry("start", 0, 1000, "b"));
        entries.push(entry("end", 0, 1000, "b"));
        let report = check(&entries, "j", 2, &[1000, 2000], &[]);
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.cancelled, 1);
        assert_eq!(report.exactly_once, 4);
    }

    #[test]
    fn a_cancelled_run_alone_is_a_miss() {
        let mut entries = clean_run();
        entries.retain(|e| !(e.item == 1 && e.fire == 2000 && e.phase == "end"));
        entries.push(entry("cancelled", 1, 2000, "a"));
        let report = check(&entries, "j", 2, &[1000, 2000], &[]);
        assert_eq!(report.misses, vec![(1, 2000)]);
        assert!(report.duplicates.is_empty());
    }

    #[test]
    fn two_ends_are_a_duplicate_even_with_a_cancel_between() {
        let mut entries = clean_run();
        entries.push(entry("start", 0, 1000, "b"));
        entries.push(entry("cancelled", 0, 1000, "b"));
        entries.push(entry("start", 0, 1000, "c"));
        entries.push(entry("end", 0, 1000, "c"));
        let report = check(&entries, "j", 2, &[1000, 2000], &[]);
        assert_eq!(report.duplicates.len(), 1, "{report:?}");
        assert_eq!(report.duplicates[0].0, (0, 1000));
    }

    #[test]
    fn a_cancel_closes_only_one_start_of_its_instance() {
        let mut entries = clean_run();
        entries.push(entry("start", 1, 1000, "a"));
        entries.push(entry("cancelled", 1, 1000, "a"));
        entries.push(entry("start", 1, 1000, "a"));
        assert_eq!(check(&entries, "j", 2, &[1000, 2000], &[]).duplicates.len(), 1);
    }

    #[test]
    fn misses_inside_a_window_are_excused_unless_they_must_be_caught_up() {
        let entries: Vec<Entry> = clean_run().into_iter().filter(|e| e.fire != 2000).collect();
        let windows = [(1500, 2500)];
        let options = CheckOptions { windows: &windows, ..CheckOptions::default() };
        let report = check_with(&entries, "j", 2, &[1000, 2000, 3000], &options);
        assert_eq!(report.excused, vec![(0, 2000), (1, 2000)]);
        assert_eq!(report.misses, vec![(0, 3000), (1, 3000)]);
        let options = CheckOptions { windows: &windows, catch_up: &[2000], ..CheckOptions::default() };
        let report = check_with(&entries, "j", 2, &[1000, 2000], &options);
        assert!(report.excused.is_empty());
        assert_eq!(report.misses, vec![(0, 2000), (1, 2000)]);
    }

    #[test]
    fn the_token_defaults_to_zero_for_workers_that_do_not_write_it() {
        let line = r#"{"phase":"start","job":"j","item":0,"fire":1,"instance":"a","lang":"c","at":1}"#;
        let e: Entry = serde_json::from_str(line).unwrap();
        assert_eq!(e.token, 0);
        assert_eq!(e.reason, None);
    }

    #[test]
    fn the_appender_writes_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let appender = std::sync::Arc::new(Appender::open(&path).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let appender = appender.clone();
                std::thread::spawn(move || {
                    for item in 0..250 {
                        appender.append(&entry("start", item, t, "a")).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(read(&path).len(), 1000);
    }

    #[test]
    fn ledger_file_round_trips_and_skips_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        append(&path, &entry("start", 0, 1, "a")).unwrap();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"phase\":\"st").unwrap();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"\n").unwrap();
        append(&path, &entry("end", 0, 1, "a")).unwrap();
        assert_eq!(read(&path).len(), 2);
    }

    #[test]
    fn a_takeover_of_an_unknown_fire_completes_the_crashed_run_once() {
        let mut entries = clean_run();
        entries.push(entry("start", 0, 3000, "java"));
        let takeover = |phase: &str, at: i64| Entry { at, ..entry(phase, 0, UNKNOWN_FIRE, "b") };
        entries.extend([takeover("start", 5000), takeover("end", 5100)]);
        let report = check(&entries, "j", 2, &[1000, 2000, 3000], &["java"]);
        assert_eq!(report.misses, vec![(1, 3000)], "item 0's fire 3000 is re-run, item 1's never ran");
        assert!(report.duplicates.is_empty() && report.unattributed_runs == 0, "{report:?}");

        // A second take-over of the same crashed run has nothing left to match.
        entries.extend([takeover("start", 6000), takeover("end", 6100)]);
        let report = check(&entries, "j", 2, &[1000, 2000], &["java"]);
        assert_eq!(report.unattributed_runs, 1, "{report:?}");
    }
}
