//! The listing commands (`jobs`, `instances`, `items`, `dump`) as a table
//! for people or, with `--json`, one JSON array for scripts, in the same
//! shapes the web console's API uses (`elasticjob_console::dto`).

use elasticjob::{JobOperator, RegistryCenter};
use elasticjob_console::dto::{BackfillJson, InstanceJson, ItemJson, JobJson, NodeJson};
use serde::Serialize;

/// Table or JSON.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// One JSON array on one line.
    Json,
}

fn print_json<T: Serialize>(rows: &[T]) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string(rows).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Every job with status, instances, items and cron.
pub async fn jobs(
    operator: &JobOperator,
    format: Format,
) -> elasticjob::Result<Result<(), String>> {
    let now = now_millis();
    let jobs: Vec<JobJson> = operator
        .jobs()
        .await?
        .iter()
        .map(|job| JobJson::of(job, now))
        .collect();
    if format == Format::Json {
        return Ok(print_json(&jobs));
    }
    println!(
        "{:<24} {:<13} {:>9} {:>6}  cron",
        "job", "status", "instances", "items"
    );
    for job in jobs {
        println!(
            "{:<24} {:<13} {:>9} {:>6}  {}",
            job.job_name, job.status, job.instance_count, job.sharding_total_count, job.cron
        );
        if let Some(pause) = &job.pause {
            println!("  paused {}", pause.describe());
        }
    }
    Ok(Ok(()))
}

/// A job's live instances, the leader marked.
pub async fn instances(
    operator: &JobOperator,
    job: &str,
    format: Format,
) -> elasticjob::Result<Result<(), String>> {
    let instances: Vec<InstanceJson> = operator
        .instances(job)
        .await?
        .iter()
        .map(InstanceJson::from)
        .collect();
    if format == Format::Json {
        return Ok(print_json(&instances));
    }
    for i in instances {
        let marks = format!(
            "{}{}",
            if i.leader { " leader" } else { "" },
            if i.enabled { "" } else { " disabled" }
        );
        println!("{}{marks}", i.instance_id);
    }
    Ok(Ok(()))
}

/// A job's items with owner and state.
pub async fn items(
    operator: &JobOperator,
    job: &str,
    format: Format,
) -> elasticjob::Result<Result<(), String>> {
    let items: Vec<ItemJson> = operator
        .items(job)
        .await?
        .iter()
        .map(ItemJson::from)
        .collect();
    if format == Format::Json {
        return Ok(print_json(&items));
    }
    for i in items {
        let failover = i
            .failover_instance
            .map(|f| format!(" (failover: {f})"))
            .unwrap_or_default();
        println!(
            "{:>5} {:<13} {}{failover}",
            i.item,
            i.state,
            i.instance_id.unwrap_or_else(|| "-".into())
        );
    }
    Ok(Ok(()))
}

/// A job's backfills, oldest first, with how far each went.
pub async fn backfills(operator: &JobOperator, job: &str, format: Format) -> elasticjob::Result<Result<(), String>> {
    let backfills: Vec<BackfillJson> = operator.backfills(job).await?.iter().map(BackfillJson::from).collect();
    if format == Format::Json {
        return Ok(print_json(&backfills));
    }
    let time = elasticjob::backfill::show;
    for b in backfills {
        let state = if b.done { "DONE" } else { "RUNNING" };
        println!("{} {state:<7} {} .. {} {:>6}/{} runs started, by {} at {}", b.id, time(b.from), time(b.to), b.started, b.total, b.by, time(b.at));
    }
    Ok(Ok(()))
}

/// Every node under the job with its data, depth first.
pub async fn dump(
    center: &RegistryCenter,
    job: &str,
    format: Format,
) -> elasticjob::Result<Result<(), String>> {
    let session = center.session().await?;
    let root = format!("/{job}");
    if session.exists(&root).await?.is_none() {
        return Ok(Err(format!(
            "invalid jobName `{job}`: no such job in this namespace"
        )));
    }
    let mut nodes = Vec::new();
    let mut pending = vec![root];
    while let Some(path) = pending.pop() {
        let data = session.get_string(&path).await?.unwrap_or_default();
        let mut children = session.children(&path).await.unwrap_or_default();
        children.reverse();
        pending.extend(children.into_iter().map(|child| format!("{path}/{child}")));
        nodes.push(NodeJson { path, data });
    }
    if format == Format::Json {
        return Ok(print_json(&nodes));
    }
    for node in nodes {
        let shown = node.data.trim_end().replace('\n', "\\n");
        println!(
            "{}{}",
            node.path,
            if shown.is_empty() {
                String::new()
            } else {
                format!(" = {shown}")
            }
        );
    }
    Ok(Ok(()))
}
