//! `ledger-check`: checks an execution ledger for tests written in any
//! language. Prints the report as JSON; exits 1 on a duplicate or a miss.
//!
//! `ledger-check --ledger FILE --job NAME --items N [--fires T1,T2,...]
//!  [--crashed ID,ID] [--windows FROM-TO,FROM-TO] [--catch-up T1,T2,...]
//!  [--duplicates-only]` (misses of fires inside a window are `excused`
//!  unless the fire is listed in `--catch-up`).

use cluster_tests::ledger;
use std::collections::HashMap;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts: HashMap<String, String> = HashMap::new();
    let mut i = 0;
    while i < args.len() {
        let key = args[i].trim_start_matches("--").to_string();
        if key == "duplicates-only" {
            opts.insert(key, "true".into());
            i += 1;
        } else {
            opts.insert(key, args.get(i + 1).cloned().unwrap_or_default());
            i += 2;
        }
    }
    let required = |k: &str| {
        opts.get(k).cloned().unwrap_or_else(|| {
            eprintln!("missing --{k}");
            std::process::exit(2)
        })
    };
    let list = |k: &str| -> Vec<String> {
        opts.get(k).map(|v| v.split(',').filter(|s| !s.is_empty()).map(String::from).collect()).unwrap_or_default()
    };
    let entries = ledger::read(std::path::Path::new(&required("ledger")));
    let items: u32 = required("items").parse().expect("--items is a number");
    let fires: Vec<i64> = list("fires").iter().map(|f| f.parse().expect("--fires are epoch ms")).collect();
    let crashed = list("crashed");
    let crashed: Vec<&str> = crashed.iter().map(String::as_str).collect();
    let windows: Vec<(i64, i64)> = list("windows")
        .iter()
        .map(|w| {
            let (from, to) = w.split_once('-').expect("--windows are FROM-TO");
            (from.parse().expect("window start is epoch ms"), to.parse().expect("window end is epoch ms"))
        })
        .collect();
    let catch_up: Vec<i64> = list("catch-up").iter().map(|f| f.parse().expect("--catch-up are epoch ms")).collect();
    let options = ledger::CheckOptions { crashed: &crashed, windows: &windows, catch_up: &catch_up };
    let report = ledger::check_with(&entries, &required("job"), items, &fires, &options);
    let json = serde_json::json!({
        "duplicates": report.duplicates.iter().map(|((item, fire), who)| serde_json::json!({"item": item, "fire": fire, "instances": who})).collect::<Vec<_>>(),
        "misses": report.misses.iter().map(|(item, fire)| serde_json::json!({"item": item, "fire": fire})).collect::<Vec<_>>(),
        "exactly_once": report.exactly_once,
        "excused": report.excused.iter().map(|(item, fire)| serde_json::json!({"item": item, "fire": fire})).collect::<Vec<_>>(),
        "cancelled": report.cancelled,
    });
    println!("{json}");
    let failed = !report.duplicates.is_empty() || (!opts.contains_key("duplicates-only") && !report.misses.is_empty());
    std::process::exit(if failed { 1 } else { 0 });
}
