//! `ejob`: the command line for operators. Every command is a thin call to
//! the core's `JobOperator` (or `JobScheduler` for `run`, the console crate
//! for `console`); `ejob --help` and `ejob COMMAND --help` describe them.
//!
//! Exit codes: 0 done, 1 the operation failed (the message says why),
//! 2 the command line is wrong.

mod args;
mod config_cmd;
mod console;
mod list;

use args::{Cli, Command};
use clap::Parser;
use elasticjob::trace::{split_history, ExecutionQuery, HistoryUrl, StatusQuery};
use elasticjob::{Error, HistoryStore, Job, JobOperator, JobScheduler, RegistryCenter, ZookeeperOptions};
use list::Format;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.json && !cli.command.lists() {
        return usage_error("--json: this command lists nothing");
    }
    let format = if cli.json { Format::Json } else { Format::Table };
    match &cli.command {
        Command::ConsoleUser { name, role, token, iterations } => {
            return match console::user_line(name, role, *token, *iterations) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => usage_error(&error),
            };
        }
        Command::Console { .. } | Command::Run { .. } => init_logging(),
        _ => {}
    }
    let runtime = elasticjob::runtime::shared();
    if let Command::History { .. } = &cli.command {
        let Some(url) = &cli.history else {
            return usage_error("`history` needs --history URL (or ELASTICJOB_HISTORY)");
        };
        return finish(runtime.block_on(show_history(url, &cli.command, format)));
    }
    let (Some(zk), Some(namespace)) = (&cli.zk, &cli.namespace) else {
        return usage_error("missing --zk and --namespace (or ELASTICJOB_ZK and ELASTICJOB_NAMESPACE)");
    };
    let mut options = ZookeeperOptions::new(zk.clone(), namespace.clone());
    if let Some(digest) = &cli.digest {
        options = options.digest(digest.clone());
    }
    if let Some(ms) = cli.session_timeout_ms {
        options = options.session_timeout(Duration::from_millis(ms));
    }
    if let Some(ms) = cli.connection_timeout_ms {
        options = options.connection_timeout(Duration::from_millis(ms));
    }
    if cli.command.needs_existing_namespace() {
        options = options.existing_namespace();
    }
    if let Err(error) = options.validate() {
        return usage_error(&error.to_string());
    }
    let center = RegistryCenter::zookeeper(options);
    finish(runtime.block_on(execute(&center, &cli, format)))
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("ejob: {message} (see ejob --help)");
    ExitCode::from(2)
}

fn finish(outcome: Result<(), String>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ejob: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Long-running commands log to stderr: warnings and what the scheduler
/// or console does (`ELASTICJOB_LOG` sets the filter, e.g. `debug`).
fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ELASTICJOB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

/// An error as the operator should read it: a refusal by the nodes' ACLs
/// says which credentials to give, since that is nearly always the cause.
fn explain(error: Error) -> String {
    match error {
        Error::NotAuthorized(_) => {
            format!("{error} (give the namespace's credentials with --digest USER:PASSWORD or ELASTICJOB_DIGEST)")
        }
        other => other.to_string(),
    }
}

async fn execute(center: &RegistryCenter, cli: &Cli, format: Format) -> Result<(), String> {
    let operator = JobOperator::new(center.clone());
    let done = match &cli.command {
        Command::Jobs => list::jobs(&operator, format).await,
        Command::Instances { job } => list::instances(&operator, job, format).await,
        Command::Items { job } => list::items(&operator, job, format).await,
        Command::Dump { job } => list::dump(center, job, format).await,
        Command::Trigger { job, overlap } => match overlap.as_deref().map(elasticjob::OverlapPolicy::parse).transpose() {
            Ok(overlap) => operator.trigger_with(job, overlap).await.map(Ok),
            Err(e) => Err(e),
        },
        Command::Pause { job, reason, by, until } => pause(&operator, job, reason, by.as_deref(), until.as_deref()).await,
        Command::Resume { job } => operator.resume(job).await.map(|was_paused| {
            if !was_paused {
                eprintln!("job `{job}` was not paused");
            }
            Ok(())
        }),
        Command::Backfill { job, from, to, by, overlap } => backfill(&operator, job, from, to, by.as_deref(), overlap.as_deref()).await,
        Command::Backfills { job } => list::backfills(&operator, job, format).await,
        Command::CancelBackfill { job, id } => operator.cancel_backfill(job, id).await.map(Ok),
        Command::Disable { job, ip } => operator.disable(job, ip.as_deref()).await.map(Ok),
        Command::Enable { job, ip } => operator.enable(job, ip.as_deref()).await.map(Ok),
        Command::DisableItem { job, item } => operator.disable_item(job, *item).await.map(Ok),
        Command::EnableItem { job, item } => operator.enable_item(job, *item).await.map(Ok),
        Command::Shutdown { job, ip } => operator.shutdown(job, ip.as_deref()).await.map(Ok),
        Command::Remove { job, ip } => operator.remove(job, ip.as_deref()).await.map(Ok),
        Command::Config(command) => return config_cmd::execute(&operator, command, format).await,
        Command::Run { files } => return run(center, files, cli.history.as_deref(), cli.metrics.as_deref()).await,
        Command::Console { listen, auth } => return console::serve(center, cli.history.as_deref(), listen, auth.clone()).await,
        Command::ConsoleUser { .. } | Command::History { .. } => unreachable!("handled before connecting"),
    };
    done.map_err(explain)?
}

/// `ejob pause`: the note names `by` (else the login name) and `until`.
async fn pause(
    operator: &JobOperator,
    job: &str,
    reason: &str,
    by: Option<&str>,
    until: Option<&str>,
) -> elasticjob::Result<Result<(), String>> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let until = until.map(|text| elasticjob::pause::parse_until(text, now)).transpose()?;
    let by = by.map(str::to_string).or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "ejob".into());
    let note = elasticjob::PauseNote::new(&by, reason, now, until)?;
    operator.pause(job, &note).await?;
    println!("job `{job}` paused {}", note.describe());
    Ok(Ok(()))
}

/// `ejob backfill`: asks for the range's fires, prints the backfill's id.
async fn backfill(
    operator: &JobOperator,
    job: &str,
    from: &str,
    to: &str,
    by: Option<&str>,
    overlap: Option<&str>,
) -> elasticjob::Result<Result<(), String>> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let from = elasticjob::backfill::parse_instant("from", from, now)?;
    let to = elasticjob::backfill::parse_instant("to", to, now)?;
    let by = by.map(str::to_string).or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "ejob".into());
    let overlap = overlap.map(elasticjob::OverlapPolicy::parse).transpose()?;
    let id = operator.backfill(job, from, to, &by, overlap).await?;
    println!("{id}");
    Ok(Ok(()))
}

/// Runs the script or HTTP jobs of the given YAML files until Ctrl-C or
/// SIGTERM: a job with the prop `http.uri` (or ElasticJob 3.0.0's
/// `http.url`) is an HTTP job, one with `script.command.line` a script job.
/// A file's `history` key, or else `--history`, keeps its execution history;
/// `--metrics IP:PORT` serves every job's metrics on one `/metrics` endpoint.
async fn run(center: &RegistryCenter, files: &[String], history: Option<&str>, metrics: Option<&str>) -> Result<(), String> {
    if files.is_empty() {
        return Err("`run` needs at least one job YAML file".into());
    }
    let mut schedulers = Vec::new();
    for file in files {
        let yaml = std::fs::read_to_string(file).map_err(|e| format!("cannot read `{file}`: {e}"))?;
        let (config, history_key) = split_history(&yaml).map_err(|e| format!("{file}: {e}"))?;
        let job = if config.props.contains_key("http.uri") || config.props.contains_key("http.url") {
            Job::http()
        } else if config.props.contains_key("script.command.line") {
            Job::script()
        } else {
            return Err(format!(
                "{file}: invalid props: a script job needs `script.command.line`, an HTTP job `http.uri`"
            ));
        };
        let mut builder = JobScheduler::builder(center.clone(), config, job);
        if let Some(url) = history_key.or(history.map(str::to_string)) {
            builder = builder.history(url);
        }
        if let Some(address) = metrics {
            builder = builder.metrics_listen(address);
        }
        let scheduler = builder.build().map_err(|e| format!("{file}: {}", explain(e)))?;
        scheduler.start().await.map_err(explain)?;
        println!("running job `{}` as {}", scheduler.job_name(), scheduler.instance_id());
        if let Some(address) = scheduler.metrics_address().filter(|_| schedulers.is_empty()) {
            println!("serving metrics on http://{address}/metrics");
        }
        schedulers.push(scheduler);
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    for scheduler in schedulers {
        scheduler.shutdown().await;
    }
    Ok(())
}

/// Prints the execution history (or status changes) matching the filters,
/// as a table or, with `--json`, one JSON array.
async fn show_history(url: &str, command: &Command, format: Format) -> Result<(), String> {
    let Command::History { job, item, instance, outcome, since, until, limit, offset, status } = command else {
        unreachable!("called for `history` only")
    };
    let json = format == Format::Json;
    let status = *status;
    let (mut executions, mut statuses) = (ExecutionQuery::default(), StatusQuery::default());
    executions.job_name = job.clone();
    executions.item = *item;
    executions.instance_id = instance.clone();
    executions.outcome = outcome.clone();
    (executions.since, executions.until, executions.limit, executions.offset) = (*since, *until, *limit, *offset);
    statuses.job_name = executions.job_name.clone();
    statuses.instance_id = executions.instance_id.clone();
    (statuses.since, statuses.until, statuses.limit, statuses.offset) =
        (executions.since, executions.until, executions.limit, executions.offset);
    let url = HistoryUrl::parse(url).map_err(explain)?;
    if let Some(file) = url.sqlite_file().filter(|f| !f.exists()) {
        return Err(format!("invalid --history `{url}`: no history file at {}", file.display()));
    }
    let store = HistoryStore::open(&url).map_err(explain)?;
    if status {
        let rows = store.statuses(&statuses).await.map_err(explain)?;
        if json {
            println!("{}", serde_json::to_string(&rows).map_err(|e| e.to_string())?);
        } else {
            for r in rows {
                println!("{:>14} {:<24} {:<15} {:<24} {:<8} {}", r.creation_time, r.job_name, r.state, r.instance_id, r.sharding_item, r.message);
            }
        }
    } else {
        let rows = store.executions(&executions).await.map_err(explain)?;
        if json {
            println!("{}", serde_json::to_string(&rows).map_err(|e| e.to_string())?);
        } else {
            for r in rows {
                let cause = r.failure_cause.as_deref().unwrap_or_default().lines().next().unwrap_or_default();
                println!(
                    "{:>14} {:<24} {:>5} {:<10} {:<24} {:>6}ms {}{}",
                    r.start_time,
                    r.job_name,
                    r.sharding_item,
                    r.outcome,
                    r.instance_id,
                    r.complete_time - r.start_time,
                    if r.failover { "failover " } else { "" },
                    cause
                );
            }
        }
    }
    store.close().await;
    Ok(())
}
