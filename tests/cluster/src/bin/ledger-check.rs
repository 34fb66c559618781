//! `ledger-check`: checks an execution ledger for tests written in any
//! language. Prints the report as JSON; exits 1 on a duplicate or a miss.
//!
//! `ledger-check --ledger FILE --job NAME --items N [--fires T1,T2,...]
//!  [--crashed ID,ID] [--duplicates-only]`

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
    let report = ledger::check(&entries, &required("job"), items, &fires, &crashed);
    let json = serde_json::json!({
        "duplicates": report.duplicates.iter().map(|((item, fire), who)| serde_json::json!({"item": item, "fire": fire, "instances": who})).collect::<Vec<_>>(),
        "misses": report.misses.iter().map(|(item, fire)| serde_json::json!({"item": item, "fire": fire})).collect::<Vec<_>>(),
        "exactly_once": report.exactly_once,
    });
    println!("{json}");
    let failed = !report.duplicates.is_empty() || (!opts.contains_key("duplicates-only") && !report.misses.is_empty());
    std::process::exit(if failed { 1 } else { 0 });
}
