//! `history-bench`: how many execution records per second the history
//! writer stores, into a SQLite file and into a real PostgreSQL (started by
//! the test harness on a loopback port). Records are queued first (the cost
//! a fire pays, also printed), then written in the writer's batches.
//!
//! `cargo run --release -p elasticjob-bench --bin history-bench [RECORDS]`

use elasticjob::trace::{ExecutionRecord, HistoryRecord};
use elasticjob::{Execution, HistoryOptions, HistoryStore, Outcome};
use std::time::Instant;
use zk_harness::PgServer;

fn record(n: u32) -> HistoryRecord {
    let outcome = if n.is_multiple_of(10) { Outcome::Failed("a failure message of ordinary length".into()) } else { Outcome::Succeeded };
    let mut execution = Execution::new("bench", n % 16, 1_700_000_000_000 + i64::from(n / 16) * 1000, "127.0.0.1@-@4242", outcome);
    execution.fencing_token = i64::from(n);
    execution.started_at = 1_700_000_000_000 + i64::from(n);
    execution.finished_at = 1_700_000_000_010 + i64::from(n);
    HistoryRecord::Execution(ExecutionRecord::from_execution(&execution, "rust"))
}

/// Queues `count` records and writes them; returns (ns per queued record, records/s written).
async fn measure(url: &str, count: u32, batch_size: usize) -> (f64, f64) {
    let store = HistoryStore::open_url(url).expect("history URL");
    store.migrate().await.expect("schema");
    let options = HistoryOptions { batch_size, buffer_capacity: count as usize, ..Default::default() };
    let writer = elasticjob::trace::HistoryWriter::new(store.clone(), options);
    let records: Vec<HistoryRecord> = (0..count).map(record).collect();
    let queued = Instant::now();
    for r in records {
        writer.record(r);
    }
    let queue_ns = queued.elapsed().as_nanos() as f64 / f64::from(count);
    let written = Instant::now();
    writer.flush().await.expect("write");
    let per_second = f64::from(count) / written.elapsed().as_secs_f64().max(1e-9);
    assert_eq!(writer.stats().written, u64::from(count));
    store.close().await;
    (queue_ns, per_second)
}

fn main() {
    let count: u32 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(50_000);
    let runtime = elasticjob::runtime::shared();
    let dir = tempfile::tempdir().expect("temp dir");
    let pg = PgServer::start();
    println!("history write throughput, {count} execution records per run");
    println!("{:<12} {:>6} {:>16} {:>14}", "backend", "batch", "queue ns/record", "records/s");
    for batch in [64, 256, 1000] {
        let sqlite = format!("sqlite://{}", dir.path().join(format!("bench-{batch}.db")).display());
        for (name, url) in [("sqlite", sqlite), ("postgresql", pg.url())] {
            let (queue_ns, per_second) = runtime.block_on(measure(&url, count, batch));
            println!("{name:<12} {batch:>6} {queue_ns:>16.0} {per_second:>14.0}");
        }
    }
}
