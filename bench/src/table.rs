//! The figures as tables, for the terminal and for the README, both built
//! from the JSON alone: what `scripts/bench` prints and what
//! `scripts/bench-readme` writes can only show what was measured.

use crate::stats::P99_MIN_SAMPLES;
use serde_json::Value;

/// One table: a title, a header, rows, and notes under it.
pub struct Table {
    /// What it shows and how it was measured.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Cells.
    pub rows: Vec<Vec<String>>,
    /// Sentences under the table.
    pub notes: Vec<String>,
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn int(v: &Value) -> String {
    v.as_i64().map(thousands).unwrap_or_else(|| "–".into())
}

fn num(v: &Value, decimals: usize) -> String {
    v.as_f64().map(|x| format!("{x:.decimals$}")).unwrap_or_else(|| "–".into())
}

/// A figure rounded to a whole number, with thousands separators.
fn rounded(v: &Value) -> String {
    v.as_f64().map(|x| thousands(x.round() as i64)).unwrap_or_else(|| "–".into())
}

fn mib(v: &Value) -> String {
    v.as_f64().map(|k| format!("{:.1}", k / 1024.0)).unwrap_or_else(|| "–".into())
}

fn times(v: &Value) -> String {
    v.as_f64().map(|x| format!("{x:.2}×")).unwrap_or_else(|| "–".into())
}

/// A summary as `p50 a / p99 b ms (n = c)`, or `p50 a / max b ms (n = c)`
/// when the count is under [`P99_MIN_SAMPLES`].
pub fn summary(v: &Value, unit: &str) -> String {
    let count = v["count"].as_i64().unwrap_or(0);
    if count == 0 {
        return "no samples".into();
    }
    let high = if count as usize >= P99_MIN_SAMPLES { format!("p99 {}", int(&v["p99"])) } else { format!("max {}", int(&v["max"])) };
    format!("p50 {} / {high} {unit} (n = {})", int(&v["p50"]), thousands(count))
}

/// The languages in the table's order, with their column names.
const LANGS: [(&str, &str); 5] =
    [("rust", "Rust"), ("c", "C"), ("python", "Python"), ("node", "Node"), ("java", "Java ElasticJob 3.0.4")];

/// Every table of a result set.
pub fn tables(r: &Value) -> Vec<Table> {
    vec![languages(r), cost(r), scale(r), failover(r), leave(r), round_trip(r)]
}

fn languages(r: &Value) -> Table {
    let langs = &r["languages"];
    let rust = &langs["rust"];
    let mut header = vec!["measure".to_string()];
    header.extend(LANGS.iter().map(|(_, title)| title.to_string()));
    header.push("Java ÷ Rust".into());
    let ratios = &r["java_vs_rust"];
    let cell = |f: &dyn Fn(&Value) -> String| -> Vec<String> {
        LANGS.iter().map(|(key, _)| if langs[key].get("skipped").is_some() { "not built".into() } else { f(&langs[key]) }).collect()
    };
    let mut rows = Vec::new();
    let mut row = |name: &str, cells: Vec<String>, ratio: String| {
        let mut line = vec![name.to_string()];
        line.extend(cells);
        line.push(ratio);
        rows.push(line);
    };
    row(
        "fire → handler start",
        cell(&|l| summary(&l["fire_latency_ms"], "ms")),
        format!("{} / {}", times(&ratios["fire_latency_p50"]), times(&ratios["fire_latency_p99"])),
    );
    row(
        "item fires missed / started twice in the window",
        cell(&|l| format!("{} / {}", int(&l["misses"]), int(&l["duplicates"]))),
        String::new(),
    );
    row(
        "start-up to registration",
        cell(&|l| summary(&l["startup_to_registration_ms"], "ms")),
        times(&ratios["startup_p50"]),
    );
    row(
        "RSS idle / busy (MiB)",
        cell(&|l| format!("{} / {}", mib(&l["idle_rss_kib"]), mib(&l["busy_rss_kib_mean"]))),
        format!("{} / {}", times(&ratios["idle_rss"]), times(&ratios["busy_rss"])),
    );
    row("CPU per fire per instance", cell(&|l| format!("{} ms", num(&l["cpu_ms_per_fire_per_instance"], 2))), times(&ratios["cpu_per_fire"]));
    let mut notes = vec![format!(
        "{} instances per language, {} items every second, {} fires: one sample per item and fire, from its scheduled time to the handler's first start (ledger written by the handler). Handlers take {} ms: a handler that takes time holds one of its instance's executor slots (2 × cores by default) and the items beyond them wait for a slot, which is the job's parallelism, not the fire path. Failover, misfire and the clock check (maxTimeDiffSeconds) on. RSS busy: mean of the instances mid-window; idle: one registered instance of a job that never fires. CPU: the instances' user + system time over the window ÷ fires ÷ instances (each ran about a third of the items).",
        int(&rust["instances"]),
        int(&rust["items"]),
        int(&rust["fires"]),
        int(&rust["handler_ms"]),
    )];
    if let Some(bare) = langs["bare_node_rss_kib"].as_f64() {
        notes.push(format!("A bare `node` process takes {:.1} MiB.", bare / 1024.0));
    }
    notes.push(
        "The Java worker writes the scheduled time of the Quartz trigger that started the run (ElasticJob hands handlers no fire time)."
            .into(),
    );
    Table { title: "Fire latency, memory, CPU and start-up per language".into(), header, rows, notes }
}

fn cost(r: &Value) -> Table {
    let rows: Vec<Vec<String>> = r["zookeeper_cost_per_fire"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let mean = |key: &str| {
                let v: Vec<f64> = c["per_instance"].as_array().into_iter().flatten().filter_map(|i| i[key].as_f64()).collect();
                if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }
            };
            vec![
                int(&c["items"]),
                format!("{} ({}–{})", num(&c["requests_mean"], 1), num(&c["requests_min"], 1), num(&c["requests_max"], 1)),
                format!("{:.1} / {:.1}", mean("read_requests"), mean("write_requests")),
                format!("{} ({}–{})", num(&c["operations_mean"], 0), num(&c["operations_min"], 0), num(&c["operations_max"], 0)),
                format!("{:.0} / {:.0}", mean("read_ops"), mean("write_ops")),
                format!("{} / {}", int(&c["runs"]["item_fires_missed"]), int(&c["runs"]["item_fires_started_twice"])),
            ]
        })
        .collect();
    let mut notes = vec![
        "Three instances of one job (each its own ZooKeeper session), failover, misfire and the clock check on, handlers that return at once; 1 to 1,000 items every 2 s over 5 fires, 10,000 items every 5 s over 3 fires. Counted by each instance's registry center over whole fires: every request it sent in the window (fire path, completions, watches, the leader's work), divided by the fires. Mean of the three instances (lowest–highest: the leader, and with 1 item the two instances owning none, differ). An operation is one path a request acts on: a multi starting 100 items is one request of about 300 operations, a multi-read of 500 paths one request of 500 operations.".to_string(),
    ];
    let rows_json: Vec<&Value> = r["zookeeper_cost_per_fire"].as_array().into_iter().flatten().collect();
    if let (Some(first), Some(last)) = (rows_json.first(), rows_json.last()) {
        let mean = |row: &Value, key: &str| {
            let v: Vec<f64> = row["per_instance"].as_array().into_iter().flatten().filter_map(|i| i[key].as_f64()).collect();
            crate::stats::mean(&v)
        };
        notes.push(format!(
            "From {} to {} items, requests per fire per instance went from {} to {} ({:.1} → {:.1} reads, {:.1} → {:.1} writes) and operations from {} to {}: requests grow only by chunking (a multi-read holds at most 500 paths, a multi at most about 1 MB), operations grow linearly with the item count: at each fire every instance reads each of its items' last fire and disabled flag (every item's owner only at the first fire after a resharding: it keeps the items it read until the assignment changes), and for each item it runs writes about four operations (owner check, fence move and running mark in the start multi; the mark's removal on completion).",
            int(&first["items"]),
            int(&last["items"]),
            num(&first["requests_mean"], 1),
            num(&last["requests_mean"], 1),
            mean(first, "read_requests"),
            mean(last, "read_requests"),
            mean(first, "write_requests"),
            mean(last, "write_requests"),
            rounded(&first["operations_mean"]),
            rounded(&last["operations_mean"]),
        ));
    }
    Table {
        title: "ZooKeeper cost per fire per instance".into(),
        header: ["items", "requests mean (min–max)", "read / write requests", "operations mean (min–max)", "read / write ops", "item fires missed / twice"]
            .map(String::from)
            .to_vec(),
        rows,
        notes,
    }
}

fn scale(r: &Value) -> Table {
    let s = &r["scale"];
    let jobs = &s["jobs_1000"];
    let big = &s["items_10000"];
    let fifty = &s["instances_50_items_10000"];
    let mut rows = Vec::new();
    rows.push(vec![
        format!("{} jobs × 1 item, every second, one process, one session, {} s", int(&jobs["jobs"]), int(&jobs["window_s"])),
        format!(
            "registered in {} ms, a fire started every job {} ms later; then fire lag {}; {} of {} job fires started; the session sent {} requests/s ({} operations/s); CPU {} s ({:.0}% of a core); +{} MiB",
            int(&jobs["start_all_ms"]),
            int(&jobs["every_job_fired_after_registration_ms"]),
            summary(&jobs["fire_lag_ms"], "ms"),
            int(&jobs["job_fires_started"]),
            int(&jobs["job_fires_expected"]),
            rounded(&jobs["requests_per_second"]),
            rounded(&jobs["operations_per_second"]),
            num(&jobs["cpu_seconds"], 1),
            jobs["cpu_share_of_one_core"].as_f64().unwrap_or(0.0) * 100.0,
            mib(&jobs["rss_growth_kib"]),
        ),
    ]);
    rows.push(vec![
        format!("one job, {} items, {} instances, every {} s", int(&big["items"]), int(&big["instances"]), big["period_ms"].as_i64().unwrap_or(0) / 1000),
        format!(
            "{} fires checked: {} of {} item fires missed, {} started twice; fire → first item started {}; → last item started {}",
            int(&big["runs"]["fires"]),
            int(&big["runs"]["item_fires_missed"]),
            int(&big["runs"]["item_fires_expected"]),
            int(&big["runs"]["item_fires_started_twice"]),
            summary(&big["runs"]["fire_to_first_start_ms"], "ms"),
            summary(&big["runs"]["fire_to_last_start_ms"], "ms"),
        ),
    ]);
    let join = &fifty["join"];
    let leave = &fifty["leave"];
    rows.push(vec![
        format!(
            "{} instances, one job of {} items, every {} s, handlers {} ms",
            int(&fifty["instances"]),
            int(&fifty["items"]),
            fifty["period_ms"].as_i64().unwrap_or(0) / 1000,
            int(&fifty["handler_ms"])
        ),
        format!(
            "join {} ms into a fire: new assignment after {} ms, joiner's first item started after {} ms (its next fire); graceful leave {} ms into a fire: shutdown returned after {} ms, new assignment after {} ms, its {} items started elsewhere after {} ms; {} fires checked: {} of {} item fires missed, {} started twice, fire → last item started {}; +{} MiB for all instances; registration of all {} ms, assignment settled {} ms after",
            int(&join["at_ms_into_fire"]),
            int(&join["to_new_assignment_ms"]),
            int(&join["to_first_item_started_ms"]),
            int(&leave["at_ms_into_fire"]),
            int(&leave["shutdown_returned_ms"]),
            int(&leave["to_new_assignment_ms"]),
            int(&leave["items_it_owned"]),
            int(&leave["to_its_items_started_elsewhere_ms"]),
            int(&fifty["runs"]["fires"]),
            int(&fifty["runs"]["item_fires_missed"]),
            int(&fifty["runs"]["item_fires_expected"]),
            int(&fifty["runs"]["item_fires_started_twice"]),
            summary(&fifty["runs"]["fire_to_last_start_ms"], "ms"),
            mib(&fifty["rss_growth_kib_all_in_one_process"]),
            int(&fifty["start_all_ms"]),
            int(&fifty["settle_after_last_start_ms"]),
        ),
    ]);
    Table {
        title: "Scale, while firing".into(),
        header: vec!["setting".into(), "figures".into()],
        rows,
        notes: vec![
            "Instances of the scale rows are schedulers inside the benchmark process, each on its own ZooKeeper session; failover, misfire and the clock check on. Resharding waits for running items (a running fire is never split), so the join and leave times include the rest of the running handlers.".into(),
            format!("1,000 Java ElasticJob jobs in one JVM: not measured ({}).", crate::java::THOUSAND_JOBS_NOT_MEASURED),
        ],
    }
}

fn failover(r: &Value) -> Table {
    let f = &r["failover"];
    let rows = [("rust", "Rust"), ("java", "Java ElasticJob 3.0.4")]
        .iter()
        .map(|(key, title)| {
            let x = &f[key];
            if x.get("skipped").is_some() {
                return vec![title.to_string(), "not built".into(), String::new(), String::new()];
            }
            vec![
                title.to_string(),
                summary(&x["all_items_started_elsewhere_ms"], "ms"),
                format!("{} of {}", int(&x["items_moved_by_take_over"]), int(&x["items_moved"])),
                x["failures"].as_array().map(|a| a.len().to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    let rust = &f["rust"];
    Table {
        title: "Crash failover: kill -9 mid-fire until every item the victim ran has started elsewhere".into(),
        header: ["worker", "time", "items moved by a take-over (failover) run", "kills that timed out"].map(String::from).to_vec(),
        rows,
        notes: vec![format!(
            "Three workers, {} items, cron `{}`, handlers of {} ms, session timeout {} ms; the victim is killed 200 ms after it started a fire's items and a fresh worker replaces it before the next kill. Java ÷ Rust: p50 {}, max {}. The time is bounded below by the session timeout: the server must first expire the victim's session.",
            int(&rust["items"]),
            rust["cron"].as_str().unwrap_or(""),
            int(&rust["handler_ms"]),
            int(&rust["session_timeout_ms"]),
            times(&r["java_vs_rust"]["crash_failover_all_items_p50"]),
            times(&r["java_vs_rust"]["crash_failover_all_items_max"]),
        )],
    }
}

fn leave(r: &Value) -> Table {
    let l = &r["graceful_leave"];
    Table {
        title: "Graceful leave with items running (Rust workers)".into(),
        header: vec!["measure".into(), "time".into()],
        rows: vec![
            vec!["SIGTERM → no item owned by the leaver".into(), summary(&l["to_items_owned_by_others_ms"], "ms")],
            vec!["SIGTERM → every item it ran started elsewhere".into(), summary(&l["to_items_started_elsewhere_ms"], "ms")],
        ],
        notes: vec![format!(
            "Three workers, {} items, cron `{}`, handlers of {} ms; SIGTERM {} ms into the leaver's runs, so its shutdown first waits for them; its items start elsewhere at the next fire under the new assignment.",
            int(&l["items"]),
            l["cron"].as_str().unwrap_or(""),
            int(&l["handler_ms"]),
            int(&l["asked_ms_into_runs"]),
        )],
    }
}

fn round_trip(r: &Value) -> Table {
    let rt = &r["registry_create_delete"];
    Table {
        title: "Registry create + delete".into(),
        header: vec!["registry".into(), "time".into()],
        rows: vec![
            vec!["ZooKeeper on loopback".into(), summary(&rt["zookeeper"], "µs")],
            vec!["embedded (in-process)".into(), summary(&rt["memory"], "µs")],
        ],
        notes: Vec::new(),
    }
}

/// The tables as aligned text, for the terminal.
pub fn to_text(tables: &[Table]) -> String {
    let mut out = String::new();
    for t in tables {
        out.push_str(&format!("\n== {}\n", t.title));
        let columns = t.header.len();
        let widths: Vec<usize> = (0..columns)
            .map(|c| t.rows.iter().map(|r| r.get(c).map_or(0, |s| s.chars().count())).chain([t.header[c].chars().count()]).max().unwrap_or(0).min(60))
            .collect();
        let line = |cells: &[String]| {
            cells.iter().zip(&widths).map(|(s, w)| format!("{s:<w$}", w = *w)).collect::<Vec<_>>().join(" | ").trim_end().to_string()
        };
        out.push_str(&line(&t.header));
        out.push('\n');
        for row in &t.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        for note in &t.notes {
            out.push_str(&format!("  {note}\n"));
        }
    }
    out
}

/// The tables as Markdown, for the README.
pub fn to_markdown(tables: &[Table]) -> String {
    let mut out = String::new();
    for t in tables {
        out.push_str(&format!("**{}**\n\n", t.title));
        out.push_str(&format!("| {} |\n", t.header.join(" | ")));
        out.push_str(&format!("|{}\n", "---|".repeat(t.header.len())));
        for row in &t.rows {
            out.push_str(&format!("| {} |\n", row.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | ")));
        }
        out.push('\n');
        for note in &t.notes {
            out.push_str(note);
            out.push_str("\n\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn no_p99_is_printed_under_a_thousand_samples() {
        assert_eq!(summary(&json!({"count": 10, "p50": 5, "p99": null, "max": 9}), "ms"), "p50 5 / max 9 ms (n = 10)");
        assert_eq!(summary(&json!({"count": 2160, "p50": 5, "p99": 8, "max": 9}), "ms"), "p50 5 / p99 8 ms (n = 2,160)");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-1000), "-1,000");
    }
}
