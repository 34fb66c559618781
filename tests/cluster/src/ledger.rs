//! The execution ledger: an append-only file of JSON lines, one line when a
//! handler starts an item and one when it ends, written by workers of any
//! language. Lines are short and written with one `write` on a file opened
//! for appending, so lines of concurrent writers never interleave.
//!
//! The checker decides, for the fires a test expects, whether every
//! (item, fire) ran exactly once: a **duplicate** is a second completed run,
//! or a second start while the first start's instance was not declared
//! crashed; a **miss** is an expected (item, fire) that never completed.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

/// One ledger line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// `start` or `end`.
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

/// What the checker found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// (item, fire) pairs run more than once, with the instances that ran them.
    pub duplicates: Vec<((u32, i64), Vec<String>)>,
    /// Expected (item, fire) pairs that never completed.
    pub misses: Vec<(u32, i64)>,
    /// How many (item, fire) pairs completed exactly once.
    pub exactly_once: usize,
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
    let mut starts: BTreeMap<(u32, i64), Vec<&Entry>> = BTreeMap::new();
    let mut ends: BTreeMap<(u32, i64), Vec<&Entry>> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.job == job) {
        let key = (e.item, e.fire);
        match e.phase.as_str() {
            "start" => starts.entry(key).or_default().push(e),
            "end" => ends.entry(key).or_default().push(e),
            _ => {}
        }
    }
    let mut report = Report::default();
    let keys: BTreeSet<(u32, i64)> = starts.keys().chain(ends.keys()).copied().collect();
    for key in keys {
        let started = starts.get(&key).map(Vec::as_slice).unwrap_or_default();
        let ended = ends.get(&key).map(Vec::as_slice).unwrap_or_default();
        let unfinished_unforgiven = started
            .iter()
            .filter(|s| !ended.iter().any(|e| e.instance == s.instance))
            .filter(|s| !crashed.contains(&s.instance.as_str()))
            .count();
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
        for item in 0..items {
            if !ends.contains_key(&(item, fire)) {
                report.misses.push((item, fire));
            }
        }
    }
    report
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
    fn ledger_file_round_trips_and_skips_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        append(&path, &entry("start", 0, 1, "a")).unwrap();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"phase\":\"st").unwrap();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"\n").unwrap();
        append(&path, &entry("end", 0, 1, "a")).unwrap();
        assert_eq!(read(&path).len(), 2);
    }
}
